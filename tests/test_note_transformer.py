import numpy as np
import pytest

from attention import gradcheck
from attention.cli import main
from attention.experiments.training import loss_and_grads
from attention.experiments.transformer import RecallModel, Task, accuracy, make_batch, train

pytestmark = pytest.mark.usefixtures("one_blas_thread")  # training and gradient checks: many small matrix products


def test_batches_ask_for_a_present_key():
    task = Task(num_keys=6, num_values=5, pairs=4)
    pairs, query, answer, where = make_batch(task, 50, np.random.default_rng(0))
    for b in range(50):
        key = query[b, 0, :6].argmax()
        assert pairs[b, where[b], key] == 1  # the asked-for pair holds the query's key
        assert pairs[b, where[b], 6 + answer[b]] == 1  # and the answer's value
        assert (pairs[b, :, :6].sum(0) <= 1).all()  # keys are distinct within an example


@pytest.mark.parametrize("scoring", ["dot", "additive"])
def test_the_models_gradients_pass_gradcheck(scoring):
    """The library's layers bring their own backward passes; what the model adds (one embedding for the
    query and the pairs, the pairs' gradient through cross-attention) is checked here, both scorings."""
    task = Task(num_keys=5, num_values=4, pairs=3)
    model = RecallModel(task, dim=3, scoring=scoring, seed=1)
    params = model.parameters()  # the model's own arrays
    names = list(params)
    pairs, query, answer, _ = make_batch(task, 4, np.random.default_rng(2))

    def f(*arrays):
        for name, array in zip(names, arrays):
            params[name][...] = array
        loss, grads = loss_and_grads(model, pairs, query, answer)
        return loss, [grads[n].copy() for n in names]

    errors = gradcheck(f, *[params[n].copy() for n in names], rtol=1e-6)  # raises past its round-off floor
    # The additive scores' W_q gets a gradient of about 2e-5 here (one query token, tanh of small inputs):
    # its central differences carry round-off of a few 1e-6 relative, every other array's about 1e-8.
    assert max(errors) < 1e-5


def test_training_learns_well_beyond_chance():
    task = Task()
    chance = 1 / task.num_values
    assert accuracy(RecallModel(task), task) < 3 * chance
    run = train(task, steps=150)
    assert np.mean(run.losses[-20:]) < 0.1 * np.log(task.num_values)  # well below the chance loss log(16)
    assert run.accuracy >= 0.95


def test_cli_reports_progress_and_accuracy(capsys):
    assert main(["train-recall", "--steps", "100"]) == 0
    captured = capsys.readouterr()
    assert "step  100/100" in captured.err
    assert "held-out accuracy" in captured.out


# --- The whole Transformer: the committed training run, the attention maps, the KV cache ---------


@pytest.mark.slow  # a pinned training run: make test, not make quick
def test_committed_reverse_run_is_what_the_code_does():
    from attention.experiments import language_model as lm

    results = lm.load()
    assert results["exact_match"] >= 0.99 and results["steps"] == 600 and results["held_out"] == 1000
    assert results["evals"][-1] == [600, results["exact_match"]]
    config = lm.Config(**{**results["config"], "steps": 25})
    rerun = lm.train(config, eval_every=10**9)  # the same seed: the same batches and updates
    # The file keeps the loss every 10 steps; a short run with the same seed starts identically
    # (the learning-rate schedule differs only through the total steps, which the warm-up hides).
    np.testing.assert_allclose(rerun.losses[0], results["losses"][0], rtol=1e-6)


def test_attention_maps_show_the_anti_diagonal():
    from attention.experiments import language_model as lm

    results = lm.load()
    heads = lm.anti_diagonal_heads(results)
    assert heads  # "some heads have learnt exactly the anti-diagonal"
    weights = np.array(results["attention"]["weights"])  # (layers, H, T, T)
    layer, h = heads[0]
    for i, row in enumerate(range(lm.MAX_DIGITS, len(results["attention"]["tokens"]) - 1)):
        assert weights[layer, h, row].argmax() == lm.MAX_DIGITS - 1 - i  # answer token i looks at source 11 - i


def test_kv_cache_speedup_grows_with_length():
    import json
    from pathlib import Path

    files = sorted(Path("benchmarks/decoding").glob("*.json"))
    assert files
    for path in files:
        rows = json.loads(path.read_text(encoding="utf-8"))["results"]
        speedups = [r["speedup"] for r in rows]
        assert speedups == sorted(speedups) and speedups[0] > 1


@pytest.mark.long  # 600 training steps: `make long`, its own step in .ci/run, not part of `make test`
def test_reverse_task_reaches_99_percent_on_held_out_strings():
    from attention.experiments import language_model as lm

    result = lm.train(lm.Config())  # the note's configuration: 600 steps, seed 0
    assert result.exact_match >= 0.99, result.evals


@pytest.mark.slow  # trains from the command line: make test, not make quick
def test_train_transformer_command_prints_progress_and_one_result_line(capsys, tmp_path):
    from attention.cli import main

    assert main(["train-transformer", "--task", "copy", "--steps", "30", "--out", str(tmp_path / "r.json")]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[-1].startswith("task=copy exact_match=") and " steps=30 seconds=" in out
    assert "step 30/30" in err and "tokens/s" in err
    assert (tmp_path / "r.json").is_file()
