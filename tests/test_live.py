"""The gradient-descent display in Chromium: one box with the build's recorded run and live training.

Expected numbers never come from the page's own code: the live numbers are checked against
plain_network.py (a second, plain implementation of the training) and against the data/run.json
of a build run with the very command the display writes; the recorded numbers against the
default site's data/run.json. The page keeps every shown number's full value in data-value.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest

import plain_network as plain
from chromium import launch

ROOT = plain.__file__.rsplit("/tests/", 1)[0]
NAMES = plain.DESIGN_NAMES_121
LANGS = ("zh", "en")
# A start other than the lesson's, and a learning rate of its own, so nothing matches by accident.
VALUES = {"w11_1": 0.35, "b1_1": -0.4, "w12_1": 1.3, "b2_1": -2.1, "w11_2": -0.6, "w21_2": 1.7, "b1_2": 0.15}
RATE = 0.7


def same(a: float, b: float, tolerance: float = 1e-9) -> bool:
    """Equal within a relative tolerance (absolute near zero)."""
    return abs(a - b) <= tolerance * max(abs(a), abs(b), 1e-12)


def open_lesson(page, site, lang="en", fragment=""):
    page.goto((site / lang / "index.html").as_uri() + fragment)
    page.wait_for_load_state("load")


def go_live(page):
    page.click("#explorer [data-mode-button='live']")
    assert page.get_attribute("#explorer [data-mode-button='live']", "aria-pressed") == "true"


def shown(page) -> dict:
    """What the display shows, at full precision: epoch, loss, parameters and gradients."""
    return page.evaluate("""() => {
        const box = document.getElementById('explorer');
        const value = el => el.hasAttribute('data-value') ? Number(el.getAttribute('data-value')) : null;
        const out = {epoch: value(document.getElementById('trainer-epoch')),
                     loss: value(document.getElementById('trainer-loss-value')), params: {}, grads: {},
                     playing: box.querySelector("[data-action='play']").getAttribute('aria-pressed') === 'true'};
        box.querySelectorAll('td[data-param]').forEach(td => { out.params[td.dataset.param] = value(td); });
        box.querySelectorAll('td[data-grad]').forEach(td => { out.grads[td.dataset.grad] = value(td); });
        return out;
    }""")


def set_values(page, values=VALUES, rate=RATE, epochs=None):
    for name, value in values.items():
        page.fill(f"#ex-{name}", repr(value))
    page.fill("#ex-learning-rate", repr(rate))
    if epochs is not None:
        page.fill("#ex-epochs", str(epochs))


def plain_at(values: dict, rate: float, epoch: int) -> tuple[float, dict, dict]:
    """Loss, parameters and gradients at the start of `epoch`, trained by plain_network.py."""
    result = plain.plain_train(lambda p: plain.loss_grad_121(p, plain.DESIGN_POINTS), values, rate, epoch,
                               keep=[epoch])
    return result["snapshots"][epoch]


def assert_matches(state: dict, loss: float, params: dict, grads: dict, tolerance: float = 1e-9):
    assert same(state["loss"], loss, tolerance), (state["loss"], loss)
    for name in NAMES:
        assert same(state["params"][name], params[name], tolerance), (name, state["params"][name], params[name])
        assert same(state["grads"][name], grads[name], tolerance), (name, state["grads"][name], grads[name])


def finish(page, epoch: int, timeout: float = 30000):
    page.wait_for_function(
        """(epoch) => document.getElementById('trainer-epoch').getAttribute('data-value') === String(epoch)
            && document.querySelector("#explorer [data-action='play']").getAttribute('aria-pressed') === 'false'""",
        arg=epoch, timeout=timeout)


# ---------------------------------------------------------------- live training = numpy

def trained_live(page, epochs: int) -> dict:
    """Switch to live training, play `epochs` epochs shown every 100, and read what the display shows."""
    go_live(page)
    set_values(page, epochs=epochs)
    page.select_option("#trainer-every", "100")
    page.click("#explorer [data-action='play']")
    finish(page, epochs)
    return shown(page)


@pytest.mark.parametrize("lang", LANGS)
def test_live_training_matches_plain_python(page, default_site, lang):
    open_lesson(page, default_site, lang)
    state = trained_live(page, 300)
    assert state["epoch"] == 300
    assert_matches(state, *plain_at(VALUES, RATE, 300))
    # The text is the same number, rounded.
    assert abs(float(page.inner_text("#trainer-loss-value")) - state["loss"]) <= 0.5e-4 * state["loss"] * 10


def test_live_training_matches_a_build_run_with_the_displayed_command(page, default_site, tmp_path):
    """The command the display writes runs, and its numpy run is the display's run to 1e-9."""
    open_lesson(page, default_site, "en")
    state = trained_live(page, 300)
    command = page.inner_text("#explorer-command")
    words = shlex.split(command)
    assert words[:2] == ["python", "build.py"]
    out = tmp_path / "variant"
    done = subprocess.run([sys.executable, "build.py", *words[2:], "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    record = json.loads((out / "data" / "run.json").read_text(encoding="utf-8"))
    assert record["settings"]["train"]["learning_rate"] == RATE
    last = record["snapshots"][-1]
    assert last["epoch"] == 300
    assert_matches(state, last["loss"], last["params"], last["grads"])


def test_step_trains_one_display_interval(page, default_site):
    open_lesson(page, default_site, "en")
    go_live(page)
    set_values(page, epochs=100)
    page.select_option("#trainer-every", "10")
    assert shown(page)["epoch"] == 1
    epochs = []
    for _ in range(3):
        page.click("#explorer [data-action='step']")
        epochs.append(shown(page)["epoch"])
    assert epochs == [10, 20, 30]
    assert_matches(shown(page), *plain_at(VALUES, RATE, 30))
    page.select_option("#trainer-every", "1")
    page.click("#explorer [data-action='step']")
    assert shown(page)["epoch"] == 31
    page.select_option("#trainer-every", "1000")
    page.click("#explorer [data-action='step']")
    assert shown(page)["epoch"] == 100, "a step never goes past the epochs asked for"
    assert_matches(shown(page), *plain_at(VALUES, RATE, 100))
    page.click("#explorer [data-action='step']")
    assert shown(page)["epoch"] == 100
    page.click("#explorer [data-action='reset']")
    assert shown(page)["epoch"] == 1
    assert_matches(shown(page), *plain_at(VALUES, RATE, 1))


@pytest.mark.parametrize("every", [10, 100])
def test_display_frequency_sets_the_epochs_shown_while_playing(page, default_site, every):
    open_lesson(page, default_site, "en")
    go_live(page)
    set_values(page, epochs=1000)
    page.select_option("#trainer-every", str(every))
    page.evaluate("""() => { window.seen = [];
        document.addEventListener('lesson:params', e => window.seen.push(e.detail.epoch)); }""")
    page.click("#explorer [data-action='play']")
    finish(page, 1000)
    seen = page.evaluate("window.seen")
    assert seen == plain.expected_snapshot_epochs(1000, every)[1:], "one display per interval, every one of them"


def test_editing_a_value_mid_run_starts_again_from_the_new_values(page, default_site):
    open_lesson(page, default_site, "en")
    go_live(page)
    set_values(page, epochs=3000)
    page.select_option("#trainer-every", "10")
    page.click("#explorer [data-action='play']")
    page.wait_for_function("() => +document.getElementById('trainer-epoch').getAttribute('data-value') >= 300")
    before = shown(page)["epoch"]
    new = dict(VALUES, b1_2=-0.5)
    page.fill("#ex-b1_2", "-0.5")
    after = shown(page)
    assert after["epoch"] < before, "the epoch starts again"
    assert after["playing"], "training goes on, from the new values"
    # Whatever epoch is shown, everything shown belongs to the new values (nothing stale).
    assert_matches(after, *plain_at(new, RATE, int(after["epoch"])))
    page.select_option("#trainer-every", "1000")
    finish(page, 3000)
    assert_matches(shown(page), *plain_at(new, RATE, 3000))
    assert "--set init.b1_2=-0.5" in page.inner_text("#explorer-command")


def test_the_start_curve_follows_the_values(page, default_site):
    """The dashed start curve is redrawn from new values at once; the solid one starts there too."""
    open_lesson(page, default_site, "en")
    go_live(page)
    start = page.get_attribute("#trainer-fit .tr-start", "d")
    page.fill("#ex-w21_2", "2.5")
    assert page.get_attribute("#trainer-fit .tr-start", "d") != start
    assert page.get_attribute("#trainer-fit .tr-start", "d") == page.get_attribute("#trainer-fit .tr-now", "d")


# ---------------------------------------------------------------- the recorded run

@pytest.mark.parametrize("lang", LANGS)
def test_recorded_mode_shows_the_builds_snapshots(page, default_site, lang):
    record = json.loads((default_site / "data" / "run.json").read_text(encoding="utf-8"))
    snapshots = record["snapshots"]
    open_lesson(page, default_site, lang)
    assert page.get_attribute("#explorer [data-mode-button='recorded']", "aria-pressed") == "true"
    assert page.locator("#scrubber-image").is_visible() and not page.locator("#trainer-fit").is_visible()
    for index in (0, 1, len(snapshots) // 2, len(snapshots) - 1):
        page.eval_on_selector("#scrubber-range", "(r, i) => { r.value = i; r.dispatchEvent(new Event('input')); }",
                              index)
        snap = snapshots[index]
        state = shown(page)
        assert state["epoch"] == snap["epoch"]
        assert_matches(state, snap["loss"], snap["params"], snap["grads"], 1e-15)
        assert page.get_attribute("#scrubber-image", "src").endswith(f"frame-{index + 1:03d}.png")
    # Step and reset walk the recorded epochs.
    page.click("#explorer [data-action='reset']")
    page.click("#explorer [data-action='step']")
    assert shown(page)["epoch"] == snapshots[1]["epoch"]
    # Switching modes says which run is shown.
    note = page.inner_text("#trainer-mode-note")
    go_live(page)
    assert page.inner_text("#trainer-mode-note") != note
    assert not page.locator("#scrubber-image").is_visible() and page.locator("#trainer-fit").is_visible()


# ---------------------------------------------------------------- the event the diagrams listen to

def test_lesson_params_event_carries_the_displayed_values(page, default_site):
    open_lesson(page, default_site, "en")
    page.evaluate("""() => { window.heard = [];
        document.addEventListener('lesson:params', e => window.heard.push(e.detail)); }""")
    page.eval_on_selector("#scrubber-range", "r => { r.value = 3; r.dispatchEvent(new Event('input')); }")
    go_live(page)
    set_values(page, epochs=50)
    page.select_option("#trainer-every", "10")
    page.click("#explorer [data-action='step']")
    heard = page.evaluate("window.heard")
    last = heard[-1]
    state = shown(page)
    assert last["epoch"] == state["epoch"] == 10
    assert last["values"] == [state["params"][name] for name in NAMES]
    record = json.loads((default_site / "data" / "run.json").read_text(encoding="utf-8"))
    assert {"epoch": record["snapshots"][3]["epoch"],
            "values": [record["snapshots"][3]["params"][n] for n in NAMES]} in heard
    # An edit announces the new start at epoch 1.
    page.fill("#ex-w11_1", "0.5")
    last = page.evaluate("window.heard[window.heard.length - 1]")
    assert last["epoch"] == 1 and last["values"][0] == 0.5


# ---------------------------------------------------------------- values that are wrong

@pytest.mark.parametrize("field, text", [("ex-w11_1", "abc"), ("ex-learning-rate", "0"), ("ex-epochs", "2.5"),
                                         ("ex-b1_2", "1,5")])
def test_an_invalid_value_is_named_beside_its_field(page, default_site, field, text):
    open_lesson(page, default_site, "en")
    go_live(page)
    page.fill(f"#{field}", text)
    assert page.get_attribute(f"#{field}", "aria-invalid") == "true"
    described = page.get_attribute(f"#{field}", "aria-describedby")
    message = page.locator(f"#{described}")
    assert message.is_visible() and message.inner_text().strip()
    near = page.evaluate("""([field, message]) => {
        const f = document.getElementById(field).getBoundingClientRect();
        const m = document.getElementById(message).getBoundingClientRect();
        return {gap: m.top - f.bottom, overlap: Math.min(f.right, m.right) - Math.max(f.left, m.left)};
    }""", [field, described])
    assert 0 <= near["gap"] < 12 and near["overlap"] > 0, "the message sits right under its field"
    # No number of the old values stays beside the wrong one.
    state = shown(page)
    assert state["epoch"] is None and state["loss"] is None
    assert all(v is None for v in state["params"].values())
    # Fixed, the message goes and training can start again.
    page.fill(f"#{field}", {"ex-learning-rate": "0.5", "ex-epochs": "20"}.get(field, "0.1"))
    assert page.get_attribute(f"#{field}", "aria-invalid") is None
    assert not message.is_visible()
    assert shown(page)["epoch"] == 1


# ---------------------------------------------------------------- the rebuild command

def test_the_command_wraps_only_between_its_parts_on_a_phone(playwright, default_site, tmp_path):
    context = launch(playwright, tmp_path / "phone", viewport={"width": 375, "height": 800},
                     is_mobile=True, has_touch=True, device_scale_factor=2)
    page = context.new_page()
    for lang in LANGS:
        open_lesson(page, default_site, lang)
        page.tap("#explorer [data-mode-button='live']")
        set_values(page, dict(VALUES, w11_1=-0.123456789, b2_1=-12.5e-3), rate=0.123456789, epochs=12345)
        lines = page.evaluate("""() => {
            const code = document.getElementById('explorer-command');
            const text = code.textContent;
            // Every "--set key=value" and "python build.py": one line box each, never split.
            const parts = [];
            const re = /python build\\.py|--set \\S+/g;
            let m;
            const node = [];
            const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
            let offset = 0, n;
            while ((n = walker.nextNode())) { node.push([n, offset]); offset += n.length; }
            const at = i => { for (let k = node.length - 1; k >= 0; k--) if (node[k][1] <= i) return [node[k][0], i - node[k][1]]; };
            while ((m = re.exec(text))) {
                const range = document.createRange();
                const [sn, so] = at(m.index), [en, eo] = at(m.index + m[0].length - 1);
                range.setStart(sn, so); range.setEnd(en, eo + 1);
                const tops = new Set(Array.from(range.getClientRects()).filter(r => r.width > 0).map(r => Math.round(r.top)));
                parts.push({part: m[0], lines: tops.size});
            }
            const pre = code.parentElement;
            return {parts, scroll: pre.scrollWidth, width: pre.clientWidth, height: code.getBoundingClientRect().height,
                    lineHeight: parseFloat(getComputedStyle(code).lineHeight) || 16};
        }""")
        assert len(lines["parts"]) == 1 + 1 + 9   # the program, the shape, 7 parameters, rate and epochs
        for part in lines["parts"]:
            assert part["lines"] == 1, f"{part['part']} is split across lines ({lang})"
        assert lines["height"] > 2 * lines["lineHeight"], "the command does wrap on a phone"
        assert lines["scroll"] <= lines["width"], "nothing runs out of its box"
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        # What is copied is the command as one line, as a shell takes it.
        command = page.inner_text("#explorer-command")
        assert "--set init.w11_1=-0.123456789" in command.split() or "init.w11_1=-0.123456789" in command
        assert "\n" not in page.evaluate("document.getElementById('explorer-command').textContent")
    context.close()


def test_copy_puts_the_command_on_the_clipboard(playwright, default_site, tmp_path):
    context = launch(playwright, tmp_path / "clip")
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    open_lesson(page, default_site, "en")
    go_live(page)
    page.fill("#ex-w11_1", "0.25")
    page.click("#explorer [data-action='copy']")
    page.wait_for_function("() => document.querySelector(\"#explorer [data-action='copy']\").textContent === 'Copied'")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.evaluate("document.getElementById('explorer-command').textContent")
    assert copied.startswith("python build.py --set 'network.layers=[1,2,1]' --set init.w11_1=0.25 --set init.b1_1=")
    context.close()


# ---------------------------------------------------------------- keyboard, names, motion, links

def test_keyboard_alone_runs_the_display_and_every_control_has_a_name(page, default_site):
    open_lesson(page, default_site, "en")
    page.focus("#explorer [data-mode-button='live']")
    page.keyboard.press("Enter")
    assert page.get_attribute("#explorer", "data-mode") == "live"
    page.focus("#trainer-every")
    page.keyboard.press("ArrowDown")       # 100 -> 1000
    assert page.input_value("#trainer-every") == "1000"
    page.focus("#explorer [data-action='step']")
    page.keyboard.press("Space")
    assert shown(page)["epoch"] == 1000
    page.keyboard.press("Shift+Tab")      # "back" belongs to the recorded mode: hidden here
    assert page.evaluate("document.activeElement.getAttribute('data-action')") == "play"
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector(\"[data-action='play']\").getAttribute('aria-pressed') === 'false'"
                           " && document.getElementById('trainer-epoch').getAttribute('data-value') === '5000'")
    unnamed = page.evaluate("""() => Array.from(document.querySelectorAll(
            '#explorer button, #explorer input, #explorer select')).filter(el => {
        if (el.closest('[hidden]')) return false;
        const label = el.getAttribute('aria-label') || (el.labels && el.labels.length && el.labels[0].textContent.trim())
            || (el.tagName === 'BUTTON' && el.textContent.trim());
        return !label;
    }).map(el => el.outerHTML)""")
    assert unnamed == []


def test_reduced_motion_plays_calmly(browser, default_site):
    counts = {}
    for motion in ("reduce", "no-preference"):
        page = browser.new_page()
        page.emulate_media(reduced_motion=motion)
        open_lesson(page, default_site, "en")
        go_live(page)
        page.select_option("#trainer-every", "1")
        page.evaluate("() => { window.n = 0; document.addEventListener('lesson:params', () => window.n++); }")
        page.wait_for_timeout(300)
        assert shown(page)["epoch"] == 1, "nothing starts by itself"
        page.click("#explorer [data-action='play']")
        page.wait_for_timeout(1000)
        page.click("#explorer [data-action='play']")
        counts[motion] = page.evaluate("window.n")
        page.close()
    assert counts["reduce"] <= 6, counts
    assert counts["no-preference"] > 3 * counts["reduce"], counts


def test_a_shared_link_opens_the_live_mode_with_its_values(page, default_site):
    fragment = "#explorer?" + "&".join(f"{k}={v}" for k, v in VALUES.items()) + f"&learning_rate={RATE}&epochs=40"
    open_lesson(page, default_site, "zh", fragment)
    assert page.get_attribute("#explorer", "data-mode") == "live"
    assert page.input_value("#ex-w12_1") == "1.3" and page.input_value("#ex-epochs") == "40"
    page.select_option("#trainer-every", "10")
    page.click("#explorer [data-action='play']")
    finish(page, 40)
    assert_matches(shown(page), *plain_at(VALUES, RATE, 40))
    # The link in section 4 opens the live mode too.
    open_lesson(page, default_site, "en")
    page.click("#try-values ~ p a[href='#explorer?']")
    page.wait_for_function("() => document.getElementById('explorer').getAttribute('data-mode') === 'live'")
