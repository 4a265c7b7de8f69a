/* The notes' interactive widgets. Each root element carries data-widget="<name>" and a JSON
 * state (inputs and labels in the page's language) written by the package when the site is
 * built; the numbers come from AttentionCore (attention-core.js). Vanilla JS and SVG, no request.
 */
(function () {
  "use strict";
  var core = window.AttentionCore;
  var SVG = "http://www.w3.org/2000/svg";

  function h(tag, attrs, children) {  // an HTML element
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }

  function s(tag, attrs) {  // an SVG element
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    return node;
  }

  function fmt(x, digits) {  // fixed decimals, as the notes' tables print them (Python's f"{x:.3f}")
    if (Number.isNaN(x)) return "NaN";
    if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
    if (Math.abs(x) >= 1e5) return x.toExponential(2);
    var text = x.toFixed(digits);
    return /^-0\.?0*$/.test(text) ? text.slice(1) : text;  // -0.000 reads as 0.000
  }

  function vector(xs, digits) {
    return "[" + xs.map(function (x) { return fmt(x, digits); }).join(", ") + "]";
  }

  function colon(label) {  // "label: " in English, "标签：" on a Chinese page (a full-width colon, no space)
    return /^zh/.test(document.documentElement.lang) ? label + "\uff1a" : label + ": ";
  }

  function readout(label, name) {  // "label: value", the value in a span the widget updates
    var out = h("span", { "data-out": name });
    return { row: h("div", { class: "widget-readout" }, [h("span", { text: colon(label) }), out]), out: out };
  }

  /* 1. Scale and temperature: one row's weights as d_k and the scale change. */
  function scaling(root, st) {
    var L = st.labels;
    var dkOut = h("output", { "data-out": "dk" });
    var slider = h("input", { type: "range", min: "0", max: String(st.dks.length - 1), step: "1",
                              value: String(st.dk_index), "aria-label": L.dk, "data-control": "dk" });
    var scaleOut = h("output", { "data-out": "scale" });
    var scaleSlider = h("input", { type: "range", min: "0", max: String(st.scales.length - 1), step: "1",
                                   value: String(st.scale_index), "aria-label": L.scale, "data-control": "scale" });
    var bars = s("svg", { viewBox: "0 0 320 130", class: "widget-bars", role: "img", "aria-label": L.weights });
    var entropy = readout(L.entropy, "entropy"), jac = readout(L.jacobian, "jacobian"), top = readout(L.max, "max");
    root.appendChild(h("div", { class: "widget-controls" }, [
      h("label", { class: "widget-slider" }, [h("span", { text: L.dk + " = " }), dkOut, slider]),
      h("label", { class: "widget-slider" }, [h("span", { text: colon(L.scale) }), scaleOut, scaleSlider]),
    ]));
    root.appendChild(bars);
    // The readouts are a polite live region: a screen reader says the new numbers after each move.
    root.appendChild(h("div", { class: "widget-readouts", "aria-live": "polite" }, [entropy.row, jac.row, top.row]));

    function update() {
      var i = Number(slider.value);
      var k = Number(scaleSlider.value);
      var factor = st.scales[k].factors[i];
      scaleOut.textContent = st.scales[k].label;
      scaleSlider.setAttribute("aria-valuetext", st.scales[k].label);
      var p = core.softmax(st.raw[i].map(function (x) { return x * factor; }));
      dkOut.textContent = String(st.dks[i]);
      slider.setAttribute("aria-valuetext", L.dk + " = " + st.dks[i]);
      entropy.out.textContent = fmt(core.entropy(p), 3);
      jac.out.textContent = fmt(core.jacobianNorm(p), 3);
      top.out.textContent = fmt(Math.max.apply(null, p), 3);
      bars.textContent = "";
      var w = 300 / p.length;
      p.forEach(function (x, j) {
        var height = 110 * x;
        bars.appendChild(s("rect", { x: 10 + j * w + 1, y: 115 - height, width: w - 2, height: height,
                                     class: "widget-bar", "data-weight": x }));
      });
      bars.appendChild(s("line", { x1: 8, x2: 312, y1: 115.5, y2: 115.5, class: "widget-axis" }));
      bars.appendChild(s("text", { x: 160, y: 128, "text-anchor": "middle", class: "widget-small", text: L.keys }));
    }
    slider.addEventListener("input", update);
    scaleSlider.addEventListener("input", update);
    update();
  }

  /* 2. Attention map explorer: click a query token, toggle masks. */
  function attentionMap(root, st) {
    var L = st.labels, n = st.tokens.length, selected = st.selected;
    var tokens = h("div", { class: "widget-tokens", role: "group", "aria-label": L.tokens });
    var buttons = st.tokens.map(function (token, i) {
      var b = h("button", { type: "button", class: "widget-token", "data-index": String(i), text: token });
      b.addEventListener("click", function () { selected = i; update(); });
      b.addEventListener("keydown", function (event) {
        var step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
        var to = event.key === "Home" ? 0 : event.key === "End" ? n - 1 : step ? (i + step + n) % n : null;
        if (to === null) return;
        event.preventDefault();
        selected = to;
        update();
        buttons[selected].focus();
      });
      tokens.appendChild(b);
      return b;
    });
    function toggle(name, label) {
      var input = h("input", { type: "checkbox", "data-control": name });
      input.addEventListener("change", update);
      return { input: input, label: h("label", { class: "widget-choice" }, [input, h("span", { text: " " + label })]) };
    }
    var causal = toggle("causal", L.causal), pad = toggle("pad", L.pad), full = toggle("fullmask", L.fullmask);
    var map = s("svg", { viewBox: "0 0 " + (100 + 24 * n) + " " + (124 + 24 * n), class: "widget-map", role: "img",
                         "aria-label": L.map });
    var rowOut = readout(L.row, "row");
    var note = h("p", { class: "widget-note", "data-out": "note", "aria-live": "polite" });
    root.appendChild(tokens);
    root.appendChild(h("div", { class: "widget-controls" }, [causal.label, pad.label, full.label]));
    root.appendChild(map);
    root.appendChild(h("div", { class: "widget-note", text: L.map }));
    root.appendChild(h("div", { class: "widget-readouts", "aria-live": "polite" }, [rowOut.row]));
    root.appendChild(note);

    function update() {
      var allowed = [];
      for (var i = 0; i < n; i++) {
        var row = [];
        for (var j = 0; j < n; j++) row.push(!(pad.input.checked && j >= n - st.pad) && !(full.input.checked && i === selected));
        allowed.push(row);
      }
      var result = core.attention(st.Q, st.K, st.Q, { allowed: allowed, causal: causal.input.checked });
      var weights = result.weights;
      buttons.forEach(function (b, j) {
        var w = weights[selected][j];
        b.setAttribute("aria-pressed", j === selected ? "true" : "false");
        b.setAttribute("tabindex", j === selected ? "0" : "-1");  // one Tab stop for the group; arrows move in it
        b.style.setProperty("--weight", String(w));
        b.setAttribute("title", fmt(w, 3));
        b.classList.toggle("widget-padded", pad.input.checked && j >= n - st.pad);
      });
      rowOut.out.textContent = st.tokens[selected] + " → " + weights[selected].map(function (w, j) {
        return st.tokens[j] + " " + fmt(w, 3);
      }).join(", ");
      note.textContent = full.input.checked ? L.rule : "";
      map.textContent = "";
      var x0 = 64, y0 = 66;  // room for the row labels on the left and the column labels on top
      st.tokens.forEach(function (token, k) {
        map.appendChild(s("text", { x: x0 - 4, y: y0 + 24 * k + 16, "text-anchor": "end", class: "widget-small", text: token }));
        map.appendChild(s("text", { x: 0, y: 0, class: "widget-small", text: token,
                                    transform: "translate(" + (x0 + 24 * k + 14) + "," + (y0 - 4) + ") rotate(-50)" }));
      });
      var top = Math.max.apply(null, [].concat.apply([], weights).filter(Number.isFinite).concat([1e-12]));
      function cell(x, y, w, width, extra) {  // the colour of a weight: the accent, more opaque as w nears top
        var attrs = { x: x, y: y, width: width, height: 23, class: "widget-cell", "fill-opacity": 0.06 + 0.94 * (w / top) };
        Object.keys(extra).forEach(function (k) { attrs[k] = extra[k]; });
        map.appendChild(s("rect", attrs));
      }
      weights.forEach(function (row, r) {
        row.forEach(function (w, c) { cell(x0 + 24 * c, y0 + 24 * r, w, 23, { "data-weight": w }); });
      });
      // The colour scale, drawn by the same rule as the cells: it reads right in light and in dark,
      // where "more accent" is darker on white but brighter on the dark background.
      var yBar = y0 + 24 * n + 14, steps = 10, step = 24 * n / steps;
      for (var k = 0; k < steps; k++) {
        cell(x0 + step * k, yBar, top * k / (steps - 1), step + 0.5, { "data-legend": top * k / (steps - 1) });
      }
      map.appendChild(s("text", { x: x0, y: yBar + 36, class: "widget-small", "data-legend-label": "min", text: "0" }));
      map.appendChild(s("text", { x: x0 + 24 * n, y: yBar + 36, "text-anchor": "end", class: "widget-small",
                                  "data-legend-label": "max", text: fmt(top, 3) }));
      map.appendChild(s("rect", { x: x0 - 1, y: y0 - 1 + 24 * selected, width: 24 * n + 1, height: 25,
                                  class: "widget-selected" }));
    }
    update();
  }

  /* 3. The source note's example, editable; x40 shows the naive formula's overflow. */
  function sourceExample(root, st) {
    var L = st.labels, cells = {};
    function grid(name, matrix) {
      var table = h("table", { class: "widget-grid", "data-matrix": name });
      matrix.forEach(function (row, i) {
        var tr = h("tr");
        row.forEach(function (x, j) {
          var input = h("input", { type: "number", step: "any", value: String(x), "aria-label": name + "[" + i + "][" + j + "]",
                                   "data-cell": name + "-" + i + "-" + j });
          input.addEventListener("input", update);
          tr.appendChild(h("td", {}, [input]));
        });
        table.appendChild(tr);
      });
      cells[name] = table;
      return h("div", { class: "widget-matrix" }, [h("div", { class: "widget-small", text: name }), table]);
    }
    function read(name) {
      return Array.prototype.map.call(cells[name].rows, function (tr) {
        return Array.prototype.map.call(tr.querySelectorAll("input"), function (input) { return Number(input.value); });
      });
    }
    function set(name, matrix) {
      Array.prototype.forEach.call(cells[name].rows, function (tr, i) {
        Array.prototype.forEach.call(tr.querySelectorAll("input"), function (input, j) { input.value = String(matrix[i][j]); });
      });
    }
    root.appendChild(h("div", { class: "widget-controls" }, [grid("Q", st.Q), grid("K", st.K), grid("V", st.V)]));
    var times = h("button", { type: "button", "data-control": "times", text: "×" + st.factor });
    var reset = h("button", { type: "button", "data-control": "reset", text: L.reset });
    times.addEventListener("click", function () {
      ["Q", "K"].forEach(function (name) {
        set(name, read(name).map(function (r) { return r.map(function (x) { return x * st.factor; }); }));
      });
      update();
    });
    reset.addEventListener("click", function () { set("Q", st.Q); set("K", st.K); set("V", st.V); update(); });
    root.appendChild(h("div", { class: "widget-controls" }, [times, reset]));
    var outs = ["scores", "scaled", "weights", "output", "naive"].map(function (name) { return readout(L[name], name); });
    root.appendChild(h("div", { class: "widget-readouts", "aria-live": "polite" }, outs.map(function (o) { return o.row; })));

    function update() {
      var Q = read("Q"), K = read("K"), V = read("V");
      var stable = core.attention(Q, K, V), naive = core.naiveAttention(Q, K, V);
      var values = [stable.scores[0], stable.scaled[0], stable.weights[0], stable.output[0], naive.output[0]];
      outs.forEach(function (o, i) { o.out.textContent = vector(values[i], 4); });
    }
    update();
  }

  /* 4. The online softmax, one key block at a time, against the dense softmax. */
  function onlineSoftmax(root, st) {
    var L = st.labels, step = 0;
    var runs = st.scores.map(function (row) { return core.onlineSoftmax(row, st.values, st.block); });
    var blocks = runs[0].steps.length;
    var prev = h("button", { type: "button", "data-control": "prev", text: L.prev });
    var next = h("button", { type: "button", "data-control": "next", text: L.next });
    var reset = h("button", { type: "button", "data-control": "reset", text: L.reset });
    var where = h("span", { class: "widget-step", "data-out": "step", "aria-live": "polite" });
    function move(to, pressed, other) {  // a button that becomes disabled hands the focus to the other one
      step = to;
      update();
      if (pressed.disabled && document.activeElement === pressed) other.focus();
    }
    prev.addEventListener("click", function () { move(Math.max(0, step - 1), prev, next); });
    next.addEventListener("click", function () { move(Math.min(blocks, step + 1), next, prev); });
    reset.addEventListener("click", function () { step = 0; update(); });
    root.appendChild(h("div", { class: "widget-controls" }, [prev, next, reset, where]));
    var scoresView = h("div", { class: "widget-scores" });
    var table = h("table", { class: "widget-table" });
    var result = h("p", { class: "widget-note", "data-out": "result", "aria-live": "polite" });
    root.appendChild(scoresView);
    root.appendChild(h("div", { class: "widget-scroll", tabindex: "0", role: "region", "aria-label": L.state }, [table]));
    root.appendChild(result);

    function update() {
      where.textContent = step === 0 ? L.start : L.block.replace("{k}", step).replace("{n}", blocks)
        .replace("{keys}", runs[0].steps[step - 1].start + "–" + (runs[0].steps[step - 1].end - 1));
      prev.disabled = step === 0;
      next.disabled = step === blocks;
      scoresView.textContent = "";
      var seenKeys = step === 0 ? 0 : runs[0].steps[step - 1].end;
      function line(label, items, name) {  // "label: x x x", the keys seen so far in bold
        var row = h("div", { class: "widget-small", "data-line": name }, [h("span", { text: colon(label) })]);
        items.forEach(function (text, j) {
          row.appendChild(h("span", { class: j < seenKeys ? "widget-seen" : "widget-unseen", "data-key": String(j),
                                      text: text }));
        });
        scoresView.appendChild(row);
      }
      st.scores.forEach(function (row, r) {
        line(L.scores.replace("{r}", r), row.map(function (x) { return fmt(x, 1); }), "scores-" + r);
      });
      line(L.values, st.values.map(function (v) { return "(" + v.map(function (x) { return fmt(x, 1); }).join(", ") + ")"; }),
           "values");
      var dims = st.values[0].length;
      var heads = [L.row, "m", "ℓ", L.factor];
      for (var e = 0; e < dims; e++) heads.push("a" + String.fromCharCode(0x2081 + e));  // a₁, a₂: one column each
      table.textContent = "";
      table.appendChild(h("tr", {}, heads.map(function (x) { return h("th", { text: x }); })));
      runs.forEach(function (run, r) {
        var state = step === 0 ? null : run.steps[step - 1];
        var cells = state === null ? ["-inf", "0", ""].concat(new Array(dims).fill("0"))
          : [fmt(state.m, 3), fmt(state.l, 3), fmt(state.factor, 3)].concat(state.a.map(function (x) { return fmt(x, 3); }));
        var names = ["m", "l", "factor"].concat(state === null ? new Array(dims).fill(0).map(function (_, i) { return "a" + i; })
          : state.a.map(function (_, i) { return "a" + i; }));
        table.appendChild(h("tr", { "data-row": String(r) }, [h("td", { text: String(r) })].concat(
          cells.map(function (x, c) { return h("td", { text: x, "data-col": names[c] }); }))));
      });
      if (step < blocks) {
        result.textContent = "";
        return;
      }
      var dense = core.matmul(st.scores.map(function (row) { return core.softmax(row); }), st.values);
      var diff = 0;
      runs.forEach(function (run, r) {
        run.output.forEach(function (x, e) { diff = Math.max(diff, Math.abs(x - dense[r][e])); });
      });
      result.textContent = L.done.replace("{online}", runs.map(function (run) { return vector(run.output, 4); }).join(", "))
        .replace("{dense}", dense.map(function (row) { return vector(row, 4); }).join(", "))
        .replace("{diff}", diff.toExponential(1));
    }
    update();
  }


  /* 5. The vault's trained character model, run in the page from its weights (assets/notes-lm.js,
   * loaded only by a page with this widget): attention maps, the next character, generation. */
  var weightsWaiting = null;
  function loadWeights() {  // a classic script, so that it loads from file:// too (fetch would not)
    if (window.NotesLMWeights) return Promise.resolve(window.NotesLMWeights);
    if (weightsWaiting) return weightsWaiting;
    var own = document.querySelector("script[src*='javascripts/widgets.js']");
    weightsWaiting = new Promise(function (done, fail) {
      var tag = h("script", { src: new URL("../assets/notes-lm.js", own.src).href });
      tag.onload = function () { done(window.NotesLMWeights); };
      tag.onerror = fail;
      document.head.appendChild(tag);
    });
    return weightsWaiting;
  }

  function trainedModel(root, st) {
    var L = st.labels;
    var status = h("p", { class: "widget-note", "data-out": "status", "aria-live": "polite" });
    function start() {
      status.textContent = L.loading;
      return loadWeights().then(function (file) {
        status.textContent = "";
        trainedModelReady(root, st, core.languageModel(file));
      }, function () { status.textContent = L.failed; });
    }
    root.appendChild(status);
    if (!st.deferred) return start();
    // On a page that only offers it: the weights load when the reader asks, and the focus moves to
    // the widget's first control once it is there (never left on a removed button).
    var load = h("button", { type: "button", "data-control": "load", text: L.run_here });
    load.addEventListener("click", function () {
      start().then(function () {
        load.remove();
        var first = root.querySelector("select, textarea, input, button");
        if (first) first.focus();
      });
    });
    root.insertBefore(h("div", { class: "widget-controls" }, [load]), status);
  }

  function trainedModelReady(root, st, model) {
    var L = st.labels, C = model.config.context, unknown = model.vocab[0];
    var text = st.text, prompt = st.text, layer = st.layer, head = st.head, selected = 0;
    var ids = [], shown = [], result = null, cache = null, logits = null, generated = 0, lastStep = "";

    var picker = h("select", { "data-control": "example" }, st.examples.map(function (example, i) {
      return h("option", { value: String(i), text: example.label });
    }));
    var input = h("textarea", { rows: "3", "data-control": "text", spellcheck: "false" });
    input.value = text;
    var headPicker = h("select", { "data-control": "head" });
    for (var l = 0; l < model.config.layers; l++) {
      for (var k = 0; k < model.config.heads; k++) {
        var option = h("option", { value: l + "." + k, text: L.head.replace("{l}", l).replace("{h}", k) });
        if (l === layer && k === head) option.selected = true;
        headPicker.appendChild(option);
      }
    }
    root.appendChild(h("div", { class: "widget-controls" }, [
      h("label", { class: "widget-slider" }, [h("span", { text: colon(L.example) }), picker]),
      h("label", { class: "widget-slider" }, [h("span", { text: colon(L.head_label) }), headPicker]),
    ]));
    root.appendChild(h("label", { class: "widget-text" }, [h("span", { text: L.text }), input]));
    var windowNote = h("p", { class: "widget-note", "data-out": "window" });
    var tokens = h("div", { class: "widget-tokens widget-chars", role: "group", "aria-label": L.tokens });
    var map = h("canvas", { class: "widget-canvas", role: "img", "data-out": "map" });
    var rowOut = readout(L.row.replace("{k}", st.top), "row");
    root.appendChild(windowNote);
    root.appendChild(tokens);
    root.appendChild(map);
    root.appendChild(h("div", { class: "widget-note", text: L.map_note }));
    root.appendChild(h("div", { class: "widget-readouts", "aria-live": "polite" }, [rowOut.row]));

    var temperature = h("input", { type: "range", min: "0.1", max: "2", step: "0.1", value: "1",
                                   "aria-label": L.temperature, "data-control": "temperature" });
    var tOut = h("output", { "data-out": "temperature" });
    var dist = h("div", { class: "widget-dist", "data-out": "next", role: "list", "aria-label": L.next });
    root.appendChild(h("div", { class: "widget-controls" }, [
      h("label", { class: "widget-slider" }, [h("span", { text: colon(L.temperature) }), tOut, temperature])]));
    root.appendChild(h("p", { class: "widget-note", text: L.next }));
    root.appendChild(dist);

    var greedy = h("button", { type: "button", "data-control": "greedy", text: L.greedy });
    var sample = h("button", { type: "button", "data-control": "sample", text: L.sample });
    var reset = h("button", { type: "button", "data-control": "reset", text: L.reset });
    var cacheView = h("div", { class: "widget-cache", "data-out": "cache-rows", "aria-hidden": "true" });
    var cacheOut = h("p", { class: "widget-note", "data-out": "cache", "aria-live": "polite" });
    root.appendChild(h("div", { class: "widget-controls" }, [greedy, sample, reset]));
    root.appendChild(cacheView);
    root.appendChild(cacheOut);

    function run() {  // the whole window from scratch, with a fresh cache
      var all = Array.from(text);
      shown = all.slice(-C);
      ids = model.encode(shown.join(""));
      windowNote.textContent = all.length > C ? L.window.replace("{c}", C).replace("{n}", all.length) : "";
      cache = {};
      result = ids.length ? model.forward(ids, cache) : { logits: [], weights: [] };
      logits = result.logits[result.logits.length - 1] || null;
      selected = Math.max(0, ids.length - 1);
    }

    function drawTokens() {
      tokens.textContent = "";
      shown.forEach(function (ch, i) {
        var isUnknown = ids[i] === 0;
        var b = h("button", { type: "button", class: "widget-token" + (isUnknown ? " widget-unknown" : "")
          + (i >= shown.length - generated ? " widget-generated" : ""), "data-index": String(i),
          text: visible(ch, ids[i]),
          "aria-label": isUnknown ? ch + " (" + L.unknown + ")" : ch === " " ? L.space : ch === "\n" ? L.newline : ch });
        if (isUnknown) b.setAttribute("title", L.unknown);
        b.addEventListener("click", function () { selected = i; drawAttention(); });
        b.addEventListener("keydown", function (event) {
          var n = shown.length, step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
          var to = event.key === "Home" ? 0 : event.key === "End" ? n - 1 : step ? (i + step + n) % n : null;
          if (to === null) return;
          event.preventDefault();
          selected = to;
          drawAttention();
          tokens.children[selected].focus();
        });
        tokens.appendChild(b);
      });
    }

    function visible(ch, id) {  // a character as the widget shows it: spaces and line breaks as symbols
      return id === 0 ? unknown : ch === " " ? "\u2423" : ch === "\n" ? "\u21b5" : ch;
    }
    function label(i) { return visible(shown[i], ids[i]); }

    function drawAttention() {
      if (!ids.length) { rowOut.out.textContent = ""; return; }
      var rows = result.weights[layer][head], row = rows[selected];
      Array.prototype.forEach.call(tokens.children, function (b, j) {
        b.setAttribute("aria-pressed", j === selected ? "true" : "false");
        b.setAttribute("tabindex", j === selected ? "0" : "-1");
        b.style.setProperty("--weight", String(j <= selected ? row[j] : 0));
      });
      var order = Array.from(row.keys()).sort(function (a, b) { return row[b] - row[a]; }).slice(0, st.top);
      rowOut.out.textContent = L.query.replace("{c}", label(selected)).replace("{i}", selected) + " → "
        + order.map(function (j) { return label(j) + " (" + j + ") " + fmt(row[j], 3); }).join(", ");
      // The map: query rows down, key columns across; the accent, more opaque for more weight.
      var n = ids.length, ratio = window.devicePixelRatio || 1, size = Math.min(root.clientWidth, 448);
      map.style.width = size + "px";  // the height follows the canvas's square shape (CSS height: auto)
      map.width = Math.round(size * ratio);
      map.height = Math.round(size * ratio);
      var g = map.getContext("2d"), cell = map.width / n, style = getComputedStyle(root);
      g.clearRect(0, 0, map.width, map.height);
      g.fillStyle = style.getPropertyValue("--md-accent-fg-color").trim() || "#526cfe";
      rows.forEach(function (r, i) {
        for (var j = 0; j <= i; j++) {
          g.globalAlpha = 0.04 + 0.96 * r[j];
          g.fillRect(j * cell, i * cell, Math.max(cell - (n < 64 ? 1 : 0), 1), Math.max(cell - (n < 64 ? 1 : 0), 1));
        }
      });
      g.globalAlpha = 1;
      g.strokeStyle = style.color;
      g.lineWidth = Math.max(1, ratio);
      g.strokeRect(0, selected * cell, map.width, cell);
      map.setAttribute("aria-label", L.map.replace("{head}", L.head.replace("{l}", layer).replace("{h}", head))
        .replace("{n}", n));
    }

    function drawNext() {
      var t = Number(temperature.value);
      tOut.textContent = t.toFixed(1);
      temperature.setAttribute("aria-valuetext", t.toFixed(1));
      dist.textContent = "";
      if (!logits) return;
      var p = model.probabilities(logits, t);
      var order = Array.from(p.keys()).sort(function (a, b) { return p[b] - p[a]; }).slice(0, 10);
      order.forEach(function (v) {
        var ch = model.vocab[v], shownCh = visible(ch, v);
        var bar = h("span", { class: "widget-dist-bar" });
        bar.style.width = (100 * p[v]).toFixed(1) + "%";
        dist.appendChild(h("div", { class: "widget-dist-row", role: "listitem", "data-char": ch }, [
          h("span", { class: "widget-dist-char", text: shownCh }), h("span", { class: "widget-dist-track" }, [bar]),
          h("span", { class: "widget-dist-p", text: fmt(p[v], 3) })]));
      });
    }

    function drawCache() {
      cacheView.textContent = "";
      for (var i = 0; i < ids.length; i++) {
        cacheView.appendChild(h("span", { class: i === ids.length - 1 && lastStep ? "widget-new" : "" }));
      }
      cacheOut.textContent = L.cache.replace("{n}", ids.length).replace("{layers}", model.config.layers) + " " + lastStep;
    }

    function redraw() { drawTokens(); drawAttention(); drawNext(); drawCache(); }

    function step(sampled) {  // one more character: one new position through the cache, unless the window is full
      if (!logits) return;
      var next = model.choose(logits, sampled ? Number(temperature.value) : 0, Math.random);
      text += model.vocab[next];
      generated += 1;
      input.value = text;
      if (ids.length < C) {
        var more = model.forward([next], cache);
        shown.push(model.vocab[next]);
        ids.push(next);
        more.weights.forEach(function (heads, l) {
          heads.forEach(function (rows, k) { result.weights[l][k].push(rows[0]); });
        });
        logits = more.logits[0];
        selected = ids.length - 1;
        lastStep = L.step_one.replace("{n}", ids.length);
      } else {
        run();
        lastStep = L.step_full.replace("{c}", C);
      }
      redraw();
    }

    picker.addEventListener("change", function () {
      text = prompt = st.examples[Number(picker.value)].text;
      input.value = text;
      generated = 0; lastStep = "";
      run(); redraw();
    });
    input.addEventListener("input", function () { text = prompt = input.value; generated = 0; lastStep = ""; run(); redraw(); });
    headPicker.addEventListener("change", function () {
      var parts = headPicker.value.split(".");
      layer = Number(parts[0]); head = Number(parts[1]);
      drawAttention();
    });
    temperature.addEventListener("input", drawNext);
    greedy.addEventListener("click", function () { step(false); });
    sample.addEventListener("click", function () { step(true); });
    reset.addEventListener("click", function () {
      text = prompt; input.value = text; generated = 0; lastStep = ""; run(); redraw();
    });
    // The map is drawn on a canvas in the accent colour: drawn again when the reader switches the scheme.
    new MutationObserver(drawAttention).observe(document.body, { attributes: true,
                                                                 attributeFilter: ["data-md-color-scheme"] });
    window.addEventListener("resize", drawAttention);  // sized to the column: a phone turned, a window resized
    run();
    redraw();
  }

  var WIDGETS = { "scaling": scaling, "attention-map": attentionMap, "source-example": sourceExample,
                  "online-softmax": onlineSoftmax, "trained-model": trainedModel };

  /* Widgets are built once the page has loaded, each in a task of its own when the browser is idle: the
   * first paint and the load never wait for them (the first note's three took 30-50 ms of the main thread
   * inside the task that starts the page), and they are built before a reader can scroll or jump to them,
   * so that nothing the reader is looking at moves when one appears (built only once seen, the attention
   * map pushed the link under the pointer 765 px down). A widget that loads a lot (the trained model's
   * 776 KB of weights) starts when it comes near the screen: a reader who never scrolls to it never pays. */
  var WHEN_NEAR = { "trained-model": true };

  function mount(root, make, state) {
    root.removeAttribute("data-waiting");
    var body = h("div", { class: "widget-body" });
    root.appendChild(body);
    // A widget that loads something first (the trained model's weights) returns a promise.
    Promise.resolve(make(body, state)).then(function () {
      root.setAttribute("data-ready", "");
    });
  }

  function whenIdle(task) {
    if (window.requestIdleCallback) requestIdleCallback(task, { timeout: 1000 });
    else setTimeout(task, 0);
  }

  function mountAll() {
    document.querySelectorAll("[data-widget]").forEach(function (root) {
      if (root.hasAttribute("data-ready") || root.hasAttribute("data-waiting")) return;
      var make = WIDGETS[root.getAttribute("data-widget")];
      var data = root.querySelector("script[type='application/json']");
      if (!make || !data) return;
      var state = JSON.parse(data.textContent);
      root.setAttribute("data-waiting", "");
      if (!WHEN_NEAR[root.getAttribute("data-widget")] || state.deferred || !("IntersectionObserver" in window)) {
        whenIdle(function () { mount(root, make, state); });
        return;
      }
      var near = new IntersectionObserver(function (entries) {
        if (!entries.some(function (e) { return e.isIntersecting; })) return;
        near.disconnect();
        mount(root, make, state);
      });
      near.observe(root);
    });
  }

  function afterLoad() {
    if (document.readyState === "complete") mountAll();
    else window.addEventListener("load", mountAll, { once: true });
  }

  if (typeof document$ !== "undefined") document$.subscribe(afterLoad);
  else document.addEventListener("DOMContentLoaded", afterLoad);
})();
