/* Small comforts for the lesson page; everything still works without them.
   Classic script (no modules, no fetch) so the page works from file://. */
(function () {
  "use strict";

  var sections = Array.prototype.slice.call(document.querySelectorAll(".lesson-section"));

  /* The section the reader is looking at: the last one whose top has passed
     the upper third of the window. */
  function currentSection() {
    var line = window.innerHeight / 3;
    var current = null;
    sections.forEach(function (section) {
      if (section.getBoundingClientRect().top <= line) current = section;
    });
    return current;
  }

  /* The language switch lands on the same section in the other language:
     both pages use the same anchors. */
  var switcher = document.querySelector("a[data-keep-section]");
  if (switcher) {
    var base = switcher.getAttribute("href");
    var follow = function () {
      var section = currentSection();
      switcher.setAttribute("href", section ? base + "#" + section.id : base);
    };
    switcher.addEventListener("click", follow);
    switcher.addEventListener("focus", follow);
    switcher.addEventListener("mouseenter", follow);
  }

  /* Mark the current section in the table of contents. */
  var links = {};
  Array.prototype.forEach.call(document.querySelectorAll(".toc a[href^='#']"), function (a) {
    links[a.getAttribute("href").slice(1)] = a;
  });
  var marked = null;
  function mark() {
    var section = currentSection();
    var link = section && links[section.id];
    if (link === marked) return;
    if (marked) marked.removeAttribute("aria-current");
    if (link) link.setAttribute("aria-current", "true");
    marked = link || null;
  }
  if (sections.length) {
    window.addEventListener("scroll", mark, { passive: true });
    mark();
  }

  /* On a narrow screen the contents start folded so the lesson comes first. */
  var toc = document.querySelector(".toc details");
  if (toc && window.matchMedia("(max-width: 63.99rem)").matches) toc.removeAttribute("open");
})();
