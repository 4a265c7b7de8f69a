"""The command line: every experiment's commands, with the options every command shares."""

import subprocess
import sys
from pathlib import Path

import pytest

from attention.cli import EXPERIMENTS, build_parser


def commands():
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")  # argparse keeps sub-commands here
    return action.choices


def test_every_experiment_registers_a_command():
    names = commands()
    assert {"demo", "scaling", "long-sequences", "train-recall", "train-transformer", "scoring-functions",
            "timeseries", "vision", "qk-norm"} <= set(names)
    notes = sorted(p.stem.replace("-", "_") for p in (Path(__file__).parents[1] / "docs" / "en" / "notes").glob("*.md"))
    registered = sorted(module.__name__.rsplit(".", 1)[-1] for module in EXPERIMENTS)
    assert registered == notes, "src/attention/cli.py: EXPERIMENTS lists one experiment module per note"


#: Commands that are no experiment: they take neither --lang nor --plot.
TOOLS = {"new-note", "notebooks"}


@pytest.mark.parametrize("name", sorted(set(commands()) - TOOLS))
def test_every_command_takes_lang_and_plot(name):
    sub = commands()[name]
    args = sub.parse_args(["--lang", "zh", "--plot", "x.svg"])
    assert args.lang == "zh" and str(args.plot) == "x.svg" and callable(args.run)
    with pytest.raises(SystemExit):
        sub.parse_args(["--lang", "fr"])


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "attention", "--help"], capture_output=True, text=True, check=True)
    assert "demo" in result.stdout and "train-recall" in result.stdout


def test_console_script_is_declared():
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"]["attention"] == "attention.cli:main"
