"""Make each language's build its own: mkdocs-static-i18n builds the English site by running the
whole build again on the same config, and sets the theme's language in its ``on_config``, which
runs after mkdocstrings' own.

mkdocstrings picks its locale (the section titles: "Parameters" / "参数") from the theme's
language in ``on_config`` and appends a new Markdown extension each time; the stale one, with
the previous language, would keep rendering every ``:::`` block. So, once i18n has set the
language: drop mkdocstrings' extensions, and let mkdocstrings configure itself again for this
language (its stylesheet, which it adds each time, is kept once).
"""

from __future__ import annotations

from mkdocs.plugins import event_priority


@event_priority(-200)  # after mkdocs-static-i18n's on_config (-100), which sets theme.language
def on_config(config):
    from mkdocstrings import MkdocstringsExtension

    config.markdown_extensions[:] = [e for e in config.markdown_extensions if not isinstance(e, MkdocstringsExtension)]
    config = config.plugins["mkdocstrings"].on_config(config) or config
    seen = set()
    config.extra_css[:] = [css for css in config.extra_css if not (str(css) in seen or seen.add(str(css)))]
    return config
