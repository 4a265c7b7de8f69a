"""The claims of docs/{zh,en}/notes/qk-norm.md, its table, figure and command."""

import pytest

from attention.cli import main
from attention.experiments.qk_norm import D_KS, figure, run, table


def by(method, sigma):
    return {d: (entropy, grad) for d, entropy, _, grad in run()[(method, sigma)]}


def test_qk_norm_is_invariant_to_the_init_scale():
    for method in ("QK-norm, g = sqrt(d_k)", "QK-norm, g = 4"):
        a, b = by(method, 1.0), by(method, 4.0)
        for d in D_KS:
            assert a[d] == pytest.approx(b[d], rel=1e-9)


def test_without_qk_norm_a_larger_init_scale_saturates_despite_sqrt_scaling():
    assert all(0.85 < e < 0.92 for e, _ in by("1/sqrt(d_k)", 1.0).values())
    assert all(e < 0.1 for e, _ in by("1/sqrt(d_k)", 4.0).values())


def test_the_temperature_takes_over_the_role_of_sqrt_dk():
    constant = [e for e, _ in by("QK-norm, g = sqrt(d_k)", 1.0).values()]
    assert max(constant) - min(constant) < 0.02  # a band, whatever d_k
    fixed = [e for e, _ in by("QK-norm, g = 4", 1.0).values()]
    assert all(a < b for a, b in zip(fixed, fixed[1:])) and fixed[-1] > 0.99  # drifts to uniform


def test_table_and_figure_in_both_languages():
    assert "QK-norm" in table(lang="zh") and "熵" in table(lang="zh") and "entropy" in table(lang="en")
    assert table(lang="zh").count("\n") == table(lang="en").count("\n")
    for lang in ("en", "zh"):
        assert len(figure(lang=lang).axes) == 2


def test_cli(capsys, tmp_path):
    assert main(["qk-norm", "--lang", "zh", "--plot", str(tmp_path / "qk.svg")]) == 0
    captured = capsys.readouterr()
    assert "| QK-norm, g = 4 | 4 | 1024 |" in captured.out and "方法" in captured.out
    assert "measuring" in captured.err
    assert (tmp_path / "qk.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
