"""The graph view (hooks/vault/graph.py, javascripts/graph.js). On the built site: its data is the
backlinks' link table — every page's "Linked from" list and every link in its article are its edges,
nothing else — and a note that is not published is never a node. In Chromium, both languages, light
and dark, 1280 and 390 px: a note's local graph shows exactly the note, the pages it links to and those
linking to it (two hops on demand); the graph page shows every page and link; each dot is a link a
mouse or a keyboard follows; its colour stands out in both schemes and its shape and name say it too;
nothing loads before a graph comes near the screen; the offline copy draws it from file://."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from browsing import assert_only_loopback, axe_in_both_schemes, each_view, rules_for, run_axe
from rendered import article, resolve

pytestmark = pytest.mark.slow  # reads built sites

LANGS = {"zh": "", "en": "/en"}
NOTE = "notes/attention-mechanism/"


def graph_data(site: Path, lang: str) -> dict:
    text = (site / "assets" / f"graph-{lang}.js").read_text(encoding="utf-8")
    assert text.startswith("window.VaultGraph = ")
    return json.loads(text.removeprefix("window.VaultGraph = ").rstrip().rstrip(";"))


#: Links in an article that are no note's link: a heading's permalink, a tag, a footnote, the edit
#: button, and a code name's link to the API reference (``api-link``, mkdocstrings' ``autorefs``).
NOT_A_NOTES_LINK = {"headerlink", "md-tag", "footnote-ref", "footnote-backref", "md-content__button", "api-link",
                    "autorefs"}


def page_links(site: Path, url: str) -> tuple[set[str], set[str]]:
    """``(pages the article links to, pages its backlinks list names)``, as site-relative URLs; the local
    graph's own links are neither."""
    page = site / url / "index.html"
    links_to, linked_from = set(), set()
    for a in article(page.read_text(encoding="utf-8")).find_all(lambda e: e.tag == "a" and "href" in e.attrs):
        target = unquote(resolve(page, site, a.attrs["href"]))
        if urlparse(a.attrs["href"]).scheme or re.search(r"\.\w+$", target) or target == url:
            continue  # another site, a file (an image, a download), or this page
        around = set().union(a.classes, *(e.classes for e in a.ancestors()))
        if "backlinks" in around:
            linked_from.add(target)
        elif not around & (NOT_A_NOTES_LINK | {"vault-graph"}):
            links_to.add(target)
    return links_to, linked_from


def key(url: str) -> str:
    return "" if url == "./" else url


@pytest.mark.parametrize("lang", LANGS)
def test_the_graph_is_the_link_table_of_the_pages(built_site, lang):
    data = graph_data(built_site, lang)
    urls = [key(n["url"]) for n in data["nodes"]]
    assert len(urls) == len(set(urls)) >= 18
    assert all((built_site / url / "index.html").is_file() for url in urls)
    assert {n["group"] for n in data["nodes"]} == {g["id"] for g in data["groups"]} >= {"notes", "reference", "home"}
    prefix = "en/" if lang == "en" else ""
    assert f"{prefix}{NOTE}" in urls and f"{prefix}graph/" in urls and "404.html" not in urls
    edges = {(urls[s], urls[t]) for s, t in data["links"]}
    assert len(edges) == len(data["links"]) >= 40
    checked = 0
    for url in urls:
        links_to, linked_from = page_links(built_site, url)
        # Every page that names this one in its "Linked from" list is an edge into it, and no other.
        assert {s for s, t in edges if t == url} == linked_from, url
        # Every page the article links to is an edge out of it (a link to the tags index is a tag; the tags
        # index's own list is written by Material's tags plugin: no note's link).
        if url != f"{prefix}tags/":
            assert {t for s, t in edges if s == url} == links_to & set(urls) - {f"{prefix}tags/"}, url
        checked += bool(links_to or linked_from)
    assert checked >= 12


def test_unpublished_notes_are_no_nodes_and_learner_folders_are_groups(vault_site):
    site, _ = vault_site
    data = graph_data(site, "zh")
    text = json.dumps(data, ensure_ascii=False)
    for unpublished in ("garden/unpublished", "garden/draft", "secret-plans"):  # publish: false, draft: true
        assert not any(unpublished in n["url"] for n in data["nodes"]), unpublished
    for title in ("不发布", "草稿", "SECRET-CANVAS-NOTE-TITLE"):
        assert title not in text
    groups = {g["id"]: g["label"] for g in data["groups"]}
    assert groups.get("folder:garden") == "garden" and any(n["group"] == "folder:garden" for n in data["nodes"])
    # A learner's folder named like the project's (notes/scaling.md at the top of the vault) is its own group.
    scaling = next(n for n in data["nodes"] if n["url"].startswith("notes/scaling"))
    assert scaling["group"] == "folder:notes" and groups["folder:notes"] == "notes" and groups["notes"] == "笔记"


def node_urls(page) -> list[str]:
    return page.locator("[data-graph] .vault-graph-node").evaluate_all("ns => ns.map(n => n.dataset.url)")


def neighbours(data: dict, start: int, hops: int) -> set[int]:
    seen, frontier = {start}, {start}
    for _ in range(hops):
        frontier = {b for a, b in data["links"] if a in frontier} | {a for a, b in data["links"] if b in frontier}
        frontier -= seen
        seen |= frontier
    return seen


def open_graph(page, url: str):
    page.goto(url)
    box = page.locator("[data-graph]").first
    box.scroll_into_view_if_needed()
    page.locator("[data-graph][data-ready]").first.wait_for(timeout=15_000)
    return box


@pytest.mark.browser
@pytest.mark.parametrize("lang", LANGS)
def test_a_notes_local_graph_is_its_links_and_backlinks_and_each_dot_is_a_link(page, built_site, site_url, lang):
    data = graph_data(built_site, lang)
    url = ("en/" if lang == "en" else "") + NOTE
    links_to, linked_from = page_links(built_site, url)
    urls = [key(n["url"]) for n in data["nodes"]]
    page.goto(f"{site_url}/{url}")
    assert not [u for u in page.requested if "/assets/d3/" in u or "/graph-" in u]  # not before it is near
    box = open_graph(page, f"{site_url}/{url}")
    for width, scheme in each_view(page, [(1280, "light"), (390, "dark")]):
        page.wait_for_function("w => document.querySelector('[data-graph]').dataset.width == "
                               "document.querySelector('[data-graph]').clientWidth", arg=width)
        shown = [key(u) for u in node_urls(page)]
        assert len(shown) == len(set(shown))
        assert set(shown) == {url} | (links_to & set(urls)) - {("en/" if lang == "en" else "") + "tags/"} | linked_from
        assert shown[0] == url and box.locator(".vault-graph-here").count() == 1  # the note itself, not a link
        svg = box.locator("svg.vault-graph-svg").bounding_box()
        assert svg["x"] >= 0 and svg["x"] + svg["width"] <= width, (width, svg)
        sizes = box.locator("svg.vault-graph-svg text").evaluate_all(
            "ts => ts.map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a)")
        assert min(sizes) >= 11, sizes  # page-sized names, never scaled down to fit
        # Each group's colour stands out against the page (WCAG 1.4.11: 3:1); its shape says it too.
        ratios = box.evaluate("""b => {
            const lum = c => { const [r, g, bl] = c.match(/\\d+/g).slice(0, 3).map(x => { x /= 255;
                return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; });
                return 0.2126 * r + 0.7152 * g + 0.0722 * bl; };
            const bg = lum(getComputedStyle(document.body).backgroundColor);
            return [...b.querySelectorAll('.vault-graph-node path')].map(p => {
                const f = lum(getComputedStyle(p).fill); return (Math.max(f, bg) + 0.05) / (Math.min(f, bg) + 0.05); });
        }""")
        assert min(ratios) >= 3, (scheme, ratios)
        shapes = box.locator(".vault-graph-node path").evaluate_all("ps => ps.map(p => p.getAttribute('d'))")
        assert len(set(shapes)) >= 2
        caption = box.locator("figcaption").text_content()
        assert [int(n) for n in re.findall(r"\d+", caption)] == [len(links_to & set(urls) - {"tags/", "en/tags/"}),
                                                               len(linked_from)], caption
        # axe at each width in its scheme: every rule in the light one, the colour rules in the dark one.
        rules, found = run_axe(page, rules_for(scheme), "[data-graph]")
        assert rules >= 1 and found == [], (width, scheme, found)
    # Two hops on demand, then one again.
    hops = box.locator("button.vault-graph-hops")
    hops.click()
    assert hops.get_attribute("aria-pressed") == "true"
    assert {key(u) for u in node_urls(page)} == {urls[i] for i in neighbours(data, urls.index(url), 2)}
    page.keyboard.press("Enter")  # the focus stayed on the button
    assert page.locator("button.vault-graph-hops").get_attribute("aria-pressed") == "false"
    assert {key(u) for u in node_urls(page)} == {urls[i] for i in neighbours(data, urls.index(url), 1)}
    # A dot is a link: the keyboard reaches it and Enter opens its page; a click does too.
    target = box.locator("a.vault-graph-node").first
    name, href = target.get_attribute("aria-label"), target.get_attribute("data-url")
    target.focus()
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == name
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{site_url}/{key(href)}"
    box = open_graph(page, f"{site_url}/{url}")
    other = box.locator("a.vault-graph-node").last
    href = other.get_attribute("data-url")
    with page.expect_navigation():
        other.click()
    assert page.url == f"{site_url}/{key(href)}"
    assert_only_loopback(page)


@pytest.mark.browser
@pytest.mark.parametrize("lang", LANGS)
def test_the_graph_page_shows_every_page_and_link(page, built_site, site_url, lang):
    data = graph_data(built_site, lang)
    box = open_graph(page, f"{site_url}{LANGS[lang]}/graph/")
    assert sorted(node_urls(page)) == sorted(n["url"] for n in data["nodes"])
    assert box.locator(".vault-graph-links line").count() == len(data["links"])
    numbers = [int(n) for n in re.findall(r"\d+", box.locator("figcaption").text_content())]
    assert numbers == [len(data["nodes"]), len(data["links"])]
    assert box.locator(".vault-graph-legend li").all_text_contents() == [f" {g['label']}" for g in data["groups"]]
    for width, _ in each_view(page, [(390, "light"), (1280, "dark")]):
        page.wait_for_function("w => document.querySelector('[data-graph]').dataset.width == "
                               "document.querySelector('[data-graph]').clientWidth", arg=width)
        svg = box.locator("svg.vault-graph-svg").bounding_box()
        assert svg["x"] >= 0 and svg["x"] + svg["width"] <= width
    assert axe_in_both_schemes(page, "[data-graph]") == {}


@pytest.mark.browser
def test_a_learner_note_with_a_chinese_name_has_its_local_graph(page, vault_site, vault_url):
    """A learner's note (garden/欢迎.md) is the centre of its own graph, with its folder as a group."""
    data = graph_data(vault_site[0], "zh")
    urls = [unquote(n["url"]) for n in data["nodes"]]
    centre = urls.index("garden/欢迎/")
    box = open_graph(page, f"{vault_url}/garden/欢迎/")
    assert unquote(box.locator(".vault-graph-here").get_attribute("data-url")) == "garden/欢迎/"
    assert {unquote(u) for u in node_urls(page)} == {urls[i] for i in neighbours(data, centre, 1)}
    assert "garden" in box.locator(".vault-graph-legend").text_content()


@pytest.mark.browser
def test_the_graph_draws_in_the_offline_copy(page, offline_site):
    page.goto((offline_site / "en" / "graph.html").as_uri())
    page.locator("[data-graph][data-ready]").wait_for(timeout=15_000)
    assert page.locator("[data-graph] .vault-graph-node").count() == len(graph_data(offline_site, "en")["nodes"])
    assert all(u.startswith("file:") for u in page.requested)
