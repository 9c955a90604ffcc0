"""The build cache never serves stale output.

For each kind of input (a setting, a paragraph of prose, a formula in the
prose, a figure label, a template, the engine's code) a build that reuses a
warm cache must give exactly the bytes of a build without any cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine import cache as cache_module
from engine import pipeline
from engine.pipeline import Paths, build
from sitetools import tree_hashes

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Copies of content/ and templates/ that the tests may edit, and a warm cache."""
    base = tmp_path_factory.mktemp("cache")
    shutil.copytree(ROOT / "content", base / "content")
    shutil.copytree(ROOT / "templates", base / "templates")
    paths = Paths(content=base / "content", templates=base / "templates", config=base / "content" / "lesson.toml",
                  cache=base / "cache", out=base / "warm")
    first = build(paths)
    assert "site" not in first.cached
    return base, paths


def both_ways(base: Path, paths: Paths, name: str, overrides=()) -> tuple[dict, dict]:
    """The same build with the warm cache and with none."""
    warm = Paths(**{**paths.__dict__, "out": base / f"{name}-warm"})
    cold = Paths(**{**paths.__dict__, "out": base / f"{name}-cold", "cache": None})
    build(warm, list(overrides))
    build(cold, list(overrides))
    return tree_hashes(warm.out), tree_hashes(cold.out)


def test_cached_and_uncached_builds_are_identical(sources):
    base, paths = sources
    again = build(paths)
    assert again.cached == ("site",)
    warm, cold = both_ways(base, paths, "same")
    assert warm == cold == tree_hashes(paths.out)


def test_a_changed_setting(sources):
    base, paths = sources
    warm, cold = both_ways(base, paths, "setting", ["train.learning_rate=0.45"])
    assert warm == cold
    assert warm["data/run.json"] != tree_hashes(paths.out)["data/run.json"]
    assert warm["animation/training.gif"] != tree_hashes(paths.out)["animation/training.gif"]


@pytest.mark.parametrize("edit", ["prose", "formula", "label", "template"])
def test_a_changed_source_file(sources, edit):
    base, paths = sources
    files = {
        "prose": (base / "content" / "en" / "05-loss.md", "\n\n", "\n\nA new sentence.\n\n", "en/index.html"),
        "formula": (base / "content" / "zh" / "05-loss.md", "\n\n", "\n\n$$q^{(9)}_{42} = 7$$\n\n", "zh/index.html"),
        "label": (base / "content" / "strings.toml", '\nx = "size x"', '\nx = "size (EU) x"', "figures/en/scatter.svg"),
        "template": (base / "templates" / "partials" / "glossary.html", "<caption>", '<caption class="g">',
                     "zh/index.html"),
    }
    path, old, new, changed = files[edit]
    original = path.read_text(encoding="utf-8")
    assert old in original
    path.write_text(original.replace(old, new, 1), encoding="utf-8")
    try:
        warm, cold = both_ways(base, paths, edit)
    finally:
        path.write_text(original, encoding="utf-8")
    assert warm == cold
    assert warm[changed] != tree_hashes(paths.out)[changed]


def test_a_change_to_the_engine_changes_every_key(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "engine", tmp_path / "engine")
    monkeypatch.setattr(cache_module, "ROOT", tmp_path)
    before = cache_module.Cache(tmp_path / "c").key("runs", {"a": 1})
    code = tmp_path / "engine" / "network.py"
    code.write_text(code.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    after = cache_module.Cache(tmp_path / "c").key("runs", {"a": 1})
    assert before != after


def test_the_command_line_keeps_its_cache_where_it_is_told(tmp_path):
    """`--cache DIR` holds the results; the second build reuses them and says from where; .cache/ is not used."""
    cache, out = tmp_path / "kept", tmp_path / "site"
    default_cache = cache_module.FOLDER
    before = sorted(p.name for p in default_cache.iterdir()) if default_cache.is_dir() else []
    command = [sys.executable, str(ROOT / "build.py"), "--cache", str(cache), "--out", str(out),
               "--set", "train.epochs=300", "--set", "train.display_every=100"]
    first = subprocess.run(command + ["-q"], capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    kinds = {entry.name.split("-")[0] for entry in cache.iterdir()}
    assert {"site", "runs", "frames", "figures", "katex"} <= kinds
    second = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert f"reused from {cache.resolve()}/: site" in second.stdout
    after = sorted(p.name for p in default_cache.iterdir()) if default_cache.is_dir() else []
    assert after == before


@pytest.mark.parametrize("where", ["a folder of other files", "a file", "an empty name"])
def test_a_cache_folder_that_holds_other_things_is_refused_in_one_line(tmp_path, where):
    """The cache never strews its entries among other files: one line, exit 1, nothing written anywhere."""
    others = tmp_path / "notes"
    others.mkdir()
    (others / "lesson-plan.txt").write_text("week 3: backprop", encoding="utf-8")
    argument = {"a folder of other files": str(others), "a file": str(others / "lesson-plan.txt"),
                "an empty name": ""}[where]
    out = tmp_path / "site"
    result = subprocess.run([sys.executable, str(ROOT / "build.py"), f"--cache={argument}", "--out", str(out), "-q"],
                            cwd=others, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("build.py: error: --cache: expected ")
    assert sorted(p.name for p in others.iterdir()) == ["lesson-plan.txt"]
    assert not out.exists()


def test_the_cache_keeps_to_its_size_by_dropping_what_was_used_least_recently(tmp_path, monkeypatch):
    """Many tries of settings must not fill the disk: past KEPT_BYTES the oldest-used entries go."""
    store = cache_module.Cache(tmp_path / "cache")
    keys = [store.key("frames", n) for n in range(5)]
    drawn = {"animation/frames/frame-001.png": b"x" * 1000}
    for age, key in enumerate(keys):   # each entry about 1100 bytes, the first saved longest ago
        store.save(key, drawn, pipeline.DRAWN)
        os.utime(store.folder / key, (1_000_000 + age, 1_000_000 + age))
    size = (store.folder / keys[0]).stat().st_size
    monkeypatch.setattr(cache_module, "KEPT_BYTES", 3 * size + 100)   # room for three entries
    assert store.load(keys[0], pipeline.DRAWN) == drawn   # used now: the newest of all
    store.trim()
    kept = {path.name for path in store.folder.iterdir()}
    assert kept == {keys[0], keys[3], keys[4]}   # within the limit, the least recently used gone
    assert sum(path.stat().st_size for path in store.folder.iterdir()) <= 3 * size + 100
