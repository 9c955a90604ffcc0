"""How the pages look: light and dark, the dark-mode toggle, and the printed handout.

Chromium's own rendering is the oracle: computed colours, screenshots, axe-core's
contrast checks in dark mode, and the layout under print media.
"""

from __future__ import annotations

import json

import pytest

from chromium import serious_violations

LANGS = ("zh", "en")
PAGES = ["index.html", "zh/index.html", "en/index.html"]
TOGGLE_NAMES = {"index.html": "深色模式 / Dark mode", "zh/index.html": "深色模式", "en/index.html": "Dark mode"}


def luminance(css_colour: str) -> float:
    """Relative luminance (WCAG) of an `rgb(...)`/`rgba(...)` computed colour."""
    parts = [float(v) for v in css_colour[css_colour.index("(") + 1:-1].replace("/", ",").split(",")[:3]]
    linear = [c / 255 / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in parts]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def open_page(page, site, name, scheme="light", media="screen"):
    page.emulate_media(color_scheme=scheme, media=media)
    page.goto((site / name).as_uri())
    page.wait_for_load_state("load")
    page.evaluate("document.fonts.ready.then(() => true)")


def colours(page) -> dict:
    return page.evaluate(
        """() => {
            const style = getComputedStyle(document.body);
            return {background: style.backgroundColor, ink: style.color};
        }"""
    )


def is_dark(page) -> bool:
    found = colours(page)
    return luminance(found["background"]) < 0.1 < luminance(found["ink"])


@pytest.mark.parametrize("name", PAGES)
def test_dark_mode_follows_the_system(page, default_site, name):
    open_page(page, default_site, name, "light")
    light, light_shot = colours(page), page.screenshot()
    assert not is_dark(page), light
    page.emulate_media(color_scheme="dark")
    dark, dark_shot = colours(page), page.screenshot()
    assert is_dark(page), dark
    assert light_shot != dark_shot
    # The toggle tells what it shows: pressed while dark.
    assert page.get_attribute("[data-theme-toggle]", "aria-pressed") == "true"


@pytest.mark.parametrize("name", PAGES)
def test_toggle_switches_and_remembers_the_choice(page, default_site, name):
    open_page(page, default_site, name, "light")
    toggle = page.get_by_role("button", name=TOGGLE_NAMES[name], exact=True)
    assert toggle.count() == 1
    assert toggle.get_attribute("aria-pressed") == "false"
    # Keyboard: Tab reaches it, Enter and Space press it.
    toggle.focus()
    page.keyboard.press("Enter")
    assert is_dark(page)
    assert toggle.get_attribute("aria-pressed") == "true"
    page.reload()
    page.wait_for_load_state("load")
    assert is_dark(page), "the choice survives a reload"
    assert page.get_attribute("html", "data-theme") == "dark"
    # Another page of the site follows the choice too.
    other = "en/index.html" if name != "en/index.html" else "zh/index.html"
    open_page(page, default_site, other, "light")
    assert is_dark(page)
    open_page(page, default_site, name, "light")
    toggle.focus()
    page.keyboard.press(" ")
    assert not is_dark(page)
    assert toggle.get_attribute("aria-pressed") == "false"
    # A reader's "light" wins over a dark system.
    page.emulate_media(color_scheme="dark")
    page.reload()
    page.wait_for_load_state("load")
    assert not is_dark(page)
    assert toggle.get_attribute("aria-pressed") == "false"


def test_the_choice_is_applied_before_the_body_is_parsed(page, default_site):
    """The script in <head> sets the theme at once, so a dark page never flashes light."""
    open_page(page, default_site, "en/index.html", "light")
    page.click("[data-theme-toggle]")
    page.add_init_script(
        """new MutationObserver((changes, observer) => {
            if (document.body) {
                window.__themeAtBody = document.documentElement.getAttribute('data-theme');
                observer.disconnect();
            }
        }).observe(document, {childList: true, subtree: true});"""
    )
    page.reload()
    page.wait_for_load_state("load")
    assert page.evaluate("window.__themeAtBody") == "dark"


def test_toggle_works_when_storage_is_refused(page, default_site):
    page.add_init_script(
        """Object.defineProperty(window, 'localStorage', {
            get() { throw new DOMException('The operation is insecure.', 'SecurityError'); }
        });"""
    )
    open_page(page, default_site, "en/index.html", "light")
    assert not is_dark(page)
    page.click("[data-theme-toggle]")
    assert is_dark(page), "the toggle still works for this page"
    assert page.get_attribute("[data-theme-toggle]", "aria-pressed") == "true"


@pytest.mark.parametrize("name", PAGES)
def test_no_serious_accessibility_violations_in_dark_mode(page, default_site, name):
    open_page(page, default_site, name, "dark")
    assert is_dark(page)
    if page.locator(".diagram-backward .dg-item").count():
        # One formula card open, with its marked term, so its colours are checked too.
        page.focus(".diagram-backward .dg-edge")
        page.wait_for_selector(".diagram-backward .card.open", state="visible")
    violations = serious_violations(page)
    assert not violations, f"{name} (dark): {violations}"


@pytest.mark.parametrize("lang", LANGS)
def test_diagrams_code_and_explorer_follow_the_theme(page, default_site, lang):
    """Inline SVG, code and plots change colour with the page; figures keep a light panel."""
    probe = """() => {
        const get = (sel, prop) => getComputedStyle(document.querySelector(sel))[prop];
        return {
            node: get('.dg-shape.dg-hidden', 'fill'),
            label: get('.dg-label', 'fill'),
            code: get('.code .highlight pre', 'backgroundColor'),
            keyword: get('.code .highlight .k', 'color'),
            plot: get('#trainer-fit', 'backgroundColor'),
            figure: get('.figure img', 'backgroundColor'),
            card: get('.card', 'backgroundColor'),
        };
    }"""
    open_page(page, default_site, f"{lang}/index.html", "light")
    light = page.evaluate(probe)
    page.emulate_media(color_scheme="dark")
    dark = page.evaluate(probe)
    for key in ("node", "label", "code", "keyword", "plot", "card"):
        assert light[key] != dark[key], key
    assert luminance(dark["label"]) > 0.4, "diagram labels are light on the dark page"
    assert luminance(dark["code"]) < 0.1 and luminance(dark["card"]) < 0.1
    assert luminance(dark["figure"]) > 0.9, "figures drawn in dark ink sit on a light panel"


@pytest.mark.parametrize("lang", LANGS)
def test_print_is_a_clean_handout(page, default_site, lang):
    record = json.loads((default_site / "data" / "run.json").read_text(encoding="utf-8"))
    open_page(page, default_site, f"{lang}/index.html", "dark")
    # On screen the print-only snapshots stay hidden.
    assert not page.locator(".print-frames").is_visible()
    page.emulate_media(media="print")
    assert not is_dark(page), "paper is light even for a reader in dark mode"
    for hidden in (".skip-link", "[data-theme-toggle]", ".lang-switch", ".trainer-controls",
                   "#explorer", ".trainer-inputs", "#scrubber-image", ".diagram-hint", "#figure-animation"):
        for k in range(page.locator(hidden).count()):
            assert not page.locator(hidden).nth(k).is_visible(), f"{hidden} is printed"
    assert page.locator(".toc li").first.is_visible()

    # The animation becomes a grid of evenly spaced snapshots, first and last included.
    frames = page.locator(".print-frames img")
    assert page.locator(".print-frames").is_visible()
    assert 6 <= frames.count() <= 9
    loaded = page.evaluate(
        """async () => {
            const imgs = Array.from(document.querySelectorAll('.print-frames img'));
            for (const img of imgs) { try { await img.decode(); } catch (e) {} }
            return imgs.map(img => img.complete && img.naturalWidth > 0);
        }"""
    )
    assert all(loaded)
    captions = page.locator(".print-frames li").all_inner_texts()
    epochs = [s["epoch"] for s in record["snapshots"]]
    assert str(epochs[0]) in captions[0] and str(epochs[-1]) in captions[-1]
    assert all("E = " in c for c in captions)

    # Every formula card is printed in place, under its diagram, not floating.
    cards = page.locator(".diagram .card")
    assert cards.count() == page.locator(".dg-item[data-card]").count() > 0
    for k in range(cards.count()):
        card = cards.nth(k)
        assert card.is_visible()
        assert card.evaluate("c => getComputedStyle(c).position") == "static"
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")
