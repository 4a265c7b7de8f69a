"""The experiments behind the notes, one module per note.

Each module is named after its note's slug
(``docs/{zh,en}/notes/long-sequences.md`` -> ``long_sequences``).

Each module offers what its note measures and shows:

- ``measure(...)`` (and friends) returning data, computed with the library;
- ``table(..., lang=...)`` returning Markdown, ``figure(..., lang=...)`` returning a
  matplotlib figure (``plotting.to_svg`` inlines it in a page);
- ``register(commands)``, which adds its ``python -m attention`` command(s) through
  :class:`Commands` (every command gets ``--lang`` and ``--plot FILE``).

Library modules never import from here; experiments import the library.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

#: The repository this package was installed from (an editable install, as ``make`` makes): the
#: notes (``docs/``), the committed results (``results/``, ``benchmarks/``) are found from here,
#: so the commands work from any folder.
PROJECT = Path(__file__).resolve().parents[3]


def project_file(relative: str) -> Path:
    """Return a file or folder of the repository, with a clear error when this installation has none."""
    path = PROJECT / relative
    if not path.exists():
        raise FileNotFoundError(f"{relative} is not next to this installation of attention ({PROJECT}): "
                                "the notes and results come with the repository; install it with "
                                "`pip install -e .` from a clone (what `make` does)")
    return path


class Commands:
    """The sub-command registry handed to each experiment module's ``register``."""

    def __init__(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        self._subparsers = subparsers

    def add(self, name: str, *, help: str, run: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        """Add the experiment command ``name``, with ``--lang`` and ``--plot``.

        ``run(args) -> int`` gets the parsed arguments, with ``args.lang`` and ``args.plot`` (a Path or
        None). Returns the parser for more options.
        """
        parser = self.add_tool(name, help=help, run=run)
        parser.add_argument("--lang", choices=("en", "zh"), default="en", help="language of labels and tables")
        parser.add_argument("--plot", metavar="FILE", type=Path,
                            help="also write the figure to FILE (format from the suffix: .svg, .png, .pdf)")
        return parser

    def add_tool(self, name: str, *, help: str, run: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        """Add command ``name`` that is no experiment (no ``--lang``, no ``--plot``)."""
        parser = self._subparsers.add_parser(name, help=help, description=help)
        parser.set_defaults(run=run)
        return parser
