"""The site builds strictly, stays bilingual, and loads nothing from another host."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from urllib.parse import urlparse

import pytest
from rendered import is_draft, parse, resolve
from site_build import ROOT, hook

pytestmark = pytest.mark.slow  # builds the site (tens of seconds)

DOCS = ROOT / "docs"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
# Attributes that make the browser load something (as opposed to <a href>, a link a reader may follow).
LOADED_URL = re.compile(
    r"<(?:script|img|iframe|source|audio|video|embed)\b[^>]*?\bsrc=[\"']([^\"']+)"
    r"|<link\b[^>]*?\bhref=[\"']([^\"']+)",
    re.I,
)
CSS_URL = re.compile(r"url\(\s*[\"']?([^\"')]+)|@import\s+[\"']([^\"']+)", re.I)


def is_external(url: str) -> bool:
    parsed = urlparse(url.strip())
    if url.strip().startswith("//"):
        return True
    return parsed.scheme in {"http", "https"} and parsed.hostname not in LOCAL_HOSTS


def test_strict_build_passes(built_site):
    assert (built_site / "index.html").is_file()
    assert (built_site / "en" / "index.html").is_file()


def test_no_page_is_heavier_than_a_phone_should_fetch(built_site):
    """No built page's HTML exceeds 400 KB (the accessibility issue's weight target): the API reference
    is one page per section, not one page for all."""
    sizes = {str(p.relative_to(built_site)): p.stat().st_size for p in built_site.rglob("*.html")}
    assert len(sizes) > 20
    heavy = {page: round(size / 1024) for page, size in sizes.items() if size > 400 * 1024}
    assert heavy == {}, heavy


SCRIPT_TAG = re.compile(r"<script\b[^>]*>", re.I)


def test_no_script_holds_up_the_first_paint(built_site):
    """Every script a page loads (Material's bundle and ours) is deferred: the page is drawn first and the
    scripts run once it is parsed, in their order. Run as the parser met them, a slow phone could draw
    nothing until they had run and laid the page out again (Lighthouse, mobile preset: first paint 2.2 s
    instead of 1.4 s on the scoring-functions note in one run out of three)."""
    pages = sorted(built_site.rglob("*.html"))
    assert len(pages) > 20
    blocking = {}
    for html in pages:
        tags = [t for t in SCRIPT_TAG.findall(html.read_text(encoding="utf-8")) if re.search(r"\bsrc=", t)]
        assert html.name != "index.html" or len(tags) >= 7, (html, tags)  # the bundle and our six scripts
        if late := [t for t in tags if not re.search(r"\s(defer|async)\b", t)]:
            blocking[str(html.relative_to(built_site))] = late
    assert blocking == {}, blocking


def test_every_note_has_its_twin():
    zh = {p.relative_to(DOCS / "zh").as_posix() for p in (DOCS / "zh").rglob("*.md")}
    en = {p.relative_to(DOCS / "en").as_posix() for p in (DOCS / "en").rglob("*.md")}
    assert zh, "no notes found"
    assert sorted(zh - en) == [], "notes without an English twin under docs/en/"
    assert sorted(en - zh) == [], "notes without a Chinese twin under docs/zh/"
    outside = [p for p in DOCS.rglob("*.md") if p.relative_to(DOCS).parts[0] not in ("zh", "en")]
    assert outside == [], "the project's pages live in docs/zh/ and docs/en/ (docs/<other>/ is for a learner's notes)"


def test_twin_pages_are_built_in_both_languages(built_site):
    for page in (DOCS / "zh").rglob("*.md"):
        if is_draft(page.read_text(encoding="utf-8")):
            continue  # not built until it is written (python -m attention new-note)
        rel = page.relative_to(DOCS / "zh").as_posix()[: -len(".md")]
        url = "" if rel == "index" else rel.removesuffix("index") if rel.endswith("/index") else rel + "/"
        assert (built_site / url / "index.html").is_file(), rel
        assert (built_site / "en" / url / "index.html").is_file(), rel


def test_no_third_party_assets(built_site):
    offenders = []
    for html in built_site.rglob("*.html"):
        for match in LOADED_URL.finditer(html.read_text(encoding="utf-8")):
            url = match.group(1) or match.group(2)
            if is_external(url):
                offenders.append(f"{html.relative_to(built_site)}: {url}")
    for css in built_site.rglob("*.css"):
        for match in CSS_URL.finditer(css.read_text(encoding="utf-8")):
            url = match.group(1) or match.group(2)
            if is_external(url):
                offenders.append(f"{css.relative_to(built_site)}: {url}")
    assert offenders == []


def test_external_asset_detector_catches_cdn_and_fonts():
    page = '<script src="https://cdn.jsdelivr.net/x.js"></script><link href="//fonts.googleapis.com/css">'
    urls = [m.group(1) or m.group(2) for m in LOADED_URL.finditer(page)]
    assert [u for u in urls if is_external(u)] == urls and len(urls) == 2
    assert not is_external("../assets/katex/katex.min.js")
    assert not is_external("http://127.0.0.1:8000/en/")
    css = "@font-face{src:url(https://fonts.gstatic.com/a.woff2)} .x{background:url('fonts/KaTeX.woff2')}"
    css_urls = [m.group(1) or m.group(2) for m in CSS_URL.finditer(css)]
    assert [is_external(u) for u in css_urls] == [True, False]


def test_no_google_fonts_and_katex_is_self_hosted(built_site):
    html = (built_site / "notes" / "attention-mechanism" / "index.html").read_text(encoding="utf-8")
    assert "fonts.googleapis" not in html and "fonts.gstatic" not in html
    assert (built_site / "assets" / "katex" / "katex.min.css").is_file()
    assert not (built_site / "assets" / "katex" / "katex.min.js").exists()  # it typesets at build time only
    assert list((built_site / "assets" / "katex" / "fonts").glob("*.woff2"))


def test_math_callouts_and_chinese_anchors(built_site):
    zh = (built_site / "notes" / "attention-mechanism" / "index.html").read_text(encoding="utf-8")
    en = (built_site / "en" / "notes" / "attention-mechanism" / "index.html").read_text(encoding="utf-8")
    for html in (zh, en):
        assert html.count('class="arithmatex"') >= 10  # $...$ and $$...$$ handed to KaTeX
        assert '<div class="admonition warning">' in html  # > [!warning] callout
        assert '<details class="question">' in html  # > [!question]- folded callout
    assert 'id="核心思想"' in zh  # Chinese heading keeps a Chinese anchor
    assert 'id="core-idea"' in en


def test_dates_shown_and_api_cross_references_stay_in_language(built_site):
    zh = (built_site / "notes" / "attention-mechanism" / "index.html").read_text(encoding="utf-8")
    en = (built_site / "en" / "notes" / "attention-mechanism" / "index.html").read_text(encoding="utf-8")
    assert "创建于 <time>2026-11-25</time>" in zh
    assert "Created <time>2026-11-25</time>" in en
    assert 'href="../../reference/api/attention/#attention.scaled_dot_product_attention"' in zh
    assert 'href="../../../en/reference/api/attention/#attention.scaled_dot_product_attention"' not in zh
    assert 'href="../../reference/api/attention/#attention.scaled_dot_product_attention"' in en  # relative to /en/


def test_api_reference_renders_docstrings_with_section_titles_in_each_language(built_site):
    zh = (built_site / "reference" / "api" / "attention" / "index.html").read_text(encoding="utf-8")
    en = (built_site / "en" / "reference" / "api" / "attention" / "index.html").read_text(encoding="utf-8")
    for api in (zh, en):
        assert 'id="attention.scaled_dot_product_attention"' in api and "&gt;&gt;&gt;" in api
    assert 'doc-section-title">参数：' in zh and 'doc-section-title">示例：' in zh and "Parameters:" not in zh
    assert 'doc-section-title">Parameters:' in en and 'doc-section-title">Examples:' in en and "参数" not in en


def test_tags_index_lists_notes(built_site):
    tags = (built_site / "tags" / "index.html").read_text(encoding="utf-8")
    assert "softmax" in tags and "notes/attention-mechanism/" in tags


def test_chinese_search_index_is_segmented(built_site):
    index = json.loads((built_site / "search" / "search_index.json").read_text(encoding="utf-8"))
    assert "\\u200b" in index["config"]["separator"]
    text = " ".join(doc["text"] for doc in index["docs"] if "notes/attention-mechanism" in doc["location"])
    assert "\u200b" in text  # jieba's word boundaries
    assert "\u200b饱和\u200b" in text  # a word from the middle of a sentence stands alone


def test_build_time_scaling_table_and_figure_in_both_languages(built_site):
    zh = (built_site / "notes" / "scaling" / "index.html").read_text(encoding="utf-8")
    en = (built_site / "en" / "notes" / "scaling" / "index.html").read_text(encoding="utf-8")
    for html, header in ((zh, "熵（归一化）"), (en, "entropy (norm.)")):
        assert f"<th>{header}</th>" in html  # the table rendered from attention.experiments.scaling
        assert "<svg xmlns:xlink=" in html  # the matplotlib figure, inlined
        assert "<code>1/sqrt(d_k)</code>" in html


def test_obsidian_config_stays_out_of_the_site(built_site):
    assert (ROOT / "docs" / ".obsidian" / "app.json").is_file()
    assert not list(built_site.rglob(".obsidian")) and not list(built_site.rglob("app.json"))


def test_no_sphinx_roles_or_private_names_on_the_site(built_site):
    for html in built_site.rglob("*.html"):
        text = html.read_text(encoding="utf-8")
        for role in (":func:", ":class:", ":meth:", ":mod:", ":data:"):
            assert role not in text, f"{html.relative_to(built_site)}: a literal {role}"
    for folder in (built_site / "reference" / "api", built_site / "en" / "reference" / "api"):
        text = "".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*/index.html")))
        ids = re.findall(r'id="(attention\.[^"]+)"', text)
        assert ids and not [i for i in ids if re.search(r"\._(?!_)", i)], "a private name is documented"
        assert 'id="attention.softmax"' in text and 'id="attention.gradcheck"' in text  # functions, not modules
        assert "Source code in" in text or "源代码位于" in text  # each entry shows its source


def test_search_indexes_are_per_language_and_previews_have_no_raw_latex(built_site):
    zh = json.loads((built_site / "search" / "search_index.json").read_text(encoding="utf-8"))
    en = json.loads((built_site / "en" / "search" / "search_index.json").read_text(encoding="utf-8"))
    assert not [d for d in zh["docs"] if d["location"].startswith("en/")]
    assert en["docs"] and not [d for d in en["docs"] if d["location"].startswith("en/")]  # relative to en/
    assert {d["location"].split("#")[0] for d in en["docs"]} <= {
        p.relative_to(built_site / "en").parent.as_posix() + "/" for p in (built_site / "en").rglob("index.html")
    } | {""}
    assert en["config"]["lang"] == ["en"]
    for index in (zh, en):
        text = " ".join(d["text"] + d["title"] for d in index["docs"])
        assert "\\(" not in text and "\\[" not in text, "raw LaTeX in the search previews"
    claim = next(d["text"] for d in en["docs"] if d["location"] == "notes/scaling/#the-variance-argument")
    assert "Var(q · k) = d_k" in claim, claim[:300]  # the rendered formula, as plain text
    # An API entry is found by what its docstring says, not by the lines of its source listing (a third of
    # the index, downloaded by every page for its search): they are left out.
    for index in (zh, en):
        api = " ".join(d["text"] for d in index["docs"] if d["location"].startswith("reference/api/attention/"))
        assert "Huge finite scores are exact" in api and "def scaled_dot_product_attention(" not in api


def test_chinese_lines_join_without_spaces_and_math_keeps_its_punctuation(built_site):
    home = (built_site / "index.html").read_text(encoding="utf-8")
    assert "每个公式都配有实现它的" in home  # the source breaks the line between 配有 and 实现
    note = (built_site / "notes" / "scaling" / "index.html").read_text(encoding="utf-8")
    kept = [e for e in parse(note).find_all(lambda e: "nowrap" in e.classes)
            if [c if isinstance(c, str) else "arithmatex" in c.classes for c in e.children] == [True, "。"]]
    assert kept, "no formula kept with the full stop after it"
    assert not re.search(r'</span>\s+[，。、；：]', note)


def test_exercises_show_their_questions_as_titles(built_site):
    for html in [*(built_site / "notes").rglob("index.html"), *(built_site / "en" / "notes").rglob("index.html")]:
        titles = re.findall(r'<details class="question">\s*<summary>(.*?)</summary>', html.read_text(encoding="utf-8"),
                            re.S)
        assert len(titles) >= 3, html
        for title in titles:
            assert ("Exercise" in title or "练习" in title) and len(title) > 20, (html, title)


BUILD_TIME_OUTPUT = re.compile(r"<svg\b.*?</svg>|<table>.*?</table>", re.S)
HREF = re.compile(r' href="[^"]*"')  # the offline copy links to .html files


def test_the_offline_copy_shows_the_figures_and_tables_of_the_site(built_site, offline_site):
    # The offline build prints its build-time blocks from the site build's (hooks/exec_cache.py): the
    # same figures and tables, each page's in its place.
    notes = sorted(built_site.glob("**/notes/*/index.html"))
    assert len(notes) >= 16
    for page in notes:
        rel = page.relative_to(built_site)
        online = BUILD_TIME_OUTPUT.findall(HREF.sub("", page.read_text(encoding="utf-8")))
        offline_page = offline_site / f"{rel.parent}.html"  # no directory URLs from file://
        offline = BUILD_TIME_OUTPUT.findall(HREF.sub("", offline_page.read_text(encoding="utf-8")))
        assert online and len(online) == len(offline), rel
        assert online == offline, rel


def test_a_build_time_block_runs_once_per_test_run_and_a_failure_is_never_kept(tmp_path, monkeypatch):
    from markdown_exec._internal.formatters import python

    monkeypatch.setattr(python, "_run_python", python._run_python)  # restored after the test
    monkeypatch.setenv("ATTENTION_EXEC_CACHE", str(tmp_path))
    hook("exec_cache").on_config({})
    runs = tmp_path / "runs"  # one character per run of a block
    count = f"from pathlib import Path\nruns = Path({str(runs)!r})\nwith runs.open('a') as f: f.write('x')\n"
    counting = count + "print(len(runs.read_text()))"
    assert python._run_python(counting) == "1\n"
    assert python._run_python(counting) == "1\n"  # kept: not run again
    assert python._run_python(counting, session="s") == "2\n"  # a session's output depends on what came before
    failing = count + "raise ValueError('no')"
    for _ in range(2):
        with pytest.raises(Exception, match="no"):
            python._run_python(failing)
    assert runs.read_text() == "xxxx"  # the failure ran both times
    assert len(list(tmp_path.glob("*.out"))) == 1


def test_a_build_time_block_that_fails_fails_the_strict_build(tmp_path):
    # Sybil leaves the ```python exec="1" blocks to the build (tests/conftest.py): the strict build is their test.
    (tmp_path / "docs").mkdir()
    page = '# t\n\n```python exec="1"\nraise ValueError("broken on purpose")\n```\n'
    (tmp_path / "docs" / "index.md").write_text(page, encoding="utf-8")
    (tmp_path / "mkdocs.yml").write_text("site_name: t\nplugins: [markdown-exec]\n"
                                         "markdown_extensions: [pymdownx.superfences]\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=tmp_path,
                          capture_output=True, text=True, env=os.environ | {"NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode != 0
    assert "exited with errors" in done.stderr and "broken on purpose" in done.stderr


NOTEBOOK_LINK = {"zh": "下载 Notebook", "en": "Download notebook"}


@pytest.mark.parametrize("kind", ["site", "offline"])
def test_every_note_links_its_notebook_under_its_title_in_both_languages(built_site, offline_site, kind):
    """Each note's page, in both languages (and in the offline copy), offers its notebook right under its
    title: a download link to ``notebooks/<slug>.<lang>.ipynb``, a notebook of that note in that language."""
    site = built_site if kind == "site" else offline_site
    notes = sorted((ROOT / "docs").glob("*/notes/*.md"))
    assert len(notes) >= 16
    for note in notes:
        lang, slug = note.parts[-3], note.stem
        if is_draft(note.read_text(encoding="utf-8")):
            continue
        folder = site / ("en/" if lang == "en" else "") / "notes"
        page = folder / slug / "index.html" if kind == "site" else folder / f"{slug}.html"
        article = parse(page.read_text(encoding="utf-8")).first(lambda e: e.tag == "article")
        blocks = [e for e in article.children if not isinstance(e, str)]
        heading = next(i for i, e in enumerate(blocks) if e.tag == "h1")
        link = blocks[heading + 1]
        assert link.tag == "p" and "notebook-link" in link.classes, (page, link.tag)  # right under the title
        anchor = link.first(lambda e: e.tag == "a")
        assert anchor.text().strip() == NOTEBOOK_LINK[lang] and "download" in anchor.attrs, page
        assert f"make notebook NOTE={slug}" in link.text(), page
        target = resolve(page, site, anchor.attrs["href"])
        assert target == f"notebooks/{slug}.{lang}.ipynb", (page, target)
        book = json.loads((site / target).read_text(encoding="utf-8"))
        assert book["metadata"]["attention"] == {"note": slug, "lang": lang} and len(book["cells"]) > 5
