"""Build the project's site, or a vault of notes with the project's configuration."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VAULT = Path(__file__).resolve().parent / "vault"


def build_site(site_dir: Path, *, strict: bool = True, offline: bool = False) -> subprocess.CompletedProcess:
    """Run ``mkdocs build`` into ``site_dir`` (with ``offline``, as ``make offline`` does) and return
    the finished process."""
    cmd = [sys.executable, "-m", "mkdocs", "build", "--site-dir", str(site_dir)]
    if strict:
        cmd.append("--strict")
    env = os.environ | {"NO_MKDOCS_2_WARNING": "1"} | ({"OFFLINE": "true"} if offline else {})
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)


def vault_config(docs: Path) -> str:
    """The project's mkdocs.yml (theme, plugins, hooks, strict) pointed at another docs folder, without its nav."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8").split("\nnav:")[0]
    text = text.replace("docs_dir: docs", f"docs_dir: {docs}")
    text = re.sub(r"^watch: \[src, hooks\]", f"watch: [{ROOT / 'src'}, {ROOT / 'hooks'}]", text, flags=re.M)
    text = text.replace("custom_dir: overrides", f"custom_dir: {ROOT / 'overrides'}")
    text = re.sub(r"  - hooks/(\w+\.py)", lambda m: f"  - {ROOT / 'hooks' / m.group(1)}", text)
    return text


def build_vault(tmp: Path, source: Path = VAULT) -> subprocess.CompletedProcess:
    """Copy a vault folder (as a learner would drop notes into docs/) with the project's assets, and build it."""
    docs = tmp / "docs"
    shutil.copytree(source, docs)
    for assets in ("javascripts", "stylesheets"):
        shutil.copytree(ROOT / "docs" / assets, docs / assets)
    (tmp / "mkdocs.yml").write_text(vault_config(docs), encoding="utf-8")
    cmd = [sys.executable, "-m", "mkdocs", "build", "-f", str(tmp / "mkdocs.yml"), "-d", str(tmp / "site")]
    return subprocess.run(cmd, capture_output=True, text=True, env=os.environ | {"NO_MKDOCS_2_WARNING": "1"})
