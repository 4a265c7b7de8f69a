"""Benchmark attention implementations on this machine: time, GFLOP/s and peak memory.

    make bench                       # or: .venv/bin/python benchmarks/run.py [--quick]

Every (implementation, N) cell runs in its own subprocess so that its peak memory (RSS
high-water mark minus the RSS after the inputs exist) is its own. The targets of the
long-sequences note are ratios measured *interleaved in one process* (flash vs torch,
causal vs non-causal, attention vs plain GEMM), so machine noise hits both sides alike.
Results go to stdout (a table) and to a JSON file that the note renders.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
E = 64
IMPLS = ["naive", "stable", "sdpa", "flash", "causal flash", "torch"]
# Dense implementations hold a few L x S matrices; skip them where that would not fit comfortably.
DENSE_LIMIT = {"naive": 4096, "stable": 16384}


def _inputs(n: int, dtype):
    rng = np.random.default_rng(0)
    return [rng.standard_normal((n, E)).astype(dtype) for _ in range(3)]


def _function(impl: str):
    import attention

    if impl == "naive":
        return lambda q, k, v: attention.naive_attention(q, k, v)
    if impl == "stable":
        return lambda q, k, v: attention.softmax(q @ k.T / np.sqrt(E)) @ v
    if impl == "sdpa":
        return attention.scaled_dot_product_attention
    if impl == "flash":
        return attention.flash_attention
    if impl == "causal flash":
        return lambda q, k, v: attention.flash_attention(q, k, v, is_causal=True)
    if impl == "torch":
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        f = torch.nn.functional.scaled_dot_product_attention
        return lambda q, k, v: f(*(torch.from_numpy(a) for a in (q, k, v))).numpy()
    raise ValueError(impl)


def _status_mib(field: str) -> float:
    """A memory field of /proc/self/status (VmRSS: now, VmHWM: high-water mark), in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cell(impl: str, n: int, repeats: int) -> dict:
    """Run one cell in this process (called in a fresh subprocess)."""
    f = _function(impl)
    q, k, v = _inputs(n, np.float32)
    # Reset the high-water mark so it measures from here on (Linux: write 5 to clear_refs).
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    base = _status_mib("VmRSS")
    with np.errstate(over="ignore", invalid="ignore"):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            f(q, k, v)
            times.append(time.perf_counter() - t0)
    t = float(np.median(times))
    flops = 4 * n * n * E / (2 if impl == "causal flash" else 1)
    return {"impl": impl, "N": n, "time_s": t, "gflops": flops / t / 1e9, "peak_mib": _status_mib("VmHWM") - base, "status": "ok"}


def targets(rounds: int) -> dict:
    """The note's ratios, interleaved in one process at N = 4096, float32."""
    import attention

    q, k, v = _inputs(4096, np.float32)
    runs = {
        "flash": lambda: attention.flash_attention(q, k, v),
        "causal flash": lambda: attention.flash_attention(q, k, v, is_causal=True),
        "sdpa": lambda: attention.scaled_dot_product_attention(q, k, v),
        "gemm": lambda: (q @ k.T, q @ k.T),  # the same 4·N²·E FLOPs as attention's two matmuls
    }
    try:
        torch_f = _function("torch")
        runs["torch"] = lambda: torch_f(q, k, v)
    except ImportError:
        pass
    times = {name: [] for name in runs}
    for f in runs.values():
        f()  # warm up
    for r in range(rounds):
        for name, f in runs.items():
            t0 = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t0)
        print(f"  targets round {r + 1}/{rounds}", file=sys.stderr)
    med = {name: float(np.median(ts)) for name, ts in times.items()}
    out = {"N": 4096, "rounds": rounds, "median_s": med,
           "causal_over_full": med["causal flash"] / med["flash"],
           "flop_rate_over_gemm": med["gemm"] / med["flash"]}
    if "torch" in med:
        out["flash_over_torch"] = med["flash"] / med["torch"]
        out["sdpa_over_torch"] = med["sdpa"] / med["torch"]
    return out


def machine() -> dict:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    info = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "date": dt.date.today().isoformat(), "load_avg_1min": os.getloadavg()[0]}
    try:
        info["blas"] = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:  # noqa: BLE001 - informative only
        info["blas"] = "unknown"
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    return info


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256,1024,4096,16384,65536")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds for the target ratios")
    parser.add_argument("--quick", action="store_true", help="small sizes only, for a smoke run")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "latest.json")
    parser.add_argument("--cell", nargs=3, metavar=("IMPL", "N", "REPEATS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cell:
        print(json.dumps(cell(args.cell[0], int(args.cell[1]), int(args.cell[2]))))
        return 0
    sizes = [256, 1024] if args.quick else [int(s) for s in args.sizes.split(",")]
    rounds = 3 if args.quick else args.rounds
    try:
        import torch  # noqa: F401

        impls = IMPLS
    except ImportError:
        impls = [i for i in IMPLS if i != "torch"]
        print("torch not installed: `make bench` installs the bench extra (torch==2.13.0)", file=sys.stderr)
    results = []
    for n in sizes:
        for impl in impls:
            if n > DENSE_LIMIT.get(impl, n):
                need = 3 * n * n * (8 if impl == "naive" else 4) / 2**30
                results.append({"impl": impl, "N": n, "status": f"skipped: needs ~{need:.0f} GiB"})
                continue
            repeats = 1 if n >= 16384 else args.repeats
            print(f"{impl:>13} N={n:<6} ...", end=" ", file=sys.stderr, flush=True)
            proc = subprocess.run([sys.executable, __file__, "--cell", impl, str(n), str(repeats)],
                                  capture_output=True, text=True)
            if proc.returncode < 0:
                results.append({"impl": impl, "N": n, "status": f"failed: killed by signal {-proc.returncode} (out of memory?)"})
            elif proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
                results.append({"impl": impl, "N": n, "status": f"failed: {last}"})
            else:
                results.append(json.loads(proc.stdout))
            print(results[-1].get("time_s", results[-1]["status"]), file=sys.stderr)
    report = {"machine": machine(), "E": E, "dtype": "float32", "results": results, "targets": targets(rounds)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    sys.path.insert(0, str(HERE.parent / "src"))
    from attention.experiments.longseq import markdown_table, targets_table

    print(markdown_table(report))
    print()
    print(targets_table(report))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
