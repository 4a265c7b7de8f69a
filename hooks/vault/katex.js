// Typesets formulas for katex.py with the pinned KaTeX (package-lock.json): one JSON line in per request,
// [[tex, display], ...], one JSON line out, [html, ...] in the same order. Run as `node katex.js <katex>`.
"use strict";
const katex = require(process.argv[2]);
const readline = require("readline");

function typeset([tex, display]) {
  try {
    // throwOnError: false draws what KaTeX cannot read as its source in red, with the message as its
    // title, as the browser did; strict: "ignore", as the browser did not warn either (CJK in \text{}).
    return katex.renderToString(tex, { displayMode: display, throwOnError: false, strict: "ignore" });
  } catch (error) {  // not a ParseError (those are drawn above): show the source, say why
    const escape = (s) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
    return `<span class="katex-error" title="${escape(String(error))}">${escape(tex)}</span>`;
  }
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  process.stdout.write(JSON.stringify(JSON.parse(line).map(typeset)) + "\n");
});
