"""``python -m attention new-note``: what it writes, where it lists the note, what it refuses, and — in a
copy of the checkout — that the project still builds and passes its tests with the new draft in it."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from attention.cli import main
from attention.experiments.new_note import PLACEHOLDER

ROOT = Path(__file__).resolve().parents[1]
TITLES = ["--title-zh", "相对位置：注意力怎样知道距离", "--title-en", "Relative position: how attention knows distance"]
LISTS = ("mkdocs.yml", "src/attention/cli.py", "docs/zh/index.md", "docs/en/index.md")


def readme_command() -> str:
    """The README's example of the command (tests/test_readme.py leaves it to this file)."""
    found = re.findall(r"^(\.venv/bin/python -m attention new-note .*?)(?:\s+#.*)?$",
                       (ROOT / "README.md").read_text(encoding="utf-8"), re.M)
    assert len(found) == 1, found
    return found[0]


@pytest.fixture
def project(tmp_path):
    """The files new-note edits, copied from the checkout, and the folders it writes into."""
    for rel in LISTS:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    for folder in ("docs/zh/notes", "docs/en/notes", "src/attention/experiments", "tests"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    return tmp_path


def test_it_writes_the_four_files_and_lists_the_note_as_a_draft(project, capsys):
    assert main(["new-note", "relative-position", "--root", str(project), *TITLES]) == 0
    written = capsys.readouterr().out.split()
    assert sorted(written) == sorted(["docs/zh/notes/relative-position.md", "docs/en/notes/relative-position.md",
                                      "src/attention/experiments/relative_position.py",
                                      "tests/test_note_relative_position.py", *LISTS])
    for lang, title in (("zh", TITLES[1]), ("en", TITLES[3])):
        note = (project / "docs" / lang / "notes" / "relative-position.md").read_text(encoding="utf-8")
        assert re.search(r"^draft: true\b", note, re.M) and PLACEHOLDER in note and f"# {title}\n" in note
        row = next(line for line in (project / "docs" / lang / "index.md").read_text(encoding="utf-8").splitlines()
                   if "notes/relative-position.md" in line)
        n_notes = len(list((ROOT / "docs" / lang / "notes").glob("*.md")))
        assert row.startswith(f"%% | {n_notes + 1} | [{title}](notes/relative-position.md) |") and row.endswith("%%")
    nav = re.findall(r"^\s+- (notes/[\w-]+\.md)", (project / "mkdocs.yml").read_text(encoding="utf-8"), re.M)
    assert nav[-1] == "notes/relative-position.md" and len(nav) == n_notes + 1
    cli = (project / "src" / "attention" / "cli.py").read_text(encoding="utf-8")
    compile(cli, "cli.py", "exec")
    assert re.search(r"EXPERIMENTS = \([^)]*qk_norm, relative_position\)", cli) and "    relative_position,\n" in cli
    assert max(len(line) for line in cli.splitlines()) <= 120  # ruff's limit
    # The experiment module it wrote works as a module of the package, and its test compiles.
    path = project / "src" / "attention" / "experiments" / "relative_position.py"
    spec = importlib.util.spec_from_file_location("attention.experiments.relative_position", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    weights = module.measure()
    assert len(weights) == 4 and abs(sum(weights) - 1) < 1e-12 and f"{weights[0]:.3f}" in module.table(weights)
    compile((project / "tests" / "test_note_relative_position.py").read_text(encoding="utf-8"), "test", "exec")


def test_it_refuses_a_bad_name_a_note_that_exists_and_a_folder_that_is_no_checkout(project, tmp_path, capsys):
    assert main(["new-note", "Relative Position", "--root", str(project), *TITLES]) == 2
    assert "slug must be lowercase words joined by '-'" in capsys.readouterr().err
    assert main(["new-note", "scaling", "--root", str(project), *TITLES]) == 0  # the copy has no scaling note
    assert main(["new-note", "scaling", "--root", str(project), *TITLES]) == 2
    assert "note 'scaling' exists already: docs/zh/notes/scaling.md" in capsys.readouterr().err
    (project / "docs" / "en" / "index.md").write_text("# Home\n\nNo table here.\n", encoding="utf-8")
    assert main(["new-note", "relative-position", "--root", str(project), *TITLES]) == 2
    assert "docs/en/index.md: no reading-order table" in capsys.readouterr().err
    assert not list(project.rglob("*relative*"))  # nothing written: no half-made note to clean up
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert main(["new-note", "x", "--root", str(elsewhere), *TITLES]) == 2
    assert "mkdocs.yml is missing: run new-note in the project's checkout" in capsys.readouterr().err


@pytest.mark.long  # a copy of the checkout, a strict build and the tests a note meets: about two minutes
def test_a_new_note_leaves_the_project_building_and_its_tests_passing(tmp_path):
    copy = tmp_path / "checkout"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for rel in filter(None, files.split("\0")):
        if (ROOT / rel).is_file():
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, copy / rel)
    # What the build serves and runs from node_modules, copied (a link would let an npm in the copy empty ours).
    modules = ROOT / "node_modules"
    for package in [modules / "katex", modules / "iframe-worker", *modules.glob("d3-*")]:
        shutil.copytree(package, copy / "node_modules" / package.name)
    (copy / "node_modules" / "mermaid" / "dist").mkdir(parents=True)
    shutil.copy2(modules / "mermaid" / "dist" / "mermaid.min.js", copy / "node_modules" / "mermaid" / "dist")
    env = os.environ | {"PYTHONPATH": str(copy / "src"), "NO_MKDOCS_2_WARNING": "1", "OPENBLAS_NUM_THREADS": "1"}
    argv = shlex.split(readme_command())
    result = subprocess.run([sys.executable, *argv[1:], "--root", str(copy)], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                           cwd=copy, env=env, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    slug = argv[argv.index("new-note") + 1]
    assert not (tmp_path / "site" / "notes" / slug).exists()  # a draft is not published
    assert f"notes/{slug}/" not in (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    module = slug.replace("-", "_")
    tests = [f"tests/test_note_{module}.py", f"docs/zh/notes/{slug}.md", f"docs/en/notes/{slug}.md",
             "tests/site/test_notes.py", "tests/site/test_drift.py", "tests/test_api.py", "tests/test_cli.py",
             "tests/site/test_site.py", "tests/site/test_rendered.py"]
    # Not the offline copy's tests: `make offline` would set up a venv and node_modules in the copy.
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "-k",
                          "not offline", *tests],
                         cwd=copy, env=env, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stdout[-4000:]
    assert re.search(r"\d+ passed", run.stdout)
    lint = subprocess.run([str(ROOT / ".venv" / "bin" / "ruff"), "check", "."], cwd=copy, capture_output=True,
                          text=True)
    assert lint.returncode == 0, lint.stdout[-2000:]
