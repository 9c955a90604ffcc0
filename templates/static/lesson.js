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

    // Mark the current section in the table of contents.
    var links = {};
    each(".toc a[href^='#']", null, function (a) { links[a.getAttribute("href").slice(1)] = a; });
    var marked = null;
    var mark = function () {
      var section = currentSection(sections);
      var link = (section && links[section.id]) || null;
      if (link === marked) return;
      if (marked) marked.removeAttribute("aria-current");
      if (link) link.setAttribute("aria-current", "true");
      marked = link;
    };
    if (sections.length) {
      window.addEventListener("scroll", mark, { passive: true });
      mark();
    }

    // On a narrow screen the contents start folded so the lesson comes first.
    var toc = document.querySelector(".toc details");
    if (toc && window.matchMedia("(max-width: 63.99rem)").matches) toc.removeAttribute("open");
  }

  /* ---- diagram cards: hover, focus or tap a part to see its formula */

  function setUpDiagram(figure) {
    var open = null;      // the card shown now
    var owner = null;     // the diagram part it belongs to
    var hideTimer = null;

    function place(card, part) {
      // Beside the part, never over it: below if there is room, else above.
      var box = figure.getBoundingClientRect();
      var target = part.getBoundingClientRect();
      var width = card.offsetWidth;
      var left = target.left + target.width / 2 - box.left - width / 2;
      left = Math.max(0, Math.min(left, box.width - width));
      var below = target.bottom - box.top + 12;
      var above = target.top - box.top - card.offsetHeight - 12;
      var roomBelow = window.innerHeight - target.bottom;
      card.style.left = left + "px";
      card.style.top = (roomBelow >= card.offsetHeight + 16 || above < 0 ? below : above) + "px";
    }

    function show(part) {
      clearTimeout(hideTimer);
      var card = document.getElementById(part.getAttribute("data-card"));
      if (!card) return;
      if (open && open !== card) hide();
      open = card;
      owner = part;
      card.classList.add("open");
      part.classList.add("active");
      place(card, part);
      // Focus scrolls the page and restyles the part after this handler: place again once settled.
      requestAnimationFrame(function () { if (open === card) place(card, part); });
    }

    function hide() {
      clearTimeout(hideTimer);
      if (open) open.classList.remove("open");
      if (owner) owner.classList.remove("active");
      open = owner = null;
    }

    function hideSoon() {
      clearTimeout(hideTimer);
      hideTimer = setTimeout(hide, 250);
    }

    each(".dg-item", figure, function (part) {
      part.addEventListener("pointerenter", function (event) {
        if (event.pointerType !== "touch") show(part);
      });
      part.addEventListener("pointerleave", function (event) {
        if (event.pointerType !== "touch") hideSoon();
      });
      part.addEventListener("focus", function () { show(part); });
      part.addEventListener("blur", hideSoon);
      part.addEventListener("click", function () {
        if (owner === part && open) hide(); else show(part);
      });
      part.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          if (owner === part && open) hide(); else show(part);
        }
      });
    });
    each(".card", figure, function (card) {
      card.addEventListener("pointerenter", function () { clearTimeout(hideTimer); });
      card.addEventListener("pointerleave", hideSoon);
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && open) hide();
    });
    document.addEventListener("pointerdown", function (event) {
      if (open && !figure.contains(event.target)) hide();
    });
    window.addEventListener("resize", function () { if (open) place(open, owner); });
  }

  /* ---- numbers as the build writes them */

  function words(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }

  function minus(text) { return text.replace("-", "\u2212"); }

  /* engine/formulas.py num(): 4 significant digits, negatives in parentheses unless a result. */
  function formulaNumber(value, result) {
    var text;
    if (value === 0 || !isFinite(value)) text = String(value);
    else text = value.toFixed(Math.max(0, 3 - Math.floor(Math.log10(Math.abs(value)))));
    return text.charAt(0) === "-" && !result ? "(" + minus(text) + ")" : minus(text);
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

  /* engine/pages.py sig(): 4 significant digits, fixed notation. */
  function sig(value) {
    if (value === 0 || !isFinite(value)) return String(value);
    return value.toFixed(Math.max(0, 3 - Math.floor(Math.log10(Math.abs(value)))));
  }

  /* Write new values into every marked number of the diagrams and their cards. */
  function fillSlots(root, values) {
    each("[data-slot]", root, function (node) {
      var value = values[node.getAttribute("data-slot")];
      if (value === undefined) return;
      if (node.hasAttribute("data-digits")) { node.textContent = shortNumber(value); return; }
      // A KaTeX group: keep its trailing spaces, replace the number inside it.
      var spaces = Array.prototype.filter.call(node.children, function (c) { return c.classList.contains("mspace"); });
      node.textContent = "";
      var number = document.createElement("span");
      number.textContent = formulaNumber(value, node.getAttribute("data-result") === "1");
      node.appendChild(number);
      spaces.forEach(function (space) { node.appendChild(space); });
    });
  }

  /* ---- the diagrams follow the gradient-descent display (assets/trainer.js):
     whenever it shows other parameters it sends a "lesson:params" event. */

  var run = null;   // the page's data, read once
  document.addEventListener("lesson:params", function (event) {
    run = run || { data: readJson("lesson-data"), text: readJson("lesson-words") };
    var data = run.data, text = run.text;
    if (!data || !window.LessonNet) return;
    var values = event.detail.values, example = data.points[data.example];
    each(".diagram", null, function (diagram) {
      fillSlots(diagram, LessonNet.slots(data.layers, values, data.points, data.example));
    });
    each("[data-moment]", null, function (node) {
      node.textContent = words(text.moment, { epoch: event.detail.epoch, k: data.example + 1, x: example[0], y: example[1] });
    });
  });

  /* A box that scrolls sideways (a wide formula or table on a phone) must be
     reachable by keyboard to be scrolled. */
  function makeScrollersFocusable() {
    each(".math-display, .table-wrap, .card-math, .diagram-canvas", null, function (box) {
      if (box.scrollWidth > box.clientWidth + 1) box.setAttribute("tabindex", "0");
      else if (!box.hasAttribute("role")) box.removeAttribute("tabindex");
    });
  }

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  /* The diagram cards' formulas are the same in both languages, so they come
     from one file both pages share (assets/cards.js, loaded before this runs). */
  function fillCards() {
    var formulas = window.LessonCards || {};
    each("[data-card-math]", null, function (box) {
      var html = formulas[box.getAttribute("data-card-math")];
      if (html) box.innerHTML = html;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    fillCards();
    setUpThemeToggle();
    setUpNavigation();
    makeScrollersFocusable();
    window.addEventListener("resize", makeScrollersFocusable);
    each(".diagram", null, setUpDiagram);
  });
})();
