"""The notes' interactive widgets in Chromium: their numeric core against the numpy package, and
each widget responding to the reader (slider, token, cell, step) in both languages, light and
dark, at 1280 and 390 px, with no request beyond loopback, also from the offline copy."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from browsing import (
    assert_only_loopback,
    axe_in_both_schemes,
    cjk_then_ascii_colon,
    each_view,
    open_page,
    wait_for_quiet_network,
)

from attention import flash_attention, naive_attention, scaled_dot_product_attention, softmax
from attention.experiments import scaling

pytestmark = pytest.mark.browser

LANGS = ["", "/en"]
PAGES = {"scaling": "notes/scaling/", "attention-map": "notes/attention-mechanism/",
         "source-example": "notes/attention-mechanism/", "online-softmax": "notes/long-sequences/",
         "trained-model": "notes/transformer/"}


def open_widget(page, site_url, lang_prefix, name):
    page.goto(f"{site_url}{lang_prefix}/{PAGES[name]}")
    page.locator(f"[data-widget='{name}']").first.scroll_into_view_if_needed()  # one may start only when seen
    root = page.locator(f"[data-widget='{name}'][data-ready]")
    root.wait_for(timeout=15_000)
    return root, json.loads(root.locator("script[type='application/json']").text_content())


def numbers(text: str) -> list[float]:
    """The numbers in a readout, NaN included."""
    return [float(x) for x in re.findall(r"NaN|-?\d+\.\d+(?:e[+-]?\d+)?", text)]


def close(got, want, tol=1e-6) -> bool:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    return got.shape == want.shape and bool(np.all((np.isnan(got) & np.isnan(want)) | (np.abs(got - want) <= tol)))


# --- The numeric core (attention-core.js) against the numpy package -------------------------------


def core_cases():
    """Inputs, and what the package computes from them."""
    rng = np.random.default_rng(0)
    cases = []
    for L, S, E, Ev, causal, masked, scale in [(3, 5, 4, 2, False, False, None), (6, 4, 3, 3, True, False, None),
                                               (4, 7, 2, 2, False, True, 0.7), (5, 5, 8, 1, False, True, None)]:
        q, k, v = rng.standard_normal((L, E)) * 3, rng.standard_normal((S, E)), rng.standard_normal((S, Ev))
        allowed = rng.random((L, S)) < 0.6 if masked else None
        if masked:
            allowed[1] = False  # a fully masked row: weights and output 0
        out, w = scaled_dot_product_attention(q, k, v, allowed, is_causal=causal, scale=scale, return_weights=True)
        cases.append({"Q": q.tolist(), "K": k.tolist(), "V": v.tolist(), "causal": causal, "scale": scale,
                      "allowed": None if allowed is None else allowed.tolist(), "weights": w.tolist(),
                      "output": out.tolist()})
    return cases


def test_core_attention_matches_numpy_with_masks_and_fully_masked_rows(page, site_url):
    page.goto(f"{site_url}/")
    cases = core_cases()
    results = page.evaluate("""(cases) => cases.map(c => {
        const options = { causal: c.causal, allowed: c.allowed || undefined };
        if (c.scale !== null) options.scale = c.scale;
        const r = AttentionCore.attention(c.Q, c.K, c.V, options);
        return { weights: r.weights, output: r.output }; })""", cases)
    for case, got in zip(cases, results):
        assert close(got["weights"], case["weights"]) and close(got["output"], case["output"])
    assert results[2]["weights"][1] == [0] * 7 and results[2]["output"][1] == [0, 0]


def test_core_softmax_naive_and_the_overflow_of_the_source_example(page, site_url):
    from attention.experiments.attention_mechanism import K, Q, V

    page.goto(f"{site_url}/")
    rows = [[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0], [-5.0, -5.0, -5.0], [100.0, 99.0, 0.0]]
    got = page.evaluate("(rows) => rows.map(r => AttentionCore.softmax(r))", rows)
    assert close(got, softmax(np.array(rows)))
    for factor in (1, 40):
        js = page.evaluate("([q, k, v]) => [AttentionCore.naiveAttention(q, k, v).output,"
                           " AttentionCore.attention(q, k, v).output]",
                           [(factor * Q).tolist(), (factor * K).tolist(), V.tolist()])
        with np.errstate(over="ignore", invalid="ignore"):
            naive = naive_attention(factor * Q, factor * K, V)
        assert close(js[0], naive) and close(js[1], scaled_dot_product_attention(factor * Q, factor * K, V))
    assert np.isnan(js[0]).all() and close(js[1], [[0.5, 0.5]])  # x40: NaN against the right answer


def test_core_entropy_and_jacobian_match_the_package(page, site_url):
    page.goto(f"{site_url}/")
    for d_k in (4, 64, 1024):
        for scale in scaling.SCALES:
            p = softmax(scaling.SCALES[scale](d_k) * scaling.widget_scores(d_k))
            got = page.evaluate("(p) => [AttentionCore.entropy(p), AttentionCore.jacobianNorm(p)]", p.tolist())
            want = scaling.widget_row(d_k, scale)
            assert close(got, [want["entropy"], want["jacobian"]])


def test_core_online_softmax_steps_match_numpy(page, site_url):
    page.goto(f"{site_url}/")
    rng = np.random.default_rng(1)
    s, v = rng.standard_normal(10) * 4, rng.standard_normal((10, 3))
    got = page.evaluate("([s, v]) => AttentionCore.onlineSoftmax(s, v, 3)", [s.tolist(), v.tolist()])
    for step in got["steps"]:  # the state after each block is the softmax of the keys seen so far
        seen = slice(0, step["end"])
        m = s[seen].max()
        assert close(step["m"], m) and close(step["l"], np.exp(s[seen] - m).sum())
        assert close(step["a"], np.exp(s[seen] - m) @ v[seen])
    assert [(x["start"], x["end"]) for x in got["steps"]] == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert close(got["output"], flash_attention(s[None], np.eye(10), v, scale=1.0, block_size=3)[0])


# --- Each widget responds to the reader --------------------------------------------------------------


def table_rows(page, headers: list[str]) -> list[list[str]]:
    """The cells of the page's table with these header cells."""
    return page.evaluate("""(h) => { const t = [...document.querySelectorAll('article table')]
        .find(t => JSON.stringify([...t.querySelectorAll('th')].map(c => c.textContent.trim())) === JSON.stringify(h));
        return [...t.querySelectorAll('tbody tr')].map(r => [...r.cells].map(c => c.textContent.trim())); }""",
                         headers)


@pytest.mark.parametrize("lang_prefix", LANGS)
def test_scaling_widget_equals_the_notes_table_and_follows_the_slider(page, site_url, lang_prefix):
    root, state = open_widget(page, site_url, lang_prefix, "scaling")
    assert root.locator("rect.widget-bar").count() == scaling.WIDGET_KEYS
    slider = root.locator("input[data-control=dk]")
    assert root.locator("[data-out=dk]").text_content() == "64"
    before = root.locator("[data-out=entropy]").text_content()
    slider.focus()
    page.keyboard.press("ArrowRight")  # the keyboard moves it
    assert root.locator("[data-out=dk]").text_content() == "128"
    assert root.locator("[data-out=entropy]").text_content() != before
    shown = {}
    for d_k in (4, 64, 1024):
        slider.fill(str(state["dks"].index(d_k)))
        for i, scale in enumerate(state["scales"]):
            root.locator("input[data-control=scale]").fill(str(i))
            assert root.locator("[data-out=scale]").text_content() == scale["label"]
            shown[(str(d_k), scale["label"])] = [root.locator(f"[data-out={k}]").text_content()
                                                 for k in ("entropy", "jacobian", "max")]
    lang = "en" if lang_prefix else "zh"
    table = {(r[0], r[1]): r[2:] for r in table_rows(page, scaling.WIDGET_TEXT[lang]["headers"])}
    assert shown == table  # the widget shows the note's table, digit for digit
    # What the caption says about this row is what the reader finds by moving the sliders there.
    stated = re.findall(r"\d+\.\d{3}", root.locator(".widget-caption").text_content())
    readouts = {value for values in shown.values() for value in values}
    assert len(stated) >= 7 and set(stated) <= readouts, (stated, readouts)
    bars = [float(x) for x in root.locator("rect.widget-bar").evaluate_all("rs => rs.map(r => r.dataset.weight)")]
    assert close(bars, softmax(state["scales"][-1]["factors"][-1] * np.array(state["raw"][-1])))
    assert lang_prefix or cjk_then_ascii_colon(page) == []  # after the reader has used it
    assert_only_loopback(page)
    assert axe_in_both_schemes(page, "[data-widget='scaling']") == {}  # in the state it was left in


@pytest.mark.parametrize("lang_prefix", LANGS)
def test_attention_map_tokens_masks_and_the_fully_masked_rule(page, site_url, lang_prefix):
    root, state = open_widget(page, site_url, lang_prefix, "attention-map")
    Q, K, n, pad = np.array(state["Q"]), np.array(state["K"]), len(state["tokens"]), state["pad"]

    def row_weights(i):
        cells = root.locator("rect.widget-cell[data-weight]").evaluate_all(
            "rs => rs.map(r => Number(r.dataset.weight))")
        return np.array(cells).reshape(n, n)[i]

    def expected(i, allowed=None, causal=False):
        return scaled_dot_product_attention(Q, K, Q, allowed, is_causal=causal, return_weights=True)[1][i]

    token = root.locator("button.widget-token")
    token.nth(2).click()
    assert token.nth(2).get_attribute("aria-pressed") == "true"
    assert close(row_weights(2), expected(2))
    token.nth(2).focus()
    page.keyboard.press("ArrowRight")  # the keyboard moves the selection
    assert token.nth(3).get_attribute("aria-pressed") == "true"
    root.locator("input[data-control=causal]").check()
    assert close(row_weights(3), expected(3, causal=True)) and not row_weights(3)[4:].any()
    root.locator("input[data-control=causal]").uncheck()
    root.locator("input[data-control=pad]").check()
    allowed = np.ones((n, n), bool)
    allowed[:, n - pad:] = False
    assert close(row_weights(3), expected(3, allowed)) and not row_weights(3)[n - pad:].any()
    root.locator("input[data-control=fullmask]").check()
    allowed[3] = False
    assert close(row_weights(3), expected(3, allowed)) and not row_weights(3).any()  # the rule: weights 0
    assert root.locator("[data-out=note]").text_content() == state["labels"]["rule"]
    assert lang_prefix or cjk_then_ascii_colon(page) == []  # after the reader has used it
    assert_only_loopback(page)
    assert axe_in_both_schemes(page, "[data-widget='attention-map']") == {}  # in the state it was left in


LEGEND = """root => {
    const bg = getComputedStyle(document.body).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number);
    const shown = r => {  // the colour a reader sees: the fill at its opacity over the page
        const fill = getComputedStyle(r).fill.match(/\\d+/g).slice(0, 3).map(Number);
        const a = Number(r.getAttribute('fill-opacity'));
        return fill.map((c, i) => Math.round(a * c + (1 - a) * bg[i]));
    };
    const cells = [...root.querySelectorAll('rect[data-weight]')];
    const bar = [...root.querySelectorAll('rect[data-legend]')];
    const top = cells.reduce((a, b) => Number(b.dataset.weight) > Number(a.dataset.weight) ? b : a);
    const low = cells.reduce((a, b) => Number(b.dataset.weight) < Number(a.dataset.weight) ? b : a);
    return { top: shown(top), topWeight: Number(top.dataset.weight),
             low: shown(low), lowWeight: Number(low.dataset.weight),
             bar: bar.map(shown), barWeights: bar.map(r => Number(r.dataset.legend)),
             labels: [...root.querySelectorAll('[data-legend-label]')].map(t => t.textContent) };
}"""


@pytest.mark.parametrize("lang_prefix", LANGS)
def test_attention_map_colour_scale_tells_the_truth_in_light_and_dark(page, site_url, lang_prefix):
    """The map's legend is a colour scale drawn with the cells' own rule, so it stays right when
    the dark scheme turns "more colour" from darker into brighter; no text claims a direction."""
    root, state = open_widget(page, site_url, lang_prefix, "attention-map")
    assert not re.search(r"darker|lighter|越深|越浅", root.text_content())
    inside = """r => { const box = r.querySelector('svg.widget-map').getBoundingClientRect();
        return [...r.querySelectorAll('[data-legend-label]')].every(t => { const b = t.getBoundingClientRect();
            return b.top >= box.top && b.bottom <= box.bottom && b.left >= box.left && b.right <= box.right; }); }"""
    assert root.evaluate(inside), "the colour scale's labels are cut off"
    for _, scheme in each_view(page):
        legend = root.evaluate(LEGEND)
        assert len(legend["bar"]) >= 5 and legend["barWeights"][0] == 0
        assert legend["labels"] == ["0", f"{legend['topWeight']:.3f}"]
        assert close(legend["barWeights"][-1], legend["topWeight"])
        assert close(legend["top"], legend["bar"][-1], 1), scheme  # the largest weight looks like the scale's top
        zero, full = np.array(legend["bar"][0], float), np.array(legend["bar"][-1], float)
        assert np.abs(full - zero).sum() > 100, scheme  # the two ends of the scale are told apart
        low = np.array(legend["low"], float)
        assert np.abs(low - zero).sum() < np.abs(low - full).sum(), scheme  # the smallest weight looks like the 0 end


@pytest.mark.parametrize("lang_prefix", LANGS)
def test_source_example_is_editable_and_x40_overflows_the_naive_formula(page, site_url, lang_prefix):
    root, state = open_widget(page, site_url, lang_prefix, "source-example")
    out = lambda name: numbers(root.locator(f"[data-out={name}]").text_content())  # noqa: E731
    assert out("weights") == [0.7604, 0.2396] and out("output") == [0.4041, 0.5959]  # the note's numbers
    assert out("naive") == out("output")
    root.locator("button[data-control=times]").click()
    assert np.isnan(out("naive")).all() and out("output") == [0.5, 0.5]
    Q, K = 40 * np.array(state["Q"]), 40 * np.array(state["K"])
    assert close(out("scaled"), (Q @ K.T / np.sqrt(3))[0], 5e-5)  # the note's 1847.5
    root.locator("button[data-control=reset]").click()
    root.locator("input[data-cell=Q-0-1]").fill("2")  # edit a cell: everything follows
    q = np.array([[1.0, 2.0, 1.0]])
    out_np, w_np = scaled_dot_product_attention(q, np.array(state["K"]), np.array(state["V"]), return_weights=True)
    assert close(out("weights"), w_np[0], 5e-5) and close(out("output"), out_np[0], 5e-5)
    assert lang_prefix or cjk_then_ascii_colon(page) == []  # after the reader has used it
    assert_only_loopback(page)
    assert axe_in_both_schemes(page, "[data-widget='source-example']") == {}  # in the state it was left in


@pytest.mark.parametrize("lang_prefix", LANGS)
def test_online_softmax_steps_to_the_dense_answer(page, site_url, lang_prefix):
    root, state = open_widget(page, site_url, lang_prefix, "online-softmax")
    s, v, block = np.array(state["scores"]), np.array(state["values"]), state["block"]
    nxt = root.locator("button[data-control=next]")
    assert root.locator("button[data-control=prev]").is_disabled()
    for k in range(1, s.shape[1] // block + 1):
        nxt.click()
        seen = s[:, : k * block]
        m = seen.max(axis=1)
        for r in range(s.shape[0]):
            cell = lambda col: root.locator(f"tr[data-row='{r}'] td[data-col={col}]").text_content()  # noqa: B023, E731
            assert close(float(cell("m")), m[r], 5e-4)  # shown to 3 decimals
            assert close(float(cell("l")), np.exp(seen[r] - m[r]).sum(), 5e-4)
    assert nxt.is_disabled()
    result = root.locator("[data-out=result]").text_content()
    dense = softmax(s) @ v
    assert close(numbers(result)[: dense.size * 2], np.concatenate([dense.ravel(), dense.ravel()]), 5e-5)
    assert lang_prefix or cjk_then_ascii_colon(page) == []  # after the reader has used it
    assert_only_loopback(page)
    assert axe_in_both_schemes(page, "[data-widget='online-softmax']") == {}  # in the state it was left in


@pytest.mark.parametrize("lang_prefix", LANGS)
def test_online_softmax_shows_everything_its_numbers_come_from_and_keeps_the_focus(page, site_url, lang_prefix):
    """Every number the widget shows is recomputable from what it shows: the scores and the values
    V it displays give its m, ℓ and a; the state table is whole at 390 px; Enter on "next" to the
    end leaves the focus in the widget."""
    page.set_viewport_size({"width": 390, "height": 900})
    root, state = open_widget(page, site_url, lang_prefix, "online-softmax")
    shown = lambda line: [numbers(t) for t in root.locator(f"[data-line='{line}'] [data-key]").all_text_contents()]  # noqa: E731
    assert shown("values") == state["values"]  # V is on the screen, one vector per key
    root.locator("button[data-control=next]").focus()
    for _ in range(len(state["scores"][0]) // state["block"]):
        page.keyboard.press("Enter")
    focused = page.evaluate("r => r.contains(document.activeElement) && document.activeElement.tagName",
                            root.element_handle())
    assert focused == "BUTTON", focused  # not <body>: a keyboard user can go on (back, or reset)
    v = np.array(shown("values"))
    for r in range(len(state["scores"])):
        s = np.array([x for [x] in shown(f"scores-{r}")])
        cell = lambda col: float(root.locator(f"tr[data-row='{r}'] td[data-col={col}]").text_content())  # noqa: B023, E731
        m = s.max()
        assert close(cell("m"), m, 5e-4) and close(cell("l"), np.exp(s - m).sum(), 5e-4)  # shown to 3 decimals
        assert close([cell(f"a{e}") for e in range(v.shape[1])], np.exp(s - m) @ v, 5e-4)
    box = root.locator(".widget-scroll")
    assert box.evaluate("b => b.scrollWidth <= b.clientWidth"), "the state table is cut at 390 px"
    assert axe_in_both_schemes(page, "[data-widget='online-softmax']") == {}  # in the state it was left in


# --- The trained character model (results/notes-lm.json) in the page ----------------------------------------

#: Texts of several lengths in both languages: one character, a sentence, a character outside the
#: vocabulary, and the whole context (128 characters).
LM_TEXTS = ["A", "注意力", "**Query ($Q$)**: what the current position is looking for.",
            "每一行的注意力权重加起来等于 1。😀",
            ("The weights of each row sum to 1: 注意力权重。" * 4)[:128]]
LM_FORWARD = """texts => {
    const model = AttentionCore.languageModel(window.NotesLMWeights);
    return texts.map(text => {
        const ids = model.encode(text), run = model.forward(ids, {});
        return {ids, logits: run.logits.map(r => Array.from(r)),
                weights: run.weights.map(layer => layer.map(head => head.map(r => Array.from(r))))};
    });
}"""
LM_GENERATE = """([text, steps]) => {
    const model = AttentionCore.languageModel(window.NotesLMWeights), ids = model.encode(text);
    const seeded = () => { let s = 12345; return () => (s = (s * 16807) % 2147483647) / 2147483647; };
    return {greedy: [model.generate(ids, steps, {useCache: true}), model.generate(ids, steps, {useCache: false})],
            sampled: [model.generate(ids, steps, {temperature: 1, random: seeded(), useCache: true}),
                      model.generate(ids, steps, {temperature: 1, random: seeded(), useCache: false})]};
}"""


@pytest.fixture(scope="module")
def notes_model():
    from attention.experiments import notes_lm

    return notes_lm.load()


def page_model_equals_numpy(page, model, info) -> None:
    """The page's float64 forward pass (embedding, positions, LayerNorm, causal attention, feed-forward,
    logits) against numpy's TransformerLM loaded from the same file, to 1e-9; generation with and
    without the key/value cache gives the same characters, greedy and sampled (on a page whose widget
    has loaded the weights)."""
    from attention.experiments import notes_lm, trained_model
    for text, got in zip(LM_TEXTS, page.evaluate(LM_FORWARD, LM_TEXTS)):
        ids = notes_lm.encode(info["vocab"], text)
        assert got["ids"] == ids.tolist(), text
        logits = model.forward(ids[None])[0]  # (T, V)
        scale = np.abs(logits).max()
        assert np.abs(np.array(got["logits"]) - logits).max() <= 1e-9 * scale, text
        maps = trained_model.attention_maps(model, ids[None])[0]  # (layers, H, T, T)
        for layer, heads in enumerate(got["weights"]):
            for h, rows in enumerate(heads):
                for t, row in enumerate(rows):
                    assert len(row) == t + 1  # causal: the query and the keys before it
                    assert np.abs(np.array(row) - maps[layer, h, t, :t + 1]).max() <= 1e-9, (text, layer, h, t)
    assert 0 in notes_lm.encode(info["vocab"], LM_TEXTS[3])  # the unknown character was among them
    runs = page.evaluate(LM_GENERATE, ["Attention", 30])
    assert runs["greedy"][0] == runs["greedy"][1] and runs["sampled"][0] == runs["sampled"][1]
    assert runs["greedy"][0] == model.generate(notes_lm.encode(info["vocab"], "Attention")[None], 30)[0].tolist()


@pytest.mark.parametrize("lang_prefix", LANGS)
def test_trained_model_widget_shows_heads_next_characters_and_the_cache_growing(page, site_url, lang_prefix,
                                                                                notes_model):
    from attention.experiments import notes_lm, trained_model

    model, info = notes_model
    root, state = open_widget(page, site_url, lang_prefix, "trained-model")
    lang = "en" if lang_prefix else "zh"
    if lang == "en":  # once: the same script runs on both languages' pages
        page_model_equals_numpy(page, model, info)
    assert state["text"] == trained_model.EXAMPLES[lang][0] and not state["deferred"]
    assert state["labels"]["caption"] == trained_model.WIDGET[lang]["caption"]
    text = root.locator("textarea").input_value()
    ids = notes_lm.encode(info["vocab"], text)
    maps = trained_model.attention_maps(model, ids[None])[0]  # (layers, H, T, T)
    assert root.locator(".widget-chars .widget-token").count() == len(text)

    def row_shown() -> list[float]:
        return [float(x) for x in re.findall(r"\) (\d\.\d{3})", root.locator("[data-out=row]").text_content())]

    # The head shown first, and the last character as the query: the top 8 weights of its row.
    top = np.sort(maps[state["layer"], state["head"], -1])[::-1][:state["top"]]
    assert close(row_shown(), top, 6e-4)
    root.locator("select[data-control=head]").select_option("1.2")
    root.locator(".widget-chars .widget-token").nth(10).click()
    assert close(row_shown(), np.sort(maps[1, 2, 10, :11])[::-1][:state["top"]], 6e-4)
    assert root.locator(".widget-token[aria-pressed=true]").get_attribute("data-index") == "10"
    # The next character: the top 10 of softmax(logits / T), at the temperature the slider sets.
    logits = model.forward(ids[None])[0, -1]
    for temperature in ("1", "0.5"):
        root.locator("input[data-control=temperature]").fill(temperature)
        p = softmax(logits / float(temperature))
        best = np.argsort(p)[::-1][:10]
        rows = root.locator(".widget-dist-row")
        assert rows.evaluate_all("rs => rs.map(r => r.dataset.char)") == [info["vocab"][i] for i in best]
        assert close([float(x) for x in rows.locator(".widget-dist-p").all_text_contents()], p[best], 6e-4)
    # One greedy step: the most likely character is added, and the cache grows by one row.
    root.locator("[data-control=greedy]").click()
    assert root.locator("textarea").input_value() == text + info["vocab"][int(logits.argmax())]
    assert str(len(text) + 1) in root.locator("[data-out=cache]").text_content()
    assert root.locator(".widget-cache span").count() == len(text) + 1
    assert root.locator(".widget-cache .widget-new").count() == 1
    assert root.locator(".widget-chars .widget-generated").count() == 1
    # A text longer than the context is windowed, visibly; a character outside the vocabulary is shown.
    long = next(i for i, e in enumerate(state["examples"]) if len(e["text"]) > info["config"]["context"])
    root.locator("select[data-control=example]").select_option(str(long))
    assert root.locator(".widget-chars .widget-token").count() == info["config"]["context"]
    assert str(info["config"]["context"]) in root.locator("[data-out=window]").text_content()
    root.locator("textarea").fill("Attention 😀")
    unknown = root.locator(".widget-unknown")
    assert unknown.count() == 1 and unknown.text_content() == notes_lm.UNKNOWN
    assert trained_model.WIDGET[lang]["unknown"] in unknown.get_attribute("aria-label")
    assert root.locator("[data-out=window]").text_content() == ""
    # The map follows the column when the window narrows, and stays square (rows and columns alike).
    for width, _ in each_view(page, [(320, "light"), (1280, "dark")]):
        box, canvas = root.bounding_box(), root.locator("canvas").bounding_box()
        assert box["x"] <= canvas["x"] and canvas["x"] + canvas["width"] <= box["x"] + box["width"], (width, canvas)
        assert abs(canvas["width"] - canvas["height"]) <= 2, (width, canvas)
    assert lang_prefix or cjk_then_ascii_colon(page) == []
    assert_only_loopback(page)
    assert axe_in_both_schemes(page, "[data-widget='trained-model']") == {}


def test_the_trained_model_loads_its_weights_when_the_reader_reaches_it(page, site_url):
    """On a phone the widget starts below the first screen: the page loads no weights (776 KB) until
    the reader scrolls to it, so the first seconds of the page are not spent on them."""
    weights = lambda: [u for u in page.requested if u.endswith("/assets/notes-lm.js")]  # noqa: E731
    page.set_viewport_size({"width": 412, "height": 823})  # Lighthouse's phone
    page.goto(f"{site_url}/en/{PAGES['trained-model']}")
    wait_for_quiet_network(page)
    root = page.locator("[data-widget='trained-model']")
    assert root.evaluate("r => r.getBoundingClientRect().top") > 823  # below the first screen
    assert weights() == [] and root.get_attribute("data-ready") is None
    page.mouse.wheel(0, 600)
    page.locator("[data-widget='trained-model'][data-ready]").wait_for(timeout=15_000)
    assert len(weights()) == 1 and root.locator(".widget-chars .widget-token").count() > 10


#: At the page's load event (this listener is the first to hear it): how many widgets are built.
BUILT_AT_LOAD = ("addEventListener('load', () => { window.builtAtLoad ="
                 " document.querySelectorAll('[data-widget] .widget-body').length; })")


@pytest.mark.parametrize("path", ["notes/attention-mechanism/", "en/notes/attention-mechanism/", "notes/scaling/",
                                  "en/notes/long-sequences/"])
def test_widgets_are_built_after_the_load_and_before_the_reader_reaches_them(browsing_context, site_url, path):
    """The page's first paint and load do not wait for its widgets (the first note's three took 30-50 ms of
    the main thread in the task that starts the page); they are built as soon as the page has loaded,
    without the reader scrolling, so that none appears under the reader's eyes and moves what they are
    looking at (built only once seen, the attention map pushed the link below it 765 px down)."""
    page = open_page(browsing_context)
    try:
        page.set_viewport_size({"width": 412, "height": 823})  # Lighthouse's phone
        page.add_init_script(BUILT_AT_LOAD)
        page.goto(f"{site_url}/{path}", wait_until="load")
        roots = page.locator("[data-widget]")
        assert roots.count() >= 1 and page.evaluate("window.builtAtLoad") == 0
        for i in range(roots.count()):  # all below the first screen, none scrolled to
            assert roots.nth(i).evaluate("r => r.getBoundingClientRect().top") > 823, (path, i)
            roots.nth(i).and_(page.locator("[data-ready]")).wait_for(timeout=15_000)
            assert roots.nth(i).locator(".widget-body").locator("label, button").first.is_visible(), (path, i)
        assert page.evaluate("scrollY") == 0
        # What the reader jumps to stays where it landed: on the first note, the link under the attention map.
        target = page.locator("article a[href*='/transformer/#']").first if "attention" in path else roots.last
        target.scroll_into_view_if_needed()
        landed = target.bounding_box()["y"]
        page.wait_for_timeout(500)
        assert abs(target.bounding_box()["y"] - landed) < 1, (path, landed)  # a fraction: rounding, not a move
    finally:
        page.close()


@pytest.mark.parametrize("lang_prefix", [""])  # the other language's page: the keyboard and every-page tests
def test_the_first_note_offers_the_trained_model_and_loads_its_weights_only_when_asked(page, site_url, lang_prefix):
    weights = lambda: [u for u in page.requested if u.endswith("/assets/notes-lm.js")]  # noqa: E731
    page.goto(f"{site_url}{lang_prefix}/notes/scaling/")
    wait_for_quiet_network(page)
    assert weights() == []  # a page without the model never loads it
    page.goto(f"{site_url}{lang_prefix}/{PAGES['attention-map']}")
    root = page.locator("[data-widget='trained-model'][data-ready]")
    root.wait_for(timeout=15_000)
    wait_for_quiet_network(page)
    assert weights() == [] and root.locator(".widget-chars").count() == 0
    load = root.locator("[data-control=load]")
    assert re.search(r"\d+ KB", load.text_content())
    load.focus()
    page.keyboard.press("Enter")
    root.locator(".widget-chars .widget-token").first.wait_for(timeout=15_000)
    assert len(weights()) == 1 and root.locator("[data-control=load]").count() == 0
    assert page.evaluate("document.activeElement.dataset.control") == "example"  # the focus moved into it
    assert root.locator("[data-out=row]").text_content().strip()


@pytest.mark.long  # a Chromium of its own, minutes of CPU at its default repeats: with the README's commands
def test_the_benchmark_of_the_page_model_runs_and_writes_its_report(tmp_path):
    """benchmarks/trained_model.py (the README names it): Chromium and numpy time the same forward pass."""
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "report.json"
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "trained_model.py"
    done = subprocess.run([sys.executable, str(script), "--repeats", "2", "--out", str(out)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["characters"] == 128 and report["chromium"].split(".")[0].isdigit()
    assert report["chromium_ms"] > 0 and report["numpy_ms"] > 0
    assert report["ratio"] == pytest.approx(report["chromium_ms"] / report["numpy_ms"])
    assert "ms" in done.stderr and str(out) in done.stderr


@pytest.mark.parametrize("name", list(PAGES))
def test_widgets_work_in_the_offline_copy(page, offline_site, name):
    note = offline_site / PAGES[name].rstrip("/")
    page.goto(note.with_suffix(".html").as_uri())
    page.locator(f"[data-widget='{name}']").first.scroll_into_view_if_needed()
    page.locator(f"[data-widget='{name}'][data-ready]").wait_for(timeout=15_000)
    assert page.locator(f"[data-widget='{name}'] .widget-body *").count() > 5
    assert [u for u in page.requested if not u.startswith("file://")] == []


FOCUS_RING = """() => {
    const e = document.activeElement, style = getComputedStyle(e);
    return {tag: e.tagName, type: e.type || '', widget: !!e.closest('[data-widget]'),
            token: e.classList.contains('widget-token'), control: e.dataset.control || '',
            outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
            shadow: style.boxShadow !== 'none'};
}"""
ANNOUNCED = "r => [...r.querySelectorAll('[aria-live=polite]')].map(e => e.textContent).join(' | ')"


@pytest.mark.parametrize("lang_prefix", ["", "/en"])
@pytest.mark.parametrize("name", list(PAGES))
def test_every_widget_works_from_the_keyboard_and_says_what_changed(page, site_url, lang_prefix, name):
    """Tab walks through the widget, showing where the focus is on every control (Material sets
    input { outline: none }); a group of tokens is one Tab stop, arrows move inside it; using the first
    control from the keyboard changes what a polite live region says, so a screen reader hears it."""
    root, _ = open_widget(page, site_url, lang_prefix, name)
    root.scroll_into_view_if_needed()
    page.evaluate("r => { const t = document.createElement('button'); t.id = 'start-here'; r.before(t); }",
                  root.element_handle())
    page.focus("#start-here")
    seen = []
    for _ in range(40):
        page.keyboard.press("Tab")
        state = page.evaluate(FOCUS_RING)
        if not state["widget"]:
            if seen:
                break
            continue
        seen.append(state)
    assert seen and all(s["outline"] or s["shadow"] for s in seen), seen
    assert sum(s["token"] for s in seen) <= 1, seen  # one stop for the whole group of tokens
    before = root.evaluate(ANNOUNCED)
    assert before.strip(), f"{name}: no polite live region"
    page.focus("#start-here")
    page.keyboard.press("Tab")
    first = page.evaluate(FOCUS_RING)
    key = {"range": "ArrowRight", "checkbox": "Space", "number": "ArrowUp", "select-one": "ArrowDown"}.get(
        first["type"], "ArrowRight" if first["token"] else "Enter")
    page.keyboard.press(key)
    assert root.evaluate(ANNOUNCED) != before, (name, first, key)
    assert page.evaluate(FOCUS_RING)["widget"], "the focus left the widget"
