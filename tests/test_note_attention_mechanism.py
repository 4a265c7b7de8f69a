"""Claims of docs/{zh,en}/notes/attention-mechanism.md that its python blocks do not check themselves."""

from pathlib import Path

import numpy as np
import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_exercise_answer_scale_for_variance_sigma_squared():
    # Answer: scale = 1 / (sigma^2 sqrt(d_k)) brings Var(scale * q.k) back to 1.
    rng = np.random.default_rng(0)
    for sigma, d_k in [(0.5, 16), (2.0, 64), (3.0, 256)]:
        q = sigma * rng.standard_normal((20000, d_k))
        k = sigma * rng.standard_normal((20000, d_k))
        scaled = (q * k).sum(axis=1) / (sigma**2 * np.sqrt(d_k))
        assert abs(scaled.var() - 1.0) < 0.05


def test_both_languages_state_the_same_answer():
    for lang in ("zh", "en"):
        text = (DOCS / lang / "notes" / "attention-mechanism.md").read_text(encoding="utf-8")
        assert r"\dfrac{1}{\sigma^2 \sqrt{d_k}}" in text
        assert "[!success]-" in text and "[!question]-" in text


def test_seed_code_example_matches_seed_inputs():
    # The note must use the source note's exact example inputs.
    shared = DOCS.parents[1] / "shared"  # the steering repository's shared/, beside this checkout, when present
    seed = next((shared / "seed").glob("*.txt"), None) if shared.exists() else None
    for lang in ("zh", "en"):
        text = (DOCS / lang / "notes" / "attention-mechanism.md").read_text(encoding="utf-8")
        assert ">>> Q = np.array([[1, 0, 1]])" in text
        assert ">>> K = np.array([[1, 0, 1], [0, 1, 0]])" in text
        assert ">>> V = np.array([[0.5, 0.5], [0.1, 0.9]])" in text
    if seed is not None:
        source = seed.read_text(encoding="utf-8")
        for literal in ("[[1, 0, 1]]", "[[1, 0, 1], [0, 1, 0]]", "[[0.5, 0.5], [0.1, 0.9]]"):
            assert literal in source


def test_demo_prints_the_source_note_example(capsys, tmp_path):
    from attention import scaled_dot_product_attention
    from attention.cli import main

    assert main(["demo", "--plot", str(tmp_path / "demo.png")]) == 0
    printed = capsys.readouterr().out
    out = scaled_dot_product_attention([[1, 0, 1]], [[1, 0, 1], [0, 1, 0]], np.array([[0.5, 0.5], [0.1, 0.9]]))
    assert np.array2string(out, precision=4) in printed
    assert (tmp_path / "demo.png").stat().st_size > 0


def test_experiment_table_shows_the_overflow():
    from attention.experiments.attention_mechanism import measure, table

    assert np.isnan(measure(40)["naive"]).all() and np.allclose(measure(40)["output"], [[0.5, 0.5]])
    np.testing.assert_allclose(measure(1)["naive"], measure(1)["output"])
    for lang in ("en", "zh"):
        assert table(lang=lang).count("\n") == 3 and "nan" in table(lang=lang)


def test_exercise_answers():
    from attention import softmax

    weights = softmax(np.array([2.0, 0.0]))
    limit = float(np.log(np.finfo(np.float32).max))
    stable = softmax(np.array([100.0, 99.0, 0.0], dtype=np.float32))
    with np.errstate(over="ignore", invalid="ignore"):
        scores = np.array([100.0, 99.0, 0.0], dtype=np.float32)
        naive = np.exp(scores) / np.exp(scores).sum()
    assert np.isnan(naive[:2]).all() and 1e-45 < stable[2] < 1e-43
    for lang in ("zh", "en"):
        text = (DOCS / lang / "notes" / "attention-mechanism.md").read_text(encoding="utf-8")
        exercises = text[text.index("## 练习" if lang == "zh" else "## Exercises"):]
        assert exercises.count("[!question]-") == 3 and exercises.count("[!success]-") == 3
        gap = float(np.log(99))  # exercise 2: the score gap that puts 0.99 on one of two keys
        assert softmax(np.array([gap, 0.0]))[0] == pytest.approx(0.99) and gap < np.sqrt(64)
        for number in (f"{weights[0]:.4f}", f"{limit:.2f}", f"{stable[0]:.4f}", f"{stable[1]:.4f}", f"{gap:.3f}"):
            assert number in exercises, (lang, number)
        assert "0.7604" in exercises  # the scaled weight it is compared with


def test_widgets_carry_the_source_example_and_a_sentence_per_language():
    import json
    import re

    from attention.experiments.attention_mechanism import SENTENCE, WIDGET_TEXT, map_state, map_widget, source_widget

    for lang in ("en", "zh"):
        state = map_state(lang=lang)
        n = len(SENTENCE[lang])
        assert np.shape(state["Q"]) == np.shape(state["K"]) == (n, 8)
        assert state["selected"] == 0  # not a pronoun: a random row would read as learnt coreference
        assert "trained" in WIDGET_TEXT[lang]["map_caption"] or "训练" in WIDGET_TEXT[lang]["map_caption"]
        for html in (map_widget(lang=lang), source_widget(lang=lang)):
            data = json.loads(re.search(r'<script type="application/json">(.*)</script>', html).group(1))
            assert set(data["labels"].values()) <= set(WIDGET_TEXT[lang].values())  # labelled in the page's language
    data = json.loads(re.search(r'<script type="application/json">(.*)</script>', source_widget()).group(1))
    assert data["Q"] == [[1, 0, 1]] and data["factor"] == 40  # the source note's example, and the note's x40


def test_embed_escapes_what_could_end_the_script_element():
    from attention.experiments.widgets import embed

    html = embed("x", {"text": "</script><b>", "n": np.float32(1.5)}, "a <caption>")
    assert "</script><b>" not in html.split('application/json">', 1)[1].rsplit("</script>", 1)[0]
    assert "a &lt;caption&gt;" in html and '"n":1.5' in html
