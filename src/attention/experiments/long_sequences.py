"""The long-sequences note's figures and command.

The tiles causal flash attention visits, and the
benchmark results of each machine (tables: ``benchmark_results``; what the note says about the machines:
:func:`machine_facts`, :func:`largest_backward_sentence`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._internal.tiles import KEY_BLOCK, even_query_block, tiles
from . import Commands
from .benchmark_results import (
    RESULTS_DIR,
    TEXT,
    breakdown_table,
    comparison_table,
    largest_n,
    load,
    machine_line,
    machine_name,
    ratio,
    result_row,
    results_files,
    table,
)
from .plotting import WIDTH, pyplot, save
from .widgets import embed

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Labels of the tile diagram.
DIAGRAM = {
    "en": {"full": "computed in full", "diag": "computed, then masked inside", "skip": "skipped",
           "qblock": "query i (blocks of {} queries)", "kblock": "key j (blocks of {} keys)"},
    "zh": {"full": "完整计算", "diag": "计算后在块内屏蔽", "skip": "直接跳过",
           "qblock": "查询 i（每块 {} 个查询）", "kblock": "键 j（每块 {} 个键）"},
}

def figure(reports: list[dict[str, Any]], *, lang: str = "en") -> Figure:
    """Time against N, log-log, one panel per machine (stacked, same axes), one line per implementation."""
    plt = pyplot()
    t = TEXT[lang]
    fig, axes = plt.subplots(len(reports), 1, figsize=(WIDTH, 3.4 * len(reports) + 1.2), sharex=True, sharey=True,
                             squeeze=False)
    impls = list(dict.fromkeys(r["impl"] for report in reports for r in report["results"]))
    styles = {impl: dict(color=f"C{i % 10}", linestyle="--" if "backward" in impl else "-")
              for i, impl in enumerate(impls)}
    for ax, report in zip(axes[:, 0], reports):
        for impl in impls:
            rows = [r for r in report["results"] if r["impl"] == impl and r["status"] == "ok"]
            if rows:
                ax.plot([r["N"] for r in rows], [r["time_s"] for r in rows], marker="o", markersize=3, label=impl,
                        **styles[impl])
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_ylabel(t["y"])
        ax.set_title(machine_name(report, lang=lang) + ", float32, E = 64")
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel(t["x"])
    handles = {label: h for ax in axes[:, 0] for h, label in zip(*ax.get_legend_handles_labels())}
    axes[-1, 0].legend(handles.values(), handles.keys(), loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=2)
    return fig


def block_diagram(n: int = 4096, *, cores: int = 2, lang: str = "en") -> str:
    """Draw the tiles causal flash attention computes, masks or skips.

    Which tiles causal flash attention computes in full, computes and masks, or skips, at
    N = n with the default blocks on a machine with ``cores`` cores; drawn from the tiles the
    implementation really visits.
    """
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
    t = DIAGRAM[lang]
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


FACTS = {
    "en": {"and": " and ", "none": "no machine", "missing": "; not measured on {}",
           "largest": ("At N = {n:,} the benchmark measures this on {machines}: the \"flash backward\" rows of the "
                       "per-size table ({cells}){missing}."),
           "cell": "{peak:.0f} MiB on the {machine}",
           "forward": "- **Forward at N = {n:,}** completes with {cells} above the inputs{missing}.",
           "backward": ("- **Backward at N = {n:,}** takes {cells} above the inputs, gradients included, against "
                        "the 256 MiB target{missing}."),
           "ratio": "{median:.2f} on the {machine}",
           "causal": ("- **Causal / full time**: {cells} (medians); the causal tiles are about half of all, and the "
                      "time is a little more{missing}."),
           "causal_torch": "- **Causal flash / causal torch**: {cells} (medians; below 1: numpy faster){missing}.",
           "products": ("- **Attention's FLOP rate / the dense form's two products**: {cells} (medians; above 1: "
                        "faster than the two products alone){missing}.")},
    "zh": {"and": " 和 ", "none": "没有机器", "missing": "；{} 没有测",
           "largest": ("N = {n:,} 时的情况由下面的基准测试在 {machines} 上测量：见按长度列出的表中 "
                       "“flash backward” 那几行（{cells}）{missing}。"),
           "cell": "{machine} 上 {peak:.0f} MiB",
           "forward": "- **N = {n:,} 时的前向** 能完成，输入之外的额外内存：{cells}{missing}。",
           "backward": "- **N = {n:,} 时的反向** 连同梯度在内，输入之外的额外内存：{cells}，目标是 256 MiB{missing}。",
           "ratio": "{machine} 上 {median:.2f}",
           "causal": "- **因果 / 完整的用时**：{cells}（中位数）；因果只算大约一半的块，用时比一半略多{missing}。",
           "causal_torch": "- **因果 flash / 因果 torch**：{cells}（中位数；小于 1 表示 numpy 更快）{missing}。",
           "products": ("- **注意力的 FLOP 速率 / 稠密写法的两次矩阵乘**：{cells}"
                        "（中位数；大于 1 表示比单算两次乘法还快）{missing}。")},
}


def _peak(report: dict[str, Any], impl: str, n: int) -> float | None:
    row = result_row(report, n, impl)
    return row["peak_mib"] if row is not None and row["status"] == "ok" else None


def _facts(values: dict[str, Any], key: str, cell: str, lang: str, **extra: Any) -> str:
    """One sentence of :data:`FACTS`: the machines that have a value, and those that do not."""
    t = FACTS[lang]
    have = {name: v for name, v in values.items() if v is not None}
    cells = t["and"].join(t[cell].format(machine=name, peak=v, median=v) for name, v in have.items()) or t["none"]
    missing = [name for name, v in values.items() if v is None]
    gap = t["missing"].format(t["and"].join(missing)) if missing else ""
    return t[key].format(cells=cells, missing=gap, machines=t["and"].join(have) or t["none"], **extra)


def largest_backward_sentence(reports: list[dict[str, Any]], *, lang: str = "en") -> str:
    """Which machines measured the blocked backward at the largest N, and its peak memory there."""
    n = largest_n(reports)
    values = {machine_name(r, lang=lang): _peak(r, "flash backward", n) for r in reports}
    return _facts(values, "largest", "cell", lang, n=n)


def machine_facts(reports: list[dict[str, Any]], *, lang: str = "en") -> str:
    """State the note's claims about the machines, each from the results files.

    The claims the note makes about the machines, each from the files: memory at the largest N,
    the causal share, causal against torch, and against the dense form's products.
    """
    n = largest_n(reports)
    lines = []
    for key, impl in (("forward", "flash"), ("backward", "flash backward")):
        values = {machine_name(r, lang=lang): _peak(r, impl, n) for r in reports}
        lines.append(_facts(values, key, "cell", lang, n=n))
    for key, name in (("causal", "causal_over_full"), ("causal_torch", "causal_flash_over_causal_torch"),
                      ("products", "flop_rate_over_gemm_same_shapes")):
        values = {machine_name(r, lang=lang): None if (c := ratio(r, name)) is None else c["median"] for r in reports}
        lines.append(_facts(values, key, "ratio", lang))
    return "\n".join(lines)


ONLINE_TEXT = {
    "en": {"caption": "Step through the keys one block at a time. Each row keeps its running maximum m, sum ℓ "
                      "and unnormalised output a; when the maximum grows, what came before is rescaled by "
                      "e^(m − m′) (the column “rescale”). After the last block a / ℓ equals the dense softmax.",
           "prev": "previous block", "next": "next block", "reset": "reset", "row": "row",
           "scores": "scores s of row {r}", "values": "values v, one per key", "state": "each row's running state",
           "factor": "rescale", "start": "no key seen yet", "block": "block {k} of {n} (keys {keys})",
           "done": "a / ℓ = {online}; dense softmax: {dense}; largest difference {diff}"},
    "zh": {"caption": "一块一块地处理键。每一行保存目前的最大值 m、和 ℓ 以及未归一化的输出 a；最大值变大时，"
                      "之前的结果乘以 e^(m − m′)（“换算”一列）重新换算。最后一块之后，a / ℓ 等于稠密的 softmax。",
           "prev": "上一块", "next": "下一块", "reset": "重置", "row": "行", "factor": "换算",
           "scores": "第 {r} 行的分数 s", "values": "值 v，每个键一个", "state": "每一行当前的状态",
           "start": "还没有看到任何键", "block": "第 {k} 块，共 {n} 块（键 {keys}）",
           "done": "a / ℓ = {online}；稠密 softmax：{dense}；最大差别 {diff}"},
}
#: The online-softmax widget's rows: the note's example (first row) and a row whose maximum moves twice.
ONLINE_SCORES = [[3.0, 1.0, 4.0, 1.5, 2.0, 0.5], [-1.0, 0.5, 2.0, -0.5, 3.0, 1.0]]
ONLINE_VALUES = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0], [0.5, 0.5], [0.0, 2.0]]


def online_widget(*, lang: str = "en", block: int = 2) -> str:
    """Make the online-softmax widget: the online softmax over ``ONLINE_SCORES``, ``block`` keys at a time."""
    t = ONLINE_TEXT[lang]
    labels = {key: t[key] for key in ("prev", "next", "reset", "row", "scores", "values", "state", "factor", "start",
                                      "block", "done")}
    state = {"scores": ONLINE_SCORES, "values": ONLINE_VALUES, "block": block, "labels": labels}
    return embed("online-softmax", state, t["caption"])


def _run(args: argparse.Namespace) -> int:
    paths = args.results or results_files()
    if not paths:
        print(f"no results files in {RESULTS_DIR} (run from the repository's root, or pass --results)", file=sys.stderr)
        return 1
    print(f"reading {', '.join(map(str, paths))} ...", file=sys.stderr)
    reports = [load(p) for p in paths]
    for report in reports:
        print(machine_line(report))
    print("\n" + comparison_table(reports, lang=args.lang) + "\n")
    print(breakdown_table(reports, lang=args.lang) + "\n")
    print(table(reports, lang=args.lang))
    if args.plot:
        save(figure(reports, lang=args.lang), args.plot)
    return 0


def register(commands: Commands) -> None:
    """Add the ``long-sequences`` command: the tables and figure of the benchmark results files."""
    p = commands.add("long-sequences", help="compare benchmark results files (make bench writes one)", run=_run)
    p.add_argument("--results", type=Path, nargs="+", metavar="FILE",
                   help=f"results files written by benchmarks/run.py (default: every file in {RESULTS_DIR})")
