"""The vault's notes and files, and Obsidian's links among them: how a link finds its target, and
what a wikilink, an embed, a block id or an inline tag becomes in Python-Markdown.

Resolution, as Obsidian resolves it (case-insensitive): a path relative to the linking note, then
a path from the vault's root; a bare name (``[[scaling]]``, ``[[图.png]]``) matches the file of that
name, or a note's ``aliases``, anywhere in the vault. Where several match, a note of the linking
note's language wins, then one in the same folder, then the shortest path.
"""

from __future__ import annotations

import html
import posixpath
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from .text import FENCE, HEADING, QUOTE_MARKS, Line, demoted, map_text

IMAGE = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".svg", ".webp", ".avif"}
AUDIO = {".mp3", ".wav", ".m4a", ".ogg", ".flac", ".3gp"}
VIDEO = {".mp4", ".webm", ".ogv", ".mov", ".mkv"}
ASSET = IMAGE | AUDIO | VIDEO | {".pdf"}
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
INLINE = re.compile(
    r"(?P<wiki>(?P<wbang>!?)\[\[(?P<wbody>[^\[\]\n]+?)\]\])"
    r"|(?P<md>(?P<mbang>!?)\[(?P<mtext>(?:[^\[\]\n]|\[[^\[\]\n]*\])*)\]\(\s*(?P<mtarget><[^>\n]*>|[^()\s]+)"
    r"(?P<mtitle>\s+\"[^\"\n]*\")?\s*\))"
    r"|(?P<tag>(?:(?<=\s)|(?<=^))#(?P<tname>[\w/-]*[^\W\d][\w/-]*))"
    r"|(?P<block>(?:(?<=\s)|(?<=^))\^(?P<bid>[A-Za-z0-9-]+)\s*$)"
)
BLOCK_ID = re.compile(r"(?:^|\s)\^([A-Za-z0-9-]+)\s*$")
MAX_EMBED_DEPTH = 3
#: Obsidian's size options after ``|`` in an embed: ``600``, ``600x400``, and layout words (``600|center``).
#: An Excalidraw drawing: the plugin's Markdown file, whose text is a placeholder and the drawing's data.
DRAWING = ".excalidraw.md"
SIZE_OPTIONS = re.compile(r"\d+(?:x\d+)?(?:\|[\w-]+)*")


@dataclass
class Note:
    """A published Markdown page of the vault (comments already removed from ``lines``)."""

    src: str  #: path relative to the docs folder, with "/"
    lang: str
    title: str
    aliases: list[str]
    lines: list[Line]
    first_line: int = 1  #: the line of the file where the Markdown (after the frontmatter) starts
    headings: list[tuple[int, str, int]] = field(default_factory=list)  #: (level, text, index into lines)
    blocks: dict[str, int] = field(default_factory=dict)  #: block id -> index into lines

    def __post_init__(self):
        for i, line in enumerate(self.lines):
            if line.code:
                continue
            if HEADING.match(line.text):
                level = len(line.text) - len(line.text.lstrip("#"))
                self.headings.append((level, line.text[level:].strip().rstrip("#").strip(), i))
            block = BLOCK_ID.search(line.text)
            if block:
                self.blocks[block.group(1)] = i


class Vault:
    """Every file of one language's build: notes (with their text) and other files."""

    def __init__(self, notes: dict[str, Note], files: set[str], slugify):
        self.notes, self.files, self.slugify = notes, set(files) | set(notes), slugify
        self._by_path = {path.casefold(): path for path in self.files}
        self._by_name: dict[str, list[str]] = {}
        for path in self.files:
            name = posixpath.basename(path)
            keys = {name, name[:-3], re.sub(r"\.(zh|en)\.md$", "", name)} if name.endswith(".md") else {name}
            for key in keys:
                self._by_name.setdefault(key.casefold(), []).append(path)
        for note in notes.values():
            for alias in note.aliases:
                self._by_name.setdefault(str(alias).casefold(), []).append(note.src)

    def resolve(self, target: str, source: str, lang: str) -> str | None:
        """The file a link from ``source`` to ``target`` (no fragment) points to, or None."""
        target = unquote(target).strip().replace("\\", "/")
        if not target:
            return source
        here = posixpath.dirname(source)
        stem, suffix = posixpath.splitext(target)
        tries = [target] if suffix.lower() in ASSET | {".md"} else [target + ".md", target]
        for attempt in tries:
            for path in (posixpath.normpath(posixpath.join(here, attempt)), posixpath.normpath(attempt.lstrip("/"))):
                found = self._by_path.get(path.casefold())
                if found:
                    return found
        if "/" in target.strip("/"):
            name_matches = [p for p in self._by_name.get(posixpath.basename(target).casefold(), [])
                            if p.casefold().endswith(target.strip("/").casefold() + ("" if suffix else ".md"))]
        else:
            name_matches = self._by_name.get(target.casefold(), [])
        if not name_matches:
            return None
        return min(set(name_matches), key=lambda p: (self._lang(p) != lang, posixpath.dirname(p) != here,
                                                     p.count("/"), p))

    def _lang(self, path: str) -> str | None:
        note = self.notes.get(path)
        return note.lang if note else None

    def heading_slug(self, src: str, heading: str) -> str | None:
        """The anchor of ``heading`` in note ``src``. Obsidian matches heading text case-insensitively;
        a link written by hand to a slug (``#applyrope`` for the heading ``apply_RoPE``) finds it
        too: case, spaces, punctuation, underscores and inline-code ticks do not count."""
        wanted = _plain(heading.split("#")[-1]).casefold()
        for _, text, _ in self.notes[src].headings:
            if _plain(text).casefold() == wanted:
                return self.slugify(_plain(text), "-")
        for _, text, _ in self.notes[src].headings:
            if _normal(text) and _normal(text) == _normal(heading.split("#")[-1]):
                return self.slugify(_plain(text), "-")
        return None

    def slugs(self, src: str) -> set[str]:
        """The anchors of the headings of note ``src``."""
        return {self.slugify(_plain(text), "-") for _, text, _ in self.notes[src].headings}

    def excerpt(self, src: str, fragment: str) -> list[Line] | None:
        """The lines a ``![[note#fragment]]`` embed shows: the whole note, one heading's section, or one block."""
        lines = self.notes[src].lines
        if not fragment:
            return lines
        if fragment.startswith("^"):
            index = self.notes[src].blocks.get(fragment[1:])
            if index is None:
                return None
            start = index
            while start > 0 and lines[start - 1].text.strip() and not lines[start].text.lstrip().startswith(("-", "*")):
                start -= 1
            return lines[start:index + 1]
        wanted = _plain(fragment.split("#")[-1]).casefold()
        for n, (level, text, index) in enumerate(self.notes[src].headings):
            if _plain(text).casefold() == wanted:
                end = next((i for lv, _, i in self.notes[src].headings[n + 1:] if lv <= level), len(lines))
                return lines[index:end]
        return None


def _normal(text: str) -> str:
    """Heading text as a hand-written anchor may spell it: no case, spaces, punctuation or ``_``."""
    return re.sub(r"[\W_]+", "", _plain(text).casefold())


def _plain(text: str) -> str:
    """Heading text as rendered: without link syntax, code ticks and emphasis marks (an ``_`` inside
    inline code is kept: ``apply_rope`` stays ``apply_rope``)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    parts = re.split(r"(`[^`]+`)", text)
    return "".join(part[1:-1] if part.startswith("`") else re.sub(r"[*_`]", "", part) for part in parts).strip()


@dataclass
class Page:
    """What the transforms of one page need to know and what they report."""

    src: str
    lang: str
    vault: Vault
    warn: object  #: warn(message, line number)
    tag_url: object  #: tag_url(name) -> URL of the tag on the tags page, or None
    media_url: object  #: media_url(src) -> URL of a file, relative to this page
    strict: bool = False  #: a project note: MkDocs validates its links and anchors itself
    tags: list[str] = field(default_factory=list)
    depth: int = 0
    #: note_url(src) -> a learner note's URL relative to this page, else None. A link to a learner
    #: note is written as its URL, not its path: MkDocs (with mkdocs-static-i18n) reads a path such
    #: as ``notes/scaling.md`` as the project's ``zh/notes/scaling.md`` too.
    note_url: object = lambda src: None

    def href(self, src: str) -> str:
        """How a link from this page writes the address of file ``src``."""
        return self.note_url(src) or _relative(src, self.src)


def transform(lines: list[Line], page: Page, origin: str | None = None) -> list[Line]:
    """Rewrite Obsidian's inline syntax on ``lines`` (from note ``origin``, default the page itself):
    links, embeds, block ids and tags. Embeds of notes expand into more lines."""
    origin = origin or page.src
    embeds: dict[int, list[Line]] = {}

    def replace(text: str, number: int) -> str:
        def one(match: re.Match) -> str:
            if match["wiki"]:
                return _wikilink(match, page, origin, number, embeds)
            if match["md"]:
                return _markdown_link(match, page, origin, number)
            if match["tag"]:
                return _tag(match["tname"], page)
            # The anchor belongs to the note that holds the block; an embedded copy gets none.
            return "" if page.depth else f' <span class="block-anchor" id="^{match["bid"]}"></span>'
        return INLINE.sub(one, text)

    map_text(lines, replace)
    if not embeds:
        return lines
    out = []
    for line in lines:
        out.append(line)
        # An embed inside a callout or a quote (``> ![[note]]``) stays inside it: its lines take the
        # line's ``>`` prefix.
        quote = QUOTE_MARKS.match(line.text)[0]
        for key in [k for k in embeds if f"\x00embed{k}\x00" in line.text]:
            before, _, after = line.text.partition(f"\x00embed{key}\x00")
            line.text = before.rstrip()
            body = [Line(line.number, ""), *embeds.pop(key), Line(line.number, "")]
            out += [Line(e.number, (quote + e.text).rstrip() if quote else e.text, e.code) for e in body]
            if after.strip():
                out.append(Line(line.number, quote + after.strip()))
    return out


def link_target(match: re.Match) -> tuple[str, str] | None:
    """``(target, fragment)`` of a link that ``INLINE`` matched and that may point into the vault
    (a wikilink or an embed, or a Markdown link to a note or a file), else None: the one place that
    reads a link's target, for the rewrite below and for the vault's link table."""
    if match["wiki"]:
        target, fragment, _ = _split_wikilink(match["wbody"])
        return target, fragment
    if not match["md"]:
        return None
    raw = match["mtarget"][1:-1] if match["mtarget"].startswith("<") else match["mtarget"]
    path, _, fragment = raw.partition("#")
    if not path or SCHEME.match(raw) or path.startswith("/") or \
            posixpath.splitext(unquote(path))[1].lower() not in ASSET | {".md", ".canvas"}:
        return None  # a web address, an anchor on this page, or a folder URL
    return unquote(path), fragment


def links_of(lines: list[Line]) -> list[tuple[str, str]]:
    """``(target, fragment)`` of every link and embed in ``lines``, outside code, math and HTML,
    as ``transform`` finds them."""
    found: list[tuple[str, str]] = []

    def collect(text: str, number: int) -> str:
        found.extend(t for m in INLINE.finditer(text) if (t := link_target(m)) is not None)
        return text

    map_text([Line(line.number, line.text, line.code) for line in lines], collect)
    return found


def _split_wikilink(body: str) -> tuple[str, str, str | None]:
    """``target#fragment|alias`` (``\\|`` too, as inside tables) -> (target, fragment, alias)."""
    body = body.replace("\\|", "|")
    target, _, alias = body.partition("|")
    target, _, fragment = target.partition("#")
    return target.strip(), fragment.strip(), (alias.strip() or None) if "|" in body else None


def _wikilink(match, page: Page, origin: str, number: int, embeds) -> str:
    target, fragment, alias = _split_wikilink(match["wbody"])
    src = page.vault.resolve(target, origin, page.lang)
    if match["wbang"]:
        return _embed(match, target, fragment, alias, src, page, origin, number, embeds)
    label = alias or (f"{target} > {fragment.lstrip('^')}" if target and fragment else target or fragment.lstrip("^"))
    if src is None:
        page.warn(f"unresolved link [[{match['wbody']}]]: no note or file '{target}' in the vault", number)
        return _unresolved(label, target)
    return f"[{_escape(label)}](<{page.href(src)}{_anchor(src, fragment, page, number)}>)"


def _markdown_link(match, page: Page, origin: str, number: int) -> str:
    raw = match["mtarget"][1:-1] if match["mtarget"].startswith("<") else match["mtarget"]
    path, hash_, fragment = raw.partition("#")
    if not path and hash_ and not page.strict and page.src in page.vault.notes:  # a heading of this page
        anchor = _anchor(page.src, fragment, page, number)
        return f"[{match['mtext']}]({anchor})" if anchor else _unresolved(match["mtext"] or raw, raw)
    if link_target(match) is None:
        return match.group(0)  # a web address, an anchor on this page, or a folder URL: left as it is
    src = page.vault.resolve(path, origin, page.lang)
    if src is None:
        page.warn(f"unresolved link {match.group(0)}: no note or file '{unquote(path)}' in the vault", number)
        return _unresolved(match["mtext"] or unquote(path), unquote(path))
    anchor = _anchor(src, fragment, page, number, markdown_link=True) if src.endswith(".md") else \
        (f"#{fragment}" if hash_ else "")
    return f"{match['mbang']}[{match['mtext']}](<{page.href(src)}{anchor}>{match['mtitle'] or ''})"


def _anchor(src: str, fragment: str, page: Page, number: int, *, markdown_link: bool = False) -> str:
    """``#slug`` for a heading (written as its text, as Obsidian does), ``#^id`` for a block. A
    Markdown link may also name the anchor itself (``#slug``, or one generated on the page, as on the
    API page): kept as it is in the project's notes, where MkDocs validates it. Otherwise an anchor
    that is not there is dropped, with a warning."""
    fragment = unquote(fragment)
    if not fragment or not src.endswith(".md"):
        return ""
    if fragment.startswith("^"):
        if fragment[1:] in page.vault.notes[src].blocks:
            return f"#{fragment}"
        page.warn(f"block ^{fragment[1:]} is not in {src}", number)
        return ""
    slug = page.vault.heading_slug(src, fragment)
    if slug is not None:
        return f"#{slug}"
    if markdown_link and (fragment in page.vault.slugs(src) or page.strict):
        return f"#{fragment}"
    page.warn(f"heading '{fragment}' is not in {src}", number)
    return ""


def _embed(match, target, fragment, alias, src, page: Page, origin, number, embeds) -> str:
    if alias is not None and SIZE_OPTIONS.fullmatch(alias):  # ![[x.png|600|center]]: sizes, not a label
        size, alias = alias.split("|")[0], None
    else:
        size = None
    if src is None:
        page.warn(f"unresolved embed ![[{match['wbody']}]]: no note or file '{target}' in the vault", number)
        return _unresolved(alias or posixpath.basename(target) or fragment.lstrip("^"), target or fragment)
    suffix = posixpath.splitext(src)[1].lower()
    if suffix in IMAGE:
        size = re.fullmatch(r"(\d+)(?:x(\d+))?", size or "")
        attrs = "" if not size else f'{{ width="{size[1]}"' + (f' height="{size[2]}"' if size[2] else "") + " }"
        alt = alias or posixpath.basename(src)
        return f"![{_escape(alt)}](<{_relative(src, page.src)}>){attrs}"
    if suffix in AUDIO | VIDEO:
        tag = "audio" if suffix in AUDIO else "video"
        return f'<{tag} controls src="{html.escape(page.media_url(src), quote=True)}"></{tag}>'
    if suffix != ".md":
        return f"[{_escape(alias or posixpath.basename(src))}](<{_relative(src, page.src)}>)"
    if src.endswith(DRAWING):
        return drawing(page.vault, src, page.src, page.lang, alias, size)
    excerpt = page.vault.excerpt(src, fragment)
    if excerpt is None:
        page.warn(f"embed ![[{match['wbody']}]]: '{fragment}' is not in {src}", number)
        return _unresolved(alias or target, target)
    if page.depth >= MAX_EMBED_DEPTH or (src == origin and not fragment):
        page.warn(f"embed ![[{match['wbody']}]] nests too deep (or embeds itself): shown as a link", number)
        label = alias or target or fragment.lstrip("^")
        return f"[{_escape(label)}](<{page.href(src)}{_anchor(src, fragment, page, number)}>)"
    inner = Page(page.src, page.lang, page.vault, page.warn, page.tag_url, page.media_url, page.strict, page.tags,
                 page.depth + 1, page.note_url)
    copied = []
    for line in excerpt:
        texts = [line.text] if line.code else demoted(_rebase(line.text, src, page.src))
        copied += [Line(number, text, line.code) for text in texts]
    body = transform(copied, inner, origin=src)
    title = page.vault.notes[src].title + (f" › {fragment.lstrip('^')}" if fragment else "")
    key = len(embeds)
    # A callout of its own (``<div class="admonition embed">``), titled with a link to the note: a
    # callout, unlike an HTML block, can sit inside another callout or a quote.
    embeds[key] = [Line(number, f"> [!embed] [{_escape(title)}](<{page.note_url(src) or page.media_url(src)}>)"),
                   Line(number, ">"),
                   *(Line(line.number, f"> {line.text}".rstrip(), line.code) for line in body)]
    return f"\x00embed{key}\x00"


def drawing(vault: Vault, src: str, page_src: str, lang: str, alias: str | None = None, size: str | None = None) -> str:
    """What an Excalidraw drawing (``X.excalidraw.md``) shows, embedded or on its own page: the image
    the plugin exported beside it (its auto-export, ``X.excalidraw.svg`` or ``.png``, or ``X.svg`` /
    ``X.png``) as an ``<img>``, never inlined; else a short box saying to open it in Obsidian. The
    file itself holds only the plugin's placeholder text and the drawing's data."""
    name = vault.notes[src].title if src in vault.notes else posixpath.basename(src)[: -len(DRAWING)]
    base, bare = src[: -len(".md")], src[: -len(DRAWING)]
    for image in (f"{base}.svg", f"{base}.png", f"{bare}.svg", f"{bare}.png"):
        if image in vault.files:
            width = re.fullmatch(r"(\d+)(?:x(\d+))?", size or "")
            attrs = "" if not width else f'{{ width="{width[1]}" }}'
            return f"![{_escape(alias or name)}](<{_relative(image, page_src)}>){attrs}"
    text = f"绘图：{alias or name}（在 Obsidian 中打开）" if lang == "zh" else \
        f"Drawing: {alias or name} (open it in Obsidian)"
    return f'<span class="drawing-missing">{html.escape(text)}</span>'


def _rebase(text: str, src: str, dest: str) -> str:
    """Markdown links in a line of ``src``, made relative to ``dest`` instead (for embedded text)."""
    def move(match: re.Match) -> str:
        raw = match["mtarget"][1:-1] if match["mtarget"].startswith("<") else match["mtarget"]
        if SCHEME.match(raw) or raw.startswith(("#", "/")):
            return match.group(0)
        path, hash_, fragment = raw.partition("#")
        moved = _relative(posixpath.normpath(posixpath.join(posixpath.dirname(src), unquote(path))), dest)
        return f"{match['mbang']}[{match['mtext']}](<{moved}{hash_}{fragment}>{match['mtitle'] or ''})"
    return INLINE.sub(lambda m: move(m) if m["md"] else m.group(0), text)


def _tag(name: str, page: Page) -> str:
    if name not in page.tags and not page.depth:  # an embedded note's tags stay that note's (as in Obsidian)
        page.tags.append(name)
    url = page.tag_url(name)
    label = html.escape(f"#{name}")
    return f'<a class="md-tag inline-tag" href="{html.escape(url)}">{label}</a>' if url else \
        f'<span class="md-tag inline-tag">{label}</span>'


def _unresolved(label: str, target: str) -> str:
    return (f'<span class="unresolved-link" title="{html.escape(f"not in the vault: {target}", quote=True)}">'
            f"{html.escape(label)}</span>")


def _relative(src: str, page_src: str) -> str:
    return posixpath.relpath(src, posixpath.dirname(page_src) or ".")


def _escape(text: str) -> str:
    return text.replace("[", "\\[").replace("]", "\\]")


__all__ = ["DRAWING", "FENCE", "Note", "Page", "Vault", "drawing", "links_of", "transform"]
