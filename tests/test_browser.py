"""The built site in a real browser: Debian's Chromium driven by Playwright.

Every page is opened from file:// with all network blocked, and again from a
local HTTP server under a GitHub-Pages-like sub-path (/REPO/). The browser's
own view is the oracle: console messages, requests, loaded images and fonts.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from chromium import launch, serious_violations

PAGES = ["index.html", "zh/index.html", "en/index.html", "404.html"]


@pytest.fixture(scope="module")
def site(default_site) -> Path:
    """The site built with the default settings (shared with the other tests)."""
    return default_site


class PageLog:
    """What a page did: console errors, failed and outside requests."""

    def __init__(self, page, allowed_prefix: str):
        self.errors, self.failed, self.outside = [], [], []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("requestfailed", lambda r: self.failed.append(r.url))
        page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}"))

        def guard(route):
            if route.request.url.startswith(allowed_prefix) or route.request.url.startswith("data:"):
                route.continue_()
            else:
                self.outside.append(route.request.url)
                route.abort()

        page.route("**/*", guard)


def check_page(page, log: PageLog, name: str) -> None:
    """The page loaded cleanly: no errors, every image drawn, formulas set in the site's math font."""
    page.wait_for_load_state("load")
    page.evaluate("document.fonts.ready.then(() => true)")
    images = page.evaluate(
        """async () => {
            const imgs = Array.from(document.images);
            for (const img of imgs) { img.loading = 'eager'; try { await img.decode(); } catch (e) {} }
            return imgs.map(img => [img.getAttribute('src'), img.complete && img.naturalWidth > 0]);
        }"""
    )
    assert not log.errors, f"{name}: console errors {log.errors}"
    assert not log.failed, f"{name}: failed requests {log.failed}"
    assert not log.outside, f"{name}: requests outside the site {log.outside}"
    assert all(ok for _, ok in images), f"{name}: images not drawn {[s for s, ok in images if not ok]}"
    if name in ("zh/index.html", "en/index.html"):
        assert images, f"{name}: no images"
        formulas = page.locator("math").count()
        assert formulas > 10, f"{name}: only {formulas} formulas"
        assert page.locator("merror").count() == 0
        family = page.evaluate("getComputedStyle(document.querySelector('math')).fontFamily")
        assert family.startswith('"Lesson Math"'), family
        loaded = page.evaluate(
            "Array.from(document.fonts).filter(f => f.family === 'Lesson Math' && f.status === 'loaded').length")
        assert loaded == 1, f"{name}: the math font was not loaded"


@pytest.mark.parametrize("name", PAGES)
def test_pages_work_from_file_with_network_blocked(browser, site, name):
    page = browser.new_page()
    log = PageLog(page, "file://")
    page.goto((site / name).as_uri())
    check_page(page, log, name)
    page.close()


class SubPathHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site under /REPO/ and answers misses with 404.html, as GitHub Pages does."""

    def log_message(self, *args):
        pass

    def send_error(self, code, message=None, explain=None):
        if code != 404:
            return super().send_error(code, message, explain)
        body = (Path(self.directory) / "REPO" / "404.html").read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def served(site, tmp_path_factory):
    """The site served on 127.0.0.1 under the sub-path /REPO/."""
    root = tmp_path_factory.mktemp("pages")
    shutil.copytree(site, root / "REPO")
    handler = functools.partial(SubPathHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/REPO/"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("name", PAGES[:3])
def test_pages_work_under_a_sub_path(browser, served, name):
    page = browser.new_page()
    log = PageLog(page, served.split("/REPO/")[0])
    page.goto(served + name)
    check_page(page, log, name)
    links = page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)")
    assert all(link.startswith(served) for link in links), [l for l in links if not l.startswith(served)]
    page.close()


def test_missing_page_links_home_under_the_sub_path(browser, served):
    page = browser.new_page()
    page.goto(served + "no/such/page.html")
    page.wait_for_function("() => document.querySelector('a.home-link').href.endsWith('/REPO/index.html')")
    page.click("a.home-link >> nth=0")
    page.wait_for_load_state("load")
    assert page.url == served + "index.html"
    page.close()


SECTION_NOW = """() => {   // the section whose heading the reader sees at the top (the browser's own geometry)
    const header = document.querySelector('.site-header').getBoundingClientRect().bottom;
    let now = null;
    for (const s of document.querySelectorAll('.lesson-section')) if (s.getBoundingClientRect().top <= header + 40) now = s.id;
    return now; }"""


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
@pytest.mark.parametrize("start, other", [("zh", "en"), ("en", "zh")])
def test_language_switch_lands_on_the_section_being_read(playwright, tmp_path, site, start, other, phone):
    """Jump to a section through the contents, then press the switch as a reader does (Playwright's
    click and tap bring the link into view first, as the keyboard's focus does): the other page opens
    on the same section, whichever it is."""
    context = launch(playwright, tmp_path / "profile", viewport={"width": 375 if phone else 1280, "height": 740},
                     is_mobile=phone, has_touch=phone)
    page = context.pages[0]
    for target in ("data", "backprop", "results", "code"):   # an early, a middle and the last section
        page.goto((site / start / "index.html").as_uri())
        page.evaluate("document.querySelector('.toc details').open = true")
        link = page.locator(f".toc a[href='#{target}']")
        link.tap() if phone else link.click()
        page.wait_for_function(f"() => location.hash === '#{target}'")
        assert page.evaluate(SECTION_NOW) == target
        switch = page.locator("a.lang-switch")
        with page.expect_navigation():
            switch.tap() if phone else switch.click()
        assert page.url.endswith(f"/{other}/index.html#{target}"), (target, page.url)
        page.wait_for_function(f"() => ({SECTION_NOW})() === '{target}'")
    context.close()


def settled_scroll(page, quiet_ms: int = 300, tries: int = 30) -> float:
    """scrollY once it has stayed the same for `quiet_ms` (a busy machine lays the page out slowly)."""
    last = page.evaluate("scrollY")
    for _ in range(tries):
        page.wait_for_timeout(quiet_ms)
        now = page.evaluate("scrollY")
        if now == last:
            return now
        last = now
    raise AssertionError(f"the page kept scrolling for {tries * quiet_ms} ms")


def test_focusing_the_switch_does_not_move_the_page(browser, site):
    """The sticky header is in view: giving its link the focus (Tab) must not scroll the page."""
    page = browser.new_page()
    page.goto((site / "en" / "index.html").as_uri() + "#backprop")
    page.wait_for_function("() => scrollY > 0")
    before = settled_scroll(page)   # the page puts the target in place once the sections above are laid out
    page.focus("a.lang-switch")
    page.wait_for_timeout(100)
    assert page.evaluate("scrollY") == before
    page.close()


@pytest.mark.parametrize("name", ["index.html", "zh/index.html", "en/index.html"])
def test_no_horizontal_scroll_on_a_phone(browser, site, name):
    page = browser.new_page()
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto((site / name).as_uri())
    page.wait_for_load_state("load")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"{name} is {width}px wide at 375px"
    page.close()


@pytest.mark.parametrize("name", PAGES)
def test_no_serious_accessibility_violations(browser, site, name):
    page = browser.new_page()
    page.goto((site / name).as_uri())
    page.wait_for_load_state("load")
    violations = serious_violations(page)
    assert not violations, f"{name}: {violations}"
    page.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_diagram_part_opens_its_formula_card(browser, site, lang):
    page = browser.new_page()
    page.goto((site / lang / "index.html").as_uri())
    page.wait_for_load_state("load")
    parts = page.eval_on_selector_all(".dg-item", "items => items.map(i => i.id)")
    assert parts, "no diagram parts"
    kinds = {p.split("-")[0] for p in parts}
    assert kinds == {"fwd", "bwd"}, kinds
    for part in parts:
        card = f"#card-{part}"
        # Point at the part's own shape (an arrow's wide band, a node, a bias tag), not its box's middle.
        page.locator(f"#{part}").locator(".dg-hit, circle, .dg-bias-box").first.hover()
        page.wait_for_selector(f"{card}.open", state="visible")
        assert page.locator(f"{card} math").count() >= 2, part
        page.keyboard.press("Escape")
        page.wait_for_selector(card, state="hidden")
        page.focus(f"#{part}")
        page.wait_for_selector(f"{card}.open", state="visible")
        box, target = page.locator(card).bounding_box(), page.locator(f"#{part}").bounding_box()
        overlap_x = min(box["x"] + box["width"], target["x"] + target["width"]) - max(box["x"], target["x"])
        overlap_y = min(box["y"] + box["height"], target["y"] + target["height"]) - max(box["y"], target["y"])
        assert overlap_x <= 0 or overlap_y <= 1, f"{part}: the card covers what it explains"
        page.keyboard.press("Escape")
        page.wait_for_selector(card, state="hidden")
    page.close()


def test_without_javascript_no_empty_cards_show_and_the_diagram_keeps_its_values(playwright, tmp_path_factory,
                                                                                   site):
    # The cards' formulas come with the script (assets/cards.js), so without it no card
    # shows at all; every diagram part still carries its value, and the images are there.
    context = launch(playwright, tmp_path_factory.mktemp("nojs"), java_script_enabled=False)
    page = context.new_page()
    page.goto((site / "en" / "index.html").as_uri())
    cards = page.locator(".card")
    assert cards.count() > 0 and not any(cards.nth(k).is_visible() for k in range(cards.count()))
    labels = page.locator(".dg-normal, .dg-bias-text")
    assert labels.count() >= 11 and all("=" in labels.nth(k).text_content() for k in range(labels.count()))
    assert page.locator("img").count() >= 5
    context.close()
