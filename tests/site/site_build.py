"""Build the project's site, or a vault of notes with the project's configuration.

A test run builds each site once and every test that reads it shares it (:class:`SharedBuilds`):
the builds start in the background as soon as pytest knows which tests will run, so the unit tests
run while the sites are being built, and with pytest-xdist one worker builds what all read.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VAULT = Path(__file__).resolve().parent / "vault"
#: A build is one more process beside the test workers on a 2-core machine: one BLAS thread each,
#: or the figures' matrix products fight the tests for the cores.
ONE_BLAS_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
ENV = {"NO_MKDOCS_2_WARNING": "1", **ONE_BLAS_THREAD}


def site_command(site_dir: Path, *, strict: bool = True) -> list[str]:
    cmd = [sys.executable, "-m", "mkdocs", "build", "--site-dir", str(site_dir)]
    return cmd + ["--strict"] if strict else cmd


def offline_command(build_dir: Path, zip_file: Path) -> list[str]:
    """``make offline`` (the README's command), writing into a scratch folder instead of the checkout."""
    return ["make", "--no-print-directory", "offline", f"OFFLINE_DIR={build_dir}", f"OFFLINE_ZIP={zip_file}"]


def vault_config(docs: Path) -> str:
    """The project's mkdocs.yml (theme, plugins, hooks, strict) pointed at another docs folder, with the
    project's nav cut to the project pages that folder has (as when a learner copies a vault into docs/)."""
    import yaml

    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    config, nav = text.split("\nnav:")
    config = config.replace("docs_dir: docs", f"docs_dir: {docs}")
    config = re.sub(r"^watch: \[src, hooks\]", f"watch: [{ROOT / 'src'}, {ROOT / 'hooks'}]", config, flags=re.M)
    config = config.replace("custom_dir: overrides", f"custom_dir: {ROOT / 'overrides'}")
    config = re.sub(r"  - hooks/(\w+\.py)", lambda m: f"  - {ROOT / 'hooks' / m.group(1)}", config)

    def present(items: list) -> list:
        kept = []
        for item in items:
            (title, value), = item.items() if isinstance(item, dict) else [(None, item)]
            value = present(value) if isinstance(value, list) else value if (docs / "zh" / value).is_file() else None
            if value:
                kept.append({title: value} if title else value)
        return kept

    return config + "\nnav:\n" + yaml.safe_dump(present(yaml.safe_load(nav)), allow_unicode=True)


def prepare_vault(tmp: Path, source: Path = VAULT) -> list[str]:
    """Copy a vault folder (as a learner would drop notes into docs/) with the project's assets and
    a configuration for it; the command that builds it into ``tmp / "site"``."""
    docs = tmp / "docs"
    shutil.copytree(source, docs)
    for assets in ("javascripts", "stylesheets"):
        shutil.copytree(ROOT / "docs" / assets, docs / assets)
    (tmp / "mkdocs.yml").write_text(vault_config(docs), encoding="utf-8")
    return [sys.executable, "-m", "mkdocs", "build", "-f", str(tmp / "mkdocs.yml"), "-d", str(tmp / "site")]


def build_vault(tmp: Path, source: Path = VAULT) -> subprocess.CompletedProcess:
    """Copy a vault folder with the project's assets, and build it."""
    cmd = prepare_vault(tmp, source)
    return subprocess.run(cmd, capture_output=True, text=True, env=os.environ | ENV)


@functools.cache
def hook(name: str):
    """A module of hooks/ (MkDocs loads them as files, not as a package), loaded once."""
    spec = importlib.util.spec_from_file_location(f"hooks_{name}", ROOT / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SharedBuilds:
    """Site builds shared by every process of one test run, through a folder all of them see.

    The first process to ask for a build creates its folder (``mkdir`` is atomic, so exactly one
    does) and starts the build in the background; a ``result.json`` written when it ends (by
    rename, so never half-written) tells every process that it is done, with its exit code."""

    KINDS = ("site", "offline", "vault")

    def __init__(self, root: Path):
        self.root = root
        #: What each build-time block printed (hooks/exec_cache.py), for the tests that read it.
        self.exec_cache = root / "exec-cache"
        self.running: list[subprocess.Popen] = []

    def start(self, kind: str) -> None:
        folder = self.root / kind
        try:
            folder.mkdir(parents=True)
        except FileExistsError:
            return  # another process (or an earlier call) started it
        if kind == "vault":
            cmd, cwd = prepare_vault(folder), None
        elif kind == "offline":  # the README's command itself; the runner unzips what it writes
            cmd, cwd = offline_command(folder / "build", folder / "site.zip"), ROOT
        else:
            cmd, cwd = site_command(folder / "site"), ROOT
        # Not the test run's make flags (`make test PYTEST_ARGS=...`): the offline build is a make of its own.
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")} | ENV
        # The offline copy runs after the site, so that its build-time blocks print what the site's printed
        # (hooks/exec_cache.py) instead of running the experiments again.
        env["ATTENTION_EXEC_CACHE"] = str(self.exec_cache)
        after = self.root / "site" / "result.json" if kind == "offline" else ""
        if after:
            self.start("site")
        runner = [sys.executable, __file__, str(folder), str(after), *cmd]
        self.running.append(subprocess.Popen(runner, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def printed(self, code: str) -> str:
        """What the build-time block ``code`` (a fence's body) printed when the site was built."""
        kept = hook("exec_cache").kept_output(self.exec_cache, code.rstrip("\n"))  # as the fence hands it on
        assert kept.is_file(), f"the site build printed nothing for this block:\n{code}"
        return kept.read_text(encoding="utf-8")

    def wait(self, kind: str, timeout: float = 900) -> tuple[Path, dict]:
        """The built site's folder and ``{"returncode", "stdout", "stderr", "seconds"}``."""
        self.start(kind)
        result = self.root / kind / "result.json"
        deadline = time.monotonic() + timeout
        while not result.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the {kind} build did not finish in {timeout} s ({self.root / kind})")
            time.sleep(0.2)
        return self.root / kind / "site", json.loads(result.read_text(encoding="utf-8"))

    def stop(self) -> None:
        """Wait for the builds this process started: another worker may still be reading one
        (Ctrl-C reaches them too, as they share the terminal's process group)."""
        for process in self.running:
            process.wait()


def _run_and_record(folder: Path, after: str, cmd: list[str]) -> None:
    """Run ``cmd`` (once the file ``after`` exists, if given) and write its outcome to ``folder/result.json``
    (the background half of SharedBuilds); a ``site.zip`` it wrote is unzipped into ``folder/site``, as a
    reader would."""
    while after and not Path(after).exists():
        time.sleep(0.2)
    began = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode == 0 and (folder / "site.zip").exists():
        with zipfile.ZipFile(folder / "site.zip") as archive:
            archive.extractall(folder / "site")
    record = {"returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr,
              "seconds": round(time.monotonic() - began, 1)}
    partial = folder / "result.json.partial"
    partial.write_text(json.dumps(record), encoding="utf-8")
    partial.rename(folder / "result.json")


if __name__ == "__main__":
    _run_and_record(Path(sys.argv[1]), sys.argv[2], sys.argv[3:])
