"""Reliability and security of the build: a site is never lost, nothing outside the output
folder is touched, the bytes are the same every time, the numbers stay finite or the build
stops cleanly, and nothing a page shows can run or load anything but the site's own files.

tests/test_build.py already checks the output contract, the byte-identical rebuild in one
process, a failing write, and the refusal of the usual dangerous --out values on the command
line; this file goes further: Ctrl-C at every step, an audit of every file operation of a real
build, the --check-reproducible command, extreme settings, injected markup and the page's
Content-Security-Policy in a real browser.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import http.server
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import html5lib
import numpy as np
import pytest
from PIL import Image

from engine import config, figures, formulas, output, pipeline
from engine.network import sigmoid
from engine.pipeline import Paths, build
from sitetools import ROOT, dot_folders_beside, run_cli, tree_hashes

PAGES = ["index.html", "zh/index.html", "en/index.html", "404.html"]
SMALL = ["train.epochs=60", "train.display_every=20"]  # a quick build: 4 frames
# Sends w11_1 to infinity in the first step (see tests/test_train.py): training diverges at epoch 2.
ABSURD = ["data.points=[[0,0],[1e10,1]]", "init.w11_1=1e-10", "train.learning_rate=1e308",
          "train.epochs=5", "train.display_every=1"]
INTERRUPTED = "build.py: interrupted; the previous site is unchanged"


def sets(overrides: list[str]) -> list[str]:
    """Settings as command-line arguments: --set A --set B ..."""
    return [arg for item in overrides for arg in ("--set", item)]


def fresh(paths: Paths) -> Paths:
    """The same paths without the build cache: every step really runs."""
    return replace(paths, cache=None)


def frozen_sources(folder: Path) -> dict:
    """A private copy of content/ and templates/ (others edit the live ones while tests run)."""
    shutil.copytree(ROOT / "content", folder / "content")
    shutil.copytree(ROOT / "templates", folder / "templates")
    return {"config": folder / "content" / "lesson.toml", "content": folder / "content",
            "templates": folder / "templates"}


def strict_json(path: Path):
    """JSON that refuses NaN and Infinity."""
    def refuse(constant):
        raise ValueError(f"{path}: {constant} is not JSON")
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def leftovers(out: Path) -> list[str]:
    """Temporary folders of the build (".NAME-new-*", ".NAME-old-*") beside `out`."""
    return sorted(p.name for p in out.parent.iterdir() if re.match(rf"^\.{re.escape(out.name)}-(new|old)-", p.name))


# ================================================================== 1. atomic output

@pytest.fixture
def old_site(tmp_path) -> Path:
    """A small site already in place, to be replaced (or, on failure, kept)."""
    out = tmp_path / "site"
    output.write_site({"index.html": b"old", "a/b.txt": b"kept"}, out)
    return out


NEW_FILES = {"index.html": b"new", "data/run.json": b"{}", "c/d/e.txt": b"deep"}


def test_interrupt_while_writing_the_files_keeps_the_old_site(old_site, monkeypatch):
    before = tree_hashes(old_site)
    write_bytes, calls = Path.write_bytes, []

    def interrupted(path, data):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return write_bytes(path, data)

    monkeypatch.setattr(Path, "write_bytes", interrupted)
    with pytest.raises(KeyboardInterrupt):
        output.write_site(NEW_FILES, old_site)
    monkeypatch.undo()
    assert tree_hashes(old_site) == before
    assert leftovers(old_site) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_interrupt_just_before_the_swap_keeps_the_old_site(old_site, monkeypatch):
    before = tree_hashes(old_site)

    def interrupted(a, b):
        raise KeyboardInterrupt

    monkeypatch.setattr(output, "exchange", interrupted)
    with pytest.raises(KeyboardInterrupt):
        output.write_site(NEW_FILES, old_site)
    assert tree_hashes(old_site) == before
    assert leftovers(old_site) == []


def test_ctrl_c_during_the_swap_is_held_until_the_new_site_is_in_place(old_site, monkeypatch):
    """A real SIGINT in the middle of the one-step swap: the swap completes, nothing is half done."""
    real = output.exchange

    def with_ctrl_c(a, b):
        os.kill(os.getpid(), signal.SIGINT)
        return real(a, b)

    monkeypatch.setattr(output, "exchange", with_ctrl_c)
    output.write_site(NEW_FILES, old_site)  # no KeyboardInterrupt: it came after the point of no return
    assert (old_site / "index.html").read_bytes() == b"new"
    assert not (old_site / "a").exists()
    assert (old_site / output.MARKER).is_file()
    assert leftovers(old_site) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_between_the_two_renames_of_the_fallback_swap_undoes_the_first(old_site, monkeypatch):
    """Where the one-step swap is not available: a SIGINT after the old site moved aside puts it back."""
    before = tree_hashes(old_site)
    monkeypatch.setattr(output, "exchange", lambda a, b: False)
    rename = os.rename
    renames = []

    def rename_then_ctrl_c(src, dst):
        rename(src, dst)
        renames.append((Path(src).name, Path(dst).name))
        if len(renames) == 1:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(os, "rename", rename_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        output.write_site(NEW_FILES, old_site)
    monkeypatch.undo()
    assert renames[0] == ("site", "site")  # out -> .site-old-*/site, then back
    assert tree_hashes(old_site) == before
    assert leftovers(old_site) == []


def test_fallback_swap_replaces_the_site(old_site, monkeypatch):
    monkeypatch.setattr(output, "exchange", lambda a, b: False)
    output.write_site(NEW_FILES, old_site)
    assert (old_site / "c" / "d" / "e.txt").read_bytes() == b"deep"
    assert not (old_site / "a").exists()
    assert leftovers(old_site) == []


@pytest.mark.parametrize("swap", ["one-step", "two-renames"])
def test_a_single_file_that_cannot_be_put_in_place_brings_the_old_site_back(old_site, monkeypatch, swap):
    """--single-file is written with the site: if it cannot be put in place last, the site swap is undone."""
    before = tree_hashes(old_site)
    target = old_site.parent / "lesson.html"
    if swap == "two-renames":
        monkeypatch.setattr(output, "exchange", lambda a, b: False)
    replace = os.replace

    def refused(source, destination):
        if Path(destination) == target:
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(destination))
        return replace(source, destination)

    monkeypatch.setattr(os, "replace", refused)
    with pytest.raises(output.OutputError) as info:
        output.write_site(NEW_FILES, old_site, (target, b"<!doctype html>\n" + output.SINGLE_FILE_MARK))
    monkeypatch.undo()
    assert str(info.value).startswith("--single-file: expected a file that can be written")
    assert tree_hashes(old_site) == before
    assert sorted(p.name for p in old_site.parent.iterdir()) == ["site"]   # no temporary file or folder left


def test_a_full_disk_is_one_line_and_keeps_the_old_site(old_site, monkeypatch):
    before = tree_hashes(old_site)
    write_bytes = Path.write_bytes

    def full(path, data):
        if path.name == "e.txt":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return write_bytes(path, data)

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(output.OutputError) as info:
        output.write_site(NEW_FILES, old_site)
    monkeypatch.undo()
    message = str(info.value)
    assert "\n" not in message and message.startswith("--out: expected") and "No space left on device" in message
    assert isinstance(info.value, OSError)
    assert tree_hashes(old_site) == before
    assert leftovers(old_site) == []


def test_a_failed_first_build_removes_the_folders_it_made(tmp_path, monkeypatch):
    out = tmp_path / "new" / "deeper" / "site"

    def interrupted(path, data):
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_bytes", interrupted)
    with pytest.raises(KeyboardInterrupt):
        output.write_site(NEW_FILES, out)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_a_file_where_a_parent_folder_should_be_is_one_line(tmp_path):
    (tmp_path / "a-file").write_text("mine\n", encoding="utf-8")
    with pytest.raises(output.OutputError) as info:
        output.write_site(NEW_FILES, tmp_path / "a-file" / "site")
    assert "\n" not in str(info.value) and "Not a directory" in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "mine\n"


# Each step of the pipeline, interrupted by Ctrl-C (KeyboardInterrupt raised where it runs).
STEPS = ["load_strings", "train_with_comparisons", "explain", "client_data", "render_pages", "data_files"]


@pytest.mark.parametrize("step", STEPS)
def test_interrupt_at_each_step_of_the_build_keeps_the_site(default_site, default_site_hashes, monkeypatch, step):
    assert hasattr(pipeline, step), f"engine.pipeline has no {step} any more: name its successor in STEPS"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, step, interrupted)
    with pytest.raises(KeyboardInterrupt):
        build(fresh(Paths(out=default_site)))
    monkeypatch.undo()
    assert tree_hashes(default_site) == default_site_hashes
    assert dot_folders_beside(default_site) == []


def test_interrupt_at_the_start_of_the_write_keeps_the_site(default_site, default_site_hashes, monkeypatch):
    def interrupted(files, out, single=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(output, "write_site", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build(fresh(Paths(out=default_site)))
    monkeypatch.undo()
    assert tree_hashes(default_site) == default_site_hashes
    assert dot_folders_beside(default_site) == []


def helpers_of(pid: int) -> list[str]:
    """The processes `pid` has started (Temml's node, drawing workers), from /proc."""
    found = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += (task / "children").read_text().split()
    except OSError:
        pass
    return found


# When Ctrl-C comes: at once (while Python starts and imports), when the build starts its helper
# processes (mid-build), half a second later, and as soon as its temporary folder appears (writing).
CTRL_C_MOMENTS = {
    "at-once": lambda process, out: True,
    "helpers-started": lambda process, out: bool(helpers_of(process.pid)),
    "writing": lambda process, out: bool(leftovers(out)),
}


@pytest.fixture(scope="module")
def ctrl_c_results(tmp_path_factory):
    """`python build.py` interrupted by Ctrl-C as a terminal does it: SIGINT to the whole process
    group, node and worker processes included. Moments are found by watching the build, not by
    the clock (the machine may be busy). Returns {moment: (returncode, stderr, hashes before,
    hashes after, leftovers, epochs in run.json after, whether it hung and was killed)}."""
    assert Path(f"/proc/{os.getpid()}/task").is_dir(), "the tests watch builds through /proc (Linux)"
    out = tmp_path_factory.mktemp("ctrl-c") / "site"
    done = run_cli("--out", str(out), "-q", *sets(SMALL))
    assert done.returncode == 0, done.stderr
    results = {}
    for moment, arrived in list(CTRL_C_MOMENTS.items()) + [("helpers-started+0.5s", None)]:
        before = tree_hashes(out)
        process = subprocess.Popen([sys.executable, "build.py", "--out", str(out), "-q", "--no-cache"], cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        ready = arrived or CTRL_C_MOMENTS["helpers-started"]
        deadline = time.monotonic() + 60
        while process.poll() is None and not ready(process, out) and time.monotonic() < deadline:
            time.sleep(0.001)
        if arrived is None:
            time.sleep(0.5)
        try:
            os.killpg(process.pid, signal.SIGINT)
        except ProcessLookupError:  # it had finished already
            pass
        try:
            _, stderr = process.communicate(timeout=20)  # an interrupted build ends in a second or two
            hung = False
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            _, stderr = process.communicate()
            hung = True
        after = tree_hashes(out)
        epochs = strict_json(out / "data" / "run.json")["settings"]["train"]["epochs"]
        results[moment] = (process.returncode, stderr, before, after, leftovers(out), epochs, hung)
        if after != before:  # the build won the race: start again from the small site
            assert run_cli("--out", str(out), "-q", *sets(SMALL)).returncode == 0
    return results


@pytest.mark.parametrize("moment", list(CTRL_C_MOMENTS) + ["helpers-started+0.5s"])
def test_ctrl_c_in_a_real_build_leaves_the_old_site_or_the_complete_new_one(ctrl_c_results, moment):
    code, stderr, before, after, left, epochs, hung = ctrl_c_results[moment]
    assert left == [], left
    if hung:  # killed by the test after it had stopped for good (see the next test)
        assert after == before and INTERRUPTED in stderr.splitlines(), stderr
        return
    if code == 0:  # finished before the interrupt mattered: the whole new site is there
        assert after != before and epochs == config.load(ROOT / "content" / "lesson.toml").epochs
        return
    assert after == before
    if code == -signal.SIGINT or (code == 1 and "Fatal Python error: init_import_site" in stderr):
        # Ctrl-C before build.main() started: while Python itself starts (no message, or, while
        # Python imports its `site` module, its own "Fatal Python error" and status 1) or while
        # build.py imports (Python's own traceback; build.py cannot catch it there, see the report).
        assert moment == "at-once" and (stderr == "" or "KeyboardInterrupt" in stderr), stderr
        assert " in main" not in stderr, stderr
    else:
        assert code == 130, (code, stderr)
        assert INTERRUPTED in stderr.splitlines(), stderr


@pytest.mark.parametrize("moment", ["helpers-started", "helpers-started+0.5s"])
def test_ctrl_c_mid_build_ends_promptly_with_one_line(ctrl_c_results, moment):
    code, stderr, *_, hung = ctrl_c_results[moment]
    assert not hung
    assert code == 0 or stderr == INTERRUPTED + "\n", stderr


# ================================================================== 2. a safe output folder

@pytest.mark.parametrize("place", [
    "repo-parent", "engine-inside", "tests-inside", "templates-inside", "git", "git-inside", "dot-from-repo",
    "dotdot-into-engine", "symlink-into-content",
])
def test_refused_output_folders(place, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    link = tmp_path / "link"
    link.symlink_to(ROOT / "content", target_is_directory=True)
    target = {
        "repo-parent": ROOT.parent,                        # a folder that holds the sources
        "engine-inside": ROOT / "engine" / "site",
        "tests-inside": ROOT / "tests" / "out",
        "templates-inside": ROOT / "templates" / "partials",
        "git": ROOT / ".git",
        "git-inside": ROOT / ".git" / "site",
        "dot-from-repo": Path("."),                       # relative to the working folder
        "dotdot-into-engine": Path("content/../engine"),
        "symlink-into-content": link / "site",
    }[place]
    with pytest.raises(output.OutputError) as info:
        output.check_target(target)
    message = str(info.value)
    assert "\n" not in message and message.startswith("--out: expected") and ", got " in message


def test_empty_and_marked_folders_are_accepted_and_replaced(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    output.write_site({"index.html": b"one"}, empty)
    output.write_site({"index.html": b"two"}, empty)  # now it carries the marker
    assert (empty / "index.html").read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_a_marker_that_is_not_a_file_does_not_count(tmp_path):
    fake = tmp_path / "fake"
    (fake / output.MARKER).mkdir(parents=True)
    with pytest.raises(output.OutputError):
        output.check_target(fake)


def test_cli_unwritable_output_folder_is_one_line(tmp_path):
    assert Path("/proc/self").is_dir(), "this test writes where nothing can be created: /proc (Linux)"
    result = run_cli("--out", "/proc/lesson-site", "-q", *sets(SMALL))
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("build.py: error: --out: expected a folder the site can be written to, "
                                    "got /proc/lesson-site (")


# Every file operation of a real build, recorded by a Python audit hook (PEP 578) that
# sitecustomize installs in the build process and every Python process it starts.
AUDIT = r'''
import json, os, sys
_log = os.environ.get("LESSON_AUDIT_LOG")
if _log:
    _stream = open(_log, "a", buffering=1, encoding="utf-8")
    _WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    _EVENTS = {"os.mkdir", "os.rename", "os.replace", "os.remove", "os.rmdir", "shutil.rmtree", "os.chmod",
               "os.chown", "os.symlink", "os.link", "os.truncate", "os.utime", "tempfile.mkdtemp",
               "tempfile.mkstemp", "shutil.copyfile", "shutil.copytree", "shutil.move", "os.setxattr"}

    def _note(event, value):
        if isinstance(value, (str, bytes, os.PathLike)):
            _stream.write(json.dumps([event, os.path.abspath(os.fsdecode(value))]) + "\n")

    def _hook(event, args):
        if event == "open":
            path, mode, flags = args
            if (mode is not None and any(c in mode for c in "wax+")) or (mode is None and flags & _WRITES):
                _note(event, path)
        elif event == "ctypes.dlsym" and args[1] == "renameat2":
            _stream.write(json.dumps([event, "renameat2"]) + "\n")
        elif event in _EVENTS:
            # shutil.rmtree removes what is inside by names relative to an open folder (dir_fd);
            # its own event names that folder, so those relative names are left out.
            dir_fds = {"os.remove": args[1:], "os.rmdir": args[1:], "os.mkdir": args[2:],
                       "os.rename": args[2:], "os.replace": args[2:]}.get(event, ())
            if any(fd is not None and fd != -1 for fd in dir_fds):
                return
            for value in args:
                _note(event, value)

    sys.addaudithook(_hook)
'''


def audited_cli(tmp: Path, *args: str, env: dict | None = None) -> tuple[subprocess.CompletedProcess, list]:
    """Run `python build.py ARGS` with every file operation recorded: (result, [(event, path)])."""
    hooks = tmp / "audit-hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "sitecustomize.py").write_text(AUDIT, encoding="utf-8")
    log = tmp / "audit.jsonl"
    log.unlink(missing_ok=True)
    environment = {**os.environ, "PYTHONPATH": str(hooks), "LESSON_AUDIT_LOG": str(log),
                   "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    result = subprocess.run([sys.executable, "build.py", *args], cwd=ROOT, capture_output=True, text=True,
                            timeout=300, env=environment)
    events = [tuple(json.loads(line)) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    return result, events


def outside(events: list, out: Path | None, also: tuple[Path, ...] = ()) -> list:
    """The recorded operations on paths other than `out`, its temporary folders beside it, and `also`."""
    import matplotlib
    # matplotlib makes sure its own config and cache folders exist (os.makedirs of folders already there).
    tolerated = [Path(matplotlib.get_configdir()), Path(matplotlib.get_cachedir())]
    staging = re.compile(rf"^\.{re.escape(out.name)}-(new|old)-") if out else None
    bad = []
    for event, path in events:
        if event == "ctypes.dlsym":
            continue  # the one-step swap (renameat2) of `out` and its temporary folder, see engine/output.py
        place = Path(path)
        if place == Path(os.devnull) or any(place.is_relative_to(a) for a in also):
            continue
        if out and (place.is_relative_to(out) or (place.parent.is_relative_to(out.parent) and place != out.parent
                                                   and staging.match(place.relative_to(out.parent).parts[0]))):
            continue
        if event == "os.mkdir" and any(t.is_relative_to(place) or place.is_relative_to(t) for t in tolerated):
            continue
        bad.append((event, path))
    return bad


@pytest.fixture(scope="module")
def audited_builds(tmp_path_factory):
    """Two real builds into a folder that has neighbours: the first creates the site, the second
    replaces it; one more that fails. The parent folder's listing is taken before and after."""
    tmp = tmp_path_factory.mktemp("audit")
    parent = tmp / "parent"
    (parent / "neighbour").mkdir(parents=True)
    (parent / "neighbour" / "notes.txt").write_text("mine\n", encoding="utf-8")
    (parent / "keep.txt").write_text("keep\n", encoding="utf-8")
    out = parent / "site"
    before = tree_hashes(parent)
    runs = {"first": audited_cli(tmp, "--out", str(out), "-q", "--no-cache", *sets(SMALL)),
            "second": audited_cli(tmp, "--out", str(out), "-q", "--no-cache",
                                  *sets(SMALL + ["train.learning_rate=0.3"]))}
    middle = tree_hashes(parent)
    runs["failing"] = audited_cli(tmp, "--out", str(out), "-q", "--no-cache", *sets(ABSURD))
    return runs, out, before, middle, tree_hashes(parent)


def test_audit_sees_the_build_write_its_files(audited_builds):
    runs, out, *_ = audited_builds
    result, events = runs["first"]
    assert result.returncode == 0, result.stderr
    written = [path for event, path in events if event == "open"]
    assert len(written) > 30 and all(re.search(rf"/\.{out.name}-new-", p) for p in written)


@pytest.mark.parametrize("run", ["first", "second", "failing"])
def test_a_build_writes_and_deletes_nothing_outside_its_output_folder(audited_builds, run):
    runs, out, *_ = audited_builds
    result, events = runs[run]
    assert result.returncode == (1 if run == "failing" else 0), result.stderr
    assert outside(events, out) == []


def test_the_neighbours_of_the_output_folder_are_untouched(audited_builds):
    _, out, before, middle, after = audited_builds
    assert {k: v for k, v in middle.items() if not k.startswith("site/")} == before
    assert after == middle  # the failing build changed nothing at all
    assert leftovers(out) == []


def test_with_the_build_cache_on_only_the_cache_is_written_besides_the_output(tmp_path):
    """The cache (engine/cache.py, `.cache/` in the repository, git-ignored) is the one place
    outside the output folder a default build writes; --no-cache writes nothing there."""
    out = tmp_path / "site"
    result, events = audited_cli(tmp_path, "--out", str(out), "-q", *sets(SMALL))
    assert result.returncode == 0, result.stderr
    assert outside(events, out, also=(Paths().cache,)) == []


# ================================================================== 3. reproducible builds

def test_check_reproducible_builds_twice_and_says_so_in_one_line(tmp_path):
    temp = tmp_path / "temp"
    temp.mkdir()
    result, events = audited_cli(tmp_path, "--check-reproducible", *sets(SMALL), env={"TMPDIR": str(temp)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and result.stderr == ""
    assert re.fullmatch(r"reproducible: two builds of the same settings are byte-identical \(\d+ files compared\)",
                        lines[0])
    assert int(re.search(r"\((\d+) files", lines[0]).group(1)) > 30   # pages, figures, frames, fonts, assets
    assert list(temp.iterdir()) == []  # its two temporary folders are gone
    assert outside(events, None, also=(temp,)) == []  # and it wrote nowhere else: not site/, not the cache
    made = [Path(p) for e, p in events if e == "tempfile.mkdtemp" and not Path(p).name.startswith(".")]
    assert len(made) == 1 and made[0].parent == temp  # one folder under the system's temp folder, for both builds


def test_check_reproducible_with_a_bad_setting_is_one_line(tmp_path):
    result = subprocess.run([sys.executable, "build.py", "--check-reproducible", "--set", "train.epochs=0"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "TMPDIR": str(tmp_path)})
    assert result.returncode == 1
    assert result.stderr == "build.py: error: train.epochs: expected a whole number >= 1, got 0\n"
    assert list(tmp_path.iterdir()) == []


UNSTABLE_BUILD = """
import sys, time
from pathlib import Path
out = Path(sys.argv[sys.argv.index("--out") + 1])
(out / "b").mkdir(parents=True)
(out / "a.txt").write_text("same", encoding="utf-8")
(out / "b" / "when.txt").write_text(str(time.perf_counter_ns()), encoding="utf-8")
(out / "c.txt").write_text(str(time.perf_counter_ns()), encoding="utf-8")
"""


def test_check_reproducible_names_the_first_differing_file(tmp_path, monkeypatch, capsys):
    import build as cli

    real = cli.build_command
    monkeypatch.setattr(cli, "build_command", lambda args, out, cache=True:
                        [sys.executable, "-c", UNSTABLE_BUILD] + real(args, out, cache)[2:])
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert cli.main(["--check-reproducible"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ("not reproducible: b/when.txt differs between two builds of the same settings "
                            "(2 files compared)\n")
    assert list(tmp_path.iterdir()) == []


def test_compare_sites_notices_a_missing_file(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    for folder in (first, second):
        (folder / "x").mkdir(parents=True)
        (folder / "x" / "same.txt").write_bytes(b"1")
    (second / "x" / "extra.txt").write_bytes(b"2")
    assert output.compare_sites(first, second) == (1, "x/extra.txt (only in one of them)")
    (first / "x" / "extra.txt").write_bytes(b"2")
    assert output.compare_sites(first, second) == (2, None)


def test_no_output_file_holds_an_absolute_path(default_site):
    needles = {str(ROOT), str(default_site), str(default_site.parent), str(Path.home()) + "/",
               str(ROOT).replace("/", "\\/"), Path(default_site).as_uri()}
    found = []
    for path in sorted(default_site.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            found += [(path.relative_to(default_site).as_posix(), n) for n in needles if n.encode() in data]
    assert found == []


def png_chunks(data: bytes) -> list[str]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, k = [], 8
    while k < len(data):
        length = int.from_bytes(data[k:k + 4], "big")
        chunks.append(data[k + 4:k + 8].decode("ascii"))
        k += 12 + length
    return chunks


def test_images_carry_no_time_or_machine_metadata(default_site):
    for path in sorted((default_site / "animation" / "frames").glob("*.png")):
        chunks = png_chunks(path.read_bytes())
        assert set(chunks) <= {"IHDR", "PLTE", "tRNS", "IDAT", "IEND", "sRGB", "gAMA", "pHYs"}, (path.name, chunks)
    with Image.open(default_site / "animation" / "training.gif") as gif:
        assert "comment" not in gif.info and "xmp" not in gif.info
    date = re.compile(rb"(19|20)\d\d-\d\d-\d\d")
    for path in sorted(default_site.rglob("*.svg")):
        data = path.read_bytes()
        assert b"<dc:date>" not in data and not date.search(data), path


# ================================================================== 4. numerical safety

def test_the_formulas_scalar_sigma_is_safe_and_agrees_with_the_network():
    zs = [0.0, 1e-300, 3.0, -3.0, 36.0, -36.0, 709.0, -709.0, 710.0, -710.0, 745.2, -745.2, 800.0, -800.0,
          1e4, -1e4, 1e300, -1e300, math.inf, -math.inf]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            for z in zs:
                scalar, vector = formulas.sigma(z), float(sigmoid(z))
                assert 0.0 <= scalar <= 1.0 and math.isclose(scalar, vector, rel_tol=1e-15, abs_tol=1e-300), z


@pytest.fixture(scope="module")
def diverging_cli(tmp_path_factory):
    out = tmp_path_factory.mktemp("diverge") / "site"
    output.write_site({"index.html": b"old"}, out)
    before = tree_hashes(out)
    result = run_cli("--out", str(out), *sets(ABSURD))
    return result, before, tree_hashes(out), out


def test_diverging_training_stops_the_build_naming_the_epoch_and_the_setting(diverging_cli):
    result, before, after, out = diverging_cli
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == ("build.py: error: train: the numbers stopped being finite at epoch 2; "
                                              "try a smaller train.learning_rate (now 1e+308)")
    assert after == before and leftovers(out) == []


def test_diverging_training_prints_exactly_one_line(diverging_cli):
    result, *_ = diverging_cli
    assert result.stderr.count("\n") == 1, result.stderr


EXTREME = {
    "huge-step-many-epochs": ["train.learning_rate=50", "train.epochs=100000", "train.display_every=10000"],
    "thousands": ["data.points=[[1000,0],[1200,0],[1500,1],[1800,1],[2100,1],[2400,0],[2600,0]]"],
    "negative": ["data.points=[[-9.5,0],[-8,0],[-6.5,1],[-5,1],[-3.5,1],[-2,0],[-0.5,0]]",
                 "train.epochs=3000", "train.display_every=150"],
    "far-and-wide": ["data.points=[[-4000,0],[-100,1],[0,1],[2500,0]]", "init.random=true", "init.seed=3",
                     "train.learning_rate=2", "train.epochs=2000", "train.display_every=40"],
}


@pytest.fixture(scope="module")
def extreme_builds(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("extreme")

    def run(name):
        return name, run_cli("--out", str(tmp / name), "-q", *sets(EXTREME[name]))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return tmp, dict(pool.map(run, EXTREME))


@pytest.mark.parametrize("name", [
    *(name for name in EXTREME if name != "far-and-wide"),
    "far-and-wide",
])
def test_extreme_but_valid_settings_build_cleanly(extreme_builds, name):
    tmp, results = extreme_builds
    result, site = results[name], tmp / name
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # not even a warning
    record = strict_json(site / "data" / "run.json")
    settings = config.load(ROOT / "content" / "lesson.toml", EXTREME[name])
    assert record["settings"] == settings.as_dict()
    assert len(record["loss"]) == settings.epochs
    losses = record["loss"] + [record["final"]["loss"]]
    assert all(math.isfinite(v) and 0 <= v <= 1 for v in losses)
    epochs = [s["epoch"] for s in record["snapshots"]]
    assert epochs == sorted({1, *range(settings.display_every, settings.epochs + 1, settings.display_every),
                             settings.epochs})
    frames = sorted((site / "animation" / "frames").glob("*.png"))
    assert len(frames) == len(epochs)
    with Image.open(frames[-1]) as last:
        assert last.size == (800, 340)
    for lang in ("zh", "en"):
        svgs = sorted(p.name for p in (site / "figures" / lang).glob("*.svg"))
        assert {"scatter.svg", "initial.svg", "final.svg", "loss.svg"} <= set(svgs)
    xs = [x for x, _ in settings.points]
    lo, hi = figures.x_range(SimpleNamespace(settings=settings))  # the x axis of every figure and frame
    assert lo < min(xs) and max(xs) < hi and (hi - lo) < 1.5 * (max(xs) - min(xs))  # the data fill it


# ================================================================== 5. content safety

SCRIPT_TITLE = '<script>alert("site")</script>'
ATTRIBUTE_TITLE = '"><img src=x onerror=alert(1)>'


class Recorder(http.server.BaseHTTPRequestHandler):
    """A server "elsewhere": it records every request that reaches it."""

    requests: list[str] = []

    def do_GET(self):
        Recorder.requests.append(self.path)
        self.send_response(200)
        kind = "text/css" if self.path.endswith(".css") else "image/png" if self.path.endswith(".png") else \
            "application/javascript"
        self.send_header("Content-Type", kind)
        self.end_headers()
        self.wfile.write(b"window.injected = true;" if kind == "application/javascript" else b"")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def elsewhere():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


MARK = re.compile(r'<i data-mark="([a-z]+\.[a-z_.]+)">')


def mark_every_string(text: str) -> str:
    """strings.toml with markup that names its key appended to every string value."""
    lines, table = [], ""
    for line in text.splitlines(keepends=True):
        if line.startswith("["):
            table = line.strip().strip("[]")
        line = re.sub(r'^(\s*([A-Za-z0-9_]+)\s*=\s*"(?:[^"\\]|\\.)*)"',
                      lambda m: f'{m.group(1)}<i data-mark=\\"{table}.{m.group(2)}\\">!</i>"', line)
        lines.append(line)
    return "".join(lines)


@pytest.fixture(scope="module")
def injected_site(tmp_path_factory, elsewhere):
    """A site built from a copy of the sources where every UI string carries markup (the titles a
    script and an attribute breakout), and whose English page carries references to another
    server. The build refuses such HTML in the prose (tests/test_prose_safety.py), so they are
    added to the built page, as a compromised dependency might: the policy must still stop them."""
    tmp = tmp_path_factory.mktemp("inject")
    sources = frozen_sources(tmp)
    strings = sources["content"] / "strings.toml"
    text = mark_every_string(strings.read_text(encoding="utf-8"))
    text, count = re.subn(r'(?m)^site_title = ".*"$', "site_title = " + json.dumps(SCRIPT_TITLE), text)
    assert count == 2
    text, count = re.subn(r'(?m)^lesson_title = ".*"$', "lesson_title = " + json.dumps(ATTRIBUTE_TITLE), text)
    assert count == 2
    strings.write_text(text, encoding="utf-8")
    out = tmp / "site"
    build(Paths(out=out, **sources))
    page = out / "en" / "index.html"
    html = page.read_text(encoding="utf-8")
    assert html.count("</main>") == 1
    page.write_text(html.replace("</main>", f'<img src="{elsewhere}/pixel.png" alt="">\n<script src="{elsewhere}/evil.js">'
                                 f'</script>\n<link rel="stylesheet" href="{elsewhere}/evil.css">\n</main>'),
                    encoding="utf-8")
    return out


def test_titles_with_markup_show_as_text(injected_site):
    for name in PAGES:
        raw = (injected_site / name).read_text(encoding="utf-8")
        assert SCRIPT_TITLE not in raw and '<img src=x' not in raw, name
        document = html5lib.parse(raw, namespaceHTMLElements=False)
        title = document.find("head/title")
        for script in document.iter("script"):
            assert script.get("src") or script.get("type") == "application/json" or name == "404.html", name
            assert "alert" not in (script.text or ""), name
        assert not [img for img in document.iter("img") if img.get("src") == "x"], name
        if name != "404.html":
            assert "<script>" in title.text or '"><img' in title.text, (name, title.text)
    heading = html5lib.parse((injected_site / "en" / "index.html").read_text(encoding="utf-8"),
                             namespaceHTMLElements=False).find(".//main//h1")
    assert "".join(heading.itertext()).strip() == ATTRIBUTE_TITLE


def leaked_strings(site: Path) -> list[str]:
    """The UI strings whose markup reached a page or figure as markup (not as text)."""
    found = set()
    for path in site.rglob("*"):
        if path.suffix in (".html", ".svg", ".js", ".json"):
            found |= set(MARK.findall(path.read_text(encoding="utf-8", errors="replace")))
    return sorted(found)


CODE_CAPTION = ["en.code_caption", "zh.code_caption"]


def test_no_ui_string_adds_markup_except_the_known_code_caption(injected_site):
    assert (injected_site / "en" / "index.html").read_text(encoding="utf-8").count("data-mark=") > 50  # marked
    assert set(leaked_strings(injected_site)) <= set(CODE_CAPTION)


def test_no_ui_string_adds_markup(injected_site):
    assert leaked_strings(injected_site) == []


def test_autoescape_is_on_in_every_jinja_environment(default_run):
    from engine.mathtex import MathBatch
    from engine.pages import PageRenderer
    from engine.pipeline import explain
    renderer = PageRenderer(ROOT / "templates", ROOT / "content", default_run, MathBatch(), {"zh": {}, "en": {}},
                            explain(default_run, []))
    for env in (renderer.env, renderer.prose_env):
        assert all(env.autoescape(name) for name in ("page.html", "en/01-network.md", "x.txt", None))
        assert env.from_string("{{ v }}").render(v="<script>&") == "&lt;script&gt;&amp;"


def test_settings_cannot_carry_markup_into_a_page():
    for override in ['init.w11_1="<script>"', 'data.points=[["<b>",1],[2,0]]', "network.layers=['<i>']"]:
        with pytest.raises(config.SettingsError) as info:
            config.load(ROOT / "content" / "lesson.toml", [override])
        assert "expected" in str(info.value) and "\n" not in str(info.value)


def csp_of(document) -> dict[str, list[str]]:
    metas = [m for m in document.iter("meta") if (m.get("http-equiv") or "").lower() == "content-security-policy"]
    assert len(metas) == 1
    policy = {}
    for part in metas[0].get("content").split(";"):
        name, *sources = part.split()
        policy[name] = sources
    return policy


def inline_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


@pytest.mark.parametrize("name", PAGES)
def test_every_page_carries_a_strict_content_security_policy(default_site, name):
    raw = (default_site / name).read_text(encoding="utf-8")
    document = html5lib.parse(raw, namespaceHTMLElements=False)
    head = list(document.find("head"))
    policy = csp_of(document)
    meta = next(k for k, e in enumerate(head) if (e.get("http-equiv") or "").lower() == "content-security-policy")
    assert all(e.tag not in ("script", "link", "style") for e in head[:meta]), "the policy must come first"
    assert policy["default-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"] and policy["form-action"] == ["'none'"]
    every = [s for sources in policy.values() for s in sources]
    assert not [s for s in every if s in ("*", "data:", "blob:", "'unsafe-eval'", "'unsafe-hashes'")
                or re.match(r"^(https?:|//|[a-z0-9.-]+\.[a-z]{2,})", s)]
    assert "'unsafe-inline'" not in policy["script-src"]
    scripts = [s for s in document.iter("script") if not s.get("src") and s.get("type") != "application/json"]
    styles = list(document.iter("style"))
    if name == "404.html":  # its inline script and style, allowed by hash and nothing else
        assert policy["script-src"] == [inline_hash(scripts[0].text)] and len(scripts) == 1
        assert policy["style-src"] == [inline_hash(styles[0].text)] and len(styles) == 1
        assert policy["img-src"] == ["'self'"]
    else:
        assert scripts == [] and styles == []
        assert policy["script-src"] == ["'self'"]
        assert policy["img-src"] == ["'self'"] and policy["font-src"] == ["'self'"]
        assert set(policy["style-src"]) == {"'self'", "'unsafe-inline'"}  # the formulas' style="" attributes
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", raw), "inline event handlers would be blocked"


@pytest.fixture(scope="module")
def csp_browser_results(playwright, tmp_path_factory, injected_site, elsewhere):
    """The injected English page from file://, as built (with its policy) and with the policy cut
    out (to show that the injected references would load otherwise)."""
    from chromium import launch
    page_path = injected_site / "en" / "index.html"
    html = page_path.read_text(encoding="utf-8")
    without = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    (injected_site / "en" / "no-policy.html").write_text(without, encoding="utf-8")
    context = launch(playwright, tmp_path_factory.mktemp("csp-profile"))
    results = {}
    try:
        for name in ("index.html", "no-policy.html"):
            Recorder.requests.clear()
            page = context.new_page()
            errors = []
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto((injected_site / "en" / name).as_uri())
            page.wait_for_load_state("load")
            page.evaluate("document.fonts.ready.then(() => true)")
            page.wait_for_timeout(300)
            results[name] = {
                "requests": sorted(Recorder.requests),
                "errors": errors,
                "injected": page.evaluate("window.injected === true"),
                "own_script": page.evaluate("typeof LessonNet !== 'undefined'"),
                "math_font": page.evaluate("[...document.fonts].some(f => f.family === 'Lesson Math' && f.status === 'loaded')"),
                "images": page.evaluate("""async () => {
                    const own = Array.from(document.images).filter(i => !i.src.startsWith('http'));
                    for (const i of own) { i.loading = 'eager'; try { await i.decode(); } catch (e) {} }
                    return own.length > 0 && own.every(i => i.complete && i.naturalWidth > 0);
                }"""),
            }
            page.close()
    finally:
        context.close()
        (injected_site / "en" / "no-policy.html").unlink()
    return results


def test_the_policy_blocks_injected_references_to_another_server(csp_browser_results):
    with_policy, without = csp_browser_results["index.html"], csp_browser_results["no-policy.html"]
    assert without["requests"] and without["injected"]  # the injection is real: without the policy it loads
    assert with_policy["requests"] == [] and not with_policy["injected"]
    violations = [e for e in with_policy["errors"] if "Content Security Policy" in e]
    assert len(violations) == len(with_policy["errors"]) >= 3  # image, script, style sheet: refused, nothing else


def test_the_site_still_works_from_file_under_its_policy(csp_browser_results):
    page = csp_browser_results["index.html"]
    assert page["own_script"] and page["math_font"] and page["images"]
