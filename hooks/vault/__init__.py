"""Obsidian's Markdown for MkDocs: ``text`` (comments, lists, code-aware scanning), ``links`` (the
vault index, link resolution, wikilinks, embeds, block ids, inline tags), ``meta`` (frontmatter),
``katex`` (the math, typeset when the site is built, as Obsidian shows it while one writes).

Why our own code for these, and libraries for the rest (evaluated 2026-11, read and tried here):

- ``pymdownx.mark`` / ``pymdownx.tilde`` (==, ~~), ``pymdownx.quotes`` (callouts) and
  ``pymdownx.superfences`` (mermaid, unknown info strings as code): used as they are.
- mkdocs-obsidian-bridge 1.3: converts ``[[links]]`` by file name, but leaves ``%%comments%%``
  and callouts as TODOs, has no embeds of notes or sections, no ``aliases``, no block ids, and an
  unresolved link still becomes an ``<a>`` (only extra attributes mark it).
- mkdocs-roamlinks 0.3 / mkdocs-wikilinks 0.1 / mkdocs-ezlinks 0.1: name-based ``[[links]]``
  only; no embeds, aliases, comments, language preference, or warnings with line numbers.
- mdx_truly_sane_lists 1.3: nests by a fixed indent (with 2, items indented by 3 or 4 spaces
  collapse), and does not start a list right after a line of text; ``text.normalise_lists``
  covers both in 60 lines.
"""

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"


def language(src: str) -> str:
    """A note's language: its top folder (``zh/``, ``en/``), else ``.en.md`` for English, else Chinese."""
    top = src.split("/")[0]
    if top in LANGUAGES:
        return top
    return "en" if src.endswith(".en.md") else DEFAULT_LANGUAGE


#: Learner notes whose address is a project page's (``docs/index.md`` beside ``docs/zh/index.md``):
#: mkdocs-static-i18n would stop the build on them, so hooks/languages.py sets them aside before it
#: runs, and hooks/obsidian.py puts them back at an address of their own.
SET_ASIDE: list = []


def same_address_as_a_project_page(src_uris: list[str]) -> set[str]:
    """The learner notes (outside ``zh/``, ``en/``) that the default language's folder also has."""
    project = {src.split("/", 1)[1] for src in src_uris if src.split("/")[0] == DEFAULT_LANGUAGE}
    return {src for src in src_uris if src.split("/")[0] not in LANGUAGES and src in project}
