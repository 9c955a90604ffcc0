"""End to end: the output contract of DESIGN §4, checked on real built sites.

Builds are slow (~2-4 s each), so there are few: the session's default site (conftest, from the
live content/ and templates/), two default builds from one frozen copy of the sources (for the
byte-identical check), the second of them then rebuilt in place with other settings. Failing
builds stop before training or writing and cost little.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import warnings
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import html5lib
import pytest
from PIL import Image

import plain_network as plain
from engine import output
from engine.config import SettingsError
from engine.pipeline import Paths, build
from engine.train import TrainingDiverged
from sitetools import ROOT, dot_folders_beside, run_cli_guarded, tree_hashes

NAMES = list(plain.DESIGN_NAMES_121)
CHANGED = ["train.learning_rate=0.2", "train.epochs=600", "train.display_every=100"]
REL = 1e-9


def strict_json(path: Path):
    """json.loads that refuses NaN and Infinity (not JSON, and most readers reject them)."""
    def refuse(constant):
        raise ValueError(f"{path}: non-JSON number {constant}")
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def html_files(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def parse(path: Path):
    parser = html5lib.HTMLParser(namespaceHTMLElements=False)
    return parser.parse(path.read_bytes())


def frames_of(site: Path) -> list[Path]:
    return sorted((site / "animation" / "frames").glob("*.png"))


def gif_frames(path: Path) -> tuple[int, dict, tuple[int, int]]:
    with Image.open(path) as im:
        assert im.format == "GIF"
        return im.n_frames, dict(im.info), im.size


def four_significant(value: float) -> str:
    """The number with 4 significant digits, trailing zeros kept (printf's %#.4g)."""
    return "%#.4g" % value


# ------------------------------------------------------------------ files of the contract

@pytest.mark.parametrize("name", ["index.html", "zh/index.html", "en/index.html", "404.html", ".nojekyll",
                                  "data/run.json", "data/run.csv", "animation/training.gif"])
def test_contract_files_exist(default_site, name):
    assert (default_site / name).is_file(), name


def test_marker_file(default_site):
    assert (default_site / output.MARKER).is_file()


# ------------------------------------------------------------------ data/run.json

@pytest.fixture(scope="module")
def record(default_site):
    return strict_json(default_site / "data" / "run.json")


def test_run_json_keys(record):
    assert set(record) == {"settings", "param_names", "loss", "snapshots", "final"}
    assert record["param_names"] == NAMES
    assert set(record["final"]) == {"params", "loss"}
    assert list(record["final"]["params"]) == NAMES


def test_run_json_settings_are_the_resolved_design_settings(record):
    s = record["settings"]
    assert s["data"]["points"] == [list(p) for p in plain.DESIGN_POINTS]
    assert s["network"]["layers"] == [1, 2, 1]
    assert {k: v for k, v in s["init"].items() if k in NAMES} == plain.DESIGN_INIT
    assert s["train"] == {"learning_rate": 0.5, "epochs": 5000, "display_every": 100}


def test_run_json_loss_per_epoch(record, plain_default):
    assert len(record["loss"]) == record["settings"]["train"]["epochs"] == 5000
    for e, (got, want) in enumerate(zip(record["loss"], plain_default["losses"]), start=1):
        assert math.isclose(got, want, rel_tol=REL), e


def test_run_json_snapshots(record, plain_default):
    snaps = record["snapshots"]
    assert [s["epoch"] for s in snaps] == [1] + list(range(100, 5001, 100))
    for s in snaps:
        assert set(s) == {"epoch", "loss", "params", "grads"}
        assert list(s["params"]) == NAMES and list(s["grads"]) == NAMES
        assert s["loss"] == record["loss"][s["epoch"] - 1]
        loss, params, grads = plain_default["snapshots"][s["epoch"]]
        for name in NAMES:
            assert math.isclose(s["params"][name], params[name], rel_tol=REL), (s["epoch"], name)
            assert math.isclose(s["grads"][name], grads[name], rel_tol=REL, abs_tol=1e-15), (s["epoch"], name)


def test_run_json_final_is_independent_recomputation(record, plain_default):
    for name in NAMES:
        assert math.isclose(record["final"]["params"][name], plain_default["final_params"][name], rel_tol=REL)
    assert math.isclose(record["final"]["loss"], plain_default["final_loss"], rel_tol=REL)
    # and the final loss is the plain loss *at* the final params
    assert math.isclose(record["final"]["loss"], plain.loss_121(record["final"]["params"], plain.DESIGN_POINTS),
                        rel_tol=1e-12)


def test_run_csv(default_site, record):
    lines = (default_site / "data" / "run.csv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 5000 + 1
    assert lines[0].replace(" ", "").lower() == "epoch,loss"
    for k, line in enumerate(lines[1:], start=1):
        epoch, loss = line.split(",")
        assert int(epoch) == k
        assert math.isclose(float(loss), record["loss"][k - 1], rel_tol=1e-11)   # 12 significant digits


# ------------------------------------------------------------------ animation and figures

def test_gif_one_frame_per_snapshot_and_loops(default_site, record):
    count, info, size = gif_frames(default_site / "animation" / "training.gif")
    assert count == len(record["snapshots"]) == 51
    assert "loop" in info and info["loop"] == 0  # 0 = forever


def test_png_frames(default_site, record):
    frames = frames_of(default_site)
    assert len(frames) == len(record["snapshots"])
    sizes = set()
    for path in frames:
        with Image.open(path) as im:
            assert im.format == "PNG"
            sizes.add(im.size)
    assert len(sizes) == 1
    _, _, gif_size = gif_frames(default_site / "animation" / "training.gif")
    assert sizes == {gif_size}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_svg_figures(default_site, lang):
    svgs = sorted((default_site / "figures" / lang).glob("*.svg"))
    assert svgs, lang
    for path in svgs:
        root = ET.fromstring(path.read_bytes())
        assert root.tag.endswith("svg"), path


# ------------------------------------------------------------------ pages

SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
URL_ATTRS = ("href", "src", "poster", "action", "data", "{http://www.w3.org/1999/xlink}href")


def references(path: Path):
    """(tag, attribute, value) of every URL in a page, srcset entries included."""
    for el in parse(path).iter():
        if not isinstance(el.tag, str):
            continue
        for attr in URL_ATTRS:
            if el.get(attr) is not None:
                yield el.tag, attr, el.get(attr)
        if el.get("srcset"):
            for part in el.get("srcset").split(","):
                yield el.tag, "srcset", part.strip().split()[0]


def check_reference(site: Path, page: Path, url: str) -> str | None:
    """None if the reference is relative and lands on a file of the site; else why not."""
    url = url.strip()
    if url.startswith("#"):
        return None
    if url.startswith("/"):  # also catches "//host"
        return "absolute path"
    if SCHEME.match(url):
        return None if url.lower().startswith("data:") else "has a scheme"
    target = url.split("#", 1)[0].split("?", 1)[0]
    if not target:
        return None
    resolved = (page.parent / target).resolve()
    if not resolved.is_relative_to(site.resolve()):
        return "leaves the site"
    if not resolved.is_file():
        return "no such file"
    return None


def test_every_reference_is_relative_and_exists(default_site):
    problems = []
    pages = html_files(default_site)
    assert len(pages) >= 4
    for page in pages:
        for tag, attr, url in references(page):
            why = check_reference(default_site, page, url)
            if why:
                problems.append(f"{page.relative_to(default_site)}: <{tag} {attr}={url!r}>: {why}")
    assert problems == []


def test_css_urls_are_relative_and_exist(default_site):
    problems = []
    for sheet in sorted(default_site.rglob("*.css")):
        text = sheet.read_text(encoding="utf-8")
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)", text):
            why = check_reference(default_site, sheet, url)
            if why:
                problems.append(f"{sheet.relative_to(default_site)}: url({url}): {why}")
        assert "@import" not in text or "http" not in text
    assert problems == []


def test_no_fetch_no_modules(default_site):
    for path in sorted([*default_site.rglob("*.html"), *default_site.rglob("*.js")]):
        text = path.read_text(encoding="utf-8")
        assert "fetch(" not in text, path
        assert not re.search(r"""type\s*=\s*["']?module""", text), path


def test_images_have_alt_and_pages_have_lang(default_site):
    for page in html_files(default_site):
        tree = parse(page)
        html = tree if tree.tag == "html" else tree.find(".//html")
        assert html is not None and html.get("lang", "").strip(), page
        images = tree.findall(".//img")
        for img in images:
            assert (img.get("alt") or "").strip(), f"{page}: <img src={img.get('src')!r}> has no alt"


@pytest.mark.parametrize("name", ["index.html", "zh/index.html", "en/index.html", "404.html"])
def test_pages_parse_strictly(default_site, name):
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    parser.parse((default_site / name).read_bytes())  # raises ParseError on any error
    assert parser.errors == []


def test_index_links_to_both_languages(default_site):
    hrefs = {el.get("href") for el in parse(default_site / "index.html").iter("a")}
    assert "zh/index.html" in hrefs and "en/index.html" in hrefs


# ------------------------------------------------------------------ rebuilding

@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    """Two default builds back to back, then the CHANGED settings into the second folder.

    Others edit content/ and templates/ while tests run, so both default builds read one frozen
    copy of them (taken here), not the live folders: a difference then means the build itself
    is not reproducible. Returns (hashes of A, hashes of B before the rebuild, A, B).
    """
    tmp = tmp_path_factory.mktemp("rebuild")
    content, templates = tmp / "content", tmp / "templates"
    shutil.copytree(ROOT / "content", content)
    shutil.copytree(ROOT / "templates", templates)
    paths = dict(config=content / "lesson.toml", content=content, templates=templates)
    first, second = tmp / "a" / "site", tmp / "b" / "site"
    build(Paths(out=first, **paths))
    build(Paths(out=second, **paths))
    hashes_first, hashes_second = tree_hashes(first), tree_hashes(second)
    build(Paths(out=second, **paths), CHANGED)
    return hashes_first, hashes_second, first, second


def test_same_settings_give_byte_identical_site(rebuilt):
    hashes_first, hashes_second, _, _ = rebuilt
    assert sorted(hashes_first) == sorted(hashes_second)
    differing = [name for name in hashes_first if hashes_first[name] != hashes_second[name]]
    assert differing == []


def test_rebuild_changes_run_json(rebuilt):
    _, _, default_site, out = rebuilt
    new = strict_json(out / "data" / "run.json")
    old = strict_json(default_site / "data" / "run.json")
    assert new != old
    assert new["settings"]["train"] == {"learning_rate": 0.2, "epochs": 600, "display_every": 100}
    assert len(new["loss"]) == 600
    assert [s["epoch"] for s in new["snapshots"]] == [1, 100, 200, 300, 400, 500, 600]
    want = plain.plain_train(lambda p: plain.loss_grad_121(p, plain.DESIGN_POINTS), plain.DESIGN_INIT, 0.2, 600)
    for name in NAMES:
        assert math.isclose(new["final"]["params"][name], want["final_params"][name], rel_tol=REL)
    assert math.isclose(new["final"]["loss"], want["final_loss"], rel_tol=REL)
    lines = (out / "data" / "run.csv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 601


def test_rebuild_changes_the_animation(rebuilt):
    _, _, default_site, out = rebuilt
    assert (out / "animation" / "training.gif").read_bytes() != (default_site / "animation" / "training.gif").read_bytes()
    count, info, _ = gif_frames(out / "animation" / "training.gif")
    assert count == 7 and info.get("loop") == 0
    assert len(frames_of(out)) == 7  # the 51 frames of the build it replaced are gone


def test_rebuild_changes_figures_that_depend_on_training(rebuilt):
    _, _, default_site, out = rebuilt
    for lang in ("zh", "en"):
        old = {p.name: p.read_bytes() for p in (default_site / "figures" / lang).glob("*.svg")}
        new = {p.name: p.read_bytes() for p in (out / "figures" / lang).glob("*.svg")}
        assert set(old) == set(new)
        assert any(old[name] != new[name] for name in old), lang


def test_rebuild_changes_the_pages(rebuilt):
    _, _, default_site, out = rebuilt
    default_en = (default_site / "en" / "index.html").read_bytes()
    new_en = (out / "en" / "index.html").read_text(encoding="utf-8")
    assert new_en.encode("utf-8") != default_en
    old_loss = strict_json(default_site / "data" / "run.json")["final"]["loss"]
    new_loss = strict_json(out / "data" / "run.json")["final"]["loss"]
    assert four_significant(old_loss) != four_significant(new_loss)
    if four_significant(old_loss) in default_en.decode("utf-8"):
        # the prose prints the final loss: it must follow the settings
        assert four_significant(new_loss) in new_en


# ------------------------------------------------------------------ failing builds

def test_failing_build_leaves_existing_site_untouched(default_site, default_site_hashes):
    with pytest.raises(SettingsError):
        build(Paths(out=default_site), ["train.epochs=0"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(TrainingDiverged):
            build(Paths(out=default_site), ["data.points=[[0,0],[1e10,1]]", "init.w11_1=1e-10",
                                            "train.learning_rate=1e308", "train.epochs=5",
                                            "train.display_every=1"])
    assert tree_hashes(default_site) == default_site_hashes
    assert dot_folders_beside(default_site) == []


def test_write_failure_midway_keeps_old_site_and_leaves_no_temp(tmp_path):
    out = tmp_path / "site"
    output.write_site({"index.html": b"old", "a/b.txt": b"kept"}, out)
    before = tree_hashes(out)
    # "x" is written as a file, then "x/y" needs "x" to be a folder: the write fails halfway
    with pytest.raises(OSError):
        output.write_site({"index.html": b"new", "x": b"file", "x/y": b"cannot"}, out)
    assert tree_hashes(out) == before
    assert dot_folders_beside(out) == []
    # a name that escapes the site is refused, nothing written outside
    with pytest.raises(output.OutputError):
        output.write_site({"../escape.txt": b"x", "index.html": b"new"}, out)
    assert not (tmp_path / "escape.txt").exists()
    assert tree_hashes(out) == before
    assert dot_folders_beside(out) == []


def test_successful_write_replaces_whole_site(tmp_path):
    out = tmp_path / "site"
    output.write_site({"index.html": b"old", "stale/file.txt": b"x"}, out)
    output.write_site({"index.html": b"new"}, out)
    assert (out / "index.html").read_bytes() == b"new"
    assert not (out / "stale").exists()
    assert (out / output.MARKER).is_file()
    assert dot_folders_beside(out) == []


# ------------------------------------------------------------------ --out refusals

def refusal_targets(tmp: Path) -> dict[str, Path | str]:
    foreign = tmp / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine\n", encoding="utf-8")
    link = tmp / "link-to-repo"
    link.symlink_to(ROOT, target_is_directory=True)
    a_file = tmp / "a-file"
    a_file.write_text("x\n", encoding="utf-8")
    return {
        "repo-root": ROOT,
        "repo-root-dotdot": ROOT / "content" / "..",
        "content": ROOT / "content",
        "engine": ROOT / "engine",
        "templates": ROOT / "templates",
        "tests": ROOT / "tests",
        "inside-content": ROOT / "content" / "site",
        "filesystem-root": Path("/"),
        "home": Path.home(),
        "home-tilde": "~",
        "symlink-to-repo": link,
        "non-empty-foreign": foreign,
        "a-file": a_file,
    }


REFUSALS = ["repo-root", "repo-root-dotdot", "content", "engine", "templates", "tests", "inside-content",
            "filesystem-root", "home", "home-tilde", "symlink-to-repo", "non-empty-foreign", "a-file"]


@pytest.fixture(scope="module")
def refusal_results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("refuse")
    targets = refusal_targets(tmp)
    before = {name: tree_hashes(p) for name, p in targets.items() if name == "non-empty-foreign"}
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {name: pool.submit(run_cli_guarded, "--out", str(target), "-q",
                                     "--set", "train.epochs=1", "--set", "train.display_every=1")
                   for name, target in targets.items()}
        results = {name: f.result() for name, f in futures.items()}
    return results, targets, before


@pytest.mark.parametrize("name", REFUSALS)
def test_out_refused(refusal_results, name):
    results, _, _ = refusal_results
    result = results[name]
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "TRIPWIRE" not in result.stderr and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "--out" in lines[0] and "expected" in lines[0] and "got" in lines[0]


def test_refusals_changed_nothing(refusal_results):
    _, targets, before = refusal_results
    assert tree_hashes(targets["non-empty-foreign"]) == before["non-empty-foreign"]
    assert not (ROOT / "content" / "site").exists()
    # no marker and no staging folders (".NAME-new-*", ".NAME-old-*") in or beside the refused places
    # (others edit content/ meanwhile, so whole listings are not compared)
    for place in (ROOT, ROOT / "content", ROOT / "engine", ROOT / "templates", ROOT / "tests", Path.home()):
        assert not (place / output.MARKER).exists(), place
        leftovers = [p.name for p in place.parent.iterdir() if re.match(r"^\..*-(new|old)-", p.name)]
        leftovers += [p.name for p in place.iterdir() if re.match(r"^\..*-(new|old)-", p.name)]
        assert leftovers == [], place


def test_out_accepted_for_empty_or_marked_folder(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert output.check_target(empty) == empty.resolve()
    assert output.check_target(tmp_path / "not-yet") == (tmp_path / "not-yet").resolve()
    marked = tmp_path / "marked"
    marked.mkdir()
    (marked / output.MARKER).write_bytes(output.marker(["index.html"]))
    (marked / "index.html").write_text("old", encoding="utf-8")
    assert output.check_target(marked) == marked.resolve()


def test_readme_animation_is_the_default_build(default_site):
    """README shows content/media/training.gif; it must be what the default build draws.

    After a change to the figures, refresh it with
    `python build.py && cp site/animation/training.gif content/media/training.gif`.
    """
    readme_gif = Path(__file__).resolve().parent.parent / "content" / "media" / "training.gif"
    assert readme_gif.read_bytes() == (default_site / "animation" / "training.gif").read_bytes()
