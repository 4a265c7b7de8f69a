"""What a reader sees on the built site, checked on the HTML itself (the browser tests check the
rest in Chromium): every callout as written, Chinese prose without stray spaces."""

from __future__ import annotations

import json
import re
from html import unescape as entities_unescape
from pathlib import Path

import pytest
from rendered import CJK, Element, article, as_written, is_draft, language_of, page_of, parse, prose, resolve
from site_build import ROOT, VAULT

pytestmark = pytest.mark.slow  # reads built sites

DOCS = ROOT / "docs"
FENCE = re.compile(r"^(?:[ \t]*>)*[ \t]*(`{3,}|~{3,})")
CALLOUT = re.compile(r"^(?:[ \t]*>)+[ \t]*\[!(?P<type>[\w-]+)\][-+]?[ \t]*(?P<title>.*)$")


def source_callouts(path: Path) -> list[tuple[str, str]]:
    """``(type, title as written)`` of every callout of a note, in order, outside fenced code."""
    found, fence = [], None
    for line in path.read_text(encoding="utf-8").split("\n"):
        opening = FENCE.match(line)
        if fence is not None:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = None
        elif opening:
            fence = opening.group(1)
        elif match := CALLOUT.match(line):
            found.append((match["type"].lower(), match["title"].strip()))
    return found


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def source_title_text(title: str) -> str:
    """The text a reader sees of a Markdown title: links, math, code and emphasis marks removed."""
    title = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", title)
    title = re.sub(r"\$([^$]+)\$", r"\1", title)
    return squeeze(re.sub(r"`|\*\*|==", "", title))


def rendered_callouts(html: str) -> list[tuple[str, str]]:
    """``(title text, body text)`` of every callout (admonition or folded details) on the page, in order;
    not the embeds, which are drawn as callouts of type ``embed`` (hooks/vault/links.py)."""
    found = []
    for box in article(html).find_all(lambda e: e.tag == "details" or (e.tag == "div" and "admonition" in e.classes
                                                                        and "embed" not in e.classes)):
        title = box.first(lambda e: e.tag == "summary" or "admonition-title" in e.classes)
        assert title is not None and title.parent is box, f"a callout without a title: {box.text()[:80]!r}"
        body = box.text(lambda e, title=title: e is title)
        found.append((squeeze(title.text(as_written)), body.strip()))
    return found


def pages_with_callouts(site: Path, docs: Path, sources: list[Path]):
    for source in sources:
        callouts = source_callouts(source)
        if callouts and not is_draft(source.read_text(encoding="utf-8")):
            page = page_of(site, docs, source)
            assert page.is_file(), f"{source}: no page at {page}"
            yield source, language_of(docs, source), callouts, page.read_text(encoding="utf-8")


def check_callouts(site: Path, docs: Path, sources: list[Path]) -> int:
    checked = 0
    for source, lang, callouts, html in pages_with_callouts(site, docs, sources):
        shown = rendered_callouts(html)
        assert len(shown) == len(callouts), f"{source}: {len(callouts)} callouts written, {len(shown)} shown"
        for (kind, written), (title, body) in zip(callouts, shown):
            if written:
                want = source_title_text(written)
                assert title == want, f"{source}: the title shows {title!r}, written {want!r}"
            elif lang == "zh":  # the type's default title, in Chinese
                assert re.search(f"[{CJK}]", title), f"{source}: [!{kind}] shows {title!r} on a Chinese page"
            else:
                assert title == kind.capitalize(), f"{source}: [!{kind}] shows {title!r}"
            assert body, f"{source}: the callout {title!r} shows no body"
            checked += 1
    return checked


def test_every_callout_shows_its_title_and_its_body(built_site):
    notes = sorted((DOCS / "zh").rglob("*.md")) + sorted((DOCS / "en").rglob("*.md"))
    assert check_callouts(built_site, DOCS, notes) > 80


def test_every_callout_of_a_learners_notes_shows_its_title_and_its_body(vault_site):
    assert check_callouts(vault_site[0], VAULT, sorted(VAULT.rglob("*.md"))) >= 10


BLOCKS = {"p", "li", "summary", "td", "th", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "figcaption"}
CJK_LINE_BREAK = re.compile(f"[{CJK}][ \\t]*\\n\\s*[{CJK}]")


def stray_spaces(page: Element) -> list[str]:
    """Prose where a source line break between two CJK characters survives (a browser shows it as a space)."""
    return [text.strip()[:60] for block in page.find_all(lambda e: e.tag in BLOCKS)
            if CJK_LINE_BREAK.search(text := block.text(prose))]


def zh_pages(site: Path, docs: Path, sources: list[Path]) -> list[tuple[Path, Path]]:
    pages = [(s, page_of(site, docs, s)) for s in sources if language_of(docs, s) == "zh"]
    return [(source, page) for source, page in pages if page.is_file()]


def test_no_space_between_chinese_characters_from_a_line_break(built_site, vault_site):
    pages = zh_pages(built_site, DOCS, sorted((DOCS / "zh").rglob("*.md")))
    pages += zh_pages(vault_site[0], VAULT, sorted((VAULT / "garden").rglob("*.md")))
    assert len(pages) >= 12
    for source, page in pages:
        assert stray_spaces(article(page.read_text(encoding="utf-8"))) == [], source


SPACED_LETTERS = re.compile(r"(?<!\S)(?:[A-Za-z] ){7,}[A-Za-z](?!\S)")  # "k e y d i m e n s i o n"


def test_search_previews_hold_prose_not_figure_internals(built_site):
    for index in (built_site / "search" / "search_index.json", built_site / "en" / "search" / "search_index.json"):
        docs = json.loads(index.read_text(encoding="utf-8"))["docs"]
        assert len(docs) > 50
        for doc in docs:
            text = doc["text"]
            assert "image/svg+xml" not in text and "Matplotlib" not in text, (doc["location"], text[:200])
            assert not SPACED_LETTERS.search(text), (doc["location"], SPACED_LETTERS.search(text).group(0))
    figures = article((built_site / "notes" / "scaling" / "index.html").read_text(encoding="utf-8"))
    assert figures.first(lambda e: e.tag == "svg" and e.first(lambda t: t.tag == "text"))  # still shown


def test_search_worker_segments_a_chinese_query_up_to_its_last_character(built_site):
    # Material's segmenter stops one character short (缩放 → 缩); the build patches it (hooks/languages.py).
    worker = next((built_site / "assets" / "javascripts" / "workers").glob("search.*.min.js"))
    assert "o<=t.length;o++)t.slice(s,o)in e" in worker.read_text(encoding="utf-8")


def links(element: Element | None, page: Path, site: Path, kind: str = "") -> list[str]:
    """The links inside ``element`` (with class ``kind``, if given), as site paths."""
    if element is None:
        return []
    anchors = element.find_all(lambda e: e.tag == "a" and "href" in e.attrs and (not kind or kind in e.classes))
    return [resolve(page, site, a.attrs["href"]) for a in anchors]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_one_reading_order_home_sidebar_read_first_and_footer(built_site, lang):
    prefix = "" if lang == "zh" else "en/"
    home = built_site / prefix / "index.html"
    tree = parse(home.read_text(encoding="utf-8"))
    table = article(home.read_text(encoding="utf-8")).first(lambda e: e.tag == "table")
    rows = [row.find_all(lambda e: e.tag == "td") for row in table.find_all(lambda e: e.tag == "tr")[1:]]
    order = [links(cells[1], home, built_site)[0] for cells in rows]
    read_first = {order[int(cells[0].text()) - 1]: [order[int(n) - 1] for n in re.findall(r"\d", cells[2].text())]
                  for cells in rows}
    assert len(order) == 8 and all(o.startswith(f"{prefix}notes/") for o in order), order
    for position, note in enumerate(order):  # a topological order: what a note needs comes before it
        assert all(order.index(need) < position for need in read_first[note]), (note, read_first[note])
    primary = tree.first(lambda e: e.tag == "nav" and "md-nav--primary" in e.classes)
    sidebar = [h for h in links(primary, home, built_site) if h.startswith(f"{prefix}notes/")]
    assert list(dict.fromkeys(sidebar)) == order
    opening = "Read first:" if lang == "en" else "先读："
    for position, note in enumerate(order):
        page = built_site / note / "index.html"
        html = page.read_text(encoding="utf-8")
        paragraphs = article(html).find_all(lambda e: e.tag == "p")
        first = next(p for p in paragraphs if p.text().strip() and not {"note-dates", "notebook-link"} & p.classes)
        assert first.text().startswith(opening), (note, first.text()[:80])  # the note opens with it
        assert links(first, page, built_site) == read_first[note], note
        assert "previous note" not in article(html).text() and "上一篇" not in article(html).text(), note
        footer = parse(html).first(lambda e: e.tag == "nav" and "md-footer__inner" in e.classes)
        prev, nxt = (links(footer, page, built_site, f"md-footer__link--{k}") for k in ("prev", "next"))
        assert prev == order[max(0, position - 1): position], (note, prev)
        assert nxt == order[position + 1: position + 2], (note, nxt)
    for other in ("", "reference/api/", "tags/"):  # no previous / next off the reading order
        html = (built_site / prefix / other / "index.html").read_text(encoding="utf-8")
        assert "md-footer__link--" not in html, other


DECIMAL = re.compile(r"(?<![\w.])\d+\.\d+(?!\d|\.\d)")


def computed_numbers(page: Element) -> set[str]:
    """The numbers a page computes where a reader sees them: its tables and its code's output."""
    computed = page.find_all(lambda e: e.tag in ("td", "pre"))
    return {n for e in computed for n in DECIMAL.findall(e.text())}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_widget_captions_state_only_numbers_computed_on_the_page(built_site, lang):
    """A widget's caption and labels are held to the rule of the prose: each number they state is
    computed on the same page (a table built with it or a code block's output)."""
    pages = sorted((built_site / ("en" if lang == "en" else "") / "notes").rglob("index.html"))
    checked = 0
    for path in pages:
        page = article(path.read_text(encoding="utf-8"))
        computed = computed_numbers(page)
        for widget in page.find_all(lambda e: "data-widget" in e.attrs):
            caption = widget.first(lambda e: "widget-caption" in e.classes).text()
            labels = json.loads(widget.first(lambda e: e.tag == "script").text()).get("labels", {})
            texts = [caption, *(v for v in labels.values() if isinstance(v, str))]
            stated = {n for text in texts for n in DECIMAL.findall(text)}
            assert stated <= computed, (path.relative_to(built_site), sorted(stated - computed))
            checked += len(stated)
    assert checked >= 7  # the scaling widget's caption states its row's numbers


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_claims_about_the_machines_come_from_the_result_files(built_site, lang):
    """No sentence on the long-sequences page says "every machine" on its own: what holds where is
    generated from benchmarks/results/, and names the machines that did not measure a thing."""
    page = article((built_site / ("en" if lang == "en" else "") / "notes" / "long-sequences" / "index.html")
                   .read_text(encoding="utf-8")).text(prose)
    assert not re.search(r"every machine|在每台机器上|每台机器上都", page)
    files = sorted((ROOT / "benchmarks" / "results").glob("*.json"))  # one per machine, named after it
    reports = {" ".join(f.stem.split("-")[:2]): json.loads(f.read_text(encoding="utf-8")) for f in files}
    largest = max(r["N"] for report in reports.values() for r in report["results"])
    pattern = (rf"At N = {largest:,} the benchmark measures this on[^\n]*?\.(?=\s|$)" if lang == "en"
               else rf"N = {largest:,} 时的情况由下面的基准测试[^。]*。")
    sentence = re.search(pattern, page).group(0)
    measured, _, missing = sentence.partition("; not measured on" if lang == "en" else "；")
    for cpu, report in reports.items():  # "amd epyc", "intel xeon"
        has = any(r["impl"] == "flash backward" and r["N"] == largest and r["status"] == "ok"
                  for r in report["results"])
        assert cpu in (measured if has else missing).lower(), (cpu, has, sentence)


PUBLIC_CODE = re.compile(r"(?:attention\.)?(\w+)(?:\(.*\))?")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_public_name_written_as_code_links_to_its_api_entry(built_site, lang):
    """`flash_attention` in a note's prose is a link to its entry on the API page of the same
    language; the API page documents each public name once, as a function or class, never a module."""
    import attention

    prefix = "en/" if lang == "en" else ""
    home = {}  # each entry's anchor -> the API page that holds it
    headings = []
    for api_page in sorted((built_site / prefix / "reference" / "api").glob("*/index.html")):
        api = parse(api_page.read_text(encoding="utf-8"))
        section = api_page.parent.relative_to(built_site).as_posix() + "/"
        home |= {e.attrs["id"]: section for e in api.walk() if e.attrs.get("id", "").startswith("attention.")}
        headings += [e.attrs["id"] for e in api.find_all(lambda e: "doc-heading" in e.classes and e.tag == "h2")]
        assert not api.find_all(lambda e: "doc-symbol-module" in e.classes), "a module documented as an entry"
        assert len(api_page.read_bytes()) <= 400 * 1024, api_page
    # One entry per public name (softmax and gradcheck sit under their modules' paths, with the
    # short anchor beside them), and nothing else at that level.
    assert sorted(h.removesuffix("." + h.split(".")[-1]) if h.count(".") == 2 else h for h in headings) == \
        sorted(f"attention.{n}" for n in attention.__all__)
    assert {f"attention.{name}" for name in attention.__all__} <= set(home)
    named, linked = 0, 0
    for path in sorted((built_site / prefix / "notes").rglob("index.html")):
        for code in article(path.read_text(encoding="utf-8")).find_all(lambda e: e.tag == "code"):
            match = PUBLIC_CODE.fullmatch(code.text())
            # code blocks, and exercise titles (a <summary> is the control that opens the exercise)
            if not match or match.group(1) not in attention.__all__ or \
                    any(a.tag in ("pre", "summary") for a in code.ancestors()):
                continue
            named += 1
            link = next((a for a in code.ancestors() if a.tag == "a"), None)
            assert link is not None, (path.relative_to(built_site), code.text())
            target, _, fragment = link.attrs["href"].partition("#")
            assert fragment == f"attention.{match.group(1)}" and fragment in home, (path, fragment)
            assert resolve(path, built_site, target) == home[fragment], (path, link.attrs["href"])
            linked += 1
        # Every public name the note's code imports is linked somewhere on the page.
        page = article(path.read_text(encoding="utf-8"))
        code = " ".join(pre.text() for pre in page.find_all(lambda e: e.tag == "pre"))
        imported = {n for line in re.findall(r"from attention import ([^\n]+)", code)
                    for n in re.split(r"[,\s()]+", line) if n in attention.__all__}
        hrefs = {a.attrs.get("href", "").partition("#")[2] for a in page.find_all(lambda e: e.tag == "a")}
        assert {f"attention.{n}" for n in imported} <= hrefs, (path, imported)
    assert named >= 35 and linked == named


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_note_one_says_its_map_is_untrained_and_asks_no_exercise_twice(built_site, lang):
    page = article((built_site / ("en" if lang == "en" else "") / "notes" / "attention-mechanism" / "index.html")
                   .read_text(encoding="utf-8"))
    widget = page.first(lambda e: e.attrs.get("data-widget") == "attention-map")
    caption = widget.first(lambda e: "widget-caption" in e.classes).text()
    assert ("Nothing here is trained" if lang == "en" else "没有任何训练") in caption  # in the caption, not only above
    titles = [s.text() for s in page.find_all(lambda e: e.tag == "summary" and "question" in e.parent.classes)]
    numbered = [t for t in titles if re.match(r"\s*(Exercise|练习) \d", t)]
    inline = [t for t in titles if t not in numbered]
    assert len(numbered) == 3 and inline
    maths = lambda text: {squeeze(m) for m in re.findall(r"\\\((.*?)\\\)", text)}  # noqa: E731
    for question in numbered:  # an end-of-note exercise is a new one, not the inline one again
        assert not re.search(r"exercise above|上面.{0,6}那道题", question), question
        for earlier in inline:
            assert not maths(question) or not maths(question) <= maths(earlier), (question, earlier)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_palette_toggle_speaks_the_language_of_the_page(built_site, lang):
    for path in [built_site / ("en" if lang == "en" else "") / "index.html",
                 built_site / ("en" if lang == "en" else "") / "notes" / "scaling" / "index.html"]:
        form = parse(path.read_text(encoding="utf-8")).first(lambda e: "data-palette" in e.attrs)
        labels = [e.attrs["title"] for e in form.walk() if e.tag == "label" and "title" in e.attrs]
        names = [e.attrs["aria-label"] for e in form.walk() if e.tag == "input" and "aria-label" in e.attrs]
        assert len(labels) == 2 and len(names) == 2
        for text in labels + names:
            assert bool(re.search(f"[{CJK}]", text)) == (lang == "zh"), text
            assert bool(re.search("[A-Za-z]", text)) == (lang == "en"), text


@pytest.mark.parametrize("kind", ["site", "offline"])
def test_every_language_switch_leads_to_a_page_of_the_site_by_a_relative_link(built_site, offline_site, kind):
    # An absolute "/en/" opens the disk's root from the offline copy (file://); every link leads to a
    # built page: the twin of a note, the other language's home page for a page without one.
    from posixpath import normpath
    from urllib.parse import unquote

    site = built_site if kind == "site" else offline_site
    pages = [p for p in site.rglob("*.html") if "assets" not in p.parts and p.name != "404.html"]
    assert len(pages) > 20
    for path in pages:
        here = path.parent.relative_to(site).as_posix()
        links = {e.attrs["hreflang"]: e.attrs["href"] for e in parse(path.read_text(encoding="utf-8")).walk()
                 if e.tag == "a" and "md-select__link" in e.attrs.get("class", "")}
        assert set(links) == {"zh", "en"}, here
        for lang, href in links.items():
            assert not href.startswith(("/", "http")), (here, lang, href)
            rel = normpath(f"{here}/{unquote(href)}")
            assert (site / rel / "index.html").is_file() or (site / rel).is_file(), (here, lang, href)
            assert ("en" if rel == "en" or rel.startswith("en/") else "zh") == lang, (here, lang, href)


def test_the_not_found_page_offers_each_languages_home_and_no_hreflang_link(built_site):
    # 404.html is rendered after the last page and inherited its language links: the switch offered
    # the API reference, and the head's hreflang links made Material fetch reference/api/sitemap.xml (404s).
    # The page is served at any address, so its links stay absolute (site_url's path).
    html = (built_site / "404.html").read_text(encoding="utf-8")
    links = {e.attrs["hreflang"]: e.attrs["href"] for e in parse(html).walk()
             if e.tag == "a" and "md-select__link" in e.attrs.get("class", "")}
    assert links == {"zh": "/", "en": "/en/"}
    assert not re.search(r'<link rel="alternate"[^>]*hreflang', html)
    # It is the default language's page, in its language (head, header and title), and says what
    # happened in both languages, each marked with its language, linking both home pages.
    assert re.search(r'<html lang="zh"', html) and "<title>注意力机制学习库</title>" in html, html[:300]
    body = article(html)
    said = {e.attrs.get("lang"): e.text() for e in body.find_all(lambda e: e.attrs.get("lang") in ("zh", "en"))}
    assert re.search(f"[{CJK}]", said.get("zh", "")) and "not found" in said.get("en", "").lower(), said
    homes = {e.attrs["href"] for e in body.find_all(lambda e: e.tag == "a")}
    assert {"/", "/en/"} <= homes, homes


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_figure_is_an_image_with_a_name_and_a_description(built_site, lang):
    # A screen reader announces an inline SVG figure by its role and name: role="img", named by its
    # <title> and described by its <desc>, both made from the figure's own titles and axis labels (so in
    # the page's language), never empty.
    figures = 0
    for path in sorted((built_site / ("en" if lang == "en" else "") / "notes").rglob("index.html")):
        tree = article(path.read_text(encoding="utf-8"))
        # matplotlib's SVG (version 1.1); the theme's icons are other SVGs
        for svg in tree.find_all(lambda e: e.tag == "svg" and e.attrs.get("version") == "1.1"):
            figures += 1
            where = f"{path.relative_to(built_site)}: figure {figures}"
            assert svg.attrs.get("role") == "img", where
            ids = svg.attrs.get("aria-labelledby", "").split()
            assert len(ids) == 2, where
            title, desc = (svg.first(lambda e, i=i: e.attrs.get("id") == i) for i in ids)
            assert title is not None and title.tag == "title" and title.text().strip(), where
            assert desc is not None and desc.tag == "desc" and desc.text().strip(), where
            if lang == "zh":
                assert re.search(f"[{CJK}]", title.text() + desc.text()), (where, title.text(), desc.text())
    assert figures >= 10


#: How a figure's description gives a plotted line's numbers (plotting._data_sentence): "a from 0.696 to 0.03".
NUMBER = r"-?\d[\d.e+-]*"
DATA_SENTENCE = {"en": re.compile(f"from {NUMBER} to {NUMBER}"), "zh": re.compile(f"从 {NUMBER} 到 {NUMBER}")}


def figure_descriptions(path: Path) -> list[str]:
    tree = article(path.read_text(encoding="utf-8"))
    descriptions = []
    for svg in tree.find_all(lambda e: e.tag == "svg" and e.attrs.get("version") == "1.1"):
        desc_id = svg.attrs.get("aria-labelledby", " ").split()[-1]
        desc = svg.first(lambda e, i=desc_id: e.attrs.get("id") == i)
        descriptions.append(desc.text() if desc is not None else "")
    return descriptions


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_figure_descriptions_give_the_plotted_numbers(built_site, lang):
    # A screen reader hears what the figure shows and its numbers: where each curve starts and ends.
    notes = built_site / ("en" if lang == "en" else "") / "notes"
    said = [d for path in sorted(notes.rglob("index.html")) for d in figure_descriptions(path)
            if DATA_SENTENCE[lang].search(d)]
    assert len(said) >= 10, said
    # The same number as the note's table, computed apart from the figure (scaling.table): unscaled, the
    # entropy at d_k = 1024.
    scaling = notes / "scaling" / "index.html"
    row = next(r for r in re.findall(r"<tr>(.*?)</tr>", scaling.read_text(encoding="utf-8"), re.S)
               if re.search(r"<td>1024</td>\s*<td><code>1</code></td>", r))
    entropy = re.findall(r"<td>([^<]*)</td>", row)[2]  # d_k, score std, entropy (the scale is code)
    first = figure_descriptions(scaling)[0]
    ends = re.findall(f"(?:scale|缩放因子) 1 (?:from|从) {NUMBER} (?:to|到) ({NUMBER})", first)
    assert ends and ends[0] == entropy, (first, entropy)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_task_list_checkboxes_say_whether_the_task_is_done_in_the_pages_language(built_site, lang):
    # A checkbox without a name is announced as "checkbox" alone (axe: critical): it says done / not done.
    words = {"zh": ("已完成", "未完成"), "en": ("done", "not done")}[lang]
    boxes = []
    for path in sorted((built_site / ("en" if lang == "en" else "") / "notes").rglob("index.html")):
        for box in article(path.read_text(encoding="utf-8")).find_all(
                lambda e: e.tag == "input" and e.attrs.get("type") == "checkbox"):
            boxes.append(box)
            assert box.attrs.get("aria-label") == words[0 if "checked" in box.attrs else 1], (path, box.attrs)
    assert len(boxes) >= 3


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_link_inside_an_exercise_title(built_site, lang):
    # A <summary> is itself the control that opens the exercise: a link inside it is a control inside a
    # control (axe: nested-interactive), and a click on it would not open the answer.
    nested = []
    for path in sorted((built_site / ("en" if lang == "en" else "") / "notes").rglob("index.html")):
        for summary in article(path.read_text(encoding="utf-8")).find_all(lambda e: e.tag == "summary"):
            nested += [(path.parent.name, summary.text()[:40]) for _ in summary.find_all(lambda e: e.tag == "a")]
    assert nested == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_api_pages_anchors_are_targets_not_empty_links(built_site, lang):
    # `[](){#attention.softmax}` (an autorefs anchor) rendered as <a href="" id=...></a>: a link with no
    # name in the tab order (axe: link-name). It stays an anchor that links can land on.
    page = parse((built_site / ("en" if lang == "en" else "") / "reference" / "api" / "softmax" / "index.html")
                 .read_text(encoding="utf-8"))
    empty = [a.attrs for a in page.find_all(lambda e: e.tag == "a" and e.attrs.get("href") == "")
             if not a.text().strip()]
    assert empty == []
    assert page.first(lambda e: e.attrs.get("id") == "attention.softmax") is not None


def test_code_wraps_no_token_in_a_span_that_draws_it_as_the_code_around_it(built_site):
    # Pygments put every name and every run of spaces of a code block in a span (class "n" or "w") that draws
    # it exactly as the code around it: Material colours .n with the code's own colour, and .w not at all
    # (the browser test checks that in both schemes). A fifth of the API pages' elements (1,735 of 9,184 on
    # the Chinese attention page, 40 KB of its HTML): each load styles and lays them out, axe's contrast
    # check walks them.
    kept = 0
    for path in sorted(built_site.rglob("*.html")):
        for code in re.findall(r"<code\b.*?</code>", path.read_text(encoding="utf-8"), re.S):
            assert not re.search(r'<span class="[nw]">', code), (path, code[:300])
            kept += len(re.findall(r'<span class="(?:k|kn|o|p|mi|mf|s1|s2|nf|nc|bp|c1)">', code))
    assert kept > 5000  # the tokens drawn in a colour of their own keep their spans


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_mermaid_loads_only_where_a_diagram_is_and_never_blocks_the_first_paint(built_site, lang):
    # 3.5 MB of script: a synchronous <script> in <head> held the first paint of the Transformer note until
    # it was fetched and run (24.7 s on Lighthouse's mobile preset); deferred, it still ran (0.6 s of a phone's
    # main thread) on every load. No page loads it with a <script> tag: the stand-in of overrides/main.html
    # fetches it when a diagram comes near (the browser test), and only pages with a diagram name it.
    root = built_site / ("en" if lang == "en" else "")
    for path in sorted(root.glob("notes/*/index.html")):
        html = path.read_text(encoding="utf-8")
        assert re.findall(r"<script\b[^>]*mermaid\.min\.js[^>]*>", html) == [], path
        assert html.count("assets/mermaid/mermaid.min.js") == ('class="mermaid"' in html), path
    assert 'class="mermaid"' in (root / "notes" / "transformer" / "index.html").read_text(encoding="utf-8")


def test_the_search_dialog_is_named_in_the_language_of_each_page(built_site):
    # Lighthouse's accessibility audit (aria-dialog-name) on every page: Material's search is a
    # role="dialog" without a name, so a screen reader announces an unnamed dialog when it opens.
    pages = [p for p in built_site.rglob("*.html") if "assets" not in p.parts]
    assert len(pages) > 20
    for path in pages:
        html = path.read_text(encoding="utf-8")
        dialogs = re.findall(r'<div class="md-search"[^>]*>', html)
        assert len(dialogs) == 1, path
        name = re.search(r'aria-label="([^"]+)"', dialogs[0])
        assert name and 'role="dialog"' in dialogs[0], (path, dialogs[0])
        zh = re.search(r'<html lang="zh', html) is not None
        assert bool(re.search(f"[{CJK}]", name[1])) == zh, (path, name[1])


def tex_of(math: Element) -> str:
    """The TeX of a typeset formula as written, from its MathML's annotation (what KaTeX keeps of it)."""
    annotation = math.first(lambda e: e.tag == "annotation" and e.attrs.get("encoding") == "application/x-tex")
    assert annotation is not None, f"a formula without its TeX: {math.text()[:80]!r}"
    return annotation.text()


def check_math_typeset(site: Path) -> int:
    """Every formula of every page of ``site`` as KaTeX's HTML in the page as served (see the test below);
    how many there are."""
    formulas = 0
    for path in sorted(site.rglob("*.html")):
        html = path.read_text(encoding="utf-8")
        assert not re.search(r"<script\b[^>]*katex", html), f"{path}: a script typesets the math in the browser"
        tree = parse(html)
        for math in tree.find_all(lambda e: "arithmatex" in e.classes):
            formulas += 1
            shown = math.text(lambda e: e.tag == "annotation")
            assert "\\(" not in shown and "\\[" not in shown, f"{path}: raw TeX shown: {shown[:80]!r}"
            katex = math.first(lambda e: "katex" in e.classes or "katex-error" in e.classes)
            assert katex is not None, f"{path}: a formula left to the browser: {shown[:80]!r}"
            if "katex-error" in katex.classes:  # a formula KaTeX cannot read shows its source, and why
                assert katex.attrs.get("title", "").startswith("ParseError"), (path, katex.attrs)
                continue
            assert tex_of(math).strip(), path  # MathML with the TeX: what a screen reader reads
            visual = katex.first(lambda e: "katex-html" in e.classes)
            assert visual is not None and visual.attrs.get("aria-hidden") == "true", path  # read once, not twice
            assert (math.tag == "div") == ("katex-display" in (katex.parent.classes if katex.parent else set())), \
                f"{path}: a $$ formula not displayed on its own line, or a $ one that is: {tex_of(math)[:60]!r}"
        for link in tree.find_all(lambda e: "md-nav__link" in e.classes):  # a heading's math in the contents
            text = link.text(lambda e: e.tag == "annotation")
            assert "\\(" not in text, f"{path}: raw TeX in the navigation: {text.strip()[:80]!r}"
    return formulas


def test_math_is_typeset_in_the_pages_as_built(built_site, vault_site):
    """Every formula is KaTeX's HTML in the page as served (hooks/typesetting.py): it shows before any script
    runs, offline and with JavaScript off, and the page does not move when it loads (on Lighthouse's phone,
    typesetting in the browser cost up to 1.2 s of blocked main thread and shifted the qk-norm note by 0.12).
    Its MathML, which a screen reader reads instead of the drawing, keeps the TeX as written; a heading's
    math is typeset in the table of contents too; no page loads KaTeX's script. A learner's formula KaTeX
    cannot read shows its source and KaTeX's message, and the build goes on."""
    assert check_math_typeset(built_site) > 1000  # 1,035 formulas in both languages when this was written
    site, log = vault_site
    assert check_math_typeset(site) >= 9  # the fixture vault's nine
    typo = parse((site / "garden" / "读书笔记" / "数学笔记" / "index.html").read_text(encoding="utf-8"))
    errors = typo.find_all(lambda e: "katex-error" in e.classes)
    assert [e.text() for e in errors] == ["\\frac{1}{\\sqrt{d_k}"], errors  # the learner's missing brace


def test_headings_never_skip_a_level(built_site, vault_site):
    """A screen reader's user moves through a page by its headings: a page whose headings go from h1 to h3
    reads as if a section were missing (axe's heading-order, in Lighthouse's accessibility score). The API
    pages' entries were h3 right under the page's h1."""
    for site in (built_site, vault_site[0]):
        for path in sorted(site.rglob("*.html")):
            found = parse(path.read_text(encoding="utf-8")).first(lambda e: e.tag == "article")
            if found is None:
                continue
            levels = [int(e.tag[1]) for e in found.walk() if re.fullmatch(r"h[1-6]", e.tag)]
            skips = [(a, b) for a, b in zip(levels, levels[1:]) if b > a + 1]
            assert skips == [] and levels[:1] in ([], [1]), f"{path.relative_to(site)}: headings {levels}"


def test_every_page_reads_its_frontmatter_and_never_shows_it(built_site):
    """Frontmatter that YAML cannot read (an unquoted ': ' inside a value) is not frontmatter to MkDocs: the
    page shows it as text under a rule ("title: … description: …") and loses its title and description, as
    the English API pages did. Each note's frontmatter reads as YAML, its description is the page's, and no
    article shows a frontmatter line."""
    import yaml

    for source in sorted(DOCS.glob("[ze][hn]/**/*.md")):
        text = source.read_text(encoding="utf-8")
        front = re.match(r"---\n(.*?)\n---\n", text, re.S)
        if front is None or is_draft(text):
            continue
        try:
            meta = yaml.safe_load(front.group(1))
        except yaml.YAMLError as error:
            pytest.fail(f"{source.relative_to(ROOT)}: its frontmatter is not YAML (quote the value): {error}")
        html = page_of(built_site, DOCS, source).read_text(encoding="utf-8")
        shown = article(html).text()
        assert not re.search(r"^\s*(title|description|tags):", shown, re.M), f"{source}: frontmatter shown as text"
        if meta.get("description"):
            described = re.search(r'<meta name="description" content="([^"]*)"', html)
            assert described and entities_unescape(described[1]) == meta["description"], source


def test_data_tables_come_in_their_scroll_box_so_no_script_moves_them(built_site, vault_site):
    """Every table Markdown writes, in the notes and in a learner's (in a callout, with math, code and a
    wiki link in its cells), is in the page as built inside Material's two scroll boxes, with the class that
    keeps Material from moving it again as the page loads (hooks/tables.py); a table pasted as HTML with
    attributes of its own is left as written, for Material to box."""
    boxed = 0
    for site in (built_site, vault_site[0]):
        for html in site.rglob("*.html"):
            text = html.read_text(encoding="utf-8")
            assert "<table>" not in text, html.relative_to(site)
            tables = re.findall(r'(.{0,80})<table class="data-table">', text)
            assert all(before.endswith('<div class="md-typeset__scrollwrap"><div class="md-typeset__table">')
                       for before in tables), html.relative_to(site)
            boxed += len(tables)
    assert boxed >= 25, boxed  # the notes' tables in both languages (28 when this was written), the learner's
    learner = (vault_site[0] / "garden" / "读书笔记" / "形状表" / "index.html").read_text(encoding="utf-8")
    assert learner.count('<table class="data-table">') == 3  # the table, the one in the callout, the pasted inner one
    assert '<table border="1">' in learner and "$Q$" not in learner and "<code>(L, E)</code>" in learner
