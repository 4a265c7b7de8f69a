import numpy as np

from attention import gradcheck
from attention.cli import main
from attention.experiments.transformer import Task, accuracy, init_params, loss_and_grads, make_batch, train


def test_batches_ask_for_a_present_key():
    task = Task(num_keys=6, num_values=5, pairs=4)
    pairs, query, answer, where = make_batch(task, 50, np.random.default_rng(0))
    for b in range(50):
        key = query[b, 0, :6].argmax()
        assert pairs[b, where[b], key] == 1  # the asked-for pair holds the query's key
        assert pairs[b, where[b], 6 + answer[b]] == 1  # and the answer's value
        assert (pairs[b, :, :6].sum(0) <= 1).all()  # keys are distinct within an example


def test_hand_derived_gradients_pass_gradcheck():
    task = Task(num_keys=5, num_values=4, pairs=3)
    params = init_params(task, dim=3, seed=1)
    pairs, query, answer, _ = make_batch(task, 4, np.random.default_rng(2))
    names = list(params)

    def f(*arrays):
        ps = dict(zip(names, arrays))
        loss, grads = loss_and_grads(ps, pairs, query, answer)
        return loss, [grads[n] for n in names]

    errors = gradcheck(f, *[params[n] for n in names], rtol=1e-6)
    assert max(errors) < 1e-6


def test_training_learns_well_beyond_chance():
    task = Task()
    chance = 1 / task.num_values
    assert accuracy(init_params(task), task) < 3 * chance
    run = train(task, steps=150)
    assert np.mean(run.losses[-20:]) < 0.1 * np.log(task.num_values)  # well below the chance loss log(16)
    assert run.accuracy >= 0.95


def test_cli_reports_progress_and_accuracy(capsys):
    assert main(["train-recall", "--steps", "100"]) == 0
    captured = capsys.readouterr()
    assert "step  100/100" in captured.err
    assert "held-out accuracy" in captured.out
