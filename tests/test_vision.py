import numpy as np
import pytest

from attention import patch_self_attention, patchify


def test_patchify_is_row_by_row_patches():
    images = np.random.default_rng(0).standard_normal((2, 16, 16))
    tokens = patchify(images)
    assert tokens.shape == (2, 16, 16)
    for b in range(2):
        for p in range(16):
            r, c = divmod(p, 4)
            np.testing.assert_array_equal(tokens[b, p].reshape(4, 4), images[b, 4 * r:4 * r + 4, 4 * c:4 * c + 4])
    assert patchify(np.zeros((1, 6, 4)), patch=2).shape == (1, 6, 4)


def test_patch_self_attention_finds_copies_of_a_shape():
    plus = np.zeros((4, 4))
    plus[1, :] = plus[:, 1] = 1
    bar = np.zeros((4, 4))
    bar[1:3, :] = 1
    image = 0.1 * np.random.default_rng(3).standard_normal((16, 16))
    image[0:4, 0:4] += plus  # patch 0
    image[8:12, 12:16] += plus  # patch 11
    image[12:16, 4:8] += bar  # patch 13
    w = patch_self_attention(image)
    assert w.shape == (16, 16)
    np.testing.assert_allclose(w.sum(1), 1.0)
    assert w[0, [0, 11]].sum() > 0.8 and w[11, [0, 11]].sum() > 0.8  # the pluses attend to each other
    assert w[13, 13] > 0.7 and w[13, [0, 11]].sum() < 0.2  # the bar to itself


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: patchify(np.zeros((1, 6, 6)), patch=4), ValueError, r"image size \(6, 6\) is not a multiple of"),
        (lambda: patchify(np.zeros((1, 8, 6)), patch=4), ValueError, r"image size \(8, 6\) is not a multiple of"),
        (lambda: patchify(np.zeros((1, 6, 8)), patch=4), ValueError, r"image size \(6, 8\) is not a multiple of"),
        (lambda: patchify(np.zeros((6, 6))), ValueError, "images must have at least 3 dimensions"),
        (lambda: patchify(np.zeros((1, 2, 6, 6))), ValueError, r"images must have shape \(B, H, W\)"),
        (lambda: patchify(np.zeros((1, 4, 4)), patch=0), ValueError, "patch must be a positive integer"),
        (lambda: patchify(np.zeros((1, 4, 4)), patch=2.0), TypeError, "patch must be an integer"),
        (lambda: patch_self_attention(np.zeros((2, 4, 4))), ValueError, r"image must have shape \(H, W\)"),
        (lambda: patch_self_attention(np.zeros((4, 4)), temperature=-1), ValueError, "temperature must be a positive"),
    ],
)
def test_bad_inputs(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_patch_sizes_temperature_and_names_are_checked():
    image = np.random.default_rng(5).standard_normal((8, 12))
    with pytest.raises(ValueError):
        patchify(image[None], 8)  # 8 divides H = 8 but not W = 12
    with pytest.raises(ValueError, match="^temperature must be a positive finite number"):
        patch_self_attention(image, temperature=0.0)
    np.testing.assert_array_equal(patch_self_attention(image), patch_self_attention(image, temperature=8.0))
    assert patch_self_attention(image, patch=2).shape == (24, 24)  # (8/2) * (12/2) patches of 2 x 2
    with pytest.raises(TypeError, match="^image must be real"):
        patch_self_attention(image.astype(complex))
    with pytest.raises(ValueError, match="^image must have at least 2 dimensions"):
        patch_self_attention(image[0])
