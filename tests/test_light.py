"""The lighter site (issues 5 and 14): formulas are MathML drawn with a math font cut down to the
characters they use, which draws them exactly like the whole font; the cards' formulas live in one
shared file; figures keep their words as text. Expected values come from the whole font, from the
font file read back with fontTools, and from the browser's own drawing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine import mathfont, mathtex
from engine.pages import LANGS

ROOT = Path(__file__).resolve().parent.parent

# Beyond the lesson's formulas: constructs a teacher might add, and the fonts they need.
MORE_FORMULAS = [
    (r"\sqrt{x^2 + 1} \le \sqrt[3]{\frac{a}{b}}", True),
    (r"\begin{pmatrix} w_{11} & w_{12} \\ w_{21} & w_{22} \end{pmatrix} \boldsymbol{x} + \mathbf{b}", True),
    (r"\mathbb{R}^n,\ \mathcal{L},\ \mathfrak{g},\ \mathsf{E},\ \mathtt{lr},\ \mathit{fit}", False),
    (r"\overbrace{a + b}^{\text{两项}} = \hat{y},\ \vec v,\ \tilde z,\ \bar a", True),
    (r"\textbf{bold } \textit{italic } \text{损失函数} \xrightarrow{\ \eta\ } \color{#c2410c}{w}", False),
    (r"\left( \sum_{k=1}^{n} \Big[ y_k - \hat y_k \Big]^2 \right) \Bigg\}", True),
]


def lesson_formulas(default_run) -> list[tuple[str, bool]]:
    """Every formula the default build renders: both pages and the cards."""
    from engine import pipeline
    from engine.cache import Cache
    seen = {}

    class Recording(mathtex.MathBatch):
        def render(self, *args, **kwargs):
            seen["formulas"] = list(self.formulas)
            super().render(*args, **kwargs)

    others = []
    explained = pipeline.explain(default_run, others)
    strings = pipeline.load_strings(ROOT / "content")
    original = mathtex.MathBatch
    try:
        pipeline.mathtex.MathBatch = Recording
        pipeline.render_pages(default_run, pipeline.Paths(cache=None),
                              pipeline.describe_figures(default_run, others, strings), explained, Cache(None))
    finally:
        pipeline.mathtex.MathBatch = original
    return seen["formulas"]


def formula_page(folder: Path, formulas: list[str], font: bytes) -> Path:
    """A page of formulas (MathML), one per row, drawn with the math font given as the site's style sheet names it."""
    rows = "".join(f'<div class="row">{mathml}</div>' for mathml in formulas)
    css = (ROOT / "templates" / "static" / "style.css").read_text(encoding="utf-8")
    rules = css[css.index("@font-face"):css.index("/* ---- figures and tables")]   # the formulas' rules
    page = (f'<!doctype html><html><head><meta charset="utf-8"><style>{rules}'
            f"body{{margin:0;width:1200px;font-size:18px}} .row{{padding:4px 8px;border-bottom:1px solid #ddd}}</style>"
            f"</head><body>{rows}</body></html>")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "math.woff").write_bytes(font)
    (folder / "index.html").write_text(page, encoding="utf-8")
    return folder / "index.html"


def screenshot(page, path: Path) -> bytes:
    page.goto(path.as_uri())
    page.evaluate("document.fonts.ready.then(() => true)")
    assert page.evaluate("[...document.fonts].every(f => f.status === 'loaded')")
    return page.screenshot(full_page=True)


@pytest.fixture(scope="module")
def rendered(default_run):
    """Temml's MathML of the lesson's formulas and some more."""
    items = lesson_formulas(default_run) + MORE_FORMULAS
    return [result["mathml"] for result in mathtex.Temml().render([{"tex": t, "display": d} for t, d in items])]


def test_the_cut_down_math_font_draws_every_formula_pixel_for_pixel_like_the_whole_font(rendered, browser, tmp_path):
    """The site ships STIX Two Math cut down to the characters its formulas use; drawn with it, the formulas
    (stretched brackets, roots, sums and accents included) look exactly as with the whole font."""
    whole = formula_page(tmp_path / "whole", rendered, mathfont.SOURCE.read_bytes())
    cut = formula_page(tmp_path / "cut", rendered, mathfont.files(rendered)[mathfont.FONT_FILE])
    page = browser.new_page()
    try:
        expected, got = screenshot(page, whole), screenshot(page, cut)
    finally:
        page.close()
    assert len(got) > 100_000   # the formulas were drawn, not an empty page
    assert got == expected


def italic_form(char: str) -> str:
    """The MATHEMATICAL ITALIC character a browser draws for a one-letter <mi>, found by its Unicode name
    (LATIN SMALL LETTER X -> MATHEMATICAL ITALIC SMALL X, PARTIAL DIFFERENTIAL -> MATHEMATICAL ITALIC ...)."""
    import unicodedata
    if char == "h":
        return "\u210e"   # PLANCK CONSTANT stands in for the italic small h
    name = unicodedata.name(char, "")
    if name.startswith("LATIN") and len(name.split()[-1]) > 1:   # a Latin letter beyond a-z (gamma, iota...)
        return char
    for word in ("LATIN ", "GREEK ", "LETTER ", "LUNATE "):
        name = name.replace(word, "")
    try:
        return unicodedata.lookup(f"MATHEMATICAL ITALIC {name}")
    except KeyError:
        return char


def test_the_math_font_holds_every_character_the_formulas_show(rendered):
    """Read back with fontTools: every character in the formulas' text, and the italic form of every
    one-letter identifier, is in the shipped font, which keeps its MATH table and its licence."""
    import io
    import xml.etree.ElementTree as ET
    from fontTools.ttLib import TTFont
    font = TTFont(io.BytesIO(mathfont.files(rendered)[mathfont.FONT_FILE]))
    cmap = font.getBestCmap()
    needed = set()
    for mathml in rendered:
        tree = ET.fromstring(mathml.replace("&nbsp;", "\u00a0"))
        for node in tree.iter():
            text = node.text or ""
            needed.update(text)
            if node.tag == "mi" and len(text) == 1 and "mathvariant" not in node.attrib:
                needed.add(italic_form(text))
    needed -= {c for c in needed if "\u2e80" <= c <= "\u9fff" or "\uff00" <= c <= "\uffef"}   # CJK: the text font's
    needed -= {" ", "\u00a0", "\u2061"}   # spaces and the invisible function application
    missing = sorted(c for c in needed if ord(c) not in cmap)
    assert not missing, [f"U+{ord(c):04X}" for c in missing]
    assert {"\U0001D465", "\U0001D715"} <= needed   # italic x and ∂
    assert any("<msqrt>" in mathml for mathml in rendered) and 0x221A in cmap   # a root draws the radical sign
    assert "MATH" in font
    names = " ".join(str(record) for record in font["name"].names)
    assert "Copyright" in names and "scripts.sil.org/OFL" in names   # as the source font has them
    assert len(mathfont.files(rendered)[mathfont.FONT_FILE]) < 60_000


def test_formulas_are_mathml_a_screen_reader_reads(default_site):
    """Each formula is one <math> element, none hidden from screen readers, with no TeX left in the page."""
    for lang in LANGS:
        html = (default_site / lang / "index.html").read_text(encoding="utf-8")
        formulas = re.findall(r"<math\b.*?</math>", html, flags=re.S)
        assert len(formulas) > 100
        assert not any("aria-hidden" in formula or "<math" in formula[5:] for formula in formulas)
        assert "\\frac" not in html and "\x02MATH" not in html


def test_card_formulas_come_from_one_file_both_pages_share(default_site):
    script = (default_site / "assets" / "cards.js").read_text(encoding="utf-8")
    for lang in LANGS:
        html = (default_site / lang / "index.html").read_text(encoding="utf-8")
        wanted = set(re.findall(r'data-card-math="([^"]+)"', html))
        assert wanted and all(f'"{key}":' in script for key in wanted)
        assert '<script src="../assets/cards.js"></script>' in html
        assert not re.search(r'data-card-math="[^"]+">[^<]', html)        # the page itself holds none of them


def test_figure_words_are_text_in_the_page_language(default_site):
    for lang, word in (("zh", "训练轮次"), ("en", "epoch")):
        svg = (default_site / "figures" / lang / "loss.svg").read_text(encoding="utf-8")
        assert re.search(rf"<text[^>]*>[^<]*{word}", svg)
        assert "<metadata>" not in svg and "sans-serif" in svg


def test_each_figure_holds_its_own_language_s_words_and_no_other(default_site):
    """Figures are drawn once with every language's words; each file keeps only its own."""
    import html
    import tomllib
    strings = tomllib.loads((ROOT / "content" / "strings.toml").read_text(encoding="utf-8"))
    texts = {lang: {html.unescape(text) for path in sorted((default_site / "figures" / lang).glob("*.svg"))
                    for text in re.findall(r"<text[^>]*>([^<]*)</text>", path.read_text(encoding="utf-8"))}
             for lang in LANGS}   # each line of text in the language's figures
    flat = "0.2222"   # the default data's best constant loss, 2/9, as the loss figure prints it
    for lang in LANGS:
        words = {key: value.format(seed=1, loss=flat) for key, value in strings[lang]["figure"].items()}
        others = {value.format(seed=1, loss=flat) for other in LANGS if other != lang
                  for value in strings[other]["figure"].values()} - set(words.values())
        for key, word in words.items():
            assert word in texts[lang], (lang, key, word)
        for word in others:
            assert word not in texts[lang], (lang, word)


def test_figures_print_the_numbers_of_the_run_in_full(default_site):
    record = json.loads((default_site / "data" / "run.json").read_text(encoding="utf-8"))
    for lang in LANGS:
        svg = (default_site / "figures" / lang / "starts.svg").read_text(encoding="utf-8")
        assert f">E = {record['final']['loss']:.4f}<" in svg   # the recommended start's panel title
