"""How the lesson's text reads, in Chromium: one minus sign, aligned columns, Chinese lines, tables on a phone.

The browser's own layout is the oracle: the text it shows, the alignment it computes, the widths
it gives code and words, and the pixels it paints at a table's edges.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageStat

from chromium import launch, lay_out_every_section

LANGS = ("zh", "en")

# A number shown with an ASCII hyphen-minus instead of the minus sign (U+2212). The rule: a
# hyphen-minus directly before a digit is a sign, unless it joins two pieces of a name or a range
# ("1-2-1", the network; a letter or digit on its left), and except in e-notation, where the
# exponent's sign is one ("7.6e-09"). Pre, code and formulas are source, not text: they keep
# ASCII (the shell and Python need it; TeX's '-' is drawn as a minus). What screen readers read
# of images and controls (alt, aria-label, aria-valuetext, title) counts as shown.
HYPHEN_SIGNS = r"""() => {
    const sign = /(?<![A-Za-z0-9_])-(?=\d)|(?<=\d[eE])-(?=\d)/;
    const source = 'pre, code, .katex, math, script, style, textarea, input';
    const found = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const element = node.parentElement;
        if (element.closest(source) || !element.checkVisibility()) continue;
        if (sign.test(node.data)) found.push(node.data.trim().slice(0, 60));
    }
    for (const element of document.querySelectorAll('[alt], [aria-label], [aria-valuetext], [title]')) {
        for (const name of ['alt', 'aria-label', 'aria-valuetext', 'title']) {
            const value = element.getAttribute(name);
            if (value && sign.test(value)) found.push(name + '=' + value.slice(0, 60));
        }
    }
    return found;
}"""


def test_the_hyphen_rule_tells_a_sign_from_a_name(page):
    page.set_content("<p>x</p>")
    found = page.evaluate(f"text => {{ document.body.textContent = text; return ({HYPHEN_SIGNS})(); }}",
                          "a 1-2-1 network; w = −1.5 and −0.4; 7.6e−09")
    assert found == []
    for wrong in ("w = -1.5", "(-0.4)", "7.6e-09", "损失为-3", "between -3 and 3"):
        assert page.evaluate(f"text => {{ document.body.textContent = text; return ({HYPHEN_SIGNS})(); }}", wrong), wrong


@pytest.mark.parametrize("lang", LANGS)
def test_every_number_shown_has_a_minus_sign(page, default_site, lang):
    """Scanned as the page opens, at the last snapshot of the recorded run (the display's table and
    both diagrams rewritten by the script), with the diagrams on the mean, and in the live mode."""
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto((default_site / lang / "index.html").as_uri())
    page.wait_for_load_state("load")
    assert page.evaluate(HYPHEN_SIGNS) == []
    page.locator("#scrubber-range").focus()
    page.keyboard.press("End")
    page.select_option("#sample-forward", "mean")
    page.locator("#bwd-b2_1").focus()   # a card, and the backward diagram's chain of factors
    assert page.evaluate(HYPHEN_SIGNS) == []
    shown = page.text_content("#explorer")
    assert "−" in shown, "the last snapshot has negative parameters: the scan saw them"
    page.click("[data-mode-button='live']")
    page.click("[data-action='step']")
    assert page.evaluate(HYPHEN_SIGNS) == []


NUMBER = r"/^[−-]?(\d[\d,]*)?\.?\d+([eE][−+-]?\d+)?$/"

# Every cell of every table: its text (a formula's drawing, not its hidden MathML), whether that is a
# number, and its computed alignment. A header cell in words heads a column: it takes the side of the
# column's body (a footer's label under a column of numbers does not make it a column of words).
CELLS = f"""() => {{
    const number = {NUMBER};
    const text = cell => {{
        const copy = cell.cloneNode(true);
        copy.querySelectorAll('math').forEach(m => m.remove());
        return copy.textContent.replace(/\\s+/g, ' ').trim();
    }};
    const found = [];
    for (const [index, table] of Array.from(document.querySelectorAll('table')).entries()) {{
        const body = Array.from(table.querySelectorAll('tbody tr'));
        for (const cell of table.querySelectorAll('th, td')) {{
            const words = text(cell);
            if (!words) continue;
            let numeric = number.test(words);
            if (!numeric && cell.closest('thead')) {{
                const column = body.map(row => row.cells[cell.cellIndex]).filter(c => c && text(c));
                numeric = column.length > 0 && column.every(c => number.test(text(c)));
            }}
            found.push({{table: index + ' ' + table.className, text: words.slice(0, 40), numeric,
                         align: getComputedStyle(cell).textAlign}});
        }}
    }}
    return found;
}}"""


@pytest.mark.parametrize("width", [375, 1280])
@pytest.mark.parametrize("lang", LANGS)
def test_numbers_line_up_on_the_right_and_words_on_the_left(page, default_site, lang, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto((default_site / lang / "index.html").as_uri())
    page.wait_for_load_state("load")
    cells = page.evaluate(CELLS)
    tables = {cell["table"] for cell in cells}
    assert len(tables) >= 10, tables   # data, parameters, snapshots, display, checks, glossary, the prose's own
    assert sum(cell["numeric"] for cell in cells) > 300 and sum(not cell["numeric"] for cell in cells) > 60
    wrong = [cell for cell in cells if cell["align"] != ("right" if cell["numeric"] else "left")]
    assert not wrong, wrong[:10]


# Chinese lines: the widths of inline code and, on a phone, of every run of text in a paragraph
# that holds code or a formula, as set and as they would be without justification. Equal widths:
# justification moved no letter of a code name apart, and no character of a mixed line on a phone.
SPREAD = """phone => {
    const paragraphs = Array.from(document.querySelectorAll('main p')).filter(p => p.querySelector('code, .katex'));
    const width = node => {
        const range = document.createRange();
        range.selectNodeContents(node);
        return Array.from(range.getClientRects()).reduce((sum, r) => sum + r.width, 0);
    };
    const pieces = paragraphs.flatMap(p => {
        const texts = [];
        const walker = document.createTreeWalker(p, NodeFilter.SHOW_TEXT);
        for (let n = walker.nextNode(); n; n = walker.nextNode()) if (!n.parentElement.closest('.katex')) texts.push(n);
        return Array.from(p.querySelectorAll('code')).concat(phone ? texts : []);
    }).filter(node => width(node) > 0);
    const before = pieces.map(width);
    paragraphs.forEach(p => { p.style.textAlign = 'left'; });
    const moved = pieces.map((node, k) => [node.textContent.slice(0, 30), before[k], width(node)])
                        .filter(([, a, b]) => Math.abs(a - b) > 0.5);
    paragraphs.forEach(p => { p.style.textAlign = ''; });
    return {count: pieces.length, moved: moved.slice(0, 8)};
}"""


@pytest.mark.parametrize("width", [375, 1280])
def test_chinese_justification_never_spreads_code_or_a_phones_mixed_lines(page, default_site, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto((default_site / "zh" / "index.html").as_uri())
    page.wait_for_load_state("load")
    page.evaluate("document.fonts.ready.then(() => true)")
    result = page.evaluate(SPREAD, width < 600)
    assert result["count"] > (300 if width < 600 else 30), result
    assert result["moved"] == [], result["moved"]
    # Wide enough, Chinese prose is still set justified.
    align = page.evaluate("getComputedStyle(document.querySelector('#network p')).textAlign")
    assert align == "justify" if width > 600 else align in ("start", "left")


# Every line of a table's caption lies inside its box's visible width (a table without one passes).
CAPTION_IN_VIEW = """w => {
    const caption = w.querySelector('caption');
    if (!caption) return true;
    const range = document.createRange();
    range.selectNodeContents(caption);
    const left = w.getBoundingClientRect().left + w.clientLeft;
    return Array.from(range.getClientRects()).every(r => r.left >= left - 0.5 && r.right <= left + w.clientWidth + 0.5);
}"""


def edge_shades(page, wrap) -> tuple[float, float]:
    """The mean brightness of a table box's left and right 8 px, its cells hidden: the box's own paint."""
    wrap.evaluate("w => { w.querySelector('table').style.visibility = 'hidden'; }")
    shot = Image.open(io.BytesIO(wrap.screenshot())).convert("L")
    wrap.evaluate("w => { w.querySelector('table').style.visibility = ''; }")
    edge = round(8 * shot.width / wrap.bounding_box()["width"])
    left, right = shot.crop((0, 0, edge, shot.height)), shot.crop((shot.width - edge, 0, shot.width, shot.height))
    return ImageStat.Stat(left).mean[0], ImageStat.Stat(right).mean[0]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("lang", LANGS)
def test_tables_on_a_phone_show_what_scrolls_and_keep_their_captions_in_view(playwright, tmp_path, default_site,
                                                                             lang, scheme):
    """At 375 px every table box (the display's too) either fits, or scrolls sideways with a shade at
    the edge that has more behind it, and only there; a caption never runs out of view."""
    context = launch(playwright, tmp_path / "profile", viewport={"width": 375, "height": 740}, is_mobile=True,
                     has_touch=True, device_scale_factor=2, color_scheme=scheme)
    page = context.pages[0]
    page.goto((default_site / lang / "index.html").as_uri())
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.evaluate("document.querySelector('.site-header').style.visibility = 'hidden'")   # it would cover some boxes
    lay_out_every_section(page)   # a box's place does not move once a screenshot is asked for
    wraps = page.locator(".table-wrap")
    scrolling = 0
    for k in range(wraps.count()):
        wrap = wraps.nth(k)
        wrap.scroll_into_view_if_needed()
        box = wrap.evaluate("w => ({client: w.clientWidth, scroll: w.scrollWidth, overflow: getComputedStyle(w).overflowX,"
                            " name: w.querySelector('table').className})")
        assert wrap.evaluate(CAPTION_IN_VIEW), ("the caption runs out of view", box)
        left, right = edge_shades(page, wrap)
        if box["scroll"] <= box["client"] + 1:
            assert abs(left - right) < 2, (box, left, right)
            continue
        scrolling += 1
        assert box["overflow"] in ("auto", "scroll"), box
        darker = (lambda a, b: a < b - 6) if scheme == "light" else (lambda a, b: a > b + 6)   # a shadow, a glow
        assert darker(right, left), ("no shade at the right edge of", box, left, right)
        wrap.evaluate("w => { w.scrollLeft = w.scrollWidth; }")
        left, right = edge_shades(page, wrap)
        assert darker(left, right), ("no shade at the left edge once scrolled", box, left, right)
        assert wrap.evaluate(CAPTION_IN_VIEW), ("the caption scrolled out of view", box)
    assert scrolling >= 3   # the data, the snapshots and the gradient checks are wider than a phone
    context.close()
