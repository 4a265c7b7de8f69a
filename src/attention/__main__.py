"""Command line: ``python -m attention <command>``; ``--help`` lists the commands.

Each experiment module that offers a command defines ``register(commands)``, which adds
its subparser and sets ``run`` (a function of the parsed arguments returning an exit
code). Add the module's name to ``COMMAND_MODULES`` to expose it here.
"""

from __future__ import annotations

import argparse
import importlib
import sys

import numpy as np

COMMAND_MODULES: list[str] = ["attention.experiments.scaling", "attention.experiments.recall", "attention.timeseries", "attention.qknorm", "attention.vision"]


def _demo(args: argparse.Namespace) -> int:
    from . import scaled_dot_product_attention

    Q = np.array([[1, 0, 1]])  # (L, E)
    K = np.array([[1, 0, 1], [0, 1, 0]])  # (S, E)
    V = np.array([[0.5, 0.5], [0.1, 0.9]])  # (S, Ev)
    out, weights = scaled_dot_product_attention(Q, K, V, return_weights=True)
    print("weights:", np.array2string(weights, precision=4))
    print("output: ", np.array2string(out, precision=4))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m attention", description="Experiments from the attention study vault.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("demo", help="run the source note's example").set_defaults(run=_demo)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
