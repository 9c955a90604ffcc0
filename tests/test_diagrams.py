"""The network diagrams in Chromium: one tap opens a card, cards never cover the drawing, the chain
lights up with numbers whose product is the gradient, one kind of number at a time, readable on a phone.

Every expected number is computed here from first principles with plain Python floats (the plain
network of plain_network.py, a node-by-node forward pass, central differences), never taken from the
page's own scripts. The builds: the default one, and a 1-3-1 network from a random start.
"""

from __future__ import annotations

import json
import math

import pytest

import plain_network as plain
from chromium import launch

DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
FIGURES = ("#figure-diagram-forward", "#figure-diagram-backward")


@pytest.fixture(scope="module")
def wide_site(tmp_path_factory):
    """A 1-3-1 network from a random start: the diagrams must work past the lesson's 1-2-1."""
    from engine.pipeline import Paths, build
    out = tmp_path_factory.mktemp("wide") / "site"
    build(Paths(out=out), ["network.layers=[1,3,1]", "init.random=true"])
    return out


@pytest.fixture(scope="module")
def phone(playwright, tmp_path_factory):
    context = launch(playwright, tmp_path_factory.mktemp("phone"), **PHONE)
    yield context
    context.close()


@pytest.fixture(scope="module")
def desktop(playwright, tmp_path_factory):
    context = launch(playwright, tmp_path_factory.mktemp("desktop"), **DESKTOP)
    yield context
    context.close()


def open_page(context, site, lang="en"):
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((site / lang / "index.html").as_uri())
    page.wait_for_load_state("load")
    page.errors = errors
    return page


def lesson_data(page) -> dict:
    return json.loads(page.evaluate("document.getElementById('lesson-data').textContent"))


def parts(page, figure: str) -> list[str]:
    return page.eval_on_selector_all(f"{figure} .dg-item", "items => items.map(i => i.id)")


# A point inside a part that the part itself receives (no label or other part on top of it):
# the middle of a node or a bias tag, or a point along an arrow's wide band.
POINT_ON = """id => {
  const part = document.getElementById(id);
  part.scrollIntoView({block: 'center'});
  const shape = part.querySelector('.dg-hit') || part.querySelector('circle, rect');
  const box = shape.getBoundingClientRect();
  const line = shape.tagName === 'line';
  const svg = part.ownerSVGElement, m = shape.getScreenCTM();
  const along = t => {
    if (!line) return [box.left + box.width / 2, box.top + box.height / 2];
    const p = svg.createSVGPoint();
    p.x = +shape.getAttribute('x1') + t * (shape.getAttribute('x2') - shape.getAttribute('x1'));
    p.y = +shape.getAttribute('y1') + t * (shape.getAttribute('y2') - shape.getAttribute('y1'));
    const q = p.matrixTransform(m);
    return [q.x, q.y];
  };
  for (const t of [0.5, 0.62, 0.38, 0.75, 0.25]) {
    const [x, y] = along(t);
    const hit = document.elementFromPoint(x, y);
    if (hit && hit.closest('.dg-item') === part) return [x, y];
  }
  return null;
}"""


# A point of the drawing, in the window, that belongs to no part.
BLANK = """selector => {
  const box = document.querySelector(selector).getBoundingClientRect();
  for (let y = Math.max(box.top, 0) + 4; y < Math.min(box.bottom, innerHeight); y += 7) {
    for (let x = box.left + 4; x < box.right; x += 7) {
      const hit = document.elementFromPoint(x, y);
      if (hit && hit.closest('svg') && !hit.closest('.dg-item, .dg-loss')) return [x, y];
    }
  }
  return null;
}"""


def point_on(page, part: str) -> tuple[float, float]:
    point = page.evaluate(POINT_ON, part)
    assert point, f"{part}: no point of it reaches the pointer"
    return point


def card_open(page, part: str) -> bool:
    return page.evaluate("id => { const c = document.getElementById('card-' + id);"
                         " return c.classList.contains('open') && c.getBoundingClientRect().height > 0; }", part)


def number(text: str) -> float:
    return float(text.strip().lstrip("=× ").replace("−", "-").strip("()"))


# ---------------------------------------------------------------- one tap, one click, the keyboard

def test_one_tap_opens_a_card_and_a_second_tap_closes_it(phone, default_site):
    page = open_page(phone, default_site)
    for figure in FIGURES:
        for part in parts(page, figure):
            x, y = point_on(page, part)
            page.touchscreen.tap(x, y)
            page.wait_for_timeout(60)
            assert card_open(page, part), f"{part}: the first tap showed no card"
            x, y = point_on(page, part)
            page.touchscreen.tap(x, y)
            page.wait_for_timeout(60)
            assert not card_open(page, part), f"{part}: the second tap left its card open"
    # A tap elsewhere closes: on the page's text, and on the drawing between its parts.
    part = "bwd-w11_1"
    for elsewhere in ("#figure-diagram-backward .diagram-hint", None):
        page.touchscreen.tap(*point_on(page, part))
        page.wait_for_timeout(60)
        assert card_open(page, part)
        if elsewhere:
            box = page.locator(elsewhere).bounding_box()
            page.touchscreen.tap(box["x"] + 5, box["y"] + box["height"] / 2)
        else:
            page.touchscreen.tap(*page.evaluate(BLANK, "#figure-diagram-backward svg"))
        page.wait_for_timeout(60)
        assert not card_open(page, part), f"a tap on {elsewhere or 'the empty drawing'} left the card open"
    assert not page.errors, page.errors
    page.close()


def test_a_click_pins_the_card_and_a_second_click_closes_it(desktop, default_site):
    page = open_page(desktop, default_site)
    for figure in FIGURES:
        for part in parts(page, figure):
            x, y = point_on(page, part)
            page.mouse.move(x, y)
            assert card_open(page, part), f"{part}: pointing at it showed no card"
            page.mouse.click(x, y)
            page.wait_for_timeout(50)
            assert card_open(page, part), f"{part}: a click on the part under the pointer closed its card"
            # Pinned: it stays when the pointer leaves.
            page.mouse.move(5, 5)
            page.wait_for_timeout(350)
            assert card_open(page, part), f"{part}: the clicked card closed when the pointer left"
            page.mouse.click(*point_on(page, part))
            page.wait_for_timeout(50)
            page.mouse.move(5, 5)
            page.wait_for_timeout(350)
            assert not card_open(page, part), f"{part}: a second click left its card open"
    # A click on the card itself (to select its text, to scroll a long formula) keeps it.
    page.mouse.click(*point_on(page, "bwd-w11_1"))
    page.click("#card-bwd-w11_1 .card-title")
    page.wait_for_timeout(350)
    assert card_open(page, "bwd-w11_1")
    page.close()


def test_keyboard_tab_enter_space_and_escape(desktop, default_site):
    page = open_page(desktop, default_site)
    first = parts(page, "#figure-diagram-backward")[0]
    page.focus(f"#{first}")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == first
    assert card_open(page, first), "Tab to a part shows its card"
    for key in ("Enter", " "):
        page.keyboard.press(key)
        assert not card_open(page, first), f"{key!r} closes the open card"
        page.keyboard.press(key)
        assert card_open(page, first), f"{key!r} opens it again"
    page.keyboard.press("Escape")
    assert not card_open(page, first)
    assert page.evaluate("document.activeElement.id") == first, "Esc keeps the focus on the part"
    page.keyboard.press("Tab")
    second = page.evaluate("document.activeElement.id")
    assert second != first and card_open(page, second) and not card_open(page, first)
    page.close()


# ---------------------------------------------------------------- cards beside the drawing, never over it

def overlap(a: dict, b: dict) -> float:
    """The area two client rectangles share."""
    w = min(a["right"], b["right"]) - max(a["left"], b["left"])
    h = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
    return max(0.0, w) * max(0.0, h)


RECT = "e => { const r = e.getBoundingClientRect(); return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; }"


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_cards_never_cover_the_drawing(request, default_site, device):
    page = open_page(request.getfixturevalue(device), default_site)
    for figure in FIGURES:
        for part in parts(page, figure):
            page.focus(f"#{part}")
            assert card_open(page, part), part
            card = page.eval_on_selector(f"#card-{part}", RECT)
            # Not the part, not its inputs, not anything of the drawing: the whole picture stays in view.
            drawing = page.eval_on_selector(f"{figure} svg", RECT)
            assert overlap(card, drawing) == 0, f"{device}: the card of {part} covers the drawing"
            for other in page.eval_on_selector_all(f"{figure} .dg-item", f"items => items.map({RECT})"):
                assert overlap(card, other) == 0, f"{device}: the card of {part} covers a part"
            assert card["left"] >= 0 and card["right"] <= page.viewport_size["width"] + 0.5, part
    page.close()


# ---------------------------------------------------------------- the chain, from first principles

def layer_sizes(data) -> list[int]:
    return list(data["layers"])


def plain_forward(layers, p: dict, x: float, bump=None) -> dict:
    """a[(l, j)] node by node, sigma(sum_i w_ij a_i + b_j); `bump` = (l, j, h) adds h to one node's a."""
    a = {(0, 1): x}
    if bump and bump[:2] == (0, 1):
        a[0, 1] += bump[2]
    for l in range(1, len(layers)):
        for j in range(1, layers[l] + 1):
            z = sum(p[f"w{i}{j}_{l}"] * a[l - 1, i] for i in range(1, layers[l - 1] + 1)) + p[f"b{j}_{l}"]
            a[l, j] = plain.sig(z)
            if bump and bump[:2] == (l, j):
                a[l, j] += bump[2]
    return a


def node_gradient(layers, p, x, y, l, j, h=1e-6) -> float:
    """dE_k/da of one node by central differences on the plain forward pass."""
    out = (len(layers) - 1, 1)
    up = (y - plain_forward(layers, p, x, (l, j, h))[out]) ** 2
    down = (y - plain_forward(layers, p, x, (l, j, -h))[out]) ** 2
    return (up - down) / (2 * h)


def paths_up(layers, l, j) -> list[list[tuple[int, int]]]:
    """Every path of nodes from node (l, j) up to the output."""
    if l == len(layers) - 1:
        return [[(l, j)]]
    return [[(l, j)] + rest for m in range(1, layers[l + 1] + 1) for rest in paths_up(layers, l + 1, m)]


def expected_chain(layers, p, x, y, part: str) -> list[list[tuple[str, float]]]:
    """Each path's local derivatives (key, value) from the loss down to a part, by hand."""
    a = plain_forward(layers, p, x)
    L = len(layers) - 1
    if part == "x":
        start, own = (0, 1), None
    elif part.startswith("a"):
        start, own = (int(part.split("_")[1]), int(part[1])), None
    else:
        start, own = (int(part.split("_")[1]), int(part.split("_")[0][-1])), part
    chains = []
    for path in paths_up(layers, *start):
        chain = [("dy", -2 * (y - a[L, 1]))]
        for (l_low, i), (l, j) in reversed(list(zip(path, path[1:]))):
            chain.append((f"s:{j}_{l}", a[l, j] * (1 - a[l, j])))
            chain.append((f"p:w{i}{j}_{l}", p[f"w{i}{j}_{l}"]))
        if own:
            l, j = start
            chain.append((f"s:{j}_{l}", a[l, j] * (1 - a[l, j])))
            if own.startswith("w"):
                i = int(own[1])
                chain.append((f"a:{i}_{l - 1}", a[l - 1, i]))
            else:
                chain.append(("one", 1.0))
        chains.append(chain)
    return chains


SHOWN_FACTORS = """figure => Array.from(document.querySelectorAll(figure + ' .dg-factor'))
  .filter(t => getComputedStyle(t).display !== 'none' && t.getBoundingClientRect().height > 0
               && getComputedStyle(t.closest('.dg-item, .dg-loss')).opacity > 0.9)
  .map(t => [t.getAttribute('data-factor'), (t.querySelector('[data-slot]') || t).textContent])"""


def digits_tolerance(text: str) -> float:
    """Half a unit of the last digit shown, relative to the number."""
    text = text.strip().lstrip("=× ").replace("−", "-").strip("()")
    decimals = len(text.partition(".")[2])
    value = abs(float(text))
    return 0.5 * 10 ** -decimals / value if value else 0.0


def check_chains(page, data, sample: int):
    layers, names = layer_sizes(data), data["names"]
    p = dict(zip(names, data["initial"]))
    x, y = data["points"][sample]
    _, grads = plain.loss_grad_generic(layers, p, [(x, y)])   # one sample: its own gradient
    targets = names + ["x"] + [f"a{j}_{l}" for l in range(1, len(layers)) for j in range(1, layers[l] + 1)]
    for part in targets:
        page.focus(f"#bwd-{part}")
        shown = dict(page.evaluate(SHOWN_FACTORS, "#figure-diagram-backward"))
        chains = expected_chain(layers, p, x, y, part)
        wanted = {key for chain in chains for key, _ in chain}
        assert set(shown) == wanted, f"{part}: the lit links are {sorted(shown)}, the chain rule's {sorted(wanted)}"
        total, slack = 0.0, 0.0
        for chain in chains:
            product, error = 1.0, 0.0
            for key, value in chain:
                assert abs(number(shown[key]) - value) <= abs(value) * digits_tolerance(shown[key]) + 1e-12, \
                    f"{part}: the link {key} shows {shown[key]}, the local derivative is {value}"
                product *= number(shown[key])
                error += digits_tolerance(shown[key])
            total += product
            slack += abs(product) * error
        if part in grads:
            expected = grads[part]
            card = page.text_content(f"#card-bwd-{part} .card-numbers [data-slot='gk:{part}']")
        elif part == "x":
            expected = node_gradient(layers, p, x, y, 0, 1)
            card = page.text_content("#card-bwd-x .card-numbers [data-slot='d:1_0']")
        else:
            l, j = int(part.split("_")[1]), int(part[1])
            expected = node_gradient(layers, p, x, y, l, j)
            card = page.text_content(f"#card-bwd-{part} .card-numbers [data-slot='d:{j}_{l}']")
        # The shown links multiply (and add, path by path) to the gradient, within their rounding...
        assert abs(total - expected) <= slack + 1e-9 + 1e-6 * abs(expected), (part, total, expected)
        # ... and the card says that gradient.
        assert abs(number(card) - expected) <= abs(expected) * digits_tolerance(card) + 1e-9, (part, card, expected)


@pytest.mark.parametrize("which", ["default", "wide"])
def test_the_lit_path_multiplies_to_the_gradient_on_the_card(request, desktop, default_site, which):
    site = default_site if which == "default" else request.getfixturevalue("wide_site")
    page = open_page(desktop, site)
    data = lesson_data(page)
    check_chains(page, data, data["example"])
    other = (data["example"] + 4) % len(data["points"])
    page.select_option("#sample-forward", str(other))
    check_chains(page, data, other)
    page.close()


def test_the_chain_on_a_phone(phone, default_site):
    page = open_page(phone, default_site)
    data = lesson_data(page)
    page.touchscreen.tap(*point_on(page, "bwd-w11_1"))
    page.wait_for_timeout(60)
    shown = dict(page.evaluate(SHOWN_FACTORS, "#figure-diagram-backward"))
    assert set(shown) == {"dy", "s:1_2", "p:w11_2", "s:1_1", "a:1_0"}, shown
    p = dict(zip(data["names"], data["initial"]))
    _, grads = plain.loss_grad_121(p, [data["points"][data["example"]]])
    product = math.prod(number(text) for text in shown.values())
    assert abs(product - grads["w11_1"]) <= 3e-3 * abs(grads["w11_1"])
    page.close()


# ---------------------------------------------------------------- one kind of number at a time

DIAGRAM_NUMBERS = """figure => Array.from(document.querySelectorAll(figure + ' svg [data-slot]'))
  .map(t => [t.getAttribute('data-slot'), t.textContent])"""


def expected_numbers(layers, names, values, points, sample) -> dict:
    """Every number the diagrams may show, by slot key, for one sample (index) or "mean"."""
    p = dict(zip(names, values))
    out = {f"p:{name}": p[name] for name in names}
    loss, mean = plain.loss_grad_generic(layers, p, points)
    if sample == "mean":
        out.update({f"G:{name}": mean[name] for name in names})
        out["L"] = loss
        return out
    x, y = points[sample]
    a = plain_forward(layers, p, x)
    L = len(layers) - 1
    _, own = plain.loss_grad_generic(layers, p, [(x, y)])
    out.update({f"G:{name}": own[name] for name in names})
    out["L"] = (y - a[L, 1]) ** 2
    out["dy"] = -2 * (y - a[L, 1])
    for (l, j), value in a.items():
        out[f"a:{j}_{l}"] = value
        out[f"d:{j}_{l}"] = node_gradient(layers, p, x, y, l, j)
        if l:
            out[f"s:{j}_{l}"] = value * (1 - value)
    return out


def check_numbers(page, layers, names, values, points, sample):
    expected = expected_numbers(layers, names, values, points, sample)
    for figure in FIGURES:
        for key, text in page.evaluate(DIAGRAM_NUMBERS, figure):
            if key not in expected:
                assert sample == "mean" and text == "–", f"{figure} {key}: {text!r} where the mean has no value"
                continue
            value = expected[key]
            tolerance = max(abs(value) * digits_tolerance(text), 1e-12) + (1e-6 if key.startswith("d:") else 0)
            assert abs(number(text) - value) <= tolerance, f"sample {sample}: {figure} {key} shows {text}, not {value}"


def test_the_sample_selector_sets_every_number_of_both_diagrams(desktop, default_site):
    page = open_page(desktop, default_site)
    data = lesson_data(page)
    layers, names, points = data["layers"], data["names"], data["points"]
    # The default is the lesson's example sample, the one the prose works through.
    assert page.input_value("#sample-forward") == page.input_value("#sample-backward") == str(data["example"])
    check_numbers(page, layers, names, data["initial"], points, data["example"])
    for k, choice in enumerate([*range(len(points)), "mean"]):
        where = FIGURES[k % 2].replace("#figure-diagram-", "#sample-")
        page.select_option(where, str(choice))
        # One selector drives both diagrams.
        assert page.input_value("#sample-forward") == page.input_value("#sample-backward") == str(choice)
        check_numbers(page, layers, names, data["initial"], points, choice)
        # The cards say which sample their numbers belong to, or give the mean (a card's formulas
        # enter the page when it opens: open both).
        page.focus("#fwd-x")
        page.focus("#bwd-w11_1")
        if choice == "mean":
            card = page.text_content("#card-bwd-w11_1 .card-mean [data-slot='g:w11_1']")
            _, mean = plain.loss_grad_generic(layers, dict(zip(names, data["initial"])), points)
            assert abs(number(card) - mean["w11_1"]) <= abs(mean["w11_1"]) * digits_tolerance(card)
        else:
            assert page.text_content("#card-bwd-w11_1 .card-numbers [data-slot='k']").strip() == str(choice + 1)
            assert page.text_content("#card-fwd-x .card-numbers [data-slot='k']").strip() == str(choice + 1)
    page.close()


def test_the_mean_shows_means_and_says_what_it_leaves_out(desktop, default_site):
    page = open_page(desktop, default_site)
    data = lesson_data(page)
    page.select_option("#sample-backward", "mean")
    for note in ("#figure-diagram-forward .dg-mean-note", "#figure-diagram-backward .dg-mean-note"):
        assert page.is_visible(note)
    page.focus("#bwd-w11_1")
    assert page.is_visible("#card-bwd-w11_1 .card-mean") and not page.is_visible("#card-bwd-w11_1 .card-numbers")
    # The mean card lists every sample's own gradient; they add up to n times the mean.
    p = dict(zip(data["names"], data["initial"]))
    for k, point in enumerate(data["points"], start=1):
        text = page.text_content(f"#card-bwd-w11_1 .card-mean [data-slot='g{k}:w11_1']")
        _, own = plain.loss_grad_121(p, [point])
        assert abs(number(text) - own["w11_1"]) <= abs(own["w11_1"]) * digits_tolerance(text) + 1e-12
    # No local derivative shows: a mean is not one chain's product.
    assert page.evaluate(SHOWN_FACTORS, "#figure-diagram-backward") == []
    page.focus("#fwd-a1_1")
    assert page.is_visible("#card-fwd-a1_1 .card-mean-note") and not page.is_visible("#card-fwd-a1_1 .card-numbers")
    page.close()


def test_new_parameters_redraw_every_number_for_the_chosen_sample(desktop, default_site):
    page = open_page(desktop, default_site)
    data = lesson_data(page)
    layers, names, points = data["layers"], data["names"], data["points"]
    page.select_option("#sample-forward", "2")
    values = [0.4, -0.3, 1.1, -2.0, 0.7, -0.5, 0.3]
    page.evaluate("v => document.dispatchEvent(new CustomEvent('lesson:params', {detail: {values: v, epoch: 77}}))",
                  values)
    check_numbers(page, layers, names, values, points, 2)
    assert "77" in page.text_content("#figure-diagram-backward [data-moment]")
    page.select_option("#sample-forward", "mean")
    check_numbers(page, layers, names, values, points, "mean")
    # Values of no epoch (typed by the reader) are not passed off as an epoch's.
    page.evaluate("v => document.dispatchEvent(new CustomEvent('lesson:params', {detail: {values: v, epoch: null}}))",
                  values)
    assert "epoch" not in page.text_content("#figure-diagram-backward [data-moment]")
    # The snapshot scrubber announces its snapshot's parameters the same way.
    page.select_option("#sample-forward", str(data["example"]))
    page.eval_on_selector("#scrubber-range", "r => { r.value = 10; r.dispatchEvent(new Event('input')); }")
    check_numbers(page, layers, names, data["snapshots"][10]["params"], points, data["example"])
    page.close()


# ---------------------------------------------------------------- a phone

TEXT_SIZES = """() => Array.from(document.querySelectorAll('.diagram svg text')).filter(t => t.getBoundingClientRect().height > 0)
  .map(t => {
    const svg = t.ownerSVGElement;
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    return [t.textContent, parseFloat(getComputedStyle(t).fontSize) * scale, t.getBoundingClientRect().right];
  })"""


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_labels_are_readable_on_a_phone(phone, default_site, lang):
    page = open_page(phone, default_site, lang)
    page.touchscreen.tap(*point_on(page, "bwd-x"))     # light both paths: their labels count too
    sizes = page.evaluate(TEXT_SIZES)
    assert len(sizes) >= 25
    for text, size, right in sizes:
        assert size >= 12, f"{text!r} is {size:.1f} px"
        assert right <= 375, f"{text!r} runs off the screen"
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    for figure in FIGURES:
        box = page.locator(f"{figure} svg").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 375
        # Upright: the input at the bottom, the output above it.
        prefix = "fwd" if "forward" in figure else "bwd"
        x, out = (page.locator(f"#{prefix}-{n}").bounding_box() for n in ("x", "a1_2"))
        assert x["y"] > out["y"] + out["height"]
    page.close()


def overlapping(a: dict, b: dict, gap: float = 0.5) -> bool:
    """Whether two boxes (the browser's bounding boxes) overlap by more than `gap` px each way."""
    return (a["x"] + a["width"] - gap > b["x"] and b["x"] + b["width"] - gap > a["x"]
            and a["y"] + a["height"] - gap > b["y"] and b["y"] + b["height"] - gap > a["y"])


@pytest.fixture(scope="module")
def widest_site(tmp_path_factory):
    """A 1-9-9-1 network: layers of nine nodes, far wider than the lesson's drawing."""
    from engine.pipeline import Paths, build
    out = tmp_path_factory.mktemp("widest") / "site"
    build(Paths(out=out), ["network.layers=[1,9,9,1]", "init.random=true", "train.epochs=20",
                           "train.display_every=10"])
    return out


def test_a_wide_layer_is_drawn_without_overlaps_and_scrolls_on_a_phone(phone, widest_site):
    page = open_page(phone, widest_site)
    page.evaluate("document.querySelectorAll('.lesson-section').forEach((s) => { s.style.contentVisibility = 'visible'; })")
    for figure in FIGURES:
        page.locator(figure).scroll_into_view_if_needed()
        page.wait_for_timeout(200)
        nodes = page.evaluate(f"Array.from(document.querySelectorAll('{figure} circle')).map(c => c.getBoundingClientRect().toJSON())")
        tags = page.evaluate(f"Array.from(document.querySelectorAll('{figure} .dg-bias-box')).map(r => r.getBoundingClientRect().toJSON())")
        assert len(nodes) == 1 + 9 + 9 + 1 and len(tags) == 9 + 9 + 1
        for k, a in enumerate(nodes):
            assert not any(overlapping(a, b) for b in nodes[k + 1:])
            assert not any(overlapping(a, tag) for tag in tags), "a bias tag covers a node"
        # Drawn at the lesson drawing's scale: a node's name as large as on the 1-2-1 drawing (>= 12 px)...
        sizes = page.evaluate(f"Array.from(document.querySelectorAll('{figure} .dg-name')).map(t => t.getBoundingClientRect().height)")
        assert min(sizes) >= 12
        # ...so the drawing scrolls inside its box (which the keyboard can reach), not the page.
        canvas = page.evaluate(f"(() => {{ const c = document.querySelector('{figure} .diagram-canvas'); "
                               "return [c.scrollWidth, c.clientWidth, c.scrollLeft, c.getAttribute('tabindex')]; })()")
        assert canvas[0] > canvas[1] and canvas[3] == "0"
        assert abs(canvas[2] - (canvas[0] - canvas[1]) / 2) <= 1   # it opens on its middle: x and the output
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.errors == []
    page.close()
