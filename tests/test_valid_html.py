"""Every page the build writes is valid HTML, as the Nu Html Checker (the W3C validator) reads it.

The checker is npm's `vnu-jar` (package.json), run by Debian's Java (default-jre-headless, which
the README's test command installs).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from sitetools import ROOT, run_cli

VNU = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


def problems(pages: list[Path]) -> list[str]:
    """The checker's errors, one line each: file:line: message."""
    if shutil.which("java") is None:
        pytest.fail("java is missing: install Debian's default-jre-headless (see README)")
    if not VNU.is_file():
        pytest.fail(f"{VNU} is missing: run `npm ci` (see README)")
    # paint-order (CSS Fill and Stroke 3, in every browser) is newer than the checker's CSS tables.
    done = subprocess.run(["java", "-jar", str(VNU), "--errors-only", "--format", "json",
                           "--filterpattern", ".*Property .paint-order. doesn.t exist.*", *map(str, pages)],
                          capture_output=True, text=True, timeout=300)
    found = json.loads(done.stderr or '{"messages": []}')["messages"]
    return [f"{Path(m.get('url', '?')).name}:{m.get('lastLine', '?')}: {m['message']}" for m in found]


def test_every_page_of_the_site_is_valid(default_site):
    pages = sorted(default_site.rglob("*.html"))
    assert len(pages) >= 4   # entry, two lessons, 404
    assert problems(pages) == []


def test_a_single_file_page_is_valid(tmp_path):
    out = tmp_path / "site"
    single = tmp_path / "lesson-en.html"
    assert run_cli("--out", str(out), "-q", "--lang", "en", "--single-file", str(single),
                   "--set", "train.epochs=200", "--set", "train.display_every=50").returncode == 0
    assert problems([single]) == []


def test_the_checker_finds_an_error(tmp_path):
    """The check can fail: a page with the kind of fault the lesson once had (a block after a figure's caption)."""
    page = tmp_path / "invalid.html"
    page.write_text('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>t</title></head><body>'
                        '<figure><p>a</p><figcaption>c</figcaption><div>after</div></figure></body></html>', encoding="utf-8")
    assert problems([page]) != []
