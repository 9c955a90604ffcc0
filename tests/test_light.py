"""The lighter site (issue 5): KaTeX's markup written shorter must draw exactly like KaTeX's own,
with only the fonts it uses; the cards' formulas live in one shared file; figures keep their words
as text. Expected values come from KaTeX's untouched output and from the browser's own drawing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine import mathtex
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
    explained = pipeline.explain(default_run)
    explained["starts"] = []
    explained["client"] = pipeline.client_data(default_run)
    strings = pipeline.load_strings(ROOT / "content")
    original = mathtex.MathBatch
    try:
        pipeline.mathtex.MathBatch = Recording
        pipeline.render_pages(default_run, pipeline.Paths(cache=None),
                              pipeline.describe_figures(default_run, others, strings), explained, Cache(None))
    finally:
        pipeline.mathtex.MathBatch = original
    return seen["formulas"]


def formula_page(folder: Path, formulas: list[str], css: dict[str, bytes]) -> Path:
    """A page of formulas, one per row, with the style sheet and fonts given."""
    rows = "".join(f'<div class="row">{html}</div>' for html in formulas)
    page = (f'<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="katex/katex.min.css">'
            f"<style>body{{margin:0;width:1200px}} .row{{padding:4px 8px;border-bottom:1px solid #ddd}}</style>"
            f"</head><body>{rows}</body></html>")
    for name, data in css.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    (folder / "index.html").write_text(page, encoding="utf-8")
    return folder / "index.html"


def screenshot(page, path: Path) -> bytes:
    page.goto(path.as_uri())
    page.evaluate("document.fonts.ready.then(() => true)")
    return page.screenshot(full_page=True)


@pytest.fixture(scope="module")
def rendered(default_run):
    """KaTeX's own HTML of the lesson's formulas and some more, and the same written short."""
    items = lesson_formulas(default_run) + MORE_FORMULAS
    raw = [result["html"] for result in mathtex.Katex().render([{"tex": t, "display": d} for t, d in items])]
    style = mathtex.KatexStyle.load()
    short = style.share_styles([style.compact(html) for html in raw])
    return raw, short, style


def test_short_markup_draws_pixel_for_pixel_like_katex(rendered, browser, tmp_path):
    raw, short, style = rendered
    fonts = {f"katex/fonts/{p.name}": p.read_bytes() for p in (mathtex.KATEX_DIST / "fonts").glob("*")}
    own = formula_page(tmp_path / "katex", raw,
                       {"katex/katex.min.css": (mathtex.KATEX_DIST / "katex.min.css").read_bytes(), **fonts})
    ours = formula_page(tmp_path / "short", short, style.files(short))
    page = browser.new_page()
    try:
        expected, got = screenshot(page, own), screenshot(page, ours)
        assert page.evaluate("[...document.fonts].every(f => f.status !== 'error')")
    finally:
        page.close()
    assert len(got) > 100_000   # the formulas were drawn, not an empty page
    assert got == expected
    assert sum(map(len, short)) < 0.6 * sum(map(len, raw))


def test_short_markup_keeps_meaning_for_screen_readers(rendered):
    raw, short, _ = rendered
    for before, after in zip(raw, short):
        assert after.count("<math") == before.count("<math") == 1
        strip = lambda html: re.sub(r"<[^>]+>", "", re.sub(r"<annotation.*?</annotation>", "", html, flags=re.S))
        assert strip(after) == strip(before)   # the same text: MathML and visible glyphs
        assert ("aria-hidden=true" in after) == ('aria-hidden="true"' in before)


def test_only_the_fonts_the_formulas_use_are_shipped(rendered):
    _, short, style = rendered
    lesson_only = style.files(short[:-len(MORE_FORMULAS)])
    everything = style.files(short)
    shipped = {name for name in lesson_only if name.endswith(".woff2")}
    assert "katex/fonts/KaTeX_Main-Regular.woff2" in shipped
    assert "katex/fonts/KaTeX_AMS-Regular.woff2" not in shipped          # no \mathbb in the lesson
    assert "katex/fonts/KaTeX_AMS-Regular.woff2" in everything            # ...but in MORE_FORMULAS
    for files in (lesson_only, everything):
        css = files["katex/katex.min.css"].decode()
        for url in re.findall(r"url\(([^)]+)\)", css):
            assert f"katex/{url}" in files, url                            # no reference to a missing file


def test_site_styles_and_scripts_name_only_the_katex_classes_that_keep_their_names():
    css = (mathtex.KATEX_DIST / "katex.min.css").read_text(encoding="utf-8")
    katex_classes = set(re.findall(r"\.(-?[A-Za-z_][\w-]*)", re.sub(r"url\([^)]*\)", "", css)))
    named = set()
    for path in (ROOT / "templates" / "static").glob("*.css"):
        named |= set(re.findall(r"\.(-?[A-Za-z_][\w-]*)", path.read_text(encoding="utf-8")))
    for path in (ROOT / "templates" / "static").glob("*.js"):
        named |= set(re.findall(r"""["'.\s]([a-z][\w-]*)["'\s)]""", path.read_text(encoding="utf-8")))
    assert named & katex_classes <= set(mathtex.OWN_CLASSES), named & katex_classes - set(mathtex.OWN_CLASSES)


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
