"""The committed benchmark results files (one per machine): their schema, and the claims the
long-sequences note makes about them.

These check files measured once on named machines; nothing here is timed.
"""

import math

import numpy as np
import pytest

from attention.experiments.benchmark_results import (
    OPTIONAL,
    RATIOS,
    SCHEMA,
    breakdown_table,
    comparison_table,
    floor_sentence,
    load,
    machine_name,
    ratio,
    results_files,
    table,
    verdicts,
)


@pytest.fixture(scope="module")
def reports():
    return {path.stem: load(path) for path in results_files()}


@pytest.fixture(scope="module")
def amd(reports):
    return reports["amd-epyc-2core"]


@pytest.fixture(scope="module")
def intel(reports):
    return reports["intel-xeon-avx512-2core"]


def test_every_machine_is_committed_with_a_schema(reports):
    assert len(reports) >= 2  # the note compares machines, never shows one
    for name, report in reports.items():
        assert SCHEMA["machine"] <= set(report["machine"]), name
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


def test_files_written_by_the_current_script_have_every_section(intel):
    assert OPTIONAL["machine"] <= set(intel["machine"])
    assert "avx512f" in intel["machine"]["flags"] and intel["machine"]["vendor"] == "GenuineIntel"
    for section in ("separate", "breakdown"):
        assert OPTIONAL[section] <= set(intel[section])
    separate = intel["separate"]
    assert separate["repetitions"] == len(separate["runs"]) >= 9
    for key in ("flash_over_torch_forward", "flash_over_torch_backward"):
        assert separate[key] == pytest.approx(float(np.median([run[key] for run in separate["runs"]])))
    for run in separate["runs"]:  # each ratio is its own pair of processes
        assert run["flash_over_torch_forward"] == pytest.approx(run["flash forward"] / run["torch forward"])
    b = intel["breakdown"]
    assert b["bookkeeping_s"] == pytest.approx(b["flash_s"] - sum(b["steps_s"].values()))
    assert {"flash backward", "torch backward"} <= {r["impl"] for r in intel["results"]}


def cell(report, impl, n):
    return next(r for r in report["results"] if r["impl"] == impl and r["N"] == n)


def test_every_machine_covers_256_to_65536_and_every_forward_implementation(reports):
    for report in reports.values():
        assert {r["N"] for r in report["results"]} == {256, 1024, 4096, 16384, 65536}
        impls = {r["impl"] for r in report["results"]}
        assert {"naive", "stable", "sdpa", "flash", "causal flash", "torch", "torch (2-D, math)"} <= impls


def test_tables_and_figure_show_every_machine_in_both_languages(reports):
    listed = list(reports.values())
    for lang in ("en", "zh"):
        names = [machine_name(r, lang=lang) for r in listed]
        assert len(set(names)) == len(names)
        header = comparison_table(listed, lang=lang).splitlines()[0]
        assert all(name in header for name in names)
        assert table(listed, lang=lang).count("\n") == len({(r["N"], r["impl"]) for x in listed
                                                            for r in x["results"]}) + 1
        assert breakdown_table(listed, lang=lang).count("\n") == 2 + 4 + 2  # header, 4 steps, rest, flash, torch
        assert verdicts(listed, lang=lang).count("\n- ") >= 8


# --- The claims of the note's "What the numbers mean" section, against the committed files ----------


def test_claim_memory_both_directions_complete_at_65536_below_256_mib(reports, intel):
    for report in reports.values():
        assert cell(report, "flash", 65536)["peak_mib"] < 100  # "in the tens of MiB"
        assert {("naive", 65536), ("stable", 65536)} <= {(r["impl"], r["N"]) for r in report["results"]
                                                       if r["status"].startswith("skipped")}
    row = cell(intel, "flash backward", 65536)
    assert row["status"] == "ok" and row["peak_mib"] <= 256  # "below the 256 MiB target, gradients included"


def test_claim_causal_is_about_six_tenths(reports):
    for report in reports.values():
        assert 0.55 <= report["targets"]["causal_over_full"] <= 0.62  # "about 0.6"


def test_claim_forward_against_torch_differs_by_machine(reports, amd, intel):
    for report in reports.values():
        assert report["targets"]["flash_over_torch_math"] < 0.5  # "less than half its time"
        assert report["targets"]["causal_flash_over_causal_torch"] < 0.9  # "faster on causal attention"
    assert 0.95 <= amd["targets"]["flash_over_torch"] <= 1.0  # "just below 1" on the AMD EPYC
    # "on the Intel Xeon numpy takes about a fifth longer, in one process and in separate processes alike"
    assert 1.1 <= intel["targets"]["flash_over_torch"] <= 1.3
    assert 1.1 <= intel["separate"]["flash_over_torch_forward"] <= 1.3
    # ... "and there even the bare loop of numpy's steps takes longer than torch's whole kernel"
    assert intel["targets"]["bare_loop_over_torch"] > 1


def test_claim_backward_meets_its_goal_where_measured(reports, intel):
    measured = [r for r in reports.values() if ratio(r, "flash_backward_over_torch_backward")]
    assert intel in measured
    for report in measured:
        assert report["targets"]["flash_backward_over_torch_backward"] <= 0.7  # "about 0.6 of torch's time"
        assert 1.0 <= report["separate"]["flash_over_torch_backward"] <= 1.3  # "a little more than torch's"
        # "the sleep setting slows torch's backward by more than a third": compare its two medians
        in_process = report["targets"]["runs"]
        torch_interleaved = float(np.median([run["median_s"]["torch backward"] for run in in_process]))
        torch_alone = float(np.median([run["torch backward"] for run in report["separate"]["runs"]]))
        assert torch_interleaved > 4 / 3 * torch_alone
        flash_interleaved = float(np.median([run["median_s"]["flash backward"] for run in in_process]))
        flash_alone = float(np.median([run["flash backward"] for run in report["separate"]["runs"]]))
        assert flash_interleaved < flash_alone  # ... "and numpy's backward runs faster with it"


def test_claim_products_run_close_to_the_best_gemm_and_take_most_of_torchs_time(intel):
    b, runs = intel["breakdown"], intel["targets"]["runs"]
    products = b["steps_s"]["product QK^T"] + b["steps_s"]["product PV"]  # per core
    Lb, Bk = b["tile"]
    product_rate = 2 * (2 * Lb * Bk * 64) * b["tiles_per_core"] / products  # FLOP/s of one core
    gemm = float(np.median([run["median_s"]["gemm"] for run in runs]))
    gemm_rate = 4 * 4096 * 4096 * 64 / gemm / intel["machine"]["cores"]  # the best GEMM, per core
    assert product_rate >= 0.85 * gemm_rate  # "close to numpy's best GEMM rate"
    assert products > 0.5 * b["torch_s"]  # "they alone take most of torch's time"


def test_claim_against_plain_matrix_products(reports, amd, intel):
    for report in reports.values():
        assert report["targets"]["flop_rate_over_gemm_same_shapes"] > 1  # faster than the dense form's products
        assert 0.95 <= report["targets"]["flash_over_bare_loop"] <= 1.1  # the bare loop is "within a few percent"
    assert 0.8 <= amd["targets"]["flop_rate_over_gemm"] < 0.85  # "reaches 0.8 by a small margin" on the AMD EPYC
    assert intel["targets"]["flop_rate_over_gemm"] < 0.7  # "well below it" on the Intel Xeon


def test_claim_separate_processes_spread_more(intel):
    # "in separate processes the spread is larger: each process finds the machine in a different state"
    interleaved = ratio(intel, "flash_over_torch")
    separate = ratio(intel, "flash_over_torch_forward")
    assert separate["hi"] - separate["lo"] > interleaved["hi"] - interleaved["lo"]


def test_floor_sentence_numbers_add_up(intel):
    b = intel["breakdown"]
    text = floor_sentence(intel)
    products = (b["steps_s"]["product QK^T"] + b["steps_s"]["product PV"]) * 1e3
    assert f"{products:.1f} ms" in text and f"{b['torch_s'] * 1e3:.1f} ms" in text
    assert "Intel Xeon AVX-512 (2 cores)" in text
    assert set(RATIOS) >= {"bare_loop_over_torch"}
