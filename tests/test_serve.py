"""`build.py serve`: the live preview, through real HTTP requests on 127.0.0.1 and a real browser.

Each test starts the preview in a child process on a copy of content/, edits
the copy as an author would, and waits (a bounded time) for the served page
to follow; Ctrl-C (SIGINT) must then end it with exit 0 and nothing left over.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

from sitetools import ROOT, dot_folders_beside
from test_browser import PageLog

WAIT = 90   # seconds an edit may take to show (a rebuild takes about one)


class Preview:
    """`python build.py serve` in a child process; its output collected line by line."""

    def __init__(self, content, out):
        self.out = out
        self.process = subprocess.Popen(
            [sys.executable, "build.py", "serve", "--content", str(content), "--out", str(out), "--port", "0"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stdout, self.stderr = [], []
        for stream, lines in ((self.process.stdout, self.stdout), (self.process.stderr, self.stderr)):
            threading.Thread(target=lambda s=stream, l=lines: l.extend(iter(s.readline, "")), daemon=True).start()
        serving = self.wait_for(lambda: re.search(r"at (http://127\.0\.0\.1:\d+)/", "".join(self.stdout)), "serving")
        self.url = serving.group(1)

    def wait_for(self, condition, what: str):
        """Poll `condition` until it is truthy; fail after WAIT seconds or if the preview ended."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            found = condition()
            if found:
                return found
            assert self.process.poll() is None, f"the preview ended: {''.join(self.stdout + self.stderr)}"
            time.sleep(0.1)
        pytest.fail(f"waited {WAIT} s for {what}: {''.join(self.stdout + self.stderr)}")

    def get(self, path: str) -> tuple[int, bytes]:
        """(status, body) of one request."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def state(self) -> dict:
        """The version of the last good build and the last error."""
        return json.loads(self.get("/__reload")[1])

    def stop(self) -> int:
        """Ctrl-C, then its exit status."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=60)


@pytest.fixture
def preview(tmp_path):
    """A preview of a copy of content/, served from tmp_path/site; stopped at the end if a test did not."""
    shutil.copytree(ROOT / "content", tmp_path / "content")
    running = Preview(tmp_path / "content", tmp_path / "site")
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.wait()


def hook(version: int) -> bytes:
    return f'<script src="/__reload.js" data-version="{version}"></script>\n'.encode()


def listens_on_loopback_only(port: int) -> bool:
    """Whether the listening socket on `port` is bound to 127.0.0.1 (from the kernel's table)."""
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == "0A" and int(local.split(":")[1], 16) == port:
            return local.split(":")[0] == "0100007F"
    return False


def test_serves_rebuilds_shows_errors_and_stops(preview, tmp_path):
    site, prose = preview.out, tmp_path / "content" / "en" / "02-data.md"
    assert listens_on_loopback_only(int(preview.url.rsplit(":", 1)[1]))
    assert preview.state() == {"version": 1, "error": None}

    # Pages are the built files plus the hook; the built files never contain it; other files as they are.
    for name in ("index.html", "en/index.html", "zh/index.html"):
        status, served = preview.get("/" + name)
        built = (site / name).read_bytes()
        assert status == 200 and b"__reload" not in built
        assert served.count(hook(1)) == 1 and served.replace(hook(1), b"") == built, name
    assert preview.get("/")[1] == preview.get("/index.html")[1]
    for name in ("assets/style.css", "animation/frames/frame-001.png", "assets/math.woff"):
        assert preview.get("/" + name) == (200, (site / name).read_bytes()), name

    # An edit to the prose shows up.
    marker = f"Preview marker {uuid.uuid4().hex}"
    good = prose.read_text(encoding="utf-8")
    prose.write_text(good + f"\n{marker}\n", encoding="utf-8")
    preview.wait_for(lambda: marker.encode() in preview.get("/en/index.html")[1], "the edit to be served")
    preview.wait_for(lambda: preview.state() == {"version": 2, "error": None}, "the build to be counted")

    # A broken file: one line in the terminal and in /__reload; the last good site stays served.
    prose.write_text(good + f"\n{marker}\n\n{{{{ no_such_value }}}}\n", encoding="utf-8")
    error = preview.wait_for(lambda: preview.state()["error"], "the error")
    assert "02-data.md" in error and "no_such_value" in error and "\n" not in error, error
    assert preview.wait_for(lambda: any(error in line for line in preview.stderr), "the error on the terminal")
    status, served = preview.get("/en/index.html")
    assert status == 200 and marker.encode() in served
    assert served.replace(hook(2), b"") == (site / "en" / "index.html").read_bytes()
    assert b"__previewState(" in preview.get("/__reload/state.js")[1]

    # Fixed again: a new version, no error.
    prose.write_text(good, encoding="utf-8")
    preview.wait_for(lambda: preview.state() == {"version": 3, "error": None}, "the fixed build")
    assert marker.encode() not in preview.get("/en/index.html")[1]

    assert preview.stop() == 0
    output = "".join(preview.stdout + preview.stderr)
    assert "Traceback" not in output, output
    assert preview.stdout[-1].strip() == "stopped"
    assert dot_folders_beside(site) == [], "a temporary folder was left behind"


def test_open_page_reloads_and_shows_a_failed_build(browser, preview, tmp_path):
    prose = tmp_path / "content" / "zh" / "02-data.md"
    good = prose.read_text(encoding="utf-8")
    page = browser.new_page()
    log = PageLog(page, preview.url)
    page.goto(preview.url + "/zh/index.html")

    prose.write_text(good + "\n{{ no_such_value }}\n", encoding="utf-8")
    page.wait_for_selector("#preview-error", timeout=WAIT * 1000)
    assert "no_such_value" in page.inner_text("#preview-error")

    marker = f"Preview marker {uuid.uuid4().hex}"
    prose.write_text(good + f"\n{marker}\n", encoding="utf-8")
    # A function, not an expression: the page's Content-Security-Policy forbids eval().
    page.wait_for_function("marker => document.body !== null && document.body.textContent.includes(marker)",
                           arg=marker, timeout=WAIT * 1000)
    assert page.locator("#preview-error").count() == 0
    assert not log.errors and not log.outside, (log.errors, log.outside)
    page.close()
    assert preview.stop() == 0


def test_ctrl_c_during_a_rebuild_leaves_a_whole_site(preview, tmp_path):
    """Whenever Ctrl-C comes, the preview ends with 0 and the site is the old or the new one, whole."""
    prose = tmp_path / "content" / "en" / "02-data.md"
    prose.write_text(prose.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
    preview.wait_for(lambda: any(site.name.startswith(".site-new-") for site in tmp_path.iterdir())
                     or preview.state()["version"] == 2, "the rebuild to start")
    assert preview.stop() == 0
    assert "Traceback" not in "".join(preview.stderr), preview.stderr
    assert dot_folders_beside(preview.out) == [], "a temporary folder was left behind"
    assert (preview.out / "en" / "index.html").is_file() and (preview.out / ".lesson-site").is_file()
