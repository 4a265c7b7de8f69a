import numpy as np

from attention import gradcheck
from attention.__main__ import main
from attention.vision import PATCH, accuracy, init_params, loss_and_grads, make_images, patchify, train


def test_patchify_round_trip():
    images = np.random.default_rng(0).standard_normal((2, 16, 16))
    tokens = patchify(images)
    assert tokens.shape == (2, 16, 16)
    np.testing.assert_array_equal(tokens[1, 5].reshape(PATCH, PATCH), images[1, 4:8, 4:8])  # patch (1, 1)


def test_shape_sits_in_the_stated_patch():
    images, labels, where = make_images(20, np.random.default_rng(1), noise=0.0)
    tokens = patchify(images)
    for i in range(20):
        assert tokens[i].sum(-1).argmax() == where[i]
        assert np.count_nonzero(tokens[i].sum(-1)) == 1


def test_hand_derived_gradients_pass_gradcheck():
    params = init_params(dim=3, seed=2)
    images, labels, _ = make_images(3, np.random.default_rng(3))
    tokens = patchify(images)
    names = list(params)

    def f(*arrays):
        loss, grads = loss_and_grads(dict(zip(names, arrays)), tokens, labels)
        return loss, [grads[n] for n in names]

    assert max(gradcheck(f, *[params[n] for n in names], rtol=1e-6)) < 1e-6


def test_learns_far_above_chance_and_attends_to_the_shape():
    assert accuracy(init_params()) < 0.5
    params, losses, acc, _ = train(steps=200)
    assert acc >= 0.9  # chance is 0.25
    from attention.vision import forward

    images, _, where = make_images(500, np.random.default_rng(4))
    _, w, _ = forward(params, patchify(images))
    assert (w.argmax(-1) == where).mean() > 0.9  # the most-attended patch is the one with the shape


def test_cli(capsys):
    assert main(["vision", "--steps", "60"]) == 0
    assert "held-out accuracy" in capsys.readouterr().out


def test_patch_self_attention_finds_copies_of_a_shape():
    from attention.vision import _GLYPHS, patch_self_attention

    image = 0.1 * np.random.default_rng(3).standard_normal((16, 16))  # the note's figure image
    image[0:4, 0:4] += _GLYPHS[1]  # plus, patch 0
    image[8:12, 12:16] += _GLYPHS[1]  # plus, patch 11
    image[12:16, 4:8] += _GLYPHS[3]  # bar, patch 13
    w = patch_self_attention(image)
    np.testing.assert_allclose(w.sum(1), 1.0)
    assert w[0, [0, 11]].sum() > 0.8 and w[11, [0, 11]].sum() > 0.8  # the pluses attend to each other
    assert w[13, 13] > 0.7 and w[13, [0, 11]].sum() < 0.2  # the bar to itself
