"""The vault's own character model (experiments/notes_lm.py): the committed weights file and what it
claims, the run that made it, the vocabulary and held-out split, and the head patterns the
Transformer note reports (the widget that runs it in the page: tests/site/test_widgets.py)."""

from __future__ import annotations

import hashlib
import json
import unicodedata

import numpy as np
import pytest

from attention.cli import main
from attention.experiments import language_model as lm
from attention.experiments import notes_lm, trained_model


@pytest.fixture(scope="module")
def committed():
    model, info = notes_lm.load()
    return model, info, notes_lm.snapshot(info)


def test_the_weights_file_is_small_documented_and_names_its_text(committed):
    _, info, text = committed
    assert notes_lm.WEIGHTS.stat().st_size <= 1.5e6
    assert info["format"] == notes_lm.FORMAT
    prov = info["provenance"]
    assert prov["command"].startswith("python -m attention train-transformer --task notes-lm --seed 0 --out ")
    assert prov["seed"] == info["config"]["seed"] == 0 and prov["steps"] == info["config"]["steps"]
    assert 0 < prov["seconds"] <= 600 and prov["machine"]["cores"] >= 1 and prov["machine"]["cpu"]
    assert prov["text_sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert prov["characters"] == len(text)
    # The vocabulary covers both languages: Chinese characters, Latin letters, digits, and $ for the math.
    vocab = info["vocab"]
    assert vocab[0] == notes_lm.UNKNOWN and len(set(vocab)) == len(vocab)
    assert sum(unicodedata.name(c, "").startswith("CJK UNIFIED") for c in vocab) > 300
    assert set("abcdefghijklmnopqrstuvwxyzQKVLSE0123456789$()[]{} \n") <= set(vocab)


def test_the_committed_weights_give_the_held_out_loss_the_file_claims(committed, one_blas_thread):
    model, info, text = committed
    data = notes_lm.corpus(text)
    assert data.vocab == info["vocab"]  # the vocabulary follows from the text
    loss = notes_lm.held_out_loss(model, data, info["config"]["context"])
    assert loss == pytest.approx(info["provenance"]["held_out_loss"], rel=1e-9)
    # Better than knowing only how often each character occurs (a unigram model of the training text).
    unigram = notes_lm.unigram_loss(data, info["config"]["context"])
    assert loss < unigram - 1.0, (loss, unigram)
    assert info["provenance"]["held_out_characters"] == int(data.held.sum()) > 0.05 * len(text)


def test_the_command_reproduces_the_start_of_the_recorded_run(committed, tmp_path, one_blas_thread, capsys):
    """The first steps of `train-transformer --task notes-lm` on the committed text, with the recorded
    settings, give the losses the file recorded for them."""
    _, info, _ = committed
    out = tmp_path / "start.json"
    main(["train-transformer", "--task", "notes-lm", "--seed", "0", "--steps", str(info["config"]["steps"]),
          "--text", str(notes_lm.WEIGHTS.with_suffix(".txt")), "--until", "3", "--out", str(out)])
    again = json.loads(out.read_text(encoding="utf-8"))
    assert again["config"] == info["config"] and again["vocab"] == info["vocab"]
    np.testing.assert_allclose(again["losses"], info["losses"][:3], rtol=1e-9)
    assert (tmp_path / "start.txt").read_text(encoding="utf-8") == notes_lm.snapshot(info)
    printed = capsys.readouterr()
    assert "task=notes-lm" in printed.out and "steps=3" in printed.out and "step 3/3" in printed.err


def test_unknown_characters_stay_visible_and_long_prompts_keep_their_end():
    vocab = [notes_lm.UNKNOWN, " ", "a", "b"]
    ids = notes_lm.encode(vocab, "a😀 b")
    assert ids.tolist() == [2, 0, 1, 3]
    assert notes_lm.decode(vocab, ids) == "a\ufffd b"
    model = lm.model_for(lm.Config(dim=8, heads=2, hidden=16), len(vocab), 6)
    out = notes_lm.samples(model, vocab, "ab" * 10 + "😀", temperatures=(0.5,), length=3)[0.5]
    assert out.startswith("abab\ufffd") and len(out) == 6  # the prompt's last 5 characters, then 1 more


def test_training_windows_never_touch_a_held_out_block():
    held = np.zeros(40, dtype=bool)
    held[10:20] = True
    starts = notes_lm.training_starts(held, 4).tolist()  # windows of 5 characters
    assert starts == [0, 1, 2, 3, 4, 5] + list(range(20, 36))
    data = notes_lm.corpus("".join(chr(65 + i % 26) for i in range(3 * notes_lm.BLOCK * notes_lm.HELD_OUT_EVERY)))
    held_blocks = {i // notes_lm.BLOCK for i in np.flatnonzero(data.held)}
    assert held_blocks == {9, 19, 29}
    windows = notes_lm.held_out_windows(data, 128)
    assert windows.shape == (3 * 7, 129)  # 7 whole windows of 129 in a block of 1024, overlapping by one


def test_head_patterns_mark_the_keys_each_pattern_looks_at():
    t = trained_model.pattern_targets(list("ab ab"))
    where = {name: sorted(zip(*np.nonzero(m))) for name, m in t.items()}
    assert where["previous"] == [(1, 0), (2, 1), (3, 2), (4, 3)]
    assert where["self"] == [(i, i) for i in range(5)]
    assert where["first"] == [(i, 0) for i in range(1, 5)]
    assert where["last_space"] == [(3, 2), (4, 2)]
    assert where["same"] == [(3, 0), (4, 1)]  # the second a and b see the first ones
    assert where["after_same"] == [(3, 1), (4, 2)]  # what followed the earlier a (b) and b (space)


def test_an_exact_previous_character_head_scores_one(monkeypatch):
    """head_scores on weights that put everything on the previous character (1 at the first query)."""
    T, text = 8, "abcabcab" * 2 * notes_lm.BLOCK
    data = notes_lm.corpus(text[: notes_lm.BLOCK * notes_lm.HELD_OUT_EVERY])
    model = lm.model_for(lm.Config(dim=8, layers=1, heads=2, hidden=16), len(data.vocab), T)
    previous = np.eye(T, k=-1)
    previous[0, 0] = 1
    uniform = np.tril(np.ones((T, T))) / np.arange(1, T + 1)[:, None]
    monkeypatch.setattr(trained_model, "attention_maps",
                        lambda model, ids: np.broadcast_to(np.stack([previous, uniform])[None, None],
                                                           (len(ids), 1, 2, T, T)))
    scores = trained_model.head_scores(model, data, T)
    p = trained_model.PATTERNS.index("previous")
    assert scores["share"][0, 0, p] == pytest.approx(1.0)
    assert scores["share"][0, 1, p] == pytest.approx(scores["even"][p])  # spread evenly: the baseline itself
    assert scores["even"][p] == pytest.approx(np.mean(1 / np.arange(2, T + 1)))
    assert trained_model.notable_heads(scores)[0][:3] == (0, 0, "previous")


def test_the_widget_examples_are_sentences_of_the_notes(committed):
    _, _, text = committed
    for sentences in trained_model.EXAMPLES.values():
        for sentence in sentences:
            assert sentence in text, sentence
    assert any(len(s) > 128 for s in trained_model.EXAMPLES["en"])  # one shows the window at work
