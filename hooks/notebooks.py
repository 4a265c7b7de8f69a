"""Each note as a Jupyter notebook in the built site, and a link to it under the note's title.

The notebooks (``notebooks/<slug>.<lang>.ipynb``: both languages, every note of ``docs/<lang>/notes/``
that the build publishes) are made from the notes when the site is built, by
:mod:`attention.experiments.notebooks` (what ``python -m attention notebooks --out DIR`` writes too);
they are build outputs, never files in docs/. Each note's page says where its notebook is and how to
run it locally (``make notebook NOTE=<slug>``), in the page's language; the offline copy has them too.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.utils import get_relative_url
from vault import language

from attention.experiments.notebooks import write_notebooks

FOLDER = "notebooks"
LINK = {"en": ('<p class="notebook-link"><a href="{href}" download>Download notebook</a> '
               '<span>(run it locally: <code>make notebook NOTE={slug}</code>)</span></p>'),
        "zh": ('<p class="notebook-link"><a href="{href}" download>下载 Notebook</a> '
               '<span>（本地运行：<code>make notebook NOTE={slug}</code>）</span></p>')}
NOTE = re.compile(r"^(?P<lang>\w+)/notes/(?P<slug>[a-z0-9-]+)\.md$")


#: ``{(slug, lang): source}`` of the notes this build has made pages of, for :func:`on_post_build`.
_built: dict[tuple[str, str], Path] = {}


def on_page_content(html_: str, page, config, files) -> str:
    found = NOTE.match(page.file.src_uri)
    if not found:
        return html_
    lang = language(page.file.src_uri)
    # Only a note the build publishes gets here (hooks/vault/meta.py: not `draft: true`, `publish: false`
    # or `dg-publish: false`): its notebook is published, never another's.
    _built[(found["slug"], lang)] = Path(page.file.abs_src_path)
    href = get_relative_url(f"{FOLDER}/{found['slug']}.{lang}.ipynb", page.url)
    link = LINK[lang].format(href=html.escape(href, quote=True), slug=found["slug"])
    return html_.replace("</h1>", "</h1>\n" + link, 1)


@event_priority(-200)  # after mkdocs-static-i18n has built the other languages, inside the default one's build
def on_post_build(config):
    i18n = config.plugins.get("i18n")
    if i18n is not None and i18n.building:
        return  # every language's pages are known once the last has been built
    if _built:
        write_notebooks(Path(config.site_dir) / FOLDER, files=dict(_built))
    _built.clear()
