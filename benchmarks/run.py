"""Benchmark attention implementations on this machine: time, GFLOP/s and peak memory.

    make bench                       # or: .venv/bin/python benchmarks/run.py [--quick]

Every (implementation, N) cell runs in its own subprocess so that its peak memory (RSS
high-water mark minus the RSS after the inputs exist) is its own. The targets of the
long-sequences note are ratios measured *interleaved in one process* (flash vs torch,
causal vs non-causal, attention vs plain GEMM), so machine noise hits both sides alike; that
process runs --repetitions times (default 9), and the file keeps every run and each ratio's
median, because the noise between runs is as large as some targets' margins. Each round
times the functions in a new random order: in a fixed order every function always follows the
same one, and whatever follows torch's math path (which touches ~200 MiB) ran about 2% slower.
Results go to stdout (a table) and to a JSON file that the note renders.

torch gets its inputs as (1, 1, N, E) tensors: with 4-D inputs its CPU operator runs a fused
flash-attention kernel, with 2-D ones it falls back to the dense "math" path, three times
slower at N = 4096 and out of memory at 65,536. Both are measured; the targets use the fused one.

The interleaved process sets OPENBLAS_THREAD_TIMEOUT=4 and OMP_WAIT_POLICY=PASSIVE: after a
multi-threaded call, OpenBLAS's and OpenMP's idle threads otherwise keep spinning for a while
and take the cores from whatever is timed next (we measured 2x slowdowns that way). That setting
also slows torch by ~10% on some CPUs, so the forward and backward ratios are measured a second
way too: in separate processes, one library per process with the default environment (what a
user gets), alternating which library goes first.

The backward is timed as the gradients given the forward's results: ``flash_attention_backward``
given the output and its log-sum-exp, and torch's autograd backward of the fused operator
(``out.backward(dO)``, the forward run untimed before each call).

A per-tile breakdown shows where the forward's time goes on this CPU: each step of the loop
(the two products, exp2, the gemv of the row sums) timed alone on one default tile, times the
number of tiles per core, against the whole function; the rest is bookkeeping and threads.

Results are written per machine: benchmarks/results/<cpu-slug>.json (vendor, model, SIMD
level, cores), unless --out says otherwise.
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
IMPLS = ["naive", "stable", "sdpa", "flash", "causal flash", "torch", "torch (2-D, math)", "flash backward",
         "torch backward"]
# Dense implementations hold a few L x S matrices; skip them where that would not fit comfortably.
DENSE_LIMIT = {"naive": 4096, "stable": 16384, "torch (2-D, math)": 16384}
#: What the interleaved process sets, and why: see the module docstring.
QUIET_THREADS = {"OPENBLAS_THREAD_TIMEOUT": "4", "OMP_WAIT_POLICY": "PASSIVE"}


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
    if impl == "flash backward":
        return _flash_backward
    if impl == "torch backward":
        return _torch_backward()
    if impl.startswith("torch"):
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        f = torch.nn.functional.scaled_dot_product_attention
        if impl == "torch (2-D, math)":
            return lambda q, k, v, **kw: f(*(torch.from_numpy(a) for a in (q, k, v)), **kw).numpy()
        return lambda q, k, v, **kw: f(*(torch.from_numpy(a)[None, None] for a in (q, k, v)), **kw)[0, 0].numpy()
    raise ValueError(impl)


def _flash_backward(q, k, v):
    """Returns the timed call: the gradients, given the forward's output and lse (computed once, here)."""
    import attention

    out, lse = attention.flash_attention(q, k, v, return_lse=True)
    dO = np.random.default_rng(3).standard_normal(out.shape).astype(q.dtype)
    return lambda: attention.flash_attention_backward(dO, q, k, v, out, lse)


def _torch_backward():
    """``f(q, k, v)`` returns the timed call: autograd's backward of torch's fused SDPA (4-D
    inputs), after an untimed forward that the returned call runs first via ``prepare``."""
    import torch

    torch.set_num_threads(os.cpu_count() or 1)

    def setup(q, k, v):
        leaves = [torch.from_numpy(a)[None, None].requires_grad_() for a in (q, k, v)]
        dO = torch.from_numpy(np.random.default_rng(3).standard_normal(q.shape[:1] + v.shape[1:]).astype(q.dtype))
        state = {}

        def prepare():
            for leaf in leaves:
                leaf.grad = None
            state["out"] = torch.nn.functional.scaled_dot_product_attention(*leaves)

        def backward():
            state.pop("out").backward(dO[None, None])

        backward.prepare = prepare
        return backward

    return setup


def _timed(call) -> float:
    """Seconds for one call; a call with a ``prepare`` attribute (torch's backward) runs it untimed first."""
    prepare = getattr(call, "prepare", None)
    if prepare is not None:
        prepare()
    t0 = time.perf_counter()
    call()
    return time.perf_counter() - t0


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
    backward = impl.endswith("backward")
    with np.errstate(over="ignore", invalid="ignore"):
        call = f(q, k, v) if backward else (lambda: f(q, k, v))
        if n <= 4096:
            _timed(call)  # warm up: first calls pay one-off costs (thread pools, kernel selection)
        times = [_timed(call) for _ in range(repeats)]
    t = float(np.median(times))
    # The backward's five products (scores, dP, dV, dK, dQ) against the forward's two.
    flops = 4 * n * n * E / (2 if impl == "causal flash" else 1) * (2.5 if backward else 1)
    return {"impl": impl, "N": n, "time_s": t, "gflops": flops / t / 1e9, "peak_mib": _status_mib("VmHWM") - base,
            "status": "ok"}


def bare_loop(q, k, v):
    """The floor of the blocked design in numpy: per tile only what flash_attention's
    fixed-reference path cannot avoid (a product, exp2, a product and the gemv for the row
    sums), no bounds, no masks, no normalisation, with the same blocks and threads. Not a
    correct attention (its sums are dropped); it only times the building blocks."""
    from attention._internal.bounds import LOG2E
    from attention._internal.threads import one_blas_thread, run_on_all_cores
    from attention._internal.tiles import KEY_BLOCK, even_query_block

    n = q.shape[0]
    query_block, key_block = even_query_block(n, 1, False), KEY_BLOCK
    ones = np.ones(key_block, dtype=np.float32)  # (Bk,)
    q2 = q * np.float32(LOG2E / np.sqrt(E))  # (N, E)

    def run(i0: int) -> None:
        s = np.empty((query_block, key_block), dtype=np.float32)  # (Lb, Bk)
        a, a_part = np.zeros((query_block, E), dtype=np.float32), np.empty((query_block, E), dtype=np.float32)
        l, l_part = np.zeros(query_block, dtype=np.float32), np.empty(query_block, dtype=np.float32)
        for j0 in range(0, n, key_block):
            np.matmul(q2[i0:i0 + query_block], k[j0:j0 + key_block].T, out=s)  # (Lb, Bk)
            np.exp2(s, out=s)  # (Lb, Bk)
            np.matmul(s, v[j0:j0 + key_block], out=a_part)  # (Lb, Ev)
            a += a_part
            np.matmul(s, ones, out=l_part)  # (Lb,)
            l += l_part

    with one_blas_thread():
        run_on_all_cores(run, list(range(0, n, query_block)))


def targets(rounds: int) -> dict:
    """The note's ratios, interleaved in one process at N = 4096, float32 (run in a subprocess
    with :data:`QUIET_THREADS` set)."""
    import attention

    n = 4096
    q, k, v = _inputs(n, np.float32)
    s = q @ k.T  # (N, N)
    # numpy's best GEMM rate: square-ish float32 matrices doing the same 4·N²·E FLOPs as attention.
    a = np.random.default_rng(1).standard_normal((1024, 2048)).astype(np.float32)
    b = np.random.default_rng(2).standard_normal((2048, 1024)).astype(np.float32)
    assert 2 * 1024 * 2048 * 1024 == 4 * n * n * E
    runs = {
        "flash": lambda: attention.flash_attention(q, k, v),
        "causal flash": lambda: attention.flash_attention(q, k, v, is_causal=True),
        "sdpa": lambda: attention.scaled_dot_product_attention(q, k, v),
        "gemm": lambda: a @ b,
        "gemm, attention's shapes": lambda: (q @ k.T, s @ v),  # the dense form's two products, unfused
        "bare loop": lambda: bare_loop(q, k, v),
    }
    try:
        torch_f, torch_math = _function("torch"), _function("torch (2-D, math)")
        runs["torch"] = lambda: torch_f(q, k, v)
        runs["causal torch"] = lambda: torch_f(q, k, v, is_causal=True)
        runs["torch (2-D, math)"] = lambda: torch_math(q, k, v)
        runs["torch backward"] = _torch_backward()(q, k, v)
    except ImportError:
        pass
    runs["flash backward"] = _flash_backward(q, k, v)
    times = {name: [] for name in runs}
    for f in runs.values():
        _timed(f)  # warm up
    order = np.random.default_rng(0)
    for r in range(rounds):
        for name in order.permutation(list(runs)):  # a new order every round: see the module docstring
            times[name].append(_timed(runs[name]))
        print(f"  targets round {r + 1}/{rounds}", file=sys.stderr, flush=True)
    med = {name: float(np.median(ts)) for name, ts in times.items()}
    quartiles = {name: [float(x) for x in np.percentile(ts, [25, 75])] for name, ts in times.items()}
    out = {"N": n, "rounds": rounds, "env": QUIET_THREADS, "median_s": med, "quartiles_s": quartiles,
           "causal_over_full": med["causal flash"] / med["flash"],
           "flop_rate_over_gemm": med["gemm"] / med["flash"],
           "flop_rate_over_gemm_same_shapes": med["gemm, attention's shapes"] / med["flash"],
           "flash_over_bare_loop": med["flash"] / med["bare loop"]}
    if "torch" in med:
        out["flash_over_torch"] = med["flash"] / med["torch"]
        out["sdpa_over_torch"] = med["sdpa"] / med["torch"]
        out["causal_flash_over_causal_torch"] = med["causal flash"] / med["causal torch"]
        out["flash_over_torch_math"] = med["flash"] / med["torch (2-D, math)"]
        out["bare_loop_over_torch"] = med["bare loop"] / med["torch"]
        out["flash_backward_over_torch_backward"] = med["flash backward"] / med["torch backward"]
    return out


#: What each separate process times: (library, direction).
SEPARATE = {"flash forward": ("flash", "forward"), "torch forward": ("torch", "forward"),
            "flash backward": ("flash", "backward"), "torch backward": ("torch", "backward")}


def one_library(kind: str, calls: int) -> dict:
    """Time ``calls`` calls of one library's forward or backward at N = 4096 in this process
    (which imports only that library): the median, after two warm-up calls."""
    q, k, v = _inputs(4096, np.float32)
    impl = {"flash forward": "flash", "torch forward": "torch"}.get(kind, kind)
    f = _function(impl)
    call = f(q, k, v) if kind.endswith("backward") else (lambda: f(q, k, v))
    for _ in range(2):
        _timed(call)
    times = [_timed(call) for _ in range(calls)]
    return {"kind": kind, "median_s": float(np.median(times)), "times_s": times}


def separate(repetitions: int, calls: int) -> dict:
    """flash / torch, forward and backward, each library in its own process with the default
    environment; every repetition runs one process per library, alternating which goes first."""
    runs = []
    for rep in range(repetitions):
        run = {}
        for direction in ("forward", "backward"):
            pair = [f"flash {direction}", f"torch {direction}"]
            for kind in pair if rep % 2 == 0 else pair[::-1]:
                print(f"  separate processes {rep + 1}/{repetitions}: {kind}", file=sys.stderr, flush=True)
                proc = subprocess.run([sys.executable, __file__, "--one-library", kind, str(calls)],
                                      stdout=subprocess.PIPE, text=True, check=True)
                run[kind] = json.loads(proc.stdout)["median_s"]
            run[f"flash_over_torch_{direction}"] = run[pair[0]] / run[pair[1]]
        runs.append(run)
    out = {"N": 4096, "calls": calls, "repetitions": repetitions, "runs": runs}
    for key in ("flash_over_torch_forward", "flash_over_torch_backward"):
        out[key] = float(np.median([run[key] for run in runs]))
    return out


def breakdown(repeats: int = 200) -> dict:
    """Where the forward's time goes at N = 4096: each step of the loop timed alone on one default
    tile (one thread), scaled to the tiles each core computes, against the whole function timed
    in the same process (threads on). Run with QUIET_THREADS set."""
    import attention
    from attention._internal.bounds import LOG2E
    from attention._internal.threads import cores, one_blas_thread
    from attention._internal.tiles import KEY_BLOCK, even_query_block

    n = 4096
    q, k, v = _inputs(n, np.float32)
    Lb, Bk = even_query_block(n, 1, False), KEY_BLOCK
    qx = q[:Lb] * np.float32(LOG2E / np.sqrt(E))  # (Lb, E)
    s = np.empty((Lb, Bk), dtype=np.float32)  # (Lb, Bk)
    a = np.empty((Lb, E), dtype=np.float32)  # (Lb, Ev)
    l, ones = np.empty(Lb, dtype=np.float32), np.ones(Bk, dtype=np.float32)
    steps = {
        "product QK^T": lambda: np.matmul(qx, k[:Bk].T, out=s),
        "exp2": lambda: np.exp2(s, out=s),
        "product PV": lambda: np.matmul(s, v[:Bk], out=a),
        "gemv (row sums)": lambda: np.matmul(s, ones, out=l),
    }
    np.matmul(qx, k[:Bk].T, out=s)  # realistic exponents for exp2
    scores = s.copy()  # (Lb, Bk)
    per_tile = {}
    with one_blas_thread():
        for name, f in steps.items():
            if name == "exp2":  # of the scores, not of e**scores: restore them first, and take that copy off
                copy = _median_time(lambda: np.copyto(s, scores), repeats)
                per_tile[name] = max(_median_time(lambda: (np.copyto(s, scores), np.exp2(s, out=s)), repeats) - copy,
                                     0.0)
            else:
                per_tile[name] = _median_time(f, repeats)
    tiles_per_core = (n // Lb) * (n // Bk) / min(cores(), n // Lb)
    wholes = {"flash_s": lambda: attention.flash_attention(q, k, v)}
    try:
        torch_f = _function("torch")
        wholes["torch_s"] = lambda: torch_f(q, k, v)
    except ImportError:
        pass
    times = {name: [] for name in wholes}
    for f in wholes.values():
        f()  # warm up
    for _ in range(31):  # interleaved, like the targets: a noisy moment hits both
        for name, f in wholes.items():
            times[name].append(_median_time(f, 1))
    out = {"N": n, "tile": [Lb, Bk], "tiles_per_core": tiles_per_core, "per_tile_s": per_tile,
           "steps_s": {name: t * tiles_per_core for name, t in per_tile.items()},
           **{name: float(np.median(ts)) for name, ts in times.items()}}
    out["bookkeeping_s"] = out["flash_s"] - sum(out["steps_s"].values())
    return out


def _median_time(f, repeats: int) -> float:
    """Median seconds of ``repeats`` calls of ``f`` (after one untimed call when ``repeats`` > 1)."""
    if repeats > 1:
        f()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def summarise(runs: list[dict]) -> dict:
    """The target ratios of several separate processes: each ratio's median over them, and
    every process's own figures in ``runs`` (how much a ratio moves from run to run)."""
    ratios = [key for key, x in runs[0].items() if isinstance(x, float)]
    return {"N": runs[0]["N"], "rounds": runs[0]["rounds"], "env": runs[0]["env"], "repetitions": len(runs),
            **{key: float(np.median([run[key] for run in runs])) for key in ratios}, "runs": runs}


def machine() -> dict:
    from attention.experiments.benchmark_results import cpu_info

    info = {**cpu_info(), "cores": os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "date": dt.date.today().isoformat(), "load_avg_1min": os.getloadavg()[0]}
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["blas"] = f"{blas['name']} {blas.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - informative only
        info["blas"] = "unknown"
    try:
        from threadpoolctl import threadpool_info

        info["blas_kernel"] = next((p.get("architecture") for p in threadpool_info() if p["user_api"] == "blas"), None)
    except ImportError:
        info["blas_kernel"] = None
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    return info


def write_report(report: dict, out: Path | None, folder: str) -> Path:
    """Write a benchmark's ``report`` (it has a ``machine``) to ``out``, by default
    ``benchmarks/<folder>/<cpu-slug>.json``, so that each machine's results sit side by side."""
    from attention.experiments.benchmark_results import cpu_slug

    out = out or HERE / folder / f"{cpu_slug(report['machine'])}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="256,1024,4096,16384,65536")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=31, help="interleaved rounds for the target ratios")
    parser.add_argument("--repetitions", type=int, default=9,
                        help="separate processes measuring the target ratios (each with --rounds rounds)")
    parser.add_argument("--quick", action="store_true", help="small sizes only, for a smoke run")
    parser.add_argument("--separate", type=int, default=9, metavar="PAIRS",
                        help="pairs of separate processes (flash, torch) for the forward and backward ratios")
    parser.add_argument("--calls", type=int, default=15, help="timed calls in each separate process")
    parser.add_argument("--out", type=Path, help="results file (default: benchmarks/results/<cpu-slug>.json)")
    parser.add_argument("--cell", nargs=3, metavar=("IMPL", "N", "REPEATS"), help=argparse.SUPPRESS)
    parser.add_argument("--targets-only", type=int, metavar="ROUNDS", help=argparse.SUPPRESS)
    parser.add_argument("--one-library", nargs=2, metavar=("KIND", "CALLS"), help=argparse.SUPPRESS)
    parser.add_argument("--breakdown-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cell:
        print(json.dumps(cell(args.cell[0], int(args.cell[1]), int(args.cell[2]))))
        return 0
    if args.targets_only:
        print(json.dumps(targets(args.targets_only)))
        return 0
    if args.one_library:
        print(json.dumps(one_library(args.one_library[0], int(args.one_library[1]))))
        return 0
    if args.breakdown_only:
        print(json.dumps(breakdown()))
        return 0
    sizes = [256, 1024] if args.quick else [int(s) for s in args.sizes.split(",")]
    rounds = 3 if args.quick else args.rounds
    try:
        import torch  # noqa: F401

        impls = IMPLS
    except ImportError:
        impls = [i for i in IMPLS if not i.startswith("torch")]
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
                status = f"failed: killed by signal {-proc.returncode} (out of memory?)"
                results.append({"impl": impl, "N": n, "status": status})
            elif proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
                results.append({"impl": impl, "N": n, "status": f"failed: {last}"})
            else:
                results.append(json.loads(proc.stdout))
            print(results[-1].get("time_s", results[-1]["status"]), file=sys.stderr)
    repetitions = 1 if args.quick else args.repetitions
    runs = []
    for rep in range(repetitions):
        print(f"interleaved targets at N = 4096, {rounds} rounds, repetition {rep + 1}/{repetitions} ...",
              file=sys.stderr)
        proc = subprocess.run([sys.executable, __file__, "--targets-only", str(rounds)], stdout=subprocess.PIPE,
                              text=True, env={**os.environ, **QUIET_THREADS}, check=True)
        runs.append(json.loads(proc.stdout))
    print("per-tile breakdown at N = 4096 ...", file=sys.stderr)
    proc = subprocess.run([sys.executable, __file__, "--breakdown-only"], stdout=subprocess.PIPE, text=True,
                          env={**os.environ, **QUIET_THREADS}, check=True)
    report = {"machine": machine(), "E": E, "dtype": "float32", "results": results, "targets": summarise(runs),
              "breakdown": json.loads(proc.stdout)}
    if "torch" in impls:
        report["separate"] = separate(1 if args.quick else args.separate, 3 if args.quick else args.calls)
    out = write_report(report, args.out, "results")
    from attention.experiments.benchmark_results import breakdown_table, comparison_table, table

    print(table([report]))
    print()
    print(comparison_table([report]))
    print()
    print(breakdown_table([report]))
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
