"""Make each language's build its own: mkdocstrings' locale, and the search index.

mkdocs-static-i18n builds the English site by running the whole build again on the same config,
and sets the theme's language in its ``on_config``, which runs after mkdocstrings' own.

mkdocstrings picks its locale (the section titles: "Parameters" / "参数") from the theme's
language in ``on_config`` and appends a new Markdown extension each time; the stale one, with
the previous language, would keep rendering every ``:::`` block. So, once i18n has set the
language: drop mkdocstrings' extensions, and let mkdocstrings configure itself again for this
language (its stylesheet, which it adds each time, is kept once).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from vault import DEFAULT_LANGUAGE, SET_ASIDE, language, same_address_as_a_project_page


@event_priority(50)  # before mkdocs-static-i18n (-100), which stops the build on two files with one address
def on_files(files, config):
    aside = same_address_as_a_project_page([f.src_uri for f in files if f.is_documentation_page()])
    SET_ASIDE[:] = [f for f in files if f.src_uri in aside]
    for f in SET_ASIDE:
        files.remove(f)
    return files


@event_priority(0)  # after mkdocs-static-i18n's (50)
def on_page_context(context, page, config, nav):
    """The header's language switch, on every page. mkdocs-static-i18n links a page's twin when it
    knows one; elsewhere it leaves absolute links to each language's home (``/en/``, which from
    the offline copy's ``file://`` opens the disk's root), and on the pages it did not make (a
    learner's) the previous page's links (an English learner note offered a project note). Rule:
    the page itself in its own language; in the other, its twin if there is one (for a learner's
    note: the same name with the other language's suffix, ``n.md`` / ``n.en.md``, published at
    the same address under the other language's folder), else that language's home page."""
    # mkdocs-static-i18n sets the attribute, which the theme reads (``config.extra.alternate`` in
    # Jinja); on MkDocs' ``extra`` it is not the same as the item ``config.extra["alternate"]``.
    alternates = getattr(config.extra, "alternate", None)
    if not alternates:
        return context
    own, known = language(page.file.src_uri), getattr(page.file, "alternates", {})
    config.extra.alternate = [
        {**alt, "link": known[alt["lang"]].url if alt["lang"] in known
         else _switch_link(page, alt["lang"], own, config.docs_dir)}
        for alt in alternates
    ]
    return context


#: A task list's checkbox (pymdownx.tasklist): disabled, checked when the task is done.
TASK_BOX = re.compile(r'<input type="checkbox" disabled( checked)?/>')
TASK_WORDS = {"zh": ("已完成", "未完成"), "en": ("done", "not done")}


def on_page_content(html: str, page, config, files) -> str:
    """Name each task list's checkbox by its state, in the page's language: a checkbox without a name
    is announced as "checkbox" alone (the item's text follows it as text)."""
    done, open_ = TASK_WORDS.get(language(page.file.src_uri), TASK_WORDS["en"])

    def named(match: re.Match) -> str:
        return f'<input type="checkbox" disabled{match[1] or ""} aria-label="{done if match[1] else open_}"/>'

    return TASK_BOX.sub(named, html)


#: The theme's ``<link rel="alternate" href=... hreflang=...>`` in the head, one per language.
HREFLANG_LINK = re.compile(r'\s*<link rel="alternate" href="[^"]*" hreflang="[^"]*">')


def on_post_page(output: str, page, config) -> str:
    """Drop the head's hreflang links. Material fetches ``sitemap.xml`` under each of them to map pages
    across languages, and under a page-relative address there is none: two requests that fail on every
    page (and from ``file://`` they cannot work at all). The header's language switch, which readers use,
    is not affected; the sitemap names each page's languages (mkdocs-static-i18n)."""
    head, sep, body = output.partition("</head>")
    return HREFLANG_LINK.sub("", head) + sep + name_search_dialog(body, config.theme["language"])


#: Material's search is a ``role="dialog"`` with no name: a screen reader announces an unnamed dialog.
SEARCH_DIALOG = '<div class="md-search" data-md-component="search" role="dialog">'
SEARCH_NAME = {"zh": "搜索笔记", "en": "Search the notes"}


def name_search_dialog(html: str, language: str) -> str:
    """The search dialog named in the page's language."""
    name = SEARCH_NAME.get(language, SEARCH_NAME["en"])
    return html.replace(SEARCH_DIALOG, SEARCH_DIALOG.replace('role="dialog"', f'role="dialog" aria-label="{name}"'), 1)


def on_pre_template(template, template_name: str, config):
    """The not-found page is rendered after the last page and would keep that page's language links
    (its switch offered the API reference): it offers each language's home page instead."""
    alternates = getattr(config.extra, "alternate", None)
    if template_name == "404.html" and alternates:
        # Absolute (under site_url's path): the page is served at whatever address was not found.
        root = urlsplit(config.site_url or "/").path.rstrip("/") + "/"
        config.extra.alternate = [{**alt, "link": root if alt["lang"] == DEFAULT_LANGUAGE else f"{root}{alt['lang']}/"}
                                  for alt in alternates]
    return template


def on_post_template(output: str, template_name: str, config) -> str:
    """The not-found page without hreflang links in its head either (see :func:`on_post_page`)."""
    return on_post_page(output, None, config) if template_name == "404.html" else output


def _switch_link(page, lang: str, own: str, docs_dir: str) -> str:
    """Where a learner note's language switch leads in ``lang`` (a site-relative URL, made
    relative to the page by the theme, so that the offline copy works from ``file://``)."""
    if lang == own:
        return page.url
    src = page.file.src_uri
    base = src[: -len(f".{own}.md")] if src.endswith(f".{own}.md") else src[:-3]
    twins = [f"{base}.{lang}.md"] + ([f"{base}.md"] if lang == DEFAULT_LANGUAGE else [])
    if not any((Path(docs_dir) / twin).is_file() for twin in twins):
        return "" if lang == DEFAULT_LANGUAGE else f"{lang}/"
    bare = page.url.removeprefix(f"{own}/") if own != DEFAULT_LANGUAGE else page.url
    return bare if lang == DEFAULT_LANGUAGE else f"{lang}/{bare}"


@event_priority(-200)  # after mkdocs-static-i18n's on_config (-100), which sets theme.language
def on_config(config):
    # The not-found page is the default language's (site/404.html): another language's build would write
    # over it, in its own language (head, header, title) while the page says both.
    # (The builds may share one theme object: the default language's build puts it back.)
    if (config.theme.get("language") or DEFAULT_LANGUAGE) != DEFAULT_LANGUAGE:
        config.theme.static_templates.discard("404.html")
    else:
        config.theme.static_templates.add("404.html")
    from mkdocstrings import MkdocstringsExtension

    config.markdown_extensions[:] = [e for e in config.markdown_extensions if not isinstance(e, MkdocstringsExtension)]
    config = config.plugins["mkdocstrings"].on_config(config) or config
    seen = set()
    config.extra_css[:] = [css for css in config.extra_css if not (str(css) in seen or seen.add(str(css)))]
    return config


# --- One search index per language -------------------------------------------------------------
#
# Material loads one search index, ``search/search_index.json`` under its ``base``, and
# mkdocs-static-i18n stacks every language's pages into the one at the site's root. After the
# last language is built, split it: the default language's pages stay at the root, each other
# language's go to ``<lang>/search/search_index.json`` (locations relative to ``<lang>/``), and
# ``overrides/main.html`` points those pages' ``base`` at their language's folder. Math in the
# result previews becomes plain text instead of raw LaTeX.

GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "theta": "θ", "lambda": "λ", "mu": "μ",
         "pi": "π", "sigma": "σ", "tau": "τ", "phi": "φ", "omega": "ω", "ell": "ℓ", "Sigma": "Σ"}
SYMBOLS = {"top": "ᵀ", "cdot": "·", "times": "×", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "infty": "∞",
           "sum": "Σ", "odot": "⊙", "lVert": "‖", "rVert": "‖", "dots": "…", "ldots": "…", "approx": "≈", "ne": "≠",
           "in": "∈", "to": "→", "pm": "±", "mid": "|", "partial": "∂", "sqrt": "√", **GREEK}
MATH = re.compile(r"\\\((.*?)\\\)|\\\[(.*?)\\\]", re.S)


def plain_math(text: str) -> str:
    """LaTeX between ``\\( \\)`` or ``\\[ \\]`` as readable plain text: ``\\mathrm{softmax}(x)`` -> ``softmax(x)``."""
    def one(match: re.Match) -> str:
        tex = match.group(1) if match.group(1) is not None else match.group(2)
        tex = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"(\1)/(\2)", tex)
        tex = re.sub(r"\\(?:mathrm|text|operatorname|mathbf|boldsymbol|mathcal|mathbb|mathit)\{([^{}]*)\}", r"\1", tex)
        tex = re.sub(r"\\([A-Za-z]+)", lambda m: SYMBOLS.get(m.group(1), m.group(1) if m.group(1) in
                                                              ("max", "min", "exp", "log", "ln", "softmax") else ""),
                     tex)
        tex = re.sub(r"\\[,;!: ]", " ", tex).replace("{", "").replace("}", "").replace("&", " ")
        return re.sub(r"\s+", " ", tex).strip()
    return MATH.sub(one, text)


#: Material 9.8's search worker splits a Chinese query into index words but never tries a word that
#: ends at the query's last character: 缩放 becomes 缩 (results and highlights for one character).
#: The two loop bounds, one past where Material stops; a Material that changed them stops the build.
WORKER_FIX = [("o<t.length;o++)t.slice(s,o)in e", "o<=t.length;o++)t.slice(s,o)in e"),
              ("n[a]&&a<t.length-1&&(i[s++]=a)", "n[a]&&a<t.length&&(i[s++]=a)")]


def fix_search_worker(site_dir: str) -> None:
    for worker in (Path(site_dir) / "assets" / "javascripts" / "workers").glob("search.*.min.js"):
        js = worker.read_text(encoding="utf-8")
        for old, new in WORKER_FIX:
            if new not in js:
                if js.count(old) != 1:
                    raise PluginError(f"{worker.name}: Material's query segmenter changed; review WORKER_FIX "
                                      "in hooks/languages.py")
                js = js.replace(old, new)
        worker.write_text(js, encoding="utf-8")


@event_priority(-200)  # after mkdocs-static-i18n has written the stacked index
def on_post_build(config):
    fix_search_worker(config.site_dir)
    i18n = config.plugins.get("i18n")
    if i18n is None or i18n.building:
        return  # the other languages' builds run inside the default one's; split once, after the last
    root = Path(config.site_dir) / "search" / "search_index.json"
    if not root.is_file():
        return
    index = json.loads(root.read_text(encoding="utf-8"))
    others = [lang for lang in i18n.build_languages if lang != i18n.default_language]
    by_lang = {lang: [] for lang in [i18n.default_language, *others]}
    for doc in index["docs"]:
        doc["text"] = plain_math(doc["text"])
        doc["title"] = plain_math(doc["title"])
        lang = next((lang for lang in others if doc["location"].startswith(f"{lang}/")), i18n.default_language)
        if lang != i18n.default_language:
            doc["location"] = doc["location"][len(lang) + 1:]
        by_lang[lang].append(doc)
    for lang, docs in by_lang.items():
        path = root if lang == i18n.default_language else Path(config.site_dir) / lang / "search" / "search_index.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        config_ = index["config"] | ({} if lang == i18n.default_language else {"lang": [lang]})
        data = json.dumps({"config": config_, "docs": docs}, ensure_ascii=False, separators=(",", ":"))
        path.write_text(data, encoding="utf-8")
        if (root.parent / "search_index.js").is_file():  # the offline copy searches from a script (file://)
            path.with_suffix(".js").write_text(f"var __index = {data}", encoding="utf-8")
