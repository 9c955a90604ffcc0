"""Turn LaTeX into HTML with KaTeX, all formulas of a build in one node process.

Pages are rendered first with a placeholder wherever a formula goes; the
placeholders are collected in a `MathBatch`, rendered together (starting node
costs about 0.1 s, so once per build rather than once per formula), and then
substituted. A formula KaTeX rejects stops the build with the formula and the
page that holds it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).with_name("katex_render.js")
KATEX_DIST = ROOT / "node_modules" / "katex" / "dist"
TOKEN = re.compile(r"\x02MATH(\d+)\x03")


class FormulaError(Exception):
    """KaTeX could not render a formula; str() names the page and the formula."""


class MathBatch:
    """Formulas waiting to be rendered, each behind a placeholder token."""

    def __init__(self):
        self.formulas: list[tuple[str, bool]] = []
        self.pages: list[str] = []
        self.index: dict[tuple[str, bool], int] = {}
        self.html: list[str] | None = None

    def add(self, tex: str, display: bool, page: str) -> str:
        """Queue a formula and return the placeholder to put where it goes."""
        key = (tex.strip(), display)
        if key not in self.index:
            self.index[key] = len(self.formulas)
            self.formulas.append(key)
            self.pages.append(page)
        return f"\x02MATH{self.index[key]}\x03"

    def render(self, cache=None) -> None:
        """Render every queued formula with KaTeX, in one node process; `cache` keeps earlier ones."""
        keys = [cache.key("katex", tex, display) if cache else None for tex, display in self.formulas]
        html = [cache.load(key) if cache else None for key in keys]
        missing = [k for k, found in enumerate(html) if found is None]
        if missing:
            results = run_katex([{"tex": self.formulas[k][0], "display": self.formulas[k][1]} for k in missing])
            for k, result in zip(missing, results):
                if "error" in result:
                    raise FormulaError(f"{self.pages[k]}: KaTeX cannot render ${self.formulas[k][0]}$: "
                                       f"{result['error']}")
                html[k] = result["html"]
                if cache:
                    cache.save(keys[k], html[k])
        self.html = html

    def substitute(self, text: str) -> str:
        """Replace every placeholder in a rendered page with its formula's HTML."""
        assert self.html is not None, "render() the batch before substituting"
        return TOKEN.sub(lambda m: self.html[int(m.group(1))], text)


def run_katex(items: list[dict]) -> list[dict]:
    """Send formulas to the KaTeX script as JSON and read its answers."""
    node = shutil.which("node")
    if node is None or not KATEX_DIST.is_dir():
        raise FormulaError("KaTeX is not installed: run `npm ci` in the project folder (needs node)")
    done = subprocess.run(
        [node, str(SCRIPT), str(ROOT)],
        input=json.dumps(items), capture_output=True, text=True, encoding="utf-8", check=False,
    )
    if done.returncode != 0:
        raise FormulaError(f"KaTeX failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)


def stylesheet_files() -> dict[str, bytes]:
    """KaTeX's CSS and its woff2 fonts, laid out so the CSS finds the fonts."""
    css = (KATEX_DIST / "katex.min.css").read_text(encoding="utf-8")
    # Every browser that runs the site reads woff2; dropping the woff and ttf
    # fallbacks keeps the site small and leaves no reference to a missing file.
    css = re.sub(r',url\(fonts/[^)]+\.(?:woff|ttf)\) format\("(?:woff|truetype)"\)', "", css)
    files = {"katex/katex.min.css": css.encode("utf-8")}
    for font in sorted((KATEX_DIST / "fonts").glob("*.woff2")):
        files[f"katex/fonts/{font.name}"] = font.read_bytes()
    return files
