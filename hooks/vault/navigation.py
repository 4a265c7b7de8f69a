"""A learner's notes in the site's navigation: one section after the project's own ("我的笔记" / "My
notes"), with the notes' folders nested as in Obsidian's file explorer.

In each folder: the subfolders first, then the notes, each in alphabetical order whatever the case,
numbers in natural order (``Note 2`` before ``note 10``), notes by the title the page shows. A folder
whose notes include an index-like one (``index.md``, ``README.md``, or a note named like the folder,
as Obsidian's folder notes are) shows it as the folder's own page (Material's ``navigation.indexes``).
"""

from __future__ import annotations

import posixpath
import re

from mkdocs.structure.nav import Section
from mkdocs.structure.pages import Page

TITLES = {"zh": "我的笔记", "en": "My notes"}


def natural(text: str) -> list[tuple]:
    """A sort key: case-insensitive, and a run of digits compares as a number."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part.casefold())
            for part in re.split(r"(\d+)", text) if part]


class _FolderPage(Page):
    """A note named like its folder, shown as the folder's page (Material reads ``is_index``)."""

    @property
    def is_index(self) -> bool:
        return True


def _index_like(page: Page, folder: str) -> bool:
    stem = posixpath.splitext(posixpath.basename(page.file.src_uri))[0].removesuffix(".en").removesuffix(".zh")
    return stem in ("index", "README") or stem.casefold() == folder.casefold()


def learner_section(pages: list[Page], lang: str, title_of) -> Section | None:
    """The section of ``pages`` (the learner's, of this language), nested by their source folders;
    ``title_of(page)`` is the title a page shows."""
    if not pages:
        return None
    tree: dict = {"folders": {}, "pages": []}
    for page in pages:
        node = tree
        for folder in page.file.src_uri.split("/")[:-1]:
            node = node["folders"].setdefault(folder, {"folders": {}, "pages": []})
        node["pages"].append(page)

    def build(node: dict, name: str, parent: Section | None) -> Section:
        section = Section(name, [])
        section.parent = parent
        index = next((p for p in node["pages"] if parent is not None and _index_like(p, name)), None)
        if index is not None and not index.is_index:
            index.__class__ = _FolderPage
        folders = [build(node["folders"][f], f, section) for f in sorted(node["folders"], key=natural)]
        notes = sorted((p for p in node["pages"] if p is not index), key=lambda p: natural(title_of(p)))
        for page in notes + ([index] if index else []):
            page.title = title_of(page)
            page.parent = section
        section.children = ([index] if index else []) + folders + notes
        return section

    return build(tree, TITLES[lang], None)
