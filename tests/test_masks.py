import numpy as np
import pytest

from attention import causal_mask, padding_mask


@pytest.mark.parametrize(("L", "S"), [(1, 1), (3, 3), (2, 5), (5, 2), (0, 3), (3, 0)])
def test_causal_mask_is_top_left_lower_triangle(L, S):
    expected = np.array([[j <= i for j in range(S)] for i in range(L)], dtype=bool).reshape(L, S)
    mask = causal_mask(L, S)
    assert mask.dtype == np.bool_
    np.testing.assert_array_equal(mask, expected)


def test_causal_mask_default_square():
    np.testing.assert_array_equal(causal_mask(4), causal_mask(4, 4))


def test_padding_mask():
    mask = padding_mask([3, 0, 4], 4)
    assert mask.shape == (3, 1, 4) and mask.dtype == np.bool_
    np.testing.assert_array_equal(mask[:, 0], [[1, 1, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]])


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((-1, 2), ValueError, "L must be a non-negative integer, got -1"),
        ((2, -3), ValueError, "S must be a non-negative integer, got -3"),
        ((2.5, 2), TypeError, "L must be an integer, got float 2.5"),
        ((2, True), TypeError, "S must be an integer, got bool True"),
    ],
)
def test_causal_mask_bad_lengths(args, error, message):
    with pytest.raises(error, match=message):
        causal_mask(*args)


def test_numpy_integers_are_lengths():
    np.testing.assert_array_equal(causal_mask(np.int64(3), np.int32(2)), causal_mask(3, 2))


def test_padding_mask_bad_input():
    with pytest.raises(ValueError, match="lengths must lie in 0..S=3, got"):
        padding_mask([4], 3)
    with pytest.raises(ValueError, match=r"a 1-D array of integers, got dtype float64 with shape \(2,\)"):
        padding_mask([1.0, 2.0], 3)
    with pytest.raises(ValueError, match=r"shape \(1, 2\)"):
        padding_mask([[1, 2]], 3)


def test_padding_mask_names_S_and_combine_masks_names_the_bad_mask():
    from attention import combine_masks

    with pytest.raises(TypeError, match="^S must be an integer"):
        padding_mask([1], 2.5)
    with pytest.raises(TypeError, match="^mask 2 must be bool"):
        combine_masks(None, np.ones(2, bool), np.ones(2, complex))  # counted among all arguments, None included
    with pytest.raises(ValueError, match=r"^masks with shapes \[\(2,\), \(3,\)\] do not broadcast$"):
        combine_masks(np.ones(2, bool), np.ones(3, bool))


def test_combine_masks_adds_every_float_mask_and_keeps_their_dtype():
    from attention import combine_masks

    a, b = np.array([0.0, -1.0, -2.0], np.float32), np.array([-0.5, 0.0, -1.0], np.float32)
    out = combine_masks(np.array([True, True, False]), a, b)
    assert out.dtype == np.float32  # not float64
    np.testing.assert_array_equal(out, np.array([-0.5, -1.0, -np.inf], np.float32))  # a + b, and -inf
