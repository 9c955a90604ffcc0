/* Small comforts for the lesson page; everything still reads without them.
   Classic script (no modules, no fetch) so the page works from file://.
   It is loaded in <head>: it marks the page as scripted at once (so the
   diagram cards start hidden) and does the rest when the page is parsed. */
(function () {
  "use strict";
  var html = document.documentElement;
  html.classList.add("js");

  /* Light or dark: the reader's choice (the header's toggle, kept in
     localStorage) wins over the system's. Set now, before the first paint.
     Where storage is refused (some file:// or private modes), the choice
     lasts for this page only. */
  var THEME = "lesson-theme";
  try {
    var saved = localStorage.getItem(THEME);
    if (saved === "dark" || saved === "light") html.setAttribute("data-theme", saved);
  } catch (e) { /* no storage: follow the system */ }

  function each(selector, root, fn) {
    Array.prototype.forEach.call((root || document).querySelectorAll(selector), fn);
  }

  function setUpThemeToggle() {
    var system = window.matchMedia("(prefers-color-scheme: dark)");
    var dark = function () {
      var theme = html.getAttribute("data-theme");
      return theme ? theme === "dark" : system.matches;
    };
    var show = function () {
      each("[data-theme-toggle]", null, function (button) { button.setAttribute("aria-pressed", String(dark())); });
    };
    each("[data-theme-toggle]", null, function (button) {
      button.addEventListener("click", function () {
        var theme = dark() ? "light" : "dark";
        html.setAttribute("data-theme", theme);
        try { localStorage.setItem(THEME, theme); } catch (e) { /* kept for this page only */ }
        show();
      });
    });
    if (system.addEventListener) system.addEventListener("change", show);
    show();
  }

  /* ---- where the reader is */

  function currentSection(sections) {
    // The last section whose top has passed the upper third of the window.
    var line = window.innerHeight / 3;
    var current = null;
    sections.forEach(function (section) {
      if (section.getBoundingClientRect().top <= line) current = section;
    });
    return current;
  }

  function setUpNavigation() {
    // A jump to a section lands on it: sections on the way that the browser had left unlaid (style.css,
    // content-visibility) may take their real height after it has scrolled, so it is set right once settled.
    window.addEventListener("hashchange", function () {
      var target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
      if (!target) return;
      window.requestAnimationFrame(function () {
        window.requestAnimationFrame(function () { target.scrollIntoView(); });
      });
    });
    var sections = Array.prototype.slice.call(document.querySelectorAll(".lesson-section"));

    // The language switch lands on the same section: both pages share anchors.
    var switcher = document.querySelector("a[data-keep-section]");
    if (switcher) {
      var base = switcher.getAttribute("href");
      var follow = function () {
        // A shared explorer setting travels along; otherwise the section does.
        if (location.hash.indexOf("#explorer?") === 0) {
          switcher.setAttribute("href", base + location.hash);
          return;
        }
        var section = currentSection(sections);
        switcher.setAttribute("href", section ? base + "#" + section.id : base);
      };
      ["click", "focus", "mouseenter", "touchstart"].forEach(function (type) {
        switcher.addEventListener(type, follow, { passive: true });
      });
    }

    // Mark the current section in the contents (at the top, and in the sheet).
    var links = {};
    each(".toc-links a[href^='#']", null, function (a) {
      var id = a.getAttribute("href").slice(1);
      (links[id] = links[id] || []).push(a);
    });
    var marked = [];
    var mark = function () {
      var section = currentSection(sections);
      var now = (section && links[section.id]) || [];
      if (now === marked) return;
      marked.forEach(function (a) { a.removeAttribute("aria-current"); });
      now.forEach(function (a) { a.setAttribute("aria-current", "true"); });
      marked = now;
    };
    if (sections.length) {
      window.addEventListener("scroll", mark, { passive: true });
      window.requestAnimationFrame(mark);   // once the page is laid out: not in the middle of loading it
    }

    // The contents come folded (on a phone the lesson comes first; folding them after the first
    // paint moved the whole page up); beside the lesson, on a wide screen, they open.
    var toc = document.querySelector(".toc details");
    if (toc && !window.matchMedia("(max-width: 63.99rem)").matches) toc.setAttribute("open", "");
    setUpContentsSheet(mark);
  }

  /* On a narrow screen the header's button opens the contents as a sheet over the page, wherever
     the reader is, on the current section. A modal <dialog>: the page behind is inert (Tab reaches
     only the sheet), and Esc closes it. So do its close button, a tap outside it, and choosing a
     section (the link then goes there, and the keyboard carries on from that section). */
  function setUpContentsSheet(mark) {
    var sheet = document.getElementById("toc-sheet"), opener = document.querySelector(".toc-open");
    if (!sheet || !opener) return;
    var chosen = null;
    opener.addEventListener("click", function () {
      if (!sheet.showModal) { location.hash = "#toc-list"; return; }
      mark();
      sheet.showModal();
      opener.setAttribute("aria-expanded", "true");
      var here = sheet.querySelector("a[aria-current]") || sheet.querySelector("a");
      here.focus();
    });
    sheet.addEventListener("click", function (event) {
      // The sheet's own box is only clicked outside its content: on the backdrop.
      var link = event.target.closest("a[href^='#']");
      if (link) chosen = document.getElementById(link.getAttribute("href").slice(1));
      if (link || event.target === sheet || event.target.closest("[data-close-sheet]")) sheet.close();
    });
    sheet.addEventListener("close", function () {
      opener.setAttribute("aria-expanded", "false");
      if (!chosen) return;
      // The browser gives the focus back to the button; the reader went on to a section.
      var heading = chosen.querySelector("h2") || chosen;
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
      chosen = null;
    });
  }

  /* ---- the network diagrams: cards in a panel, the chain lit, one sample (or the mean) at a time

     A part's card shows in the panel beside the drawing (under it on a phone), never over it.
     Pointing at a part shows its card while the pointer stays; a click or a tap pins it, and a
     second one on the same part, Esc, or a tap elsewhere closes it. Tab shows a part's card;
     Enter or Space toggles it; Esc closes it and leaves the focus where it is. */

  function setUpDiagramParts(figure, layers) {
    var canvas = figure.querySelector(".diagram-canvas");
    var pinned = null;    // the part a click, tap or the keyboard chose
    var shown = null;     // the part whose card is shown: the pinned one, or the one under the pointer
    var pressed = null;   // during a click or tap: the part pressed, and whether it was pinned before
    var leaveTimer = null;
    var lastPress = 0;    // when the pointer last went down anywhere: presses close cards their own way

    function cardOf(part) { return document.getElementById(part.getAttribute("data-card")); }

    function display(part) {
      clearTimeout(leaveTimer);
      if (part === shown) return;
      if (shown) {
        shown.classList.remove("active");
        shown.setAttribute("aria-expanded", "false");
        cardOf(shown).classList.remove("open");
      }
      shown = part;
      if (part) {
        part.classList.add("active");
        part.setAttribute("aria-expanded", "true");
        fillCard(cardOf(part));
        cardOf(part).classList.add("open");
      }
      figure.classList.toggle("has-card", !!part);
      lightPaths(figure, layers, part);
    }

    function pin(part) { pinned = part; display(part); }
    function close() { pinned = null; display(null); }

    each(".dg-item", figure, function (part) {
      part.setAttribute("aria-expanded", "false");
      part.addEventListener("pointerdown", function () {
        pressed = { part: part, wasPinned: pinned === part, at: Date.now() };
      });
      part.addEventListener("focus", function () {
        // Reached by the keyboard: show. A press (a click or a tap) decides on its click instead.
        if (!pressed || Date.now() - pressed.at > 1000) pin(part);
      });
      part.addEventListener("click", function () {
        var wasPinned = pressed && pressed.part === part ? pressed.wasPinned : pinned === part;
        pressed = null;
        if (wasPinned) close(); else pin(part);
      });
      part.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          if (shown === part) close(); else pin(part);
        }
      });
      part.addEventListener("pointerenter", function (event) {
        if (event.pointerType === "mouse") display(part);
      });
      part.addEventListener("pointerleave", function (event) {
        if (event.pointerType !== "mouse") return;
        clearTimeout(leaveTimer);
        leaveTimer = setTimeout(function () { display(pinned); }, 200);
      });
    });
    figure.addEventListener("focusout", function (event) {
      // Tab or Shift+Tab out of the figure closes; a click on the card itself must not.
      if (!pressed && Date.now() - lastPress > 1000 && !figure.contains(event.relatedTarget)) close();
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && shown) close();
    });
    document.addEventListener("pointerdown", function (event) {
      // A press elsewhere closes the card: outside the figure, or on the drawing between its parts.
      var target = event.target;
      lastPress = Date.now();
      var inPart = target.closest && target.closest(".dg-item");
      if (!inPart) pressed = null;
      if (shown && !inPart && (!figure.contains(target) || canvas.contains(target))) close();
    }, true);
  }

  /* Light every path from the loss down to a part of the backward diagram: on each link
     its local derivative shows (the drawing carries them all, hidden), and its product is
     the part's gradient. Paths go up from the part's node through every node above it. */
  function lightPaths(figure, layers, part) {
    if (!figure.classList.contains("diagram-backward")) return;
    each(".on-path", figure, function (node) { node.classList.remove("on-path", "path-w", "path-in", "path-s", "path-end"); });
    figure.classList.toggle("lit", !!part);
    if (!part || !layers) return;
    var L = layers.length - 1;
    var mark = function (id, role) {
      var node = document.getElementById("bwd-" + id);
      if (node) node.classList.add("on-path", role);
    };
    var done = {};
    var up = function (l, j) {   // node j of layer l is on a path: every step above it is too
      if (done[l + "_" + j]) return;   // marked already: x has 9^4 paths in a 1-9-9-9-9-1 network
      done[l + "_" + j] = true;
      for (var m = 1; l < L && m <= layers[l + 1]; m++) {
        mark("w" + j + m + "_" + (l + 1), "path-w");   // dz/da below = the weight
        mark("a" + m + "_" + (l + 1), "path-s");        // da/dz = sigma'(z)
        up(l + 1, m);
      }
    };
    var name = part.id.replace(/^bwd-/, ""), node = name.slice(1).split("_");
    if (name === "x") {
      part.classList.add("on-path", "path-end");
      up(0, 1);
    } else if (name[0] === "a") {
      part.classList.add("on-path", "path-end");
      up(+node[1], +node[0]);
    } else {                        // a weight or bias: its node's sigma', then its own input (a, x or 1)
      var l = +node[1], j = +node[0].slice(-1);
      part.classList.add("on-path", "path-in");
      mark("a" + j + "_" + l, "path-s");
      up(l, j);
    }
    figure.querySelector(".dg-loss").classList.add("on-path");
  }

  var MATHML = "http://www.w3.org/1998/Math/MathML";   // the namespace of the formulas' elements
  var SUBSCRIPT = "\u2080\u2081\u2082\u2083\u2084\u2085\u2086\u2087\u2088\u2089";

  /* Both diagrams show the numbers of one sample, or the mean, for the parameters the page
     last announced (the "lesson:params" event: a snapshot, a training step, a reset). */
  function setUpDiagrams(data, text) {
    var figures = Array.prototype.slice.call(document.querySelectorAll(".diagram"));
    figures.forEach(function (figure) { setUpDiagramParts(figure, data && data.layers); });
    if (!data || !window.LessonNet || !figures.length) return;
    var state = { params: data.initial.slice(), epoch: data.snapshots[0].epoch, sample: data.example };

    function redraw() {
      var mean = state.sample === "mean";
      var values = LessonNet.slots(data.layers, state.params, data.points, state.sample);
      var sub = mean ? "" : String(state.sample + 1).replace(/\d/g, function (d) { return SUBSCRIPT[+d]; });
      // Cards are filled when first opened (fillCard): the ones filled so far are written now, the
      // others when they open.
      repaint = function (root) {
        fillSlots(root, values);
        each("[data-sub]", root, function (node) { node.textContent = sub; });
      };
      figures.forEach(function (figure) {
        figure.classList.toggle("mean-mode", mean);
        repaint(figure);
        each("[data-sample]", figure, function (select) { select.value = String(state.sample); });
      });
      var point = mean ? null : data.points[state.sample];
      // Parameters of no epoch (values the reader typed) are named as such.
      var free = state.epoch === null || state.epoch === undefined;
      each("[data-moment]", null, function (node) {
        node.textContent = mean
          ? words(free ? text.moment_free_mean : text.moment_mean, { epoch: state.epoch, n: data.points.length })
          : words(free ? text.moment_free : text.moment, { epoch: state.epoch, k: state.sample + 1, x: minus(String(point[0])), y: minus(String(point[1])) });
      });
    }

    each("[data-sample]", null, function (select) {
      select.addEventListener("change", function () {
        state.sample = select.value === "mean" ? "mean" : +select.value;
        redraw();
      });
    });
    document.addEventListener("lesson:params", function (event) {
      var detail = event.detail || {};
      if (detail.values && detail.values.length === state.params.length) state.params = detail.values.slice();
      if ("epoch" in detail) state.epoch = detail.epoch;
      redraw();
    });
    redraw();
  }

  /* ---- numbers as the build writes them */

  function words(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }

  /* engine/numerals.py: every number shown has the minus sign U+2212, never a hyphen-minus. */
  function minus(text) { return text.replace(/-/g, "\u2212"); }

  /* engine/formulas.py num(): 4 significant digits, negatives in parentheses unless a result. */
  function formulaNumber(value, result) {
    var text = sig(value);
    return text.charAt(0) === "\u2212" && !result ? "(" + text + ")" : text;
  }

  /* engine/diagram.py short(): Python's "%.3g". */
  function shortNumber(value) {
    if (value === 0) return "0";
    var exp = value.toExponential(2), power = +exp.split("e")[1], text;
    var strip = function (t) { return t.indexOf(".") < 0 ? t : t.replace(/0+$/, "").replace(/\.$/, ""); };
    if (power < -4 || power >= 3) {
      text = strip(exp.split("e")[0]) + "e" + (power < 0 ? "-" : "+") + (Math.abs(power) < 10 ? "0" : "") + Math.abs(power);
    } else {
      text = strip(value.toFixed(2 - power));
    }
    return minus(text);
  }

  /* engine/numerals.py sig(): 4 significant digits, fixed notation. */
  function sig(value) {
    if (value === 0 || !isFinite(value)) return minus(String(value));
    return fixed(value, Math.max(0, 3 - Math.floor(Math.log10(Math.abs(value)))));
  }

  /* engine/numerals.py fixed(): a fixed count of decimals. */
  function fixed(value, decimals) { return minus(value.toFixed(decimals)); }

  /* The same words and numbers for the training display (assets/trainer.js, which loads later). */
  window.LessonText = { words: words, minus: minus, sig: sig, fixed: fixed };

  /* Write new values into every marked number of the diagrams and their cards; a number
     the values lack (one sample's, when the mean is shown) becomes a dash. */
  function fillSlots(root, values) {
    each("[data-slot]", root, function (node) {
      var value = values[node.getAttribute("data-slot")];
      var digits = node.getAttribute("data-digits");
      var missing = value === undefined || value === null;
      if (digits) {
        node.textContent = missing ? "\u2013" : digits === "4" ? formulaNumber(value, true) : shortNumber(value);
        return;
      }
      // A number in a formula: an <mn>, or a group (<mrow>) of a sign, the digits and brackets,
      // which then holds one <mn> with the whole new number.
      var text = missing ? "\u2013" : node.getAttribute("data-whole") === "1" ? minus(String(value))
        : formulaNumber(value, node.getAttribute("data-result") === "1");
      if (node.localName === "mn") { node.textContent = text; return; }
      var number = document.createElementNS(MATHML, "mn");
      number.textContent = text;
      node.replaceChildren(number);
    });
  }

  /* A box that scrolls sideways (a wide table on a phone) must be reachable by keyboard to be
     scrolled. Each box is checked when the browser lays it out (a ResizeObserver reports it then):
     reading every box's width at once would make the browser lay out the whole page before
     the reader can do anything (sections off screen wait until they are near, style.css). */
  function checkScroller(box) {
    if (box.scrollWidth > box.clientWidth + 1) {
      box.setAttribute("tabindex", "0");
      // A drawing wider than its box (a layer of five or more nodes) opens on its middle: x and the output.
      if (box.classList.contains("diagram-canvas") && !box.hasAttribute("data-centred")) {
        box.setAttribute("data-centred", "");
        box.scrollLeft = (box.scrollWidth - box.clientWidth) / 2;
      }
    } else if (!box.hasAttribute("role")) box.removeAttribute("tabindex");
  }

  function makeScrollersFocusable() {
    var boxes = ".math-display, .table-wrap, .card-math, .diagram-canvas";
    if (!window.ResizeObserver) {
      each(boxes, null, checkScroller);
      return;
    }
    var watch = new ResizeObserver(function (entries) {
      entries.forEach(function (entry) { checkScroller(entry.target); });
    });
    each(boxes, null, function (box) { watch.observe(box); });
  }

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  /* The diagram cards' formulas are the same in both languages, so they come
     from one file both pages share (assets/cards.js, loaded before this runs). A card's formulas
     enter the page only when it first opens: filling all of them at load added some 14,000 elements. */
  var repaint = null;   // writes the numbers the diagrams show now into a newly filled card

  function fillCard(card) {
    if (!card || card.hasAttribute("data-filled")) return;
    var formulas = window.LessonCards || {};
    each("[data-card-math]", card, function (box) {
      var html = formulas[box.getAttribute("data-card-math")];
      if (html) box.innerHTML = html;
    });
    card.setAttribute("data-filled", "");
    if (repaint) repaint(card);
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpThemeToggle();
    var data = readJson("lesson-data"), text = readJson("lesson-words");
    setUpDiagrams(data, text);
    setUpNavigation();
    makeScrollersFocusable();
  });
})();
