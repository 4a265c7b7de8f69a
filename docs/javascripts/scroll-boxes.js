// Tables and display formulas wider than the screen scroll in their own box (extra.css draws a
// shadow on the side that has more). A box that scrolls also takes the keyboard focus, so that
// arrow keys scroll it, and is named for screen readers, in the page's language.
(function () {
  var NAMES = { zh: { table: "表格（可横向滚动）", formula: "公式（可横向滚动）" },
                en: { table: "table (scrolls sideways)", formula: "formula (scrolls sideways)" } };
  function mark() {
    var names = NAMES[/^zh/.test(document.documentElement.lang) ? "zh" : "en"];
    document.querySelectorAll(".md-typeset__scrollwrap, .katex-display").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", box.classList.contains("katex-display") ? names.formula : names.table);
      } else if (!scrolls && box.getAttribute("role") === "region") {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    });
  }
  var pending = false;
  function soon() {  // once per frame however many resize events come
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; mark(); });
  }
  if (typeof document$ !== "undefined") document$.subscribe(function () { mark(); });  // after katex-init.js
  else document.addEventListener("DOMContentLoaded", mark);
  window.addEventListener("resize", soon);
  // A formula may only outgrow its box once KaTeX's fonts have loaded: look again then.
  if (document.fonts && document.fonts.ready) document.fonts.ready.then(soon);
})();
