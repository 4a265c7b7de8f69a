"""The zh/en drift guard: passes on the vault, and catches each kind of drift."""

from pathlib import Path

import drift  # tools/drift.py, on the path by pyproject's pytest `pythonpath`
import pytest
from site_build import ROOT

BASE = """---
title: t
---

# Title

Intro with $x$ and $y$.

## Section

> [!warning] A title
> text

```python
print(1)
```

$$a = b$$

![figure](img.png)

```python exec="1"
print(f(lang="{lang}"))
```
"""


def write_pair(tmp_path: Path, zh: str, en: str) -> Path:
    for lang, text in (("zh", zh), ("en", en)):
        (tmp_path / lang / "notes").mkdir(parents=True, exist_ok=True)
        (tmp_path / lang / "notes" / "n.md").write_text(text, encoding="utf-8")
    return tmp_path


def test_the_vault_has_no_drift():
    problems = drift.check(ROOT / "docs")
    assert problems == [], "\n".join(problems)


def test_identical_structure_with_translated_prose_passes(tmp_path):
    zh = BASE.replace("{lang}", "zh").replace("Intro with $x$ and $y$.", "先说 $y$，再说 $x$。")
    zh = zh.replace("A title", "标题")
    en = BASE.replace("{lang}", "en")
    assert drift.check(write_pair(tmp_path, zh, en)) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("## Section", "### Section"), "heading differs"),
        (("## Section\n", ""), "heading 'level 2' has no counterpart"),
        (("print(1)", "print(2)"), "code differs"),
        (("$$a = b$$", "$$a = c$$"), "math differs"),
        (("and $y$", "and $z$"), "inline math $z$ is not in the same section"),
        (("img.png", "other.png"), "image differs"),
        (("[!warning]", "[!tip]"), "callout differs"),
    ],
)
def test_each_kind_of_drift_is_reported_with_file_and_line(tmp_path, change, expected):
    zh = BASE.replace("{lang}", "zh")
    en = BASE.replace("{lang}", "en").replace(*change)
    problems = drift.check(write_pair(tmp_path, zh, en))
    assert any(expected in p for p in problems), problems
    assert all("fix:" in p for p in problems)
    assert any(f"{tmp_path}/zh/notes/n.md:" in p or f"{tmp_path}/en/notes/n.md:" in p for p in problems)


def test_a_note_without_its_twin_is_reported(tmp_path):
    (tmp_path / "zh" / "deep" / "er").mkdir(parents=True)
    (tmp_path / "en").mkdir()
    (tmp_path / "zh" / "deep" / "er" / "only.md").write_text("# x\n", encoding="utf-8")
    problems = drift.check(tmp_path)
    assert len(problems) == 1 and f"missing its English twin {tmp_path}/en/deep/er/only.md" in problems[0]


def test_command_line_exit_status(tmp_path, capsys):
    assert drift.main([str(ROOT / "docs")]) == 0
    (tmp_path / "zh").mkdir()
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "only.md").write_text("# x\n", encoding="utf-8")
    assert drift.main([str(tmp_path)]) == 1
    assert "missing its Chinese twin" in capsys.readouterr().out
