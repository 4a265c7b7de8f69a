"""``python -m attention new-note SLUG``: a new concept's files, in every place a note needs one.

One concept is a note pair, an experiment module and a note test (README, "Writing a note"); this
command writes them from the template of the style notes, and gives the note its place in the
reading order: ``mkdocs.yml``'s nav, the CLI's experiments and both home tables. The note is
``draft: true`` and its placeholder text says ``TODO(new-note)``: a draft is not built (its nav entry
is skipped, its home-table row is an Obsidian comment), and ``tests/site/test_notes.py`` fails while a
published note still has a placeholder, naming the file. What is left to do by hand once the text
is written: delete the ``draft: true`` line and the ``%%`` around the note's row in each home table.
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys
import textwrap
from pathlib import Path

from . import PROJECT, Commands

#: What marks text still to write; no published note may contain it.
PLACEHOLDER = "TODO(new-note)"
SLUG = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")

NOTE = {
    "en": """---
title: "{title}"
description: {todo} one sentence, the question this note answers
tags: [attention]
created: {today}
updated: {today}
draft: true  # delete this line once no {todo} is left: the note is then built
---

# {title}

**Read first:** [The attention mechanism: core idea, scaled dot product, common errors](attention-mechanism.md).

## Core idea

> [!note] {todo}
> {question}

## Formula

{todo} the formula, each symbol introduced in words before it is used.

## Common errors

> [!warning] {todo}
> A mistake a reader is likely to make, and the output below that shows it.

## Code

{todo} the question this block answers, and below it what its output shows.

```python
from attention.experiments.{module} import measure, table

print(table(measure(), lang="en"))
```

## Exercises

> [!question]- Exercise 1 (warm-up): {todo}
> > [!success]- Answer
> > {todo}

> [!question]- Exercise 2 (reading): {todo}
> > [!success]- Answer
> > {todo}

> [!question]- Exercise 3 (extension): {todo}
> > [!success]- Answer
> > {todo}

## Sources

- {todo}
""",
    "zh": """---
title: "{title}"
description: {todo} 一句话说明这篇笔记回答什么问题
tags: [attention]
created: {today}
updated: {today}
draft: true  # 不再有 {todo} 时删去这一行：笔记才会发布
---

# {title}

**先读：**[注意力机制：核心思想、缩放点积与常见错误](attention-mechanism.md)。

## 核心思想

> [!note] {todo}
> {question}

## 公式

{todo} 公式，每个符号先用文字介绍再使用。

## 常见错误

> [!warning] {todo}
> 读者容易犯的一个错误，以及下面哪段输出能说明它。

## 代码

{todo} 这段代码回答的问题，以及它的输出说明了什么。

```python
from attention.experiments.{module} import measure, table

print(table(measure(), lang="zh"))
```

## 练习

> [!question]- 练习 1（热身）：{todo}
> > [!success]- 答案
> > {todo}

> [!question]- 练习 2（读懂）：{todo}
> > [!success]- 答案
> > {todo}

> [!question]- 练习 3（拓展）：{todo}
> > [!success]- 答案
> > {todo}

## 参考资料

- {todo}
""",
}

EXPERIMENT = '''"""The experiments of the {slug} note.

{todo}: what the note measures and shows.

``measure`` returns the numbers the note states, ``table`` shows them in the page's language, and
``register`` adds ``python -m attention {slug}``. To start from: the attention weights of one query
over four keys.
"""

from __future__ import annotations

import argparse

import numpy as np

from ..scaled_dot_product import scaled_dot_product_attention
from . import Commands

TEXT = {{"en": {{"key": "key", "weight": "weight"}}, "zh": {{"key": "键", "weight": "权重"}}}}


def measure(seed: int = 0) -> list[float]:
    """Return the weights one query gives four keys ({todo} what the note measures)."""
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((1, 1, 8))  # (B, L, E)
    k = rng.standard_normal((1, 4, 8))  # (B, S, E)
    weights = scaled_dot_product_attention(q, k, np.eye(4)[None])  # (B, L, S): with V = I, out = weights
    return [float(w) for w in weights[0, 0]]


def table(weights: list[float], *, lang: str = "en") -> str:
    """``weights`` as a Markdown table, in ``lang``."""
    text = TEXT[lang]
    rows = [f"| {{text['key']}} | {{text['weight']}} |", "|---:|---:|"]
    rows += [f"| {{i}} | {{w:.3f}} |" for i, w in enumerate(weights)]
    return "\\n".join(rows)


def register(commands: Commands) -> None:
    """Add ``python -m attention {slug}``."""

    def run(args: argparse.Namespace) -> int:
        print(table(measure(), lang=args.lang))
        return 0

    commands.add("{slug}",
                 help="{todo}: what the note measures",
                 run=run)
'''

NOTE_TEST = '''"""The claims of docs/{{zh,en}}/notes/{slug}.md, its table and command.

{todo}: the note's own claims, each checked here.
"""

import numpy as np

from attention.cli import main
from attention.experiments.{module} import measure, table


def test_the_weights_are_a_distribution_over_the_keys():
    weights = measure()
    assert len(weights) == 4 and np.isclose(sum(weights), 1.0) and min(weights) > 0


def test_the_table_shows_each_weight_in_both_languages():
    weights = measure()
    for lang in ("zh", "en"):
        shown = table(weights, lang=lang)
        assert all(f"{{w:.3f}}" in shown for w in weights), lang


def test_the_command_prints_the_table(capsys):
    assert main(["{slug}", "--lang", "zh"]) == 0
    assert table(measure(), lang="zh") in capsys.readouterr().out
'''

#: A draft's row in a home table: an Obsidian comment (neither Obsidian nor the site shows it) until it is published.
HOME_ROW = "%% | {n} | [{title}](notes/{slug}.md) | 1 | {question} | %%"


def new_note(root: Path, slug: str, titles: dict[str, str], questions: dict[str, str],
             today: datetime.date | None = None) -> list[Path]:
    """Write the files of a new note and list it where notes are listed.

    Returns the paths written.
    Nothing is written unless every file can be: a bad slug, a note that exists or a list that cannot be found
    raises first.
    """
    if not SLUG.fullmatch(slug):
        raise ValueError(f"slug must be lowercase words joined by '-', like 'relative-position'; got {slug!r}")
    module = slug.replace("-", "_")
    files = {lang: root / "docs" / lang / "notes" / f"{slug}.md" for lang in ("zh", "en")}
    files["experiment"] = root / "src" / "attention" / "experiments" / f"{module}.py"
    files["test"] = root / "tests" / f"test_note_{module}.py"
    lists = {"nav": root / "mkdocs.yml", "cli": root / "src" / "attention" / "cli.py",
             **{f"home-{lang}": root / "docs" / lang / "index.md" for lang in ("zh", "en")}}
    for path in lists.values():
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: run new-note in the project's checkout (or pass --root)")
    taken = [str(path.relative_to(root)) for path in files.values() if path.exists()]
    if taken:
        raise FileExistsError(f"note {slug!r} exists already: {', '.join(taken)}")
    today = today or datetime.date.today()
    fields = {"todo": PLACEHOLDER, "today": today.isoformat(), "module": module, "slug": slug}
    texts = {lang: NOTE[lang].format(title=titles[lang], question=questions[lang], **fields) for lang in ("zh", "en")}
    texts["experiment"] = EXPERIMENT.format(**fields)
    texts["test"] = NOTE_TEST.format(**fields)
    listed = {name: path.read_text(encoding="utf-8") for name, path in lists.items()}
    texts["nav"] = _in_nav(listed["nav"], slug)
    texts["cli"] = _in_cli(listed["cli"], module)
    for lang in ("zh", "en"):
        texts[f"home-{lang}"] = _in_home(listed[f"home-{lang}"], lang, slug, titles[lang], questions[lang])
    paths = files | lists
    for name, text in texts.items():
        paths[name].write_text(text, encoding="utf-8")
    return list(paths.values())


def _in_nav(text: str, slug: str) -> str:
    """``mkdocs.yml``'s text with the note after the nav's last note."""
    notes = list(re.finditer(r"^(\s+- )notes/[\w-]+\.md.*$", text, re.M))
    if not notes:
        raise ValueError(f"mkdocs.yml: no notes/*.md entry in the nav to add notes/{slug}.md after")
    last = notes[-1]
    return text[: last.end()] + f"\n{last.group(1)}notes/{slug}.md" + text[last.end():]


def _in_cli(text: str, module: str) -> str:
    """``cli.py``'s text with the module imported and last in ``EXPERIMENTS``, within ruff's 120 columns."""
    imports = re.search(r"from \.experiments import \((.*?)\)", text, re.S)
    experiments = re.search(r"EXPERIMENTS = \((.*?)\)", text, re.S)
    if not imports or not experiments:
        raise ValueError(f"src/attention/cli.py: no experiments import or EXPERIMENTS tuple to add {module} to")
    names = sorted({*re.findall(r"\w+", imports.group(1)), module})
    order = [*re.findall(r"\w+", experiments.group(1)), module]
    listed = textwrap.fill(", ".join(order), width=119, initial_indent="EXPERIMENTS = (", subsequent_indent=" " * 15)
    return (text[: imports.start()] + "from .experiments import (\n" + "".join(f"    {n},\n" for n in names) + ")"
            + text[imports.end(): experiments.start()] + listed + ")" + text[experiments.end():])


def _in_home(text: str, lang: str, slug: str, title: str, question: str) -> str:
    """Add the note's row to a home page's reading-order table.

    ``docs/<lang>/index.md``'s text with the note's row (commented: a draft's) at the end of its reading-order
    table.
    """
    rows = list(re.finditer(r"^(?:%% )?\| (\d+) \| .*$", text, re.M))
    if not rows:
        raise ValueError(f"docs/{lang}/index.md: no reading-order table to add notes/{slug}.md to")
    n = max(int(row.group(1)) for row in rows) + 1
    row = HOME_ROW.format(n=n, title=title, slug=slug, question=question)
    return text[: rows[-1].end()] + "\n" + row + text[rows[-1].end():]


def register(commands: Commands) -> None:
    """Add the ``new-note`` command."""
    def run(args: argparse.Namespace) -> int:
        root = args.root or PROJECT
        try:
            written = new_note(root, args.slug, {"zh": args.title_zh, "en": args.title_en},
                               {"zh": args.question_zh, "en": args.question_en})
        except (ValueError, FileNotFoundError, FileExistsError) as error:
            print(f"new-note: {error}", file=sys.stderr)
            return 2
        for path in written:
            print(path.relative_to(root))
        print(f"\nnotes/{args.slug}.md is a draft: replace every {PLACEHOLDER}, then delete `draft: true` in both "
              "notes and the %% around its row in docs/zh/index.md and docs/en/index.md; `make test` checks it.",
              file=sys.stderr)
        return 0

    parser = commands.add_tool("new-note", help="write a new note pair, its experiment module and its test, "
                                                "listed in the nav, the CLI and the home tables (as a draft)", run=run)
    parser.add_argument("slug", help="the note's name in URLs and files: lowercase words joined by '-'")
    parser.add_argument("--title-zh", required=True, help="the note's title in Chinese")
    parser.add_argument("--title-en", required=True, help="the note's title in English")
    parser.add_argument("--question-zh", default=PLACEHOLDER, help="the question it answers, in Chinese")
    parser.add_argument("--question-en", default=PLACEHOLDER, help="the question it answers, in English")
    parser.add_argument("--root", type=Path, help="the project's checkout (default: the one attention is "
                                                  "installed from)")
