"""A learner's Obsidian vault (tests/site/vault/garden/, beside minimal project pages), built with the
project's strict configuration: Obsidian's syntax renders as Obsidian shows it, private things never
reach the site, problems are warnings naming the file and line, and nothing stops the build."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from site_build import ROOT, VAULT, build_vault

pytestmark = pytest.mark.slow  # builds sites (seconds each)


def page(site: Path, path: str) -> str:
    return (site / path / "index.html").read_text(encoding="utf-8")


def article(html: str) -> str:
    return html[html.index("<article"):html.index("</article>")]


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("code", "pre", "script", "style")

    def handle_endtag(self, tag):
        self.skip -= tag in ("code", "pre", "script", "style") and self.skip > 0

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    """The text a reader sees in the article, outside code."""
    parser = _Text()
    parser.feed(article(html))
    return "".join(parser.parts)


class _Nav(HTMLParser):
    """The site's navigation (the primary sidebar) as a tree of ``{"title", "href", "children"}``."""

    def __init__(self):
        super().__init__()
        self.root = {"title": "", "href": None, "children": []}
        self.items, self.navs, self.capture, self.toc = [self.root], 0, False, 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "nav" and (self.navs or "md-nav--primary" in classes):
            self.navs += 1
            self.toc += self.toc > 0 or "md-nav--secondary" in classes  # the open page's table of contents
        if not self.navs or self.toc:
            return
        item = self.items[-1]
        if tag == "li" and "md-nav__item" in classes:
            node = {"title": "", "href": None, "children": []}
            item["children"].append(node)
            self.items.append(node)
        elif tag == "a" and "md-nav__link" in classes and not item["title"] and item["href"] is None:
            item["href"] = a.get("href")
        elif tag == "span" and "md-ellipsis" in classes and not item["title"]:
            self.capture = True

    def handle_endtag(self, tag):
        if not self.navs:
            return
        if tag == "nav":
            self.navs -= 1
            self.toc -= self.toc > 0
        elif self.toc:
            return
        elif tag == "li" and len(self.items) > 1:
            self.items.pop()
        elif tag == "span":
            self.capture = False

    def handle_data(self, data):
        if self.capture and data.strip():
            self.items[-1]["title"] += data.strip()


def navigation(html: str) -> list[dict]:
    parser = _Nav()
    parser.feed(html)
    return parser.root["children"]


def titles(items: list[dict]) -> list[str]:
    return [item["title"] for item in items]


def all_output(site: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in site.rglob("*")
                     if p.suffix in {".html", ".json", ".xml", ".txt", ".js", ".ipynb"} and "assets" not in p.parts)


def test_the_strict_build_succeeds_and_names_each_problem_with_file_and_line(vault_site):
    _, log = vault_site
    for expected in [
        r"garden/欢迎\.md:19: unresolved link \[\[不存在的笔记\]\]",
        r"garden/欢迎\.md:19: unresolved link \[缺失\]\(missing-note\.md\)",
        r"garden/欢迎\.md:19: unresolved embed !\[\[不存在\.png\]\]",
        r"garden/sub/deep/深层\.md: unknown frontmatter keys \['foo'\]: the site ignores them .*aliases.*dg-\*",
        r"garden/home\.md: dg-home: true is ignored: the project's zh/index\.md is the home page",
        r"garden/collide-page\.md: permalink /garden/目标笔记/ is ignored: it is the address of garden/目标笔记\.md",
        r"garden/collide-b\.md: permalink /same/place/ is ignored: it is the address of garden/collide-a\.md",
    ]:
        assert re.search(r"WARNING\s+-\s+vault: " + expected, log), expected


def test_wikilinks_in_every_form_resolve(vault_site):
    site, _ = vault_site
    html = article(page(site, "garden/欢迎"))
    target = "../%E7%9B%AE%E6%A0%87%E7%AC%94%E8%AE%B0/"  # garden/目标笔记/
    for link in [f'<a href="{target}">目标笔记</a>', f'<a href="{target}">别名文字</a>',
                 f'<a href="{target}#第二节">目标笔记 &gt; 第二节</a>', f'<a href="{target}#^block-1">看这个块</a>',
                 '<a href="../Note%20With%20Spaces/">Note With Spaces</a>',
                 '<a href="../emoji%20%F0%9F%9A%80%20note/">emoji 🚀 note</a>',
                 f'<a href="{target}">another-name</a>',  # an alias
                 # by name: the learner's own notes/scaling.md (published at notes/scaling-2/), nearer than the
                 # project's zh/notes/scaling.md, as in Obsidian (MkDocs read its path as the project's page)
                 '<a href="../../notes/scaling-2/">scaling</a>',
                 '<a href="./#本页小节">本页小节</a>']:
        assert link in html, link
    assert 'id="第二节"' in page(site, "garden/目标笔记") and 'id="^block-1"' in page(site, "garden/目标笔记")


def test_markdown_links_with_spaces_encoding_folders_and_bare_names(vault_site):
    html = article(page(vault_site[0], "garden/欢迎")).split('class="backlinks"')[0]
    assert html.count('href="../Note%20With%20Spaces/"') >= 3  # [[..]], <...> and %20 forms
    assert html.count('href="../sub/deep/%E6%B7%B1%E5%B1%82/"') == 2  # by path, and by name alone


def test_unresolved_links_are_styled_text_not_dead_links(vault_site):
    site, _ = vault_site
    html = article(page(site, "garden/欢迎"))
    for label in ("不存在的笔记", "缺失", "不存在.png"):
        assert re.search(rf'<span class="unresolved-link"[^>]*>{re.escape(label)}</span>', html), label
    assert "missing-note" not in re.sub(r'title="[^"]*"', "", html)  # no <a href> to it


def test_no_obsidian_syntax_is_left_as_text(vault_site):
    site, _ = vault_site
    for path in ("garden/欢迎", "garden/目标笔记", "garden/Note With Spaces", "garden/sub/deep/深层"):
        text = visible_text(page(site, path))
        for literal in ("[[", "]]", "==", "~~", "^block-1", "^own-block", "%%"):
            assert literal not in text, (path, literal)


def test_comments_never_reach_html_search_or_sitemap_but_stay_in_code(vault_site):
    site, _ = vault_site
    output = all_output(site)
    for secret in ("INLINE-SECRET-ONE", "BLOCK-SECRET-TWO", "BLOCK-SECRET-THREE"):
        assert secret not in output, secret
    assert "<code>%%KEEP-IN-CODE%%</code>" in page(site, "garden/欢迎")


def test_highlight_strike_callout_math_and_mermaid(vault_site):
    html = page(vault_site[0], "garden/欢迎")
    assert "<mark>高亮文字</mark>" in html and "<del>删除线</del>" in html
    assert '<div class="admonition tip">' in html and "<mark>mark</mark>" in html
    assert '<div class="arithmatex">' in html
    assert '<pre class="mermaid"><code>graph LR' in html
    # self-hosted: the stand-in Material's bundle finds (overrides/main.html) fetches the site's copy
    assert re.search(r'\}\)\("[./]*assets/mermaid/mermaid\.min\.js"\);</script>', html)
    assert "assets/mermaid" not in page(vault_site[0], "garden/目标笔记")  # only where a diagram is


def test_unknown_fence_info_strings_stay_code_and_the_page_goes_on(vault_site):
    html = article(page(vault_site[0], "garden/欢迎"))
    assert "TABLE file.name FROM" in html and "<p>TEXT-AFTER-DATAVIEW is a paragraph, not code.</p>" in html


def test_lists_after_a_line_and_nested_by_two_three_or_four_spaces(vault_site):
    html = article(page(vault_site[0], "garden/欢迎"))
    assert "<p>其中：</p>\n<ul>\n<li>Q 代表查询</li>" in html
    assert re.search(r"<li>K 代表键<ul>\s*<li>two-space nested<ul>\s*<li>four deep</li>", html)
    assert re.search(r"<li>one<ul>\s*<li>three-space nested</li>\s*<li>again</li>", html)


def test_inline_tags_are_tags_not_headings_and_reach_the_tags_index(vault_site):
    site, _ = vault_site
    html = article(page(site, "garden/欢迎"))
    assert html.count("<h1") == 1  # the title only: "#花园标签" at the start of a line is no heading
    assert '<a class="md-tag inline-tag" href="../../tags/#tag:花园标签">#花园标签</a>' in html
    assert "<code>#not-a-tag</code>" in html and "C# or x#y" in html
    tags = page(site, "tags")
    for tag in ("花园标签", "行内标签", "花园", "目标"):  # inline tags, a list and a single string in frontmatter
        assert f'id="tag:{tag}"' in tags, tag


#: An embedded note, section or block: a callout of its own (inside a callout too), titled with a link.
EMBED = re.compile(r'<div class="admonition embed">\s*<p class="admonition-title">(.*?)</div>', re.S)


def test_embeds_of_images_with_size_notes_sections_and_blocks(vault_site):
    html = article(page(vault_site[0], "garden/欢迎"))
    assert '<img alt="图片.png" src="../%E5%9B%BE%E7%89%87.png" width="300" />' in html
    assert '<img alt="图片.png" src="../%E5%9B%BE%E7%89%87.png" />' in html
    embeds = [e.group(1) for e in EMBED.finditer(html)]
    assert len(embeds) == 3
    section, block, note = embeds
    assert "SECTION-TWO-TEXT" in section and "BLOCK-ONE-TEXT" in section and "SECTION-THREE-TEXT" not in section
    assert "BLOCK-ONE-TEXT" in block and "SECTION-TWO-TEXT" not in block
    assert "SPACES-NOTE-TEXT" in note and 'href="../%E7%9B%AE%E6%A0%87%E7%AC%94%E8%AE%B0/"' in note  # its link, rebased
    assert 'id="^block-1"' not in html and "<h1" not in "".join(embeds)  # no copied anchors or headings


def test_chinese_names_aliases_and_cssclasses(vault_site):
    site, _ = vault_site
    html = page(site, "garden/欢迎")
    assert '<div class="wide-page garden">' in html
    assert "<title>欢迎来到花园" in html


def test_unpublished_and_drafts_are_not_built_and_secrets_are_dropped(vault_site):
    site, _ = vault_site
    output = all_output(site)
    # DRAFT-MARKER-FOUR: a note with `publish: false` among the notes (docs/zh/notes/), which have notebooks.
    for marker in ("DRAFT-MARKER-ONE", "DRAFT-MARKER-TWO", "DRAFT-MARKER-THREE", "DRAFT-MARKER-FOUR",
                   "hunter2-passphrase"):
        assert marker not in output, marker
    assert "SECRET-NOTE-BODY" in page(site, "garden/secret")
    assert "garden/draft" not in (site / "sitemap.xml").read_text(encoding="utf-8")


def test_home_and_permalink_collisions_keep_the_project_page(vault_site):
    site, _ = vault_site
    home = page(site, "")
    assert "PROJECT-HOME-MARKER" in home and "LEARNER-HOME-MARKER" not in home
    target = page(site, "garden/目标笔记")
    assert "COLLIDES-WITH-A-PAGE" not in target and "SECTION-TWO-TEXT" in target
    redirect = page(site, "same/place")
    url = re.search(r'http-equiv="refresh" content="0; url=([^"]+)"', redirect).group(1)
    moved = (site / "same" / "place" / url / "index.html").resolve()
    assert moved == (site / "garden" / "collide-a" / "index.html").resolve()
    secret = (site / "大语言模型学习" / "秘密笔记" / "index.html")
    url = re.search(r'url=([^"]+)"', secret.read_text(encoding="utf-8")).group(1)
    assert (secret.parent / url / "index.html").resolve() == (site / "garden" / "secret" / "index.html").resolve()


def test_dg_hide_is_reachable_but_not_in_nav_or_search(vault_site):
    site, _ = vault_site
    assert "HIDDENMARKER" in page(site, "garden/hidden")
    assert "HIDDENMARKER" not in (site / "search" / "search_index.json").read_text(encoding="utf-8")
    assert "garden/hidden/" not in page(site, "garden/欢迎")


def test_backlinks_from_wikilinks_and_encoded_markdown_links_in_the_right_language(vault_site):
    site, _ = vault_site
    html = page(site, "garden/目标笔记")
    section = html[html.index('class="backlinks"'):]
    for source in ("欢迎来到花园", "Note With Spaces"):  # a wikilink, a %-encoded Markdown link
        assert source in section, source
    assert "English" not in section


def test_a_note_language_comes_from_its_folder_or_suffix(vault_site):
    site, _ = vault_site
    english = page(site, "en/garden/english")
    assert "ENGLISH-GARDEN-TEXT" in english and '<a href="../english-two/">english-two</a>' in english
    assert not (site / "garden" / "english").exists() and not (site / "garden" / "english.en").exists()
    assert not (site / "en" / "garden" / "欢迎").exists()  # Chinese (no suffix, outside en/): zh only
    assert "PROJECT-HOME-EN-MARKER" in page(site, "en")


def test_search_index_has_no_comment_and_no_raw_wikilink(vault_site):
    index = json.loads((vault_site[0] / "search" / "search_index.json").read_text(encoding="utf-8"))
    text = " ".join(doc["text"] for doc in index["docs"])
    prose = re.sub(r"<code>.*?</code>", "", text, flags=re.S)  # code may hold "[[" as written
    assert "[[" not in prose and "INLINE-SECRET-ONE" not in text


def test_project_notes_stay_strict(tmp_path):
    # A broken link in a project note (docs/zh/...) is an error for the strict build, not a learner warning.
    vault = tmp_path / "vault"
    shutil.copytree(VAULT, vault)
    note = vault / "zh" / "notes" / "scaling.md"
    note.write_text(note.read_text(encoding="utf-8") + "\n[[没有这篇]]\n", encoding="utf-8")
    result = build_vault(tmp_path / "build", source=vault)
    assert result.returncode != 0
    assert re.search(r"WARNING\s+-\s+zh/notes/scaling\.md:\d+: unresolved link \[\[没有这篇\]\]", result.stderr)


def test_project_pages_show_backlinks(built_site):
    zh = (built_site / "notes" / "scaling" / "index.html").read_text(encoding="utf-8")
    en = (built_site / "en" / "notes" / "scaling" / "index.html").read_text(encoding="utf-8")
    assert '<h2 id="backlinks">被以下笔记引用</h2>' in zh and 'href="../attention-mechanism/"' in zh
    assert '<h2 id="backlinks">Linked from</h2>' in en and 'href="../attention-mechanism/"' in en


LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*(<[^>\n]*>|[^()\s]+)")
WIKILINK = re.compile(r"!?\[\[([^\[\]\n|#]+)")


def test_every_link_in_our_notes_resolves_as_obsidian_resolves_it():
    """Each relative link and embed of docs/ points at a file, by relative path (as Obsidian's
    "relative path" link format writes them) or, for a bare name, at exactly one file of that name."""
    docs = ROOT / "docs"
    names: dict[str, list[Path]] = {}
    for path in docs.rglob("*"):
        names.setdefault(path.name.casefold(), []).append(path)
        names.setdefault(path.stem.casefold(), []).append(path) if path.suffix == ".md" else None
    checked, broken = 0, []
    for note in docs.rglob("*.md"):
        text = re.sub(r"```.*?```|`[^`\n]*`", "", note.read_text(encoding="utf-8"), flags=re.S)
        for raw in LINK.findall(text):
            target = unquote(raw.strip("<>").split("#")[0])
            if not target or re.match(r"^[a-z]+:", target) or target.startswith("/"):
                continue
            checked += 1
            if not (note.parent / target).exists():
                broken.append(f"{note.relative_to(docs)}: {raw}")
        for name in WIKILINK.findall(text):
            checked += 1
            if len(names.get(name.strip().casefold(), [])) != 1 and not (note.parent / f"{name}.md").exists():
                broken.append(f"{note.relative_to(docs)}: [[{name}]]")
    assert checked > 50 and broken == []


def test_display_math_written_without_blank_lines_renders_as_display_math(vault_site):
    """Obsidian users write "text⏎$$⏎…⏎$$⏎text", one-line $$…$$ blocks and $$ inside callouts,
    with no blank lines: each is one display formula, its backslashes and ^T intact."""
    source = (VAULT / "garden" / "读书笔记" / "数学笔记.md").read_text(encoding="utf-8")
    blocks = source.count("$$") // 2  # four blocks: after text, on one line, before text, in a callout
    html = article(page(vault_site[0], "garden/读书笔记/数学笔记"))
    shown = re.findall(r'<div class="arithmatex">(.*?)</div>', html, re.S)
    assert len(shown) == blocks == 4, shown
    assert "$$" not in visible_text(page(vault_site[0], "garden/读书笔记/数学笔记"))
    assert any(r"a &amp; b \\ c &amp; d" in s for s in shown)  # the matrix keeps its row break
    assert any("S = QK^T" in s for s in shown)  # not taken for a block id


@pytest.mark.parametrize(("learner", "project", "moved", "text"), [
    ("index.md", "", "index-2", "LEARNER-HOME-TEXT"),
    ("notes/scaling.md", "notes/scaling", "notes/scaling-2", "LEARNER-SCALING-ZH"),
    ("notes/scaling.en.md", "en/notes/scaling", "en/notes/scaling-2", "LEARNER-SCALING-EN"),
])
def test_a_learner_note_at_a_project_address_never_breaks_or_replaces_the_project_page(vault_site, learner, project,
                                                                                      moved, text):
    """docs/index.md, docs/notes/scaling.md and docs/notes/scaling.en.md beside the project's pages:
    the build goes on, the project's page keeps its address, the note is published at -2, and one
    warning names both files."""
    site, log = vault_site
    assert text not in page(site, project)
    assert text in page(site, moved)
    warning = next(line for line in log.splitlines() if f"{learner}: has the address of the project's page" in line)
    assert "zh/" in warning or "en/" in warning, warning
    assert f"{moved}/index.html" in warning, warning


def test_a_hand_written_anchor_lands_on_its_heading_and_mkdocs_warnings_about_learners_are_theirs(vault_site):
    """`[apply](RoPE 笔记.md#applyrope)` and `[x](#applyrope)` for the heading `apply_RoPE` (case,
    spaces, punctuation, `_` and code ticks do not count) link to it; an anchor that is nowhere is a
    learner warning (MkDocs' own anchor check included), never a strict-build error."""
    site, log = vault_site
    html = article(page(site, "garden/读书笔记/RoPE 笔记"))
    assert 'id="apply_rope"' in html
    assert '<a href="./#apply_rope">apply</a>' in html and '<a href="#apply_rope">' in html
    assert 'class="unresolved-link"' in html  # #nosuchthing: shown as text, not a dead link
    assert "heading 'nosuchthing' is not in garden/读书笔记/RoPE 笔记.md" in log
    assert not re.search(r"^WARNING\s+-\s+Doc file 'garden/", log, re.M)  # MkDocs' own, counted by --strict


def test_tags_ignore_case_as_in_obsidian(vault_site):
    """`Attention` in one note and `attention` in another are one tag: one section, one id."""
    tags = page(vault_site[0], "tags")
    ids = re.findall(r'id="(tag:[^"]+)"', tags)
    assert len(ids) == len(set(ids)) and len({i.casefold() for i in ids}) == len(ids), ids
    section = tags[tags.index('id="tag:attention"'):]
    section = section[:section.find('id="tag:', 10)]
    assert "注意力笔记" in section and "数学笔记" in section


def test_nested_tags_sit_under_one_parent_whatever_their_case(vault_site):
    """Obsidian's nested tags: `#Lang/Rust` (inline, garden/code/Rust) and `lang/python` (frontmatter,
    garden/code/python) are listed under one `lang`, each with its note."""
    tags = page(vault_site[0], "tags")
    ids = re.findall(r'id="(tag:[^"]+)"', tags)
    family = [i for i in ids if i.casefold().split("/")[0] == "tag:lang"]
    assert len(family) == 3 and family[0] == "tag:lang", ids  # the parent first, then its two children
    start = tags.index(f'id="{family[0]}"')
    after = [i for i in ids[ids.index(family[0]) + 1:] if i not in family]
    group = tags[start:tags.index(f'id="{after[0]}"')] if after else tags[start:]
    assert all(f'id="{child}"' in group for child in family[1:])
    assert 'href="../garden/code/Rust/"' in group and 'href="../garden/code/python/"' in group


def test_inline_footnotes_become_footnotes(vault_site):
    """Obsidian's `text^[note]` is a numbered footnote with its note at the end of the page; in code it stays."""
    html = article(page(vault_site[0], "garden/读书笔记/注意力笔记"))
    assert "^[" not in visible_text(page(vault_site[0], "garden/读书笔记/注意力笔记"))
    assert html.count('class="footnote-ref"') == 2
    footnotes = html[html.index('class="footnote"'):]
    assert "Bahdanau、Cho 和 Bengio，2014。" in footnotes and "Vaswani 等人，2017。" in footnotes
    assert "<code>x^[1]</code>" in html


def language_switch(site: Path, path: str) -> dict[str, Path]:
    """Where the header's language switch of a built page leads, per language: the page it opens."""
    from posixpath import normpath

    from rendered import parse

    links = parse(page(site, path)).walk()
    out = {}
    for link in links:
        if link.tag == "a" and "md-select__link" in link.attrs.get("class", ""):
            href = link.attrs["href"]
            assert not href.startswith("/"), (path, href)  # relative, so that the offline copy works from file://
            out[link.attrs["hreflang"]] = Path(normpath(f"{path}/{unquote(href)}"))
    return out


def test_the_language_switch_of_a_learner_note_leads_to_its_twin_or_the_other_language_home(vault_site):
    site, _ = vault_site
    # An English learner note with no Chinese twin: itself in English, the Chinese home in Chinese
    # (MkDocs-static-i18n left the previous page's links here: a project note's).
    assert language_switch(site, "en/garden/english") == {"en": Path("en/garden/english"), "zh": Path(".")}
    # A Chinese learner note: the English home
    assert language_switch(site, "garden/欢迎") == {"zh": Path("garden/欢迎"), "en": Path("en")}
    # A learner's pair (notes/scaling.md and notes/scaling.en.md, both at -2 addresses): each other
    pair = {"en": Path("en/notes/scaling-2"), "zh": Path("notes/scaling-2")}
    assert language_switch(site, "en/notes/scaling-2") == pair
    assert language_switch(site, "notes/scaling-2") == pair
    # and a project page keeps its twin
    assert language_switch(site, "notes/scaling") == {"zh": Path("notes/scaling"), "en": Path("en/notes/scaling")}


def test_embeds_as_real_vaults_write_them(vault_site):
    """garden/code/嵌入.md: embeds inside callouts, of a heading written with code, of a block of
    the same note, of a note with tags, and unresolved ones with size options."""
    from rendered import parse

    tree = parse(page(vault_site[0], "garden/code/嵌入")).first(lambda e: e.tag == "article")
    callouts = tree.find_all(lambda e: e.tag == "div" and "admonition" in e.attrs.get("class", "")
                             and "embed" not in e.attrs["class"])
    tip, box = callouts
    # the embed is inside the callout, not an empty callout followed by the embed
    tip_embed = tip.first(lambda e: "embed" in e.attrs.get("class", "").split())
    assert tip_embed is not None and "comprehensions are eager" in tip_embed.text()
    assert "generators are lazy" not in tip_embed.text() and "Lists:" not in tip_embed.text()  # the block alone
    assert not tip.find_all(lambda e: e.tag in ("pre", "code"))  # no line pulled in as code
    # a heading written with code: resolved, titled with its code, the section's list a list
    box_embed = box.first(lambda e: "embed" in e.attrs.get("class", "").split())
    assert box_embed is not None and "A pointer to the heap" in box_embed.text()
    assert "[[" not in box.text() and "<T>" in box_embed.text() and "&lt;" not in box_embed.text()
    items = [li.text().strip() for li in box_embed.find_all(lambda e: e.tag == "li")]
    assert items == ["a known size for recursive types", "ownership of heap data"]
    # a block of this very note, shown as Obsidian shows it (not an empty link to the page)
    same = [e for e in tree.find_all(lambda e: "embed" in e.attrs.get("class", "").split())
            if "这是本页的块" in e.text()]
    assert len(same) == 1
    assert not tree.find_all(lambda e: e.tag == "a" and not e.text().strip())
    # the embedded note's tags are not this page's
    page_tags = tree.first(lambda e: e.tag == "nav" and "md-tags" in e.attrs.get("class", ""))
    assert page_tags is None or "traits" not in page_tags.text()
    # unresolved embeds are labelled with their target, never with their size options
    unresolved = [e.text() for e in tree.find_all(lambda e: "unresolved-link" in e.attrs.get("class", ""))]
    assert unresolved == ["missing-drawing.png", "不存在的笔记"]


def test_math_html_and_indented_code_are_left_as_written(vault_site):
    """garden/矩阵与转置.md: Obsidian's syntax is not read inside display math, HTML (a block, or a
    tag's attribute) or an indented code block."""
    from rendered import parse

    html = page(vault_site[0], "garden/矩阵与转置")
    tree = parse(html).first(lambda e: e.tag == "article")
    math = [e.text() for e in tree.find_all(lambda e: "arithmatex" in e.attrs.get("class", ""))]
    assert len(math) == 1 and "K^T" in math[0]  # ^T is the transpose, not a block id
    assert 'id="^T"' not in html
    tip = tree.first(lambda e: e.tag == "span" and e.attrs.get("class") == "tip")
    assert tip is not None and tip.attrs["title"] == "see [[目标笔记]]" and tip.text() == "hover me"
    assert tree.first(lambda e: e.tag == "a" and e.text() == "目标笔记") is not None  # the real link still is one
    box = tree.first(lambda e: e.tag == "div" and e.attrs.get("class") == "box")
    assert box is not None and box.attrs["data-ref"] == "[[Note With Spaces]]"
    code = [e.text() for e in tree.find_all(lambda e: e.tag == "pre")]
    assert code == ['x = "[[not a link]]"\ny = a ^T\n']


def test_excalidraw_drawings_show_their_exported_image_or_say_where_to_open_them(vault_site):
    """garden/drawings/: an Excalidraw drawing with the plugin's auto-exported SVG beside it shows
    that image (an <img>, never inlined), embedded and on its own page; one without an export shows
    a short box; the plugin's placeholder text and its drawing data appear nowhere."""
    from rendered import parse

    site = vault_site[0]
    host = parse(page(site, "garden/drawings/画图笔记")).first(lambda e: e.tag == "article")
    images = host.find_all(lambda e: e.tag == "img")
    assert [unquote(i.attrs["src"]) for i in images] == ["../Drawing 2026-01-05 10.12.03.excalidraw.svg"]
    assert images[0].attrs["alt"] == "Drawing 2026-01-05 10.12.03"
    boxes = [e.text() for e in host.find_all(lambda e: "drawing-missing" in e.attrs.get("class", ""))]
    assert boxes == ["绘图：Sketch（在 Obsidian 中打开）"]
    assert not host.find_all(lambda e: e.tag == "svg")  # the drawing is an image, not inlined markup
    own = parse(page(site, "garden/drawings/Drawing 2026-01-05 10.12.03.excalidraw")).first(
        lambda e: e.tag == "article")
    assert own.first(lambda e: e.tag == "h1").text().strip("¶") == "Drawing 2026-01-05 10.12.03"
    assert [unquote(i.attrs["src"]) for i in own.find_all(lambda e: e.tag == "img")] == \
        ["../Drawing 2026-01-05 10.12.03.excalidraw.svg"]
    output = all_output(site)
    for leak in ("Switch to EXCALIDRAW VIEW", "compressed-json", "N4KAkARALgngDgUwgLgAQQ"):
        assert leak not in output, leak


def test_a_json_canvas_is_a_page_with_its_cards_edges_and_groups(vault_site):
    """garden/boards/注意力.canvas (JSON Canvas, Obsidian's open format): a page, not the raw JSON; text
    cards rendered as Markdown (math, lists, wikilinks) at their positions, file cards linking
    their published note (an unpublished one shows nothing of itself), an image card, a plain link
    card, a group with its label, edges with their labels; links to the canvas open the page."""
    from rendered import parse

    site = vault_site[0]
    # the raw JSON (it names unpublished notes) is not published
    assert not [p for p in site.rglob("*.canvas") if p.is_file()]
    html = page(site, "garden/boards/注意力.canvas")
    tree = parse(html).first(lambda e: e.tag == "article")
    board = tree.first(lambda e: "json-canvas" in e.attrs.get("class", "").split())
    assert board is not None
    region = tree.first(lambda e: e.attrs.get("role") == "region")
    assert region is not None and region.attrs.get("tabindex") == "0" and "注意力" in region.attrs["aria-label"]
    cards = {e.attrs["data-node"]: e for e in board.find_all(lambda e: "data-node" in e.attrs)}
    assert set(cards) == {"g1", "t1", "t2", "f1", "f2", "f3", "l1"}
    # positions from the leftmost and topmost card (the group, at -420, -260), plus a 40 px margin
    assert "left:80px;top:100px" in cards["t1"].attrs["style"].replace(" ", "")
    assert cards["t1"].first(lambda e: "arithmatex" in e.attrs.get("class", "")) is not None  # $q \cdot k$
    assert cards["t1"].first(lambda e: e.tag == "a" and e.text() == "目标笔记") is not None
    assert [li.text() for li in cards["t2"].find_all(lambda e: e.tag == "li")] == ["每行和为 1", "都非负"]
    note_link = cards["f1"].first(lambda e: e.tag == "a")
    assert note_link is not None and "Note With Spaces" in unquote(note_link.attrs["href"])
    assert cards["f3"].first(lambda e: e.tag == "img") is not None
    link = cards["l1"].first(lambda e: e.tag == "a")
    assert link.attrs["href"] == "https://arxiv.org/abs/1706.03762" and not board.find_all(lambda e: e.tag == "iframe")
    assert cards["g1"].text().strip() == "注意力的三步"
    assert board.first(lambda e: e.tag == "svg") is not None
    connections = [li.text() for li in tree.find_all(lambda e: "canvas-edge" in e.attrs.get("class", "").split())]
    assert len(connections) == 3 and any("归一化" in c for c in connections)
    output = all_output(site)
    for secret in ("SECRET-CANVAS-NOTE-TITLE", "secret-plans", "CANVAS-SECRET-BODY"):
        assert secret not in output, secret
    entry = article(page(site, "garden/boards/看板入口"))
    assert entry.count('href="../%E6%B3%A8%E6%84%8F%E5%8A%9B.canvas/"') == 2, entry


def test_an_english_canvas_is_an_english_page(vault_site):
    from rendered import parse

    site = vault_site[0]
    assert not (site / "garden" / "boards" / "plan.canvas").exists()  # English only
    tree = parse(page(site, "en/garden/boards/plan.canvas")).first(lambda e: e.tag == "article")
    region = tree.first(lambda e: e.attrs.get("role") == "region")
    assert region.attrs["aria-label"] == "Canvas: plan"
    edges = [e.text() for e in tree.find_all(lambda e: "canvas-edge" in e.attrs.get("class", "").split())]
    assert edges == ["Read the paper → Write the code (then)"]



def test_learner_notes_are_in_the_navigation_under_my_notes_as_their_folders_nest(vault_site):
    """The project's nav stays as it is; the learner's notes follow it in one section, folder by
    folder: folders first, then notes, each in alphabetical order whatever the case, numbers in
    natural order; a folder's index-like note (README, index, or named like the folder) is its page."""
    site, _ = vault_site
    nav = navigation(page(site, "garden/欢迎"))
    assert titles(nav) == ["首页", "笔记", "标签", "我的笔记"]  # the project's nav, then the learner's notes
    assert titles(nav[1]["children"]) == ["缩放（项目笔记）"]
    garden = next(item for item in nav[3]["children"] if item["title"] == "garden")
    folders = [item for item in garden["children"] if item["children"]]
    assert titles(folders) == ["boards", "code", "drawings", "sub", "排序", "读书笔记"]
    assert garden["children"][:len(folders)] == folders  # folders before notes
    notes = titles(garden["children"][len(folders):])
    assert notes == sorted(notes, key=str.casefold) and "欢迎来到花园" in notes and "隐藏" not in notes  # dg-hide
    sorting = next(item for item in folders if item["title"] == "排序")
    assert sorting["href"] == "../%E6%8E%92%E5%BA%8F/%E6%8E%92%E5%BA%8F/"  # its note named like it: the folder's page
    assert titles(sorting["children"]) == ["Zeta", "子目录", "Alpha", "beta", "Note 2", "note 10"]
    subfolder = sorting["children"][1]
    assert subfolder["href"] == "../%E6%8E%92%E5%BA%8F/%E5%AD%90%E7%9B%AE%E5%BD%95/"  # its README
    assert titles(subfolder["children"]) == ["内容"]
    english = navigation(page(site, "en/garden/english"))
    assert titles(english)[-1] == "My notes"
    mine = english[-1]["children"]
    assert "garden" in titles(mine) and "english" not in json.dumps(nav[3], ensure_ascii=False).lower()
    garden_en = next(item for item in mine if item["title"] == "garden")
    assert titles([item for item in garden_en["children"] if item["children"]]) == ["boards", "读书笔记"]
