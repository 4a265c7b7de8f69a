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

  root.AttentionCore = {
    matmulT: matmulT, matmul: matmul, softmax: softmax, naiveSoftmax: naiveSoftmax, attention: attention,
    naiveAttention: naiveAttention, entropy: entropy, jacobianNorm: jacobianNorm, onlineSoftmax: onlineSoftmax,
  };
})(typeof window !== "undefined" ? window : this);
