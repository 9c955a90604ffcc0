"""Turn LaTeX into HTML with KaTeX, all formulas of a build in one node process.

Pages are rendered first with a placeholder wherever a formula goes; the
placeholders are collected in a `MathBatch` and sent to node section by
section (starting node costs about 0.1 s, so once per build rather than once
per formula; it starts as soon as the run is trained, so that cost overlaps
other work), and the answers are substituted at the end. A formula KaTeX rejects stops the build with the
formula and the page that holds it.

KaTeX's HTML is verbose: a lesson page holds some 500 formulas. `KatexStyle`
writes the same markup shorter (short class names, with KaTeX's style sheet
rewritten to match; no TeX annotation; no classes that no style sheet
names; repeated inline styles as classes) and ships only the fonts the
formulas use. The browser draws the result pixel for pixel like KaTeX's own
output (tests/test_light.py compares screenshots).
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import string
import subprocess
import threading
from collections import Counter
from itertools import product
from pathlib import Path

from engine.output import HeldStops

from engine.cache import Form

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).with_name("katex_render.js")
KATEX_DIST = ROOT / "node_modules" / "katex" / "dist"
TOKEN = re.compile(r"\x02MATH(\d+)\x03")
# KaTeX's classes that the site's own style sheet and scripts name: they keep
# their names (tests/test_light.py checks that templates/static names no other).
OWN_CLASSES = ("katex", "katex-display", "mspace")
# TeX compiled without optimisation: for a few hundred formulas V8's
# optimising compiler costs more CPU than it saves.
NODE_FLAGS = ("--no-opt",)
KEPT_FORMULAS = 5_000   # formulas the cache keeps across builds (a dozen settings; some 12 MB read each build)


def formulas_entry(known: dict[tuple[str, bool], str]) -> tuple[list, dict]:
    """Rendered formulas as the cache keeps them: [tex, display, HTML] each."""
    return [[tex, display, html] for (tex, display), html in known.items()], {}


def formulas_from_entry(rows: list, files: dict) -> dict[tuple[str, bool], str]:
    """Rendered formulas from the cache: (tex, display) -> HTML."""
    if files:
        raise ValueError("files among the formulas")
    return {(tex, display): html for tex, display, html in rows}


FORMULAS = Form([(str, bool, str)], formulas_entry, formulas_from_entry)


class FormulaError(Exception):
    """KaTeX could not render a formula; str() names the page and the formula."""


class Katex:
    """One node process running KaTeX, started early so that its start-up overlaps other work.

    Formulas go to it in batches, one JSON line each, as the pages that hold
    them are written; it renders each batch while the build goes on. Two
    threads talk to it (one writes the batches, one reads the answers, a third
    keeps what it says on stderr), so the build never blocks on a pipe, and
    `results` waits at most TIME_LIMIT seconds for a node that does not answer.
    """

    TIME_LIMIT = 60.0   # seconds for node to answer every formula sent (a lesson's take well under one)

    def __init__(self):
        self.process: subprocess.Popen | None = None
        self.batches: queue.SimpleQueue = queue.SimpleQueue()   # lines for node; None: no more
        self.answers: list[str] = []          # one JSON line per batch, read as node writes them
        self.complaints: list[str] = []       # what node wrote on stderr
        self.threads: list[threading.Thread] = []
        self.sent = 0                         # formulas sent

    def start(self) -> "Katex":
        """Start node and let it load KaTeX while Python goes on (nothing if node is not installed)."""
        node = shutil.which("node")
        if self.process is None and node is not None:
            with HeldStops() as held:   # node and its threads are started and known, or none of them
                self.process = subprocess.Popen(
                    [node, *NODE_FLAGS, str(SCRIPT), str(ROOT), str(os.getpid())], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
                    process_group=0)   # Ctrl-C in a terminal is the build's to handle: it stops node
                self.threads = [threading.Thread(target=target, daemon=True)
                                for target in (self.write, self.read, self.listen)]
                for thread in self.threads:
                    thread.start()
            held.stop_if_asked()
        return self

    def write(self) -> None:
        """Pass the batches to node as they come, then close its input (a node that stops reading ends this)."""
        try:
            for line in iter(self.batches.get, None):
                self.process.stdin.write(line)
                self.process.stdin.flush()
            self.process.stdin.close()
        except (OSError, ValueError):   # node has gone (or was stopped): `results` says so
            pass

    def read(self) -> None:
        """Keep node's answers as they come."""
        self.answers.extend(self.process.stdout)

    def listen(self) -> None:
        """Keep the end of what node says on stderr, for the error line."""
        for line in self.process.stderr:
            self.complaints = (self.complaints + [line.strip()])[-20:]

    def send(self, items: list[dict]) -> None:
        """Hand a batch of formulas ({"tex", "display"}) to node, which starts on it at once."""
        self.start()
        if self.process is None:
            raise FormulaError("node: expected Node.js on the PATH to run KaTeX, got none: install Node.js 20 "
                               "(apt-get install nodejs), then run `npm ci` in the project folder")
        self.batches.put(json.dumps(items) + "\n")
        self.sent += len(items)

    def results(self) -> list[dict]:
        """The answers to every batch sent, in order ({"html"} or {"error"}); node then ends."""
        self.batches.put(None)
        reader = self.threads[1]
        reader.join(self.TIME_LIMIT)
        if reader.is_alive():
            self.close()
            raise FormulaError(f"KaTeX: expected node to render {self.sent} formulas within "
                               f"{self.TIME_LIMIT:.0f} s, got no answer in that time")
        try:
            status = self.process.wait(timeout=5)   # its output has ended: it is on its way out
        except subprocess.TimeoutExpired:
            status = "none (it kept running)"
        self.close()
        said = [line for line in self.complaints if line]
        if status != 0:
            raise FormulaError(f"KaTeX: node stopped with exit status {status}"
                               + (f": {said[-1][:200]}" if said else ""))
        try:
            answers = [answer for line in self.answers for answer in json.loads(line)]
        except ValueError:
            raise FormulaError(f"KaTeX: expected node to answer in JSON, got {self.answers[0][:80]!r}") from None
        if len(answers) != self.sent or not all(isinstance(a, dict) for a in answers):
            raise FormulaError(f"KaTeX: expected {self.sent} rendered formulas from node, got {len(answers)}")
        self.answers, self.sent = [], 0
        return answers

    def render(self, items: list[dict]) -> list[dict]:
        """Render one batch of formulas and end (for callers with everything at hand)."""
        self.send(items)
        return self.results()

    def close(self) -> None:
        """Stop node if it still runs (the build ended early, or it did not answer) and wait until it is gone."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.batches.put(None)
        for thread in self.threads:
            thread.join()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            try:
                stream.close()
            except OSError:   # a write to it failed: nothing left to flush
                pass
        self.process, self.threads = None, []
        self.batches = queue.SimpleQueue()


def check_installed(dist: Path = KATEX_DIST) -> None:
    """Stop at once, in one line, if KaTeX's npm package is missing (the build needs its style sheet and fonts)."""
    if not (dist / "katex.min.css").is_file():
        raise FormulaError(f"KaTeX: expected the npm package in {dist.parent}, got nothing there: "
                           f"run `npm ci` in {ROOT}")


class MathBatch:
    """Formulas waiting to be rendered, each behind a placeholder token.

    `send()` passes the formulas queued so far to KaTeX (say, after each page),
    `render()` sends the rest and collects every answer. `cache` keeps the
    HTML of formulas rendered by earlier builds.
    """

    def __init__(self, cache=None, katex: Katex | None = None, style: "KatexStyle | None" = None):
        self.formulas: list[tuple[str, bool]] = []
        self.pages: list[str] = []
        self.index: dict[tuple[str, bool], int] = {}
        self.html: list[str] | None = None
        self.cache, self.katex, self.style = cache, katex or Katex(), style or KatexStyle.load()
        # One cache entry holds every formula rendered so far: (tex, display) -> HTML.
        self.key = cache.key("katex") if cache else None
        self.known: dict[tuple[str, bool], str] = (cache.load(self.key, FORMULAS) if cache else None) or {}
        self.sent = 0                  # formulas[:sent] were sent to KaTeX or known already
        self.waiting: list[int] = []   # the formulas KaTeX is working on

    def add(self, tex: str, display: bool, page: str) -> str:
        """Queue a formula and return the placeholder to put where it goes."""
        key = (tex.strip(), display)
        if key not in self.index:
            self.index[key] = len(self.formulas)
            self.formulas.append(key)
            self.pages.append(page)
        return f"\x02MATH{self.index[key]}\x03"

    def send(self) -> None:
        """Let KaTeX start on the formulas queued since the last call."""
        new = [k for k in range(self.sent, len(self.formulas)) if self.formulas[k] not in self.known]
        self.sent = len(self.formulas)
        if new:
            self.katex.send([{"tex": self.formulas[k][0], "display": self.formulas[k][1]} for k in new])
            self.waiting += new

    def render(self) -> None:
        """Render every queued formula; a formula KaTeX rejects stops the build, naming its page."""
        self.send()
        if self.waiting:
            for k, result in zip(self.waiting, self.katex.results()):
                if "error" in result:
                    raise FormulaError(f"{self.pages[k]}: KaTeX cannot render ${self.formulas[k][0]}$: "
                                       f"{result['error']}")
                self.known[self.formulas[k]] = self.style.compact(result["html"])
            if self.cache:   # earlier builds' formulas stay too (switching a setting back is then quick), up to a limit
                known = self.known
                self.cache.save(self.key, known if len(known) <= KEPT_FORMULAS else
                                {f: known[f] for f in self.formulas}, FORMULAS)
            self.waiting = []
        self.html = self.style.share_styles([self.known[formula] for formula in self.formulas])

    def substitute(self, text: str) -> str:
        """Replace every placeholder in a rendered page with its formula's HTML."""
        assert self.html is not None, "render() the batch before substituting"
        return TOKEN.sub(lambda m: self.html[int(m.group(1))], text)


# ---------------------------------------------------------------- shorter markup

ATTRIBUTE = re.compile(r' ([\w:-]+)="([^"]*)"(/?)')   # and the / of a self-closing tag
SPAN_STYLE = re.compile(r'<span(?: class=("[^"]*"|[^\s>"]+))? style=("[^"]*"|[^\s>"]+)')
UNQUOTED_VALUE = re.compile(r'[^\s"\'=<>`/]+')
LEADING_ZERO = re.compile(r"(?<![\d.])0\.(?=\d)")
CSS_CLASS = re.compile(r"\.(-?[A-Za-z_][\w-]*)")
CSS_URL = re.compile(r"url\([^)]*\)")
FONT_FACE = re.compile(r"@font-face\{[^}]*\}")
FONT_FAMILY = re.compile(r"KaTeX_\w+")
CSS_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")


def short_names(first_letters: str = string.ascii_uppercase, prefix: str = ""):
    """Short class names; KaTeX's start with a capital letter, which none of the site's own classes does."""
    yield from (prefix + first for first in first_letters)
    for first, second in product(first_letters, string.ascii_letters + string.digits):
        yield prefix + first + second


def unquoted(value: str) -> str:
    """An attribute value as written, without its quotes."""
    return value[1:-1] if value.startswith('"') else value


def attribute(name: str, value: str) -> str:
    """` name=value`, quoted only where the value needs it."""
    return f" {name}={value}" if UNQUOTED_VALUE.fullmatch(value) else f' {name}="{value}"'


class KatexStyle:
    """KaTeX's style sheet and a shorter writing of its markup that the sheet still fits."""

    def __init__(self, css: str, fonts: dict[str, bytes]):
        # Every browser that runs the site reads woff2; dropping the woff and ttf
        # fallbacks keeps the site small and leaves no reference to a missing file.
        css = re.sub(r',url\(fonts/[^)]+\.(?:woff|ttf)\) format\("(?:woff|truetype)"\)', "", css)
        known = dict.fromkeys(CSS_CLASS.findall(CSS_URL.sub("", css)))   # in order of first use
        self.renamed = dict(zip((c for c in known if c not in OWN_CLASSES), short_names()))
        self.kept = set(known) | set(OWN_CLASSES)
        self.css = CSS_CLASS.sub(lambda m: "." + self.renamed.get(m.group(1), m.group(1)),
                                 CSS_URL.sub(lambda m: m.group(0).replace(".", "\0"), css)).replace("\0", ".")
        self.fonts = fonts
        self.attributes: dict[str, str] = {}   # ' name="value"' -> its shorter writing
        self.style_classes: dict[str, str] = {}   # an inline style shared by many spans -> its class

    def short_attribute(self, name: str, value: str, slash: str = "") -> str:
        """One attribute of KaTeX's markup, written shorter (or left out)."""
        if name == "class":   # KaTeX's classes renamed, the unused ones left out
            value = " ".join(self.renamed.get(c, c) for c in value.split() if c in self.kept)
            if not value:
                return ""
        elif name == "style":   # "margin-right:0.05em;" -> "margin-right:.05em"
            value = LEADING_ZERO.sub(".", value.rstrip(";"))
        # A value may go without quotes, but not just before the / of a self-closing tag.
        return f' {name}="{value}"{slash}' if slash else attribute(name, value)

    def share_styles(self, formulas: list[str]) -> list[str]:
        """Formulas whose repeated inline styles became classes (the style sheet gets one rule for each).

        The rules are !important, so they win over KaTeX's own rules as the
        inline styles did. Colours stay inline: the site's style sheet finds
        them there.
        """
        counts = Counter(unquoted(m.group(2)) for html in formulas for m in SPAN_STYLE.finditer(html))
        common = sorted((value for value, count in counts.items() if count > 1 and "color" not in value),
                        key=lambda value: (-counts[value], value))
        self.style_classes = dict(zip(common, short_names(string.ascii_lowercase, prefix="_")))

        def to_class(match):
            name = self.style_classes.get(unquoted(match.group(2)))
            if name is None:
                return match.group(0)
            classes = f"{unquoted(match.group(1) or '')} {name}".strip()
            return "<span" + attribute("class", classes)

        return [SPAN_STYLE.sub(to_class, html) for html in formulas]

    @classmethod
    def load(cls, dist: Path = KATEX_DIST) -> "KatexStyle":
        """KaTeX's own style sheet and woff2 fonts from the npm package."""
        fonts = {path.name: path.read_bytes() for path in sorted((dist / "fonts").glob("*.woff2"))}
        return cls((dist / "katex.min.css").read_text(encoding="utf-8"), fonts)

    def compact(self, html: str) -> str:
        """The same formula in fewer bytes: the browser draws it exactly as before."""
        # The TeX source is left out of the MathML that screen readers use.
        html = re.sub(r"<annotation encoding=\"application/x-tex\">.*?</annotation>", "", html, flags=re.S)
        html = html.replace("<semantics>", "").replace("</semantics>", "")
        html = html.replace(' xmlns="http://www.w3.org/1998/Math/MathML"', "")   # implied in HTML

        def shorter(match):
            if match.group(0) not in self.attributes:
                self.attributes[match.group(0)] = self.short_attribute(*match.groups())
            return self.attributes[match.group(0)]

        return ATTRIBUTE.sub(shorter, html)

    def files(self, pages: list[str]) -> dict[str, bytes]:
        """The style sheet and the fonts that the formulas on these pages use, laid out so the CSS finds them."""
        used = set()
        for page in pages:
            for value in re.findall(r' class=(?:"([^"]*)"|([^\s>]+))', page):
                used.update((value[0] or value[1]).split())
        # Each font face (family, weight, style) that a rule of the formulas' classes asks for,
        # with the weight or style that rules without a family give whatever family is in force.
        faces, changes = set(), {("400", "normal")}
        for selectors, declarations in CSS_RULE.findall(FONT_FACE.sub("", self.css)):
            if "font" not in declarations or not any(set(CSS_CLASS.findall(selector)) <= used
                                                     for selector in selectors.split(",")):
                continue
            weight = "700" if re.search(r"font-weight:(700|bold)", declarations) else None
            style = "italic" if "italic" in declarations else None
            for family in FONT_FAMILY.findall(declarations):
                faces.add((family, weight or "400", style or "normal"))
            if not FONT_FAMILY.search(declarations):
                changes.add((weight or "400", style or "normal"))
        faces |= {(family, weight, style) for family, _, _ in list(faces) for weight, style in changes}

        def face(match):
            rule = match.group(0)
            weight = "700" if "font-weight:700" in rule else "400"
            style = "italic" if "font-style:italic" in rule else "normal"
            return rule if (FONT_FAMILY.search(rule).group(0), weight, style) in faces else ""

        css = FONT_FACE.sub(face, self.css) + "".join(
            f".{name}{{{value.replace(';', '!important;')}!important}}" for value, name in self.style_classes.items())
        files = {"katex/katex.min.css": css.encode("utf-8")}
        for name, data in self.fonts.items():
            if f"url(fonts/{name})" in css:
                files[f"katex/fonts/{name}"] = data
        return files
