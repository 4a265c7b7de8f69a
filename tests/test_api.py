"""The package's layout keeps its promises: what is public is exported and documented, library code
stays apart from experiments, nothing reaches into private names, and every note has its pieces."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import attention
from attention.experiments import notebooks

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "attention"
LIBRARY = sorted(p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("_") and p.stem != "cli")
#: The API reference of each language: one page per section (docs/<lang>/reference/api/*.md).
API_FOLDERS = [ROOT / "docs" / lang / "reference" / "api" for lang in ("zh", "en")]
NOTES = ROOT / "docs" / "en" / "notes"
#: Lines of code and comments a module may have, its docstrings aside (the issue's "under ~300"): the numpy
#: docstring convention (a one-line summary, then a blank line; closing quotes on a line of their own) adds
#: lines that say nothing more, and a module's documentation is not what makes it large.
MAX_LINES = 300


def python_files():
    for folder in ("src", "tests", "benchmarks", "tools", "hooks"):
        yield from (ROOT / folder).rglob("*.py")
    yield ROOT / "conftest.py"


def module_name(path: Path) -> str | None:
    """``attention.x.y`` for a file of the package, else None."""
    try:
        rel = path.relative_to(ROOT / "src")
    except ValueError:
        return None
    parts = rel.with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(dotted: str) -> bool:
    base = ROOT / "src" / Path(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports(path: Path):
    """(imported module, imported name or None, node) for every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0] if here else None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level and package is None:  # a relative import outside the package (hooks/vault)
                base = "." * node.level + base
            elif node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            for alias in node.names:
                yield base, alias.name, node


def test_every_public_name_is_exported_documented_and_on_both_api_pages():
    for folder in API_FOLDERS:
        documented = [name for page in sorted(folder.glob("*.md"))
                      for name in re.findall(r"^::: attention\.(?:\w+\.)?(\w+)", page.read_text(encoding="utf-8"),
                                             flags=re.M)]
        assert sorted(documented) == sorted(attention.__all__), folder
        assert len(documented) == len(set(documented)), f"{folder} documents a name twice"
        assert {p.name for p in folder.glob("*.md")} == {p.name for p in API_FOLDERS[0].glob("*.md")}  # twins
    for name in attention.__all__:
        obj = getattr(attention, name)
        assert inspect.isfunction(obj) or inspect.isclass(obj), f"{name} is not a function or class"
        doc = inspect.getdoc(obj) or ""
        assert len(doc) > 80 and "Examples" in doc, f"{name} needs a docstring with examples"
        assert ":func:" not in doc and ":class:" not in doc and ":meth:" not in doc, f"{name}: Sphinx roles"


@pytest.mark.parametrize("module", LIBRARY)
def test_library_modules_declare_their_public_names(module):
    mod = importlib.import_module(f"attention.{module}")
    defined = {name for name, obj in vars(mod).items()
               if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
               and obj.__module__ == mod.__name__}
    assert set(getattr(mod, "__all__", ())) == defined, f"attention.{module}: __all__ vs what it defines"
    assert set(mod.__all__) <= set(attention.__all__), f"attention.{module} defines names the package does not export"


def test_the_package_exports_exactly_the_library_modules_names():
    names = set()
    for module in LIBRARY:
        names |= set(importlib.import_module(f"attention.{module}").__all__)
    assert names == set(attention.__all__)


@pytest.mark.parametrize("module", LIBRARY + [p.stem for p in (PACKAGE / "_internal").glob("*.py")])
def test_library_code_imports_no_experiment_plotting_or_cli_code(module):
    path = PACKAGE / f"{module}.py" if (PACKAGE / f"{module}.py").exists() else PACKAGE / "_internal" / f"{module}.py"
    for imported, name, node in imports(path):
        full = f"{imported}.{name}" if name else imported
        for banned in ("attention.experiments", "attention.cli", "argparse", "matplotlib"):
            assert not (full == banned or full.startswith(banned + ".") or imported.startswith(banned)), \
                f"{path.relative_to(ROOT)}:{node.lineno} imports {full}"


def test_no_private_name_is_imported_or_reached_across_modules():
    offenders = []
    for path in python_files():
        aliases = set()
        for imported, name, node in imports(path):
            if not imported.startswith("attention"):
                continue
            if name is None:
                aliases.add(imported.split(".")[0])
            elif name.startswith("_") and not name.startswith("__"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: from {imported} import {name}")
            else:
                aliases.add(name)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and isinstance(node.value, ast.Name) and node.value.id in aliases):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert offenders == []


def test_the_package_has_no_import_cycles():
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        graph[module_name(path)] = {f"{imported}.{name}" if name and is_module(f"{imported}.{name}") else imported
                                    for imported, name, _ in imports(path) if imported.startswith("attention")}
    for module in graph:  # a package's __init__ imports its modules; that is not a cycle through them
        graph[module] = {m for m in graph[module] if m in graph and not module.startswith(m + ".")}
    state, stack = {}, []

    def visit(module):
        state[module] = "open"
        stack.append(module)
        for dep in sorted(graph[module]):
            if state.get(dep) == "open":
                pytest.fail("import cycle: " + " -> ".join(stack[stack.index(dep):] + [dep]))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_are_small(path):
    text = path.read_text(encoding="utf-8")
    docstrings = set()
    for node in ast.walk(ast.parse(text)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            docstrings.update(range(body[0].lineno, body[0].end_lineno + 1))
    assert len(text.splitlines()) - len(docstrings) <= MAX_LINES, f"{path}: split it, or say it in fewer lines"


def note_slugs() -> list[str]:
    return sorted(p.stem for p in NOTES.glob("*.md"))


@pytest.mark.parametrize("slug", note_slugs())
def test_every_note_has_its_experiment_module_and_note_test(slug):
    name = slug.replace("-", "_")
    module = importlib.import_module(f"attention.experiments.{name}")
    assert callable(getattr(module, "register", None)), f"attention.experiments.{name} has no register(commands)"
    from attention.cli import EXPERIMENTS

    assert module in EXPERIMENTS, f"attention.cli.EXPERIMENTS does not list attention.experiments.{name}"
    assert (ROOT / "tests" / f"test_note_{name}.py").is_file(), f"tests/test_note_{name}.py is missing"


def test_every_note_is_in_the_nav():
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for slug in note_slugs():
        assert f"- notes/{slug}.md" in config, f"mkdocs.yml's nav does not list notes/{slug}.md"


def test_every_experiment_module_belongs_to_a_note():
    helpers = {"__init__", "plotting", "training", "benchmark_results", "widgets", "language_model", "notes_lm",
               "trained_model", "new_note", "notebooks"}  # new_note, notebooks: commands that write a note's files
    modules = {p.stem for p in (PACKAGE / "experiments").glob("*.py")} - helpers
    assert modules == {s.replace("-", "_") for s in note_slugs()}


@pytest.mark.parametrize("module", LIBRARY)
def test_every_library_module_has_its_test_file(module):
    assert (ROOT / "tests" / f"test_{module}.py").is_file()


def python_fences(text: str) -> list[int]:
    """Line numbers (1-based) of the ```python fences of a Markdown text that Sybil runs, found without
    Sybil: all but markdown-exec's build-time blocks (the strict build runs those) and skipped ones."""
    lines, starts, open_fence = text.splitlines(), [], None
    for i, line in enumerate(lines, 1):
        stripped = re.sub(r"^(?:\s*>)*", "", line).strip()  # fences inside callouts count too
        if open_fence is None and stripped.startswith("```"):
            open_fence = stripped[: len(stripped) - len(stripped.lstrip("`"))]
            words = stripped[len(open_fence):].split()
            if words[:1] == ["python"] and 'exec="1"' not in words:
                skipped = i > 2 and re.sub(r"^(?:\s*>)*", "", lines[i - 2]).strip() == "<!-- skip: next -->"
                if not skipped:
                    starts.append(i)
        elif open_fence is not None and stripped.startswith(open_fence) and stripped.strip("`") == "":
            open_fence = None
    return starts


def test_every_python_block_under_docs_at_any_depth_is_collected():
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                             "docs", "README.md"], cwd=ROOT, capture_output=True, text=True)
    collected = {}
    for item in re.findall(r"^(\S+\.md)::.*line:(\d+)", result.stdout, flags=re.M):
        collected.setdefault(item[0], []).append(int(item[1]))
    files = sorted(ROOT.glob("docs/**/*.md")) + [ROOT / "README.md"]
    # The notes (docs/<lang>/notes/*.md, drafts aside) run as notebooks instead (tests/test_notebooks.py).
    notes = set(notebooks.note_files(ROOT / "docs").values())
    assert len(notes) >= 16 and all(p.parent.name == "notes" for p in notes)
    files = [p for p in files if p not in notes]
    expected = {p.relative_to(ROOT).as_posix(): python_fences(p.read_text(encoding="utf-8")) for p in files}
    expected = {k: v for k, v in expected.items() if v}
    assert expected, "found no python block at all"
    assert set(collected) == set(expected), "files with python blocks vs files Sybil collected"
    for name, fences in expected.items():
        lines = sorted(collected[name])
        # each fence holds at least one collected example, and every example sits in a fence
        bounds = fences + [10**9]
        hits = {next((i for i, start in enumerate(fences) if start <= line < bounds[i + 1]), None) for line in lines}
        assert hits == set(range(len(fences))), f"{name}: blocks at lines {fences}, examples at {lines}"


def test_readme_layout_table_matches_the_tree():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Layout"):]
    section = section[: section.index("\n## ", 4)] if "\n## " in section[4:] else section
    paths = re.findall(r"^\| `([^`]+)`", section, flags=re.M)
    assert paths, "the README has no layout table"
    for listed in paths:
        for part in listed.split("`, `"):
            assert any(ROOT.glob(part.rstrip("/"))), f"README's layout lists {part}, which does not exist"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True).stdout.split("\0")
    if tracked:  # a git checkout: every top-level folder is in the table
        folders = {p.split("/")[0] for p in tracked if "/" in p and not p.startswith(".")}
        listed = {p.split("/")[0].rstrip("/") for p in re.findall(r"`([^`]+)`", section)}
        assert folders <= listed, f"top-level folders missing from the README's layout: {folders - listed}"


def test_every_library_module_names_the_note_that_explains_it():
    """Like d2l's "Defined in": a reader of the code finds the note (both languages), and the note exists."""
    for path in sorted((ROOT / "src" / "attention").glob("*.py")):
        if path.stem in ("__init__", "__main__", "cli"):
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        found = re.search(r"Explained in the note ``docs/en/notes/([\w-]+)\.md`` "
                          r"\(中文 ``docs/zh/notes/\1\.md``\)", doc)
        assert found, f"{path.name}: its docstring does not name its note"
        for lang in ("en", "zh"):
            assert (ROOT / "docs" / lang / "notes" / f"{found.group(1)}.md").is_file(), (path.name, found.group(1))


def test_every_public_callable_is_fully_annotated():
    """What a user's editor and type checker see: every parameter and every return of the public API."""
    missing = []
    for name in attention.__all__:
        obj = getattr(attention, name)
        members = [(name, obj)] if inspect.isfunction(obj) else [
            (f"{name}.{m}", f) for m, f in vars(obj).items()
            if inspect.isfunction(f) and (not m.startswith("_") or m in ("__init__", "__call__"))]
        for label, f in members:
            signature = inspect.signature(f)
            missing += [f"{label}({p.name})" for p in signature.parameters.values()
                        if p.name != "self" and p.annotation is inspect.Parameter.empty]
            if signature.return_annotation is inspect.Signature.empty and not label.endswith("__init__"):
                missing.append(f"{label} -> ?")
    assert missing == []
