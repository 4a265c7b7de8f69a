"""The vault as Obsidian sees it, published by MkDocs: Obsidian's syntax, Digital Garden frontmatter,
backlinks, and a learner's own notes that never break the build.

- **Languages.** A note's language is its top folder: ``docs/zh/…`` Chinese, ``docs/en/…`` English
  (mkdocs-static-i18n's ``folder`` structure). A note anywhere else (a learner's copied vault, e.g.
  ``docs/garden/…``) is Chinese, the default language, unless its name ends in ``.en.md``
  (``.zh.md`` is Chinese too); the suffix is dropped from its URL.
- **Project notes and learner notes.** Notes in ``docs/zh/`` and ``docs/en/`` are the project's:
  their problems are MkDocs warnings, which the strict build turns into errors. Problems in any
  other note are printed as warnings naming the file and line (logger ``vault``), and the build
  goes on.
- **Syntax** (``vault.text``, ``vault.links``): ``%%comments%%`` are removed before anything else
  (never in HTML, search index or sitemap; kept inside code); lists after a line of text and
  lists nested by 2-4 spaces; ``[[wikilinks]]`` in all forms, Markdown links resolved as Obsidian
  resolves them, ``![[embeds]]`` of images (with size), media and notes (whole, a heading's
  section, a block); ``^block-ids``; inline ``#tags`` (into the tags index). Links and embeds
  that resolve nowhere render as styled text, with a warning, never as a dead link.
- **Frontmatter**: see ``vault.meta``.
- **Graph view** (``vault.graph``): the pages and the backlinks' link table, written to
  ``assets/graph-<lang>.js``; every note (the project's and a learner's) has a local graph.
"""

from __future__ import annotations

import html
import logging
import posixpath
import re
import sys
from pathlib import Path
from urllib.parse import unquote

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File
from mkdocs.structure.nav import Section
from mkdocs.utils import get_relative_url
from mkdocs.utils.meta import get_data
from vault import DEFAULT_LANGUAGE, LANGUAGES, SET_ASIDE, canvas, graph, language, navigation
from vault import meta as fm
from vault.links import DRAWING, Note, Page, Vault, drawing, links_of, transform
from vault.text import (
    FENCE,
    Line,
    default_callout_titles,
    inline_footnotes,
    normalise_lists,
    protect_blocks,
    separate_display_math,
    strip_comments,
)

project_log = logging.getLogger("mkdocs.hooks.obsidian")  # counted by --strict
learner_log = logging.getLogger("vault")  # outside "mkdocs": printed, not counted by --strict

_sources: dict[str, tuple[float, dict, str, int]] = {}
_build = {"vault": None, "backlinks": {}, "permalinks": [], "slugify": None, "urls": {}, "tags": {}}


def tag_name(tag: str) -> str:
    """One spelling per tag, as Obsidian's tags ignore case: the first one seen, project notes first; for
    a nested tag, each level's (``#Lang/Rust`` then ``#lang/python``: ``Lang/Rust``, ``Lang/python``,
    one parent on the tags page)."""
    spelled = ""
    for part in tag.lstrip("#").split("/"):
        path = f"{spelled}/{part}" if spelled else part
        spelled = _build["tags"].setdefault(path.casefold(), path)
    return spelled


class _LearnerWarnings(logging.Filter):
    """MkDocs' own warnings about a learner's note ("Doc file 'garden/x.md' contains a link ...")
    become learner warnings: printed with the file's name, never counted by --strict."""

    DOC_FILE = re.compile(r"Doc file '([^']+)'")

    def filter(self, record: logging.LogRecord) -> bool:
        found = self.DOC_FILE.search(record.getMessage()) if record.levelno == logging.WARNING else None
        if found and not is_project(found[1]):
            learner_log.warning("%s", record.getMessage())
            return False
        return True


def _setup_learner_log() -> None:
    for name in ("mkdocs.structure.pages", "mkdocs.structure.nav"):
        mkdocs_log = logging.getLogger(name)
        if not any(isinstance(f, _LearnerWarnings) for f in mkdocs_log.filters):
            mkdocs_log.addFilter(_LearnerWarnings())
    if not learner_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)-7s -  vault: %(message)s"))
        learner_log.addHandler(handler)
        learner_log.propagate = False
        learner_log.setLevel(logging.INFO)


def is_project(src: str) -> bool:
    return src.split("/")[0] in LANGUAGES


def warn(src: str, message: str, line: int | None = None) -> None:
    (project_log if is_project(src) else learner_log).warning("%s%s: %s", src, f":{line}" if line else "", message)


def _source(file) -> tuple[dict, str, int]:
    """(frontmatter, markdown, line where the markdown starts) of a page, cached by modification time."""
    path = file.abs_src_path
    if path is None:
        return {}, file.content_string, 1
    mtime = Path(path).stat().st_mtime
    cached = _sources.get(path)
    if cached is None or cached[0] != mtime:
        text = Path(path).read_text(encoding="utf-8-sig")
        try:
            markdown, meta = get_data(text)
        except Exception as exc:  # noqa: BLE001 - a broken frontmatter should not stop the build
            warn(file.src_uri, f"cannot read its frontmatter ({exc})")
            markdown, meta = text, {}
        first = text.count("\n") - markdown.count("\n") + 1
        cached = _sources[path] = (mtime, meta if isinstance(meta, dict) else {}, markdown, first)
    return cached[1], cached[2], cached[3]


def on_config(config):
    _setup_learner_log()
    _build["slugify"] = config.mdx_configs.get("toc", {}).get("slugify") or (lambda text, sep: text.lower())
    return config


@event_priority(-200)  # after mkdocs-static-i18n has chosen this language's files
def on_files(files, config):
    lang = config.theme.get("language") or DEFAULT_LANGUAGE
    _place_learner_notes(files, config, lang)
    docs = sorted((f for f in files if f.is_documentation_page()), key=lambda f: (not is_project(f.src_uri), f.src_uri))
    unpublished = set()
    for f in docs:
        meta, _, _ = _source(f)
        if fm.unpublished(meta):
            files.remove(f)
            unpublished.add(f.src_uri)
            project_log.info("%s: not published (dg-publish/publish: false or draft: true)", f.src_uri)
            continue
        unknown = fm.unknown_keys(meta)
        if unknown:
            warn(f.src_uri, f"unknown frontmatter keys {unknown}: the site ignores them (Obsidian keeps them); "
                            f"it understands {', '.join(sorted(fm.KNOWN))} and the Digital Garden's dg-* keys "
                            "(README, 'Notes in Obsidian')")
    present = {f.src_uri for f in files}
    docs = [f for f in docs if f.src_uri in present]
    if config.nav:  # a draft in the reading order (`python -m attention new-note`) stays out of the nav till it is done
        config.nav = without_pages(config.nav, {src.split("/", 1)[1] for src in unpublished if is_project(src)})
    _build["tags"] = {}
    for f in docs:  # project notes come first: their spelling of a tag is the one shown
        meta = _source(f)[0]
        for tag in (*fm.as_list(meta.get("tags")), *fm.as_list(meta.get("tag"))):
            tag_name(str(tag))
    _choose_home(files, docs, config)
    notes = {}
    for f in docs:
        meta, markdown, first = _source(f)
        title = str(meta.get("title") or (not f.src_uri.endswith(DRAWING) and _first_heading(markdown))
                    or _file_title(f.src_uri))
        aliases = fm.as_list(meta.get("aliases") or meta.get("alias"))
        notes[f.src_uri] = Note(f.src_uri, language(f.src_uri), title, aliases, note_lines(markdown, first), first)
    for src, title, lines in _canvas_pages(files, config, lang, {src: note.title for src, note in notes.items()}):
        notes[src] = Note(src, lang, title, [], lines, 1)
    vault = _build["vault"] = Vault(notes, {f.src_uri for f in files}, _build["slugify"])
    _build["backlinks"] = _backlinks(vault, files, lang)
    _build["permalinks"] = _permalinks(docs, files)
    _build["urls"] = {f.src_uri: f.url for f in docs}
    return files


def without_pages(nav: list, paths: set[str]) -> list:
    """The configured ``nav`` (a list of paths, ``{title: path}`` and ``{title: [...]}``) without the pages at
    ``paths`` (relative to a language folder), and without the sections that leaves empty."""
    kept = []
    for item in nav:
        title, value = next(iter(item.items())) if isinstance(item, dict) else (None, item)
        if isinstance(value, list):
            value = without_pages(value, paths) or None
        elif value in paths:
            value = None
        if value is not None:
            kept.append({title: value} if title is not None else value)
    return kept


def _place_learner_notes(files, config, lang: str) -> None:
    """Learner notes outside the language folders: keep those of this language (dropping a
    ``.zh.md``/``.en.md`` suffix from their URL), remove the others."""
    docs_dir = Path(config.docs_dir)
    if lang != DEFAULT_LANGUAGE:  # mkdocs-static-i18n builds only default-language files outside the folders
        for path in sorted(docs_dir.rglob(f"*.{lang}.md")):
            src = path.relative_to(docs_dir).as_posix()
            if not is_project(src) and not src.startswith(".") and files.get_file_from_path(src) is None:
                files.append(File(src, str(docs_dir), config.site_dir, config.use_directory_urls))
    if lang == DEFAULT_LANGUAGE:
        for f in SET_ASIDE:  # see hooks/languages.py: they get an address of their own below
            files.append(f)
    project = {f.dest_uri: f.src_uri for f in files if f.is_documentation_page() and is_project(f.src_uri)}
    used = {f.dest_uri for f in files}
    prefix = "" if lang == DEFAULT_LANGUAGE else f"{lang}/"
    for f in list(files):
        if not f.is_documentation_page() or is_project(f.src_uri) or f.generated_by:
            continue
        if language(f.src_uri) != lang:
            files.remove(f)
            continue
        stem = f.src_uri[: -len(f".{lang}.md")] if f.src_uri.endswith(f".{lang}.md") else None
        base = stem if stem is not None else f.src_uri[:-3]
        dest = _dest(config, prefix, base) if stem is not None or prefix else f.dest_uri
        if dest in project:  # the project's page keeps its address; the note takes the first free -2, -3, ...
            owner, n = project[dest], 2
            while _dest(config, prefix, f"{base}-{n}") in used:
                n += 1
            dest = _dest(config, prefix, f"{base}-{n}")
            warn(f.src_uri, f"has the address of the project's page {owner}, which keeps it; this note is "
                            f"published at {dest} (rename the file to choose its address)")
        if dest != f.dest_uri:
            _move(f, config, dest)
        used.add(dest)


def _dest(config, prefix: str, base: str) -> str:
    return f"{prefix}{base}/index.html" if config.use_directory_urls else f"{prefix}{base}.html"


def _move(f, config, dest_uri: str) -> None:
    f.dest_uri = dest_uri
    f.abs_dest_path = str(Path(config.site_dir) / dest_uri)
    f.url = f._get_url(config.use_directory_urls)


def _first_heading(markdown: str) -> str | None:
    for line in markdown.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return None


def _choose_home(files, docs, config) -> None:
    """``dg-home: true`` makes a note the home page, unless a project page is the home; with
    several candidates the first (by path) wins, and every loser is reported by name."""
    index = next((f for f in files if f.dest_uri.split("/")[-1] == "index.html" and f.url in ("", "./", "en/")
                  and f.is_documentation_page()), None)
    homes = [f for f in docs if fm.is_true(_source(f)[0].get("dg-home"))]
    if not homes:
        return
    if index is not None and is_project(index.src_uri):
        for f in homes:
            warn(f.src_uri, f"dg-home: true is ignored: the project's {index.src_uri} is the home page")
        return
    home, *others = homes
    for f in others:
        warn(f.src_uri, f"dg-home: true is ignored: {home.src_uri} is the home page already")
    if index is not None and index is not home:
        files.remove(index)
        project_log.info("%s: dg-home replaces %s as the home page", home.src_uri, index.src_uri)
    _move(home, config, (index.dest_uri if index is not None else "index.html"))


def _backlinks(vault: Vault, files, lang: str) -> dict[str, list[str]]:
    """For every note, the notes of this language that link to it (wikilinks, embeds, Markdown links)."""
    backlinks: dict[str, list[str]] = {}
    for src, note in vault.notes.items():
        if note.lang != lang or Path(src).stem in ("tags",):
            continue
        for target, _ in links_of(note.lines):
            found = vault.resolve(target, src, lang) if target else None
            if found and found != src and found in vault.notes and src not in backlinks.setdefault(found, []):
                backlinks[found].append(src)
    return backlinks


def _permalinks(docs, files) -> list[tuple[str, str]]:
    """(note, path) for every ``dg-permalink``/``permalink`` that collides with nothing; collisions
    with a page or another permalink are reported with both names, and the page (or the first) wins."""
    pages = {unquote(f.url).strip("/"): f.src_uri for f in files if f.is_documentation_page()}
    taken: dict[str, str] = {}
    out = []
    for f in docs:
        path = fm.permalink(_source(f)[0])
        if not path or path == unquote(f.url).strip("/"):
            continue
        other = pages.get(path) or taken.get(path)
        if other is not None:
            warn(f.src_uri, f"permalink /{path}/ is ignored: it is the address of {other}")
            continue
        taken[path] = f.src_uri
        out.append((f.src_uri, path))
    return out


@event_priority(50)  # before Material's tags plugin reads page.meta["tags"]
def on_page_markdown(markdown, page, config, files):
    meta, src = page.meta, page.file.src_uri
    for key in fm.DENIED & set(meta):
        del meta[key]
    if "description" not in meta and meta.get("dg-description"):
        meta["description"] = meta["dg-description"]
    if fm.is_true(meta.get("dg-hide")):
        meta["search"] = {"exclude": True}
    classes = fm.as_list(meta.get("cssclasses") or meta.get("cssclass"))
    meta["cssclasses"] = " ".join(c.replace(" ", "-") for c in classes)
    vault = _build["vault"]
    first = _source(page.file)[2]
    lines = inline_footnotes(note_lines(markdown, first))
    meta["mermaid"] = any(line.code and (fence := FENCE.match(line.text)) and fence["info"].strip() == "mermaid"
                          for line in lines)
    lang = language(src)
    default_callout_titles(lines, lang)
    tags_file = files.get_file_from_path(f"{lang}/tags.md")

    def tag_url(name: str) -> str | None:
        if tags_file is None:
            return None
        return get_relative_url(tags_file.url, page.url) + "#tag:" + _build["slugify"](tag_name(name), "-")

    def media_url(target: str) -> str:
        f = files.get_file_from_path(target)
        return get_relative_url(f.url, page.url) if f is not None else target

    def note_url(target: str) -> str | None:
        url = _build["urls"].get(target)
        return None if url is None or is_project(target) else get_relative_url(url, page.url)

    context = Page(src, lang, vault, lambda message, line: warn(src, message, line), tag_url, media_url,
                   strict=is_project(src), note_url=note_url)
    if src.endswith(DRAWING):  # the plugin's placeholder and data: the drawing's image instead
        title = vault.notes[src].title
        lines = [Line(first, f"# {title}"), Line(first, ""), Line(first, drawing(vault, src, src, lang))]
    lines = transform(lines, context)
    tags = [tag_name(str(t)) for t in (*fm.as_list(meta.get("tags")), *fm.as_list(meta.get("tag")), *context.tags)]
    if tags or "tags" in meta:  # Obsidian accepts one tag as a string, Material wants a list
        meta["tags"] = list(dict.fromkeys(tags))
    return "\n".join(line.text for line in lines)


def _canvas_pages(files, config, lang: str, titles: dict[str, str]) -> list[tuple[str, str, list[Line]]]:
    """A page for every JSON Canvas of this language (``x.canvas``, or ``x.en.canvas`` for English)
    at ``x.canvas/``, made from ``vault.canvas``; the raw ``.canvas`` files are not published (they
    name every file, published or not). Links to ``x.canvas`` resolve to the page (``x.canvas.md``).
    Returns ``(source, title, lines)`` of each page it adds to ``files``."""
    docs_dir, pages = Path(config.docs_dir), []
    prefix = "" if lang == DEFAULT_LANGUAGE else f"{lang}/"
    for f in [f for f in files if f.src_uri.endswith(".canvas")]:
        files.remove(f)
    published = {f.src_uri for f in files}
    sources = sorted(p.relative_to(docs_dir).as_posix() for p in docs_dir.rglob("*.canvas"))
    for src in sources:
        if is_project(src) or src.startswith(".") or language(src[: -len(".canvas")] + ".md") != lang:
            continue
        base = src[: -len(f".{lang}.canvas")] if src.endswith(f".{lang}.canvas") else src[: -len(".canvas")]
        try:
            board = canvas.read((docs_dir / src).read_text(encoding="utf-8-sig"))
        except ValueError as exc:  # json.JSONDecodeError included
            warn(src, f"is not a JSON Canvas ({exc}): not published")
            continue
        name = posixpath.basename(base)
        lines = canvas.page_lines(board, name, lang, titles, published)
        page = File.generated(config, f"{base}.canvas.md", content="\n".join(line.text for line in lines))
        _move(page, config, _dest(config, prefix, f"{base}.canvas"))
        files.append(page)
        pages.append((page.src_uri, name, lines))
    return pages


def _file_title(src: str) -> str:
    """A note's title from its file name: without ``.md``, a language suffix or ``.excalidraw``
    (dots elsewhere in the name are kept: ``Drawing 2026-01-05 10.12.03``)."""
    return re.sub(r"(\.excalidraw)?(\.(zh|en))?\.md$", "", posixpath.basename(src))


def note_lines(markdown: str, first: int) -> list:
    """A note's lines as the site reads them, on its own page and where it is embedded: comments
    removed, display math and lists set apart from the text around them (as Obsidian shows them)."""
    return normalise_lists(protect_blocks(separate_display_math(strip_comments(markdown, first))))


def is_note(page) -> bool:
    """A project note: one of the reading order (``docs/{zh,en}/notes/``)."""
    return page is not None and page.file.src_uri.startswith(("zh/notes/", "en/notes/"))


def on_page_context(context, page, config, nav):
    # Previous / next (Material's navigation.footer) only along the reading order: from note to note,
    # never from the first note back to the home page or from the last one on to the API reference.
    page.previous_page = page.previous_page if is_note(page) and is_note(page.previous_page) else None
    page.next_page = page.next_page if is_note(page) and is_note(page.next_page) else None
    urls = _build["urls"]
    page.backlinks = [{"title": _build["vault"].notes[src].title, "url": get_relative_url(urls[src], page.url or ".")}
                      for src in _build["backlinks"].get(page.file.src_uri, []) if src in urls]
    page.local_graph = page.file.src_uri in urls and (is_note(page) or not is_project(page.file.src_uri))
    return context


@event_priority(-200)
def on_nav(nav, config, files):
    def keep(item) -> bool:
        if isinstance(item, Section):
            item.children = [c for c in item.children if keep(c)]
            return bool(item.children)
        file = getattr(item, "file", None)
        if file is None or not file.is_documentation_page():
            return True
        return not fm.is_true(_source(file)[0].get("dg-hide"))

    nav.items = [i for i in nav.items if keep(i)]
    # A learner's notes (outside docs/zh and docs/en) are in no configured nav: one section of their own.
    in_nav, notes = {id(p) for p in nav.pages}, _build["vault"].notes
    learner = [f.page for f in files.documentation_pages() if f.page is not None and id(f.page) not in in_nav
               and not is_project(f.src_uri) and keep(f.page) and f.url not in ("", "./", "en/")]
    lang = config.theme.get("language") or DEFAULT_LANGUAGE
    section = navigation.learner_section(learner, lang, lambda p: notes[p.file.src_uri].title
                                         if p.file.src_uri in notes else p.title)
    if section is not None:
        nav.items.append(section)
    # Previous/next links were computed from the full list of pages: link the kept ones again.
    hidden = [p for p in nav.pages if not keep(p)]
    nav.pages = [p for p in nav.pages if keep(p)]
    for page in hidden:
        page.previous_page = page.next_page = None
    for before, after in zip(nav.pages, nav.pages[1:]):
        before.next_page, after.previous_page = after, before
    if nav.pages:
        nav.pages[0].previous_page = nav.pages[-1].next_page = None
    return nav


def on_post_build(config):
    """Write a redirect page for every permalink (under ``en/`` for English), and the graph's data."""
    lang = config.theme.get("language") or DEFAULT_LANGUAGE
    titles = {src: note.title for src, note in _build["vault"].notes.items()}
    data = graph.graph_data(titles, _build["urls"], _build["backlinks"], is_project, lang)
    out = Path(config.site_dir) / "assets" / f"graph-{lang}.js"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(graph.graph_script(data), encoding="utf-8")
    prefix = "" if lang == DEFAULT_LANGUAGE else f"{lang}/"
    for src, path in _build["permalinks"]:
        where = f"{prefix}{path}/"
        url = html.escape(get_relative_url(_build["urls"][src], where), quote=True)
        target = Path(config.site_dir) / where / "index.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>Redirect</title>'
            f'<link rel="canonical" href="{url}"><meta http-equiv="refresh" content="0; url={url}">'
            f'</head><body><a href="{url}">{url}</a></body></html>',
            encoding="utf-8",
        )
