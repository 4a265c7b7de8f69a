"""Run every fenced python block of the Markdown under docs/ (any depth) and of the README — but the
notes' (``docs/<lang>/notes/*.md``): tests/test_notebooks.py runs each of those as a notebook, in a fresh
kernel, every block in order with each stated output compared as here (running them twice cost the suite
about 11 s of CPU).

Blocks starting with ``>>>`` are doctests (output compared); other python blocks just run.
markdown-exec's build-time blocks (```python exec="1") are not run here: the strict site build
runs each of them and fails when one raises (tests/site/test_site.py checks that it does), and
the tests read what they printed on the built pages. To keep a block from running, put
``<!-- skip: next -->`` on the line before it.

Which files: :func:`sybil_runs` (a path's parts, not a glob: ``Path.match`` treats ``**`` as a
single folder before Python 3.13). ``tests/test_api.py`` counts the blocks independently.
"""

import functools
from doctest import ELLIPSIS, NORMALIZE_WHITESPACE
from pathlib import Path

from sybil import Sybil
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser, SkipParser

ROOT = Path(__file__).resolve().parent


@functools.cache
def notebook_notes() -> frozenset[Path]:
    """The notes that are also notebooks (attention.experiments.notebooks.note_files: drafts are not)."""
    from attention.experiments.notebooks import note_files

    return frozenset(path.resolve() for path in note_files(ROOT / "docs").values())


def sybil_runs(path: Path) -> bool:
    """Markdown under docs/ at any depth but the notes that are notebooks, or the README."""
    try:
        rel = path.resolve().relative_to(ROOT)
    except ValueError:
        return False
    return rel == Path("README.md") or (rel.parts[0] == "docs" and rel.suffix == ".md"
                                        and path.resolve() not in notebook_notes())


class _PythonFence(CodeBlockParser):
    """A markdown code-block parser that also accepts ```python with attributes after it (but not
    markdown-exec's ``exec="1"``: the build runs those)."""

    def __call__(self, document):
        for region in self.lexers(document):
            words = region.lexemes["arguments"].split()
            if words and words[0] == self.language and 'exec="1"' not in words:
                region.parsed = region.lexemes["source"]
                region.evaluator = self._evaluator or self.evaluate
                yield region


class _PythonBlocks(PythonCodeBlockParser):
    codeblock_parser_class = _PythonFence


class _Notes(Sybil):
    def should_parse(self, path: Path) -> bool:
        return sybil_runs(Path(path))


pytest_collect_file = _Notes(
    parsers=[_PythonBlocks(doctest_optionflags=ELLIPSIS | NORMALIZE_WHITESPACE), SkipParser()],
    path=str(ROOT),
    name="markdown",
).pytest()


def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist: a file's tests on one worker (``--dist loadfile``: a note's python blocks share a
    namespace, a module's fixtures are made once), except the site tests, handed out one by one: they
    share only the session's builds and browser, and a file of them on one worker (the views of every
    page: two minutes; the widgets: one) would keep it busy long after the other has finished. (``--dist
    loadgroup`` with markers would say the same, but pytest-xdist 3.8 cannot rename pytest 9.2's node
    ids, so its groups are ignored.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    # In the order tests/conftest.py sorts them (the views of every page first, then what needs no site),
    # not pytest-xdist's default of the files with the most tests first.
    config.option.loadscopereorder = False

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = nodeid.split("::")[0]
            # The notebooks too: each starts a kernel of its own (16 of them, a minute on one worker).
            return nodeid if file.startswith("tests/site/") or file == "tests/test_notebooks.py" else file

    return ByFile(config, log)
