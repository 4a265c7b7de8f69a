"""Mutation testing: how many wrong programs does each library module's own test file catch?

    make mutate                              # every public library module; or:
    .venv/bin/python tools/mutate.py softmax masks --children 2
    .venv/bin/python tools/mutate.py _internal/problem      # an internal module, see INTERNALS
    make mutate MUTATE_ARGS=--internals      # public and internal modules

For each public module, mutmut (the ``mutate`` extra) mutates ``src/attention/<module>.py`` and runs,
for every mutant, the module's own tests: ``tests/test_<module>.py`` and the module's doctests. An
internal module (``_internal/...``) has no test file of its own; it is mutated against the tests of
the public modules built on it (``INTERNALS``). Each module works in its own copy of the repository
under ``.mutate/<module>/``, so modules can run in parallel (``--jobs``). mutmut forks a child per
mutant; the differential tests against PyTorch skip there (torch's thread pools hang in a forked
child), as they do in CI, where torch is not installed.

A mutant is *killed* when a test fails (or it times out); it *survives* when every test passes,
or when no test runs its code. Survivors that change nothing observable (equivalent) or only
speed are listed, each with a one-line reason, in ``tools/mutants.txt``; every other survivor is
printed as *unexplained*, with its diff. The table at the end gives, per module, killed /
generated and the share; the exit status is 1 when a module is below ``--target`` (90%) or has
unexplained survivors.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "attention"
KNOWN = ROOT / "tools" / "mutants.txt"
#: Internal modules have no test file of their own: their contract is what the public functions built
#: on them promise, so each is mutated against the tests of those public modules (``--internals``).
INTERNALS: dict[str, list[str]] = {
    "_internal/dense": ["softmax", "scaled_dot_product"],
    "_internal/problem": ["scaled_dot_product", "flash", "flash_backward", "backward"],
    "_internal/blocked": ["flash", "scaled_dot_product"],
    "_internal/blocked_backward": ["flash_backward"],
    "_internal/bounds": ["flash"],
    "_internal/tiles": ["flash"],
    "_internal/threads": ["threads"],
}
KILLED = {1, 3, 24, -24, 36, 152, 255}  #: mutmut's exit codes for a failing test or a timeout
SURVIVED = {0, 5, 33}  #: all tests pass, or no test covers the mutant


def library_modules() -> list[str]:
    """The public library modules: every ``src/attention/<m>.py`` with a ``tests/test_<m>.py``."""
    return sorted(p.stem for p in PACKAGE.glob("*.py")
                  if not p.stem.startswith("_") and p.stem != "cli" and (ROOT / "tests" / f"test_{p.stem}.py").exists())


def prepare(module: str, work: Path) -> Path:
    """A copy of the repository for ``module``, with a ``[tool.mutmut]`` section that mutates it alone."""
    here = work / module.replace("/", ".")
    shutil.rmtree(here, ignore_errors=True)
    here.mkdir(parents=True)
    shutil.copytree(ROOT / "src", here / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copytree(ROOT / "tests", here / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tools", here / "tools", ignore=shutil.ignore_patterns("__pycache__"))  # pythonpath
    files = [f"src/attention/{module}.py"]
    tests = [f"tests/test_{m}.py" for m in INTERNALS.get(module, [module])]
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    config += ("\n[tool.mutmut]\n"
               'source_paths = ["src"]\n'
               f"only_mutate = {json.dumps(files)}\n"
               f"pytest_add_cli_args_test_selection = {json.dumps([*tests, *files])}\n"
               'pytest_add_cli_args = ["-x", "-q", "-p", "no:cacheprovider"]\n')
    (here / "pyproject.toml").write_text(config, encoding="utf-8")
    # mutmut forks a child per mutant; torch's thread pools do not survive a fork (the child waits on a
    # lock forever, which mutmut's CPU-time limit never ends): the differential tests against torch
    # skip, as in CI, where torch is not installed. Hypothesis is derandomized, as in CI, so that
    # every mutant meets the same examples.
    with open(here / "tests" / "conftest.py", "a", encoding="utf-8") as conftest:
        conftest.write('\nimport sys  # added by tools/mutate.py\n\n'
                       'sys.modules["torch"] = None\nsettings.load_profile("ci")\n')
    return here


def run(module: str, work: Path, children: int) -> dict:
    """Run mutmut for ``module``; returns counts and the survivors' names."""
    here = prepare(module, work)
    with open(here / "run.log", "w", encoding="utf-8") as log:
        status = subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(children)], cwd=here,
                                stdout=log, stderr=subprocess.STDOUT, check=False).returncode
    if status != 0:  # e.g. the tests could not even be collected: no mutant was tested, none may count
        tail = (here / "run.log").read_text(encoding="utf-8", errors="replace")[-3000:]
        raise SystemExit(f"mutmut failed for {module} (exit {status}); the end of {here / 'run.log'}:\n{tail}")
    codes = {}
    for meta in (here / "mutants" / "src" / "attention").rglob("*.meta"):
        codes |= json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
    killed = sorted(name for name, code in codes.items() if code in KILLED)
    survived = sorted(name for name, code in codes.items() if code in SURVIVED)
    other = sorted(name for name in codes if name not in killed and name not in survived)
    return {"module": module, "generated": len(codes), "killed": len(killed), "survived": survived, "other": other,
            "dir": here}


def known_survivors() -> dict[str, str]:
    """``tools/mutants.txt``: one survivor per line, ``<mutant name>  <reason>``; # comments."""
    out = {}
    for line in KNOWN.read_text(encoding="utf-8").splitlines() if KNOWN.exists() else []:
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            out[name] = reason.strip()
    return out


def diff(result: dict, name: str) -> str:
    show = subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=result["dir"], capture_output=True,
                          text=True, check=False)
    return "\n".join(line for line in show.stdout.splitlines() if line.startswith(("+", "-")) and
                     not line.startswith(("+++", "---")))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", help="library modules (default: every public one)")
    parser.add_argument("--internals", action="store_true",
                        help="also the internal modules, each against its users' tests (see INTERNALS)")
    parser.add_argument("--jobs", type=int, default=1, help="modules run at the same time")
    parser.add_argument("--children", type=int, default=None, help="mutmut workers per module (default: cores)")
    parser.add_argument("--target", type=float, default=0.9, help="least share of mutants killed per module")
    parser.add_argument("--work", type=Path, default=ROOT / ".mutate")
    args = parser.parse_args(argv)
    modules = (args.modules or library_modules()) + (sorted(INTERNALS) if args.internals else [])
    unknown = sorted(set(modules) - set(library_modules()) - set(INTERNALS))
    if unknown:
        parser.error(f"not library modules with a test file: {unknown}")
    children = args.children or max(1, (os.cpu_count() or 2) // args.jobs)

    def one(module):
        print(f"mutating {module} ...", file=sys.stderr, flush=True)
        result = run(module, args.work, children)
        print(f"  {module}: {result['killed']}/{result['generated']} killed", file=sys.stderr, flush=True)
        return result

    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(one, modules))
    known, failed = known_survivors(), False
    rows = ["| module | killed / generated | killed | explained survivors | unexplained |", "|---|---:|---:|---:|---:|"]
    for r in results:
        explained = [n for n in r["survived"] if n in known]
        unexplained = [n for n in r["survived"] if n not in known] + r["other"]
        share = r["killed"] / r["generated"] if r["generated"] else 1.0
        failed |= share < args.target or bool(unexplained)
        rows.append(f"| {r['module']} | {r['killed']} / {r['generated']} | {share:.0%} | {len(explained)} "
                    f"| {len(unexplained)} |")
        for name in unexplained:
            print(f"\nunexplained survivor {name}:\n{diff(r, name)}")
        prefix = f"attention.{r['module'].replace('/', '.')}."
        for name in sorted(n for n in known if n.startswith(prefix) and n not in r["survived"]):
            print(f"\n{name} is killed now: remove it from {KNOWN.relative_to(ROOT)}")
    print("\n" + "\n".join(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
