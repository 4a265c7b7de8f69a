"""Build the site once per test session (builds take seconds on a 2-core machine)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def build_site(site_dir: Path, *, strict: bool = True) -> subprocess.CompletedProcess:
    """Run ``mkdocs build`` into ``site_dir`` and return the finished process."""
    cmd = [sys.executable, "-m", "mkdocs", "build", "--site-dir", str(site_dir)]
    if strict:
        cmd.append("--strict")
    env = os.environ | {"NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
