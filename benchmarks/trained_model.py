"""How long the page takes to run the trained character model, against numpy on the same machine.

    .venv/bin/python benchmarks/trained_model.py      # writes benchmarks/trained-model/<cpu-slug>.json

One forward pass over a full context (128 characters of the notes) of the committed model
(results/notes-lm.json): in Chromium, by the page's own code (docs/javascripts/attention-core.js,
float64), and in numpy (attention.TransformerLM, float64). Chromium opens a blank page from a
temporary folder holding the two scripts; no site build is needed. Median of --repeats runs each,
after one warm-up run. Chromium: Debian's (/usr/bin/chromium), through Playwright.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import machine, write_report  # noqa: E402 - the benchmark's machine description and its file

from attention.experiments import notes_lm  # noqa: E402

CORE = HERE.parent / "docs" / "javascripts" / "attention-core.js"
TIME_IN_PAGE = """([ids, repeats]) => {
    const model = AttentionCore.languageModel(window.NotesLMWeights), times = [];
    model.forward(ids, {});
    for (let r = 0; r < repeats; r++) {
        const start = performance.now();
        model.forward(ids, {});
        times.push(performance.now() - start);
    }
    return times;
}"""


def in_chromium(ids: list[int], repeats: int) -> tuple[list[float], str]:
    """Milliseconds of each forward pass in Chromium, and Chromium's version."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder, sync_playwright() as p:
        page_dir = Path(folder)
        shutil.copy(CORE, page_dir / "attention-core.js")
        weights = notes_lm.WEIGHTS.read_text(encoding="utf-8")
        (page_dir / "notes-lm.js").write_text(f"window.NotesLMWeights = {weights};", encoding="utf-8")
        (page_dir / "index.html").write_text('<!doctype html><script src="attention-core.js"></script>'
                                             '<script src="notes-lm.js"></script>', encoding="utf-8")
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                    args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto((page_dir / "index.html").as_uri())
        times = page.evaluate(TIME_IN_PAGE, [ids, repeats])
        version = browser.version
        browser.close()
    return times, version


def in_numpy(ids: list[int], repeats: int) -> list[float]:
    model, _ = notes_lm.load()
    batch = np.array([ids])  # (1, T)
    model.forward(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.forward(batch)
        times.append(1000 * (time.perf_counter() - start))
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, help="results file (default: benchmarks/trained-model/<cpu-slug>.json)")
    args = parser.parse_args(argv)
    _, info = notes_lm.load()
    context = info["config"]["context"]
    text = notes_lm.snapshot(info)[:context]
    ids = notes_lm.encode(info["vocab"], text).tolist()
    page_ms, chromium = in_chromium(ids, args.repeats)
    numpy_ms = in_numpy(ids, args.repeats)
    report = {"machine": machine(), "chromium": chromium, "characters": context, "repeats": args.repeats,
              "chromium_ms": float(np.median(page_ms)), "numpy_ms": float(np.median(numpy_ms))}
    report["ratio"] = report["chromium_ms"] / report["numpy_ms"]
    print(f"one forward over {context} characters: Chromium {report['chromium_ms']:.1f} ms, "
          f"numpy {report['numpy_ms']:.1f} ms, ratio {report['ratio']:.1f}", file=sys.stderr)
    print(f"wrote {write_report(report, args.out, 'trained-model')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
