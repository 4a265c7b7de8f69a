/* Link previews: point at (or focus) a link to another page of the site and see that page's title and
 * first paragraph, or the linked section's, with its math (typeset when the site was built). The previews
 * of the page's language (hooks/previews.py writes assets/previews-<lang>.js) load when a reader first
 * points at a link.
 * WCAG 1.4.13: Esc dismisses a preview, the pointer may move onto it, and it stays until the pointer
 * or the focus leaves. A touch is a tap: it follows the link and shows nothing.
 * A classic script, so that it also runs in the offline copy opened from file://.
 */
(function () {
  "use strict";
  var own = document.currentScript;
  if (!own) return;
  var root = new URL("../", own.src);  // this script is javascripts/previews.js under the site's root
  var loading = null, box = null, shownFor = null, hideTimer = null, lastTouch = 0;

  function load() {
    if (window.LinkPreviews) return Promise.resolve(window.LinkPreviews);
    if (!loading) {
      var lang = /^en/.test(document.documentElement.lang) ? "en" : "zh";
      loading = new Promise(function (done, fail) {
        var tag = document.createElement("script");
        tag.src = new URL("assets/previews-" + lang + ".js", root).href;
        tag.onload = function () { done(window.LinkPreviews); };
        tag.onerror = fail;
        document.head.appendChild(tag);
      });
    }
    return loading;
  }

  function target(link) {  // {page, section} of a link to another page of this site, else null
    if (!link.closest("article") || link.closest(".link-preview, .headerlink, .md-tag, .footnote-ref, .footnote-backref")) return null;
    var url = new URL(link.getAttribute("href"), location.href);
    if (!url.href.startsWith(root.href) || url.href.split("#")[0] === location.href.split("#")[0]) return null;
    return { page: url.href.slice(root.href.length).split(/[?#]/)[0], section: decodeURIComponent(url.hash.slice(1)) };
  }

  function place(link) {
    var view = document.documentElement, r = link.getBoundingClientRect();
    var width = Math.min(box.offsetWidth, view.clientWidth - 16), height = box.offsetHeight;
    var left = Math.max(8, Math.min(r.left, view.clientWidth - width - 8));
    // Below the link; above it when only there it fits on the screen (a link on the screen's last lines),
    // or, if it fits on neither side, on the side with more room.
    var below = r.bottom + 6, above = r.top - 6 - height;
    var fitsBelow = below + height <= view.clientHeight, fitsAbove = above >= 0;
    var top = fitsBelow || (!fitsAbove && view.clientHeight - r.bottom >= r.top) ? below : above;
    box.style.left = left + window.scrollX + "px";
    box.style.top = top + window.scrollY + "px";
  }

  function show(link) {
    var where = target(link);
    if (!where) return;
    clearTimeout(hideTimer);
    load().then(function (all) {
      var page = all[where.page];
      if (!page) return;
      var section = where.section ? page.sections[where.section] : null;
      if (!box) {
        box = document.createElement("div");
        box.className = "link-preview md-typeset";
        box.id = "link-preview";
        box.setAttribute("role", "tooltip");
        box.addEventListener("mouseenter", function () { clearTimeout(hideTimer); });
        box.addEventListener("mouseleave", function () { hide(200); });
        document.body.appendChild(box);
      }
      box.textContent = "";
      var title = document.createElement("p");
      title.className = "link-preview-title";
      // The site's own HTML, written at build time, math typeset (hooks/previews.py), as the text below.
      title.innerHTML = section ? page.title + " › " + section.title : page.title;
      var text = document.createElement("div");
      text.className = "link-preview-text";
      text.innerHTML = (section && section.text) || page.text;  // the site's own HTML, written at build time
      box.appendChild(title);
      box.appendChild(text);
      box.hidden = false;
      place(link);
      if (shownFor && shownFor !== link) shownFor.removeAttribute("aria-describedby");
      shownFor = link;
      link.setAttribute("aria-describedby", box.id);
    });
  }

  function hide(delay) {
    clearTimeout(hideTimer);
    hideTimer = setTimeout(function () {
      if (box) box.hidden = true;
      if (shownFor) shownFor.removeAttribute("aria-describedby");
      shownFor = null;
    }, delay || 0);
  }

  function linkOf(event) { return event.target.closest ? event.target.closest("a[href]") : null; }
  function touchedJustNow() { return Date.now() - lastTouch < 800; }

  document.addEventListener("pointerdown", function (event) {
    if (event.pointerType !== "mouse") lastTouch = Date.now();
  }, true);
  document.addEventListener("mouseover", function (event) {
    var link = linkOf(event);
    if (link && !touchedJustNow()) show(link);
  });
  document.addEventListener("mouseout", function (event) {
    var link = linkOf(event);
    if (link && link === shownFor && !link.contains(event.relatedTarget)) hide(200);
  });
  document.addEventListener("focusin", function (event) {
    var link = linkOf(event);
    if (link && !touchedJustNow()) show(link);
  });
  document.addEventListener("focusout", function (event) {
    if (linkOf(event) === shownFor) hide(0);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && box && !box.hidden) hide(0);
  });
})();
