"""Each note as a Jupyter notebook in the built site, and a link to it under the note's title.

The notebooks (``notebooks/<slug>.<lang>.ipynb``: both languages, every published note of
``docs/<lang>/notes/``) are made from the notes when the site is built, by
:mod:`attention.experiments.notebooks` (what ``python -m attention notebooks --out DIR`` writes too);
they are build outputs, never files in docs/. Each note's page says where its notebook is and how to
run it locally (``make notebook NOTE=<slug>``), in the page's language; the offline copy has them too.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from mkdocs.utils import get_relative_url
from vault import DEFAULT_LANGUAGE, language

from attention.experiments.notebooks import note_files, write_notebooks

FOLDER = "notebooks"
LINK = {"en": ('<p class="notebook-link"><a href="{href}" download>Download notebook</a> '
               '<span>(run it locally: <code>make notebook NOTE={slug}</code>)</span></p>'),
        "zh": ('<p class="notebook-link"><a href="{href}" download>下载 Notebook</a> '
               '<span>（本地运行：<code>make notebook NOTE={slug}</code>）</span></p>')}
NOTE = re.compile(r"^(?P<lang>\w+)/notes/(?P<slug>[a-z0-9-]+)\.md$")


def on_page_content(html_: str, page, config, files) -> str:
    found = NOTE.match(page.file.src_uri)
    if not found or (page.meta or {}).get("draft") is True:  # a draft has no notebook (notebooks.note_files)
        return html_
    lang = language(page.file.src_uri)
    href = get_relative_url(f"{FOLDER}/{found['slug']}.{lang}.ipynb", page.url)
    link = LINK[lang].format(href=html.escape(href, quote=True), slug=found["slug"])
    return html_.replace("</h1>", "</h1>\n" + link, 1)


def on_post_build(config):
    # Every language's build writes into the same site folder: the default language's writes them all.
    if (config.theme.get("language") or DEFAULT_LANGUAGE) != DEFAULT_LANGUAGE:
        return
    if note_files(Path(config.docs_dir)):  # a vault without the project's notes has none to write
        write_notebooks(Path(config.site_dir) / FOLDER, Path(config.docs_dir))
