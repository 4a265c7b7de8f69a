/* The numeric core of the notes' widgets: softmax, scaled dot-product attention, the naive
 * formula of the source note, and the online softmax, step by step.
 *
 * Same rules as the numpy package `attention` (tests/site/test_widgets.py feeds both the same
 * inputs and compares to 1e-6):
 *   - masks are boolean, true = may attend; causal means key j <= query i;
 *   - a fully masked row gets weights 0 and output 0;
 *   - a row with NaN or +inf among the scores it may attend to gives NaN;
 *   - softmax subtracts the row maximum first; naiveSoftmax does not (and overflows as the
 *     source note's code does).
 * languageModel runs the vault's trained character model (results/notes-lm.json, the same forward
 * pass as the numpy TransformerLM, in float64; test_widgets.py compares the two to 1e-9).
 * A classic script (not a module), so that it also runs in the offline copy opened from file://.
 */
(function (root) {
  "use strict";

  function matmulT(A, B) {  // A (n, e), B (m, e) -> A B^T (n, m)
    return A.map(function (a) {
      return B.map(function (b) {
        var s = 0;
        for (var e = 0; e < a.length; e++) s += a[e] * b[e];
        return s;
      });
    });
  }

  function matmul(P, V) {  // P (n, m), V (m, ev) -> P V (n, ev)
    return P.map(function (p) {
      var out = new Array(V[0].length).fill(0);
      for (var j = 0; j < p.length; j++) {
        if (p[j] === 0) continue;  // masked keys contribute nothing, whatever their values hold
        for (var e = 0; e < out.length; e++) out[e] += p[j] * V[j][e];
      }
      return out;
    });
  }

  function softmax(row, allowed) {  // one row; allowed: optional booleans, true = may attend
    var ok = function (j) { return !allowed || allowed[j]; };
    var m = -Infinity, bad = false;
    row.forEach(function (x, j) {
      if (!ok(j)) return;
      if (Number.isNaN(x) || x === Infinity) bad = true;
      else if (x > m) m = x;
    });
    if (bad) return row.map(function () { return NaN; });
    if (m === -Infinity) return row.map(function () { return 0; });  // fully masked: weights 0
    var e = row.map(function (x, j) { return ok(j) ? Math.exp(x - m) : 0; });
    var sum = e.reduce(function (a, b) { return a + b; }, 0);
    return e.map(function (x) { return x / sum; });
  }

  function naiveSoftmax(row) {  // the source note's formula: exp, then divide, no max subtracted
    var e = row.map(Math.exp);
    var sum = e.reduce(function (a, b) { return a + b; }, 0);
    return e.map(function (x) { return x / sum; });
  }

  function allowedMatrix(L, S, options) {  // (L, S) booleans from options.allowed and options.causal
    var rows = [];
    for (var i = 0; i < L; i++) {
      var row = [];
      for (var j = 0; j < S; j++) {
        var ok = options.allowed ? Boolean(options.allowed[i][j]) : true;
        if (options.causal && j > i) ok = false;
        row.push(ok);
      }
      rows.push(row);
    }
    return rows;
  }

  /* Scaled dot-product attention: Q (L, E), K (S, E), V (S, Ev); options.scale (default
   * 1/sqrt(E)), options.allowed (L, S) booleans, options.causal. Returns every intermediate. */
  function attention(Q, K, V, options) {
    options = options || {};
    var scale = options.scale === undefined ? 1 / Math.sqrt(Q[0].length) : options.scale;
    var scores = matmulT(Q, K);
    var scaled = scores.map(function (r) { return r.map(function (x) { return x * scale; }); });
    var allowed = allowedMatrix(Q.length, K.length, options);
    var weights = scaled.map(function (r, i) { return softmax(r, allowed[i]); });
    return { scores: scores, scaled: scaled, allowed: allowed, weights: weights, output: matmul(weights, V) };
  }

  function naiveAttention(Q, K, V, scale) {
    scale = scale === undefined ? 1 / Math.sqrt(Q[0].length) : scale;
    var scaled = matmulT(Q, K).map(function (r) { return r.map(function (x) { return x * scale; }); });
    var weights = scaled.map(naiveSoftmax);
    return { scaled: scaled, weights: weights, output: matmul(weights, V) };
  }

  function entropy(p) {  // -sum p log p / log S: 1 for uniform weights, 0 for one-hot
    var h = 0;
    p.forEach(function (x) { if (x > 0) h -= x * Math.log(x); });
    return h / Math.log(p.length);
  }

  function jacobianNorm(p) {  // Frobenius norm of the softmax Jacobian diag(p) - p p^T
    var s = 0;
    for (var i = 0; i < p.length; i++) {
      for (var j = 0; j < p.length; j++) {
        var d = (i === j ? p[i] : 0) - p[i] * p[j];
        s += d * d;
      }
    }
    return Math.sqrt(s);
  }

  /* The online softmax over one row of scores, one block of keys at a time. Returns the state
   * after each block: {start, end, mBefore, m, factor = e^(mBefore - m), l, a}, and the output a / l. */
  function onlineSoftmax(scores, V, block) {
    var m = -Infinity, l = 0, a = new Array(V[0].length).fill(0), steps = [];
    for (var start = 0; start < scores.length; start += block) {
      var end = Math.min(start + block, scores.length);
      var mNew = m;
      for (var j = start; j < end; j++) mNew = Math.max(mNew, scores[j]);
      var factor = m === -Infinity ? 0 : Math.exp(m - mNew);  // nothing before the first block
      l *= factor;
      a = a.map(function (x) { return x * factor; });
      for (j = start; j < end; j++) {
        var p = Math.exp(scores[j] - mNew);
        l += p;
        for (var e = 0; e < a.length; e++) a[e] += p * V[j][e];
      }
      steps.push({ start: start, end: end, mBefore: m, m: mNew, factor: factor, l: l, a: a.slice() });
      m = mNew;
    }
    return { steps: steps, output: a.map(function (x) { return x / l; }) };
  }

  /* --- The trained character model (numpy's TransformerLM: learned positions, pre-norm blocks,
   * GELU feed-forward, causal self-attention, output tied to the token embedding) --------------- */

  function tensor(t) {  // {shape, data: base64 of little-endian float32} -> Float64Array, C order
    var bytes = atob(t.data), view = new DataView(new ArrayBuffer(bytes.length));
    for (var i = 0; i < bytes.length; i++) view.setUint8(i, bytes.charCodeAt(i));
    var out = new Float64Array(bytes.length / 4);
    for (i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
    return out;
  }

  function linear(x, W, b, n) {  // x (d_in,), W (n, d_in) flat, b (n,) or null -> x W^T + b (n,)
    var d = x.length, y = new Float64Array(n);
    for (var o = 0; o < n; o++) {
      var s = b ? b[o] : 0;
      for (var i = 0, r = o * d; i < d; i++) s += x[i] * W[r + i];
      y[o] = s;
    }
    return y;
  }

  function layerNorm(x, w, b) {  // biased variance, eps 1e-5, as torch.nn.LayerNorm
    var n = x.length, mu = 0, v = 0, i;
    for (i = 0; i < n; i++) mu += x[i];
    mu /= n;
    for (i = 0; i < n; i++) v += (x[i] - mu) * (x[i] - mu);
    var rstd = 1 / Math.sqrt(v / n + 1e-5), y = new Float64Array(n);
    for (i = 0; i < n; i++) y[i] = (x[i] - mu) * rstd * w[i] + b[i];
    return y;
  }

  function gelu(x) {  // the tanh form, as attention.layers.gelu
    var c = Math.sqrt(2 / Math.PI);
    return 0.5 * x * (1 + Math.tanh(c * x * (1 + 0.044715 * x * x)));
  }

  /* The model of a weights file. forward(ids, cache) runs the new positions ids after the ones the
   * cache holds (a fresh cache: {}) and returns {logits: one Float64Array (V) per new position,
   * weights: [layer][head][new position] -> Float64Array over every position so far}; the cache
   * gains one key and one value row per layer, head and new position. */
  function languageModel(file) {
    var c = file.config, T = {};
    Object.keys(file.tensors).forEach(function (name) { T[name] = tensor(file.tensors[name]); });
    var D = c.dim, H = c.heads, hd = D / H, F = c.hidden, V = file.vocab.length;
    function p(name) { return T[name]; }

    function forward(ids, cache) {
      var start = cache.length || 0, layers = [], logits = [];
      if (start + ids.length > c.context) throw new Error("longer than the context of " + c.context);
      var xs = ids.map(function (id, t) {  // token embedding + learned position
        var x = new Float64Array(D), e = p("tokens.weight"), q = p("position.weight");
        for (var i = 0; i < D; i++) x[i] = e[id * D + i] + q[(start + t) * D + i];
        return x;
      });
      for (var l = 0; l < c.layers; l++) {
        var a = "blocks." + l + ".attention.", k = "blocks." + l + ".";
        var store = cache[l] || (cache[l] = { k: [], v: [] });
        var qs = xs.map(function (x) {
          var h = layerNorm(x, p(k + "ln1.weight"), p(k + "ln1.bias"));
          store.k.push(linear(h, p(a + "k.weight"), p(a + "k.bias"), D));
          store.v.push(linear(h, p(a + "v.weight"), p(a + "v.bias"), D));
          return linear(h, p(a + "q.weight"), p(a + "q.bias"), D);
        });
        var heads = [];
        for (var head = 0; head < H; head++) heads.push([]);
        xs = xs.map(function (x, t) {
          var o = new Float64Array(D), S = start + t + 1;  // causal: keys 0 .. start + t
          for (var head = 0; head < H; head++) {
            var scores = new Float64Array(S), m = -Infinity, sum = 0, j, i;
            for (j = 0; j < S; j++) {
              var s = 0;
              for (i = 0; i < hd; i++) s += qs[t][head * hd + i] * store.k[j][head * hd + i];
              scores[j] = s / Math.sqrt(hd);
              if (scores[j] > m) m = scores[j];
            }
            for (j = 0; j < S; j++) { scores[j] = Math.exp(scores[j] - m); sum += scores[j]; }
            for (j = 0; j < S; j++) {
              scores[j] /= sum;
              for (i = 0; i < hd; i++) o[head * hd + i] += scores[j] * store.v[j][head * hd + i];
            }
            heads[head].push(scores);
          }
          var y = linear(o, p(a + "out.weight"), p(a + "out.bias"), D);
          for (var i2 = 0; i2 < D; i2++) y[i2] += x[i2];  // residual
          var u = linear(layerNorm(y, p(k + "ln2.weight"), p(k + "ln2.bias")), p(k + "feed_forward.up.weight"), p(k + "feed_forward.up.bias"), F);
          for (i2 = 0; i2 < F; i2++) u[i2] = gelu(u[i2]);
          var z = linear(u, p(k + "feed_forward.down.weight"), p(k + "feed_forward.down.bias"), D);
          for (i2 = 0; i2 < D; i2++) z[i2] += y[i2];  // residual
          return z;
        });
        layers.push(heads);
      }
      xs.forEach(function (x) {
        logits.push(linear(layerNorm(x, p("ln.weight"), p("ln.bias")), p("tokens.weight"), null, V));
      });
      cache.length = start + ids.length;
      return { logits: logits, weights: layers };
    }

    function encode(text) {  // ids; a character outside the vocabulary is 0 (the unknown character)
      var index = {};
      file.vocab.forEach(function (ch, i) { index[ch] = i; });
      return Array.from(text).map(function (ch) { return index[ch] === undefined ? 0 : index[ch]; });
    }

    function probabilities(logits, temperature) {  // softmax(logits / temperature)
      return softmax(Array.from(logits, function (x) { return x / temperature; }));
    }

    /* The next id after logits: the most likely at temperature 0, else sampled from
     * softmax(logits / temperature) with random() in [0, 1). */
    function choose(logits, temperature, random) {
      var next = 0;
      if (temperature > 0) {
        var probs = probabilities(logits, temperature), r = random(), acc = 0;
        for (next = 0; next < probs.length - 1; next++) { acc += probs[next]; if (r < acc) break; }
      } else {
        for (var i = 1; i < logits.length; i++) if (logits[i] > logits[next]) next = i;
      }
      return next;
    }

    /* Continue ids by steps characters (:choose); with useCache each step runs one new position,
     * without it the whole sequence again. */
    function generate(ids, steps, options) {
      options = options || {};
      var out = ids.slice(), cache = {}, temperature = options.temperature || 0;
      var logits = forward(out, cache).logits.pop();
      for (var s = 0; s < steps; s++) {
        var next = choose(logits, temperature, options.random);
        out.push(next);
        if (s < steps - 1) logits = (options.useCache === false ? forward(out, {}) : forward([next], cache)).logits.pop();
      }
      return out;
    }

    return { config: c, vocab: file.vocab, forward: forward, encode: encode, probabilities: probabilities,
             choose: choose, generate: generate };
  }

  root.AttentionCore = {
    languageModel: languageModel,
    matmulT: matmulT, matmul: matmul, softmax: softmax, naiveSoftmax: naiveSoftmax, attention: attention,
    naiveAttention: naiveAttention, entropy: entropy, jacobianNorm: jacobianNorm, onlineSoftmax: onlineSoftmax,
  };
})(typeof window !== "undefined" ? window : this);
