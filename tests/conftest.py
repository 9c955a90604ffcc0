"""Shared fixtures: the default settings, the default training run (engine and plain), and one
default site built once per session.

Every test run starts from nothing an earlier run left: builds keep their cache in a folder of
this run's own ($LESSON_CACHE, which build.py reads as its default --cache), and Hypothesis keeps
its files in another, both removed at the end. Property tests draw the same examples every run
(the "repeatable" profile); `pytest --hypothesis-profile=long` draws ten times as many, new ones
each time.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

# The tests press Ctrl-C as a terminal does. A test run started with SIGINT ignored (a background job
# of a shell without job control, `cmd &` in a script) would hand that on to every build it starts,
# and Python keeps an ignored SIGINT ignored: give this run, and so its builds, a terminal's Ctrl-C.
signal.signal(signal.SIGINT, signal.default_int_handler)

for variable, prefix in (("LESSON_CACHE", "lesson-test-cache-"), ("HYPOTHESIS_STORAGE_DIRECTORY", "lesson-hypothesis-")):
    if variable not in os.environ:
        os.environ[variable] = tempfile.mkdtemp(prefix=prefix)
        atexit.register(shutil.rmtree, os.environ[variable], ignore_errors=True)

settings.register_profile("repeatable", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("long", derandomize=False, database=None, deadline=None, print_blob=True,
                          max_examples=1000)
settings.load_profile("repeatable")

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
for place in (ROOT, TESTS):
    if str(place) not in sys.path:
        sys.path.insert(0, str(place))

import plain_network as plain  # noqa: E402
from sitetools import tree_hashes  # noqa: E402

LESSON_TOML = ROOT / "content" / "lesson.toml"


@pytest.fixture(scope="session")
def default_settings():
    from engine import config
    return config.load(LESSON_TOML)


@pytest.fixture(scope="session")
def default_run(default_settings):
    from engine import train
    return train.train(default_settings)


@pytest.fixture(scope="session")
def plain_default():
    """The DESIGN's experiment trained by the plain 1-2-1 implementation (values from DESIGN §2)."""
    return plain.plain_train(
        lambda p: plain.loss_grad_121(p, plain.DESIGN_POINTS),
        plain.DESIGN_INIT, plain.DESIGN_LEARNING_RATE, plain.DESIGN_EPOCHS,
        keep=range(1, plain.DESIGN_EPOCHS + 1),
    )


@pytest.fixture(scope="session")
def default_site(tmp_path_factory):
    """A site built once with the default settings, in a folder of its own.

    Tests that only read it, or that run failing builds against it, share it; nothing may change it.
    """
    from engine.pipeline import Paths, build
    out = tmp_path_factory.mktemp("default") / "site"
    build(Paths(out=out))
    return out


@pytest.fixture(scope="session")
def default_site_hashes(default_site):
    return tree_hashes(default_site)


@pytest.fixture(scope="session")
def playwright():
    """One Playwright driver for the whole session (a second one cannot start inside it)."""
    from chromium import CHROMIUM
    from playwright import sync_api
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (see README)")
    with sync_api.sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright, tmp_path_factory):
    """A browser with JavaScript, as most readers have it."""
    from chromium import launch
    context = launch(playwright, tmp_path_factory.mktemp("profile"))
    yield context
    context.close()


@pytest.fixture()
def page(browser):
    """A fresh page that must log no error; the reader's saved theme never leaks into other tests."""
    page = browser.new_page()
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    try:
        if page.url.startswith("file:"):
            page.evaluate("() => { try { localStorage.clear(); } catch (e) {} }")
    finally:
        page.close()
    assert not errors, errors
