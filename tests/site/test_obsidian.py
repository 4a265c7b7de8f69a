"""A temporary vault of Obsidian / Digital Garden notes, built with the project's config and hooks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from site_build import ROOT

pytestmark = pytest.mark.slow  # builds the site (tens of seconds)

NOTES = {
    "index.zh.md": "# 首页\n\n欢迎。\n",
    "index.en.md": "# Home\n\nWelcome.\n",
    "tags.zh.md": "# 标签\n\n<!-- material/tags -->\n",
    "notes/draft.zh.md": "---\ndg-publish: false\n---\n# 草稿\n\nDRAFT-MARKER-ONE\n",
    "notes/draft2.zh.md": "---\ndraft: true\n---\n# 草稿二\n\nDRAFT-MARKER-TWO\n",
    "notes/secret.zh.md": textwrap.dedent("""\
        ---
        dg-publish: true
        dg-passphrase: hunter2-passphrase
        dg-permalink: /大语言模型学习/秘密笔记
        dg-pinned: false
        ---
        # 公开的笔记

        SECRET-NOTE-BODY
        """),
    "notes/home.zh.md": "---\ndg-home: true\n---\n# 我的首页\n\nHOME-MARKER\n",
    "notes/hidden.zh.md": "---\ndg-hide: true\n---\n# 隐藏\n\nHIDDENMARKER\n",
    "notes/desc.zh.md": textwrap.dedent("""\
        ---
        dg-description: 描述标记
        tags: [测试标签]
        created: 2025-04-03
        updated: 2025-04-13
        ---
        # 有描述的笔记

        正文。
        """),
    "notes/中文笔记.zh.md": textwrap.dedent("""\
        ---
        foo: 1
        ---
        # 中文文件名

        ## 💡 核心思想

        见 [有描述的笔记](desc.md) 和 [不存在的笔记](missing.md)。
        """),
}


def vault_config(docs: Path, strict: bool) -> str:
    """The project's mkdocs.yml pointed at another docs dir (same theme, plugins and hooks), without its nav."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    text = text.split("\nnav:")[0]
    text = text.replace("docs_dir: docs", f"docs_dir: {docs}")
    text = text.replace("custom_dir: overrides", f"custom_dir: {ROOT / 'overrides'}")
    text = re.sub(r"  - hooks/(\w+\.py)", lambda m: f"  - {ROOT / 'hooks' / m.group(1)}", text)
    return text.replace("strict: true", f"strict: {str(strict).lower()}")


def build(tmp: Path, strict: bool) -> subprocess.CompletedProcess:
    docs = tmp / "docs"
    for name, body in NOTES.items():
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_text(body, encoding="utf-8")
    config = tmp / "mkdocs.yml"
    config.write_text(vault_config(docs, strict), encoding="utf-8")
    cmd = [sys.executable, "-m", "mkdocs", "build", "-f", str(config), "-d", str(tmp / "site")]
    return subprocess.run(cmd, capture_output=True, text=True, env=os.environ | {"NO_MKDOCS_2_WARNING": "1"})


@pytest.fixture(scope="module")
def vault(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vault")
    result = build(tmp, strict=False)
    assert result.returncode == 0, result.stderr
    return tmp / "site", result.stderr


def all_text(site: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in site.rglob("*") if p.suffix in {".html", ".json", ".xml"})


def test_unpublished_and_draft_notes_are_not_built(vault):
    site, _ = vault
    text = all_text(site)
    assert "DRAFT-MARKER-ONE" not in text and "DRAFT-MARKER-TWO" not in text
    assert not (site / "notes" / "draft").exists() and not (site / "notes" / "draft2").exists()
    assert "notes/draft" not in (site / "sitemap.xml").read_text(encoding="utf-8")


def test_passphrase_never_reaches_the_site(vault):
    site, _ = vault
    assert "SECRET-NOTE-BODY" in (site / "notes" / "secret" / "index.html").read_text(encoding="utf-8")
    assert "hunter2-passphrase" not in all_text(site)


def test_dg_home_becomes_the_home_page(vault):
    site, _ = vault
    assert "HOME-MARKER" in (site / "index.html").read_text(encoding="utf-8")
    assert not (site / "notes" / "home").exists()


def test_dg_permalink_redirects_to_the_note(vault):
    site, _ = vault
    redirect = site / "大语言模型学习" / "秘密笔记" / "index.html"
    html = redirect.read_text(encoding="utf-8")
    url = re.search(r'http-equiv="refresh" content="0; url=([^"]+)"', html).group(1)
    assert (redirect.parent / url / "index.html").resolve() == (site / "notes" / "secret" / "index.html").resolve()


def test_dg_hide_is_reachable_but_not_in_nav_or_search(vault):
    site, _ = vault
    assert "HIDDENMARKER" in (site / "notes" / "hidden" / "index.html").read_text(encoding="utf-8")
    assert "HIDDENMARKER" not in (site / "search" / "search_index.json").read_text(encoding="utf-8")
    assert 'href="../hidden/"' not in (site / "notes" / "desc" / "index.html").read_text(encoding="utf-8")
    assert 'href="../desc/"' in (site / "notes" / "secret" / "index.html").read_text(encoding="utf-8")  # nav lists the others


def test_description_tags_and_dates(vault):
    site, _ = vault
    html = (site / "notes" / "desc" / "index.html").read_text(encoding="utf-8")
    assert '<meta name="description" content="描述标记">' in html
    assert "创建于 <time>2025-04-03</time>" in html and "更新于 <time>2025-04-13</time>" in html
    assert "测试标签" in (site / "tags" / "index.html").read_text(encoding="utf-8")


def test_sloppy_note_builds_with_warnings_naming_the_file(vault):
    site, log = vault
    page = site / "notes" / "中文笔记" / "index.html"
    assert "💡 核心思想" in page.read_text(encoding="utf-8")
    assert "notes/中文笔记.zh.md: unknown frontmatter keys ['foo']" in log
    assert re.search(r"WARNING.*中文笔记\.zh\.md.*missing\.md", log)


def test_backlinks_in_the_right_language(vault):
    site, _ = vault
    html = (site / "notes" / "desc" / "index.html").read_text(encoding="utf-8")
    section = html[html.index('class="backlinks"'):]
    assert "被以下笔记引用" in section and "中文文件名" in section


def test_strict_build_still_rejects_sloppy_notes(tmp_path):
    result = build(tmp_path, strict=True)
    assert result.returncode != 0
    assert "unknown frontmatter keys" in result.stderr


def test_project_pages_show_backlinks(built_site):
    zh = (built_site / "notes" / "scaling" / "index.html").read_text(encoding="utf-8")
    en = (built_site / "en" / "notes" / "scaling" / "index.html").read_text(encoding="utf-8")
    assert '<h2 id="backlinks">被以下笔记引用</h2>' in zh and 'href="../attention-mechanism/"' in zh
    assert '<h2 id="backlinks">Linked from</h2>' in en and 'href="../attention-mechanism/"' in en
