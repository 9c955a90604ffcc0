/* Small comforts for the lesson page; everything still reads without them.
   Classic script (no modules, no fetch) so the page works from file://.
   It is loaded in <head>: it marks the page as scripted at once (so the
   diagram cards start hidden) and does the rest when the page is parsed. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function each(selector, root, fn) {
    Array.prototype.forEach.call((root || document).querySelectorAll(selector), fn);
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
      var below = target.bottom - box.top + 8;
      var above = target.top - box.top - card.offsetHeight - 8;
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

  /* A box that scrolls sideways (a wide formula or table on a phone) must be
     reachable by keyboard to be scrolled. */
  function makeScrollersFocusable() {
    each(".math-display, .table-wrap, .card-math, .diagram-canvas", null, function (box) {
      if (box.scrollWidth > box.clientWidth + 1) box.setAttribute("tabindex", "0");
      else if (!box.hasAttribute("role")) box.removeAttribute("tabindex");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpNavigation();
    makeScrollersFocusable();
    window.addEventListener("resize", makeScrollersFocusable);
    each(".diagram", null, setUpDiagram);
  });
})();
