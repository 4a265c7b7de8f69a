"""The long-sequences note's figures and tables: the tiles causal flash attention visits, and the
benchmark results files (``benchmarks/results/*.json``, written by ``benchmarks/run.py``).

Results files are passed in as paths; nothing here looks for them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from .._internal.tiles import KEY_BLOCK, even_query_block, tiles
from .plotting import WIDTH, pyplot, save

#: Keys every results file has (checked by tests/test_benchmark_results.py).
SCHEMA = {
    "machine": {"cpu", "cores", "python", "numpy", "date", "blas", "torch", "load_avg_1min"},
    "cell": {"impl", "N", "status"},
    "timed_cell": {"impl", "N", "status", "time_s", "gflops", "peak_mib"},
    "targets": {"N", "rounds", "env", "repetitions", "runs", "causal_over_full", "flop_rate_over_gemm",
                "flop_rate_over_gemm_same_shapes", "flash_over_bare_loop"},
    "run": {"median_s", "quartiles_s", "causal_over_full", "flop_rate_over_gemm", "flop_rate_over_gemm_same_shapes",
            "flash_over_bare_loop"},
}

TEXT = {
    "en": {"impl": "implementation", "time": "time (s)", "gflops": "GFLOP/s", "mem": "peak memory above inputs (MiB)",
           "target": "target", "measured": "median of {n} runs", "range": "lowest – highest", "goal": "goal",
           "met": "met", "yes": "yes, in every run", "no": "no, in no run", "some": "in {k} of {n} runs",
           "flash_over_torch": "flash time / torch SDPA time (fused kernel, 4-D input), N = 4096",
           "sdpa_over_torch": "scaled_dot_product_attention time / torch SDPA time (fused), N = 4096",
           "causal_flash_over_causal_torch": "causal flash time / causal torch SDPA time (fused), N = 4096",
           "flash_over_torch_math": "flash time / torch SDPA time (2-D input: math path), N = 4096",
           "causal_over_full": "causal flash time / full flash time, N = 4096",
           "flop_rate_over_gemm": "attention FLOP rate / numpy's best GEMM rate (same FLOPs, 1024×2048×1024)",
           "flop_rate_over_gemm_same_shapes": "attention FLOP rate / GEMM rate of the dense form's products (QKᵀ, PV)",
           "flash_over_bare_loop": "flash time / bare loop of two products, exp2 and gemv per tile (no bookkeeping)",
           "x": "sequence length N = L = S", "y": "time (s)", "title": "float32, E = 64",
           "full": "computed in full", "diag": "computed, then masked inside", "skip": "skipped",
           "qblock": "query i (blocks of {} queries)", "kblock": "key j (blocks of {} keys)"},
    "zh": {"impl": "实现", "time": "时间（秒）", "gflops": "GFLOP/s", "mem": "输入之外的峰值内存（MiB）",
           "target": "目标", "measured": "{n} 次运行的中位数", "range": "最低 – 最高", "goal": "要求",
           "met": "达到", "yes": "是，每次都达到", "no": "否，一次也没有", "some": "{n} 次中 {k} 次达到",
           "flash_over_torch": "flash 用时 / torch SDPA 用时（融合内核，4 维输入），N = 4096",
           "sdpa_over_torch": "scaled_dot_product_attention 用时 / torch SDPA 用时（融合内核），N = 4096",
           "causal_flash_over_causal_torch": "因果 flash 用时 / 因果 torch SDPA 用时（融合内核），N = 4096",
           "flash_over_torch_math": "flash 用时 / torch SDPA 用时（2 维输入：math 路径），N = 4096",
           "causal_over_full": "因果 flash 用时 / 完整 flash 用时，N = 4096",
           "flop_rate_over_gemm": "注意力的 FLOP 速率 / numpy 最快的 GEMM 速率（同样的 FLOP 数，1024×2048×1024）",
           "flop_rate_over_gemm_same_shapes": "注意力的 FLOP 速率 / 稠密写法中两次矩阵乘（QKᵀ、PV）的 GEMM 速率",
           "flash_over_bare_loop": "flash 用时 / 每块只做两次乘法、exp2 和 gemv 的裸循环用时（没有其他步骤）",
           "x": "序列长度 N = L = S", "y": "时间（秒）", "title": "float32，E = 64",
           "full": "完整计算", "diag": "计算后在块内屏蔽", "skip": "直接跳过",
           "qblock": "查询 i（每块 {} 个查询）", "kblock": "键 j（每块 {} 个键）"},
}
GOALS = {"flash_over_torch": ("<=", 1.0), "sdpa_over_torch": ("<=", 1.0), "causal_flash_over_causal_torch": ("<=", 1.0),
         "flash_over_torch_math": ("<=", 1.0), "causal_over_full": ("<=", 0.6), "flop_rate_over_gemm": (">=", 0.8),
         "flop_rate_over_gemm_same_shapes": (">=", 0.8), "flash_over_bare_loop": None}


#: The results committed from the AMD EPYC machine, relative to the repository's root (where
#: ``mkdocs``, ``pytest`` and the README's commands run).
RESULTS = Path("benchmarks/results/ci-2core-x86_64.json")


def load(path) -> dict:
    """Read a results file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def table(report: dict, *, lang: str = "en") -> str:
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
    """The note's targets: the median over the separate runs, the lowest and highest run, the
    goal, and in how many runs it was met."""
    t, targets = TEXT[lang], report["targets"]
    n = targets["repetitions"]
    lines = [f"| {t['target']} | {t['measured'].format(n=n)} | {t['range']} | {t['goal']} | {t['met']} |",
             "|---|---:|---:|---:|---|"]
    for key, goal in GOALS.items():
        if key not in targets:
            continue
        each = [run[key] for run in targets["runs"]]
        cells = f"| {t[key]} | {targets[key]:.2f} | {min(each):.2f} – {max(each):.2f} |"
        if goal is None:  # for reference only
            lines.append(cells + " | |")
            continue
        k = runs_meeting(report, key)
        met = t["yes"] if k == n else t["no"] if k == 0 else t["some"].format(k=k, n=n)
        lines.append(f"{cells} {goal[0]} {goal[1]} | {met} |")
    return "\n".join(lines)


def runs_meeting(report: dict, key: str) -> int:
    """In how many of the separate runs the target ``key`` was met."""
    op, bound = GOALS[key]
    return sum(run[key] <= bound if op == "<=" else run[key] >= bound for run in report["targets"]["runs"])


def machine_line(report: dict) -> str:
    m = report["machine"]
    return (f"{m['cpu']}, {m['cores']} cores, Python {m['python']}, numpy {m['numpy']} ({m['blas']}), "
            f"torch {m['torch']}, {m['date']}, load {m['load_avg_1min']:.2f}")


def figure(report: dict, *, lang: str = "en"):
    """Time against N, log-log, one line per implementation."""
    plt = pyplot()
    t = TEXT[lang]
    fig, ax = plt.subplots(figsize=(WIDTH, 4.4))
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
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncols=2)
    return fig


def block_diagram(n: int = 4096, *, cores: int = 2, lang: str = "en") -> str:
    """Which tiles causal flash attention computes in full, computes and masks, or skips, at
    N = n with the default blocks on a machine with ``cores`` cores; drawn from the tiles the
    implementation really visits."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    query_block = even_query_block(n, 1, True, threads=cores)
    cell = KEY_BLOCK
    kind = np.zeros((n // cell, n // cell), dtype=int)  # 0 skipped, 1 masked triangle, 2 full
    visited = [(i0 + r0, i0 + r1, j0, j1, offset) for i0 in range(0, n, query_block)
               for r0, r1, j0, j1, offset in tiles(query_block, i0, n, KEY_BLOCK, is_causal=True)]
    for r0, r1, j0, j1, offset in sorted(visited, key=lambda tile: tile[4] is not None):  # masked ones last
        kind[r0 // cell:-(-r1 // cell), j0 // cell:-(-j1 // cell)] = 2 if offset is None else 1
    plt = pyplot()
    t = TEXT[lang]
    colors = ["#eeeeee", "#f4a261", "#2a9d8f"]
    fig, ax = plt.subplots(figsize=(WIDTH, 4.6))
    extent = (0, n, n, 0)
    ax.imshow(kind, cmap=ListedColormap(colors), vmin=0, vmax=2, extent=extent)
    for x in range(0, n + 1, cell):
        ax.axvline(x, color="white", linewidth=0.8)
        ax.axhline(x, color="white", linewidth=0.8)
    for y in range(0, n + 1, query_block):
        ax.axhline(y, color="#264653", linewidth=2)
    ticks = range(0, n + 1, query_block)
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.set_xlabel(t["kblock"].format(KEY_BLOCK))
    ax.set_ylabel(t["qblock"].format(query_block))
    ax.legend(handles=[Patch(color=colors[2], label=t["full"]), Patch(color=colors[1], label=t["diag"]),
                       Patch(color=colors[0], label=t["skip"])], loc="upper center", bbox_to_anchor=(0.5, -0.16),
              ncols=2)
    return fig


def _run(args) -> int:
    print(f"reading {args.results} ...", file=sys.stderr)
    report = load(args.results)
    print(machine_line(report) + "\n")
    print(targets_table(report, lang=args.lang) + "\n")
    print(table(report, lang=args.lang))
    if args.plot:
        save(figure(report, lang=args.lang), args.plot)
    return 0


def register(commands) -> None:
    """Add the ``long-sequences`` command: the tables and figure of a benchmark results file."""
    p = commands.add("long-sequences", help="show a benchmark results file (make bench writes one)", run=_run)
    p.add_argument("--results", type=Path, default=RESULTS, metavar="FILE",
                   help=f"results file written by benchmarks/run.py (default: {RESULTS})")
