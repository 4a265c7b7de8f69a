"""Every note as a Jupyter notebook that runs top to bottom, in its language: the note is the source.

The site's build writes one per note and language (hooks/notebooks.py; each note links its own), and
``python -m attention notebooks --out DIR`` writes them into any folder: notebooks are outputs, never
files in docs/. From a note (``docs/<lang>/notes/<slug>.md``) to ``<slug>.<lang>.ipynb``:

- prose becomes Markdown cells, math as written; Obsidian's syntax becomes plain Markdown: a callout's
  title in bold, ``%% comments %%`` dropped, a wikilink as its text, a link to another note to its notebook;
- each python block becomes a code cell, in order, also inside callouts (found with markdown-it, as
  the site finds them); a ``>>>`` block becomes its code without prompts, one cell per stated output,
  which is kept as a comment and in the cell's metadata (``attention.expected``: the tests compare it
  with what the cell prints, as doctest does);
- a block the site runs at build time (``exec="1"``) shows what it printed on the page: a table or a
  sentence as Markdown, a figure drawn by matplotlib in the notebook; an interactive widget, which needs
  the site's scripts, becomes a line that says so;
- what the note folds (an exercise's answer, inside the folded question) stays folded, the question shown:
  its text in a closed ``<details>``, its code cells collapsed (JupyterLab's ``jupyter.source_hidden``).

Defined for the notes of docs/{zh,en}/notes/; tests/test_notebooks.py runs every notebook in a fresh kernel.
"""

from __future__ import annotations

import argparse
import ast
import doctest
import re
from collections.abc import Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import Commands, project_file

LANGS = ("zh", "en")
#: What the first cell says when ``import attention`` fails, and what stands for a widget.
TEXT = {
    "en": {"install": "this notebook needs the vault's package `attention`: in a clone of the project run "
                      "`make notebook NOTE={slug}` (or `pip install -e '.[notebook]'`)",
           "header": "Generated from the note `docs/en/notes/{slug}.md` of the attention study vault: "
                     "run the cells from the top. Exercise answers are folded: click \"Answer\" (or the "
                     "bar beside a code cell) to show it.",
           "widget": "*An interactive widget stands here in the note on the site: it needs the site's "
                     "scripts.*",
           "font": "Chinese labels need a CJK font (Debian: apt install fonts-noto-cjk)",
           "answer": "Answer"},
    "zh": {"install": "这个 notebook 需要本仓库的 `attention` 包：在项目的克隆里运行 "
                      "`make notebook NOTE={slug}`（或 `pip install -e '.[notebook]'`）",
           "header": "由注意力学习库的笔记 `docs/zh/notes/{slug}.md` 生成：从上到下运行各单元。"
                     "练习答案是折叠的：点击「答案」（或代码单元旁的竖条）即可展开。",
           "widget": "*网站上的笔记在这里有一个交互小部件：它需要网站的脚本。*",
           "font": "中文标签需要 CJK 字体（Debian：apt install fonts-noto-cjk）",
           "answer": "答案"},
}
#: Blockquote markers at the start of a line (a callout is a blockquote; ``> >`` one inside another).
QUOTE = re.compile(r"^(?:[ \t]{0,3}>[ \t]?)+")
CALLOUT = re.compile(r"^\[!(?P<kind>[\w-]+)\](?P<fold>[-+]?)[ \t]*(?P<title>.*)$")
COMMENT = re.compile(r"%%.*?%%", re.S)
WIKILINK = re.compile(r"!?\[\[(?P<target>[^\]|#]*)(?:#[^\]|]*)?(?:\|(?P<alias>[^\]]*))?\]\]")
LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]*)\]\((?P<href>[^)\s]+)\)")


@dataclass
class Cell:
    """A notebook cell before it is written: ``kind`` is "markdown" or "code"."""

    kind: str
    source: str
    hidden: bool = False
    expected: str | None = None  # a doctest's stated output: what the cell must print
    built: bool = False  # made from a block the site runs at build time: it shows what the page shows


def _depth(line: str) -> int:
    marks = QUOTE.match(line)
    return marks.group(0).count(">") if marks else 0


def _unquoted(line: str) -> str:
    return QUOTE.sub("", line, count=1)


def _folded_lines(lines: list[str]) -> list[bool]:
    """Tell for each line whether it is inside a folded callout.

    For each line, whether it is inside a folded callout (``> [!kind]-``): a folded callout's title is
    shown, what it holds is not.
    """
    folded: list[bool] = []
    stack: list[tuple[int, bool]] = []  # (depth, folds) of the callouts the line is inside
    for line in lines:
        depth = _depth(line)
        while stack and stack[-1][0] > depth:  # a line with fewer markers has left the callout
            stack.pop()
        title = CALLOUT.match(_unquoted(line).strip()) if depth else None
        if title:
            while stack and stack[-1][0] >= depth:
                stack.pop()
        folded.append(any(folds for _, folds in stack))
        if title:
            stack.append((depth, title["fold"] == "-"))
    return folded


def _plain_markdown(text: str, notes: Set[str], lang: str) -> str:
    """Obsidian's syntax as plain Markdown, for a notebook's Markdown cell."""
    out = []
    for line in COMMENT.sub("", text).split("\n"):
        title = CALLOUT.match(line.strip())
        if title:
            line = f"**{title['title'].strip() or title['kind'].capitalize()}**\n"  # a paragraph of its own
        out.append(line)
    text = WIKILINK.sub(lambda m: (m["alias"] or m["target"]).strip(), "\n".join(out))

    def link(m: re.Match[str]) -> str:
        href = m["href"]
        if "://" in href or href.startswith(("#", "mailto:")):
            return m.group(0)
        path = href.split("#")[0]
        if path.endswith(".md") and "/" not in path and path[:-3] in notes:
            return f"[{m['text']}]({path[:-3]}.{lang}.ipynb)"
        return m["text"]  # a page of the site (the API reference, a home page): its name

    return LINK.sub(link, text).strip("\n")


def _exec_cell(code: str, info: str, lang: str) -> Cell:
    """Turn a build-time block into a cell that shows what the page shows.

    A build-time block as a cell that shows what the page shows: the figure itself (matplotlib draws
    it in the notebook), or the printed Markdown rendered; a widget, as a line that says it is on the site.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:  # the build reports it; the notebook keeps the block as written
        return Cell("code", code)
    last = tree.body[-1] if tree.body else None
    call = last.value if isinstance(last, ast.Expr) and isinstance(last.value, ast.Call) else None
    call = call if call is not None and isinstance(call.func, ast.Name) and call.func.id == "print" else None  # printed
    head = "\n".join(code.split("\n")[:last.lineno - 1]) if last is not None else ""
    if 'html="1"' in info:
        shows = call.args[0] if call is not None and len(call.args) == 1 else None
        if not (isinstance(shows, ast.Call) and getattr(shows.func, "id", "") == "to_svg"):
            return Cell("markdown", TEXT[lang]["widget"])
        head = "\n".join(line for line in head.split("\n") if not re.fullmatch(r"from \S+ import to_svg", line))
        shown = ast.get_source_segment(code, shows.args[0])  # the Figure: Jupyter draws it
        return Cell("code", f"{head}\n{shown}".strip("\n"))
    if call is None or call.keywords:
        return Cell("code", code)
    parts = [ast.get_source_segment(code, arg) or "" for arg in call.args]
    shown = parts[0] if len(parts) == 1 else f"' '.join([{', '.join(parts)}])"
    return Cell("code", f"{head}\nMarkdown({shown})".strip("\n"))


def _doctest_cells(code: str) -> list[Cell]:
    """Split a ``>>>`` block into cells: its examples without prompts, a cell ending at each stated output."""
    cells, source = [], []
    for example in doctest.DocTestParser().get_examples(code):
        source.append(example.source.rstrip("\n"))
        if example.want:
            want = example.want.rstrip("\n")
            note = "\n".join(f"# {line}" if line else "#" for line in want.split("\n"))
            cells.append(Cell("code", "\n".join(source) + "\n" + note, expected=example.want))
            source = []
    if source:
        cells.append(Cell("code", "\n".join(source)))
    return cells


def _fences(text: str) -> list[Any]:
    """Return the python code blocks of ``text`` at any depth of callouts (markdown-it's fence tokens)."""
    try:
        from markdown_it import MarkdownIt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("notebooks need markdown-it-py and nbformat: pip install 'attention-vault[notebook]'") \
            from exc
    tokens = MarkdownIt("commonmark").parse(text)
    return [t for t in tokens if t.type == "fence" and t.info.split()[:1] == ["python"] and t.map]


def note_cells(text: str, slug: str, lang: str, notes: Set[str] = frozenset()) -> list[Cell]:
    """Return the cells of a note's notebook (``text``: the note as written, frontmatter included)."""
    parts = text.split("---", 2)
    body = parts[2] if text.startswith("---") and len(parts) == 3 else text  # the frontmatter left out
    lines = body.split("\n")
    folded = _folded_lines(lines)
    cells = [Cell("markdown", TEXT[lang]["header"].format(slug=slug)), Cell("code", _first_code(slug, lang))]
    prose: list[tuple[bool, str]] = []

    def flush() -> None:
        while prose:
            hidden = prose[0][0]
            run = []
            while prose and prose[0][0] == hidden:
                run.append(prose.pop(0)[1])
            markdown = _plain_markdown("\n".join(run), notes, lang)
            if markdown.strip():
                cells.append(Cell("markdown", markdown, hidden=hidden))

    fences = {token.map[0]: token for token in _fences(body)}
    i = 0
    while i < len(lines):
        token = fences.get(i)
        if token is None:
            prose.append((folded[i], _unquoted(lines[i])))
            i += 1
            continue
        flush()
        code = token.content.rstrip("\n")
        if 'exec="1"' in token.info:
            made = [_exec_cell(code, token.info, lang)]
            made[0].built = True
        elif code.lstrip().startswith(">>>"):
            made = _doctest_cells(code)
        else:
            made = [Cell("code", code)]
        for cell in made:
            cell.hidden = folded[i]
            cells.append(cell)
        i = token.map[1]
    flush()
    return cells


def _first_code(slug: str, lang: str) -> str:
    """Write the notebook's first code cell.

    The first code cell: the package is there (or how to get it), what the others display with, and
    for a Chinese notebook, whether matplotlib has a font that draws Chinese.
    """
    install = TEXT[lang]["install"].format(slug=slug)
    code = ["try:", "    import attention", "except ImportError:",
            f"    raise ImportError({install!r}) from None",
            "from IPython import get_ipython",
            "from IPython.display import Markdown", "",
            "%matplotlib inline",
            "# The figures' text is the site's ink (near black): a white background keeps it readable in a dark theme.",
            '%config InlineBackend.print_figure_kwargs = {"facecolor": "white", "bbox_inches": "tight"}',
            "# As in the note's >>> examples, every expression shows its value (not only a cell's last one).",
            'get_ipython().ast_node_interactivity = "all"']
    if lang == "zh":
        code += ["from attention.experiments.plotting import has_cjk_font", "",
                 "if not has_cjk_font():", f"    print({TEXT[lang]['font']!r})"]
    return "\n".join(code)


def _folded(markdown: str, lang: str) -> str:
    """Fold a callout's text into a closed HTML ``<details>``.

    A folded callout's text as an HTML ``<details>``, closed, its title as the summary: JupyterLab shows a
    Markdown cell's rendering even when its source is collapsed, so an answer would be read at once.
    """
    title, _, rest = markdown.partition("\n")
    bold = re.fullmatch(r"\*\*(.+)\*\*", title.strip())
    summary, body = (bold[1], rest) if bold else (TEXT[lang]["answer"], markdown)
    return f"<details>\n<summary>{summary}</summary>\n\n{body.strip()}\n\n</details>"


def notebook(path: Path, lang: str, notes: Set[str] = frozenset()) -> Any:  # an nbformat NotebookNode
    """Make the notebook (an ``nbformat`` node) of the note at ``path``, in ``lang``."""
    try:
        import nbformat
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("notebooks need nbformat: pip install 'attention-vault[notebook]'") from exc
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
    slug = path.stem
    book = nbformat.v4.new_notebook()
    book.metadata.update({"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                          "language_info": {"name": "python"}, "attention": {"note": slug, "lang": lang}})
    for cell in note_cells(path.read_text(encoding="utf-8"), slug, lang, notes):
        source = _folded(cell.source, lang) if cell.hidden and cell.kind == "markdown" else cell.source
        made = nbformat.v4.new_markdown_cell(source) if cell.kind == "markdown" else nbformat.v4.new_code_cell(source)
        if cell.hidden:
            made.metadata["jupyter"] = {"source_hidden": True, "outputs_hidden": True}
        if cell.expected is not None:
            made.metadata["attention"] = {"expected": cell.expected}
        if cell.built and cell.kind == "code":
            made.metadata["attention"] = {"built": True}
        book.cells.append(made)
    for number, made in enumerate(book.cells):
        made.id = f"{slug}-{lang}-{number}"  # stable: the same note gives the same file
    return book


def note_files(docs: Path) -> dict[tuple[str, str], Path]:
    """``{(slug, lang): path}`` of every note under ``docs/<lang>/notes/``, drafts left out."""
    found = {}
    for lang in LANGS:
        for path in sorted((docs / lang / "notes").glob("*.md")):
            head = path.read_text(encoding="utf-8").split("---", 2)
            if not re.search(r"^draft:\s*true\s*(?:#.*)?$", head[1] if len(head) == 3 else "", re.M):
                found[(path.stem, lang)] = path
    return found


def write_notebooks(out: Path, docs: Path | None = None,
                    files: dict[tuple[str, str], Path] | None = None) -> list[Path]:
    """Write the notes' notebooks into ``out``.

    Write ``<slug>.<lang>.ipynb`` into ``out`` for each of ``files`` (``{(slug, lang): note}``; default: every
    note of ``docs``, drafts left out); the files written.
    """
    import nbformat

    if files is None:
        docs = project_file("docs") if docs is None else docs
        files = note_files(docs)
        if not files:
            raise FileNotFoundError(f"no notes under {docs}/zh/notes or {docs}/en/notes")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for (slug, lang), path in files.items():
        target = out / f"{slug}.{lang}.ipynb"
        target.write_text(nbformat.writes(notebook(path, lang, {s for s, _ in files})), encoding="utf-8")
        written.append(target)
    return written


def _run(args: argparse.Namespace) -> int:
    import sys

    written = write_notebooks(Path(args.out), Path(args.docs) if args.docs else None)
    print(f"wrote {len(written)} notebooks to {args.out}", file=sys.stderr)
    return 0


def register(commands: Commands) -> None:
    """Add the ``notebooks`` command."""
    parser = commands.add_tool("notebooks", help="write every note as a Jupyter notebook (both languages)", run=_run)
    parser.add_argument("--out", required=True, help="the folder to write <note>.<lang>.ipynb into")
    parser.add_argument("--docs", help="the notes' docs/ folder (default: the checkout's)")
