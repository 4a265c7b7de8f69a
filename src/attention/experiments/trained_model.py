"""What the Transformer note shows of the vault's trained character model.

The model is ``notes_lm``'s. The note shows its heads read over the held-out text, a figure of them
on a sentence of the notes, the sentences that report the run, and the widget that runs the model in
the page.

A head's pattern is a set of keys for each query (the previous character, the last space, earlier
copies of the same character...); its score is the share of the query's weight on those keys, next
to the share that weights spread evenly over the visible keys would give.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..transformer import TransformerLM
from . import PROJECT
from .notes_lm import (
    BLOCK,
    HELD_OUT_EVERY,
    UNKNOWN,
    WEIGHTS,
    Corpus,
    corpus,
    encode,
    held_out_windows,
    kept,
    load,
    snapshot,
    unigram_loss,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Patterns a head may follow: for query position i, the key positions j it would look at.
PATTERNS = ("previous", "self", "recent", "first", "last_space", "spaces", "same", "after_same")
RECENT = 4  #: the "recent" pattern: the query and the 3 characters before it
TEXT = {
    "en": {"previous": "the previous character", "self": "the character itself",
           "recent": "the last 4 characters (itself and the 3 before)", "spaces": "the spaces and line breaks",
           "first": "the first character of the window", "last_space": "the last space or line break",
           "same": "earlier copies of the same character",
           "after_same": "the character after an earlier copy of this one",
           "head": "head {l}.{h}", "table": "| head | strongest pattern | its share of the weight | if spread evenly |",
           "sentence": "Head {l}.{h} puts {share:.2f} of its weight on {pattern}, on average over the {n:,} "
                       "held-out positions that have one ({even:.2f} if it spread its weight evenly).",
           "copies": "Some head copies", "no_copies": "No head copies (none reaches twice the even share)",
           "copying": "{verdict}: the most weight a head puts on earlier copies of the query's character is "
                      "{same:.2f} ({same_even:.2f} evenly), and on the character after such a copy (what an "
                      "induction head looks at) {after:.2f} ({after_even:.2f} evenly).",
           "key": "key (character it looks at)", "query": "query (character predicting the next)"},
    "zh": {"previous": "前一个字符", "self": "字符自身", "recent": "最近的 4 个字符（自身和前 3 个）",
           "spaces": "空格和换行", "first": "窗口的第一个字符", "last_space": "最近的空格或换行",
           "same": "前面出现过的同一个字符", "after_same": "这个字符前一次出现之后的那个字符",
           "head": "头 {l}.{h}", "table": "| 头 | 最明显的模式 | 落在该模式上的权重 | 均匀分配时 |",
           "sentence": "头 {l}.{h} 把 {share:.2f} 的权重放在{pattern}上（在 {n:,} 个有这种位置的留出字符上"
                       "平均；均匀分配时是 {even:.2f}）。",
           "copies": "有的头在复制", "no_copies": "没有哪个头在复制（都不到均匀分配时的两倍）",
           "copying": "{verdict}：一个头放在前面出现过的同一字符上的权重最多是 {same:.2f}（均匀分配时 "
                      "{same_even:.2f}），放在这种字符后面那个字符上（归纳头看的位置）的最多是 {after:.2f}"
                      "（均匀分配时 {after_even:.2f}）。",
           "key": "键（被看的字符）", "query": "查询（预测下一个字符的位置）"},
}


def attention_maps(model: TransformerLM, ids: np.ndarray) -> np.ndarray:
    """Every head's weights (W, layers, H, T, T) for windows ``ids`` (W, T)."""
    for block in model.blocks:
        block.attention.keep_weights = True
    model.forward(ids)
    maps = np.stack([kept(block.attention.weights) for block in model.blocks], axis=1)  # (W, layers, H, T, T)
    for block in model.blocks:
        block.attention.keep_weights, block.attention.weights = False, None
    return maps


def pattern_targets(chars: list[str]) -> dict[str, np.ndarray]:
    """For each pattern, (T, T) booleans: True where query i would look at key j (j <= i)."""
    T = len(chars)
    i, j = np.arange(T)[:, None], np.arange(T)[None, :]  # (T, 1), (1, T)
    c = np.array(chars)
    space = np.isin(c, [" ", "\n"])  # (T,)
    last_space = np.maximum.accumulate(np.where(space, np.arange(T), -1))  # (T,) -1: none yet
    before = np.concatenate([[""], c[:-1]])  # (T,) the character before each position
    return {"previous": j == i - 1, "self": j == i, "recent": (j <= i) & (j > i - RECENT),
            "first": (j == 0) & (i > 0), "last_space": (j == last_space[:, None]) & (j < i),
            "spaces": space[None, :] & (j <= i), "same": (c[None, :] == c[:, None]) & (j < i),
            "after_same": (before[None, :] == c[:, None]) & (j <= i) & (j > 0)}


def head_scores(model: TransformerLM, data: Corpus, context: int) -> dict[str, Any]:
    """Measure how much weight each head puts on each pattern.

    For every head and pattern, over the held-out windows (their inputs): the mean share of a
    query's weight on the pattern's keys, over the queries that have such a key, and the share it
    would get from weights spread evenly over the keys a query may see (0 for a pattern no query has).
    ``{"share": (layers, H, P), "even": (P,), "queries": (P,)}``.
    """
    windows = held_out_windows(data, context)[:, :-1]  # (W, T)
    share = np.zeros((len(model.blocks), model.blocks[0].attention.heads, len(PATTERNS)))  # (layers, H, P)
    even, queries = np.zeros(len(PATTERNS)), np.zeros(len(PATTERNS))
    for part in np.array_split(windows, 8):
        maps = attention_maps(model, part)  # (w, layers, H, T, T)
        for w, ids in zip(maps, part):
            targets = pattern_targets([data.vocab[i] for i in ids])
            for p, name in enumerate(PATTERNS):
                rows = targets[name].any(axis=1)  # (T,) queries with a key of this pattern
                share[:, :, p] += (w * targets[name]).sum(axis=-1)[:, :, rows].sum(axis=-1)
                even[p] += (targets[name].sum(axis=1) / (np.arange(len(ids)) + 1))[rows].sum()
                queries[p] += rows.sum()
    counted = np.maximum(queries, 1)  # a pattern no query has (no space in the text) scores 0
    return {"share": share / counted, "even": even / counted, "queries": queries}


def notable_heads(scores: dict[str, Any]) -> list[tuple[int, int, str, float, float]]:
    """Return each head's strongest pattern, strongest first.

    (layer, head, pattern, share, even) of each head's strongest pattern (the largest share above
    what even weights would give), strongest first.
    """
    lift = scores["share"] - scores["even"]  # (layers, H, P)
    out = []
    for layer, h in np.ndindex(*lift.shape[:2]):
        p = int(lift[layer, h].argmax())
        out.append((layer, h, PATTERNS[p], float(scores["share"][layer, h, p]), float(scores["even"][p])))
    return sorted(out, key=lambda row: row[3] - row[4], reverse=True)


# --- The widget: the model in the page ----------------------------------------------------------------

WIDGET = {
    "en": {"loading": "Loading the trained model's weights …", "failed": "The model's weights could not be loaded.",
           "example": "Example", "head_label": "Head", "head": "layer {l}, head {h}", "text": "Text (type your own)",
           "tokens": "Characters: pick the query", "unknown": "not in the vocabulary", "space": "space",
           "newline": "line break", "row": "Attention of the query (its {k} largest weights)",
           "query": "'{c}' (position {i})", "map": "Attention map of {head} over {n} characters: rows are queries, "
           "columns keys; the stronger the colour, the more weight",
           "map_note": "Rows: queries (each character, predicting the next); columns: keys (the characters it may "
                       "see, itself and those before). The outlined row is the selected query.",
           "window": "The text is longer than the model's context: showing its last {c} of {n} characters.",
           "temperature": "Temperature", "next": "The 10 most likely next characters",
           "greedy": "Next character (most likely)", "sample": "Next character (sampled)", "reset": "Reset",
           "cache": "Key/value cache: {n} rows in each of the {layers} layers.",
           "step_one": "This step computed one new row (position {n}) and attended over the cached ones.",
           "step_full": "The context was full: the oldest character left the window, and all {c} rows were "
                        "computed again.",
           "run_here": "Run the trained model here (loads {size:.0f} KB)",
           "caption": "The character model trained on these notes, running in your browser: type or pick a text, "
                      "pick a head and a query character, then generate."},
    "zh": {"loading": "正在加载训练好的模型权重……", "failed": "模型权重加载失败。",
           "example": "例句", "head_label": "注意力头", "head": "第 {l} 层第 {h} 个头", "text": "文本（可以自己输入）",
           "tokens": "字符：选一个作为查询", "unknown": "不在词表里", "space": "空格", "newline": "换行",
           "row": "查询的注意力（最大的 {k} 个权重）", "query": "“{c}”（位置 {i}）",
           "map": "{head}在 {n} 个字符上的注意力图：行是查询，列是键；颜色越浓权重越大",
           "map_note": "行：查询（每个字符，由它预测下一个字符）；列：键（它能看到的字符：自身和之前的）。"
                       "加框的一行是选中的查询。",
           "window": "文本比模型的上下文长：只显示最后 {c} 个字符（共 {n} 个）。",
           "temperature": "温度", "next": "最可能的 10 个下一个字符",
           "greedy": "下一个字符（取最可能的）", "sample": "下一个字符（按概率抽样）", "reset": "重置",
           "cache": "键/值缓存：{layers} 层里每层 {n} 行。",
           "step_one": "这一步只算了一行新的（位置 {n}），"
                       "再对缓存里的各行做注意力。",
           "step_full": "上下文已满：最早的字符移出窗口，{c} 行全部重新计算。",
           "run_here": "在这里运行训练好的模型（加载 {size:.0f} KB）",
           "caption": "用这些笔记训练的字符模型，在你的浏览器里运行：输入或选一段文本，"
                      "选一个头和一个查询字符，再让它生成。"},
}
ROW_TOP = 8  #: the widget lists the selected query's largest weights, this many
#: The widget's example texts: sentences of the notes (as the snapshot has them), by language.
EXAMPLES = {
    "en": ("**Query ($Q$)**: what the current position is looking for.",
           "A mask decides which keys each query may see. The causal mask lets position $i$ see $0..i$ only; the "
           "padding mask hides the positions added to line up a batch; the two combine."),
    "zh": ("**Query（查询，$Q$）**：当前位置“想找什么”。",
           "掩码决定每个查询能看到哪些键。因果掩码让位置 $i$ 只能看到 $0..i$；填充掩码把批次里为了对齐而补上的位置"
           "屏蔽掉；两者可以叠加。"),
}


def widget(*, lang: str = "en", path: Path = WEIGHTS, deferred: bool = False) -> str:
    """Make the trained-model widget.

    The trained-model widget: the page's script loads the weights (``assets/notes-lm.js``) and runs
    them; this state holds its labels, example texts and the head shown first (the most notable).
    ``deferred``: the weights load only when the reader presses the widget's button (a page that
    offers the model without being about it).
    """
    from .widgets import embed

    layer, head, *_ = notable_heads(analysis(path)[3])[0]
    labels = dict(WIDGET[lang], run_here=WIDGET[lang]["run_here"].format(size=Path(path).stat().st_size / 1024))
    examples = [{"label": text if len(text) <= 40 else text[:39] + "…", "text": text}
                for code in (lang, "zh" if lang == "en" else "en") for text in EXAMPLES[code]]
    return embed("trained-model", {"labels": labels, "examples": examples, "text": examples[0]["text"],
                                   "layer": layer, "head": head, "deferred": deferred, "top": ROW_TOP},
                 labels["caption"])


@functools.lru_cache(maxsize=2)
def analysis(path: Path = WEIGHTS) -> tuple[TransformerLM, dict[str, Any], Corpus, dict[str, Any]]:
    """Load the committed model, its file, its text and :func:`head_scores`, computed once per process."""
    model, info = load(path)
    data = corpus(snapshot(info, path))
    return model, info, data, head_scores(model, data, info["config"]["context"])


RUN = {
    "en": "A {layers}-layer Transformer (width {dim}, {heads} heads, context {context} characters, {params:,} "
          "parameters), {vocab} characters in its vocabulary (both languages; any other reads as `{unknown}`). "
          "`{command}` trained it for {steps:,} steps in {seconds:.0f} s on `{cpu}, {cores} cores` "
          "({date}). On the {held:,} held-out characters (every {every}th block of {block}, which no training "
          "batch touches) it loses **{loss:.2f}** nats per character, against {unigram:.2f} for character "
          "frequencies alone. Weights: `results/notes-lm.json` ({size:.0f} KB), trained on the snapshot "
          "`results/notes-lm.txt`.",
    "zh": "一个 {layers} 层的 Transformer（宽度 {dim}，{heads} 个头，上下文 {context} 个字符，{params:,} 个参数），"
          "词表 {vocab} 个字符（两种语言；其他字符都读作 `{unknown}`）。`{command}` 在 `{cpu}，{cores} 核` 上训练了 "
          "{steps:,} 步，用时 {seconds:.0f} 秒（{date}）。在 {held:,} 个留出字符上（每 {block} 个字符一块，每 {every} "
          "块留出一块，训练批次一个也碰不到）损失是每字符 **{loss:.2f}** 奈特，只按字符频率猜是 {unigram:.2f}。权重："
          "`results/notes-lm.json`（{size:.0f} KB），训练文本的快照：`results/notes-lm.txt`。",
}


def run_sentence(*, lang: str = "en", path: Path = WEIGHTS) -> str:
    """Say how the committed model was trained and how well it does, in one sentence."""
    model, info, data, _ = analysis(path)
    c, prov = info["config"], info["provenance"]
    return RUN[lang].format(layers=c["layers"], dim=c["dim"], heads=c["heads"], context=c["context"],
                            params=sum(x.size for x in model.parameters().values()), vocab=len(info["vocab"]),
                            unknown=UNKNOWN, command=prov["command"], steps=prov["steps"], seconds=prov["seconds"],
                            cpu=prov["machine"]["cpu"], cores=prov["machine"]["cores"], date=prov["machine"]["date"],
                            held=prov["held_out_characters"], every=HELD_OUT_EVERY, block=BLOCK,
                            loss=prov["held_out_loss"], unigram=unigram_loss(data, c["context"]),
                            size=Path(path).stat().st_size / 1024)


def heads_table(*, lang: str = "en", path: Path = WEIGHTS) -> str:
    """Every head's strongest pattern over the held-out text, strongest first."""
    t = TEXT[lang]
    lines = [t["table"], "|---|---|---:|---:|"]
    for layer, h, pattern, share, even in notable_heads(analysis(path)[3]):
        lines.append(f"| {t['head'].format(l=layer, h=h)} | {t[pattern]} | {share:.2f} | {even:.2f} |")
    return "\n".join(lines)


def heads_sentences(*, lang: str = "en", path: Path = WEIGHTS, count: int = 3) -> str:
    """Say what the ``count`` most notable heads do, in sentences with their numbers."""
    scores, t = analysis(path)[3], TEXT[lang]
    return " ".join(t["sentence"].format(l=layer, h=h, share=share, pattern=t[pattern], even=even,
                                         n=int(scores["queries"][PATTERNS.index(pattern)]))
                    for layer, h, pattern, share, even in notable_heads(scores)[:count])


def copying_sentence(*, lang: str = "en", path: Path = WEIGHTS) -> str:
    """Say how much any head copies.

    The largest share any head puts on the copying patterns, against even weights; a head "copies"
    when it puts at least twice the even share on one of them.
    """
    scores = analysis(path)[3]
    same, after = PATTERNS.index("same"), PATTERNS.index("after_same")
    copies = any(scores["share"][:, :, p].max() >= 2 * scores["even"][p] for p in (same, after))
    t = TEXT[lang]
    share, even = scores["share"], scores["even"]
    return t["copying"].format(verdict=t["copies" if copies else "no_copies"], same=share[:, :, same].max(),
                               same_even=even[same], after=share[:, :, after].max(), after_even=even[after])


SPEED = {
    "en": "One forward pass over {n} characters takes **{page:.1f} ms** in the page (Chromium {chromium}) and "
          "{numpy:.1f} ms in numpy, {ratio:.1f} times less, on `{cpu}, {cores} cores` ({date}; "
          "`benchmarks/trained_model.py`).",
    "zh": "在 {n} 个字符上做一次前向计算，网页里（Chromium {chromium}）要 **{page:.1f} 毫秒**，numpy 要 {numpy:.1f} "
          "毫秒，是网页的 {ratio:.1f} 分之一；机器：`{cpu}，{cores} 核`（{date}；`benchmarks/trained_model.py`）。",
}


def speed_sentences(*, lang: str = "en") -> str:
    """Compare the page's forward pass with numpy's, one sentence per machine measured."""
    files = sorted((PROJECT / "benchmarks" / "trained-model").glob("*.json"))
    reports = [json.loads(f.read_text(encoding="utf-8")) for f in files]
    return " ".join(SPEED[lang].format(n=r["characters"], page=r["chromium_ms"], chromium=r["chromium"].split(".")[0],
                                       numpy=r["numpy_ms"], ratio=r["ratio"], cpu=r["machine"]["cpu"],
                                       cores=r["machine"]["cores"], date=r["machine"]["date"]) for r in reports)


def heads_figure(*, lang: str = "en", path: Path = WEIGHTS) -> Figure:
    """Draw every head of the trained model on one sentence of the notes.

    Every head of the trained model on one sentence of the notes (the widget's first example):
    rows are queries, columns keys, one panel per head, layer by layer.
    """
    from .plotting import WIDTH, pyplot

    plt, t = pyplot(), TEXT[lang]
    model, info, data, _ = analysis(path)
    sentence = EXAMPLES[lang][0]
    ids = encode(data.vocab, sentence)[None, :]  # (1, T)
    maps = attention_maps(model, ids)[0]  # (layers, H, T, T)
    layers, heads = maps.shape[:2]
    labels = [{" ": "␣", "\n": "↵"}.get(c, c) for c in sentence]
    fig, axes = plt.subplots(layers * heads // 2, 2, figsize=(WIDTH, 2.5 * layers * heads // 2 + 0.6), squeeze=False,
                             sharex=True, sharey=True)  # the characters label the outer panels only
    for ax, (layer, h) in zip(axes.ravel(), np.ndindex(layers, heads)):
        ax.imshow(maps[layer, h], cmap="Blues", vmin=0, vmax=1, interpolation="none")  # raw cells: a small image
        ax.set_title(t["head"].format(l=layer, h=h), fontsize=10)
        ticks = range(0, len(labels), 6)
        ax.set_xticks(ticks, [labels[i] for i in ticks], fontsize=10)
        ax.set_yticks(ticks, [labels[i] for i in ticks], fontsize=10)
        ax.tick_params(length=0)  # the labels only: a page of small marks costs a phone's CPU, not the reader
    fig.supxlabel(t["key"], fontsize=10)
    fig.supylabel(t["query"], fontsize=10)
    fig.tight_layout()
    return fig
