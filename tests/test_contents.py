"""The contents from anywhere on a phone: the header's button and its sheet (templates/lesson.html, lesson.js).

Chromium is the oracle: what is shown, where the focus is, where the page is, and whether the
layout shifted. A finger (tap), the keyboard alone, and no script at all.
"""

from __future__ import annotations

import pytest

from chromium import launch, serious_violations

LANGS = ("zh", "en")
PHONE = {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}

# Layout shifts the reader did not cause (Lighthouse's CLS counts these), summed from the page's start.
SHIFTS = """() => new Promise(done => {
    let sum = 0;
    new PerformanceObserver(list => {
        for (const shift of list.getEntries()) if (!shift.hadRecentInput) sum += shift.value;
    }).observe({type: 'layout-shift', buffered: true});
    setTimeout(() => done(sum), 300);
})"""
SHEET_OPEN = "document.getElementById('toc-sheet').open"
SECTION_AT_TOP = """() => {   // the section whose heading is just under the sticky header
    const header = document.querySelector('.site-header').getBoundingClientRect().bottom;
    let now = null;
    for (const s of document.querySelectorAll('.lesson-section')) if (s.getBoundingClientRect().top <= header + 40) now = s.id;
    return now; }"""


@pytest.fixture()
def phone(playwright, tmp_path):
    context = launch(playwright, tmp_path / "profile", **PHONE)
    yield context.pages[0]
    context.close()


def open_at(page, site, lang, section):
    page.goto((site / lang / "index.html").as_uri() + f"#{section}")
    page.wait_for_load_state("load")
    page.wait_for_function(f"() => ({SECTION_AT_TOP})() === '{section}'")


@pytest.mark.parametrize("lang", LANGS)
def test_a_tap_opens_the_contents_anywhere_and_a_section_tap_goes_there(phone, default_site, lang):
    open_at(phone, default_site, lang, "backprop")
    button = phone.locator(".toc-open")
    assert button.is_visible() and not phone.locator(".toc-link").is_visible()
    assert button.get_attribute("aria-expanded") == "false"
    scrolled = phone.evaluate("scrollY")
    button.tap()
    sheet = phone.locator("#toc-sheet")
    assert sheet.is_visible() and button.get_attribute("aria-expanded") == "true"
    assert phone.evaluate("scrollY") == scrolled, "opening the sheet moved the page"
    current = sheet.locator("a[aria-current='true']")
    assert current.count() == 1 and current.get_attribute("href") == "#backprop"
    box = sheet.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 740 and box["width"] <= 375
    assert serious_violations(phone) == []
    sheet.locator("a[href='#results']").tap()
    phone.wait_for_function(f"() => !{SHEET_OPEN} && location.hash === '#results'")
    phone.wait_for_function(f"() => ({SECTION_AT_TOP})() === 'results'")
    assert button.get_attribute("aria-expanded") == "false"
    assert phone.evaluate(SHIFTS) <= 0.02


@pytest.mark.parametrize("lang", LANGS)
def test_the_sheet_closes_on_a_tap_outside_on_its_close_button_and_on_esc(phone, default_site, lang):
    open_at(phone, default_site, lang, "loss")
    scrolled = phone.evaluate("scrollY")
    button = phone.locator(".toc-open")
    button.tap()
    box = phone.locator("#toc-sheet").bounding_box()
    phone.touchscreen.tap(60, min(730, box["y"] + box["height"] + 60))   # on the page, below the sheet
    phone.wait_for_function(f"() => !{SHEET_OPEN}")
    button.tap()
    phone.locator("[data-close-sheet]").tap()
    phone.wait_for_function(f"() => !{SHEET_OPEN}")
    button.tap()
    phone.keyboard.press("Escape")
    phone.wait_for_function(f"() => !{SHEET_OPEN}")
    # Put away without choosing: the reader is where they were.
    assert phone.evaluate("scrollY") == scrolled and phone.evaluate("location.hash") == "#loss"
    assert phone.evaluate(SHIFTS) <= 0.02


ACTIVE = "document.activeElement.getAttribute('href') || document.activeElement.className"
WHERE = """(() => {
    const active = document.activeElement;
    if (!active || active === document.body) return 'outside';
    return (document.getElementById('toc-sheet').contains(active) ? 'sheet:' : 'page:') + active.textContent.trim();
})()"""


@pytest.mark.parametrize("lang", LANGS)
def test_the_keyboard_alone_opens_the_contents_chooses_a_section_and_reads_on(playwright, tmp_path, default_site, lang):
    """Tab to the button, Enter; the focus is on the section being read, Tab stays in the sheet, Esc
    gives the focus back to the button; Space opens it again, Enter on a section goes there, and the
    next Tab is inside that section."""
    context = launch(playwright, tmp_path / "profile", viewport={"width": 375, "height": 740})
    page = context.pages[0]
    page.goto((default_site / lang / "index.html").as_uri())
    page.wait_for_load_state("load")
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate(ACTIVE) == "toc-open":
            break
    assert page.evaluate(ACTIVE) == "toc-open"
    page.keyboard.press("Enter")
    assert page.evaluate(SHEET_OPEN) and page.evaluate(ACTIVE) == "#network"
    links = page.locator("#toc-sheet a").count()
    stops = [page.evaluate(WHERE)]
    for _ in range(2 * links + 4):   # round the sheet twice
        page.keyboard.press("Tab")
        stops.append(page.evaluate(WHERE))
    # The page behind is inert: the focus stays in the sheet, or leaves the page for the browser's own controls.
    assert not [stop for stop in stops if stop.startswith("page:")], stops
    names = page.eval_on_selector_all("#toc-sheet a, #toc-sheet button", "all => all.map(a => 'sheet:' + a.textContent.trim())")
    assert len(names) == links + 1 and set(names) <= set(stops)   # each section, and Close
    page.keyboard.press("Escape")
    assert not page.evaluate(SHEET_OPEN) and page.evaluate(ACTIVE) == "toc-open"
    page.keyboard.press(" ")
    assert page.evaluate(SHEET_OPEN)
    for _ in range(links):
        if page.evaluate(ACTIVE) == "#descent":
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => !{SHEET_OPEN} && ({SECTION_AT_TOP})() === 'descent'")
    page.keyboard.press("Tab")
    assert page.evaluate("document.getElementById('descent').contains(document.activeElement)")
    context.close()


@pytest.mark.parametrize("start, other", [("zh", "en"), ("en", "zh")])
def test_the_language_switch_keeps_a_section_chosen_in_the_sheet(phone, default_site, start, other):
    phone.goto((default_site / start / "index.html").as_uri())
    phone.wait_for_load_state("load")
    phone.locator(".toc-open").tap()
    phone.locator("#toc-sheet a[href='#epochs']").tap()
    phone.wait_for_function(f"() => ({SECTION_AT_TOP})() === 'epochs'")
    with phone.expect_navigation():
        phone.locator("a.lang-switch").tap()
    assert phone.url.endswith(f"/{other}/index.html#epochs")
    phone.wait_for_function(f"() => ({SECTION_AT_TOP})() === 'epochs'")


@pytest.mark.parametrize("lang", LANGS)
def test_without_script_the_button_is_a_link_that_opens_the_contents_at_the_top(playwright, tmp_path, default_site,
                                                                               lang):
    context = launch(playwright, tmp_path / "profile", java_script_enabled=False, **PHONE)
    page = context.pages[0]
    page.goto((default_site / lang / "index.html").as_uri() + "#results")
    page.wait_for_load_state("load")
    assert not page.locator(".toc-open").is_visible()
    link = page.locator(".toc-link")
    assert link.is_visible() and link.get_attribute("href") == "#toc-list"
    link.tap()
    page.wait_for_function("() => document.querySelector('.toc details').open")
    first = page.locator("#toc-list a").first
    assert first.is_visible()
    header = page.evaluate("document.querySelector('.site-header').getBoundingClientRect().bottom")
    assert header <= first.bounding_box()["y"] < 740, "the contents are in view, below the header"
    context.close()


def test_beside_the_lesson_on_a_wide_screen_neither_shows(page, default_site):
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto((default_site / "en" / "index.html").as_uri() + "#backprop")
    page.wait_for_load_state("load")
    assert not page.locator(".toc-open").is_visible() and not page.locator(".toc-link").is_visible()
    assert page.locator("nav.toc a[href='#backprop']").is_visible()
    assert page.locator("nav.toc a[aria-current='true']").get_attribute("href") == "#backprop"
