"""The trends docs/{zh,en}/notes/scaling.md states, asserted on the experiment's own output."""

import math
import os

import pytest

from attention.cli import main
from attention.experiments.scaling import D_KS, measure, run, table

pytestmark = pytest.mark.usefixtures("one_blas_thread")  # training and gradient checks: many small matrix products


@pytest.fixture(scope="module")
def results():
    by = {}
    for m in run():
        by.setdefault(m.scale, []).append(m)
    return by


def test_grid_covers_4_to_1024_for_three_scales(results):
    assert set(results) == {"1", "1/sqrt(d_k)", "1/d_k"}
    for rows in results.values():
        assert [m.d_k for m in rows] == list(D_KS) and D_KS[0] == 4 and D_KS[-1] == 1024


def test_unscaled_score_std_grows_like_sqrt_dk(results):
    for m in results["1"]:
        assert abs(m.score_std / math.sqrt(m.d_k) - 1) < 0.1  # Var(q.k) = d_k


def test_unscaled_softmax_saturates_and_its_gradient_vanishes(results):
    rows = results["1"]
    entropy = [m.entropy for m in rows]
    assert all(a > b for a, b in zip(entropy, entropy[1:])), "entropy must fall as d_k grows"
    assert entropy[-1] < 0.05
    assert rows[-1].max_weight > 0.9
    assert rows[-1].score_grad < 0.3 * rows[0].score_grad


def test_sqrt_scaling_keeps_everything_order_one(results):
    rows = results["1/sqrt(d_k)"]
    for m in rows:
        assert 0.9 < m.score_std < 1.1
    entropy = [m.entropy for m in rows]
    grads = [m.score_grad for m in rows]
    assert max(entropy) - min(entropy) < 0.03
    assert max(grads) / min(grads) < 1.15
    assert 0.5 < min(m.query_grad for m in rows) and max(m.query_grad for m in rows) < 1.0


def test_over_scaling_makes_attention_uniform_and_starves_the_query(results):
    rows = results["1/d_k"]
    assert rows[-1].entropy > 0.99
    q = [m.query_grad for m in rows]
    assert all(a > b for a, b in zip(q[2:], q[3:]))
    assert q[-1] < 0.1 * results["1/sqrt(d_k)"][-1].query_grad


def test_exercise_any_c_over_sqrt_dk_keeps_entropy_constant():
    # The note's exercise: scale = c / sqrt(d_k) keeps the score distribution, hence the entropy, fixed.
    # (From d_k = 16 on: with only 4 terms, q.k is far from Gaussian and its tails differ.)
    for c in (0.5, 2.0):
        entropy = [measure(d_k, c / math.sqrt(d_k)).entropy for d_k in (16, 128, 1024)]
        assert max(entropy) - min(entropy) < 0.03
    # ...while a scale that does not go like 1/sqrt(d_k) does not:
    entropy = [measure(d_k, 1 / d_k**0.25).entropy for d_k in (16, 128, 1024)]
    assert max(entropy) - min(entropy) > 0.2


def test_table_in_both_languages():
    en, zh = table(lang="en"), table(lang="zh")
    assert en.count("\n") == zh.count("\n") == 1 + 3 * 3  # header, rule, 3 d_k x 3 scales
    assert "entropy" in en and "熵" in zh


def test_bad_scale_name():
    with pytest.raises(ValueError, match="scale must be one of"):
        measure(4, "sqrt")


@pytest.mark.slow  # the whole experiment and a plot: make test, not make quick
def test_cli_prints_table_progress_and_plot(tmp_path, capsys):
    path = tmp_path / "scaling.png"
    assert main(["scaling", "--plot", str(path)]) == 0
    captured = capsys.readouterr()
    assert "| 1024 | `1/sqrt(d_k)` |" in captured.out
    assert "[9/9] d_k=1024" in captured.err
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cjk_font_available_for_chinese_labels():
    from attention.experiments.plotting import has_cjk_font

    if os.environ.get("CI") != "true" and not has_cjk_font():
        pytest.skip("no CJK font here (Debian: fonts-noto-cjk); CI installs one")
    assert has_cjk_font()


def test_claims_about_where_the_gradient_goes():
    from attention.experiments.scaling import gradient_by_key

    raw, scaled = gradient_by_key(1024, "1"), gradient_by_key(1024, "1/sqrt(d_k)")
    q, keys = raw["query"], raw["keys"]
    assert abs(q["top"] - q["runner_up"]) < 0.1 * q["top"]  # "in nearly equal parts"
    assert min(q["top"], q["runner_up"]) > 5 * q["rest"]  # the other 62 together add little
    assert keys["rest"] < 0.01 * keys["top"]  # "every other key gets almost no gradient of its own"
    assert scaled["query"]["rest"] > max(scaled["query"]["top"], scaled["query"]["runner_up"])  # scaled: spread out


def test_claims_of_the_correction(results):
    by = {(m.d_k, m.scale): m for rows in results.values() for m in rows}
    raw64, sc64, raw1024, sc1024 = by[64, "1"], by[64, "1/sqrt(d_k)"], by[1024, "1"], by[1024, "1/sqrt(d_k)"]
    assert raw64.entropy < 0.2 < 0.8 < sc64.entropy  # softmax saturates first
    assert abs(raw64.score_grad / sc64.score_grad - 1) < 0.05  # "not yet smaller there"
    assert 0.3 < raw1024.score_grad / sc1024.score_grad < 0.36  # "a third at d_k = 1024"
    assert 9 < raw1024.query_grad / sc1024.query_grad < 11  # "ten times too large"


def test_exercise_three_prediction_for_every_dk_from_64_on(results):
    for m in results["1"]:
        if m.d_k >= 64:
            assert abs(m.query_grad / (m.score_grad * math.sqrt(m.d_k)) - 1) < 0.05, m.d_k


def test_three_exercises_in_both_languages():
    from pathlib import Path

    for lang in ("zh", "en"):
        text = (Path(__file__).parents[1] / "docs" / lang / "notes" / "scaling.md").read_text(encoding="utf-8")
        assert text.count("> [!question]-") == 3 and text.count("> [!success]-") == 3, lang


def test_widget_state_and_table_tell_the_notes_story():
    import json
    import re

    from attention.experiments.scaling import D_KS, WIDGET_KEYS, widget, widget_row, widget_table

    html = widget(lang="en")
    state = json.loads(re.search(r'<script type="application/json">(.*)</script>', html).group(1))
    assert state["dks"] == list(D_KS) and all(len(row) == WIDGET_KEYS for row in state["raw"])
    assert [s["name"] for s in state["scales"]] == ["1", "1/sqrt(d_k)", "1/d_k"]
    assert 'data-widget="scaling"' in html and "widget-caption" in html
    # The caption's story on the widget's own row: unscaled, the weights collapse onto one key and
    # the Jacobian's norm collapses with them as d_k grows; with 1/sqrt(d_k) they stay put.
    raw4, raw1024 = widget_row(4, "1"), widget_row(1024, "1")
    assert raw1024["max"] > 0.99 and raw1024["jacobian"] < 0.01 < raw4["jacobian"]
    scaled = [widget_row(d, "1/sqrt(d_k)")["jacobian"] for d in (4, 64, 1024)]
    assert max(scaled) - min(scaled) < 0.1
    for lang in ("en", "zh"):
        assert len(widget_table(lang=lang).splitlines()) == 2 + 3 * 3  # header, rule, 3 d_k x 3 scales
