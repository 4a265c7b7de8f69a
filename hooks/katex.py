"""Serve KaTeX from the site itself (no CDN).

The version is pinned by package-lock.json and installed into node_modules by `make setup`
(`npm ci`). This hook adds the files the pages need as generated site files, so
`mkdocs build` and `mkdocs serve` both serve them under ``assets/katex/``.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

KATEX_DIST = Path(__file__).resolve().parent.parent / "node_modules" / "katex" / "dist"
WANTED = ["katex.min.js", "katex.min.css", "contrib/auto-render.min.js"]


def on_files(files, config):
    if not (KATEX_DIST / "katex.min.js").is_file():
        raise PluginError(f"KaTeX is missing at {KATEX_DIST}: run `make setup` (it runs `npm ci`).")
    paths = [KATEX_DIST / name for name in WANTED]
    paths += sorted(p for p in (KATEX_DIST / "fonts").iterdir() if p.suffix == ".woff2")
    for path in paths:
        uri = "assets/katex/" + path.relative_to(KATEX_DIST).as_posix()
        if files.get_file_from_path(uri) is None:
            files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files
