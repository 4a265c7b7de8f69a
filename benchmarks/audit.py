"""Lighthouse on the built site, as a phone on a slow network sees it: a table of scores and timings.

    make audit                                   # or: .venv/bin/python benchmarks/audit.py
    make audit AUDIT_ARGS="--pages en/notes/scaling/ --runs 1"

The site is built (``mkdocs build``) into a scratch folder, served on loopback with gzip as a static
host would, and each page is audited ``--runs`` times (default 3) by Lighthouse 12.2 (pinned in
package-lock.json; 13 needs Node >= 22) with its default mobile preset (simulated 4x slower CPU and
a slow 4G network) in Debian's Chromium. The table gives each page's median scores and timings next
to the targets of the accessibility issue (performance >= 90, accessibility 100, best practices and
SEO >= 95); scores depend on the machine, so the results file names it:
benchmarks/audit/<cpu-slug>.json unless --out says otherwise. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from attention.experiments.benchmark_results import cpu_slug, machine_summary

ROOT = Path(__file__).resolve().parents[1]
LIGHTHOUSE = ROOT / "node_modules" / "lighthouse" / "cli" / "index.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CATEGORIES = {"performance": 90, "accessibility": 100, "best-practices": 95, "seo": 95}
METRICS = {"first-contentful-paint": "FCP", "largest-contentful-paint": "LCP", "total-blocking-time": "TBT",
           "cumulative-layout-shift": "CLS"}
COMPRESSED = (".html", ".css", ".js", ".json", ".svg", ".xml", ".txt")


class _Gzip(SimpleHTTPRequestHandler):
    """Static files, text ones gzipped when the browser accepts it (as GitHub Pages or Netlify do)."""

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if not (path.suffix in COMPRESSED and path.is_file() and "gzip" in self.headers.get("Accept-Encoding", "")):
            return super().send_head()
        body = gzip.compress(path.read_bytes(), compresslevel=6)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return None

    def log_message(self, *args):
        pass


def note_pages(site: Path) -> list[str]:
    """Every note page and the API reference's pages, in both languages."""
    pages = []
    for prefix in ("", "en/"):
        pages += [f"{prefix}notes/{p.name}/" for p in sorted((site / prefix / "notes").iterdir()) if p.is_dir()]
        api = site / prefix / "reference" / "api"
        pages += [f"{prefix}reference/api/"] + [f"{prefix}reference/api/{p.name}/" for p in sorted(api.iterdir())
                                                if p.is_dir()]
    return pages


def lighthouse(url: str) -> dict:
    """One Lighthouse run (mobile preset): ``{category: score 0-100, metric: value}``."""
    flags = "--headless=new --no-sandbox --disable-gpu"
    done = subprocess.run(["node", str(LIGHTHOUSE), url, "--output=json", "--output-path=stdout", "--quiet",
                           f"--chrome-flags={flags}", f"--only-categories={','.join(CATEGORIES)}"],
                          capture_output=True, text=True, env=os.environ | {"CHROME_PATH": CHROMIUM}, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"lighthouse failed on {url}:\n{done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    result = {name: round(100 * report["categories"][name]["score"]) for name in CATEGORIES}
    result |= {short: report["audits"][audit]["numericValue"] for audit, short in METRICS.items()}
    # Lighthouse's own measure of the host's speed (higher is faster): two hosts that report the same CPU
    # name can differ twofold, and the mobile preset's simulated throttling scales what the host measured.
    result["benchmarkIndex"] = report["environment"]["benchmarkIndex"]
    result["failed"] = sorted(ref["id"] for name in CATEGORIES for ref in report["categories"][name]["auditRefs"]
                              if ref["weight"] and (score := report["audits"][ref["id"]]["score"]) is not None
                              and score < 0.9)
    return result


def audit(site: Path, pages: list[str], runs: int) -> list[dict]:
    handler = functools.partial(_Gzip, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rows = []
    try:
        for i, page in enumerate(pages, 1):
            measured = [lighthouse(f"http://127.0.0.1:{server.server_port}/{page}") for _ in range(runs)]
            row = {"page": page, "bytes": (site / page / "index.html").stat().st_size,
                   **{key: statistics.median(m[key] for m in measured) for key in [*CATEGORIES, *METRICS.values()]},
                   "failed": sorted({a for m in measured for a in m["failed"]}), "runs": measured}
            rows.append(row)
            print(f"[{i}/{len(pages)}] {page}: performance {row['performance']:.0f}", file=sys.stderr)
    finally:
        server.shutdown()
    return rows


def table(rows: list[dict]) -> str:
    head = ["page", "HTML KB", *CATEGORIES, "FCP s", "LCP s", "TBT ms", "CLS"]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for r in rows:
        scores = [f"{r[c]:.0f}" + ("" if r[c] >= target else " ✗") for c, target in CATEGORIES.items()]
        lines.append(f"| {r['page']} | {r['bytes'] / 1024:.0f} | " + " | ".join(scores)
                     + f" | {r['FCP'] / 1000:.1f} | {r['LCP'] / 1000:.1f} | {r['TBT']:.0f} | {r['CLS']:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", nargs="*", help="pages under the site's root (default: every note and the API, "
                                                   "both languages)")
    parser.add_argument("--runs", type=int, default=3, help="Lighthouse runs per page; the table gives medians")
    parser.add_argument("--site", type=Path, help="an already built site (default: build one now)")
    parser.add_argument("--out", type=Path, help="results file (default: benchmarks/audit/<cpu-slug>.json)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if not LIGHTHOUSE.is_file():
        parser.error(f"Lighthouse is missing ({LIGHTHOUSE}): run `make setup` (npm ci)")
    with tempfile.TemporaryDirectory() as scratch:
        site = args.site
        if site is None:
            site = Path(scratch) / "site"
            print("building the site ...", file=sys.stderr)
            subprocess.run([sys.executable, "-m", "mkdocs", "build", "--quiet", "--site-dir", str(site)], cwd=ROOT,
                           check=True, env=os.environ | {"NO_MKDOCS_2_WARNING": "1"})
        pages = args.pages or note_pages(site)
        rows = audit(site, pages, args.runs)
    machine = machine_summary()
    out = args.out or ROOT / "benchmarks" / "audit" / f"{cpu_slug(machine)}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    version = json.loads((LIGHTHOUSE.parents[1] / "package.json").read_text(encoding="utf-8"))["version"]
    chromium = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
    speed = statistics.median(run["benchmarkIndex"] for row in rows for run in row["runs"])
    out.write_text(json.dumps({"machine": machine | {"lighthouse_benchmark_index": speed}, "lighthouse": version,
                               "chromium": chromium, "preset": "mobile", "runs": args.runs, "targets": CATEGORIES,
                               "pages": rows}, indent=1), encoding="utf-8")
    print(table(rows))
    print(f"wrote {out} (Lighthouse {version}, {chromium}, mobile preset, median of {args.runs}; "
          f"host speed: Lighthouse benchmark index {speed:.0f})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
