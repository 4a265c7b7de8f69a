"""The claims of docs/{zh,en}/notes/vision.md, its figures and command."""

import numpy as np

from attention import gradcheck, patchify
from attention.cli import main
from attention.experiments.training import loss_and_grads
from attention.experiments.vision import (
    CLASSES,
    PATCH,
    TEXT,
    PatchClassifier,
    accuracy,
    figure,
    make_images,
    self_attention_figure,
    trained,
)


def test_shape_sits_in_the_stated_patch():
    images, labels, where = make_images(20, np.random.default_rng(1), noise=0.0)
    tokens = patchify(images, PATCH)
    for i in range(20):
        assert tokens[i].sum(-1).argmax() == where[i]
        assert np.count_nonzero(tokens[i].sum(-1)) == 1


def test_the_models_gradients_pass_gradcheck():
    """The library's layers bring their own backward passes; what the model adds (the one query shared by
    every image of the batch, the patches' gradient through cross-attention) is checked here."""
    model = PatchClassifier(dim=3, seed=2)
    params = model.parameters()  # the model's own arrays
    names = list(params)
    images, labels, _ = make_images(3, np.random.default_rng(3))
    tokens = patchify(images, PATCH)

    def f(*arrays):
        for name, array in zip(names, arrays):
            params[name][...] = array
        loss, grads = loss_and_grads(model, tokens, labels)
        return loss, [grads[n].copy() for n in names]

    assert max(gradcheck(f, *[params[n].copy() for n in names], rtol=1e-6)) < 1e-6


def test_learns_far_above_chance_and_attends_to_the_shape():
    assert accuracy(PatchClassifier()) < 0.5
    run = trained()
    assert run.accuracy >= 0.9  # chance is 0.25
    images, _, where = make_images(500, np.random.default_rng(4))
    _, w = run.model(patchify(images, PATCH))
    assert (w.argmax(-1) == where).mean() > 0.9  # the most-attended patch is the one with the shape


def test_class_names_are_translated():
    assert TEXT["en"]["classes"] == CLASSES and len(TEXT["zh"]["classes"]) == len(CLASSES)
    assert not set(TEXT["zh"]["classes"]) & set(CLASSES)


def test_figures_in_both_languages_show_true_classes_next_to_predictions():
    images, labels, _ = make_images(4, np.random.default_rng(5))  # the figure's images
    for lang in ("en", "zh"):
        fig = figure(lang=lang)
        titles = [ax.get_title() for ax in fig.axes]
        assert len(titles) == 8  # four images, before and after training
        truth = TEXT[lang]["truth"] + TEXT[lang]["colon"]
        for i, label in enumerate(labels):
            name = TEXT[lang]["classes"][label]
            assert f"{truth}{name}" in titles[2 * i] and f"{truth}{name}" in titles[2 * i + 1]
            assert titles[2 * i + 1].endswith(name)  # after training, the prediction is the true class
        assert not any(c in "".join(titles) for c in CLASSES) or lang == "en"  # zh titles use the zh names
        assert len(self_attention_figure(lang=lang).axes) == 3  # image, matrix, colour bar


def test_cli(capsys):
    assert main(["vision", "--steps", "60"]) == 0
    captured = capsys.readouterr()
    assert "held-out accuracy" in captured.out and "step   60/60" in captured.err
