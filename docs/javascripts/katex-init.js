// Typeset the $...$ / $$...$$ math that pymdownx.arithmatex wraps in .arithmatex spans, and the
// math of headings where the navigation repeats them (the table of contents keeps only their text).
function renderAllMath() {
  document.querySelectorAll(".arithmatex, .md-nav__link .md-ellipsis").forEach(function (el) {
    renderMathInElement(el, {
      delimiters: [
        { left: "\\(", right: "\\)", display: false },
        { left: "\\[", right: "\\]", display: true },
      ],
      throwOnError: false,
    });
  });
}
if (typeof document$ !== "undefined") {
  document$.subscribe(renderAllMath);
} else {
  document.addEventListener("DOMContentLoaded", renderAllMath);
}
