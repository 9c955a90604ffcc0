"""Reading on a phone (issue 14): at 375 CSS px every formula fits the screen, in both languages.

The browser's own layout is the oracle: a displayed formula's box must not need scrolling, and no
formula in the text may end past the screen's right edge (a formula inside a table that scrolls
sideways is the table's business). The diagram cards' formulas are measured too, each card opened
as a reader opens it.
"""

from __future__ import annotations

import pytest

from chromium import launch, lay_out_every_section
from engine.pages import LANGS

PHONE = {"viewport": {"width": 375, "height": 812}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}

TOO_WIDE = """() => {
  const screen = document.documentElement.clientWidth;
  const shown = (element) => element.checkVisibility();
  const display = Array.from(document.querySelectorAll('.math-display'))
    .filter((box) => shown(box) && box.scrollWidth > box.clientWidth + 1)
    .map((box) => `${box.id || box.closest('section').id}: ${box.scrollWidth} px in ${box.clientWidth} px`);
  const inline = Array.from(document.querySelectorAll('main math'))
    .filter((m) => shown(m) && !m.closest('.table-wrap, .table-scroll, .dg-cards')
                   && m.getBoundingClientRect().right > screen + 0.5)
    .map((m) => `${m.closest('section').id}: "${m.textContent.slice(0, 40)}" ends at ${m.getBoundingClientRect().right} px`);
  return {screen, count: document.querySelectorAll('main math').length, wide: display.concat(inline)};
}"""


@pytest.fixture(scope="module")
def phone(playwright, tmp_path_factory):
    context = launch(playwright, tmp_path_factory.mktemp("phone"), **PHONE)
    yield context
    context.close()


@pytest.mark.parametrize("lang", LANGS)
def test_every_formula_fits_a_375_px_screen(phone, default_site, lang):
    page = phone.new_page()
    page.goto((default_site / lang / "index.html").as_uri())
    lay_out_every_section(page)   # as each is when a reader reaches it
    found = page.evaluate(TOO_WIDE)
    page.close()
    assert found["screen"] == 375 and found["count"] > 300, found
    assert found["wide"] == [], found["wide"]


@pytest.mark.parametrize("lang", LANGS)
def test_every_card_formula_fits_a_375_px_screen(phone, default_site, lang):
    """Each part of both diagrams, chosen by keyboard as a reader may: its card's formulas fit."""
    page = phone.new_page()
    page.goto((default_site / lang / "index.html").as_uri())
    parts = page.eval_on_selector_all(".dg-item", "items => items.map(i => i.id)")
    assert len(parts) > 10
    wide = []
    for part in parts:
        page.focus(f"#{part}")
        page.wait_for_selector(f"#card-{part}.open math", state="visible")
        wide += page.evaluate("""(part) => {
            const card = document.getElementById('card-' + part), screen = document.documentElement.clientWidth;
            return Array.from(card.querySelectorAll('math')).filter((m) => {
              const box = m.closest('.card-math') || card;
              return box.scrollWidth > box.clientWidth + 1 || m.getBoundingClientRect().right > screen + 0.5;
            }).map((m) => part + ': ' + m.textContent.slice(0, 40));
        }""", part)
        page.keyboard.press("Escape")
    page.close()
    assert wide == []
