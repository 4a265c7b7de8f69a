// Typeset the $...$ / $$...$$ math that pymdownx.arithmatex wraps in .arithmatex spans.
function renderAllMath() {
  document.querySelectorAll(".arithmatex").forEach(function (el) {
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
