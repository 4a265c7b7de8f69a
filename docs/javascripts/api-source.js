// An API entry's "Source code" comes inside a <noscript> (hooks/api_links.py): with scripting on, the
// browser keeps it as text, so a closed listing costs the page no element. It is drawn the first time
// the reader opens it. (With scripting off, the browser draws the <noscript> as it is.)
(function () {
  document.addEventListener("toggle", function (event) {  // toggle does not bubble: caught on the way down
    var details = event.target;
    if (!details.open || !details.classList || !details.classList.contains("mkdocstrings-source")) return;
    var kept = details.querySelector(":scope > noscript");
    if (!kept) return;
    kept.insertAdjacentHTML("afterend", kept.textContent);
    kept.remove();
    // scroll-boxes.js looks again: a listing wider than the screen takes the keyboard focus to scroll.
    window.dispatchEvent(new Event("resize"));
  }, true);
})();
