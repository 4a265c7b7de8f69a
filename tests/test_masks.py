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
    ("args", "message"),
    [
        ((-1, 2), "L must be a non-negative integer, got -1"),
        ((2.5, 2), "L must be a non-negative integer, got 2.5"),
        ((2, True), "S must be a non-negative integer, got True"),
    ],
)
def test_causal_mask_bad_lengths(args, message):
    with pytest.raises(ValueError, match=message):
        causal_mask(*args)


def test_padding_mask_bad_input():
    with pytest.raises(ValueError, match="lengths must lie in 0..S=3, got"):
        padding_mask([4], 3)
    with pytest.raises(ValueError, match=r"lengths must be a 1-D array of integers, got dtype float64 with shape \(2,\)"):
        padding_mask([1.0, 2.0], 3)
    with pytest.raises(ValueError, match=r"shape \(1, 2\)"):
        padding_mask([[1, 2]], 3)
