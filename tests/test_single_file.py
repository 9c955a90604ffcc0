"""`build.py --single-file`: one HTML file per language that works alone, offline.

The file is copied into an empty folder and opened from file:// in Chromium
with every request other than the file itself blocked; the browser is the
oracle (console, requests, decoded images, the math font), as in
test_browser.py.
"""

from __future__ import annotations

import re
import shutil

import pytest

from sitetools import dot_folders_beside, run_cli
from test_browser import PageLog, check_page
from test_looks import shown_image, tones

LANGS = ("zh", "en")


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    """lang -> the single file of that language, alone in a folder of its own."""
    work = tmp_path_factory.mktemp("single")
    files = {}
    for lang in LANGS:
        target = work / f"lesson-{lang}.html"
        result = run_cli("--out", str(work / "site"), "--single-file", str(target), "--lang", lang)
        assert result.returncode == 0, result.stderr
        assert f"single file {target} ({lang})" in result.stdout
        alone = tmp_path_factory.mktemp(f"alone-{lang}")
        files[lang] = shutil.copy(target, alone / target.name)
    assert dot_folders_beside(work / "site") == [], "a temporary file or folder was left behind"
    return files


@pytest.mark.parametrize("lang", LANGS)
def test_single_file_needs_nothing_else(packed, lang):
    html = packed[lang].read_text(encoding="utf-8")
    outside = re.findall(r'\s(?:src|href|srcset)="(?!#|data:|https?:)([^"]*)"', html)
    assert outside == [], outside
    assert re.search(r"url\((?!data:|#)", html) is None, "a style sheet still refers to a file"
    assert "__reload" not in html
    size = len(html.encode("utf-8"))
    assert 1 * 2**20 < size < 8 * 2**20, f"{size / 2**20:.1f} MiB"


@pytest.mark.parametrize("lang", LANGS)
def test_single_file_opens_offline_with_everything(browser, packed, lang):
    """Formulas in the math font, every image (and the player's frames) decoded, no error, no request."""
    page = browser.new_page()
    uri = packed[lang].as_uri()
    log = PageLog(page, uri)
    page.goto(uri)
    check_page(page, log, f"{lang}/index.html")
    loaded = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    assert all(name.startswith("data:") for name in loaded), loaded
    # The snapshot player shows another frame, also from inside the file.
    page.locator("#explorer").scroll_into_view_if_needed()
    page.click("#explorer [data-action='step']")
    page.wait_for_function("document.getElementById('scrubber-range').value === '1'")
    page.wait_for_function("(() => { const i = document.getElementById('scrubber-image');"
                           " return i.src.startsWith('data:image/png') && i.complete && i.naturalWidth > 0; })()")
    links = page.eval_on_selector_all("a[href]", "as => as.map(a => a.getAttribute('href'))")
    assert all(link.startswith(("#", "https:", "http:")) for link in links), links
    assert not log.errors and not log.failed and not log.outside, (log.errors, log.failed, log.outside)
    page.close()


def test_a_file_that_cannot_be_written_is_one_line(tmp_path):
    result = run_cli("--out", str(tmp_path / "site"), "-q", "--single-file", str(tmp_path / "no" / "such.html"))
    assert result.returncode == 1
    assert result.stderr.startswith("build.py: error: --single-file: expected a file that can be written")
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []   # all or nothing: no site either


def test_single_file_figures_turn_dark_with_the_page(browser, packed):
    """A figure's dark look travels inside the file too (as a copy of its own: a data: URL takes no #dark)."""
    page = browser.new_page()
    try:
        page.goto(packed["en"].as_uri())
        looks = {}
        for theme in ("light", "dark"):
            if theme == "dark":
                page.click("[data-theme-toggle]")
            shown_image(page, "#figure-loss img")
            looks[theme] = tones(page.locator("#figure-loss img:visible").screenshot())
        assert looks["light"][0] > 0.9 and looks["dark"][0] < 0.03 and looks["dark"][2] > 0.4, looks
    finally:
        page.evaluate("() => localStorage.clear()")
        page.close()
