"""How much the key/value cache speeds up decoding, as the generated sequence grows.

    .venv/bin/python benchmarks/decoding.py            # writes benchmarks/decoding/<cpu-slug>.json

Greedy decoding of a random (untrained: the speed does not depend on the weights) 2-layer
TransformerLM, from a one-token prompt, for several lengths, with the cache (each step computes
one new position) and without it (each step recomputes the whole sequence). The two runs
produce the same tokens (tests/test_transformer.py checks that); this script only times them,
median of --repeats, alternating the two so that machine noise hits both.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import machine, write_report  # noqa: E402 - the benchmark's machine description and its file

from attention import TransformerLM  # noqa: E402

LENGTHS = (32, 64, 128, 256, 512)
MODEL = {"vocab": 64, "dim": 64, "layers": 2, "heads": 4}


def measure(lengths=LENGTHS, repeats: int = 5) -> list[dict]:
    model = TransformerLM(**MODEL, max_len=max(lengths) + 1, rng=np.random.default_rng(0))
    prompt = np.zeros((1, 1), dtype=int)
    rows = []
    for n in lengths:
        times = {True: [], False: []}
        for _ in range(repeats):
            for cached in (True, False):
                start = time.perf_counter()
                model.generate(prompt, n, use_cache=cached)
                times[cached].append(time.perf_counter() - start)
        cached, full = float(np.median(times[True])), float(np.median(times[False]))
        rows.append({"tokens": n, "cached_s": cached, "uncached_s": full, "speedup": full / cached})
        print(f"{n:5d} tokens: cached {cached:.3f} s, uncached {full:.3f} s, speed-up {full / cached:.1f}x",
              file=sys.stderr)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, help="results file (default: benchmarks/decoding/<cpu-slug>.json)")
    args = parser.parse_args(argv)
    report = {"machine": machine(), "model": MODEL, "prompt_tokens": 1, "repeats": args.repeats,
              "results": measure(repeats=args.repeats)}
    print(f"wrote {write_report(report, args.out, 'decoding')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
