"""Frontmatter keys of Obsidian, Obsidian Publish and the Digital Garden plugin, and what each means here.

- ``dg-publish: false``, ``publish: false`` or ``draft: true``: the note is not built (not in the
  site, nav, search index or sitemap).
- ``dg-passphrase`` and the other keys in ``DENIED``: removed before rendering, so they never
  reach the HTML or the search index. A static site cannot protect a page with a password; such
  notes should not be published at all.
- ``dg-home: true``: the note becomes its language's home page (unless a project page is the home).
- ``dg-permalink`` / ``permalink``: a redirect page at that path (``/en/…`` for English).
- ``dg-hide: true``: built and reachable by URL, but left out of the nav and the search.
- ``dg-description``: used as ``description`` when that is unset.
- ``aliases`` (or ``alias``): other names a ``[[link]]`` may use for the note.
- ``cssclasses`` (or ``cssclass``): CSS classes on the page's content.
- ``tags``, ``created``, ``updated``: the tags index, and dates shown on the page.

Any other ``dg-*`` key is accepted (the Digital Garden plugin writes many); other unknown keys are
reported as warnings naming the file.
"""

from __future__ import annotations

DENIED = {"dg-passphrase", "passphrase", "password", "dg-password"}
KNOWN = {
    # ours, and Material's
    "title", "description", "tags", "created", "updated", "category", "source_date", "hide", "search",
    "template", "status", "icon", "subtitle", "comments",
    # Obsidian's default properties, Obsidian Publish, and common community ones
    "aliases", "alias", "cssclasses", "cssclass", "publish", "permalink", "draft", "date", "author", "authors",
    "image", "cover", "lang", "tag",
    # Digital Garden (camelCase keys it writes besides the dg-* ones)
    "noteIcon", "dgShowBacklinks", "dgShowLocalGraph", "dgShowInlineTitle", "dgPassFrontmatter",
}


def is_true(value) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in {"true", "yes", "1"})


def is_false(value) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() in {"false", "no", "0"})


def unpublished(meta: dict) -> bool:
    """Whether the note must not be built at all."""
    return is_false(meta.get("dg-publish")) or is_false(meta.get("publish")) or is_true(meta.get("draft"))


def unknown_keys(meta: dict) -> list[str]:
    return sorted(k for k in meta if k not in KNOWN and k not in DENIED and not str(k).startswith("dg-"))


def as_list(value) -> list[str]:
    """A frontmatter value that may be one string or a list of them."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",")] if "," in value else [value.strip()]
    return [str(v) for v in value if v is not None]


def permalink(meta: dict) -> str:
    return str(meta.get("dg-permalink") or meta.get("permalink") or "").strip().strip("/")
