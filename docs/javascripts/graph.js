/* The graph view, as Obsidian shows a vault: each page a dot with its name, each link a line. A note's
 * local graph (the note, the pages it links to and those linking to it; two hops on demand) ends each
 * note; the graph page shows them all. The data (assets/graph-<lang>.js, written by hooks/vault/graph.py
 * from the backlinks' link table) and d3-force (assets/d3/, pinned in package-lock.json) load only when
 * a graph comes near the screen. The layout is computed at once (300 steps of the simulation, no
 * animation) for the box's width, again when the width changes; the text is never scaled down.
 * Every dot is a link (Tab, Enter), its group told by shape and colour and named in the legend.
 * A classic script, so that it also runs in the offline copy opened from file://.
 */
(function () {
  "use strict";
  var own = document.currentScript;
  if (!own) return;
  var root = new URL("../", own.src);  // this script is javascripts/graph.js under the site's root
  var SVG = "http://www.w3.org/2000/svg";
  var lang = /^en/.test(document.documentElement.lang) ? "en" : "zh";
  var TEXT = {
    zh: { local: "本笔记的关系图", global: "全部页面的关系图", hops: "显示两跳内的页面",
          localCaption: function (out, into) { return "本笔记链接到 " + out + " 页，被 " + into + " 页链接。"; },
          twoHops: function (n) { return "两跳之内共 " + n + " 页。"; },
          globalCaption: function (n, m) { return "共 " + n + " 页、" + m + " 处链接。"; },
          legend: "图例", here: "（本页）" },
    en: { local: "Graph of this note", global: "Graph of every page", hops: "Show the pages two hops away",
          localCaption: function (out, into) {
            return "This note links to " + out + (out === 1 ? " page" : " pages") + " and is linked from " + into + ".";
          },
          twoHops: function (n) { return n + " pages within two hops."; },
          globalCaption: function (n, m) { return n + " pages, " + m + " links."; },
          legend: "Legend", here: " (this page)" }
  }[lang];
  var SHAPES = ["circle", "square", "diamond", "triangle", "hexagon"];
  var loading = null;

  function script(src) {
    return new Promise(function (done, fail) {
      var tag = document.createElement("script");
      tag.src = new URL(src, root).href;
      tag.onload = done;
      tag.onerror = fail;
      document.head.appendChild(tag);
    });
  }

  function load() {
    if (!loading) {
      var files = ["d3-dispatch", "d3-quadtree", "d3-timer", "d3-force"].map(function (name) {
        return "assets/d3/" + name + ".min.js";
      }).concat(["assets/graph-" + lang + ".js"]);
      loading = files.reduce(function (chain, file) {
        return chain.then(function () { return script(file); });
      }, Promise.resolve()).then(function () { return window.VaultGraph; });
    }
    return loading;
  }

  function key(url) { return url.replace(/(^|\/)index\.html$/, "$1").replace(/^\.\/$/, ""); }

  function here(data) {  // the index of this page's node, or -1
    var url = location.href.split(/[?#]/)[0];
    if (!url.startsWith(root.href)) return -1;
    url = key(decodeURIComponent(url.slice(root.href.length)));
    for (var i = 0; i < data.nodes.length; i++) if (key(decodeURIComponent(data.nodes[i].url)) === url) return i;
    return -1;
  }

  function neighbours(data, start, hops) {  // the nodes within ``hops`` links of ``start``, either way
    var seen = {}, frontier = [start];
    seen[start] = true;
    for (var h = 0; h < hops; h++) {
      var next = [];
      data.links.forEach(function (link) {
        [[link[0], link[1]], [link[1], link[0]]].forEach(function (pair) {
          if (frontier.indexOf(pair[0]) >= 0 && !seen[pair[1]]) { seen[pair[1]] = true; next.push(pair[1]); }
        });
      });
      frontier = next;
    }
    return Object.keys(seen).map(Number);
  }

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (a) { node.setAttribute(a, attrs[a]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  function shapePath(shape, r) {
    var s = r * 0.9;
    if (shape === "square") return "M" + -s + "," + -s + "h" + 2 * s + "v" + 2 * s + "h" + -2 * s + "z";
    if (shape === "diamond") return "M0," + -r * 1.2 + "L" + r * 1.2 + ",0L0," + r * 1.2 + "L" + -r * 1.2 + ",0z";
    if (shape === "triangle") return "M0," + -r * 1.2 + "L" + r * 1.1 + "," + r * 0.8 + "L" + -r * 1.1 + "," + r * 0.8 + "z";
    if (shape === "hexagon") {
      var points = [];
      for (var k = 0; k < 6; k++) points.push(Math.cos(k * Math.PI / 3) * r * 1.1 + "," + Math.sin(k * Math.PI / 3) * r * 1.1);
      return "M" + points.join("L") + "z";
    }
    return "M" + -r + ",0a" + r + "," + r + " 0 1,0 " + 2 * r + ",0a" + r + "," + r + " 0 1,0 " + -2 * r + ",0";
  }

  function shorten(title, n) {
    // At most about n characters, cut only where a word or a phrase ends (a space or a punctuation mark):
    // the shown name is then whole words of the link's name (WCAG 2.5.3, as axe-core reads it).
    var ends = /[\s:：、，,;；—–]/g, best = -1, match;
    while ((match = ends.exec(title)) && match.index <= n) best = match.index;
    if (best < 0) best = title.search(/[\s:：、，,;；—–]/);
    return best > 0 ? title.slice(0, best) : title;
  }

  function groupIndex(data) {
    var index = {};
    data.groups.forEach(function (g, i) { index[g.id] = i; });
    return index;
  }

  function layout(data, ids, centre, width, minHeight, nameOf) {  // {id: [x, y]} inside the box, 1:1 with the page
    var nodes = ids.map(function (id) { return { id: id }; });
    var at = {};
    nodes.forEach(function (n, i) { at[n.id] = i; });
    var links = data.links.filter(function (l) { return l[0] in at && l[1] in at; })
      .map(function (l) { return { source: at[l[0]], target: at[l[1]] }; });
    if (centre >= 0 && centre in at) { nodes[at[centre]].fx = 0; nodes[at[centre]].fy = 0; }
    var degree = {};
    links.forEach(function (l) { degree[l.source] = (degree[l.source] || 0) + 1; degree[l.target] = (degree[l.target] || 0) + 1; });
    var narrow = width < 600;  // a phone: a tall layout, not a wide one
    var simulation = d3.forceSimulation(nodes)
      .force("link", d3.forceLink(links).distance(90))
      .force("charge", d3.forceManyBody().strength(-600).distanceMax(400))
      // Names run sideways: wide on a desktop; a page without links is held near the others.
      .force("x", d3.forceX(0).strength(function (n, i) { return degree[i] ? (narrow ? 0.3 : 0.04) : 0.4; }))
      .force("y", d3.forceY(0).strength(function (n, i) { return degree[i] ? (narrow ? 0.02 : 0.15) : 0.4; }))
      .force("collide", d3.forceCollide(34))
      .stop();
    simulation.tick(300);
    var xs = nodes.map(function (n) { return n.x; }), ys = nodes.map(function (n) { return n.y; });
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs), y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    // One scale both ways (the layout keeps its shape), never above 1: the box's height follows from it.
    var padX = Math.min(120, width / 4), padY = 24;
    var scale = Math.min(1, x1 > x0 ? (width - 2 * padX) / (x1 - x0) : 1);
    var height = Math.max(minHeight, Math.min(1400, (y1 - y0) * scale + 2 * padY));
    var out = {};
    nodes.forEach(function (n) {
      out[n.id] = [width / 2 + (n.x - (x0 + x1) / 2) * scale, height / 2 + (n.y - (y0 + y1) / 2) * scale];
    });
    // Names must not cover each other: where two names' boxes (estimated: 12 px a Chinese character,
    // 7 px another) overlap, the two dots move apart vertically; the box grows to keep them inside.
    var nameWidth = {};
    ids.forEach(function (id) {
      var name = nameOf(data.nodes[id].title), text = name.shown + (name.cut ? "…" : ""), w = 0;
      for (var c = 0; c < text.length; c++) w += /[\u2e80-\u9fff\uff00-\uffef]/.test(text[c]) ? 12 : 7;
      nameWidth[id] = w;
    });
    var boxOf = function (id) {
      var p = out[id], w = nameWidth[id];
      if (id === centre) return [p[0] - w / 2, p[0] + w / 2, p[1] - 10, p[1] + 30];
      return p[0] < width / 2 ? [p[0] - 10, p[0] + 14 + w, p[1] - 10, p[1] + 10] : [p[0] - 14 - w, p[0] + 10, p[1] - 10, p[1] + 10];
    };
    for (var round = 0; round < 30; round++) {
      var moved = false;
      for (var a = 0; a < ids.length; a++) {
        for (var b = a + 1; b < ids.length; b++) {
          var A = boxOf(ids[a]), B = boxOf(ids[b]);
          if (A[0] >= B[1] || B[0] >= A[1] || A[2] >= B[3] || B[2] >= A[3]) continue;
          var upper = out[ids[a]][1] <= out[ids[b]][1] ? ids[a] : ids[b], lower = upper === ids[a] ? ids[b] : ids[a];
          var push = (Math.min(A[3], B[3]) - Math.max(A[2], B[2])) / 2 + 1;
          out[upper][1] -= push;
          out[lower][1] += push;
          moved = true;
        }
      }
      if (!moved) break;
    }
    var top = Math.min.apply(null, ids.map(function (id) { return out[id][1]; }));
    var bottom = Math.max.apply(null, ids.map(function (id) { return out[id][1]; }));
    ids.forEach(function (id) { out[id][1] += padY - top; });
    height = Math.max(height, bottom - top + 2 * padY + (centre >= 0 ? 24 : 0));
    return { height: height, at: out, links: links.map(function (l) { return [nodes[l.source.index].id, nodes[l.target.index].id]; }) };
  }

  function widthOf(box) { return Math.max(240, Math.floor(box.clientWidth)); }  // the layout's width

  function draw(box, data) {
    var local = box.getAttribute("data-graph") === "local", centre = here(data);
    var twoHops = box.getAttribute("data-hops") === "2";
    if (local && centre < 0) return;
    var ids = local ? neighbours(data, centre, twoHops ? 2 : 1) : data.nodes.map(function (_, i) { return i; });
    ids.sort(function (a, b) { return a === centre ? -1 : b === centre ? 1 : data.nodes[a].title.localeCompare(data.nodes[b].title); });
    var figure = box.querySelector(".vault-graph-figure");
    if (!figure) {
      figure = document.createElement("figure");
      figure.className = "vault-graph-figure";
      box.appendChild(figure);
    }
    figure.textContent = "";
    var width = widthOf(box);
    var short = width < 600 ? 16 : 26;  // characters of a name shown beside its dot (all of it is the link's name)
    var nameOf = function (title) {  // {shown, cut}: what is written beside the dot, and whether "…" follows
      var shown = title.length > short ? shorten(title, short - 1) : title;
      return { shown: shown, cut: shown !== title };
    };
    var placed = layout(data, ids, local ? centre : -1, width, local ? 200 : 320, nameOf), height = placed.height;
    var groups = groupIndex(data);
    var svg = el("svg", { viewBox: "0 0 " + width + " " + height, width: width, height: height, role: "group",
                          "aria-label": local ? TEXT.local : TEXT.global, class: "vault-graph-svg" }, figure);
    var lines = el("g", { class: "vault-graph-links", "aria-hidden": "true" }, svg);
    placed.links.forEach(function (l) {
      var a = placed.at[l[0]], b = placed.at[l[1]];
      el("line", { x1: a[0], y1: a[1], x2: b[0], y2: b[1] }, lines);
    });
    var dots = el("g", { class: "vault-graph-nodes" }, svg);
    ids.forEach(function (id) {
      var node = data.nodes[id], p = placed.at[id], g = groups[node.group] || 0, mine = id === centre;
      var spot = el("g", { transform: "translate(" + p[0] + "," + p[1] + ")" }, dots);
      el("title", {}, spot).textContent = node.title + (mine ? TEXT.here : "");  // the whole name, on hover
      var link = mine ? el("g", { "aria-current": "page" }, spot)
                      : el("a", { href: new URL(node.url, root).href, "aria-label": node.title }, spot);
      link.setAttribute("class", "vault-graph-node vault-graph-g" + (g % SHAPES.length) + (mine ? " vault-graph-here" : ""));
      link.setAttribute("data-url", node.url);
      el("path", { d: shapePath(SHAPES[g % SHAPES.length], mine ? 9 : 7) }, link);
      var name = nameOf(node.title);
      // The shown name is the start of the link's name (WCAG 2.5.3); a cut one ends in "…" outside the link.
      var label = el("text", { y: 4 }, link);
      label.textContent = name.shown;
      var more = name.cut ? el("text", { y: 4, "aria-hidden": "true", class: "vault-graph-more" }, spot) : null;
      if (more) more.textContent = "…";
      var length = label.getComputedTextLength() + (more ? more.getComputedTextLength() : 0);
      // Beside the dot, on the side with room; below it for the note itself (its neighbours' names run
      // towards it from both sides) or when neither side has room: inside the box.
      var x = p[0] < width / 2 ? 12 : -12 - length, y = 4;
      if (mine || p[0] + x < 2 || p[0] + x + length > width - 2) {
        x = Math.max(2 - p[0], Math.min(width - 2 - p[0] - length, -length / 2));
        y = 24;
      }
      label.setAttribute("x", x);
      label.setAttribute("y", y);
      if (more) { more.setAttribute("x", x + label.getComputedTextLength()); more.setAttribute("y", y); }
    });
    var caption = document.createElement("figcaption");
    var out = data.links.filter(function (l) { return l[0] === centre; }).length;
    var into = data.links.filter(function (l) { return l[1] === centre; }).length;
    caption.textContent = local ? TEXT.localCaption(out, into) + (twoHops ? " " + TEXT.twoHops(ids.length) : "")
                                : TEXT.globalCaption(ids.length, placed.links.length);
    figure.appendChild(caption);
    var legend = document.createElement("ul");
    legend.className = "vault-graph-legend";
    legend.setAttribute("aria-label", TEXT.legend);
    data.groups.forEach(function (group, g) {
      if (!ids.some(function (id) { return data.nodes[id].group === group.id; })) return;
      var item = document.createElement("li");
      var swatch = el("svg", { width: 16, height: 16, viewBox: "-8 -8 16 16", "aria-hidden": "true",
                               class: "vault-graph-g" + (g % SHAPES.length) }, item);
      el("path", { d: shapePath(SHAPES[g % SHAPES.length], 6) }, swatch);
      item.appendChild(document.createTextNode(" " + group.label));
      legend.appendChild(item);
    });
    figure.appendChild(legend);
    if (local) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "vault-graph-hops";
      button.textContent = TEXT.hops;
      button.setAttribute("aria-pressed", twoHops ? "true" : "false");
      button.addEventListener("click", function () {
        box.setAttribute("data-hops", twoHops ? "1" : "2");
        draw(box, data);
        box.querySelector(".vault-graph-hops").focus();
      });
      figure.appendChild(button);
    }
    box.setAttribute("data-width", String(width));
    box.setAttribute("data-ready", "");
  }

  function start(box) {
    load().then(function (data) {
      if (!data || !window.d3) return;
      draw(box, data);
      if (window.ResizeObserver) {  // a new layout for a new width: the text keeps its size
        new ResizeObserver(function () {
          if (String(widthOf(box)) !== box.getAttribute("data-width")) draw(box, data);
        }).observe(box);
      }
    });
  }

  function init() {
    var boxes = [].slice.call(document.querySelectorAll("[data-graph]"));
    if (!boxes.length) return;
    if (!window.IntersectionObserver) { boxes.forEach(start); return; }
    var watcher = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting) { watcher.unobserve(entry.target); start(entry.target); }
      });
    }, { rootMargin: "600px 0px" });
    boxes.forEach(function (box) { watcher.observe(box); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
