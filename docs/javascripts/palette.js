// The header's light/dark toggle (overrides/partials/palette.html; the scheme a page opens in is set while
// the header is parsed, by overrides/partials/javascripts/palette.html). A switch is the reader's: the page
// is restyled then and only then, without transitions (Material's data-md-color-switching), and the choice
// is kept for every page (localStorage "__palette", as Material keeps it). Enter on the focused toggle
// switches too and keeps the focus on it.
(function () {
  var form = document.querySelector("form[data-palette]");
  if (!form) return;
  var inputs = Array.prototype.slice.call(form.querySelectorAll("input"));
  var themeColour = document.querySelector("meta[name=theme-color]");
  var colorScheme = document.querySelector("meta[name=color-scheme]");

  function colour(input) {
    var color = {};
    ["media", "scheme", "primary", "accent"].forEach(function (key) {
      color[key] = input.getAttribute("data-md-color-" + key);
    });
    return color;
  }

  function choose(index) {
    var input = inputs[index], color = colour(input);
    document.body.setAttribute("data-md-color-switching", "");
    ["scheme", "primary", "accent"].forEach(function (key) {
      document.body.setAttribute("data-md-color-" + key, color[key]);
    });
    inputs.forEach(function (other, i) {
      var label = other.nextElementSibling;
      if (label && label.tagName === "LABEL") label.hidden = i !== index;
    });
    __md_set("__palette", { index: index, color: color });
    if (colorScheme) colorScheme.content = color.scheme === "slate" ? "dark" : "normal";
    if (themeColour) themeColour.content = getComputedStyle(document.querySelector("header")).backgroundColor;
    requestAnimationFrame(function () { document.body.removeAttribute("data-md-color-switching"); });
  }

  form.addEventListener("change", function (event) {
    var index = inputs.indexOf(event.target);
    if (index >= 0) choose(index);
  });
  form.addEventListener("keydown", function (event) {
    var index = inputs.indexOf(event.target);
    if (event.key !== "Enter" || index < 0) return;
    event.preventDefault();
    var next = inputs[(index + 1) % inputs.length];
    next.click();
    next.focus();
  });
})();
