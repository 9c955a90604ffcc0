"""How the lesson writes numbers for readers (engine/numerals.py), and where the sign stays ASCII.

Every number shown has the minus sign U+2212; a number the prose puts into a formula or into
code is spelled with the hyphen-minus again, for TeX and the shell (engine/pages.py).
"""

from __future__ import annotations

import math
import re

from hypothesis import given, strategies as st

from engine.numerals import MINUS, column, fixed, plain, sci, sig
from sitetools import ROOT

# Each way of writing a number, and how close what it writes must read back: (rel_tol, abs_tol).
FORMATS = [(sig, 5e-4, 0), (lambda v: sig(v, 10), 1e-9, 0), (fixed, 0, 5e-5), (lambda v: fixed(v, 2), 0, 5e-3),
           (plain, 5e-6, 0), (sci, 0.05, 0)]
finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15)


@given(finite)
def test_every_shown_number_has_a_minus_sign_and_reads_back_as_its_value(value):
    for write, rel, absolute in FORMATS:
        text = write(value)
        assert "-" not in text, text
        back = float(text.replace(MINUS, "-"))
        # Rounding to the last decimal shown, give or take the float's own last bits (a large number's are coarse).
        assert math.isclose(back, value, rel_tol=rel, abs_tol=absolute + 4 * math.ulp(value)), (text, value)


def test_a_few_numbers_as_the_page_writes_them():
    assert sig(-8.811376) == "−8.811" and sig(0.003343) == "0.003343" and sig(0) == "0"
    assert fixed(-1.5) == "−1.5000" and plain(-1.5) == "−1.5" and plain(2.0) == "2"
    assert sci(7.6e-9) == "7.6e−09" and sci(-1.23e12, 2) == "−1.23e+12"
    assert column([0.8, 4, -6.25]) == ["0.80", "4.00", "−6.25"]


def test_the_prose_puts_numbers_into_formulas_and_code_with_the_ascii_sign(default_run):
    from engine.mathtex import MathBatch
    from engine.pages import PageRenderer
    from engine.pipeline import explain
    batch = MathBatch()
    renderer = PageRenderer(ROOT / "templates", ROOT / "content", default_run, batch, {"zh": {}, "en": {}},
                            explain(default_run, []))
    x = fixed(-1.5, 1)
    md = renderer.markdown("test")
    html = md.render(f"Text {x}, formula $w = {x}$, code `w = {x}`.\n\n$$\nb = {x}\n$$\n\n"
                     f"```sh\n--set init.b2_1={x}\n```\n")
    renderer.math(f"z = {x}", "test")
    assert [tex for tex, _ in batch.formulas] == ["w = -1.5", "b = -1.5", "z = -1.5"]
    assert f"Text {x}," in html and "<code>w = -1.5</code>" in html and "--set init.b2_1=-1.5" in html
    assert MINUS not in re.sub(r"Text −1\.5", "", html)


def test_the_page_s_scripts_write_numbers_as_python_does(page, default_site):
    """LessonText.sig and .fixed (templates/static/lesson.js) against engine/numerals.py, value by value:
    ties that are exact in binary (0.125 to two decimals), rounding that carries (9.99996), powers of ten,
    negatives, and a spread of random values."""
    import random
    page.goto((default_site / "en" / "index.html").as_uri())
    rng = random.Random(14)
    values = [0.125, -0.125, 0.5, 2.5, -2.5, 1.0005, 9.99996, -9.99996, 0.00999996, 1e-3, 1e3, 1e-12, 123456.5,
              0.1, 0.2, 0.3, 1 / 3, -2 / 3, 4.35, 0.000125, 7.5e-5]
    values += [rng.uniform(-1, 1) * 10 ** rng.randint(-6, 6) for _ in range(400)]
    values += [round(rng.uniform(-100, 100), rng.randint(1, 4)) + 5 * 10 ** -rng.randint(2, 6) for _ in range(200)]
    got = page.evaluate("""(values) => values.map((v) => [LessonText.sig(v), LessonText.fixed(v, 4),
                                                          LessonText.fixed(v, 2), LessonText.fixed(v, 0)])""", values)
    expected = [[sig(v), fixed(v, 4), fixed(v, 2), fixed(v, 0)] for v in values]
    differing = [(v, js, py) for v, js, py in zip(values, got, expected) if js != py]
    assert differing == [], differing[:5]
