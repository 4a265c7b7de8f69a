"""The training loop the notes' small models share: Adam on fresh random batches."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._internal.module import Module
from .._internal.optim import Adam
from ..trainable import cross_entropy
from . import Commands
from .plotting import save

if TYPE_CHECKING:
    from matplotlib.figure import Figure


#: ``progress(step, loss)``, called as training goes.
Progress = Callable[[int, float], None]
#: A small model's parameters, by name.
Params = dict[str, np.ndarray]


@dataclass
class Run:
    """A finished training run."""

    model: Module  #: the trained model, made of the library's layers
    losses: list[float]  #: the training loss at every step
    accuracy: float  #: held-out accuracy after training
    seconds: float  #: wall time of the training loop


def loss_and_grads(model: Module, *batch: np.ndarray) -> tuple[float, Params]:
    """Mean cross-entropy of ``model`` on ``batch`` (its inputs, then the targets), and its gradients by name.

    For a model made of the library's layers whose ``model(*inputs)`` gives the class scores first and
    whose ``backward(d_scores)`` adds every parameter's gradient.
    """
    *inputs, targets = batch
    model.zero_grad()
    scores = model(*inputs)[0]  # (B, C)
    loss, d_scores = cross_entropy(scores, targets)  # (B, C)
    model.backward(d_scores)  # type: ignore[attr-defined]  # each model defines its own
    return loss, model.gradients()


def train_module(model: Module, batch: Callable[[np.random.Generator], tuple[Any, ...]], *, steps: int, lr: float,
                 rng: np.random.Generator, progress: Progress | None = None) -> tuple[list[float], float]:
    """Train ``model`` with Adam.

    Run ``steps`` Adam steps on the model's parameters (its own arrays, in place); ``batch(rng)`` draws
    a fresh batch (the model's inputs, then the targets) and the loss is the mean cross-entropy
    (:func:`loss_and_grads`). ``progress(step, loss)`` is called every 50 steps and at the end.
    Returns the losses and the seconds taken.
    """
    opt = Adam(model.parameters(), lr=lr)
    losses: list[float] = []
    start = time.perf_counter()
    for step in range(1, steps + 1):
        loss, grads = loss_and_grads(model, *batch(rng))
        losses.append(loss)
        opt.step(grads)
        if progress is not None and (step % 50 == 0 or step == steps):
            progress(step, loss)
    return losses, time.perf_counter() - start


def print_progress(steps: int) -> Progress:
    """Return a ``progress(step, loss)`` that prints to stderr."""

    def progress(step: int, loss: float) -> None:
        print(f"step {step:4d}/{steps}  loss {loss:.4f}", file=sys.stderr, flush=True)

    return progress


def register_training(commands: Commands, name: str, *, help: str, train: Callable[..., Run],
                      figure: Callable[..., Figure], chance: float,
                      steps: int) -> None:
    """Add a command that trains a model and reports its accuracy.

    Add command ``name``: ``train(steps=, seed=, progress=)``, print the held-out accuracy against
    ``chance``, and with ``--plot`` save ``figure(run, lang=)``.
    """

    def run(args: argparse.Namespace) -> int:
        result = train(steps=args.steps, seed=args.seed, progress=print_progress(args.steps))
        print(f"held-out accuracy {result.accuracy:.3f} (chance {chance:.3f}) after {args.steps} steps, "
              f"{result.seconds:.1f} s")
        if args.plot:
            save(figure(result, lang=args.lang), args.plot)
        return 0

    parser = commands.add(name, help=help, run=run)
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--seed", type=int, default=0)
