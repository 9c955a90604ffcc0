"""Command-line paths a stranger or a careless hand may give: each is refused in one line, or handled, and
nothing is damaged or shown that the build did not write.

Every test goes through `build.py` as a user runs it. (The prose, the build cache and the settings
have files of their own: tests/test_prose_safety.py, tests/test_cache.py, tests/test_config.py.)
"""

from __future__ import annotations

import hashlib
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from sitetools import ROOT, run_cli, tree_hashes

SMALL = ["--set", "train.epochs=60", "--set", "train.display_every=20"]


def build(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return run_cli("--no-cache", "-q", *SMALL, *args, timeout=timeout)


def one_error_line(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(("build.py: error: ", "build.py serve: error: ")), \
        result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def small_site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("small") / "site"
    assert build("--out", str(out)).returncode == 0
    return out


# ------------------------------------------------------------------ serve

@pytest.mark.parametrize("folder", ["/", "~", str(ROOT)])
def test_serve_refuses_a_folder_the_build_refuses_and_serves_nothing(folder):
    """It used to refuse the build in one line, then serve the folder anyway (/etc/passwd on 127.0.0.1)."""
    process = subprocess.Popen([sys.executable, "build.py", "serve", "--out", folder, "--port", "0"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate()
        pytest.fail(f"serve --out {folder} kept running: {stdout}")
    assert process.returncode == 1, stderr
    assert stdout == "" and stderr.count("\n") == 1 and stderr.startswith("build.py: error: --out: expected"), stderr


@pytest.mark.parametrize("port", ["-1", "70000", "http"])
def test_serve_with_an_impossible_port_is_one_line(port):
    result = subprocess.run([sys.executable, "build.py", "serve", "--port", port], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    one_error_line(result, "--port", "65535")


def test_serve_sends_only_the_files_the_build_wrote(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    out = tmp_path / "site"
    process = subprocess.Popen([sys.executable, "build.py", "serve", "--content", str(content), "--out", str(out),
                                "--port", "0", *SMALL], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True).start()
    try:
        deadline = time.monotonic() + 90
        while not re.search(r"http://127\.0\.0\.1:\d+/", "".join(lines)) and time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.1)
        url = re.search(r"(http://127\.0\.0\.1:\d+)/", "".join(lines)).group(1)
        (out / "notes.txt").write_text("not written by the build", encoding="utf-8")
        (out / "leak").symlink_to("/etc/passwd")
        (out / "zh" / "leak.html").symlink_to("/etc/passwd")

        def status(path: str) -> tuple[int, bytes]:
            try:
                with urllib.request.urlopen(url + path, timeout=10) as answer:
                    return answer.status, answer.read()
            except urllib.error.HTTPError as err:
                return err.code, err.read()

        assert status("/")[0] == 200 and status("/zh/")[0] == 200 and status("/data/run.json")[0] == 200
        for path in ["/notes.txt", "/leak", "/zh/leak.html", "/../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                     "/data/", "/animation/frames/", "/.lesson-site"]:
            code, body = status(path)
            assert code == 404 and b"root:" not in body and b"not written" not in body, (path, code)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)


# ------------------------------------------------------------------ --single-file

@pytest.mark.parametrize("target", ["content/en/01-network.md", "README.md", "build.py", "engine/network.py",
                                    "templates/lesson.html"])
def test_single_file_never_overwrites_a_source(tmp_path, target):
    before = digest(ROOT / target)
    result = build("--out", str(tmp_path / "site"), "--single-file", target)
    one_error_line(result, "--single-file")
    assert digest(ROOT / target) == before
    assert not (tmp_path / "site").exists()   # all or nothing: no site either


def test_single_file_never_overwrites_a_file_it_did_not_write(tmp_path):
    notes = tmp_path / "notes.html"
    notes.write_text("<p>my notes</p>", encoding="utf-8")
    link = tmp_path / "link.html"
    link.symlink_to(ROOT / "README.md")
    for target in (notes, link, tmp_path):
        result = build("--out", str(tmp_path / "site"), "--single-file", str(target))
        one_error_line(result, "--single-file")
    assert notes.read_text(encoding="utf-8") == "<p>my notes</p>"
    assert not (tmp_path / "site").exists()


def test_single_file_is_not_written_into_the_site(small_site):
    before = tree_hashes(small_site)
    result = build("--out", str(small_site), "--single-file", str(small_site / "lesson.html"))
    one_error_line(result, "--single-file", "inside")
    assert tree_hashes(small_site) == before


def test_a_bad_single_file_changes_neither_the_site_nor_anything_else(small_site, tmp_path):
    before = tree_hashes(small_site)
    result = build("--out", str(small_site), "--set", "train.learning_rate=0.4",
                   "--single-file", str(tmp_path / "missing" / "lesson.html"))
    one_error_line(result, "--single-file")
    assert tree_hashes(small_site) == before


def test_single_file_replaces_its_own_earlier_file(tmp_path):
    target = tmp_path / "lesson.html"
    assert build("--out", str(tmp_path / "site"), "--single-file", str(target)).returncode == 0
    first = target.read_bytes()
    result = build("--out", str(tmp_path / "site"), "--single-file", str(target), "--lang", "en")
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() != first and b'<html lang="en">' in target.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lesson.html", "site"]


# ------------------------------------------------------------------ --out

def test_a_folder_with_a_copied_marker_and_other_files_is_refused(small_site, tmp_path):
    """The marker lists the files a build wrote: a copied one does not make other files the build's."""
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(small_site / ".lesson-site", folder / ".lesson-site")
    (folder / "holiday.jpg").write_bytes(b"\xff\xd8 a photo")
    (folder / "index.html").write_text("<p>my own page</p>", encoding="utf-8")
    result = build("--out", str(folder))
    one_error_line(result, "--out", "holiday.jpg")
    assert (folder / "holiday.jpg").read_bytes() == b"\xff\xd8 a photo"
    assert (folder / "index.html").read_text(encoding="utf-8") == "<p>my own page</p>"


def test_a_site_with_a_file_added_by_hand_is_refused(small_site):
    extra = small_site / "zh" / "mine.txt"
    extra.write_text("mine", encoding="utf-8")
    try:
        before = tree_hashes(small_site)
        result = build("--out", str(small_site))
        one_error_line(result, "zh/mine.txt")
        assert tree_hashes(small_site) == before
    finally:
        extra.unlink()
    assert build("--out", str(small_site)).returncode == 0   # without it the site is the build's again


@pytest.mark.parametrize("name", ["x" * 300, "a/" + "y" * 256 + "/b"])
def test_an_output_name_longer_than_the_file_system_allows_is_one_line(tmp_path, name):
    result = build("--out", str(tmp_path / name))
    one_error_line(result, "--out", "File name too long")


@pytest.mark.parametrize("where", ["inside", "around"])
def test_the_cache_and_the_site_are_kept_apart(tmp_path, where):
    out = tmp_path / "site"
    cache = out / "cache" if where == "inside" else tmp_path
    result = run_cli("-q", *SMALL, "--out", str(out), "--cache", str(cache))
    one_error_line(result, "--cache")
    assert not out.exists()


def test_a_missing_ui_string_is_one_line(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    strings = content / "strings.toml"
    strings.write_text(re.sub(r"(?m)^site_title = .*\n", "", strings.read_text(encoding="utf-8"), count=1),
                       encoding="utf-8")
    result = build("--content", str(content), "--out", str(tmp_path / "site"))
    one_error_line(result, "site_title")
    assert not (tmp_path / "site").exists()


def test_a_long_formula_that_cannot_be_rendered_is_one_short_line(tmp_path):
    """A 6,000-character formula with a missing brace: the line names the page and the error, not every character."""
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    loss = content / "en" / "05-loss.md"
    loss.write_text(loss.read_text(encoding="utf-8") + "\n$$\n\\frac{1}{" + "x+" * 3000 + "\n$$\n", encoding="utf-8")
    result = build("--content", str(content), "--out", str(tmp_path / "site"))
    one_error_line(result, "05-loss.md", "Temml cannot render", "(6,009 characters)")
    assert len(result.stderr) < 600
    assert not (tmp_path / "site").exists()


def test_a_link_in_the_content_folder_to_a_device_does_not_hang_the_build(tmp_path):
    """The build hashes the content folder to find a cached site: it must not read through links."""
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    (content / "media" / "zero").symlink_to("/dev/zero")
    result = run_cli("-q", *SMALL, "--content", str(content), "--out", str(tmp_path / "site"), timeout=60)
    assert result.returncode == 0 and result.stderr == "", result.stderr


@pytest.mark.parametrize("value", ["1e308", "-1e16"])
def test_a_starting_value_beyond_the_limit_is_one_line(tmp_path, value):
    result = build("--out", str(tmp_path / "site"), "--set", f"init.w11_1={value}")
    one_error_line(result, "init.w11_1", "1e15")
