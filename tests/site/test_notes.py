"""What every note pair promises a learner, checked on the Markdown: exercises, and numbers that come from code."""

from __future__ import annotations

import contextlib
import io
import re

import pytest
from site_build import ROOT

DOCS = ROOT / "docs"
NOTES = sorted(p.relative_to(DOCS / "en") for p in (DOCS / "en" / "notes").glob("*.md"))
FENCE = re.compile(r"^((?:>[ \t]*)*)```(\w+)([^\n]*)\n(.*?)^\1```", re.S | re.M)


def note(lang: str, rel) -> str:
    return (DOCS / lang / rel).read_text(encoding="utf-8")


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("rel", NOTES, ids=str)
def test_at_least_three_exercises_with_folded_answers(lang, rel):
    text = note(lang, rel)
    questions = re.findall(r"^> \[!question\]- (.*)$", text, re.M)
    answers = re.findall(r"^> > \[!success\]- ", text, re.M)
    assert len(questions) >= 3 and len(answers) == len(questions), (lang, rel, questions)


def build_time_output(code: str) -> str:
    """What a markdown-exec block prints (tables; figures are left out: they print SVG)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<note>", "exec"), {})  # noqa: S102 - the note's own build-time block
    return out.getvalue()


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("rel", NOTES, ids=str)
def test_every_decimal_number_in_the_prose_comes_from_code_on_the_page(lang, rel):
    """Each number with a decimal point that a sentence states is printed by a tested block, a
    doctest, or a table built with the page. (Integers are left out: sizes, counts and years.)"""
    text = note(lang, rel)
    sources = []
    for prefix, language, info, body in FENCE.findall(text):
        body = re.sub(rf"^{re.escape(prefix)}", "", body, flags=re.M) if prefix else body
        if language != "python":
            continue
        if 'exec="1"' in info and 'html="1"' not in info:
            sources.append(build_time_output(body))
        sources.append(body)
    code = "\n".join(sources)
    prose = FENCE.sub("", text)
    prose = re.sub(r"^---\n.*?\n---\n", "", prose, flags=re.S)  # frontmatter: dates
    prose = re.sub(r"\[[^\]]*\]\([^)]*\)", "", prose)  # link targets
    prose = re.sub(r"arXiv:\S+", "", prose)  # paper identifiers
    stated = set(re.findall(r"(?<![\w.^-])\d+\.\d+(?![.\d])", prose))  # not section numbers (3.2.1)
    missing = sorted(n for n in stated if n not in code)
    assert missing == [], f"{lang}/{rel}: numbers stated in prose but printed by no block on the page: {missing}"
