"""The scoring-functions note's claims against its committed results file, and the file against
what the code does (re-trained here)."""

import numpy as np
import pytest

from attention.experiments.scoring_functions import (
    CHECKPOINTS,
    SEEDS,
    load,
    mean_accuracy,
    spread,
    table,
    train_recall,
)


@pytest.fixture(scope="module")
def results():
    return load()


def test_the_file_is_what_the_code_does(results):
    # Re-train two cells of the comparison: same seed and steps give the same held-out accuracy
    # (up to one example in 2000, for another CPU's rounding).
    for scoring, n, seed in (("dot", 40, 0), ("additive", 60, 1)):
        i, j = CHECKPOINTS.index(n), SEEDS.index(seed)
        assert abs(train_recall(scoring, steps=n, seed=seed)["accuracy"]
                   - results["recall"][scoring]["accuracy"][i][j]) <= 1 / 2000
    assert results["recall"]["dot"]["steps"] == list(CHECKPOINTS) and results["seeds"] == list(SEEDS)


def test_claim_both_solve_it_and_dot_product_needs_fewer_steps(results):
    dot, additive = mean_accuracy(results, "dot"), mean_accuracy(results, "additive")
    assert dot[-1] >= 0.99 and additive[-1] >= 0.99  # "both scorings solve the task" (99 % held out, or more)
    first = lambda acc: next(n for n, a in zip(CHECKPOINTS, acc) if a >= 0.99)  # noqa: E731
    assert first(dot) < first(additive)  # "the scaled dot product gets there in fewer steps"
    assert all(d > a for d, a in zip(dot, additive) if a < 0.99)  # ahead until the additive one has solved it too


def test_claim_additive_costs_many_times_more_per_score(results):
    times = results["time_per_score_ns"]
    assert times["additive"] > 10 * times["dot"]


def test_claim_spreads_dot_grows_scaled_stays_additive_bounded():
    small, large = spread(4), spread(1024)
    assert 14 < large["dot"] / small["dot"] < 18  # "about sqrt(256) = 16"
    for s in (spread(d) for d in (4, 64, 1024)):
        assert 0.9 < s["scaled"] < 1.1 and s["additive_max"] <= s["bound"]


def test_table_renders_in_both_languages(results):
    for lang in ("en", "zh"):
        assert len(table(results, lang=lang).splitlines()) == 4
    assert np.isfinite(results["time_per_score_ns"]["dot"])
