"""Obsidian / Digital Garden notes in the vault: frontmatter keys, and backlinks.

Frontmatter keys (the ones the Digital Garden plugin writes, plus ours):

- ``dg-publish: false`` or ``draft: true``: the note is not built (not in the site, nav,
  search index or sitemap).
- ``dg-passphrase`` and the other keys in ``DENIED``: removed before rendering, so they
  never reach the HTML or the search index. A static site cannot protect a page with a
  password; such notes should not be published at all.
- ``dg-home: true``: the note becomes its language's home page.
- ``dg-permalink: /some/path``: a redirect page at that path (``/en/some/path`` for English).
- ``dg-hide: true``: built and reachable by URL, but left out of the nav and the search.
- ``dg-description``: used as ``description`` (``<meta name="description">``) when that is unset.
- ``tags``, ``created``, ``updated``: the tags index, and dates shown on the page (theme).

Unknown keys are reported as warnings naming the file (so the project's strict build
rejects them in its own notes). Every page also gets ``page.backlinks``: the pages of the
same language that link to it, rendered by ``overrides/main.html``.
"""

from __future__ import annotations

import html
import logging
import posixpath
import re
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.nav import Section
from mkdocs.utils import get_relative_url
from mkdocs.utils.meta import get_data

log = logging.getLogger("mkdocs.hooks.obsidian")

DENIED = {"dg-passphrase", "passphrase", "password", "dg-password"}
KNOWN = {
    "title", "description", "tags", "created", "updated", "category", "source_date", "draft",
    "hide", "search", "template", "status", "aliases", "permalink", "noteIcon",
    "dgShowBacklinks", "dgShowLocalGraph", "dgShowInlineTitle", "dgPassFrontmatter",
}
LANG_SUFFIX = re.compile(r"\.(zh|en)\.md$")
MD_LINK = re.compile(r"\]\(\s*<?([^)\s>#]+\.md)(?:#[^)\s>]*)?>?\s*\)")

_meta_cache: dict[str, tuple[float, dict, str]] = {}


def _source(file) -> tuple[dict, str]:
    """(frontmatter, markdown) of a documentation file, cached by modification time."""
    path = file.abs_src_path
    if path is None:
        return {}, file.content_string
    mtime = Path(path).stat().st_mtime
    cached = _meta_cache.get(path)
    if cached is None or cached[0] != mtime:
        text = Path(path).read_text(encoding="utf-8-sig")
        try:
            markdown, meta = get_data(text)
        except Exception as exc:  # noqa: BLE001 - a broken frontmatter should not stop the build
            log.warning("%s: cannot read its frontmatter (%s)", file.src_uri, exc)
            markdown, meta = text, {}
        cached = _meta_cache[path] = (mtime, meta or {}, markdown)
    return cached[1], cached[2]


def _is_true(value) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in {"true", "yes", "1"})


def _is_false(value) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() in {"false", "no", "0"})


def _lang_of(src_uri: str, default: str) -> str:
    match = LANG_SUFFIX.search(src_uri)
    return match.group(1) if match else default


def _key(src_uri: str) -> str:
    return LANG_SUFFIX.sub(".md", src_uri)


@event_priority(-200)  # after mkdocs-static-i18n has chosen this language's files
def on_files(files, config):
    lang = config.theme.get("language") or "en"
    docs = [f for f in files if f.is_documentation_page()]
    home = None
    for f in docs:
        meta, _ = _source(f)
        if _is_false(meta.get("dg-publish")) or _is_true(meta.get("draft")):
            files.remove(f)
            log.info("%s: not published (dg-publish: false / draft: true)", f.src_uri)
            continue
        unknown = sorted(k for k in meta if k not in KNOWN and k not in DENIED and not k.startswith("dg-"))
        if unknown:
            log.warning("%s: unknown frontmatter keys %s; known keys are documented in hooks/obsidian.py",
                        f.src_uri, unknown)
        if _is_true(meta.get("dg-home")) and _lang_of(f.src_uri, lang) == lang:
            home = f
    if home is not None:  # each language is built into its own site dir, so its home is index.html
        index = next((f for f in files if f.dest_uri == "index.html" and f is not home), None)
        if index is not None:
            files.remove(index)
            log.info("%s: dg-home replaces %s as the home page", home.src_uri, index.src_uri)
        home.dest_uri = "index.html"
        home.abs_dest_path = str(Path(config.site_dir) / "index.html")  # cached separately from dest_uri
        home.url = "./"
    _collect_backlinks([f for f in files if f.is_documentation_page()], lang)
    return files


_backlinks: dict[str, list] = {}


def _collect_backlinks(docs, lang: str) -> None:
    """For every page of this language, which pages of this language link to it."""
    by_key = {_key(f.src_uri): f for f in docs if _lang_of(f.src_uri, lang) == lang}
    _backlinks.clear()
    for key, f in by_key.items():
        _, markdown = _source(f)
        for link in MD_LINK.findall(markdown):
            if "://" in link:
                continue
            target = posixpath.normpath(posixpath.join(posixpath.dirname(key), link))
            if target in by_key and target != key:
                sources = _backlinks.setdefault(target, [])
                if f not in sources:
                    sources.append(f)


def _title(file) -> str:
    meta, markdown = _source(file)
    if meta.get("title"):
        return str(meta["title"])
    heading = re.search(r"^#\s+(.+)$", markdown, re.M)
    return heading.group(1).strip() if heading else Path(file.src_uri).stem.split(".")[0]


def on_page_markdown(markdown, page, config, files):
    meta = page.meta
    for key in DENIED & set(meta):
        del meta[key]
    if "description" not in meta and meta.get("dg-description"):
        meta["description"] = meta["dg-description"]
    if _is_true(meta.get("dg-hide")):
        meta["search"] = {"exclude": True}
    return markdown


def on_page_context(context, page, config, nav):
    lang = config.theme.get("language") or "en"
    sources = _backlinks.get(_key(page.file.src_uri), []) if _lang_of(page.file.src_uri, lang) == lang else []
    page.backlinks = [
        {"title": _title(f), "url": get_relative_url(f.url or ".", page.url or ".")}
        for f in sources
        if not f.src_uri.startswith("tags.")
    ]
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
        return not _is_true(_source(file)[0].get("dg-hide"))

    nav.items = [i for i in nav.items if keep(i)]
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
    """Write a redirect page for every ``dg-permalink``."""
    lang = config.theme.get("language") or "en"
    site = Path(config.site_dir)
    for page_file in _permalink_files:
        meta, _ = _source(page_file)
        path = str(meta["dg-permalink"]).strip("/")
        if not path:
            continue
        target = site / path / "index.html"
        url = get_relative_url(page_file.url or ".", path + "/")
        target.parent.mkdir(parents=True, exist_ok=True)
        safe = html.escape(url, quote=True)
        target.write_text(
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>Redirect</title>'
            f'<link rel="canonical" href="{safe}"><meta http-equiv="refresh" content="0; url={safe}">'
            f'</head><body><a href="{safe}">{safe}</a></body></html>',
            encoding="utf-8",
        )


_permalink_files: list = []  # this language's published notes that carry a dg-permalink


def on_env(env, config, files):
    lang = config.theme.get("language") or "en"
    _permalink_files[:] = [
        f for f in files
        if f.is_documentation_page() and _lang_of(f.src_uri, lang) == lang and _source(f)[0].get("dg-permalink")
    ]
    return env
