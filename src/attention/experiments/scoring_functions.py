r"""The scoring-functions note: additive (Bahdanau) against dot-product scores, measured.

- **Spread.** For $q, k \sim \mathcal N(0, 1)$, how the scores spread as $d$ grows: dot product
  like $\sqrt d$, scaled dot product like 1, additive never beyond $\lVert w \rVert_1$.
- **Cost.** Time per score of each, on one machine (named in the results file), and the
  operations behind it: a dot product is $2d$ multiply-adds; an additive score is $H$ additions,
  $H$ ``tanh`` and $2H$ for $w^\top$, after two projections per row.
- **Accuracy.** The Transformer note's recall task learnt by one head scoring either way, same
  steps, same data, same seed.

``python -m attention scoring-functions --out results/scoring-functions.json`` measures and writes
the results file the note renders (the site build does not train).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import PROJECT, Commands
from .benchmark_results import machine_summary
from .transformer import STEPS, RecallModel, Task, train_model

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The committed results file, relative to the repository's root.
RESULTS = PROJECT / "results" / "scoring-functions.json"
TEXT = {
    "en": {"d": "d", "dot": "dot product", "scaled": "scaled dot product", "additive": "additive",
           "scoring": "scoring", "accuracy": "held-out accuracy", "time": "time per score (ns)",
           "loss": "training loss", "step": "step", "after": "{} steps", "std": "score spread (std)",
           "ratio": "On that machine an additive score costs {:.0f} times as much as a scaled dot-product score."},
    "zh": {"d": "d", "dot": "点积", "scaled": "缩放点积", "additive": "加性", "scoring": "打分方式",
           "accuracy": "留出集准确率", "time": "每个分数的时间（纳秒）", "loss": "训练损失", "step": "步数",
           "after": "{} 步", "std": "分数的离散程度（标准差）",
           "ratio": "在这台机器上，一个加性分数的代价是一个缩放点积分数的 {:.0f} 倍。"},
}


def spread(d: int, *, H: int = 64, pairs: int = 4000, seed: int = 0) -> dict[str, Any]:
    """Measure how the three kinds of scores spread at size d.

    Standard deviation of the three kinds of scores for q, k ~ N(0, 1) of size d (additive with
    W_q, W_k ~ N(0, 1/d), w ~ N(0, 1/H)), and the additive bound ‖w‖₁.
    """
    rng = np.random.default_rng([seed, d])
    q, k = rng.standard_normal((pairs, d)), rng.standard_normal((pairs, d))  # (N, d) each
    Wq, Wk = rng.standard_normal((2, H, d)) / np.sqrt(d)  # (H, d) each
    w = rng.standard_normal(H) / np.sqrt(H)  # (H,)
    dot = (q * k).sum(axis=1)  # (N,)
    additive = np.tanh(q @ Wq.T + k @ Wk.T) @ w  # (N,)
    return {"dot": float(dot.std()), "scaled": float((dot / np.sqrt(d)).std()), "additive": float(additive.std()),
            "bound": float(np.abs(w).sum()), "additive_max": float(np.abs(additive).max())}


def time_per_score(*, n: int = 256, d: int = 64, H: int = 64, repeats: int = 7) -> dict[str, Any]:
    """Time a score of each kind, in nanoseconds.

    Nanoseconds per score of scaled dot-product and additive scores for n queries and n keys
    (median of ``repeats``; the additive time includes its two projections).
    """
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    Wq, Wk, w = rng.standard_normal((H, d)), rng.standard_normal((H, d)), rng.standard_normal(H)
    runs: dict[str, Callable[[], np.ndarray]] = {"dot": lambda: q @ k.T / np.sqrt(d),
            "additive": lambda: np.tanh((q @ Wq.T)[:, None, :] + (k @ Wk.T)[None, :, :]) @ w}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, f in runs.items():
            start = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) / (n * n) * 1e9 for name, t in times.items()}


def train_recall(scoring: str, *, steps: int = STEPS, seed: int = 0, lr: float = 0.02) -> dict[str, Any]:
    """Train the recall model with one scoring.

    The scoring is ``scoring`` ("dot": scaled dot product, "additive"); same data,
    same initial weights (``RecallModel``), same steps. Returns held-out accuracy and losses.
    """
    task = Task()
    run = train_model(RecallModel(task, scoring=scoring, seed=seed), task, steps=steps, lr=lr, seed=seed)
    return {"accuracy": run.accuracy, "losses": [float(x) for x in run.losses], "seconds": run.seconds, "steps": steps}


#: Training lengths (steps) and seeds of the accuracy comparison.
CHECKPOINTS, SEEDS = (20, 40, 60, 80, 100, 150, 200, 300, 400), (0, 1, 2)


def measure() -> dict[str, Any]:
    """Measure everything the scoring-functions note shows.

    Everything the note shows: spreads, time per score, and held-out accuracy of each scoring
    after each number of training steps, for each seed.
    """
    recall = {s: {"steps": CHECKPOINTS, "accuracy": [[train_recall(s, steps=n, seed=seed)["accuracy"]
                                                      for seed in SEEDS] for n in CHECKPOINTS]}
              for s in ("dot", "additive")}
    return {"spread": {d: spread(d) for d in (4, 16, 64, 256, 1024)}, "time_per_score_ns": time_per_score(),
            "recall": recall, "seeds": SEEDS,
            "machine": machine_summary()}


def load(path: str | Path = RESULTS) -> dict[str, Any]:
    """Read the committed results of the scoring-functions note."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def mean_accuracy(results: dict[str, Any], scoring: str) -> list[float]:
    """Mean held-out accuracy over the seeds, at each checkpoint."""
    return [float(np.mean(a)) for a in results["recall"][scoring]["accuracy"]]


def table(results: dict[str, Any], *, lang: str = "en") -> str:
    """Held-out accuracy (mean over the seeds) after each number of steps, both scorings."""
    t = TEXT[lang]
    steps = results["recall"]["dot"]["steps"]
    lines = [f"| {t['scoring']} | " + " | ".join(t["after"].format(n) for n in steps) + " |",
             "|---|" + "---:|" * len(steps)]
    for key, name in (("dot", "scaled"), ("additive", "additive")):
        lines.append(f"| {t[name]} | " + " | ".join(f"{a:.3f}" for a in mean_accuracy(results, key)) + " |")
    return "\n".join(lines)


def cost_table(results: dict[str, Any], *, lang: str = "en") -> str:
    """Tabulate the machine, time per score of both scorings, and their ratio, from a results file."""
    t, m = TEXT[lang], results["machine"]
    times = results["time_per_score_ns"]
    return (f"`{m['cpu']}, {m['cores']} cores, numpy {m['numpy']}, {m['date']}`\n\n"
            f"| {t['scoring']} | {t['time']} |\n|---|---:|\n| {t['scaled']} | {times['dot']:.2f} |\n"
            f"| {t['additive']} | {times['additive']:.2f} |\n\n" + t["ratio"].format(times["additive"] / times["dot"]))


def figure(results: dict[str, Any], *, lang: str = "en") -> Figure:
    """Held-out accuracy against training steps, both scorings (mean over seeds, and the range)."""
    from .plotting import WIDTH, pyplot

    plt, t = pyplot(), TEXT[lang]
    fig, ax = plt.subplots(figsize=(WIDTH, 3.0))
    for key, name in (("dot", "scaled"), ("additive", "additive")):
        steps, acc = results["recall"][key]["steps"], np.array(results["recall"][key]["accuracy"])  # (n, seeds)
        ax.plot(steps, acc.mean(axis=1), marker="o", label=t[name])
        ax.fill_between(steps, acc.min(axis=1), acc.max(axis=1), alpha=0.2)
    ax.set_xlabel(t["step"])
    ax.set_ylabel(t["accuracy"])
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def _run(args: argparse.Namespace) -> int:
    print("measuring spreads, time per score, and training the recall task twice ...", file=sys.stderr)
    results = measure()
    print(table(results, lang=args.lang))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    if args.plot:
        from .plotting import save

        save(figure(results, lang=args.lang), args.plot)
    return 0


def register(commands: Commands) -> None:
    """Add the ``scoring-functions`` command."""
    p = commands.add("scoring-functions", run=_run,
                     help="additive vs dot-product scores: spread, time per score, accuracy on recall")
    p.add_argument("--out", type=Path, metavar="FILE", help=f"write the results file (the note's is {RESULTS})")
