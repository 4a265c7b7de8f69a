import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from attention import softmax

finite = st.floats(-50, 50, allow_nan=False, allow_infinity=False)


def test_matches_definition_on_small_logits():
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    expected = np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)  # direct formula, safe at this size
    np.testing.assert_allclose(softmax(x), expected, rtol=1e-15)


def test_huge_logits_are_exact_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = softmax(np.array([1e4, 0.0, -1e4]))
        out2 = softmax(np.array([1e4, 1e4 - np.log(3.0)]))
    np.testing.assert_array_equal(out, [1.0, 0.0, 0.0])
    np.testing.assert_allclose(out2, [0.75, 0.25], rtol=1e-12)


def test_fully_masked_and_all_neg_inf_rows_are_zero():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    out = softmax(x, where=np.array([[True, True], [False, False]]))
    np.testing.assert_array_equal(out[1], [0.0, 0.0])
    assert np.isclose(out[0].sum(), 1.0)
    np.testing.assert_array_equal(softmax(np.array([-np.inf, -np.inf])), [0.0, 0.0])


def test_masked_entries_get_zero_and_rest_renormalise():
    out = softmax(np.array([5.0, 1.0, 1.0]), where=np.array([False, True, True]))
    np.testing.assert_allclose(out, [0.0, 0.5, 0.5])


def test_axis_argument():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(softmax(x, axis=0).sum(axis=0), np.ones(3))
    np.testing.assert_allclose(softmax(x, axis=0), softmax(x.T).T)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_dtypes_preserved(dtype):
    assert softmax(np.ones(4, dtype=dtype)).dtype == dtype


def test_integer_and_bool_promoted_to_float64():
    assert softmax(np.array([1, 2, 3])).dtype == np.float64
    assert softmax(np.array([True, False])).dtype == np.float64


def test_input_not_modified():
    x = np.array([1.0, 2.0])
    softmax(x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_bad_inputs():
    with pytest.raises(TypeError, match=r"x must be real, got complex dtype complex128 with shape \(2,\)"):
        softmax(np.array([1 + 1j, 2]))
    with pytest.raises(TypeError, match="x must be a numeric array"):
        softmax(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="where must be a boolean array, got dtype int64"):
        softmax(np.ones(3), where=np.ones(3, dtype=np.int64))
    with pytest.raises(ValueError, match=r"where with shape \(2,\) does not broadcast to x with shape \(3,\)"):
        softmax(np.ones(3), where=np.array([True, False]))
    with pytest.raises(ValueError, match=r"axis 2 is out of range for x with shape \(3,\)"):
        softmax(np.ones(3), axis=2)


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6), elements=finite), finite)
def test_shift_invariance(x, shift):
    np.testing.assert_allclose(softmax(x + shift), softmax(x), atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_rows_sum_to_one_or_zero(data):
    x = data.draw(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6), elements=finite))
    where = data.draw(hnp.arrays(np.bool_, x.shape))
    sums = softmax(x, where=where).sum(axis=-1)
    expected = np.where(where.any(axis=-1), 1.0, 0.0)
    np.testing.assert_allclose(sums, expected, atol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(x=np.float64(1.0)), ValueError, "x must have at least 1 dimension to normalise over, got a 0-d array"),
        (dict(x=np.ones(3), axis=1.0), TypeError, "axis must be an int, got float 1.0"),
        (dict(x=np.ones(3), axis=None), TypeError, "axis must be an int, got NoneType"),
        (dict(x=np.ones((2, 3)), axis=(0, 1)), TypeError, "axis must be an int, got tuple"),
        (dict(x=np.ones(3), axis=True), TypeError, "axis must be an int, got bool"),
        (dict(x=np.ones(3), axis=-2), ValueError, r"axis -2 is out of range for x with shape \(3,\)"),
        (dict(x=[[1.0, 2.0], [3.0]]), ValueError, "x must be a rectangular array"),
        (dict(x=np.ma.masked_array([1.0, 2.0], mask=[True, False])), TypeError, "x is a numpy masked array"),
    ],
)
def test_bad_axis_and_arrays(kwargs, error, message):
    with pytest.raises(error, match=message):
        softmax(**kwargs)


def test_numpy_integer_axis_and_last_axis_boundary():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(softmax(x, axis=np.int64(1)), softmax(x, axis=-1))
    np.testing.assert_array_equal(softmax(x, axis=1), softmax(x, axis=-1))
    np.testing.assert_array_equal(softmax(x, axis=-2), softmax(x, axis=0))


def test_nan_and_inf_follow_the_rule_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = softmax(np.array([[1.0, np.nan], [np.inf, 1.0], [-np.inf, 0.0], [np.nan, 2.0]]),
                      where=np.array([[True, True], [True, True], [True, True], [False, True]]))
    assert np.isnan(out[0]).all() and np.isnan(out[1]).all()  # a NaN or +inf logit: NaN
    np.testing.assert_array_equal(out[2], [0.0, 1.0])  # -inf: weight 0
    np.testing.assert_array_equal(out[3], [0.0, 1.0])  # a masked NaN does not matter


def test_float16_is_computed_in_float32():
    x = np.array([0.0, 11.0], dtype=np.float16)  # e**11 = 59874 is above float16's largest (65504 / e)
    out = softmax(x)
    assert out.dtype == np.float16
    np.testing.assert_allclose(out.astype(float), softmax(x.astype(np.float64)), atol=1e-3)


def test_empty_sizes():
    assert softmax(np.zeros((0, 3))).shape == (0, 3)
    assert softmax(np.zeros((2, 0))).shape == (2, 0)


@pytest.mark.parametrize(("dtype", "bound"), [(np.float32, 1.75), (np.float64, 1.75), (np.float16, 4.5)])
def test_memory_is_one_working_array(dtype, bound):
    # softmax works in place on one copy of x in its working dtype (float16: float32, twice the bytes)
    # and returns it cast back; a float64 working copy of float32 input, or one more copy of the
    # result, would each add at least x.nbytes to the peak. tracemalloc counts numpy's buffers.
    x = np.random.default_rng(0).standard_normal((500, 1000)).astype(dtype)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        softmax(x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < bound * x.nbytes, f"peak {peak / x.nbytes:.2f} x.nbytes, more than {bound}"
