"""The lesson itself: both languages alike, every number from the run, every formula checked.

Expected values come from data/run.json and from the plain implementation in
plain_network.py, never from the page code; a number shown with d decimals
must lie within half a unit of its last digit from the true value.
"""

from __future__ import annotations

import dataclasses
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

import plain_network as plain
from engine import formulas
from engine.mathtex import MathBatch
from engine.pages import PageRenderer
from engine.pipeline import Paths, build, explain
from sitetools import ROOT

LANGS = ("zh", "en")


class Structure(HTMLParser):
    """Collects what both languages must share: section ids, element ids, formula ids, images."""

    def __init__(self):
        super().__init__()
        self.sections, self.ids, self.formulas, self.images = [], set(), set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "section" and "lesson-section" in (attrs.get("class") or ""):
            self.sections.append(attrs["id"])
        if "data-formula" in attrs:
            self.formulas.add(attrs["data-formula"])
        if tag == "img":
            self.images.append(re.sub(r"figures/(zh|en)/", "figures/LANG/", attrs["src"]))


def structure(site: Path, lang: str) -> Structure:
    parser = Structure()
    parser.feed((site / lang / "index.html").read_text(encoding="utf-8"))
    return parser


def text_of(html: str) -> str:
    """The page's text, formulas' MathML included (one element per symbol, so tags become spaces)."""
    return re.sub(r"<[^>]+>", " ", html)


def number(shown: str) -> float:
    """A number as the page prints it, with its minus sign (U+2212)."""
    assert "-" not in shown, f"{shown!r}: a hyphen-minus where a minus sign belongs"
    return float(shown.replace("−", "-"))


def shown_matches(shown: str, value: float) -> bool:
    """A number as printed equals the value at the precision printed."""
    decimals = len(shown.partition(".")[2]) if "." in shown else 0
    return abs(number(shown) - value) <= 0.5 * 10 ** -decimals * (1 + 1e-9) + 1e-15


@pytest.fixture(scope="module")
def run_record(default_site):
    return json.loads((default_site / "data" / "run.json").read_text(encoding="utf-8"))


def test_both_languages_have_the_same_sections_anchors_formulas_and_figures(default_site):
    zh, en = structure(default_site, "zh"), structure(default_site, "en")
    assert zh.sections == en.sections and len(zh.sections) >= 7
    assert zh.ids == en.ids
    assert zh.formulas == en.formulas
    assert zh.images == en.images


def test_every_section_file_exists_in_both_languages():
    content = Path(__file__).resolve().parent.parent / "content"
    names = {lang: sorted(p.name for p in (content / lang).glob("*.md")) for lang in LANGS}
    assert names["zh"] == names["en"]


def cells(html: str, table_class: str) -> list[list[str]]:
    """The text of every body row of the first table with this class."""
    table = re.search(rf'<table class="data-table {table_class}".*?</table>', html, re.S).group(0)
    body = table.split("<tbody>")[1]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in rows]


@pytest.mark.parametrize("lang", LANGS)
def test_parameter_table_shows_the_run(default_site, run_record, lang):
    html = (default_site / lang / "index.html").read_text(encoding="utf-8")
    rows = cells(html, "params-table")
    names = run_record["param_names"]
    assert len(rows) == len(names)
    first, final = run_record["snapshots"][0], run_record["final"]
    for name, row in zip(names, rows):
        assert row[0].startswith(name)
        assert shown_matches(row[1], first["params"][name])
        assert shown_matches(row[2], first["grads"][name])
        assert shown_matches(row[3], final["params"][name])


@pytest.mark.parametrize("lang", LANGS)
def test_snapshot_table_shows_every_snapshot(default_site, run_record, lang):
    html = (default_site / lang / "index.html").read_text(encoding="utf-8")
    rows = cells(html, "snapshot-table")
    assert len(rows) == len(run_record["snapshots"])
    for snapshot, row in zip(run_record["snapshots"], rows):
        assert int(row[0]) == snapshot["epoch"]
        assert shown_matches(row[1], snapshot["loss"])
        for name, shown in zip(run_record["param_names"], row[2:]):
            assert shown_matches(shown, snapshot["params"][name])


@pytest.mark.parametrize("lang", LANGS)
def test_gradient_checks_show_backprop_and_finite_differences(default_site, run_record, lang):
    html = (default_site / lang / "index.html").read_text(encoding="utf-8")
    assert "check-table" in html
    names = run_record["param_names"]
    start = cells(html, 'check-table" id="gradient-check-start')
    _, by_name = plain.loss_grad_121(run_record["final"]["params"], plain.DESIGN_POINTS)
    final_grads = [by_name[n] for n in names]
    end = cells(html, 'check-table" id="gradient-check-end')
    for rows, grads in ((start, [run_record["snapshots"][0]["grads"][n] for n in names]), (end, final_grads)):
        for row, grad in zip(rows, grads):
            assert shown_matches(row[1], grad)
            assert shown_matches(row[2], grad) or abs(number(row[2]) - grad) < 1e-7 * abs(grad)
            assert number(row[3]) < 1e-6


@pytest.mark.parametrize("lang", LANGS)
def test_diagram_labels_show_the_starting_parameters_and_gradients(default_site, run_record, lang):
    html = (default_site / lang / "index.html").read_text(encoding="utf-8")
    assert "diagram-forward" in html
    first = run_record["snapshots"][0]
    sub = str.maketrans("₀₁₂₃₄₅₆₇₈₉⁽⁾¹²", "0123456789()12")
    # The backward diagram opens on the example sample's own gradients (its selector's default):
    # the first sample that fits, as the prose says.
    example = next(point for point in plain.DESIGN_POINTS if point[1] >= 0.5)
    _, own = plain.loss_grad_121(first["params"], [example])
    for pass_, values in (("fwd", first["params"]), ("bwd", own)):
        for name, value in values.items():
            group = re.search(rf'<g class="dg-item[^"]*" id="{pass_}-{name}".*?</g>', html, re.S).group(0)
            label = re.sub(r"<[^>]+>", "", re.findall(r'<text class="dg-label[^"]*"[^>]*>(.*?)</text>', group)[0])
            shown = label.split("= ")[-1]
            assert shown_matches(shown, value), (pass_, name, label)
            assert re.sub(r"^∂E\d*/∂", "", label.translate(sub)).startswith(name[0])


@pytest.mark.parametrize("lang", LANGS)
def test_prose_prints_the_losses_of_the_run(default_site, run_record, lang):
    text = text_of((default_site / lang / "index.html").read_text(encoding="utf-8"))
    for value in (run_record["loss"][0], run_record["final"]["loss"]):
        four = f"{value:.4g}"
        if "e" in four:
            continue
        assert four in text or f"{value:.4f}" in text, f"{lang}: {four} is not on the page"


def test_a_wrong_formula_value_fails_the_check(monkeypatch, default_settings, default_run):
    values = default_run.named(default_run.initial.params)
    formulas.lesson_formulas(default_settings.network, values, default_settings.points)  # fine as it is
    real = formulas.sigma
    monkeypatch.setattr(formulas, "sigma", lambda z: real(z) * (1 + 1e-7))
    with pytest.raises(formulas.FormulaMismatch, match="node-a1_1"):
        formulas.lesson_formulas(default_settings.network, values, default_settings.points)


def test_a_wrong_gradient_factor_fails_the_build_and_keeps_the_site(monkeypatch, tmp_path, default_site):
    import shutil
    out = tmp_path / "site"
    shutil.copytree(default_site, out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    real = formulas.upstream_factors

    def off_by_a_little(*args):
        factors = real(*args)
        factors[0] = formulas.Factor(factors[0].tex, factors[0].value * (1 + 1e-8))
        return factors

    monkeypatch.setattr(formulas, "upstream_factors", off_by_a_little)
    with pytest.raises(formulas.FormulaMismatch, match="grad-"):
        build(Paths(out=out, cache=None))  # no cache: a cached site would skip the formulas
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_the_pages_see_what_the_build_explained_by_the_names_the_prose_uses(default_run):
    """engine/pipeline.py explain builds the Explained once; the renderer hands its fields, with the run's
    numbers, to every template and section under the names the prose is written with, read-only."""
    others = [(seed, default_run) for seed in (1, 2)]   # any runs will do: the starts only report them
    explained = explain(default_run, others)
    with pytest.raises(dataclasses.FrozenInstanceError):
        explained.starts = []
    renderer = PageRenderer(ROOT / "templates", ROOT / "content", default_run, MathBatch(), {"zh": {}, "en": {}},
                            explained)
    context = renderer.page_context("en", "test")
    for name in ("formulas", "example", "in_text", "diagrams", "checks", "starts", "client", "glossary", "settings",
                 "n", "points", "layers", "init", "init_pred", "init_loss", "final", "param_names", "param_count",
                 "snapshots", "epochs", "learning_rate", "display_every", "loss_at", "first_below", "random_init"):
        assert name in context, name
    # The DESIGN's 12 points and 7 parameters; the worked example is the first point that fits, (2.7, 1).
    assert (context["n"], context["param_count"]) == (12, 7)
    assert context["param_names"] == plain.DESIGN_NAMES_121
    assert dict(context["example"]) == {"k": 5, "x": 2.7, "y": 1.0}
    assert [start["seed"] for start in context["starts"]] == [1, 2]
    assert context["client"]["names"] == list(plain.DESIGN_NAMES_121)
    assert {"node-a1_1", "grad-w11_1", "term-b1_2"} <= set(context["formulas"])
    assert set(context["diagrams"]) == {"forward", "backward"} and set(context["checks"]) == {"start", "end"}
    with pytest.raises(TypeError):
        renderer.shared["n"] = 13
