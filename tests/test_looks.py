"""How the pages look: light and dark, the dark-mode toggle, the figures and frames in both, the figures'
words on a phone, and the printed handout.

Chromium's own rendering is the oracle: computed colours, screenshots, axe-core's
contrast checks in dark mode, and the layout under print media.
"""

from __future__ import annotations

import colorsys
import io
import json
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from PIL import Image

from chromium import launch, lay_out_every_section, serious_violations
from engine import figures

LANGS = ("zh", "en")
PAGES = ["index.html", "zh/index.html", "en/index.html"]
FIGURES = ["scatter", "hidden-start", "initial", "loss", "final", "hidden", "starts"]   # the lesson's SVG figures
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


def rgb_luminance(rgb) -> float:
    return luminance(f"rgb({rgb[0]}, {rgb[1]}, {rgb[2]})")


def tones(shot: bytes) -> tuple[float, float, float]:
    """A screenshot's background (its most common colour), darkest and brightest colour of 20 pixels or more,
    as luminances."""
    found = [(count, rgb) for count, rgb in Image.open(io.BytesIO(shot)).convert("RGB").getcolors(1 << 20)
             if count >= 20]
    return rgb_luminance(max(found)[1]), min(rgb_luminance(rgb) for _, rgb in found), \
        max(rgb_luminance(rgb) for _, rgb in found)


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
    """Inline SVG, code and plots change colour with the page (figures and frames: below)."""
    probe = """() => {
        const get = (sel, prop) => getComputedStyle(document.querySelector(sel))[prop];
        return {
            node: get('.dg-shape.dg-hidden', 'fill'),
            label: get('.dg-label', 'fill'),
            code: get('.code .highlight pre', 'backgroundColor'),
            keyword: get('.code .highlight .k', 'color'),
            plot: get('#trainer-fit', 'backgroundColor'),
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


@pytest.mark.parametrize("lang", LANGS)
def test_print_is_a_clean_handout(page, default_site, lang):
    record = json.loads((default_site / "data" / "run.json").read_text(encoding="utf-8"))
    open_page(page, default_site, f"{lang}/index.html", "dark")
    # On screen the print-only snapshots stay hidden.
    assert not page.locator(".print-frames").is_visible()
    page.evaluate("document.documentElement.setAttribute('data-theme', 'dark')")   # as the toggle does
    page.emulate_media(media="print")
    assert not is_dark(page), "paper is light even for a reader in dark mode"
    for name in FIGURES:
        assert "#dark" not in shown_image(page, f"#figure-{name} img")["src"], f"{name} is printed dark"
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


# ------------------------------------------------------------------ figures and frames follow the theme


def shown_image(page, selector: str) -> dict:
    """The one image under `selector` that shows (the theme and the screen's width choose it), drawn."""
    found = page.evaluate(
        """async (selector) => {
            const shown = Array.from(document.querySelectorAll(selector)).filter(img => img.offsetParent !== null);
            for (const img of shown) {
                img.scrollIntoView({block: 'center'});
                img.loading = 'eager';
                try { await img.decode(); } catch (e) {}
            }
            return shown.map(img => ({src: img.currentSrc, width: img.getBoundingClientRect().width,
                                      drawn: img.complete && img.naturalWidth > 0}));
        }""", selector)
    assert len(found) == 1 and found[0]["drawn"], (selector, found)
    return found[0]


def looks(page) -> dict[str, tuple[str, bytes]]:
    """Each figure's and the frame display's shown image: its address and a screenshot."""
    found = {}
    for selector in [f"#figure-{name} img" for name in FIGURES] + ["#scrubber-image"]:
        src = shown_image(page, selector)["src"]
        found[selector] = src, page.locator(f"{selector}:visible").screenshot()
    return found


@pytest.mark.parametrize("lang", LANGS)
def test_the_toggle_turns_every_figure_and_frame_dark_and_back_without_a_reload(page, default_site, lang):
    open_page(page, default_site, f"{lang}/index.html", "light")
    lay_out_every_section(page)   # the screenshots compared are taken where they were
    light = looks(page)
    for selector, (src, shot) in light.items():
        background, darkest, _ = tones(shot)
        assert "#dark" not in src and background > 0.9 and darkest < 0.1, selector
    page.evaluate("window.__samePage = true")
    page.click("[data-theme-toggle]")
    dark = looks(page)
    for selector, (src, shot) in dark.items():
        background, _, brightest = tones(shot)
        assert background < 0.03 and brightest > 0.4, (selector, background, brightest)
        if selector != "#scrubber-image":
            assert src == light[selector][0] + "#dark"   # the same file, in its dark look
    page.click("[data-theme-toggle]")
    assert looks(page) == light, "back to light, as it was"
    assert page.evaluate("window.__samePage === true"), "no reload"


@pytest.mark.parametrize("name", PAGES)
def test_a_dark_system_gets_dark_figures_and_frames(page, default_site, name):
    open_page(page, default_site, name, "dark")
    if name == "index.html":
        selectors = [".entry-animation img"]   # the GIF
    else:
        selectors = [f"#figure-{figure} img" for figure in FIGURES] + ["#scrubber-image"]
    for selector in selectors:
        shown_image(page, selector)
        background, _, brightest = tones(page.locator(f"{selector}:visible").screenshot())
        assert background < 0.03 and brightest > 0.4, (name, selector, background)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_without_the_script_the_system_chooses_the_look(playwright, default_site, tmp_path, scheme):
    """No script, no toggle: the figures, and the GIF that stands in for the frame display, follow the system."""
    context = launch(playwright, tmp_path / "nojs", java_script_enabled=False, color_scheme=scheme)
    try:
        page = context.new_page()
        page.goto((default_site / "en" / "index.html").as_uri())
        for selector in [f"#figure-{name} img" for name in FIGURES] + ["#figure-animation img"]:
            shown = page.locator(f"{selector}:visible")
            assert shown.count() == 1, selector
            shown.scroll_into_view_if_needed()
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=shown.element_handle())
            background, _, _ = tones(shown.screenshot())
            if scheme == "dark":
                assert background < 0.03, selector
            else:
                assert background > 0.9, selector
            if selector != "#figure-animation img":
                assert shown.get_attribute("src").endswith(".svg#dark") == (scheme == "dark"), selector
    finally:
        context.close()


def test_dark_frames_keep_each_colour_clear_of_their_background(page, default_site):
    """The frames are drawn light and turned dark by the page's filter: every colour they draw, so
    turned, keeps its hue and has a contrast of 6 or more with the turned background (WCAG's AA asks 4.5)."""
    open_page(page, default_site, "en/index.html", "dark")
    turn = page.evaluate("() => getComputedStyle(document.getElementById('scrubber-image')).filter")
    assert turn != "none"
    drawn = {name: colour for name, colour in figures.LIGHT.colours().items() if not name.startswith("unit")}
    page.evaluate(
        """([turn, drawn]) => {
            for (const [name, colour] of Object.entries(drawn)) {
                const swatch = document.createElement('div');
                swatch.id = 'swatch-' + name;
                swatch.style.cssText = `width: 40px; height: 40px; background: ${colour}; filter: ${turn}`;
                document.body.prepend(swatch);
            }
        }""", [turn, drawn])
    turned = {}
    for name in drawn:
        shot = Image.open(io.BytesIO(page.locator(f"#swatch-{name}").screenshot())).convert("RGB")
        turned[name] = shot.getpixel((20, 20))

    def ratio(a, b):
        low, high = sorted((rgb_luminance(a), rgb_luminance(b)))
        return (high + 0.05) / (low + 0.05)

    assert rgb_luminance(turned["paper"]) < 0.01
    for name in ("ink", "curve", "loss", "flat", "fits", "fails"):
        assert ratio(turned[name], turned["paper"]) >= 6, (name, turned[name])
        light = [int(drawn[name][k:k + 2], 16) for k in (1, 3, 5)]
        if name not in ("ink", "flat"):   # greys have no hue to keep
            before, after = (colorsys.rgb_to_hsv(*(v / 255 for v in rgb))[0] * 360 for rgb in (light, turned[name]))
            assert min(abs(before - after), 360 - abs(before - after)) <= 15, (name, light, turned[name])
    assert 1.2 <= ratio(turned["grid"], turned["paper"]) <= 2   # quiet, as on white


@pytest.mark.parametrize("phone", [True, False], ids=["375px", "1280px"])
def test_figure_words_are_at_least_10_css_px(playwright, default_site, tmp_path, phone):
    """A figure's words, as wide as the browser shows the figure: the narrow layout on a phone, the
    wide one on a desktop; neither screen fetches the other layout."""
    context = launch(playwright, tmp_path / "profile", viewport={"width": 375 if phone else 1280, "height": 800},
                     is_mobile=phone, has_touch=phone, device_scale_factor=2 if phone else 1)
    fetched = []
    try:
        page = context.new_page()
        page.on("request", lambda request: fetched.append(request.url))
        for lang in LANGS:
            page.goto((default_site / lang / "index.html").as_uri())
            for name in FIGURES:
                shown = shown_image(page, f"#figure-{name} img")
                path = Path(unquote(urlparse(shown["src"]).path))
                assert path.name.endswith("-narrow.svg") == phone, shown["src"]
                svg = path.read_text(encoding="utf-8")
                view_width = float(re.search(r'viewBox="0 0 ([\d.]+) ', svg).group(1))
                smallest = min(float(size) for size in re.findall(r"font-size:([\d.]+)px", svg))
                assert smallest * shown["width"] / view_width >= 10, (lang, name, smallest, shown["width"])
    finally:
        context.close()
    svgs = [url for url in fetched if "/figures/" in url]
    assert svgs and all(url.split("#")[0].endswith("-narrow.svg") == phone for url in svgs), svgs
