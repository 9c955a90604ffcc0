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


def lay_out_every_section(page) -> None:
    """Have the browser lay out every section now: off screen it leaves a section's layout until the reader
    comes near (style.css, content-visibility), so a box's size and place could still change."""
    page.evaluate("document.querySelectorAll('.lesson-section').forEach((s) => { s.style.contentVisibility = 'visible'; })")


AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical findings on the page, one line each."""
    # Evaluated through the driver: the pages' policy (script-src 'self') refuses an injected <script>.
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;true")
    return page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ['violations'], preload: false});
            return result.violations
              .filter(v => v.impact === 'serious' || v.impact === 'critical')
              .map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
        }"""
    )
