"""No process outlives a build, and nobody who waits for a build waits longer than the build itself.

Real builds (`python build.py` in a child process) are stopped at moments drawn at random (from a
fixed seed): SIGINT to the whole process group (Ctrl-C in a terminal), SIGTERM or SIGKILL to the
build alone. Others fail by themselves, mid-build. Every build and every process it starts carries
a tag in its environment, so whatever it left running is found in /proc afterwards, whoever its
parent is by then. The caller reads the build's output as `subprocess.run(capture_output=True)`
does: it must see the end of it as soon as the build itself has ended.

A build killed outright (SIGKILL) cannot clean up after itself; the next build removes what it left.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from sitetools import ROOT, run_cli
from stopping import TAG_VARIABLE, described, ended, stop, tagged

assert Path("/proc/self/environ").is_file(), "the tests find the processes a build left through /proc (Linux)"

SMALL = ["--set", "train.epochs=300", "--set", "train.display_every=20"]   # 16 frames: a build of a second or two
ROUNDS = 4        # stops of each kind (the full run is 50 and 20: see the README's notes)
PROMPT = 2.0      # seconds a caller may wait after the build itself has ended (a worker holding its pipe: forever)


def gone(tag: str, within: float = 2.0) -> list[str]:
    """What is still running of a build after `within` seconds (node may be loading Temml when the
    build is killed: it leaves as soon as it can look, a moment later; workers die with the build)."""
    deadline = time.monotonic() + within
    while tagged(tag) and time.monotonic() < deadline:
        time.sleep(0.02)
    return described(tagged(tag))


def temporary_folders(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if re.match(rf"^\.{re.escape(out.name)}-(new|old)-", p.name))


def start(out: Path, tag: str, *args: str) -> subprocess.Popen:
    """A build in a process group of its own (as a terminal runs it), its output read as a caller would."""
    return subprocess.Popen([sys.executable, "build.py", "--no-cache", "--out", str(out), "-q", *SMALL, *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, TAG_VARIABLE: tag})


def finish(process: subprocess.Popen) -> tuple[str, float]:
    """Read the build's output to its end, as a caller does: (stderr, seconds the caller waited after the build ended)."""
    said: dict[str, str] = {}
    readers = [threading.Thread(target=lambda name=name, stream=stream: said.update({name: stream.read()}))
               for name, stream in (("out", process.stdout), ("err", process.stderr))]
    for reader in readers:
        reader.start()
    end = None
    deadline = time.monotonic() + 120
    while any(reader.is_alive() for reader in readers) and time.monotonic() < deadline:
        if end is None and ended(process.pid):
            end = time.monotonic()
        time.sleep(0.002)
    last = time.monotonic()
    process.wait(timeout=120)
    return said.get("err", ""), last - (end or last)


@pytest.fixture(scope="module")
def stopped_builds(tmp_path_factory):
    """Builds stopped at random moments: [(how, delay, exit status, stderr, caller's wait, left running, temporary folders)]."""
    out = tmp_path_factory.mktemp("stopped") / "site"
    assert run_cli("--out", str(out), "-q", "--no-cache", *SMALL).returncode == 0
    draw = random.Random(12)
    results = []
    for how in ["SIGINT", "SIGTERM", "SIGKILL"] * ROUNDS:
        tag = uuid.uuid4().hex
        process = start(out, tag)
        delay = draw.uniform(0.05, 2.0)
        time.sleep(delay)
        stop(process.pid, how)
        stderr, waited = finish(process)
        left = gone(tag)
        folders = temporary_folders(out) if how != "SIGKILL" else []
        if how == "SIGKILL":   # it could not clean up: the next build does
            assert run_cli("--out", str(out), "-q", "--no-cache", *SMALL).returncode == 0
            folders = temporary_folders(out)
        results.append((how, round(delay, 2), process.returncode, stderr, waited, left, folders))
    return results


@pytest.mark.parametrize("k", range(3 * ROUNDS))
def test_a_stopped_build_leaves_nothing_running_and_no_folder(stopped_builds, k):
    how, delay, code, stderr, waited, left, folders = stopped_builds[k]
    assert waited < PROMPT, (how, delay, waited)
    assert left == [], (how, delay, left)
    assert folders == [], (how, delay, folders)
    if code != 0:   # it finished before the signal otherwise
        expected = {"SIGINT": (130, "interrupted"), "SIGTERM": (143, "terminated"), "SIGKILL": (-9, None)}[how]
        assert code == expected[0] or (how != "SIGKILL" and code == -getattr(signal, how) and delay < 0.3), \
            (how, delay, code, stderr)
        if expected[1] and code == expected[0]:
            assert stderr == f"build.py: {expected[1]}; the previous site is unchanged\n", stderr


def test_a_killed_build_does_not_keep_its_caller_waiting(tmp_path):
    """SIGKILL to the build alone while its workers draw: the caller's pipe ends with the build."""
    out = tmp_path / "site"
    tag = uuid.uuid4().hex
    process = start(out, tag)
    deadline = time.monotonic() + 60
    while len(tagged(tag)) < 3 and time.monotonic() < deadline:   # the build and its two workers
        time.sleep(0.01)
    assert len(tagged(tag)) >= 3, tagged(tag)
    os.kill(process.pid, signal.SIGKILL)
    _, waited = finish(process)
    assert waited < PROMPT
    assert gone(tag) == []


FAILURES = {
    # an undefined name in the prose: the pages fail while the workers draw
    "prose": lambda content: (content / "en" / "05-loss.md").write_text(
        (content / "en" / "05-loss.md").read_text(encoding="utf-8") + "\n{{ no_such_name }}\n", encoding="utf-8"),
    # a broken template: the same, later
    "template": None,
}


@pytest.mark.parametrize("case", ["prose", "template"])
def test_a_build_that_fails_by_itself_leaves_nothing_running(tmp_path, case):
    content, templates = tmp_path / "content", tmp_path / "templates"
    shutil.copytree(ROOT / "content", content)
    shutil.copytree(ROOT / "templates", templates)
    if case == "prose":
        FAILURES["prose"](content)
    else:
        page = templates / "lesson.html"
        page.write_text(page.read_text(encoding="utf-8").replace("{{", "{{ no_such_name.x ~", 1), encoding="utf-8")
    for _ in range(2):
        tag = uuid.uuid4().hex
        process = start(tmp_path / "site", tag, "--content", str(content), "--templates", str(templates))
        stderr, waited = finish(process)
        assert process.returncode == 1, stderr
        assert stderr.count("\n") == 1 and stderr.startswith("build.py: error: "), stderr
        assert waited < PROMPT
        assert gone(tag) == []
        assert temporary_folders(tmp_path / "site") == []
        assert not (tmp_path / "site").exists()


def test_the_next_build_removes_what_a_killed_one_left_but_not_what_a_running_one_uses(tmp_path):
    import fcntl
    out = tmp_path / "site"
    stale = tmp_path / ".site-new-killed"
    (stale / "zh").mkdir(parents=True)
    (stale / "zh" / "index.html").write_text("half written", encoding="utf-8")
    used = tmp_path / ".site-old-running"
    used.mkdir()
    lock = os.open(used, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(lock, fcntl.LOCK_EX)   # as a build that is still running holds it
    other = tmp_path / ".site-new-but-a-file"
    other.write_text("not a folder", encoding="utf-8")
    try:
        result = run_cli("--out", str(out), "-q", "--no-cache", *SMALL)
    finally:
        os.close(lock)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert not stale.exists()
    assert used.is_dir() and other.is_file()


def test_a_build_on_one_core_starts_no_worker_and_makes_the_same_site(tmp_path):
    """Confined to one core (the naive pipeline of benchmarks/build_time.py), the build draws in its own
    process: only node runs beside it, and the site is the same, byte for byte."""
    from engine.output import compare_sites
    tag = uuid.uuid4().hex
    process = subprocess.Popen([sys.executable, "build.py", "--no-cache", "--out", str(tmp_path / "one-core"), "-q",
                                *SMALL], cwd=ROOT, env={**os.environ, TAG_VARIABLE: tag},
                               preexec_fn=lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}))
    most = 0
    while process.poll() is None:
        most = max(most, len(tagged(tag)))
        time.sleep(0.005)
    assert process.returncode == 0
    assert 1 <= most <= 2, most   # the build, and node
    assert run_cli("--out", str(tmp_path / "both"), "-q", "--no-cache", *SMALL).returncode == 0
    assert compare_sites(tmp_path / "one-core", tmp_path / "both")[1] is None


def children_of_this_process() -> list[str]:
    """This process's child processes, zombies included (a child not waited for stays one)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == os.getpid():
            found.append(f"{entry.name} {fields[0]}")
    return found


def test_a_build_in_this_process_leaves_no_child_behind(tmp_path):
    from engine.pipeline import Paths, build
    before = children_of_this_process()
    build(Paths(out=tmp_path / "site", cache=None), ["train.epochs=60", "train.display_every=20"])
    assert children_of_this_process() == before


def test_a_worker_that_dies_mid_job_stops_the_build_instead_of_leaving_it_waiting():
    """Either worker may take the job: the first's end is seen by the build, the second's by the first."""
    from engine.workers import Helpers, Job, WorkerDied
    before = children_of_this_process()
    for _ in range(4):
        with Helpers() as helpers:
            helpers.drawing.start()
            collect = helpers.drawing.run([Job(time.sleep, (0.5,)), Job(os._exit, (3,))])
            started = time.monotonic()
            with pytest.raises(WorkerDied):
                collect()
            assert time.monotonic() - started < 10
    assert children_of_this_process() == before


def test_the_workers_are_never_forked_once_node_runs():
    """A worker forked then would hold node's input open: node would never end, and the build would wait a
    minute for its formulas before failing."""
    from engine.workers import Helpers
    before = children_of_this_process()
    with Helpers() as helpers:
        helpers.temml.start()
        with pytest.raises(RuntimeError, match="before"):
            helpers.drawing.start()
    assert children_of_this_process() == before


def test_a_ctrl_c_while_the_helpers_are_stopped_does_not_cut_the_stopping_short(monkeypatch):
    """A Ctrl-C just as a build ends used to skip the workers' clean-up: the build then waited for them for ever."""
    from engine import mathtex
    from engine.workers import Helpers
    close = mathtex.Temml.close

    def interrupted(katex):
        os.kill(os.getpid(), signal.SIGINT)   # Ctrl-C, in the middle of the clean-up
        close(katex)

    monkeypatch.setattr(mathtex.Temml, "close", interrupted)
    before = children_of_this_process()
    helpers = Helpers()
    try:
        with helpers:
            helpers.drawing.start()
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    left = children_of_this_process()
    helpers.drawing.close()   # whatever happened, the test leaves nothing behind
    assert left == before
