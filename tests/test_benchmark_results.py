"""The committed benchmark results file: its schema, and the claims the note makes about it.

These check a file measured once on a named machine; nothing here is timed.
"""

import math

import pytest

from attention.experiments.longseq import RESULTS, SCHEMA, load, markdown_table, targets_table


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
    assert SCHEMA["targets"] <= set(report["targets"])


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
        assert markdown_table(report, lang=lang).count("\n") == len(report["results"]) + 1
        assert targets_table(report, lang=lang).count("|") > 10


# --- The claims of the note's "What the numbers mean" section, against the committed file ----------


def test_claim_causal_below_six_tenths(report):
    assert report["targets"]["causal_over_full"] <= 0.6


def test_claim_against_torch(report):
    t = report["targets"]
    assert t["flash_over_torch_math"] < 0.5  # "less than half its time"
    assert 0.9 <= t["flash_over_torch"] <= 1.1  # "within 10%" of the fused kernel ...
    for n in (4096, 16384, 65536):  # ... "at every N from 4096 on"
        assert 0.9 <= cell(report, "flash", n)["time_s"] / cell(report, "torch", n)["time_s"] <= 1.1
    assert t["causal_flash_over_causal_torch"] < 0.9  # "clearly faster" on causal attention
    assert cell(report, "torch (2-D, math)", 65536)["status"].startswith("skipped")


def test_claim_against_plain_matrix_products(report):
    t = report["targets"]
    assert t["flop_rate_over_gemm_same_shapes"] > 1  # faster than the dense form's two products
    assert 0.7 <= t["flop_rate_over_gemm"] < 0.8  # "about three quarters", target not met
    assert 1.0 <= t["flash_over_bare_loop"] <= 1.1  # the bare loop is "a few percent" faster at most


def test_claim_small_n_a_couple_of_milliseconds_at_most(report):
    rows = [r for r in report["results"] if r["N"] == 256 and r["status"] == "ok"]
    assert rows and all(r["time_s"] < 2e-3 for r in rows)


def test_interleaved_run_quieted_idle_threads(report):
    assert report["targets"]["env"] == {"OPENBLAS_THREAD_TIMEOUT": "4", "OMP_WAIT_POLICY": "PASSIVE"}
