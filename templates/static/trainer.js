/* The gradient-descent display (templates/partials/trainer.html): one box, two modes.
   - recorded: the build's own snapshots (numpy's run), its PNG frames and numbers;
   - live: gradient descent in the browser from the values the reader types, with
     LessonNet (assets/network.js, the same arithmetic as numpy), drawn as it goes.
   Whatever it shows, it announces the parameters with a "lesson:params" event, so
   the network diagrams can show the same numbers.
   Classic script, loaded at the end of the page (after lesson.js and network.js, in <head>);
   it starts when the page is parsed. */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";

  // Filling in the page's words, and numbers with their minus sign (U+2212): as lesson.js writes them.
  var words = LessonText.words, minus = LessonText.minus, sig = LessonText.sig, fixed = LessonText.fixed;

  function node(name, attributes, parent, text) {
    var made = document.createElementNS(SVG, name);
    Object.keys(attributes).forEach(function (key) { made.setAttribute(key, attributes[key]); });
    if (text !== undefined) made.textContent = text;
    if (parent) parent.appendChild(made);
    return made;
  }

  /* A number shown rounded, its full value kept in data-value for whoever needs it exactly. */
  function show(element, value, text) {
    element.setAttribute("data-value", String(value));
    element.textContent = text;
  }

  /* ---- the plots: a frame (axes, ticks, labels) with a drawing layer on top.
     The drawing is as wide in SVG units as it is on screen, so its text keeps
     its size on a phone; a new width or scale draws the frame again. */

  function sizeOf(svg, ratio, least, most) {
    var w = Math.round(svg.getBoundingClientRect().width) || 480;
    w = Math.max(280, Math.min(760, w));
    var h = Math.round(Math.max(least, Math.min(most, w * ratio)));
    return { w: w, h: h };
  }

  function frame(svg, box, xTicks, yTicks, sx, sy) {
    while (svg.lastChild && svg.lastChild.nodeName !== "title") svg.removeChild(svg.lastChild);
    svg.setAttribute("viewBox", "0 0 " + box.w + " " + box.h);
    var axes = node("g", { "class": "tr-axes" }, svg);
    var x0 = box.left, x1 = box.w - box.right, y0 = box.h - box.bottom, y1 = box.top;
    yTicks.forEach(function (t) {
      node("line", { "class": "tr-grid", x1: x0, x2: x1, y1: sy(t.at), y2: sy(t.at) }, axes);
      node("text", { "class": "tr-tick", x: x0 - 6, y: sy(t.at) + 4, "text-anchor": "end" }, axes, t.label);
    });
    xTicks.forEach(function (t) {
      node("line", { "class": "tr-grid", x1: sx(t.at), x2: sx(t.at), y1: y0, y2: y1 }, axes);
      node("line", { "class": "tr-axis", x1: sx(t.at), x2: sx(t.at), y1: y0, y2: y0 + 5 }, axes);
      node("text", { "class": "tr-tick", x: sx(t.at), y: y0 + 18, "text-anchor": "middle" }, axes, t.label);
    });
    node("path", { "class": "tr-axis", d: "M" + x0 + "," + y1 + "V" + y0 + "H" + x1 }, axes);
    node("text", { "class": "tr-label", x: (x0 + x1) / 2, y: box.h - 8, "text-anchor": "middle" }, axes, svg.getAttribute("data-x"));
    node("text", { "class": "tr-label", x: 0, y: 0, "text-anchor": "middle",
      transform: "translate(14," + (y0 + y1) / 2 + ") rotate(-90)" }, axes, svg.getAttribute("data-y"));
    return node("g", {}, svg);
  }

  /* A plot is drawn once the display comes near the screen (the last drawing asked for waits until
     then): measuring it sooner would make the browser lay out the display's whole section while the
     page loads, which it otherwise leaves until the reader comes near (style.css). */
  function whenNear(svg, plot) {
    var near = !window.IntersectionObserver, waiting = null;
    if (!near) {
      new IntersectionObserver(function (entries, watch) {
        if (!entries.some(function (entry) { return entry.isIntersecting; })) return;
        near = true;
        watch.disconnect();
        if (waiting) plot.draw.apply(null, waiting);
      }, { rootMargin: "100% 0px" }).observe(svg);
    }
    return { draw: function () { if (near) plot.draw.apply(null, arguments); else waiting = arguments; } };
  }

  function fitPlot(svg, points, layers) {
    var xs = points.map(function (p) { return p[0]; });
    var lo = Math.min.apply(null, xs), hi = Math.max.apply(null, xs);
    var pad = hi > lo ? 0.08 * (hi - lo) : 1;   // as engine/figures.py x_range()
    lo -= pad; hi += pad;
    var drawn = null, layer, start, now, sx, sy;

    function setUpFrame(size) {
      var box = { w: size.w, h: size.h, left: 48, right: 14, top: 12, bottom: 48 };
      sx = function (x) { return box.left + (x - lo) / (hi - lo) * (box.w - box.left - box.right); };
      sy = function (y) { return box.h - box.bottom - (y + 0.08) / 1.16 * (box.h - box.top - box.bottom); };
      var xTicks = [], stride = Math.max(1, Math.ceil((hi - lo) / (box.w / 60)));
      for (var t = Math.ceil(lo / stride) * stride; t <= hi; t += stride) xTicks.push({ at: t, label: minus(String(t)) });
      layer = frame(svg, box, xTicks, [0, 0.5, 1].map(function (y) { return { at: y, label: String(y) }; }), sx, sy);
      start = node("path", { "class": "tr-start" }, layer);
      now = node("path", { "class": "tr-now" }, layer);
      points.forEach(function (p) {
        var x = sx(p[0]), y = sy(p[1]);
        if (p[1] >= 0.5) node("circle", { "class": "tr-fits", cx: x, cy: y, r: 5.5 }, layer);
        else node("path", { "class": "tr-fails", d: "M" + (x - 4.5) + "," + (y - 4.5) + "l9,9m0,-9l-9,9" }, layer);
      });
    }

    function curve(values) {
      var d = "";
      for (var k = 0; k <= 160; k++) {
        var x = lo + (hi - lo) * k / 160;
        d += (k ? "L" : "M") + sx(x).toFixed(1) + "," + sy(LessonNet.predict(layers, values, x)).toFixed(1);
      }
      return d;
    }

    return {
      draw: function (startValues, values) {
        var size = sizeOf(svg, 0.6, 220, 320), key = size.w + "x" + size.h;
        if (drawn !== key) { setUpFrame(size); drawn = key; }
        start.setAttribute("d", startValues ? curve(startValues) : "");
        now.setAttribute("d", values ? curve(values) : "");
      }
    };
  }

  /* 10^v as a reader writes it: 0.01 while that is short, 1e−5 below. */
  function decade(v) {
    return v >= -4 && v <= 4 ? fixed(Math.pow(10, v), Math.max(0, -v)) : minus("1e" + v);
  }

  function lossPlot(svg) {
    var drawn = null, layer, sx, sy;

    function setUpFrame(size, epochs, top, bottom) {
      var box = { w: size.w, h: size.h, left: 62, right: 22, top: 12, bottom: 48 };
      // Epochs on a log scale, as in the lesson's loss figure: the first epochs' fall gets room.
      var span = Math.log10(Math.max(2, epochs));
      sx = function (e) { return box.left + Math.log10(e) / span * (box.w - box.left - box.right); };
      sy = function (v) { return box.top + (top - v) / (top - bottom) * (box.h - box.top - box.bottom); };
      var yTicks = [], every = Math.ceil((top - bottom) / 5);
      for (var v = top; v >= bottom; v -= every) yTicks.push({ at: v, label: decade(v) });
      // Over a decade or two, 2 and 5 times each power of ten help to read the values.
      if (top - bottom <= 2) {
        for (v = bottom; v < top; v++) {
          [2, 5].forEach(function (m) {
            yTicks.push({ at: v + Math.log10(m), label: fixed(m * Math.pow(10, v), Math.max(0, -v)) });
          });
        }
      }
      var xTicks = [], e;
      for (e = 1; e <= epochs; e *= 10) xTicks.push({ at: e, label: String(e) });
      e = xTicks[xTicks.length - 1].at;   // the last epoch too, where it has room
      if (epochs !== e && sx(epochs) - sx(e) > 8 * String(epochs).length + 8) xTicks.push({ at: epochs, label: String(epochs) });
      layer = frame(svg, box, xTicks, yTicks, sx, sy);
    }

    return {
      // losses[k] is the loss of epoch k + 1; the epoch axis runs over all the epochs asked for.
      draw: function (losses, epochs) {
        if (!losses.length) {
          while (svg.lastChild && svg.lastChild.nodeName !== "title") svg.removeChild(svg.lastChild);
          drawn = null;
          return;
        }
        var logs = losses.map(function (l) { return Math.log10(Math.max(l, 1e-300)); });
        var top = Math.ceil(Math.max.apply(null, logs));
        var bottom = Math.min(top - 1, Math.floor(Math.min.apply(null, logs)));
        var size = sizeOf(svg, 0.4, 190, 260);
        var key = [size.w, size.h, epochs, top, bottom].join(":");
        if (drawn !== key) { setUpFrame(size, epochs, top, bottom); drawn = key; }
        layer.textContent = "";
        var n = losses.length, stride = Math.max(1, Math.floor(n / 500)), d = "";
        // Every one of the first epochs (the log scale spreads them out), then every stride-th.
        for (var k = 0; k < n; k += k < 100 ? 1 : stride) d += (k ? "L" : "M") + sx(k + 1).toFixed(1) + "," + sy(logs[k]).toFixed(1);
        d += "L" + sx(n).toFixed(1) + "," + sy(logs[n - 1]).toFixed(1);
        node("path", { "class": "tr-loss", d: d }, layer);
        node("circle", { "class": "tr-loss-dot", cx: sx(n), cy: sy(logs[n - 1]), r: 4 }, layer);
      }
    };
  }

  /* ---- the display */

  function setUp(data, text) {
    var box = document.getElementById("explorer");
    if (!box) return;
    var $ = function (selector) { return box.querySelector(selector); };
    var all = function (selector) { return Array.prototype.slice.call(box.querySelectorAll(selector)); };
    var calm = window.matchMedia("(prefers-reduced-motion: reduce)");

    var range = document.getElementById("scrubber-range");
    var image = document.getElementById("scrubber-image");
    var root = image.getAttribute("data-root");
    var playButton = $("[data-action='play']"), stepButton = $("[data-action='step']");
    var readout = document.getElementById("trainer-readout");
    var epochText = document.getElementById("trainer-epoch");
    var lossText = document.getElementById("trainer-loss-value");
    var every = document.getElementById("trainer-every");
    var note = document.getElementById("trainer-mode-note");
    var command = document.getElementById("explorer-command");
    var fields = data.names.map(function (name) { return document.getElementById("ex-" + name); });
    var rateField = document.getElementById("ex-learning-rate");
    var epochsField = document.getElementById("ex-epochs");
    var cells = data.names.map(function (name) {
      return { value: $("td[data-param='" + name + "']"), grad: $("td[data-grad='" + name + "']") };
    });
    var fitSvg = document.getElementById("trainer-fit"), lossSvg = document.getElementById("trainer-loss");
    var fit = whenNear(fitSvg, fitPlot(fitSvg, data.points, data.layers));
    var loss = whenNear(lossSvg, lossPlot(lossSvg));

    var mode = "recorded";
    var timer = null;        // the running play loop, whichever mode
    var live = null;         // {start, rate, epochs, epoch, params, loss, grads, losses}; null while a value is wrong

    /* Put one state on screen: epoch, loss, every parameter and gradient; tell the diagrams. */
    function display(epoch, lossValue, params, grads) {
      show(epochText, epoch, String(epoch));
      show(lossText, lossValue, sig(lossValue));
      cells.forEach(function (cell, p) {
        show(cell.value, params[p], fixed(params[p], 4));
        show(cell.grad, grads[p], fixed(grads[p], 6));
      });
      document.dispatchEvent(new CustomEvent("lesson:params", { detail: { values: params.slice(), epoch: epoch } }));
    }

    function blank() {
      [epochText, lossText].forEach(function (el) { el.removeAttribute("data-value"); el.textContent = "\u2013"; });
      cells.forEach(function (cell) {
        [cell.value, cell.grad].forEach(function (el) { el.removeAttribute("data-value"); el.textContent = "\u2013"; });
      });
      fit.draw(null, null);
      loss.draw([], 1);
    }

    /* -- recorded: the build's snapshots */

    function showSnapshot(index) {
      index = Math.max(0, Math.min(data.snapshots.length - 1, index));
      var snap = data.snapshots[index];
      range.value = index;
      range.setAttribute("aria-valuetext", words(text.readout, { epoch: snap.epoch, loss: sig(snap.loss) }));
      image.src = root + data.frames[index];
      image.alt = words(text.frame_alt, { epoch: snap.epoch, loss: sig(snap.loss) });
      display(snap.epoch, snap.loss, snap.params, snap.grads);
    }

    /* -- live: gradient descent from the values typed */

    function liveState(state) {
      var g = LessonNet.lossAndGradient(data.layers, state.params, data.points);
      state.loss = g.loss;
      state.grads = g.grads;
      return state;
    }

    function showLive() {
      if (!live) { blank(); return; }
      display(live.epoch, live.loss, live.params, live.grads);
      fit.draw(live.start, live.params);
      loss.draw(live.losses, live.epochs);
    }

    /* Train up to the next displayed epoch: every "every" epochs, and the last one.
       The numbers of epoch e are those it starts with, as in the build's snapshots. */
    function advance() {
      if (!live || live.epoch >= live.epochs) return false;
      var n = +every.value;
      var target = Math.min(live.epochs, (Math.floor(live.epoch / n) + 1) * n);
      while (live.epoch < target) {
        for (var p = 0; p < live.params.length; p++) live.params[p] -= live.rate * live.grads[p];
        live.epoch += 1;
        liveState(live);
        live.losses.push(live.loss);
      }
      return true;
    }

    /* -- the values: read, check, and report beside the field that is wrong */

    function number(text) {
      var t = text.trim().replace(/\u2212/g, "-");
      return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t) ? parseFloat(t) : NaN;
    }

    function mark(field, message) {
      var error = document.getElementById(field.id + "-error");
      if (message) {
        field.setAttribute("aria-invalid", "true");
        field.setAttribute("aria-describedby", error.id);
        error.textContent = message;
        error.hidden = false;
      } else {
        field.removeAttribute("aria-invalid");
        field.removeAttribute("aria-describedby");
        error.textContent = "";
        error.hidden = true;
      }
      return !message;
    }

    function read() {
      var ok = true;
      var values = fields.map(function (field) {
        var v = number(field.value);
        ok = mark(field, isFinite(v) ? "" : text.bad_number) && ok;
        return v;
      });
      var rate = number(rateField.value);
      ok = mark(rateField, rate > 0 && isFinite(rate) ? "" : text.bad_rate) && ok;
      var epochs = number(epochsField.value);
      ok = mark(epochsField, epochs >= 1 && epochs <= 100000 && Math.round(epochs) === epochs ? "" : text.bad_epochs) && ok;
      return ok ? { values: values, rate: rate, epochs: epochs } : null;
    }

    function unit(textContent) {
      var span = document.createElement("span");
      span.className = "command-unit";
      span.textContent = textContent;
      return span;
    }

    function writeCommand(state) {
      // One unbreakable unit per "--set key=value"; lines break only at the spaces between them.
      command.textContent = "";
      // The shape comes first: the parameter names depend on it. Quoted, since a shell may read [...] as a pattern.
      var parts = ["python build.py", "--set 'network.layers=[" + data.layers.join(",") + "]'"].concat(data.names.map(function (name, p) {
        return "--set init." + name + "=" + state.values[p];
      }), ["--set train.learning_rate=" + state.rate, "--set train.epochs=" + state.epochs]);
      parts.forEach(function (part, k) {
        if (k) command.appendChild(document.createTextNode(" "));
        command.appendChild(unit(part));
      });
    }

    function fragment(state) {
      var parts = data.names.map(function (name, p) { return name + "=" + state.values[p]; });
      parts.push("learning_rate=" + state.rate, "epochs=" + state.epochs);
      return "#explorer?" + parts.join("&");
    }

    /* Any change of value: stop what ran, start again at epoch 1 from the new values. */
    function restart(remember) {
      var wasPlaying = !!timer && mode === "live";
      stop();
      var state = read();
      if (!state) {
        live = null;
        command.textContent = "";
        showLive();
        return;
      }
      live = liveState({ start: state.values.slice(), params: state.values.slice(), rate: state.rate,
                         epochs: state.epochs, epoch: 1, losses: [] });
      live.losses.push(live.loss);
      writeCommand(state);
      if (remember && window.history && history.replaceState) history.replaceState(null, "", fragment(state));
      if (mode === "live") {
        showLive();
        if (wasPlaying) play();
      }
    }

    /* -- play, pause, step, reset: the same buttons in both modes */

    function setPlaying(on) {
      playButton.setAttribute("aria-pressed", String(on));
      playButton.textContent = on ? text.pause : text.play;
      // While numbers change many times a second, a screen reader hears them only once paused.
      readout.setAttribute("aria-live", on ? "off" : "polite");
    }

    function stop() {
      if (timer && timer.slow) clearTimeout(timer.id);
      else if (timer) cancelAnimationFrame(timer.id);
      timer = null;
      setPlaying(false);
    }

    function step() {
      if (mode === "recorded") {
        var next = +range.value + 1;
        if (next >= data.snapshots.length) return false;
        showSnapshot(next);
        return true;
      }
      if (!advance()) return false;
      showLive();
      return true;
    }

    function play() {
      if (mode === "recorded" && +range.value >= data.snapshots.length - 1) showSnapshot(0);
      if (mode === "live" && live && live.epoch >= live.epochs) { restart(false); }
      if (mode === "live" && !live) return;
      var run = timer = {};
      setPlaying(true);
      // Frames at the screen's pace; for readers who ask for less motion, four calm updates a second.
      run.slow = calm.matches || mode === "recorded";
      var wait = calm.matches ? 250 : 160;
      (function tick() {
        if (timer !== run) return;
        if (!step()) { stop(); return; }
        run.id = run.slow ? setTimeout(tick, wait) : requestAnimationFrame(tick);
      })();
    }

    function reset() {
      stop();
      if (mode === "recorded") showSnapshot(0); else restart(false);
    }

    function setMode(next) {
      stop();
      mode = next;
      box.setAttribute("data-mode", mode);
      all("[data-mode-button]").forEach(function (button) {
        button.setAttribute("aria-pressed", String(button.getAttribute("data-mode-button") === mode));
      });
      all(".trainer-recorded, .trainer-recorded-controls, [data-action='back']").forEach(function (el) { el.hidden = mode !== "recorded"; });
      all(".trainer-live, .trainer-live-controls").forEach(function (el) { el.hidden = mode !== "live"; });
      stepButton.setAttribute("aria-label", stepButton.getAttribute("data-label-" + mode));
      note.textContent = note.getAttribute("data-" + mode);
      if (mode === "recorded") showSnapshot(+range.value); else showLive();
    }

    /* -- wiring */

    all("[data-mode-button]").forEach(function (button) {
      button.addEventListener("click", function () { setMode(button.getAttribute("data-mode-button")); });
    });
    playButton.addEventListener("click", function () { if (timer) stop(); else play(); });
    stepButton.addEventListener("click", function () { stop(); step(); });
    $("[data-action='back']").addEventListener("click", function () { stop(); showSnapshot(+range.value - 1); });
    $("[data-action='reset']").addEventListener("click", reset);
    range.addEventListener("input", function () { stop(); showSnapshot(+range.value); });
    fields.concat([rateField, epochsField]).forEach(function (field) {
      field.addEventListener("input", function () { restart(true); });
    });

    function setValues(values) {
      fields.forEach(function (field, p) { field.value = values[p]; });
      restart(true);
    }
    $("[data-action='defaults']").addEventListener("click", function () {
      rateField.value = data.learningRate;
      epochsField.value = data.epochs;
      setValues(data.initial);
    });
    $("[data-action='random']").addEventListener("click", function () {
      // Box-Muller: standard normal draws, like numpy's standard_normal, rounded to 3 decimals.
      setValues(data.names.map(function () {
        var u = 1 - Math.random(), v = Math.random();
        return +(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)).toFixed(3);
      }));
    });
    $("[data-action='copy']").addEventListener("click", function (event) {
      var button = event.currentTarget;
      if (navigator.clipboard && navigator.clipboard.writeText && command.textContent) {
        navigator.clipboard.writeText(command.textContent).then(function () { button.textContent = text.copied; }, function () {});
      }
    });

    /* A shared link (#explorer?w11_1=...&learning_rate=...) opens the live mode with its values;
       a link to "#explorer?" alone opens it with the values already in the fields. */
    function fromLink() {
      var hash = decodeURIComponent(location.hash);
      if (hash.indexOf("#explorer?") !== 0) return false;
      hash.slice(10).split("&").forEach(function (pair) {
        var kv = pair.split("="), p = data.names.indexOf(kv[0]);
        if (p >= 0) fields[p].value = kv[1];
        if (kv[0] === "learning_rate") rateField.value = kv[1];
        if (kv[0] === "epochs") epochsField.value = kv[1];
      });
      return true;
    }
    window.addEventListener("resize", function () { if (mode === "live") showLive(); });
    var shared = fromLink();
    restart(false);
    setMode(shared ? "live" : "recorded");
    if (shared) box.scrollIntoView();
    window.addEventListener("hashchange", function () {
      if (!fromLink()) return;
      restart(false);
      setMode("live");
      box.scrollIntoView();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var data = document.getElementById("lesson-data"), text = document.getElementById("lesson-words");
    if (data && text && window.LessonNet) setUp(JSON.parse(data.textContent), JSON.parse(text.textContent));
  });
})();
