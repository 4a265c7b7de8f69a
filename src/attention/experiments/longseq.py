"""Render the benchmark results file (``benchmarks/results/*.json``) for the long-sequences note."""

from __future__ import annotations

import json
from pathlib import Path

#: Keys every results file has (checked by tests/test_benchmark_results.py).
SCHEMA = {
    "machine": {"cpu", "cores", "python", "numpy", "date", "blas", "torch", "load_avg_1min"},
    "cell": {"impl", "N", "status"},
    "timed_cell": {"impl", "N", "status", "time_s", "gflops", "peak_mib"},
    "targets": {"N", "rounds", "median_s", "causal_over_full", "flop_rate_over_gemm"},
}

TEXT = {
    "en": {"impl": "implementation", "time": "time (s)", "gflops": "GFLOP/s", "mem": "peak memory above inputs (MiB)",
           "target": "target", "measured": "measured", "goal": "goal", "met": "met", "yes": "yes", "no": "no",
           "flash_over_torch": "flash time / torch SDPA time, N = 4096",
           "sdpa_over_torch": "scaled_dot_product_attention time / torch SDPA time, N = 4096",
           "causal_over_full": "causal flash time / full flash time, N = 4096",
           "flop_rate_over_gemm": "attention FLOP rate / numpy GEMM FLOP rate",
           "x": "sequence length N = L = S", "y": "time (s)", "title": "float32, E = 64",
           "full": "computed in full", "diag": "computed, then masked inside", "skip": "skipped",
           "qblock": "query block", "kblock": "key block"},
    "zh": {"impl": "实现", "time": "时间（秒）", "gflops": "GFLOP/s", "mem": "输入之外的峰值内存（MiB）",
           "target": "目标", "measured": "实测", "goal": "要求", "met": "达到", "yes": "是", "no": "否",
           "flash_over_torch": "flash 用时 / torch SDPA 用时，N = 4096",
           "sdpa_over_torch": "scaled_dot_product_attention 用时 / torch SDPA 用时，N = 4096",
           "causal_over_full": "因果 flash 用时 / 完整 flash 用时，N = 4096",
           "flop_rate_over_gemm": "注意力的 FLOP 速率 / numpy GEMM 的 FLOP 速率",
           "x": "序列长度 N = L = S", "y": "时间（秒）", "title": "float32，E = 64",
           "full": "完整计算", "diag": "计算后在块内屏蔽", "skip": "直接跳过",
           "qblock": "查询块", "kblock": "键块"},
}
GOALS = {"flash_over_torch": ("<=", 1.0), "sdpa_over_torch": ("<=", 1.0), "causal_over_full": ("<=", 0.6),
         "flop_rate_over_gemm": (">=", 0.8)}


#: The results file committed from the machine named in it (``make bench`` writes ``latest.json``).
RESULTS = Path(__file__).resolve().parents[3] / "benchmarks" / "results" / "ci-2core-x86_64.json"


def load(path=RESULTS) -> dict:
    """Read a results file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def markdown_table(report: dict, *, lang: str = "en") -> str:
    """One row per (N, implementation): time, GFLOP/s, peak memory, or why it was skipped."""
    t = TEXT[lang]
    lines = [f"| N | {t['impl']} | {t['time']} | {t['gflops']} | {t['mem']} |", "|---:|---|---:|---:|---:|"]
    for r in report["results"]:
        if r["status"] == "ok":
            lines.append(f"| {r['N']} | {r['impl']} | {r['time_s']:.3g} | {r['gflops']:.3g} | {r['peak_mib']:.0f} |")
        else:
            lines.append(f"| {r['N']} | {r['impl']} | {r['status']} | | |")
    return "\n".join(lines)


def targets_table(report: dict, *, lang: str = "en") -> str:
    """The note's targets: measured ratio, goal, met or not."""
    t = TEXT[lang]
    lines = [f"| {t['target']} | {t['measured']} | {t['goal']} | {t['met']} |", "|---|---:|---:|---|"]
    for key, (op, goal) in GOALS.items():
        if key in report["targets"]:
            x = report["targets"][key]
            ok = x <= goal if op == "<=" else x >= goal
            lines.append(f"| {t[key]} | {x:.2f} | {op} {goal} | {t['yes'] if ok else t['no']} |")
    return "\n".join(lines)


def machine_line(report: dict) -> str:
    m = report["machine"]
    return (f"{m['cpu']}, {m['cores']} cores, Python {m['python']}, numpy {m['numpy']} ({m['blas']}), "
            f"torch {m['torch']}, {m['date']}, load {m['load_avg_1min']:.2f}")


def figure_svg(report: dict, *, lang: str = "en") -> str:
    """Time against N, log-log, one line per implementation."""
    from ..plotting import pyplot, to_svg

    plt = pyplot()
    t = TEXT[lang]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    impls = dict.fromkeys(r["impl"] for r in report["results"])
    for impl in impls:
        rows = [r for r in report["results"] if r["impl"] == impl and r["status"] == "ok"]
        ax.plot([r["N"] for r in rows], [r["time_s"] for r in rows], marker="o", label=impl)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(t["x"])
    ax.set_ylabel(t["y"])
    ax.set_title(t["title"])
    ax.grid(alpha=0.3)
    ax.legend()
    return to_svg(fig)


def block_diagram_svg(n_blocks: int = 8, *, lang: str = "en") -> str:
    """Which (query block, key block) tiles causal flash attention computes, masks or skips."""
    import numpy as np
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    from ..plotting import pyplot, to_svg

    plt = pyplot()
    t = TEXT[lang]
    i, j = np.indices((n_blocks, n_blocks))
    kind = np.where(j < i, 2, np.where(j == i, 1, 0))  # (blocks, blocks): 2 full, 1 diagonal, 0 skipped
    colors = ["#eeeeee", "#f4a261", "#2a9d8f"]
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    ax.imshow(kind, cmap=ListedColormap(colors), vmin=0, vmax=2)
    ax.set_xticks(range(n_blocks))
    ax.set_yticks(range(n_blocks))
    ax.set_xticks(np.arange(-0.5, n_blocks), minor=True)
    ax.set_yticks(np.arange(-0.5, n_blocks), minor=True)
    ax.grid(which="minor", color="white", linewidth=2)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel(t["kblock"])
    ax.set_ylabel(t["qblock"])
    ax.legend(handles=[Patch(color=colors[2], label=t["full"]), Patch(color=colors[1], label=t["diag"]),
                       Patch(color=colors[0], label=t["skip"])], loc="upper right", fontsize=8)
    return to_svg(fig)
