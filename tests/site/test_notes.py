"""What every note pair promises a learner, checked on the Markdown: exercises, and numbers that come from code."""

from __future__ import annotations

import re

import pytest
from rendered import is_draft
from site_build import ROOT

from attention.experiments.new_note import PLACEHOLDER

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


@pytest.mark.slow  # reads what the site's build printed: make test, not make quick
@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("rel", NOTES, ids=str)
def test_every_decimal_number_in_the_prose_comes_from_code_on_the_page(built_site, shared_builds, lang, rel):
    """Each number with a decimal point that a sentence states is printed by a tested block, a
    doctest, or a table built with the page. (Integers are left out: sizes, counts and years.)"""
    text = note(lang, rel)
    sources = []
    for prefix, language, info, body in FENCE.findall(text):
        body = re.sub(rf"^{re.escape(prefix)}", "", body, flags=re.M) if prefix else body
        if language != "python":
            continue
        if 'exec="1"' in info and 'html="1"' not in info:
            sources.append(shared_builds.printed(body))  # kept by hooks/exec_cache.py
        sources.append(body)
    code = "\n".join(sources)
    prose = FENCE.sub("", text)
    prose = re.sub(r"^---\n.*?\n---\n", "", prose, flags=re.S)  # frontmatter: dates
    prose = re.sub(r"\[[^\]]*\]\([^)]*\)", "", prose)  # link targets
    prose = re.sub(r"arXiv:\S+", "", prose)  # paper identifiers
    stated = set(re.findall(r"(?<![\w.^-])\d+\.\d+(?![.\d])", prose))  # not section numbers (3.2.1)
    missing = sorted(n for n in stated if n not in code)
    assert missing == [], f"{lang}/{rel}: numbers stated in prose but printed by no block on the page: {missing}"


def test_every_note_has_its_place_in_the_navigation_and_both_home_tables():
    """Adding a note (``python -m attention new-note``, README "Writing a note") lists it in the nav and
    both home tables; the places that list notes are checked here, and a failure names the file to edit.
    A draft's row is an Obsidian comment (``%% ... %%``: shown nowhere, so nothing links a page that is not
    built); a published note's is not."""
    nav = re.findall(r"^\s+- (notes/[\w-]+\.md)", (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), re.M)
    for rel in NOTES:
        path = f"notes/{rel.name}"
        assert path in nav, f"mkdocs.yml: add `- {path}` to the nav's notes, in reading order"
        draft = is_draft(note("en", rel))
        for lang in ("zh", "en"):
            home = (DOCS / lang / "index.md").read_text(encoding="utf-8")
            rows = [line for line in home.splitlines() if f"]({path})" in line and line.lstrip("% ").startswith("|")]
            assert len(rows) == 1, f"docs/{lang}/index.md: add a row for {path} to the reading-order table"
            commented = rows[0].startswith("%%") and rows[0].rstrip().endswith("%%")
            assert commented == draft, (f"docs/{lang}/index.md: {path} is published: remove the %% around its row"
                                        if not draft else f"docs/{lang}/index.md: {path} is a draft: put its row "
                                                          "between %% and %% until it is published")
    assert sorted(nav) == sorted(f"notes/{rel.name}" for rel in NOTES), \
        "mkdocs.yml: the nav lists a note that does not exist"


def test_every_widget_is_drawn_and_tested():
    """A widget the experiments embed is drawn by widgets.js and driven by tests/site/test_widgets.py."""
    src = ROOT / "src" / "attention" / "experiments"
    embedded = {name for path in src.glob("*.py")
                for name in re.findall(r'embed\("([\w-]+)"', path.read_text(encoding="utf-8"))}
    widgets_js = (DOCS / "javascripts" / "widgets.js").read_text(encoding="utf-8")
    drawn = re.search(r"var WIDGETS = \{(.*?)\};", widgets_js, re.S)
    tested = re.search(r"^PAGES = \{(.*?)\}", (ROOT / "tests" / "site" / "test_widgets.py").read_text(encoding="utf-8"),
                       re.S | re.M)
    assert embedded and drawn and tested
    for name in embedded:
        assert f'"{name}"' in drawn.group(1), f"docs/javascripts/widgets.js: add {name!r} to WIDGETS"
        assert f'"{name}"' in tested.group(1), f"tests/site/test_widgets.py: add {name!r} to PAGES, and a test"


@pytest.mark.parametrize("rel", NOTES, ids=str)
def test_no_placeholder_text_is_ever_published(rel):
    """``python -m attention new-note`` writes a note pair, its experiment module and its test with
    placeholder text (``TODO(new-note)``) and the notes as drafts. Both notes of a pair are drafts or
    neither is, and while any of the four files still holds a placeholder, they are."""
    zh, en = note("zh", rel), note("en", rel)
    assert is_draft(zh) == is_draft(en), f"docs/zh/{rel} and docs/en/{rel}: both `draft: true`, or neither"
    module = rel.stem.replace("-", "_")
    for path in (DOCS / "zh" / rel, DOCS / "en" / rel, ROOT / "src" / "attention" / "experiments" / f"{module}.py",
                 ROOT / "tests" / f"test_note_{module}.py"):
        if path.is_file() and PLACEHOLDER in path.read_text(encoding="utf-8"):
            assert is_draft(en), (f"{path.relative_to(ROOT)}: replace every {PLACEHOLDER} before the note is "
                                  "published (or keep `draft: true` in both notes)")
