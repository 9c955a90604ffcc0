"""The build cache never serves stale output, and a damaged cache never changes a build.

For each kind of input (a setting, a paragraph of prose, a formula in the
prose, a figure label, a template, the engine's code) a build that reuses a
warm cache must give exactly the bytes of a build without any cache. So must
a build whose cache was damaged: a flipped byte, a folder or another kind's
entry in an entry's place, a pickle, a cache that cannot be written, entries
deleted while the build runs. Such a build exits 0 and says nothing.
"""

from __future__ import annotations

import copy
import errno
import hashlib
import json
import marshal
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine import cache as cache_module
from engine import config, mathfont, mathtex, pages, pipeline
from engine.pipeline import Paths, build
from sitetools import run_cli, tree_hashes

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
    assert {"site", "runs", "frames", "figures", "formulas", "mathfont"} <= kinds
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


# ================================================================== a damaged cache, through the command line

SMALL = ("--set", "train.epochs=60", "--set", "train.display_every=20")   # a quick build: 4 frames
KINDS = ("site", "runs", "frames", "figures", "formulas", "mathfont", "template")
# A real entry of another kind: its hash is right, its shape is not.
OTHER_KIND = {"site": "formulas", "runs": "site", "frames": "formulas", "figures": "runs", "formulas": "figures",
              "mathfont": "runs", "template": "figures"}
# The same build with some of its command line's functions replaced (build.main, as `python build.py` runs it).
PATCHED = """
import errno, os, shutil, sys
from pathlib import Path
sys.path.insert(0, {root!r})
CACHE = {cache!r}
{patch}
import build
sys.exit(build.main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def lesson(tmp_path_factory):
    """The site built without a cache, and a cache warmed by a build of the same site."""
    base = tmp_path_factory.mktemp("damage")
    result = run_cli("--out", str(base / "reference"), "--no-cache", "-q", *SMALL)
    assert result.returncode == 0, result.stderr
    warm = base / "warm"
    result = run_cli("--cache", str(warm), "--out", str(base / "warm-site"), "-q", *SMALL)
    assert result.returncode == 0, result.stderr
    assert {entry.name.split("-")[0] for entry in warm.iterdir()} == set(KINDS)
    return tree_hashes(base / "reference"), warm


def damaged_build(cache: Path, out: Path, patch: str = "") -> subprocess.CompletedProcess:
    """Build the site with this cache, `patch` run first."""
    args = ["--cache", str(cache), "--out", str(out), "-q", *SMALL]
    if not patch:
        return run_cli(*args)
    script = PATCHED.format(root=str(ROOT), cache=str(cache), patch=textwrap.dedent(patch))
    return subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def warm_copy(lesson, folder: Path, site: bool = True) -> Path:
    """A copy of the warm cache that a test may damage; without its site, a build reads every other entry."""
    shutil.copytree(lesson[1], folder)
    if not site:
        for path in entries(folder, "site"):
            path.unlink()
    return folder


def entries(cache: Path, *kinds: str) -> list[Path]:
    """The entries of these kinds (every kind's, if none is named)."""
    found = sorted(path for path in cache.iterdir() if path.name.split("-")[0] in (kinds or KINDS))
    assert found, f"no {kinds} entries in {sorted(p.name for p in cache.iterdir())}"
    return found


def assert_same_site(result: subprocess.CompletedProcess, out: Path, expected: dict) -> None:
    """The build succeeded silently and made exactly the site of a build without a cache."""
    assert (result.returncode, result.stderr) == (0, "")
    assert tree_hashes(out) == expected


def leftovers(cache: Path) -> list[str]:
    """Half-written files in the cache (the cache's own temporary files, and Jinja's)."""
    return sorted(path.name for path in cache.rglob("*") if path.name.startswith(".tmp-") or path.name.endswith(".tmp"))


@pytest.mark.parametrize("kind", KINDS)
def test_a_flipped_byte_in_an_entry_changes_nothing(lesson, tmp_path, kind):
    """Every entry is checked against its hash: a damaged one is made afresh, and stored right again."""
    cache = warm_copy(lesson, tmp_path / "cache", site=kind == "site")
    for path in entries(cache, kind):
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF   # every bit of the middle byte
        path.write_bytes(data)
    assert_same_site(damaged_build(cache, tmp_path / "out"), tmp_path / "out", lesson[0])
    assert_same_site(damaged_build(cache, tmp_path / "again"), tmp_path / "again", lesson[0])   # and the next


@pytest.mark.parametrize("kinds", [("site",), KINDS[1:]], ids=["site", "others"])
def test_a_folder_in_place_of_an_entry_changes_nothing(lesson, tmp_path, kinds):
    """A folder where an entry should be is removed, and the entry written again."""
    cache = warm_copy(lesson, tmp_path / "cache", site=kinds == ("site",))
    places = entries(cache, *kinds)
    for path in places:
        path.unlink()
        (path / "inside").mkdir(parents=True)
        (path / "inside" / "file").write_bytes(b"not an entry")
    assert_same_site(damaged_build(cache, tmp_path / "out"), tmp_path / "out", lesson[0])
    assert all(path.is_file() for path in places)


@pytest.mark.parametrize("kinds", [("site",), KINDS[1:]], ids=["site", "others"])
def test_an_entry_of_the_wrong_shape_changes_nothing(lesson, tmp_path, kinds):
    """Another kind's entry in an entry's place: an intact entry (its hash is right) of the wrong shape."""
    cache = warm_copy(lesson, tmp_path / "cache")
    others = {kind: entries(cache, OTHER_KIND[kind])[0].read_bytes() for kind in kinds}
    if kinds != ("site",):
        for path in entries(cache, "site"):
            path.unlink()
    for kind in kinds:
        for path in entries(cache, kind):
            path.write_bytes(others[kind])
    assert_same_site(damaged_build(cache, tmp_path / "out"), tmp_path / "out", lesson[0])


class Planted:
    """An object that, unpickled, creates a file: what someone who can write the cache could plant."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


def test_a_pickle_in_place_of_an_entry_is_never_unpickled(lesson, tmp_path):
    cache = warm_copy(lesson, tmp_path / "cache")
    planted = tmp_path / "planted-by-a-pickle"
    for path in entries(cache):
        path.write_bytes(pickle.dumps(Planted(planted)))
    assert_same_site(damaged_build(cache, tmp_path / "out"), tmp_path / "out", lesson[0])
    assert not planted.exists()


NO_SPACE_TO_CREATE = """
real_open, real_mkdir = os.open, os.mkdir
def full(path, *args, **kwargs):
    if os.fspath(path).startswith(CACHE):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(path))
os.open = lambda path, flags, *args, **kwargs: (full(path) if flags & os.O_CREAT else None) or real_open(path, flags, *args, **kwargs)
os.mkdir = lambda path, *args, **kwargs: full(path) or real_mkdir(path, *args, **kwargs)
"""
NO_SPACE_TO_RENAME = """
real_replace = os.replace
def replace(source, target, *args, **kwargs):
    if os.fspath(target).startswith(CACHE):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(source), None, os.fspath(target))
    return real_replace(source, target, *args, **kwargs)
os.replace = replace
"""


@pytest.mark.parametrize("patch, warm", [(NO_SPACE_TO_CREATE, True), (NO_SPACE_TO_CREATE, False),
                                         (NO_SPACE_TO_RENAME, False)],
                         ids=["no file can be created, warm", "no file can be created, cold", "no rename"])
def test_a_cache_that_cannot_be_written_only_costs_time(lesson, tmp_path, patch, warm):
    """A full disk: the build uses what it can read, keeps nothing new, and leaves no half-written file."""
    cache = warm_copy(lesson, tmp_path / "cache", site=False) if warm else tmp_path / "cache"
    before = tree_hashes(cache) if warm else {}
    assert_same_site(damaged_build(cache, tmp_path / "out", patch), tmp_path / "out", lesson[0])
    assert not cache.exists() or leftovers(cache) == []
    assert (tree_hashes(cache) if cache.exists() else {}) == before   # nothing was written


def test_entries_deleted_as_they_are_read_change_nothing(lesson, tmp_path):
    """Another build trims the cache between reading an entry and marking it as used."""
    cache = warm_copy(lesson, tmp_path / "cache", site=False)
    patch = """
    real_read = Path.read_bytes
    def read_and_delete(path):
        data = real_read(path)
        if str(path).startswith(CACHE):
            path.unlink()
        return data
    Path.read_bytes = read_and_delete
    """
    assert_same_site(damaged_build(cache, tmp_path / "out", patch), tmp_path / "out", lesson[0])


def test_the_cache_deleted_while_pages_are_written_changes_nothing(lesson, tmp_path):
    """Someone deletes the cache folder in the middle of a build (after every batch of formulas)."""
    cache = warm_copy(lesson, tmp_path / "cache", site=False)
    patch = """
    import engine.mathtex
    real_send = engine.mathtex.MathBatch.send
    def send(batch):
        shutil.rmtree(CACHE, ignore_errors=True)
        return real_send(batch)
    engine.mathtex.MathBatch.send = send
    """
    assert_same_site(damaged_build(cache, tmp_path / "out", patch), tmp_path / "out", lesson[0])
    assert leftovers(cache) == []


# ================================================================== the entries, one by one

def small_entry(tmp_path) -> tuple[cache_module.Cache, str, dict]:
    """A cache holding one small entry of drawn files."""
    store = cache_module.Cache(tmp_path / "cache")
    key, drawn = store.key("figures", "small"), {"figures/en/a.svg": b"<svg/>", "figures/zh/a.svg": b"<svg>\n</svg>"}
    store.save(key, drawn, pipeline.DRAWN)
    return store, key, drawn


def test_every_flipped_byte_and_every_cut_is_found(tmp_path):
    """Whichever byte of an entry is damaged, or wherever it ends early, the entry is not used, and deleted."""
    store, key, drawn = small_entry(tmp_path)
    path = store.folder / key
    good = path.read_bytes()
    damaged = [good[:k] + bytes([good[k] ^ bit]) + good[k + 1:] for k in range(len(good)) for bit in (0x01, 0x80)]
    for data in damaged + [good[:k] for k in range(len(good))] + [good + b"\0"]:
        path.write_bytes(data)
        assert store.load(key, pipeline.DRAWN) is None
        assert not path.exists()
    path.write_bytes(good)
    assert store.load(key, pipeline.DRAWN) == drawn


def same_hash(path: Path, data, files: dict[str, bytes]) -> None:
    """Write an intact entry (the right hash) of any data, as an independent writer of the layout would."""
    body = (json.dumps({"data": data, "files": [[name, len(content)] for name, content in files.items()]})
            .encode("utf-8") + b"\n" + b"".join(files.values()))
    path.write_bytes(b"lesson-cache/1 " + hashlib.sha256(body).hexdigest().encode() + b"\n" + body)


def test_an_independent_writer_of_the_layout_is_read(tmp_path):
    """The layout is the one engine/cache.py describes, not whatever its own writer happens to produce."""
    store, key, drawn = small_entry(tmp_path)
    same_hash(store.folder / key, None, drawn)
    assert store.load(key, pipeline.DRAWN) == drawn


def good_runs_entry(settings) -> tuple[dict, dict]:
    """The runs of a short training, as the cache keeps them: (data, loss files)."""
    return pipeline.runs_form(settings).dump(pipeline.train_with_comparisons(settings))


def wrong_shapes(settings) -> list[tuple[str, cache_module.Form, object, dict]]:
    """Entries of each form with the right hash and a wrong shape: (what, form, data, files)."""
    runs = pipeline.runs_form(settings)
    good, losses = good_runs_entry(settings)

    def changed(path: list, value) -> dict:
        """The good runs' data with one value replaced (or deleted, for value ...)."""
        data = copy.deepcopy(good)
        place = data
        for step in path[:-1]:
            place = place[step]
        if value is ...:
            del place[path[-1]]
        else:
            place[path[-1]] = value
        return data

    site = {"pages": 4, "frames": 4, "files": 1, "total_bytes": 1, "gif_bytes": 0, "final_loss": 0.5}
    return [
        ("site: no numbers", pipeline.SITE, None, {"index.html": b"x"}),
        ("site: a count as a float", pipeline.SITE, {**site, "pages": 4.0}, {"index.html": b"x"}),
        ("site: a number too many", pipeline.SITE, {**site, "extra": 1}, {"index.html": b"x"}),
        ("site: a page that is not UTF-8", pipeline.SITE, site, {"index.html": b"\xff"}),
        ("drawn: data", pipeline.DRAWN, [], {"a.svg": b"x"}),
        ("drawn: a file outside the site", pipeline.DRAWN, None, {"figures/../../outside.svg": b"x"}),
        ("site: a file outside the site", pipeline.SITE, site, {"/etc/outside": b"x"}),
        ("drawn: no files", pipeline.DRAWN, None, {}),
        ("formulas: display as 0/1", mathtex.FORMULAS, [["x", 1, "<math>x</math>"]], {}),
        ("formulas: a row too short", mathtex.FORMULAS, [["x", True]], {}),
        ("formulas: a dictionary", mathtex.FORMULAS, {"x": "<math>x</math>"}, {}),
        ("mathfont: no font", mathfont.FONT, None, {}),
        ("mathfont: another file", mathfont.FONT, None, {"font": b"x", "more": b"y"}),
        ("template: no code", pages.COMPILED, None, {"a-1": marshal.dumps(42)}),
        ("template: not marshal", pages.COMPILED, None, {"a-1": b"\x00garbage"}),
        ("template: one not code", pages.COMPILED, None, {"a-1": marshal.dumps(compile("1", "x", "eval")), "b-2": b""}),
        ("runs: an epoch as a float", runs, changed(["run", "snapshots", 0, "epoch"], 1.0), losses),
        ("runs: a loss missing", runs, good, {**losses, "run.loss": losses["run.loss"][:-8]}),
        ("runs: a loss file of no floats", runs, good, {**losses, "run.loss": losses["run.loss"][:-1]}),
        ("runs: a loss file missing", runs, good, {k: v for k, v in losses.items() if k != "run.loss"}),
        ("runs: a file too many", runs, good, {**losses, "a": b""}),
        ("runs: a snapshot missing", runs, changed(["run", "snapshots"], good["run"]["snapshots"][1:]), losses),
        ("runs: a parameter missing", runs, changed(["run", "final", "params", "w11_1"], ...), losses),
        ("runs: a parameter too many", runs, changed(["run", "snapshots", 1, "grads", "w99_9"], 0.0), losses),
        ("runs: other settings", runs, changed(["run", "settings", "train", "epochs"], 61), losses),
        ("runs: a seed never used", runs, changed(["others", 0, 0], 99), losses),
        ("runs: no others", runs, changed(["others"], ...), losses),
    ]


def test_entries_of_the_wrong_shape_are_not_used(tmp_path):
    """Each form checks the shape of what it reads: such an entry is deleted, not used, and raises nothing."""
    settings = config.load(ROOT / "content" / "lesson.toml", ["train.epochs=60", "train.display_every=20"])
    store = cache_module.Cache(tmp_path / "cache")
    for what, form, data, files in wrong_shapes(settings):
        key = store.key("entry", what)
        store.folder.mkdir(exist_ok=True)
        same_hash(store.folder / key, data, files)
        assert store.load(key, form) is None, what
        assert not (store.folder / key).exists(), what


def test_the_runs_come_back_exactly(tmp_path):
    """Every float of every run survives the cache bit for bit (JSON writes floats as repr does)."""
    settings = config.load(ROOT / "content" / "lesson.toml", ["train.epochs=60", "train.display_every=20"])
    runs = pipeline.train_with_comparisons(settings)
    store = cache_module.Cache(tmp_path / "cache")
    form = pipeline.runs_form(settings)
    store.save("runs-" + "0" * 40, runs, form)
    back = store.load("runs-" + "0" * 40, form)
    assert back == runs and repr(back) == repr(runs)   # repr tells apart every float, even 0.0 and -0.0
    assert store.load("runs-" + "0" * 40, pipeline.runs_form(config.with_random_init(settings, 1))) is None


class FailingWrite:
    """A file whose every write fails as on a full disk."""

    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stream.close()

    def writelines(self, pieces):
        self.stream.write(b"half an entry")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("failure", ["mkdir", "mkstemp", "write", "replace", "a folder in the way"])
def test_an_entry_that_cannot_be_written_is_not_kept_and_leaves_nothing(tmp_path, monkeypatch, failure):
    store, key, drawn = small_entry(tmp_path)
    fresh = store.key("figures", "fresh")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    if failure == "mkdir":
        shutil.rmtree(store.folder)
        monkeypatch.setattr(Path, "mkdir", full)
    elif failure == "mkstemp":
        monkeypatch.setattr(cache_module.tempfile, "mkstemp", full)
    elif failure == "write":
        real_fdopen = os.fdopen
        monkeypatch.setattr(cache_module.os, "fdopen", lambda *args: FailingWrite(real_fdopen(*args)))
    elif failure == "replace":
        monkeypatch.setattr(cache_module.os, "replace", full)
    else:
        (store.folder / fresh).mkdir()
    store.save(fresh, drawn, pipeline.DRAWN)
    monkeypatch.undo()
    assert store.load(fresh, pipeline.DRAWN) is None
    assert not store.folder.exists() or leftovers(store.folder) == []


def test_compiled_templates_of_earlier_versions_are_deleted(tmp_path):
    """Older builds kept Jinja's marshalled templates in jinja/: a folder of code nothing reads any more."""
    store, key, _ = small_entry(tmp_path)
    (store.folder / "jinja").mkdir()
    (store.folder / "jinja" / "__jinja2_0123.cache").write_bytes(b"code")
    store.trim()
    assert sorted(path.name for path in store.folder.iterdir()) == [key]


def test_compiled_templates_are_read_only_from_a_folder_that_is_yours_alone(tmp_path):
    """They are code: from a folder others may write in, the templates are compiled afresh (same site)."""
    cache, out, ran = tmp_path / "shared", tmp_path / "site", tmp_path / "ran"
    cache.mkdir()
    command = [sys.executable, str(ROOT / "build.py"), "--cache", str(cache), "--out", str(out), "-q",
               "--set", "train.epochs=60", "--set", "train.display_every=20"]
    assert subprocess.run(command, capture_output=True, text=True, timeout=300).returncode == 0
    before = tree_hashes(out)
    code = marshal.dumps(compile(f"open({str(ran)!r}, 'w').close()", "planted", "exec"))

    def plant() -> None:
        """What a stranger could write there: well-formed entries whose code would run if it were read."""
        templates = [entry for entry in cache.iterdir() if entry.name.startswith("template-")]
        assert templates
        for entry in cache.iterdir():   # the site goes, so that the pages (and their templates) are made again
            if entry.name.startswith("site-"):
                entry.unlink()
        for entry in templates:   # every template's code, under its own name
            _, files = cache_module.entry_parts(entry.read_bytes())
            entry.write_bytes(b"".join(cache_module.entry_bytes(None, {name: code for name in files})))

    plant()
    cache.chmod(0o777)
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and again.stderr == "", again.stderr
    assert not ran.exists()
    assert tree_hashes(out) == before
    plant()
    cache.chmod(0o755)   # the same folder, yours alone: the planted code is what a build would run
    assert subprocess.run(command, capture_output=True, text=True, timeout=300).returncode != 0
    assert ran.exists()
