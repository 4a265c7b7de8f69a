"""Command line: ``python -m attention <command>``; ``--help`` lists the commands.

Each experiment module registers its commands with ``attention.experiments.Commands``, which gives every
command the same two options: ``--lang {zh,en}`` (labels and tables) and ``--plot FILE``
(also write the figure; the format follows the suffix: .svg, .png, .pdf). Progress goes to
stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import sys

from .experiments import (
    Commands,
    attention_mechanism,
    long_sequences,
    new_note,
    notebooks,
    qk_norm,
    scaling,
    scoring_functions,
    timeseries,
    transformer,
    vision,
)

#: The experiment modules whose commands the CLI offers, in the notes' reading order.
EXPERIMENTS = (attention_mechanism, scaling, long_sequences, transformer, scoring_functions, timeseries, vision,
               qk_norm)


def build_parser() -> argparse.ArgumentParser:
    """Build the ``python -m attention`` parser, with every experiment's commands."""
    parser = argparse.ArgumentParser(prog="python -m attention",
                                     description="Experiments from the attention study vault.")
    commands = Commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    for module in EXPERIMENTS:
        module.register(commands)
    new_note.register(commands)
    notebooks.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m attention`` with ``argv`` (default: the process's arguments); the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.argv = argv  # what a results file records as the command that made it
    return args.run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
