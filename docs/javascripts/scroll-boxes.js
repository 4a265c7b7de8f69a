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
  // What a folded callout hides (a closed <details> but for its summary) is not measured: measuring it
  // would lay it all out, tables and code included, for nothing shown. Opening one looks again (toggle).
  function folded(e) {
    for (var d = e.closest("details:not([open])"); d; d = d.parentElement && d.parentElement.closest("details:not([open])")) {
      var summary = e.closest("summary");
      if (!summary || summary.parentElement !== d) return true;
    }
    return false;
  }
  function shown(selector) {
    return Array.prototype.filter.call(document.querySelectorAll(selector), function (e) { return !folded(e); });
  }
  // Every size is read before anything is changed: a change between two reads makes the second one lay
  // the page out again (on a long note, a hundred layouts where one does).
  function mark() {
    var names = NAMES[/^zh/.test(document.documentElement.lang) ? "zh" : "en"];
    var boxes = shown(".md-typeset__scrollwrap, .katex-display").map(function (box) {
      return [box, box.scrollWidth > box.clientWidth + 1];
    });
    // An inline formula wider than its line (a narrow phone) cannot wrap: it becomes a box of its own
    // that scrolls like a display formula, and the punctuation kept next to it may go to the next line.
    var maths = shown(".md-typeset span.arithmatex").map(function (math) {
      var wide = math.classList.contains("formula-wide");
      var line = math.parentElement.closest("p, li, dd, td, th, figcaption, .admonition, details, article");
      return [math, wide, wide ? math.scrollWidth > math.clientWidth + 1
                                : line && math.getBoundingClientRect().width > line.clientWidth + 1];
    });
    // Material makes a code block that scrolls focusable when the page loads, but not one that only
    // starts to scroll once the window is narrowed or the text zoomed: those too.
    var codes = shown("pre > code").filter(function (code) {
      return code.scrollWidth > code.clientWidth + 1 && !code.hasAttribute("tabindex");
    });
    boxes.forEach(function (pair) {
      var box = pair[0], scrolls = pair[1];
      if (scrolls && !box.hasAttribute("tabindex")) {
        region(box, box.classList.contains("katex-display") ? names.formula : names.table);
      } else if (!scrolls && box.getAttribute("role") === "region") {
        noRegion(box);
      }
    });
    maths.forEach(function (entry) {
      var math = entry[0], wide = entry[1], over = entry[2];
      if (over && !wide) {
        math.classList.add("formula-wide");
        region(math, names.formula);
      } else if (!over && wide) {
        math.classList.remove("formula-wide");
        noRegion(math);
      }
    });
    codes.forEach(function (code) { code.setAttribute("tabindex", "0"); });
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
    soon();  // in the next frame, with whatever else asks before it
    if (!contents) return;
    document.querySelectorAll(".md-typeset__scrollwrap > *, .katex-display > .katex").forEach(function (content) {
      contents.observe(content);
    });
  }
  if (typeof document$ !== "undefined") document$.subscribe(watch);
  else document.addEventListener("DOMContentLoaded", watch);
  window.addEventListener("resize", soon);
  document.addEventListener("toggle", soon, true);  // a callout opened (toggle does not bubble: caught on the way down)
  // A formula's box keeps its size when KaTeX's fonts arrive (it is a block); what it holds grows. Each
  // batch of fonts that finishes loading, however late, is a reason to look again. (document.fonts.ready
  // is asked for once the page has loaded: asked for while the page is still being set up, it restyles
  // the whole page there and then.)
  if (document.fonts && document.fonts.addEventListener) document.fonts.addEventListener("loadingdone", soon);
  window.addEventListener("load", function () {
    soon();
    if (document.fonts && document.fonts.ready) document.fonts.ready.then(soon);
  });
})();
