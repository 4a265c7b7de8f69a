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
    assert {"naive", "stable", "sdpa", "flash", "causal flash", "torch"} <= impls


def test_flash_completes_at_65536_within_256_mib(report):
    row = next(r for r in report["results"] if r["impl"] == "flash" and r["N"] == 65536)
    assert row["status"] == "ok" and row["peak_mib"] <= 256


def test_dense_forms_are_skipped_where_they_would_not_fit(report):
    skipped = {(r["impl"], r["N"]) for r in report["results"] if r["status"].startswith("skipped")}
    assert ("naive", 65536) in skipped and ("stable", 65536) in skipped


def test_tables_render_in_both_languages(report):
    for lang in ("en", "zh"):
        assert markdown_table(report, lang=lang).count("\n") == len(report["results"]) + 1
        assert targets_table(report, lang=lang).count("|") > 10
