"""Every command the README shows works from a fresh clone: each one is run, as written, by a test
here, by the suite's own fixtures, or by .ci/run. A command added to the README that nothing runs
fails :func:`test_every_readme_command_is_run_somewhere`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from site_build import offline_command

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ".venv/bin/python"

#: Run by .ci/run itself, as ``run make test`` and so on.
IN_CI = ["make test", "make long"]
#: Run by a fixture of the suite: the offline copy every offline test reads is built by ``make offline``.
BY_FIXTURE = {"make offline": offline_command}
#: Training commands get ``--steps 20`` here: that the full runs reach their results is checked by
#: the tests of their notes (the reverse task's 600 steps in ``make long``).
TRAINING = ("train-recall", "train-transformer")


def readme_commands() -> list[str]:
    """The commands of the README's ``bash`` blocks, without their comments."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```bash\n(.*?)^```", text, flags=re.M | re.S)
    lines = (line.split(" #")[0].strip() for block in blocks for line in block.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


#: Commands that change the checkout: run in a copy of it by that test file, which reads them from the README.
IN_A_COPY = {" new-note ": ROOT / "tests" / "test_new_note.py"}


def run_here() -> list[str]:
    return [c for c in readme_commands() if c not in IN_CI and c not in BY_FIXTURE
            and not any(key in c for key in IN_A_COPY)]


def test_every_readme_command_is_run_somewhere():
    commands = readme_commands()
    assert "make serve" in commands and "make test" in commands  # the two setup commands
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for command in IN_CI:
        assert command in commands, f"{command!r} is no longer in the README: update IN_CI"
        assert re.search(rf"^run {command}$", ci, flags=re.M), f".ci/run does not run {command!r}"
    assert offline_command(Path("d"), Path("z"))[:3] == ["make", "--no-print-directory", "offline"]
    for key, test in IN_A_COPY.items():
        assert any(key in c for c in commands) and "readme_command()" in test.read_text(encoding="utf-8"), key
    for command in run_here():  # the rest is run below; each must be of a kind the runner knows
        assert command.startswith(("make ", f"{VENV_PYTHON} ")), f"no test runs the README's {command!r}"


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def _runs_until_it_answers(command: str, urls: list[str], seconds: float, env: dict | None = None) -> list[str]:
    """Start ``command`` (which runs until stopped), wait until each of ``urls`` answers, stop it; the answers."""
    process = subprocess.Popen(command.split(), cwd=ROOT, env=env, start_new_session=True, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert process.poll() is None, f"{command} exited:\n{process.stdout.read()}"
            try:
                answers = []
                for url in urls:
                    with urllib.request.urlopen(url, timeout=5) as response:
                        answers.append(response.read().decode("utf-8"))
                return answers
            except OSError:
                time.sleep(1)
        pytest.fail(f"{command} did not answer {urls} within {seconds} s")
    finally:
        _stop(process)


def _serve_answers(command: str, url: str = "http://127.0.0.1:8000/") -> None:
    [page] = _runs_until_it_answers(command, [url], 300)
    assert "注意力" in page, page[:500]


def _notebook_opens(command: str) -> None:
    """``make notebook NOTE=...`` without a browser: JupyterLab, installed by the command, serves the note's
    two notebooks (stopped once it does; 600 s for the install the first time)."""
    import json
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    note = re.search(r"NOTE=(\S+)", command)[1]
    env = dict(os.environ, JUPYTER_ARGS=f"--no-browser --port={port} --ServerApp.token=readme")
    langs = ("zh", "en")
    urls = [f"http://127.0.0.1:{port}/api/contents/{note}.{lang}.ipynb?token=readme" for lang in langs]
    for lang, answer in zip(langs, _runs_until_it_answers(command, urls, 600, env)):
        book = json.loads(answer)
        assert book["type"] == "notebook" and book["content"]["metadata"]["attention"] == {"note": note, "lang": lang}


@pytest.mark.long
@pytest.mark.parametrize("command", run_here())
def test_readme_command_works(command, tmp_path):
    """Each command as the README writes it; the package's commands from a folder outside the
    checkout (they find the notes and results themselves)."""
    if command == "make serve":
        return _serve_answers(command)
    if command.startswith("make notebook"):
        return _notebook_opens(command)
    env = dict(os.environ)  # as a user runs them
    if command == "make bench":  # the README's quick form: small sizes, results kept out of the note
        env["BENCH_ARGS"] = f"--quick --out {tmp_path / 'quick.json'}"
    if command == "make audit":  # CI's smoke test of it: one page, one Lighthouse run, results kept aside
        env["AUDIT_ARGS"] = f"--pages en/notes/scaling/ --runs 1 --out {tmp_path / 'audit.json'}"
    if command.startswith(VENV_PYTHON):
        argv = [str(ROOT / VENV_PYTHON), *command.split()[1:]]
        argv += ["--steps", "20"] if argv[3] in TRAINING else []
        cwd = tmp_path
    else:
        argv, cwd = command.split(), ROOT
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, f"{command}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    if "--plot" in argv:
        plot = cwd / argv[argv.index("--plot") + 1]
        assert plot.stat().st_size > 1000, plot
