"""Serve the front-end libraries from the site itself (no CDN): KaTeX for math, mermaid for diagrams,
d3-force for the graph view, and, for the offline copy (``make offline``), the iframe-worker shim that
lets search run from ``file://``. KaTeX's script runs when the site is built (``vault.katex``): pages get its
stylesheet and fonts only.

Their versions are pinned by package-lock.json and installed into node_modules by `make setup`
(`npm ci`). This hook adds the files the pages need as generated site files, so `mkdocs build`
and `mkdocs serve` both serve them under ``assets/``. KaTeX's stylesheet is loaded by every page
(``extra_css``); mermaid (3.5 MB) only by pages with a diagram, and only once the diagram comes
near the screen: ``hooks/obsidian.py`` marks them, ``overrides/main.html`` gives Material's bundle a
stand-in ``mermaid`` (so it fetches none from a CDN) that fetches this copy when it is needed.
Material's offline plugin would load the iframe-worker shim from unpkg.com; with this copy listed
first in ``extra.polyfills`` it does not.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File
from vault import DEFAULT_LANGUAGE
from vault.katex import SITE_FONTS

NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"
KATEX = NODE_MODULES / "katex" / "dist"
MERMAID = NODE_MODULES / "mermaid" / "dist" / "mermaid.min.js"
IFRAME_WORKER = NODE_MODULES / "iframe-worker" / "shim" / "index.js"
#: d3-force and what it needs (17 KB), for the graph view; docs/javascripts/graph.js loads them, in this order,
#: only when a graph comes near the screen.
D3 = ("d3-dispatch", "d3-quadtree", "d3-timer", "d3-force")
#: The trained character model's weights (``python -m attention train-transformer --task notes-lm``), served
#: as a script that sets ``window.NotesLMWeights``: a script loads from file:// too, where fetch() fails.
#: The trained-model widget adds it to its page; no other page loads it.
NOTES_LM = Path(__file__).resolve().parent.parent / "results" / "notes-lm.json"


@event_priority(100)  # before Material's offline plugin, which adds the shim from a CDN unless one is listed
def on_config(config):
    offline = config.plugins.get("material/offline")
    polyfills = config.extra.get("polyfills", [])
    if offline is not None and offline.config.enabled and "assets/iframe-worker/shim.js" not in polyfills:
        config.extra["polyfills"] = ["assets/iframe-worker/shim.js", *polyfills]
    return config


def on_files(files, config):
    d3 = [NODE_MODULES / name / "dist" / f"{name}.min.js" for name in D3]
    if not all(path.is_file() for path in (KATEX / "katex.min.css", MERMAID, IFRAME_WORKER, *d3)):
        raise PluginError(f"front-end assets are missing in {NODE_MODULES}: run `make setup` (it runs `npm ci`).")
    wanted = {"assets/katex/katex.min.css": KATEX / "katex.min.css"}
    wanted |= {f"{SITE_FONTS}/{p.name}": p for p in sorted((KATEX / "fonts").glob("*.woff2"))}
    wanted["assets/mermaid/mermaid.min.js"] = MERMAID
    wanted["assets/iframe-worker/shim.js"] = IFRAME_WORKER
    wanted |= {f"assets/d3/{path.name}": path for path in d3}
    for uri, path in wanted.items():
        if files.get_file_from_path(uri) is None:
            files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files


def on_post_build(config):
    # Written into the built site, not added as a page file: the i18n plugin needs every file to have a source.
    # Every language's build writes into the same site folder: the default language's writes it once.
    if (config.theme.get("language") or DEFAULT_LANGUAGE) != DEFAULT_LANGUAGE:
        return
    out = Path(config.site_dir) / "assets" / "notes-lm.js"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"window.NotesLMWeights = {NOTES_LM.read_text(encoding='utf-8')};\n", encoding="utf-8")
