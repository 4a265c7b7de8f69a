"""The committed benchmark results file: its schema, and the claims the note makes about it.

These check a file measured once on a named machine; nothing here is timed.
"""

import math

import numpy as np
import pytest

from attention.experiments.long_sequences import RESULTS, SCHEMA, load, runs_meeting, table, targets_table


@pytest.fixture(scope="module")
def report():
    return load(RESULTS)


def test_schema(report):
    assert SCHEMA["machine"] <= set(report["machine"])
    assert report["E"] == 64 and report["dtype"] == "float32"
    for row in report["results"]:
        assert SCHEMA["cell"] <= set(row)
        if row["status"] == "ok":
            assert SCHEMA["timed_cell"] <= set(row)
            assert row["time_s"] > 0 and math.isfinite(row["gflops"]) and row["peak_mib"] >= 0
        else:
            assert row["status"].startswith(("skipped", "failed"))
    targets = report["targets"]
    assert SCHEMA["targets"] <= set(targets)
    assert targets["repetitions"] == len(targets["runs"]) >= 3
    for run in targets["runs"]:
        assert SCHEMA["run"] <= set(run) and run["rounds"] == targets["rounds"]
    for key in ("flop_rate_over_gemm", "causal_over_full"):  # the summary is the median of the runs
        assert targets[key] == pytest.approx(float(np.median([run[key] for run in targets["runs"]])))


def test_covers_256_to_65536_and_every_implementation(report):
    sizes = {r["N"] for r in report["results"]}
    assert min(sizes) == 256 and max(sizes) == 65536
    impls = {r["impl"] for r in report["results"]}
    assert {"naive", "stable", "sdpa", "flash", "causal flash", "torch", "torch (2-D, math)"} <= impls


def cell(report, impl, n):
    return next(r for r in report["results"] if r["impl"] == impl and r["N"] == n)


def test_flash_completes_at_65536_within_256_mib(report):
    row = cell(report, "flash", 65536)
    assert row["status"] == "ok" and row["peak_mib"] <= 256
    assert row["peak_mib"] < 100  # the note: "in the tens of MiB"


def test_dense_forms_are_skipped_where_they_would_not_fit(report):
    skipped = {(r["impl"], r["N"]) for r in report["results"] if r["status"].startswith("skipped")}
    assert ("naive", 65536) in skipped and ("stable", 65536) in skipped


def test_tables_render_in_both_languages(report):
    for lang in ("en", "zh"):
        assert table(report, lang=lang).count("\n") == len(report["results"]) + 1
        assert targets_table(report, lang=lang).count("|") > 10


# --- The claims of the note's "What the numbers mean" section, against the committed file ----------


def test_claim_causal_below_six_tenths_in_every_run(report):
    # "nine separate processes"
    assert runs_meeting(report, "causal_over_full") == report["targets"]["repetitions"] == 9


def test_claim_against_torch(report):
    t = report["targets"]
    assert t["flash_over_torch_math"] < 0.5  # "less than half its time"
    assert 0.95 <= t["flash_over_torch"] <= 1.0  # "the median ratio is just below 1" ...
    assert t["repetitions"] / 2 < runs_meeting(report, "flash_over_torch") < t["repetitions"]  # "most runs, not all"
    for n in (16384, 65536):  # "numpy is the faster of the two at N = 16,384 and 65,536"
        assert cell(report, "flash", n)["time_s"] < cell(report, "torch", n)["time_s"]
    ratio = cell(report, "flash", 4096)["time_s"] / cell(report, "torch", 4096)["time_s"]
    assert abs(ratio - 1) < 0.06  # "a few percent"
    assert t["causal_flash_over_causal_torch"] < 0.9  # "clearly faster" on causal attention
    assert cell(report, "torch (2-D, math)", 65536)["status"].startswith("skipped")


def test_claim_against_plain_matrix_products(report):
    t = report["targets"]
    assert t["flop_rate_over_gemm_same_shapes"] > 1  # faster than the dense form's two products
    assert 0.8 <= t["flop_rate_over_gemm"] < 0.85  # "reaches 0.8 by a small margin: the median is just above" ...
    assert t["repetitions"] / 2 < runs_meeting(report, "flop_rate_over_gemm") < t["repetitions"]  # "most runs, not all"
    assert 0.95 <= t["flash_over_bare_loop"] <= 1.05  # the bare loop is "within a few percent"
