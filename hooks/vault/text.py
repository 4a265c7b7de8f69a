"""Obsidian Markdown, read as Obsidian reads it, turned into what Python-Markdown renders the same way.

Everything here is code-aware: fenced code blocks (also inside callouts and lists) and inline code
spans are copied verbatim. Lines keep their original numbers (``Line.number``), so that warnings
name the line a person sees in the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

FENCE = re.compile(r"^(?P<prefix>(?:[ \t]*>)*[ \t]*)(?P<marker>`{3,}|~{3,})(?P<info>.*)$")
LIST_ITEM = re.compile(r"^(?P<indent>[ \t]*)(?P<marker>[-*+]|\d{1,9}[.)])(?P<gap>[ \t]+|$)")
HEADING = re.compile(r"^#{1,6}(?:[ \t]|$)")
CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.S)


@dataclass
class Line:
    number: int  #: 1-based line in the source file
    text: str
    code: bool = False  #: inside (or the fence of) a fenced code block


def fence_end(line: str, marker: str, prefix: str) -> bool:
    """Whether ``line`` closes a fence opened by ``marker`` (same character, at least as long)."""
    body = line[len(prefix):] if line.startswith(prefix) else line.lstrip(" \t>")
    body = body.strip()
    return len(body) >= len(marker) and set(body) == {marker[0]}


def strip_comments(text: str, first_line: int = 1) -> list[Line]:
    """The lines of ``text`` without Obsidian comments (``%%...%%``, inline or spanning lines), which
    Obsidian never shows. ``%%`` inside code is kept; a comment hides everything up to its closing
    ``%%``, code included. A line that held nothing but comment is dropped."""
    out: list[Line] = []
    in_comment = False
    fence = None  # (marker, prefix) of the open fenced block
    for number, line in enumerate(text.split("\n"), first_line):
        if fence is not None and not in_comment:
            out.append(Line(number, line, code=True))
            if fence_end(line, *fence):
                fence = None
            continue
        if not in_comment:
            match = FENCE.match(line)
            if match:
                fence = (match["marker"], match["prefix"])
                out.append(Line(number, line, code=True))
                continue
        kept, had_comment = _strip_line(line, in_comment)
        in_comment = kept[1]
        if had_comment and not kept[0].strip():
            continue  # the line was all comment
        out.append(Line(number, kept[0]))
    return out


def _strip_line(line: str, in_comment: bool) -> tuple[tuple[str, bool], bool]:
    """``((kept text, still in a comment), whether the line touched a comment)``."""
    kept, i, touched = [], 0, in_comment
    while i < len(line):
        if in_comment:
            end = line.find("%%", i)
            if end < 0:
                return ("".join(kept), True), True
            in_comment, i = False, end + 2
            continue
        code = CODE_SPAN.match(line, i) if line[i] == "`" else None
        if code:
            kept.append(code.group(0))
            i = code.end()
        elif line.startswith("%%", i):
            in_comment, touched, i = True, True, i + 2
        else:
            kept.append(line[i])
            i += 1
    return ("".join(kept).rstrip() if touched else "".join(kept), in_comment), touched


#: A wikilink, an inline code span or an HTML tag, whichever starts first: ticks inside a wikilink
#: (``[[Rust#`Box<T>`]]``, a heading written with code) belong to the link, as in Obsidian; code
#: spans and tags (``<span title="[[x]]">``: Obsidian reads no link in an attribute) are left as written.
_WIKI_OR_CODE = re.compile(r"(?P<wiki>!?\[\[[^\[\]\n]+?\]\])|(?P<ticks>`+)(.+?)(?<!`)(?P=ticks)(?!`)"
                           r"|(?<!\]\()<[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>", re.S)  # not a link's <target>


def protect_blocks(lines: list[Line]) -> list[Line]:
    """Mark as verbatim (``Line.code``) every line of an indented code block, a display math block
    or an HTML block, where Obsidian reads no links, tags or block ids: found by a Markdown
    tokenizer (markdown-it, CommonMark with dollar math) on the lines as they are, after
    ``separate_display_math`` has set each ``$$`` block apart (so markdown-it's block rule sees
    it). Fenced blocks are marked already (``strip_comments``). The tokenizer only finds regions
    here; Python-Markdown renders the page."""
    tokens = _tokenizer().parse("\n".join(line.text for line in lines))
    for token in tokens:
        if token.type in ("code_block", "math_block", "math_block_label", "html_block") and token.map:
            for i in range(*token.map):
                lines[i].code = True
    return lines


@cache
def _tokenizer():
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    # double_inline: Obsidian's "text$$...$$" inside a paragraph is math, not "$" + "$...$" + "$"
    return MarkdownIt("commonmark").use(dollarmath_plugin, double_inline=True)


def map_text(lines: list[Line], transform) -> None:
    """Apply ``transform(text, number)`` to the parts of every non-code line outside inline code and
    HTML tags."""
    for line in lines:
        if line.code:
            continue
        parts, last = [], 0
        for match in _WIKI_OR_CODE.finditer(line.text):
            if match["wiki"]:
                continue
            parts.append(transform(line.text[last:match.start()], line.number))
            parts.append(match.group(0))
            last = match.end()
        parts.append(transform(line.text[last:], line.number))
        line.text = "".join(parts)


def normalise_lists(lines: list[Line]) -> list[Line]:
    """Lists as Obsidian (and CommonMark) read them: a list may start right after a line of text
    (Python-Markdown needs a blank line first), and nested items may be indented by 2, 3 or 4
    spaces or a tab (Python-Markdown needs 4). Items are re-indented to 4 spaces a level;
    lines that continue an item, fenced code included, move along with it."""
    out: list[Line] = []
    stack: list[tuple[int, int, int]] = []  # open items: (marker indent, content indent, new content indent)
    fence = None  # (marker, prefix, old indent, new indent) of the fenced block being copied
    previous = None
    for line in lines:
        text = line.text.expandtabs(4)
        indent = len(text) - len(text.lstrip(" "))
        if line.code and (fence is not None or FENCE.match(text)):
            if fence is None:  # an opening fence: inside an item it moves with the item
                match = FENCE.match(text)
                owner = _owner(stack, indent) if stack and indent else None
                new = owner[2] + max(0, indent - owner[1]) if owner else indent
                fence = (match["marker"], match["prefix"], indent, new)
            elif fence_end(text, fence[0], fence[1]):
                line.text = _reindent(text, fence[2], fence[3])
                fence = None
                out.append(line)
                previous = line
                continue
            line.text = _reindent(text, fence[2], fence[3])
        elif text.strip():
            # protect_blocks' lines (math, HTML, indented code) move with their item like text, and
            # hold no items of their own
            item = None if line.code or text.lstrip().startswith(">") else LIST_ITEM.match(text)
            if item and item["marker"] in "-*+" and len(text.strip()) >= 3 and set(text.strip()) <= {"-", "*", " "}:
                item = None  # a thematic break (---), not an item
            if item:
                if not stack and _ends_a_paragraph(previous):
                    out.append(Line(line.number, ""))  # Python-Markdown needs a blank line before a list
                while stack and stack[-1][0] >= indent:
                    stack.pop()
                new_indent = stack[-1][2] if stack else 0
                stack.append((indent, indent + len(item["marker"]) + max(1, len(item["gap"])), new_indent + 4))
                line.text = " " * new_indent + text[indent:]
            elif stack and indent == 0 and (previous is None or not previous.text.strip() or previous.code):
                if previous is not None and previous.code:
                    out.append(Line(line.number, ""))  # text right after a fence is no lazy continuation
                stack.clear()  # a paragraph after a blank line or a fence, not indented: the list has ended
            elif stack and indent:
                owner = _owner(stack, indent)
                line.text = " " * (owner[2] + max(0, indent - owner[1])) + text[indent:]
        out.append(line)
        previous = line
    return out


def _owner(stack, indent: int):
    """The innermost open item that a line indented by ``indent`` continues."""
    return next((entry for entry in reversed(stack) if entry[0] < indent), stack[0])


def _ends_a_paragraph(previous: Line | None) -> bool:
    if previous is None or previous.code or not previous.text.strip():
        return False
    text = previous.text.expandtabs(4)
    return not (HEADING.match(text) or LIST_ITEM.match(text) or text.lstrip().startswith(("|", ">", "<")))


def _reindent(text: str, old: int, new: int) -> str:
    """Move a line indented by at least ``old`` so that ``old`` becomes ``new``."""
    if not text.strip() or old == new:
        return text
    indent = len(text) - len(text.lstrip(" "))
    return " " * (new + max(0, indent - old)) + text.lstrip(" ")


CALLOUT = re.compile(r"^(?P<head>(?:[ \t]*>)+[ \t]*\[!(?P<type>[\w-]+)\][-+]?)[ \t]*$")
#: The title a callout without one shows on a Chinese page (on English pages, Python-Markdown's
#: default: the type, capitalised, as Obsidian shows it). Aliases as Obsidian groups them.
CALLOUT_TITLES_ZH = {
    "note": "笔记", "abstract": "摘要", "summary": "摘要", "tldr": "摘要", "info": "信息", "todo": "待办",
    "tip": "提示", "hint": "提示", "important": "重要", "success": "成功", "check": "成功", "done": "完成",
    "question": "问题", "help": "帮助", "faq": "常见问题", "warning": "警告", "caution": "注意",
    "attention": "注意", "failure": "失败", "fail": "失败", "missing": "缺失", "danger": "危险",
    "error": "错误", "bug": "缺陷", "example": "示例", "quote": "引用", "cite": "引用",
}


def default_callout_titles(lines: list[Line], lang: str) -> None:
    """Give a callout written without a title (``> [!tip]``) its type's title in the page's language."""
    if lang != "zh":
        return
    for line in lines:
        match = None if line.code else CALLOUT.match(line.text)
        if match:
            kind = match["type"].lower()
            line.text = f"{match['head']} {CALLOUT_TITLES_ZH.get(kind, kind.capitalize())}"


QUOTE_PREFIX = re.compile(r"^((?:[ \t]*>)*[ \t]*)")  #: a callout or quote line's prefix, with the indent after it
QUOTE_MARKS = re.compile(r"(?:[ \t]*>[ \t]?)*")  #: only its ``>`` marks: "" on a line that is not quoted
_HEADING_TEXT = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def demoted(text: str) -> list[str]:
    """A heading line as bold text on a line of its own, any other line as it is: for headings shown
    where they are not the page's sections (an embedded note, a canvas card), which must neither add
    to the page's outline nor repeat its ids."""
    if not HEADING.match(text):
        return [text]
    return [_HEADING_TEXT.sub(r"**\1**", text), ""]


def _body(text: str) -> str:
    """A line without its callout / blockquote prefix."""
    return text[len(QUOTE_PREFIX.match(text).group(1)):]


def separate_display_math(lines: list[Line]) -> list[Line]:
    """Display math as Obsidian reads it: a ``$$`` block may start or end right next to a line of
    text (Python-Markdown's arithmatex needs a blank line on each side, or the block stays raw
    text and loses a backslash of every ``\\\\``). Blank lines, with the block's ``>`` prefix inside a
    callout, are added around each block; the math itself is left as written."""
    out: list[Line] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        prefix = QUOTE_PREFIX.match(line.text).group(1)
        body = line.text[len(prefix):].strip()
        if line.code or not body.startswith("$$"):
            out.append(line)
            i += 1
            continue
        end = i
        if not (len(body) > 2 and body.endswith("$$")):  # the block goes on until a line that ends with $$
            end = next((j for j in range(i + 1, len(lines))
                        if not lines[j].code and _body(lines[j].text).rstrip().endswith("$$")), i)
        blank = prefix.rstrip()
        if out and _body(out[-1].text).strip():
            out.append(Line(line.number, blank))
        out.extend(lines[i:end + 1])
        if end + 1 < len(lines) and _body(lines[end + 1].text).strip():
            out.append(Line(lines[end].number, blank))
        i = end + 1
    return out


INLINE_FOOTNOTE = re.compile(r"\^\[([^\[\]\n]+)\]")


def inline_footnotes(lines: list[Line]) -> list[Line]:
    """Obsidian's inline footnotes, ``text^[the note]``, as Markdown footnotes (``[^n]`` and a
    definition at the end of the page); in code they stay as written."""
    notes: list[str] = []

    def footnote(text: str, number: int) -> str:
        def one(match: re.Match) -> str:
            notes.append(match.group(1).strip())
            return f"[^inline-{len(notes)}]"
        return INLINE_FOOTNOTE.sub(one, text)

    map_text(lines, footnote)
    if not notes:
        return lines
    last = lines[-1].number if lines else 1
    return [*lines, Line(last, ""), *(Line(last, f"[^inline-{n}]: {text}") for n, text in enumerate(notes, 1))]


def outside(regions: re.Pattern, text: str, change: Callable[[str], str]) -> str:
    """``text`` with ``change`` applied to the stretches that no match of ``regions`` covers (used on
    rendered HTML, to leave code, math or links as they are)."""
    out, last = [], 0
    for region in regions.finditer(text):
        out.append(change(text[last:region.start()]))
        out.append(region.group(0))
        last = region.end()
    out.append(change(text[last:]))
    return "".join(out)
