"""Every note as a notebook (attention.experiments.notebooks): each of the 16 runs top to bottom in a fresh
kernel, printing what its note states; what the note folds stays folded; the command writes them anywhere."""

from __future__ import annotations

import base64
import doctest
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from site_build import ONE_BLAS_THREAD

from attention.experiments import notebooks

ROOT = Path(__file__).resolve().parents[1]
NOTES = sorted(notebooks.note_files(ROOT / "docs"))
SLUGS = {slug for slug, _ in NOTES}
#: A python code block as the note writes it, at any depth of callouts (``> > ```python``): counted
#: line by line here, not with the markdown-it tokens the notebooks are made with.
PYTHON_FENCE = re.compile(r"^(?:> ?)*```python\b", re.M)
CHECKER = doctest.OutputChecker()
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def shown(cell) -> str:
    """What a code cell printed and displayed as text, as doctest would read it."""
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream" and output["name"] == "stdout":
            parts.append(output["text"])
        elif output["output_type"] == "execute_result":
            parts.append(output["data"].get("text/plain", "") + "\n")
    return "".join(parts)


def test_sixteen_notebooks_every_note_in_both_languages():
    assert len(NOTES) == 16 and {lang for _, lang in NOTES} == {"zh", "en"}
    assert all((slug, "zh") in NOTES and (slug, "en") in NOTES for slug in SLUGS)


@pytest.mark.slow  # 2-5 s each, one kernel per notebook: in `make test`, not in `make quick`
@pytest.mark.parametrize(("slug", "lang"), NOTES)
def test_the_notebook_runs_top_to_bottom_and_prints_what_the_note_states(slug, lang, tmp_path):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    book = notebooks.notebook(ROOT / "docs" / lang / "notes" / f"{slug}.md", lang, SLUGS)
    # From a folder of its own, as a learner runs it (make notebook runs it from notebooks/).
    client = NotebookClient(book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    try:
        # One BLAS thread in the kernel, as in the site builds: beside the other pytest-xdist worker, a kernel
        # with a BLAS thread per core fights the tests for the two cores (the transformer notebook took 18 s, not 5).
        client.execute(env=os.environ | ONE_BLAS_THREAD)
    except CellExecutionError as error:
        pytest.fail(f"{lang}/notes/{slug}.md: a cell failed\n{error}")
    nbformat.validate(book)
    checked = 0
    for number, cell in enumerate(book.cells):
        expected = cell.metadata.get("attention", {}).get("expected")
        if expected is not None:
            got = shown(cell)
            assert CHECKER.check_output(expected, got, FLAGS), \
                f"{lang}/notes/{slug}.md, cell {number}:\n{cell.source}\nexpected:\n{expected}\ngot:\n{got}"
            checked += 1
        elif cell.cell_type == "code" and number > 1 and not cell.metadata.get("attention", {}).get("built"):
            # as doctest: an example that states no output prints none
            assert shown(cell) == "", f"{lang}/notes/{slug}.md, cell {number} printed what the note does not state"
        if cell.cell_type == "code" and "Markdown(" in cell.source.split("\n")[-1]:  # a table or sentence
            assert any(o.get("data", {}).get("text/markdown", "").strip() for o in cell.outputs), (slug, number)
    text = (ROOT / "docs" / lang / "notes" / f"{slug}.md").read_text(encoding="utf-8")
    assert checked == _stated_outputs(text), (slug, lang)  # every output the note states was compared
    figures = text.count("to_svg(")  # each figure the page shows is drawn in the notebook
    images = [o["data"]["image/png"] for c in book.cells for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert len(images) == figures
    if images:  # on white, so that its near-black text reads in a dark theme too
        from io import BytesIO

        from PIL import Image

        corner = Image.open(BytesIO(base64.b64decode(images[0]))).convert("RGBA").getpixel((0, 0))
        assert corner == (255, 255, 255, 255), corner


def _stated_outputs(text: str) -> int:
    """How many ``>>>`` examples of the note's python blocks (at any depth of callouts) state an output."""
    stated = 0
    for quote, block in re.findall(r"^((?:> ?)*)```python\n(.*?)^\1```", text, re.M | re.S):
        code = "\n".join(line[len(quote):] if line.startswith(quote) else "" for line in block.split("\n"))
        stated += sum(bool(e.want) for e in doctest.DocTestParser().get_examples(code))
    return stated


@pytest.mark.parametrize(("slug", "lang"), NOTES)
def test_every_python_block_is_a_cell_and_obsidian_syntax_is_plain_markdown(slug, lang):
    text = (ROOT / "docs" / lang / "notes" / f"{slug}.md").read_text(encoding="utf-8")
    cells = notebooks.note_cells(text, slug, lang, SLUGS)
    code = [c for c in cells[2:] if c.kind == "code"]
    widgets = [c for c in cells if c.source == notebooks.TEXT[lang]["widget"]]
    blocks = len(PYTHON_FENCE.findall(text))
    assert len(code) + len(widgets) >= blocks, (slug, lang, len(code), len(widgets), blocks)  # >>> may give several
    for cell in cells:
        if cell.kind == "markdown":
            assert not re.search(r"\[!\w+\]|%%|\[\[|\]\(\S+\.md\b", cell.source), cell.source
    assert cells[0].kind == "markdown" and "import attention" in cells[1].source


def test_qk_norm_keeps_its_seven_blocks_and_folds_the_answers_not_the_questions():
    """The issue's count: jupytext made 4 code cells from qk-norm.en's 7 python blocks (3 sit in callouts)."""
    text = (ROOT / "docs" / "en" / "notes" / "qk-norm.md").read_text(encoding="utf-8")
    cells = notebooks.note_cells(text, "qk-norm", "en", SLUGS)
    assert len(PYTHON_FENCE.findall(text)) == 7 and sum(c.kind == "code" for c in cells[2:]) == 7
    assert sum(c.source.count("**Exercise") for c in cells if not c.hidden) == 3  # the questions are shown
    answers = [c for c in cells if c.hidden]
    assert [c.kind for c in answers] == ["markdown", "code"] * 3
    assert all(c.source.startswith("**Answer**") for c in answers if c.kind == "markdown")
    assert not any(c.hidden for c in cells if "cosine similarity of random vectors, measured" in c.source)
    book = notebooks.notebook(ROOT / "docs" / "en" / "notes" / "qk-norm.md", "en", SLUGS)
    folded = [c for c in book.cells if c.metadata.get("jupyter", {}).get("source_hidden")]
    assert len(folded) == 6 and all(c.metadata["jupyter"]["outputs_hidden"] for c in folded)
    # JupyterLab shows a Markdown cell's rendering even with its source collapsed: the answer's text is a
    # closed <details> whose summary is the callout's title.
    texts = [c.source for c in folded if c.cell_type == "markdown"]
    assert len(texts) == 3 and all(t.startswith("<details>\n<summary>Answer</summary>\n\n") for t in texts), texts
    assert all(t.endswith("\n</details>") and "**Answer**" not in t for t in texts)
    assert "[The scaling experiment](scaling.en.ipynb)" in book.cells[2].source


def test_a_notebook_says_how_to_install_the_package_when_it_is_missing(tmp_path):
    first = notebooks.note_cells("# T\n", "scaling", "zh")[1].source
    python = "\n".join(line for line in first.split("\n") if not line.startswith("%"))  # IPython's magics
    done = subprocess.run([sys.executable, "-S", "-c", python], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(tmp_path)})
    assert done.returncode != 0 and "make notebook NOTE=scaling" in done.stderr, done.stderr


def test_the_command_writes_every_notebook_from_any_folder(tmp_path):
    out = tmp_path / "mine"
    done = subprocess.run([sys.executable, "-m", "attention", "notebooks", "--out", str(out)], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in out.glob("*.ipynb"))
    assert written == sorted(f"{slug}.{lang}.ipynb" for slug, lang in NOTES) and "16 notebooks" in done.stderr
    book = json.loads((out / "scaling.zh.ipynb").read_text(encoding="utf-8"))
    assert book["nbformat"] == 4 and book["metadata"]["attention"] == {"note": "scaling", "lang": "zh"}
    again = tmp_path / "again"
    subprocess.run([sys.executable, "-m", "attention", "notebooks", "--out", str(again)], cwd=tmp_path, check=True,
                   capture_output=True)
    assert (again / "scaling.zh.ipynb").read_bytes() == (out / "scaling.zh.ipynb").read_bytes()  # reproducible


def test_a_draft_has_no_notebook_whatever_its_draft_line_says(tmp_path):
    """As new-note writes it (``draft: true  # delete this line ...``), a draft is neither a notebook nor
    published; its twin that is published is."""
    from attention.experiments.new_note import NOTE

    for lang in ("zh", "en"):
        (tmp_path / lang / "notes").mkdir(parents=True)
        fields = {"title": "T", "question": "Q", "todo": "TODO(new-note)", "today": "2026-12-05", "module": "x_y",
                  "slug": "x-y"}
        text = NOTE[lang].format(**fields)
        assert re.search(r"^draft: true\s+#", text, re.M)  # the scaffold's own line, with its comment
        (tmp_path / lang / "notes" / "x-y.md").write_text(text if lang == "zh" else text.replace("draft: true", ""),
                                                          encoding="utf-8")
    assert set(notebooks.note_files(tmp_path)) == {("x-y", "en")}
