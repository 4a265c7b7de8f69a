"""The claims of docs/{zh,en}/notes/timeseries.md, its table, figure and command."""

from attention.cli import main
from attention.experiments.timeseries import evaluate, figure, table


def test_attention_beats_both_baselines_after_the_changepoint():
    r = evaluate()
    for column in ("mse", "mse_first_period", "mse_later"):
        mse = r[column]
        assert mse["attention"] < mse["moving average"] and mse["attention"] < mse["last period"], column


def test_attention_weights_pick_out_the_period():
    assert evaluate()["attention_on_whole_periods"] > 0.8


def test_table_and_figure_in_both_languages():
    assert table(lang="zh").count("\n") == table(lang="en").count("\n") == 4
    assert "注意力" in table(lang="zh")
    for lang in ("en", "zh"):
        assert len(figure(lang=lang).axes) == 3


def test_cli(capsys, tmp_path):
    path = tmp_path / "ts.png"
    assert main(["timeseries", "--plot", str(path)]) == 0
    captured = capsys.readouterr()
    assert "attention on whole-period lags" in captured.out
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "wrote" in captured.err
