"""zh/en drift guard: every docs/zh/x.md and docs/en/x.md (any depth) must have the same structure.

    python tools/drift.py [DOCS_DIR]      # prints every difference; exit 1 if there is any

Compared, in order of appearance: headings (count and levels), fenced code blocks (identical,
except that ``lang="zh"`` / ``lang="en"`` arguments may differ, so one figure block can label
in either language, and mermaid diagrams compare their shape: the labels in quotes and on dotted
edges are translation), display math (each ``$$...$$``), images, and callout types. Inline math
(``$...$``) must match section by section as a set (any order, any count), since word order
differs between the languages. Prose, link texts and callout titles are free to differ: they are the translation.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

FENCE = re.compile(r"^\s*(?:>\s*)*(`{3,}|~{3,})(.*)$")
HEADING = re.compile(r"^(#{1,6})\s+\S")
CALLOUT = re.compile(r"^\s*((?:>\s*)+)\[!(\w+)\]([-+]?)")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)")
DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.S)
INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)(.+?)(?<![\\$])\$(?!\$)")
INLINE_CODE = re.compile(r"`[^`\n]*`")
LANG_ARG = re.compile(r"""lang=(["'])(zh|en)\1""")

HOW_TO_FIX = {
    "heading": "give both files the same headings, at the same levels, in the same order",
    "code": "make the code blocks identical in both files (only lang=\"zh\"/\"en\" may differ)",
    "math": "write the same display formulas ($$...$$), in the same order, in both files",
    "image": "show the same images in the same order",
    "callout": "use the same callout types (note, tip, warning, example, question, success) in the same order",
}


@dataclass(frozen=True)
class Item:
    kind: str
    value: str
    line: int


def structure(text: str) -> list[Item]:
    """The comparable items of one Markdown file, with their line numbers."""
    items: list[Item] = []
    lines = text.splitlines()
    i = 0
    if lines and lines[0].strip() == "---":  # frontmatter
        end = next((j for j in range(1, len(lines)) if lines[j].strip() == "---"), 0)
        i = end + 1
    prose: list[tuple[int, str]] = []
    while i < len(lines):
        line = lines[i]
        fence = FENCE.match(line)
        if fence:
            marker, info = fence.group(1), fence.group(2).strip()
            start, body = i, []
            i += 1
            while i < len(lines) and not re.match(rf"^\s*(?:>\s*)*{re.escape(marker)}\s*$", lines[i]):
                body.append(re.sub(r"^\s*(?:>\s?)*", "", lines[i]) if line.lstrip().startswith(">") else lines[i])
                i += 1
            code = "\n".join(body)
            if info == "mermaid":  # the diagram's shape must match, its labels are translated
                code = re.sub(r'"[^"]*"', '"…"', re.sub(r"-\. [^.]+ \.->", "-. … .->", code))
            items.append(Item("code", LANG_ARG.sub("lang=LANG", info + "\n" + code), start + 1))
            i += 1
            continue
        if (m := HEADING.match(line)):
            items.append(Item("heading", f"level {len(m.group(1))}", i + 1))
        if (m := CALLOUT.match(line)):
            depth = m.group(1).count(">")
            items.append(Item("callout", f"{'> ' * depth}[!{m.group(2).lower()}]{m.group(3)}", i + 1))
        for m in IMAGE.finditer(line):
            items.append(Item("image", m.group(1), i + 1))
        prose.append((i + 1, INLINE_CODE.sub("", line)))
        i += 1
    # Math may span lines ($$ blocks): search the prose as one text and map offsets back to lines.
    joined = "\n".join(text for _, text in prose)
    starts, offset = [], 0
    for number, text in prose:
        starts.append((offset, number))
        offset += len(text) + 1

    def line_of(pos: int) -> int:
        return max((n for o, n in starts if o <= pos), default=1)

    for m in DISPLAY_MATH.finditer(joined):
        items.append(Item("math", "$$" + " ".join(m.group(1).split()) + "$$", line_of(m.start())))
    without_display = DISPLAY_MATH.sub(lambda m: " " * len(m.group(0)), joined)
    for m in INLINE_MATH.finditer(without_display):
        items.append(Item("inline math", "$" + m.group(1).strip() + "$", line_of(m.start())))
    return sorted(items, key=lambda it: it.line)


def _sections(items: list[Item]) -> list[list[Item]]:
    """Split items at headings: section 0 is before the first heading."""
    sections: list[list[Item]] = [[]]
    for it in items:
        if it.kind == "heading":
            sections.append([])
        else:
            sections[-1].append(it)
    return sections


def compare(zh_path: Path, en_path: Path) -> list[str]:
    """Every structural difference between a note and its twin, as readable lines."""
    zh = structure(zh_path.read_text(encoding="utf-8"))
    en = structure(en_path.read_text(encoding="utf-8"))
    problems = []
    for kind in HOW_TO_FIX:
        a = [it for it in zh if it.kind == kind]
        b = [it for it in en if it.kind == kind]
        for x, y in zip_longest(a, b):
            if x is None:
                problems.append(f"{en_path}:{y.line}: {kind} {y.value.splitlines()[0]!r} has no counterpart in "
                                f"{zh_path.name} (fix: {HOW_TO_FIX[kind]})")
            elif y is None:
                problems.append(f"{zh_path}:{x.line}: {kind} {x.value.splitlines()[0]!r} has no counterpart in "
                                f"{en_path.name} (fix: {HOW_TO_FIX[kind]})")
            elif x.value != y.value:
                pairs = zip_longest(x.value.splitlines(), y.value.splitlines())
                first = next((n for n, (p, q) in enumerate(pairs) if p != q), 0)
                detail = f"{x.value.splitlines()[first:first + 1]} vs {y.value.splitlines()[first:first + 1]}"
                problems.append(f"{zh_path}:{x.line} vs {en_path}:{y.line}: {kind} differs: {detail} "
                                f"(fix: {HOW_TO_FIX[kind]})")
    # Inline math: word order differs between the languages, so each section must use the
    # same set of formulas, in any order and any number of times.
    for a, b in zip(_sections(zh), _sections(en)):
        in_zh = {it.value: it.line for it in reversed(a) if it.kind == "inline math"}
        in_en = {it.value: it.line for it in reversed(b) if it.kind == "inline math"}
        for formula in sorted(in_zh.keys() - in_en.keys()):
            problems.append(f"{zh_path}:{in_zh[formula]}: inline math {formula} is not in the same section of "
                            f"{en_path.name} (fix: use the same inline formulas in both)")
        for formula in sorted(in_en.keys() - in_zh.keys()):
            problems.append(f"{en_path}:{in_en[formula]}: inline math {formula} is not in the same section of "
                            f"{zh_path.name} (fix: use the same inline formulas in both)")
    return problems


def check(docs: Path) -> list[str]:
    """Compare every pair ``docs/zh/x.md`` + ``docs/en/x.md``; a note in one language only is reported too.
    Notes outside the two language folders (a learner's own) are not compared."""
    zh = {p.relative_to(docs / "zh") for p in (docs / "zh").rglob("*.md")}
    en = {p.relative_to(docs / "en") for p in (docs / "en").rglob("*.md")}
    problems = []
    for rel in sorted(zh - en):
        problems.append(f"{docs / 'zh' / rel}: missing its English twin {docs / 'en' / rel} "
                        "(fix: write the translation at the same path under en/)")
    for rel in sorted(en - zh):
        problems.append(f"{docs / 'en' / rel}: missing its Chinese twin {docs / 'zh' / rel} "
                        "(fix: write the translation at the same path under zh/)")
    for rel in sorted(zh & en):
        problems += compare(docs / "zh" / rel, docs / "en" / rel)
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    docs = Path(args[0]) if args else Path(__file__).resolve().parent.parent / "docs"
    problems = check(docs)
    for line in problems:
        print(line)
    print(f"drift: {len(problems)} difference(s) in {docs}" if problems else f"drift: zh and en notes match in {docs}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
