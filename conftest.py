"""Run every fenced python block of the notes (both languages) and of the README.

Blocks starting with ``>>>`` are doctests (output compared); other python blocks just run.
Fences with attributes, such as markdown-exec's build-time blocks (```python exec="1"), run
too. To keep a block from running, put ``<!-- skip: next -->`` on the line before it.
"""

from doctest import ELLIPSIS, NORMALIZE_WHITESPACE

from sybil import Sybil
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser, SkipParser


class _PythonFence(CodeBlockParser):
    """A markdown code-block parser that also accepts ```python with attributes after it."""

    def __call__(self, document):
        for region in self.lexers(document):
            words = region.lexemes["arguments"].split()
            if words and words[0] == self.language:
                region.parsed = region.lexemes["source"]
                region.evaluator = self._evaluator or self.evaluate
                yield region


class _PythonBlocks(PythonCodeBlockParser):
    codeblock_parser_class = _PythonFence


pytest_collect_file = Sybil(
    parsers=[_PythonBlocks(doctest_optionflags=ELLIPSIS | NORMALIZE_WHITESPACE), SkipParser()],
    patterns=["docs/**/*.md", "README.md"],
    name="markdown",
).pytest()
