// Tables, formulas (display ones, and inline ones wider than their line) and code wider than the screen
// scroll in their own box (extra.css draws a shadow on the side that has more). A box that scrolls also
// takes the keyboard focus, so that arrow keys scroll it, and is named for screen readers, in the
// page's language.
(function () {
  var NAMES = { zh: { table: "表格（可横向滚动）", formula: "公式（可横向滚动）" },
                en: { table: "table (scrolls sideways)", formula: "formula (scrolls sideways)" } };
  // A box that scrolls is a named region in the Tab order; once it no longer scrolls, it is neither.
  function region(box, name) {
    box.setAttribute("tabindex", "0");
    box.setAttribute("role", "region");
    box.setAttribute("aria-label", name);
  }
  function noRegion(box) {
    box.removeAttribute("tabindex");
    box.removeAttribute("role");
    box.removeAttribute("aria-label");
  }
  function mark() {
    var names = NAMES[/^zh/.test(document.documentElement.lang) ? "zh" : "en"];
    document.querySelectorAll(".md-typeset__scrollwrap, .katex-display").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        region(box, box.classList.contains("katex-display") ? names.formula : names.table);
      } else if (!scrolls && box.getAttribute("role") === "region") {
        noRegion(box);
      }
    });
    // An inline formula wider than its line (a narrow phone) cannot wrap: it becomes a box of its own
    // that scrolls like a display formula, and the punctuation kept next to it may go to the next line.
    document.querySelectorAll(".md-typeset span.arithmatex").forEach(function (math) {
      var wide = math.classList.contains("formula-wide");
      var line = math.parentElement.closest("p, li, dd, td, th, figcaption, .admonition, details, article");
      var over = wide ? math.scrollWidth > math.clientWidth + 1
                      : line && math.getBoundingClientRect().width > line.clientWidth + 1;
      if (over && !wide) {
        math.classList.add("formula-wide");
        region(math, names.formula);
      } else if (!over && wide) {
        math.classList.remove("formula-wide");
        noRegion(math);
      }
    });
    // Material makes a code block that scrolls focusable when the page loads, but not one that only
    // starts to scroll once the window is narrowed or the text zoomed: those too.
    document.querySelectorAll("pre > code").forEach(function (code) {
      if (code.scrollWidth > code.clientWidth + 1 && !code.hasAttribute("tabindex")) code.setAttribute("tabindex", "0");
    });
  }
  var pending = false;
  function soon() {  // once per frame however many resize events come
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; mark(); });
  }
  // A box's content may outgrow it after the page has loaded, with no resize: a table whose cells
  // change, a formula once KaTeX's fonts arrive (document.fonts.ready may already have resolved before
  // they were even requested). Watching each box's content for a change of size catches the first.
  var contents = typeof ResizeObserver !== "undefined" ? new ResizeObserver(soon) : null;
  function watch() {
    mark();
    if (!contents) return;
    document.querySelectorAll(".md-typeset__scrollwrap > *, .katex-display > .katex").forEach(function (content) {
      contents.observe(content);
    });
  }
  if (typeof document$ !== "undefined") document$.subscribe(watch);
  else document.addEventListener("DOMContentLoaded", watch);
  window.addEventListener("resize", soon);
  window.addEventListener("load", soon);
  // A formula's box keeps its size when KaTeX's fonts arrive (it is a block); what it holds grows. Each
  // batch of fonts that finishes loading, however late, is a reason to look again.
  if (document.fonts) {
    if (document.fonts.ready) document.fonts.ready.then(soon);
    if (document.fonts.addEventListener) document.fonts.addEventListener("loadingdone", soon);
  }
})();
