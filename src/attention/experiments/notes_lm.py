"""The vault's own character model.

It is trained by ``train-transformer --task notes-lm``; this module holds the text it learns from,
its vocabulary and held-out split, and the committed weights file the Transformer note's widget runs.

Text: the notes of both languages (``language_model.notes_text``), or the committed snapshot
``results/notes-lm.txt`` the committed weights were trained on (any note edit changes the text).

Vocabulary: ``UNKNOWN`` first, then every character the text has at least ``MIN_COUNT`` times,
in code-point order; any other character reads as ``UNKNOWN`` (shown, never dropped).

Held-out split: the text is cut into blocks of ``BLOCK`` characters and every ``HELD_OUT_EVERY``-th
block is held out; a training window never touches one. The held-out loss is the mean cross-entropy
(nats per character) over the held-out blocks cut into windows of ``context + 1`` characters (each
window predicts its last ``context`` characters from the ones before them in the window).

Weights file (JSON, readable from numpy and from the page's script): ``format``, ``config``,
``vocab``, ``tensors`` (name -> ``{"shape", "data"}``, data the base64 of little-endian float32, C
order, names as ``TransformerLM.parameters()``), and the run's ``provenance``, ``losses`` and ``evals``.
The claims in it (held-out loss) are computed from the float32 weights as stored.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shlex
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..trainable import cross_entropy
from ..transformer import TransformerLM
from . import PROJECT
from .benchmark_results import machine_summary

UNKNOWN = "\ufffd"  #: the vocabulary's entry 0: a character the vocabulary lacks (the replacement character)
MIN_COUNT = 3  #: rarer characters read as UNKNOWN
BLOCK, HELD_OUT_EVERY = 1024, 10  #: every 10th block of 1024 characters is held out
FORMAT = "attention notes-lm weights v1: JSON; tensors little-endian float32, base64, C order"
#: The committed weights and, next to them, the text they were trained on.
WEIGHTS = PROJECT / "results" / "notes-lm.json"
#: What ``train-transformer --task notes-lm`` trains unless told otherwise (dim, layers, heads: ``Config``'s).
SETTINGS: dict[str, Any] = {"batch": 16, "lr": 3e-3, "hidden": 256, "context": 128, "steps": 2500}


@dataclass
class Corpus:
    """A text as the model reads it."""

    text: str
    vocab: list[str]
    ids: np.ndarray  #: (N,) character ids
    held: np.ndarray  #: (N,) True where the character is in a held-out block


def vocabulary(text: str, min_count: int = MIN_COUNT) -> list[str]:
    """Return the characters seen at least ``min_count`` times, in order of first appearance."""
    return [UNKNOWN] + sorted(c for c, n in Counter(text).items() if n >= min_count)


def encode(vocab: list[str], text: str) -> np.ndarray:
    """Ids (N,) of ``text``; characters outside ``vocab`` get id 0 (UNKNOWN)."""
    index = {c: i for i, c in enumerate(vocab)}
    return np.array([index.get(c, 0) for c in text], dtype=np.int64)


def kept(weights: np.ndarray | None) -> np.ndarray:
    """Return the attention weights a layer kept in its last forward pass (``Attention.keep_weights``)."""
    if weights is None:
        raise ValueError("the layer kept no attention weights: set its keep_weights = True before the forward pass")
    return weights


def decode(vocab: list[str], ids: Iterable[int]) -> str:
    """Turn token ids back into text."""
    return "".join(vocab[int(i)] for i in ids)


def corpus(text: str) -> Corpus:
    """Split ``text`` into its vocabulary, token ids and held-out characters."""
    vocab = vocabulary(text)
    held = (np.arange(len(text)) // BLOCK) % HELD_OUT_EVERY == HELD_OUT_EVERY - 1  # (N,)
    return Corpus(text, vocab, encode(vocab, text), held)


def training_starts(held: np.ndarray, context: int) -> np.ndarray:
    """Return the starts of every window of ``context + 1`` characters that touches no held-out character."""
    touched = np.concatenate([[0], np.cumsum(held)])  # (N + 1,) held-out characters before each position
    starts = np.arange(len(held) - context)  # (N - T,)
    return starts[touched[starts + context + 1] == touched[starts]]


def held_out_windows(data: Corpus, context: int) -> np.ndarray:
    """(W, context + 1): each held-out block cut into whole windows, one after the other."""
    windows = []
    for start in range(0, len(data.ids), BLOCK):
        if data.held[start]:
            block = data.ids[start:start + BLOCK]
            windows += [block[s:s + context + 1] for s in range(0, len(block) - context, context)]
    return np.array(windows)


def held_out_loss(model: TransformerLM, data: Corpus, context: int) -> float:
    """Mean cross-entropy per held-out character (nats), see the module's docstring."""
    parts = np.array_split(held_out_windows(data, context), 8)  # (W, T + 1) in 8 batches
    losses = [cross_entropy(model.forward(w[:, :-1]), w[:, 1:])[0] for w in parts]
    return float(np.average(losses, weights=[len(w) for w in parts]))


class Run(Protocol):
    """What :func:`save` reads of a training run (a ``language_model.Result``)."""

    model: TransformerLM
    corpus: Corpus | None
    config: Any  #: the run's ``language_model.Config``
    losses: list[Any]
    evals: list[Any]
    seconds: float


def _tensor(x: np.ndarray) -> dict[str, Any]:
    return {"shape": list(x.shape), "data": base64.b64encode(np.ascontiguousarray(x, "<f4").tobytes()).decode()}


def save(result: Run, path: Path, *, command: str) -> None:
    """Write a notes-lm run's weights file and its text.

    Write the weights file ``path`` and the text it was trained on next to it (``path`` with ``.txt``).
    The model is first rounded to float32, as stored, so that every number the file claims holds for
    the weights a reader loads.
    """
    model, data, config = result.model, result.corpus, result.config
    if data is None:
        raise ValueError("the run has no corpus: only a notes-lm run is saved as a weights file")
    for x in model.parameters().values():
        x[...] = x.astype(np.float32)
    text_file = path.with_suffix(".txt")
    info = {"format": FORMAT, "config": asdict(config), "vocab": data.vocab,
            "tensors": {name: _tensor(x) for name, x in model.parameters().items()},
            "provenance": {"command": command, "seed": config.seed, "steps": len(result.losses),
                           "held_out_loss": held_out_loss(model, data, config.context),
                           "held_out_characters": int(data.held.sum()), "characters": len(data.text),
                           "train_loss_last_50": float(np.mean(result.losses[-50:])),
                           "seconds": round(result.seconds, 1), "machine": machine_summary(),
                           "text": text_file.name, "text_sha256": hashlib.sha256(data.text.encode()).hexdigest()},
            "losses": result.losses[:20] + result.losses[20::10], "evals": result.evals}
    path.parent.mkdir(parents=True, exist_ok=True)
    text_file.write_text(data.text, encoding="utf-8", newline="")
    path.write_text(json.dumps(info, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def loss_steps(info: dict[str, Any]) -> list[int]:
    """Return the step of each loss the file keeps: the first 20, then every 10th."""
    n = len(info["losses"])
    return list(range(1, min(n, 20) + 1)) + list(range(21, 21 + 10 * (n - 20), 10))


def load(path: Path = WEIGHTS) -> tuple[TransformerLM, dict[str, Any]]:
    """Load the model of a weights file, in float64, with the file's contents."""
    info = json.loads(Path(path).read_text(encoding="utf-8"))
    c = info["config"]
    model = TransformerLM(len(info["vocab"]), c["dim"], c["layers"], c["heads"], max_len=c["context"],
                          hidden=c["hidden"], rng=np.random.default_rng(0))
    params = model.parameters()
    if set(params) != set(info["tensors"]):
        raise ValueError(f"{path}: tensors {sorted(info['tensors'])} do not match the model's {sorted(params)}")
    for name, t in info["tensors"].items():
        params[name][...] = np.frombuffer(base64.b64decode(t["data"]), "<f4").reshape(t["shape"])
    return model, info


def snapshot(info: dict[str, Any], path: Path = WEIGHTS) -> str:
    """Return the text a weights file was trained on (its ``.txt`` neighbour), checked against the file's sha256."""
    text = (Path(path).parent / info["provenance"]["text"]).read_text(encoding="utf-8")
    if hashlib.sha256(text.encode()).hexdigest() != info["provenance"]["text_sha256"]:
        raise ValueError(f"{info['provenance']['text']} is not the text {path} was trained on (sha256 differs)")
    return text


def command_line(argv: list[str]) -> str:
    """Return the command line that made a weights file, as a reader would type it."""
    return "python -m attention " + shlex.join(argv)


def unigram_loss(data: Corpus, context: int) -> float:
    """Return the held-out loss of a unigram model: what the model has to beat.

    The held-out loss of knowing only how often each character occurs in the training text
    (add-one counts): what the model has to beat.
    """
    counts = np.bincount(data.ids[~data.held], minlength=len(data.vocab)) + 1
    return float(-np.log(counts / counts.sum())[held_out_windows(data, context)[:, 1:]].mean())


def samples(model: TransformerLM, vocab: list[str], prompt: str, *, temperatures: Sequence[float] = (0.5, 0.8, 1.0),
            length: int = 120, seed: int = 0) -> dict[float, str]:
    """Generate text from ``prompt`` at each temperature, with ``model`` and its characters ``vocab``.

    A character outside the vocabulary reads as ``UNKNOWN``, and a prompt longer than the context keeps its end.
    """
    ids = encode(vocab, prompt)[-(model.max_len - 1):][None, :]  # (1, T0)
    out: dict[float, str] = {}
    for temperature in temperatures:
        tokens = model.generate(ids, min(length, model.max_len - ids.shape[1]), temperature=temperature,
                                rng=np.random.default_rng(seed))[0]
        out[temperature] = decode(vocab, tokens)
    return out
