"""attention.trainable's layers against central differences (gradcheck), and cross-entropy
against its formula."""

import numpy as np
import pytest
from test_transformer import check, rng

from attention import gradcheck
from attention.trainable import Embedding, LayerNorm, Linear, cross_entropy


def test_linear_with_and_without_bias():
    x = rng().standard_normal((2, 3, 4))
    for bias in (True, False):
        layer = Linear(4, 5, bias=bias, rng=rng())
        check(layer, layer.forward, layer.backward, x)
        assert set(layer.parameters()) == ({"weight", "bias"} if bias else {"weight"})


def test_embedding_sums_the_rows_it_used_twice_and_tied_logits():
    table = Embedding(6, 4, rng=rng())
    ids = np.array([[1, 2, 1], [5, 1, 0]])  # row 1 is used three times
    check(table, lambda _: table.forward(ids), lambda dy: table.backward(dy))
    h = rng().standard_normal((2, 3, 4))
    check(table, table.logits, table.logits_backward, h)


def test_layer_norm():
    layer = LayerNorm(5)
    layer.params["weight"][:] = rng().uniform(0.5, 1.5, 5)
    check(layer, layer.forward, layer.backward, rng().standard_normal((2, 3, 5)) * 3 + 1)


def test_cross_entropy_matches_its_formula_with_ignore_and_smoothing():
    logits = rng().standard_normal((3, 4, 5))
    targets = np.array([[0, 1, 2, 9], [4, 9, 9, 9], [1, 1, 1, 1]])
    loss, d = cross_entropy(logits, targets, ignore_index=9, label_smoothing=0.2)
    keep = targets != 9
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    want = np.full(logits.shape, 0.2 / 5)
    for idx in zip(*np.nonzero(keep)):
        want[idx][targets[idx]] += 0.8
    assert loss == pytest.approx(-(want * log_p)[keep].sum() / keep.sum(), rel=1e-12)
    assert not d[~keep].any()
    gradcheck(lambda z: cross_entropy(z, targets, ignore_index=9, label_smoothing=0.2)[:1] + ([
        cross_entropy(z, targets, ignore_index=9, label_smoothing=0.2)[1]],), logits)


