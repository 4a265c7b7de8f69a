"""The benchmark results files, and what the long-sequences note shows of them.

The files (``benchmarks/results/<machine>.json``, written by
``benchmarks/run.py``): their schema, and the tables and sentences the long-sequences note shows,
one column per machine. Shared by the note's experiment module and the benchmark script.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import PROJECT

#: Keys every results file has (older files lack the optional sections; see OPTIONAL).
SCHEMA = {
    "machine": {"cpu", "cores", "python", "numpy", "date", "blas", "torch", "load_avg_1min"},
    "cell": {"impl", "N", "status"},
    "timed_cell": {"impl", "N", "status", "time_s", "gflops", "peak_mib"},
    "targets": {"N", "rounds", "env", "repetitions", "runs", "causal_over_full", "flop_rate_over_gemm",
                "flop_rate_over_gemm_same_shapes", "flash_over_bare_loop"},
    "run": {"median_s", "quartiles_s", "causal_over_full", "flop_rate_over_gemm", "flop_rate_over_gemm_same_shapes",
            "flash_over_bare_loop"},
}
#: Sections added with the backward pass: files written since have them all.
OPTIONAL = {
    "machine": {"vendor", "flags", "blas_kernel"},
    "separate": {"N", "calls", "repetitions", "runs", "flash_over_torch_forward", "flash_over_torch_backward"},
    "breakdown": {"N", "tile", "tiles_per_core", "per_tile_s", "steps_s", "flash_s", "bookkeeping_s", "torch_s"},
}

TEXT = {
    "en": {"impl": "implementation", "time": "time (s)", "gflops": "GFLOP/s", "mem": "peak memory above inputs (MiB)",
           "target": "ratio", "goal": "goal", "across": "range across machines", "cores": " ({} cores)",
           "cell": "{median:.2f} ({lo:.2f}–{hi:.2f}), met in {k}/{n}", "cell_plain": "{median:.2f} ({lo:.2f}–{hi:.2f})",
           "missing": "not measured", "s": "s", "MiB": "MiB",
           "flash_over_torch": "flash / torch, forward (fused kernel), one process",
           "flash_over_torch_forward": "flash / torch, forward (fused kernel), separate processes",
           "flash_backward_over_torch_backward": "flash / torch, backward (autograd of the fused op), one process",
           "flash_over_torch_backward": "flash / torch, backward, separate processes",
           "sdpa_over_torch": "scaled_dot_product_attention / torch, forward, one process",
           "causal_flash_over_causal_torch": "causal flash / causal torch, forward, one process",
           "flash_over_torch_math": "flash / torch's 2-D input (math path), one process",
           "causal_over_full": "causal flash / full flash",
           "flop_rate_over_gemm": "attention FLOP rate / numpy's best GEMM rate (1024×2048×1024)",
           "flop_rate_over_gemm_same_shapes": "attention FLOP rate / the dense form's two products",
           "flash_over_bare_loop": "flash / bare loop (two products, exp2, gemv per tile, nothing else)",
           "bare_loop_over_torch": "bare loop / torch, forward: numpy's floor against torch",
           "step": "step (N = 4096, per core)", "product QK^T": "product QKᵀ", "exp2": "exp2",
           "product PV": "product PV", "gemv (row sums)": "gemv (row sums)",
           "bookkeeping": "the rest: bookkeeping, threads, Python", "flash_s": "flash_attention, whole",
           "torch_s": "torch fused SDPA, whole", "ms": "{t:.1f} ms ({share:.0%})", "ms_plain": "{t:.1f} ms",
           "x": "sequence length N = L = S", "y": "time (s)"},
    "zh": {"impl": "实现", "time": "时间（秒）", "gflops": "GFLOP/s", "mem": "输入之外的峰值内存（MiB）",
           "target": "比值", "goal": "要求", "across": "各机器的范围", "cores": "（{} 核）",
           "cell": "{median:.2f}（{lo:.2f}–{hi:.2f}），{n} 次中 {k} 次达到",
           "cell_plain": "{median:.2f}（{lo:.2f}–{hi:.2f}）",
           "missing": "未测", "s": "秒", "MiB": "MiB",
           "flash_over_torch": "flash / torch，前向（融合内核），同一进程",
           "flash_over_torch_forward": "flash / torch，前向（融合内核），分开的进程",
           "flash_backward_over_torch_backward": "flash / torch，反向（融合算子的 autograd），同一进程",
           "flash_over_torch_backward": "flash / torch，反向，分开的进程",
           "sdpa_over_torch": "scaled_dot_product_attention / torch，前向，同一进程",
           "causal_flash_over_causal_torch": "因果 flash / 因果 torch，前向，同一进程",
           "flash_over_torch_math": "flash / torch 的 2 维输入（math 路径），同一进程",
           "causal_over_full": "因果 flash / 完整 flash",
           "flop_rate_over_gemm": "注意力的 FLOP 速率 / numpy 最快的 GEMM 速率（1024×2048×1024）",
           "flop_rate_over_gemm_same_shapes": "注意力的 FLOP 速率 / 稠密写法的两次矩阵乘",
           "flash_over_bare_loop": "flash / 裸循环（每块两次乘法、exp2、gemv，别无其他）",
           "bare_loop_over_torch": "裸循环 / torch，前向：numpy 的下限与 torch 之比",
           "step": "步骤（N = 4096，每个核）", "product QK^T": "乘法 QKᵀ", "exp2": "exp2",
           "product PV": "乘法 PV", "gemv (row sums)": "gemv（行和）",
           "bookkeeping": "其余：记账、线程、Python", "flash_s": "flash_attention 整体",
           "torch_s": "torch 融合 SDPA 整体", "ms": "{t:.1f} 毫秒（{share:.0%}）", "ms_plain": "{t:.1f} 毫秒",
           "x": "序列长度 N = L = S", "y": "时间（秒）"},
}
#: Every ratio the note shows: which section of a results file holds it, and its goal (None: for reference).
RATIOS = {
    "flash_over_torch": ("targets", ("<=", 1.0)),
    "flash_over_torch_forward": ("separate", ("<=", 1.0)),
    "flash_backward_over_torch_backward": ("targets", ("<=", 1.5)),
    "flash_over_torch_backward": ("separate", ("<=", 1.5)),
    "sdpa_over_torch": ("targets", ("<=", 1.0)),
    "causal_flash_over_causal_torch": ("targets", ("<=", 1.0)),
    "flash_over_torch_math": ("targets", ("<=", 1.0)),
    "causal_over_full": ("targets", ("<=", 0.6)),
    "flop_rate_over_gemm": ("targets", (">=", 0.8)),
    "flop_rate_over_gemm_same_shapes": ("targets", (">=", 0.8)),
    "flash_over_bare_loop": ("targets", None),
    "bare_loop_over_torch": ("targets", None),
}

#: The committed results, one file per machine.
RESULTS_DIR = PROJECT / "benchmarks" / "results"


def results_files(directory: Path = RESULTS_DIR) -> list[Path]:
    """Every committed results file, in name order."""
    return sorted(Path(directory).glob("*.json"))


def load(path: str | Path) -> dict[str, Any]:
    """Read a results file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def machine_name(report: dict[str, Any], *, lang: str = "en") -> str:
    """Return a short name for a column: model, SIMD level where recorded, cores."""
    m = report["machine"]
    cpu = m["cpu"].replace("(R)", "").replace("(TM)", "").replace(" Processor", "").strip()
    simd = next((label for flag, label in (("avx512f", "AVX-512"), ("avx2", "AVX2")) if flag in m.get("flags", ())),
                None)
    return " ".join(x for x in (cpu, simd) if x) + TEXT[lang]["cores"].format(m["cores"])


def machine_line(report: dict[str, Any]) -> str:
    """Describe the machine of a results file in one line."""
    m = report["machine"]
    blas = m["blas"] + (f", kernel {m['blas_kernel']}" if m.get("blas_kernel") else "")
    flags = f", flags {' '.join(m['flags'])}" if m.get("flags") else ""
    return (f"{m['cpu']}, {m['cores']} cores{flags}, Python {m['python']}, numpy {m['numpy']} ({blas}), "
            f"torch {m['torch']}, {m['date']}, load {m['load_avg_1min']:.2f}")


def ratio(report: dict[str, Any], key: str) -> dict[str, Any] | None:
    """Return one ratio of one machine.

    One ratio of one machine: its median over the runs, lowest and highest run, and in how
    many runs it met its goal; None if the file does not have it.
    """
    section, goal = RATIOS[key]
    data = report.get(section)
    if not data or key not in data:
        return None
    each = [run[key] for run in data["runs"]]
    met = None if goal is None else sum(x <= goal[1] if goal[0] == "<=" else x >= goal[1] for x in each)
    return {"median": data[key], "lo": min(each), "hi": max(each), "n": len(each), "k": met}


def comparison_table(reports: list[dict[str, Any]], *, lang: str = "en") -> str:
    """Tabulate every ratio, one column per machine.

    Every ratio, one column per machine (median, lowest – highest run, runs meeting the goal),
    and the range of the medians across machines.
    """
    t = TEXT[lang]
    names = [machine_name(r, lang=lang) for r in reports]
    lines = [f"| {t['target']} | {t['goal']} | " + " | ".join(names) + f" | {t['across']} |",
             "|---|---|" + "---:|" * len(reports) + "---:|"]
    for key, (_, goal) in RATIOS.items():
        cells = [ratio(r, key) for r in reports]
        if not any(cells):
            continue
        shown = [t["missing"] if c is None else t["cell" if goal else "cell_plain"].format(**c) for c in cells]
        medians = [c["median"] for c in cells if c]
        goal_text = f"{goal[0]} {goal[1]}".replace("<=", "≤").replace(">=", "≥") if goal else ""
        lines.append(f"| {t[key]} | {goal_text} | " + " | ".join(shown) + f" | {spread(medians)} |")
    return "\n".join(lines)


def spread(values: Sequence[float]) -> str:
    """``lo – hi`` of some medians, or the one value."""
    lo, hi = min(values), max(values)
    return f"{lo:.2f}" if len(values) == 1 else f"{lo:.2f} – {hi:.2f}"


def breakdown_table(reports: list[dict[str, Any]], *, lang: str = "en") -> str:
    """Where the forward's time goes on each machine that measured it (see ``benchmarks/run.py``)."""
    t = TEXT[lang]
    measured = [r for r in reports if "breakdown" in r]
    lines = [f"| {t['step']} | " + " | ".join(machine_name(r, lang=lang) for r in measured) + " |",
             "|---|" + "---:|" * len(measured)]
    steps = list(measured[0]["breakdown"]["steps_s"]) if measured else []
    for step in [*steps, "bookkeeping", "flash_s", "torch_s"]:
        cells = []
        for r in measured:
            b = r["breakdown"]
            seconds = b["steps_s"].get(step, b.get(step, b["bookkeeping_s"] if step == "bookkeeping" else None))
            if seconds is None:
                cells.append(t["missing"])
            elif step == "torch_s":
                cells.append(t["ms_plain"].format(t=seconds * 1e3))
            else:
                cells.append(t["ms"].format(t=seconds * 1e3, share=seconds / b["flash_s"]))
        lines.append(f"| {t[step]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdicts(reports: list[dict[str, Any]], *, lang: str = "en") -> str:
    """Write one bullet per ratio with a goal.

    One bullet per ratio with a goal: its range across machines (medians), and on which
    machines the median meets the goal, on which it does not, and which did not measure it.
    """
    t = VERDICT[lang]
    lines = []
    for key, (_, goal) in RATIOS.items():
        found = {machine_name(r, lang=lang): ratio(r, key) for r in reports}
        medians = {name: c["median"] for name, c in found.items() if c}
        if goal is None or not medians:
            continue
        op, bound = goal
        met = [n for n, m in medians.items() if (m <= bound if op == "<=" else m >= bound)]
        unmet = [n for n in medians if n not in met]
        values = list(medians.values())
        parts = [t["range" if len(values) > 1 else "one"].format(spread(values))]
        if met:
            parts.append(t["met"].format(t["and"].join(met)))
        if unmet:
            parts.append(t["unmet"].format(t["and"].join(unmet)))
        missing = [n for n, c in found.items() if c is None]
        if missing:
            parts.append(t["missing"].format(t["and"].join(missing)))
        goal_text = f"{op} {bound}".replace("<=", "≤").replace(">=", "≥")
        lines.append(t["bullet"].format(label=TEXT[lang][key], goal=goal_text) + t["sep"].join(parts) + t["end"])
    return "\n".join(lines)


def floor_sentence(report: dict[str, Any], *, lang: str = "en") -> str:
    """Say where the forward's time goes on one machine.

    Where the forward's time goes on one machine, and the bound that numpy's separate steps set
    against torch's fused kernel there (from the file's per-tile breakdown).
    """
    b = report["breakdown"]
    products = b["steps_s"]["product QK^T"] + b["steps_s"]["product PV"]
    steps = sum(b["steps_s"].values())
    return VERDICT[lang]["floor"].format(
        machine=machine_name(report, lang=lang), products=products * 1e3, share=products / b["flash_s"],
        torch=b["torch_s"] * 1e3, products_torch=products / b["torch_s"], steps=steps * 1e3,
        steps_torch=steps / b["torch_s"], rest=b["bookkeeping_s"] * 1e3, rest_share=b["bookkeeping_s"] / b["flash_s"],
        bare=report["targets"]["bare_loop_over_torch"])


VERDICT = {
    "en": {"range": "{} across machines (medians)", "one": "{} (median; one machine measured it)",
           "met": "met on {}", "unmet": "not met on {}", "missing": "not measured on {}", "and": " and ",
           "sep": "; ", "end": ".", "bullet": "- **{label}** ({goal}): ",
           "floor": ("On the {machine}, the two matrix products of the loop alone take {products:.1f} ms per "
                     "core, {share:.0%} of the whole forward and {products_torch:.2f} times the time of torch's "
                     "whole fused kernel ({torch:.1f} ms). With exp2 and the row sums, the steps that numpy runs as "
                     "separate passes add up to {steps:.1f} ms, {steps_torch:.2f} times torch's time, before any "
                     "bookkeeping; the rest (bookkeeping, threads, Python) is {rest:.1f} ms ({rest_share:.0%}). "
                     "Timed with its threads running, the bare loop of those steps alone takes {bare:.2f} times "
                     "torch's time: that is the floor numpy sets on this CPU.")},
    "zh": {"range": "各机器的中位数为 {}", "one": "中位数 {}（只有一台机器测了）", "met": "在 {} 上达到",
           "unmet": "在 {} 上未达到", "missing": "{} 没有测", "and": " 和 ", "sep": "；", "end": "。",
           "bullet": "- **{label}**（{goal}）：",
           "floor": ("在 {machine} 上，循环中的两次矩阵乘法本身每个核就要 {products:.1f} 毫秒，"
                     "占整个前向的 {share:.0%}，是 torch 整个融合内核用时（{torch:.1f} 毫秒）的 "
                     "{products_torch:.2f} 倍。再加上 exp2 和行和，numpy 只能分开执行的这几步合计 "
                     "{steps:.1f} 毫秒，是 torch 用时的 {steps_torch:.2f} 倍，这还没算任何记账开销；"
                     "其余部分（记账、线程、Python）是 {rest:.1f} 毫秒（{rest_share:.0%}）。"
                     "在线程都运行的情况下计时，只做这几步的裸循环用时是 torch 的 {bare:.2f} 倍："
                     "这就是 numpy 在这颗 CPU 上的下限。")},
}


def result_row(report: dict[str, Any], n: int, impl: str) -> dict[str, Any] | None:
    """Return the row of one (N, implementation) in a results file, or None if it has none."""
    return next((r for r in report["results"] if (r["N"], r["impl"]) == (n, impl)), None)


def largest_n(reports: list[dict[str, Any]]) -> int:
    """Return the largest N any results file measured."""
    return max(r["N"] for report in reports for r in report["results"])


def table(reports: list[dict[str, Any]], *, lang: str = "en") -> str:
    """Tabulate time and peak memory per (N, implementation) and machine.

    One row per (N, implementation), one column pair per machine: time and peak memory (or why
    the cell was skipped).
    """
    t = TEXT[lang]
    keys = list(dict.fromkeys((r["N"], r["impl"]) for report in reports for r in report["results"]))
    header = " | ".join(f"{machine_name(r, lang=lang)}: {t['time']} | {t['mem']}" for r in reports)
    lines = [f"| N | {t['impl']} | {header} |", "|---:|---|" + "---:|---:|" * len(reports)]
    for n, impl in keys:
        cells = []
        for report in reports:
            row = result_row(report, n, impl)
            if row is None:
                cells.append(f"{t['missing']} | ")
            elif row["status"] == "ok":
                cells.append(f"{row['time_s']:.3g} | {row['peak_mib']:.0f}")
            else:
                cells.append(f"{row['status']} | ")
        lines.append(f"| {n} | {impl} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: The CPU flags recorded: the SIMD levels numpy's, OpenBLAS's and torch's kernels choose between.
SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_bf16", "avx512_fp16", "amx_tile")


def cpu_info() -> dict[str, Any]:
    """Vendor, model name and SIMD flags of this CPU, from /proc/cpuinfo (Linux)."""
    fields: dict[str, Any] = {}
    try:
        with open("/proc/cpuinfo") as lines:
            for line in lines:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    flags = set(fields.get("flags", "").split())
    return {"vendor": fields.get("vendor_id", platform.machine()),
            "cpu": fields.get("model name", platform.processor()), "flags": [f for f in SIMD_FLAGS if f in flags]}


def cpu_slug(info: dict[str, Any]) -> str:
    """Return a file name for this machine's results: vendor, model family, best SIMD level, cores."""
    vendor = {"GenuineIntel": "intel", "AuthenticAMD": "amd"}.get(info["vendor"], info["vendor"].lower())
    words = [w for w in re.split(r"[^a-z0-9]+", info["cpu"].lower())
             if w and w not in {vendor, "r", "tm", "processor", "cpu", "core"}]
    simd = next((level for level in ("avx512", "avx2", "avx") if any(f.startswith(level) for f in info["flags"])),
                "generic")
    return "-".join([vendor, *words[:1], simd, f"{info['cores']}core"])


def machine_summary() -> dict[str, Any]:
    """Describe the machine the results are measured on, as a results file records it."""
    return {**cpu_info(), "cores": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "date": dt.date.today().isoformat()}
