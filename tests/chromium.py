"""Debian's Chromium under Playwright for Python: how the browser tests start it.

Playwright never downloads a browser here; it drives /usr/bin/chromium with the
flags this machine needs (no sandbox as root, no background network traffic).
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def launch(playwright, profile: Path, **options):
    """A headless Chromium with a fresh profile folder; options go to Playwright."""
    options.setdefault("viewport", {"width": 1280, "height": 900})
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, **options)
