"""The page's scripts in Chromium: the gradient-descent display's recorded and live modes.

The expected numbers come from data/run.json (numpy's run) and from the
plain implementation in plain_network.py; the browser's network must agree
with numpy to 1e-12 on single evaluations and to 1e-9 after 100 epochs.
"""

from __future__ import annotations

import json
import random
import re
from urllib.parse import unquote

import pytest

import plain_network as plain

LANGS = ("zh", "en")


def same(a: float, b: float, tolerance: float) -> bool:
    """Equal within a relative tolerance (absolute near zero)."""
    return abs(a - b) <= tolerance * max(abs(a), abs(b), 1e-300)


def within_shown(text: str, value: float) -> bool:
    """A printed number equals the value at the precision printed."""
    text = text.strip().replace("−", "-")
    decimals = len(text.partition(".")[2]) if "." in text else 0
    return abs(float(text) - value) <= 0.5 * 10 ** -decimals * (1 + 1e-9) + 1e-15


@pytest.fixture(scope="module")
def record(default_site):
    return json.loads((default_site / "data" / "run.json").read_text(encoding="utf-8"))




def open_lesson(page, site, lang, fragment=""):
    page.goto((site / lang / "index.html").as_uri() + fragment)
    page.wait_for_load_state("load")


def inlined(page) -> dict:
    return json.loads(page.evaluate("document.getElementById('lesson-data').textContent"))


@pytest.mark.parametrize("lang", LANGS)
def test_scrubbing_shows_each_snapshot_of_the_run(page, default_site, record, lang):
    open_lesson(page, default_site, lang)
    snapshots = record["snapshots"]
    names = record["param_names"]
    for index in (0, 1, 7, len(snapshots) // 2, len(snapshots) - 1):
        page.eval_on_selector("#scrubber-range", "(r, i) => { r.value = i; r.dispatchEvent(new Event('input')); }",
                              index)
        snap = snapshots[index]
        data = inlined(page)
        _, own = plain.loss_grad_121(snap["params"], [data["points"][data["example"]]])
        # The display's section is off screen (not laid out yet, so no innerText): read the text itself.
        assert int(page.text_content("#trainer-epoch")) == snap["epoch"]
        assert within_shown(page.text_content("#trainer-loss-value"), snap["loss"])
        assert page.get_attribute("#scrubber-image", "src").endswith(f"frame-{index + 1:03d}.png")
        for name in names:
            assert within_shown(page.text_content(f"#explorer td[data-param='{name}']"), snap["params"][name])
            assert within_shown(page.text_content(f"#explorer td[data-grad='{name}']"), snap["grads"][name])
            label = page.text_content(f"#fwd-{name} [data-slot]")
            assert within_shown(label, snap["params"][name]) or same(float(label.replace("−", "-")),
                                                                     snap["params"][name], 5e-3)
            # The backward diagram shows the example sample's own gradient (the selector's default).
            gradient = page.text_content(f"#bwd-{name} [data-slot]").replace("−", "-")
            assert same(float(gradient), own[name], 5e-3)
        page.focus(f"#bwd-{names[0]}")   # a card's formulas enter the page when it opens
        card = page.text_content(f"#card-bwd-{names[0]} .card-mean [data-slot='g:{names[0]}']")
        assert same(float(card.replace("−", "-")), snap["grads"][names[0]], 5e-4)


def test_keyboard_steps_and_jumps(page, default_site, record):
    open_lesson(page, default_site, "en")
    last = len(record["snapshots"]) - 1
    page.focus("#scrubber-range")
    page.keyboard.press("End")
    assert page.input_value("#scrubber-range") == str(last)
    assert page.inner_text("#trainer-epoch") == f"{record['snapshots'][last]['epoch']}"
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert page.input_value("#scrubber-range") == "2"
    page.click("#explorer [data-action='back']")
    assert page.input_value("#scrubber-range") == "1"
    for control in page.query_selector_all("#explorer button, #explorer input[type='range']"):
        assert control.get_attribute("aria-label") or control.inner_text().strip(), "every control has a name"


def test_play_runs_through_the_snapshots_and_pauses(page, default_site):
    open_lesson(page, default_site, "en")
    page.click("#explorer [data-action='play']")
    page.wait_for_function("() => +document.getElementById('scrubber-range').value >= 3")
    page.click("#explorer [data-action='play']")
    stopped = page.input_value("#scrubber-range")
    page.wait_for_timeout(400)
    assert page.input_value("#scrubber-range") == stopped
    assert page.get_attribute("#explorer [data-action='play']", "aria-pressed") == "false"


@pytest.mark.parametrize("lang", LANGS)
def test_changing_a_parameter_redraws_the_curve_with_numpys_loss(page, default_site, lang):
    open_lesson(page, default_site, lang)
    page.click("#explorer [data-mode-button='live']")
    before = page.get_attribute("#trainer-fit path.tr-now", "d")
    values = dict(plain.DESIGN_INIT, b1_2=-0.7, w21_2=2.5)
    page.fill("#ex-b1_2", "-0.7")
    page.fill("#ex-w21_2", "2.5")
    after = page.get_attribute("#trainer-fit path.tr-now", "d")
    assert after != before
    assert within_shown(page.inner_text("#trainer-loss-value"), plain.loss_121(values, plain.DESIGN_POINTS))
    # The curve passes through the network's output: check one drawn point against plain Python
    # (the plot's frame: 12 units above, 48 below, y from -0.08 to 1.08; its height from the viewBox).
    first = re.match(r"M([\d.]+),([\d.]+)", after)
    height = float(page.get_attribute("#trainer-fit", "viewBox").split()[3])
    data = inlined(page)
    xs = [p[0] for p in data["points"]]
    lo, hi = min(xs), max(xs)
    pad = 0.08 * (hi - lo)
    y_hat = plain.forward_121(values, lo - pad)[2]
    assert abs(float(first.group(2)) - (height - 48 - (y_hat + 0.08) / 1.16 * (height - 60))) < 0.06


def test_browser_network_matches_plain_python(page, default_site, record):
    """The page's own network (network.js) against tests/plain_network.py: loss, gradient and predictions
    at the start, at the end and at two random points; then 100 epochs of training."""
    open_lesson(page, default_site, "en")
    data = inlined(page)
    names = data["names"]
    rng = random.Random(2024)
    checks = [dict(zip(names, data["initial"])), record["final"]["params"]] + [
        {name: rng.gauss(0, 1) for name in names} for _ in range(2)]
    xs = [x for x, _ in data["points"]]
    for values in checks:
        params = [values[name] for name in names]
        loss, grads = plain.loss_grad_121(values, data["points"])
        got = page.evaluate("([layers, params, points]) => LessonNet.lossAndGradient(layers, params, points)",
                            [data["layers"], params, data["points"]])
        assert same(got["loss"], loss, 1e-12)
        for g, name in zip(got["grads"], names):
            assert same(g, grads[name], 1e-12) or abs(g - grads[name]) < 1e-17
        predictions = page.evaluate(
            "([layers, params, xs]) => xs.map(x => LessonNet.predict(layers, params, x))", [data["layers"], params, xs])
        for y, x in zip(predictions, xs):
            assert same(y, plain.forward_121(values, x)[2], 1e-12)
    epochs = 100
    expected = plain.plain_train(lambda p: plain.loss_grad_121(p, data["points"]), dict(zip(names, data["initial"])),
                                 data["learningRate"], epochs, keep=[epochs])
    got = page.evaluate(
        "([layers, params, points, rate, epochs]) => LessonNet.train(layers, params, points, rate, epochs)",
        [data["layers"], data["initial"], data["points"], data["learningRate"], epochs])
    assert same(got["loss"], expected["final_loss"], 1e-9)
    for p, name in zip(got["params"], names):
        assert same(p, expected["final_params"][name], 1e-9)
    assert all(same(a, b, 1e-9) for a, b in zip(got["losses"], expected["losses"]))


def test_browser_training_reaches_numpys_result(page, default_site, record):
    open_lesson(page, default_site, "en")
    page.click("#explorer [data-mode-button='live']")
    page.fill("#ex-epochs", "300")
    page.click("#explorer [data-action='play']")
    page.wait_for_function("() => document.getElementById('trainer-epoch').textContent === '300'")
    result = plain.plain_train(lambda p: plain.loss_grad_121(p, plain.DESIGN_POINTS), plain.DESIGN_INIT,
                               plain.DESIGN_LEARNING_RATE, 300, keep=[300])
    assert within_shown(page.inner_text("#trainer-loss-value"), result["snapshots"][300][0])


def test_fragment_round_trip_and_rebuild_command(page, browser, default_site):
    open_lesson(page, default_site, "en")
    page.click("#explorer [data-mode-button='live']")
    page.fill("#ex-w11_1", "0.35")
    page.fill("#ex-learning-rate", "0.2")
    url = page.evaluate("location.href")
    assert "w11_1=0.35" in unquote(url) and "learning_rate=0.2" in unquote(url)
    command = page.inner_text("#explorer-command")
    assert "--set init.w11_1=0.35" in command and "--set train.learning_rate=0.2" in command
    for name, value in plain.DESIGN_INIT.items():
        if name != "w11_1":
            assert f"--set init.{name}={value:g}" in command
    other = browser.new_page()
    other.goto(url)
    other.wait_for_load_state("load")
    assert other.input_value("#ex-w11_1") == "0.35"
    assert other.input_value("#ex-learning-rate") == "0.2"
    assert other.inner_text("#explorer-command") == command
    other.close()


def test_language_switch_carries_the_explorer_state(page, default_site):
    open_lesson(page, default_site, "en")
    page.click("#explorer [data-mode-button='live']")
    page.fill("#ex-b1_1", "1.25")
    page.evaluate("document.querySelector('a.lang-switch').click()")
    page.wait_for_url("**/zh/index.html#explorer?*")
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.input_value("#ex-b1_1") == "1.25"


def test_nothing_moves_for_readers_who_prefer_reduced_motion(browser, default_site):
    page = browser.new_page()
    page.emulate_media(reduced_motion="reduce")
    page.goto((default_site / "index.html").as_uri())
    page.wait_for_load_state("load")
    assert page.evaluate("document.querySelector('.entry-animation img').currentSrc").endswith(".png")
    page.goto((default_site / "en" / "index.html").as_uri())
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)
    assert page.input_value("#scrubber-range") == "0"
    assert page.get_attribute("#explorer [data-action='play']", "aria-pressed") == "false"
    page.close()


def test_phone_layout_of_the_controls(browser, default_site):
    page = browser.new_page()
    page.set_viewport_size({"width": 375, "height": 740})
    for lang in LANGS:
        page.goto((default_site / lang / "index.html").as_uri() + "#try-values")
        page.wait_for_load_state("load")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.click("#explorer [data-action='step']")
        assert page.input_value("#scrubber-range") == "1"
    page.close()
