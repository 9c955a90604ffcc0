"""The lesson's own script (section 11): shipped in the site, run alone, shown on the page.

The script is copied out of a built site into an empty folder and run there with
Python in isolated mode; what it prints is compared with the same site's
data/run.json, the engine's record of the run.

Tolerance: 1e-12, relative (for runs whose loss only falls; see SENSITIVE for one that rises). The engine adds up the samples with matrix
products and the script with np.mean, so the two differ in the last bits of
each sum (about 1e-15 relative at the lesson's settings, measured); relative
because the losses fall by two orders of magnitude over a run, so a fixed
absolute tolerance would be strict at the start and loose at the end. A
parameter may pass close to zero, where a relative error says nothing, so
parameters may also be within 1e-12 absolutely (they are of order 1).
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
import shutil
import subprocess
import sys
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sitetools import ROOT

SCRIPT = "code/lesson_network.py"
LANGS = ("zh", "en")
REL = 1e-12
# Settings that give other scripts: a random start; a display interval that does not divide the
# epochs (so the last epoch is a snapshot of its own); other shapes, one with a hidden node that
# feeds several nodes (its delta is a sum over its outgoing arrows).
OTHER_SETTINGS = {
    "seed-3": ["init.random=true", "init.seed=3"],
    "every-37": ["train.epochs=1000", "train.display_every=37"],
    "layers-131": ["network.layers=[1,3,1]", "init.random=true"],
    "layers-1221": ["network.layers=[1,2,2,1]", "init.random=true", "init.seed=5", "train.epochs=600",
                    "train.display_every=50"],
}
# A run whose loss rises now and then (the steps overshoot): there a difference in the last bit grows
# fast, and the script's numbers part from the engine's (by 1e-3 at this rate, measured).
SENSITIVE = {"rate-1": ["train.learning_rate=1"]}


@pytest.fixture(scope="module")
def sites(default_site, tmp_path_factory):
    """name -> a built site: the default one and one for each of OTHER_SETTINGS and SENSITIVE."""
    from engine.pipeline import Paths, build
    built = {"default": default_site}
    for name, overrides in {**OTHER_SETTINGS, **SENSITIVE}.items():
        out = tmp_path_factory.mktemp(name) / "site"
        build(Paths(out=out), overrides)
        built[name] = out
    return built


def run_alone(site: Path, folder: Path) -> str:
    """Copy the site's script, and nothing else, into an empty folder and run it there."""
    folder.mkdir()
    shutil.copy(site / SCRIPT, folder / "lesson_network.py")
    # -I: no PYTHON* variables, no user site-packages, not even the script's folder on the path.
    result = subprocess.run([sys.executable, "-I", "lesson_network.py"], cwd=folder, capture_output=True,
                            text=True, timeout=120, env={"PATH": os.environ.get("PATH", ""), "HOME": str(folder)})
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["lesson_network.py"], "the script wrote files"
    return result.stdout


def printed(stdout: str) -> dict:
    """The numbers the script printed: losses at the display epochs, the final loss, the parameters."""
    lines = stdout.splitlines()
    epochs = [re.fullmatch(r"epoch +(\d+) +E = (\S+)", line) for line in lines]
    losses = [(int(m.group(1)), m.group(2)) for m in epochs if m]
    final = [re.fullmatch(r"after (\d+) epochs: E = (\S+)", line) for line in lines]
    final = [m for m in final if m]
    assert len(final) == 1, stdout
    rest = lines[len(losses) + 1:]
    assert lines[:len(losses)] == [line for line, m in zip(lines, epochs) if m], "the losses come first"
    params = [pair for line in rest for pair in re.findall(r"(\w+) = (\S+)", line)]
    assert " ".join(rest).count("=") == len(params), rest
    return {"losses": losses, "final_epochs": int(final[0].group(1)), "final": final[0].group(2), "params": params}


def significant_digits(text: str) -> int:
    """How many significant digits a printed number has: 0.00334376315590554 -> 15."""
    mantissa = text.lower().split("e")[0].lstrip("-").replace(".", "").lstrip("0")
    return len(mantissa)


def close(a: float, b: float, absolute: float = 0.0) -> bool:
    return math.isclose(a, b, rel_tol=REL, abs_tol=absolute)


@pytest.mark.parametrize("name", ["default", *OTHER_SETTINGS])
def test_the_script_alone_prints_the_run(sites, tmp_path, name):
    """Run alone with numpy it prints the loss of every display epoch and the final parameters of data/run.json."""
    site = sites[name]
    record = json.loads((site / "data" / "run.json").read_text(encoding="utf-8"))
    out = printed(run_alone(site, tmp_path / "alone"))
    snapshots = record["snapshots"]
    assert [epoch for epoch, _ in out["losses"]] == [s["epoch"] for s in snapshots]
    assert out["final_epochs"] == record["settings"]["train"]["epochs"]
    for text in [value for _, value in out["losses"]] + [out["final"]] + [value for _, value in out["params"]]:
        assert significant_digits(text) >= 10, text
    for (epoch, value), snapshot in zip(out["losses"], snapshots):
        assert close(float(value), snapshot["loss"]), (epoch, value, snapshot["loss"])
        assert close(float(value), record["loss"][epoch - 1]), epoch
    assert close(float(out["final"]), record["final"]["loss"])
    assert [key for key, _ in out["params"]] == record["param_names"]
    for key, value in out["params"]:
        assert close(float(value), record["final"]["params"][key], absolute=1e-12), (key, value)


def assigned(tree: ast.Module) -> dict[str, object]:
    """The constants the script assigns at its top level: name -> value."""
    values = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return values


@pytest.mark.parametrize("name", ["default", "seed-3", "layers-1221"])
def test_the_script_holds_the_settings_exactly(sites, name):
    """Data, training settings and starting values are written so that they read back to the same floats."""
    site = sites[name]
    record = json.loads((site / "data" / "run.json").read_text(encoding="utf-8"))
    tree = ast.parse((site / SCRIPT).read_text(encoding="utf-8"))
    values = assigned(tree)
    settings = record["settings"]
    assert [list(p) for p in values["points"]] == settings["data"]["points"]
    for key in ("learning_rate", "epochs", "display_every"):
        assert values[key] == settings["train"][key], key
    for key in record["param_names"]:
        assert values[key] == settings["init"][key], key   # exactly: repr round-trips
    imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert [alias.name for node in imports for alias in node.names] == ["numpy"], "numpy and nothing else"


class Section(HTMLParser):
    """Section 11 of a page: the text of each of its code figures, and its inline code outside them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth = 0          # inside <section id="code"> when > 0
        self.figure = None      # id of the code figure we are in
        self.in_pre = self.in_code = False
        self.figures: dict[str, str] = {}
        self.captions: dict[str, str] = {}
        self.in_caption = False
        self.inline: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            if self.depth or attrs.get("id") == "code":
                self.depth += 1
            return
        if not self.depth:
            return
        if tag == "figure" and "code" in (attrs.get("class") or "").split():
            self.figure = attrs.get("id")
            self.figures[self.figure] = ""
            self.captions[self.figure] = ""
        elif tag == "figcaption" and self.figure:
            self.in_caption = True
        elif tag == "pre":
            self.in_pre = True
        elif tag == "code" and not self.in_pre and not self.figure:
            self.in_code = True
            self.inline.append("")

    def handle_endtag(self, tag):
        if tag == "section" and self.depth:
            self.depth -= 1
        elif tag == "figure":
            self.figure = None
        elif tag == "figcaption":
            self.in_caption = False
        elif tag == "pre":
            self.in_pre = False
        elif tag == "code":
            self.in_code = False

    def handle_data(self, data):
        if self.figure and self.in_pre:
            self.figures[self.figure] += data
        elif self.figure and self.in_caption:
            self.captions[self.figure] += data
        elif self.in_code:
            self.inline[-1] += data


def section_11(site: Path, lang: str) -> Section:
    parser = Section()
    parser.feed((site / lang / "index.html").read_text(encoding="utf-8"))
    return parser


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", ["default", "layers-1221"])
def test_the_page_shows_the_script(sites, name, lang):
    """Section 11's code is the shipped file, in its parts (two blank lines apart), and nothing else."""
    site = sites[name]
    script = (site / SCRIPT).read_text(encoding="utf-8")
    section = section_11(site, lang)
    parts = ["setup", "forward", "training", "result"]
    assert list(section.figures) == [f"code-script-{part}" for part in parts], list(section.figures)
    shown = [unescape(section.figures[f"code-script-{part}"]) for part in parts]
    assert "\n\n".join(shown) == script
    # Each caption gives the part's lines in the file.
    lines = script.splitlines()
    for part, text in zip(parts, shown):
        first, last = map(int, re.search(r"(\d+)–(\d+)", section.captions[f"code-script-{part}"]).groups())
        assert lines[first - 1:last] == text.splitlines(), part


def script_names(site: Path) -> set[str]:
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", (site / SCRIPT).read_text(encoding="utf-8")))


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", ["default", "layers-131", "layers-1221"])
def test_the_prose_quotes_only_the_script(sites, name, lang):
    """Every piece of code the prose of section 11 quotes is in the script, or is a file it names."""
    site = sites[name]
    script = (site / SCRIPT).read_text(encoding="utf-8")
    section = section_11(site, lang)
    assert section.inline, "the prose quotes the script"
    for quoted in section.inline:
        if quoted in script:
            continue
        # Not code of the script: a file of the site or of the project, which exists.
        assert quoted in ("data/run.json", "data/run.csv") and (site / quoted).is_file() \
            or quoted.startswith("engine/") and (ROOT / quoted).is_file(), f"{lang}: `{quoted}` is not in the script"
    # The sum over a node's outgoing arrows: the prose mentions it where the script has one.
    sums = re.search(r"^ +delta\d+_\d+ = \(", script, re.M) is not None
    html = (site / lang / "index.html").read_text(encoding="utf-8")
    code = html[html.index('id="code"'):]
    mentions = ("paths adding up" if lang == "en" else "路径相加") in code
    assert mentions == sums, (name, lang, sums)


@pytest.mark.parametrize("name", ["default", "rate-1"])
def test_the_page_says_when_the_run_is_sensitive(sites, name):
    """Where the loss ever rises, section 11 says at which epoch, and that the script may differ from there on."""
    site = sites[name]
    losses = json.loads((site / "data" / "run.json").read_text(encoding="utf-8"))["loss"]
    rises = [epoch for epoch in range(2, len(losses) + 1) if losses[epoch - 1] > losses[epoch - 2]]
    assert bool(rises) == (name == "rate-1")
    for lang, says in (("en", "the loss rises at epoch {}"), ("zh", "在第 {} 轮损失不降反升")):
        html = (site / lang / "index.html").read_text(encoding="utf-8")
        code = html[html.index('<section class="lesson-section" id="code"'):]
        if rises:
            assert says.format(rises[0]) in code, lang
        else:
            assert says.split("{}")[0] not in code, lang


def test_the_section_no_longer_shows_engine_functions(default_site):
    """The engine's batched code and the update line that appeared nowhere are gone from section 11."""
    for lang in LANGS:
        html = (default_site / lang / "index.html").read_text(encoding="utf-8")
        code = html[html.index('<section class="lesson-section" id="code"'):]
        code = code[:code.index("</section>")]
        for gone in (".mT", "keepdims", "settings.learning_rate * dW", 'id="code-train"'):
            assert gone not in unescape(re.sub(r"<[^>]+>", "", code)) and gone not in code, (lang, gone)


def test_the_marker_lists_the_script(default_site):
    from engine import output
    listed = (default_site / output.MARKER).read_text(encoding="utf-8").splitlines()
    assert SCRIPT in listed


@pytest.mark.parametrize("lang", LANGS)
def test_the_link_opens_the_script_from_file(page, default_site, lang):
    """The link in section 11 leads to the file from file://: Chromium shows it (or saves it), byte for byte."""
    page.goto((default_site / lang / "index.html").as_uri())
    link = page.locator(f"#code a[href='../{SCRIPT}']")
    assert link.count() == 1
    link.scroll_into_view_if_needed()
    assert link.is_visible()
    expected = (default_site / SCRIPT).read_text(encoding="utf-8")
    downloads = []
    page.on("download", lambda download: downloads.append(download))
    link.click()
    for _ in range(100):   # Chromium opens a file:// link even with a download attribute; a server may send it to save
        if downloads or page.url.endswith(SCRIPT):
            break
        page.wait_for_timeout(100)
    if downloads:
        assert Path(downloads[0].path()).read_text(encoding="utf-8") == expected
    else:
        assert page.url == (default_site / SCRIPT).as_uri()
        assert page.evaluate("document.body.innerText") == expected
