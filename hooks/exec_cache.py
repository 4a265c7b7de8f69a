"""Build-time blocks run once per test run, not once per build (off unless ``ATTENTION_EXEC_CACHE`` is set).

A test run builds the site twice from the same sources (the site, then the offline copy with
``make offline``); markdown-exec would run every ```` ```python exec="1" ```` block again, which is
three quarters of a build's time (the experiments behind the notes' tables and figures). With
``ATTENTION_EXEC_CACHE`` set to a folder, what a block printed is kept there under the hash of its
code, and the next build prints the same without running it. Only for builds that share their
sources: the tests give each run a new, empty folder. A block that fails is never kept (the next
build runs it again and fails again), nor one with a ``session`` (its output depends on the blocks
before it).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def kept_output(folder: str | Path, code: str) -> Path:
    """Where the output of the block ``code`` (as markdown-exec receives it) is kept in ``folder``."""
    return Path(folder) / f"{hashlib.sha256(code.encode()).hexdigest()}.out"


def on_config(config):
    folder = os.environ.get("ATTENTION_EXEC_CACHE")
    if not folder:
        return config
    from markdown_exec._internal.formatters import python  # pinned in requirements.lock

    run = getattr(python._run_python, "__wrapped__", python._run_python)  # mkdocs serve reloads hooks

    def cached_run(code: str, returncode=None, session=None, id=None, **extra):  # noqa: A002 - markdown-exec's names
        if session:
            return run(code, returncode, session, id, **extra)
        kept = kept_output(folder, code)
        if kept.exists():
            return kept.read_text(encoding="utf-8")
        output = run(code, returncode, session, id, **extra)
        kept.parent.mkdir(parents=True, exist_ok=True)
        partial = kept.with_suffix(f".{os.getpid()}.partial")  # renamed: never read half-written
        partial.write_text(output, encoding="utf-8")
        partial.replace(kept)
        return output

    cached_run.__wrapped__ = run
    python._run_python = cached_run
    return config
