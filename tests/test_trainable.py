"""attention.trainable's layers against central differences (gradcheck), and cross-entropy
against its formula."""

import numpy as np
import pytest
from test_transformer import check, rng

from attention import gradcheck
from attention.trainable import Embedding, LayerNorm, Linear, cross_entropy

pytestmark = pytest.mark.usefixtures("one_blas_thread")  # training and gradient checks: many small matrix products


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




def test_initialisations_are_torchs_bounds_and_unit_normal_embeddings():
    layer = Linear(64, 200, rng=rng())
    w, bound = layer.params["weight"], 1 / 8  # uniform in +-1/sqrt(in)
    assert np.abs(w).max() <= bound and w.min() < -0.95 * bound and w.max() > 0.95 * bound
    table = Embedding(500, 40, rng=rng())
    assert 0.97 < table.params["weight"].std() < 1.03 and abs(table.params["weight"].mean()) < 0.02


def test_layer_norm_of_a_constant_row_is_finite():
    ln = LayerNorm(4)
    np.testing.assert_array_equal(ln.forward(np.full((2, 4), 3.0)), 0.0)  # variance 0: eps keeps it finite
    assert np.isfinite(ln.backward(np.ones((2, 4)))).all()


def test_cross_entropy_without_options_is_plain_and_stable_for_any_logits():
    logits = np.array([[0.0, 0.0, 10.0], [1000.0, 0.0, -1000.0]])  # rows at very different scales
    loss, d = cross_entropy(logits, np.array([2, 0]))
    expected = (np.log(2 + np.exp(10.0)) - 10.0) / 2  # row 2 is certain: loss 0
    assert loss == pytest.approx(expected, rel=1e-12) and np.isfinite(d).all()
    np.testing.assert_allclose(d.sum(axis=-1), 0.0, atol=1e-15)
    assert cross_entropy(logits, np.array([2, 0]), label_smoothing=0.0)[0] == loss  # no smoothing by default


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"targets": np.array([[0, -1]])}, ValueError, r"^targets must be class ids in \[0, 4\)"),  # not class 3
    ({"targets": np.array([[0, 4]])}, ValueError, r"^targets must be class ids in \[0, 4\)"),
    ({"targets": np.array([[0.0, 1.0]])}, TypeError, r"^targets must be integer class ids"),
    ({"targets": np.array([0, 1, 2])}, ValueError, r"^targets must have the shape of logits without its last axis"),
    ({"label_smoothing": 2.0}, ValueError, r"^label_smoothing must be in \[0, 1\]"),
    ({"label_smoothing": -0.1}, ValueError, r"^label_smoothing must be in \[0, 1\]"),
    ({"ignore_index": 1.5}, TypeError, r"^ignore_index must be an integer"),
    ({"logits": np.zeros((1, 2, 4), complex)}, TypeError, r"^logits must be real"),
])
def test_cross_entropy_rejects_bad_input_naming_the_argument(kwargs, error, message):
    args = {"logits": np.zeros((1, 2, 4)), "targets": np.array([[0, 1]])} | kwargs
    with pytest.raises(error, match=message):
        cross_entropy(args.pop("logits"), args.pop("targets"), **args)


def test_cross_entropy_with_every_target_ignored_is_zero_not_minus_zero():
    # The documented rule: no target to learn from gives loss 0.0 and a zero gradient (torch gives NaN).
    loss, grad = cross_entropy(np.ones((2, 3)), np.array([-100, -100]), ignore_index=-100)
    assert loss == 0.0 and str(loss) == "0.0" and not grad.any()
