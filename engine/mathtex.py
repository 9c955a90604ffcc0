"""Turn LaTeX into MathML with Temml, all formulas of a build in one node process.

Pages are rendered first with a placeholder wherever a formula goes; the
placeholders are collected in a `MathBatch` and sent to node section by
section (starting node costs about 0.1 s, so once per build rather than once
per formula; it starts with the first section's formulas, so that cost
overlaps the writing of the next), and the answers are substituted at the end. A formula Temml
rejects stops the build with the formula and the page that holds it.

The browser lays out MathML itself (MathML Core: Chromium, Firefox, Safari),
and screen readers read it: one element per symbol, where an HTML rendering
needs several boxes per symbol plus a hidden MathML copy for screen readers.
The formulas are drawn with a math font the site ships (engine/mathfont.py).
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import threading
from pathlib import Path

from engine.output import HeldStops

from engine.cache import Form

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).with_name("temml_render.js")
TEMML = ROOT / "node_modules" / "temml" / "package.json"
TOKEN = re.compile(r"\x02MATH(\d+)\x03")
# TeX compiled without optimisation: for a few hundred formulas V8's
# optimising compiler costs more CPU than it saves.
NODE_FLAGS = ("--no-opt",)
KEPT_FORMULAS = 5_000   # formulas the cache keeps across builds (a dozen settings; some 12 MB read each build)


def formulas_entry(known: dict[tuple[str, bool], str]) -> tuple[list, dict]:
    """Rendered formulas as the cache keeps them: [tex, display, MathML] each."""
    return [[tex, display, mathml] for (tex, display), mathml in known.items()], {}


def formulas_from_entry(rows: list, files: dict) -> dict[tuple[str, bool], str]:
    """Rendered formulas from the cache: (tex, display) -> MathML."""
    if files:
        raise ValueError("files among the formulas")
    return {(tex, display): mathml for tex, display, mathml in rows}


FORMULAS = Form([(str, bool, str)], formulas_entry, formulas_from_entry)


def shortened(text: str, limit: int = 160) -> str:
    """Text for a one-line message: on one line, and at most about `limit` characters (a formula can be long)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


class FormulaError(Exception):
    """Temml could not render a formula; str() names the page and the formula."""


class Temml:
    """One node process running Temml, started early so that its start-up overlaps other work.

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

    def start(self) -> "Temml":
        """Start node and let it load Temml while Python goes on (nothing if node is not installed)."""
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
            raise FormulaError("node: expected Node.js on the PATH to run Temml, got none: install Node.js 20 "
                               "(apt-get install nodejs), then run `npm ci` in the project folder")
        self.batches.put(json.dumps(items) + "\n")
        self.sent += len(items)

    def results(self) -> list[dict]:
        """The answers to every batch sent, in order ({"mathml"} or {"error"}); node then ends."""
        self.batches.put(None)
        reader = self.threads[1]
        reader.join(self.TIME_LIMIT)
        if reader.is_alive():
            self.close()
            raise FormulaError(f"Temml: expected node to render {self.sent} formulas within "
                               f"{self.TIME_LIMIT:.0f} s, got no answer in that time")
        try:
            status = self.process.wait(timeout=5)   # its output has ended: it is on its way out
        except subprocess.TimeoutExpired:
            status = "none (it kept running)"
        self.close()
        said = [line for line in self.complaints if line]
        if status != 0:
            raise FormulaError(f"Temml: node stopped with exit status {status}"
                               + (f": {said[-1][:200]}" if said else ""))
        try:
            answers = [answer for line in self.answers for answer in json.loads(line)]
        except ValueError:
            raise FormulaError(f"Temml: expected node to answer in JSON, got {self.answers[0][:80]!r}") from None
        if len(answers) != self.sent or not all(isinstance(a, dict) for a in answers):
            raise FormulaError(f"Temml: expected {self.sent} rendered formulas from node, got {len(answers)}")
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


def check_installed(package: Path = TEMML) -> None:
    """Stop at once, in one line, if Temml's npm package is missing."""
    if not package.is_file():
        raise FormulaError(f"Temml: expected the npm package in {package.parent}, got nothing there: "
                           f"run `npm ci` in {ROOT}")


class MathBatch:
    """Formulas waiting to be rendered, each behind a placeholder token.

    `send()` passes the formulas queued so far to Temml (say, after each page),
    `render()` sends the rest and collects every answer. `cache` keeps the
    MathML of formulas rendered by earlier builds.
    """

    def __init__(self, cache=None, temml: Temml | None = None):
        self.formulas: list[tuple[str, bool]] = []
        self.pages: list[str] = []
        self.index: dict[tuple[str, bool], int] = {}
        self.mathml: list[str] | None = None
        self.cache, self.temml = cache, temml or Temml()
        # One cache entry holds every formula rendered so far: (tex, display) -> MathML.
        self.key = cache.key("formulas") if cache else None
        self.known: dict[tuple[str, bool], str] = (cache.load(self.key, FORMULAS) if cache else None) or {}
        self.sent = 0                  # formulas[:sent] were sent to Temml or known already
        self.waiting: list[int] = []   # the formulas Temml is working on

    def add(self, tex: str, display: bool, page: str) -> str:
        """Queue a formula and return the placeholder to put where it goes."""
        key = (tex.strip(), display)
        if key not in self.index:
            self.index[key] = len(self.formulas)
            self.formulas.append(key)
            self.pages.append(page)
        return f"\x02MATH{self.index[key]}\x03"

    def send(self) -> None:
        """Let Temml start on the formulas queued since the last call."""
        new = [k for k in range(self.sent, len(self.formulas)) if self.formulas[k] not in self.known]
        self.sent = len(self.formulas)
        if new:
            self.temml.send([{"tex": self.formulas[k][0], "display": self.formulas[k][1]} for k in new])
            self.waiting += new

    def render(self) -> None:
        """Render every queued formula; a formula Temml rejects stops the build, naming its page."""
        self.send()
        if self.waiting:
            for k, result in zip(self.waiting, self.temml.results()):
                if "error" in result:
                    raise FormulaError(f"{self.pages[k]}: Temml cannot render ${shortened(self.formulas[k][0])}$: "
                                       f"{shortened(result['error'])}")
                self.known[self.formulas[k]] = result["mathml"]
            if self.cache:   # earlier builds' formulas stay too (switching a setting back is then quick), up to a limit
                known = self.known
                self.cache.save(self.key, known if len(known) <= KEPT_FORMULAS else
                                {f: known[f] for f in self.formulas}, FORMULAS)
            self.waiting = []
        self.mathml = [self.known[formula] for formula in self.formulas]

    def substitute(self, text: str) -> str:
        """Replace every placeholder in a rendered page with its formula's MathML."""
        assert self.mathml is not None, "render() the batch before substituting"
        return TOKEN.sub(lambda m: self.mathml[int(m.group(1))], text)
