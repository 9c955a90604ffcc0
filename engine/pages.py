"""Assemble the HTML pages from Markdown prose, Jinja templates and the run.

Each section of the lesson is a Markdown file `content/<lang>/NN-id.md` whose
first line is `# Title`; `id` becomes the section's anchor in both languages.
A section is first rendered as a Jinja template, so the prose can write
`{{ final.loss | sig }}` and the number follows the settings, and then as
Markdown with `$...$` and `$$...$$` math. Formulas become placeholders in a
`MathBatch`; the caller renders the batch with Temml and substitutes it.
Nothing here writes files: every function returns strings.

The prose is input a stranger may have written (a merged pull request is
built and published by the workflow), so it gets less than the templates:
Jinja's immutable sandbox, where it reads the lesson's values but cannot
reach Python's internals, change a value or build a huge one; files of the
content folder only; and a short list of HTML tags it may write by hand.
The HTML of partials, formulas and code comes from the project's templates:
the prose gets a placeholder for it, put back after Markdown and the check.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import importlib.util
import inspect
import marshal
import posixpath
import re
import stat
import string
import tomllib
import types
from dataclasses import dataclass, fields
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jinja2
import numpy as np
from jinja2.environment import TemplateModule
from jinja2.loaders import split_template_path
from jinja2.runtime import LoopContext, TemplateReference
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import Cycler, Joiner, Namespace
from markdown_it import MarkdownIt
from markupsafe import Markup, escape
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer
from mdit_py_plugins.dollarmath import dollarmath_plugin

from engine.cache import Cache, Form, only_yours
from engine.diagram import Diagram
from engine.formulas import Formula, GradientCheck, InText
from engine.mathtex import MathBatch
from engine.network import Param, latex_name, predict, sigmoid
from engine.numerals import MINUS, column, fixed, plain, sci, sig
from engine.script import SCRIPT_FILE, line_ranges, script_parts
from engine.train import Run

LANGS = ("zh", "en")
CODE_STYLE = "default"  # a light Pygments style whose colours keep enough contrast
# A main section is NN-id.md; an appendix, after them all, is X-id.md with X its letter (A, B, ...).
SECTION_FILE = re.compile(r"^(\d\d|[A-Z])-([a-z0-9-]+)\.md$")
HEADING_ANCHOR = re.compile(r"\s*\{#([a-z0-9][a-z0-9-]*)\}\s*$")
# Inline math followed by punctuation stays on one line with it.
MATH_THEN_PUNCTUATION = re.compile(r"(\x02MATH\d+\x03)([.,;:!?，。；：、）)]+)")
MAX_FILE_BYTES = 1 << 20     # a content file larger than 1 MiB is a mistake or an attack, not a lesson
ENGINE = Path(__file__).resolve().parent
ENGINE_FUNCTION = re.compile(r"engine\.([a-z][a-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)")


class ContentError(Exception):
    """The lesson's content is malformed; str() names the file."""


@dataclass(frozen=True)
class Section:
    """One rendered section of the lesson page."""

    id: str
    number: str       # as the file is named: "01", ... for a main section, "A", ... for an appendix
    title: str
    html: str

    @property
    def appendix(self) -> bool:
        """An appendix comes after the main sections, which read in one go without it."""
        return not self.number.isdigit()


@dataclass(frozen=True)
class Figure:
    """An image the pages show, with alt text written from the data."""

    src: str          # relative to the site root
    alt: str
    width: int
    height: int
    narrow: Figure | None = None   # its narrow layout, for a phone (larger words there)

    @property
    def narrow_media(self) -> str:
        """Where the narrow layout is shown: where the wide one (100 px an inch) would show its 10-point
        words under 10 CSS px, that is, narrower than its width in points (72 an inch), plus the page's margins."""
        return f"(max-width: {round(self.width * 0.72) + 40}px)"


@dataclass(frozen=True)
class Explained:
    """What the pages explain beyond the run's own numbers, built once (engine/pipeline.py explain).

    The templates and the prose know each field by its name: formulas["node-a1_1"], example.k, checks.start.
    """

    formulas: dict[str, Formula]            # every formula of the lesson by id, each checked against backprop
    example: dict[str, float]               # the sample the worked examples follow: k (from 1), x and y
    in_text: InText                         # the nodes and parameters whose formulas the text writes out
    diagrams: dict[str, Diagram]            # the network drawn for the "forward" and the "backward" pass
    checks: dict[str, list[GradientCheck]]  # backprop against finite differences at the "start" and the "end"
    starts: list[dict]                      # each random start beside this build's: seed, final_loss, wrong
    client: dict                            # what the page's scripts need, inlined as JSON

    def by_name(self) -> dict:
        """Each field by its name, for the templates' context."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


def read_content(content: Path, path: Path) -> str:
    """The text of a file of the content folder: a regular file inside it (links may point only
    inside), at most 1 MiB, UTF-8; anything else is a ContentError that names the file."""
    try:
        real = path.resolve(strict=True)
        mode = real.stat().st_mode
    except (OSError, RuntimeError) as err:   # RuntimeError: a loop of links
        raise ContentError(f"{path}: {getattr(err, 'strerror', None) or err}") from None
    if not real.is_relative_to(content.resolve()):
        raise ContentError(f"{path}: expected a file inside the content folder {content}, got a link to {real}")
    if not stat.S_ISREG(mode):
        raise ContentError(f"{path}: expected a regular file, got {file_kind(mode)}")
    with real.open("rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)   # never more, whatever the file claims
    if len(data) > MAX_FILE_BYTES:
        raise ContentError(f"{path}: expected at most {MAX_FILE_BYTES // 1024} KiB (1 MiB), got more")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ContentError(f"{path}:{line}: expected UTF-8 text, got the byte 0x{data[err.start]:02x} "
                           f"at byte offset {err.start}") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")   # as Path.read_text reads lines


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    kinds = [(stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")]
    return next((name for test, name in kinds if test(mode)), "a special file")


def load_strings(content: Path) -> dict[str, dict]:
    """The UI words of every language from content/strings.toml."""
    path = content / "strings.toml"
    try:
        strings = tomllib.loads(read_content(content, path))
    except tomllib.TOMLDecodeError as err:
        raise ContentError(f"{path}: {err}") from None
    for lang in LANGS:
        if lang not in strings:
            raise ContentError(f"{path}: no [{lang}] table")
    for key, text in ui_texts(strings):
        check_fields(path, key, text)
    return strings


def ui_texts(table: dict, prefix: str = "") -> list[tuple[str, str]]:
    """Every text of the UI words with its dotted key: zh.alt.scatter, ..."""
    found = []
    for key, value in table.items():
        if isinstance(value, dict):
            found += ui_texts(value, f"{prefix}{key}.")
        elif isinstance(value, str):
            found.append((f"{prefix}{key}", value))
    return found


def check_fields(path: Path, key: str, text: str) -> None:
    """A UI word is filled in with str.format: its fields may only be plain names, {count}.

    A field like {count.__class__} would read Python's internals, and {count:>999999999} would
    build a string of a gigabyte.
    """
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(text)
                  if name is not None]
    except ValueError as err:
        raise ContentError(f"{path}: {key}: {err}") from None
    for name, spec, conversion in fields:
        if not name.isidentifier() or spec or conversion:
            whole = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise ContentError(f"{path}: {key}: expected fields like {{count}}, got {whole}")


def load_glossary(content: Path) -> list[list[str]]:
    """The zh-en glossary: [Chinese, English, LaTeX symbol] per term."""
    path = content / "glossary.toml"
    try:
        terms = tomllib.loads(read_content(content, path))["terms"]
    except (KeyError, tomllib.TOMLDecodeError) as err:
        raise ContentError(f"{path}: {err}") from None
    if not all(isinstance(t, list) and len(t) == 3 for t in terms):
        raise ContentError(f"{path}: each term is [Chinese, English, symbol]")
    return terms


def section_files(content: Path, lang: str) -> list[tuple[str, str, Path]]:
    """The section files of one language, in order: (number or appendix letter, id, path).

    Names sort digits before capitals, so the appendices come after the main sections."""
    found = []
    for path in sorted((content / lang).glob("*.md")):
        match = SECTION_FILE.match(path.name)
        if not match:
            raise ContentError(f"{path}: section files are named NN-id.md (an appendix: A-id.md)")
        found.append((match.group(1), match.group(2), path))
    return found


# ---------------------------------------------------------------- numbers

def csp_hash(text: str) -> Markup:
    """The Content-Security-Policy source that allows exactly this inline script or style: 'sha256-...'."""
    digest = hashlib.sha256(str(text).encode("utf-8")).digest()
    return Markup(f"'sha256-{base64.b64encode(digest).decode('ascii')}'")


def tex_number(text: str) -> str:
    """A formatted number ready for LaTeX (negative numbers get brackets so -x^2 stays clear)."""
    return f"({text})" if text.startswith(("-", MINUS)) else text


# ---------------------------------------------------------------- code

def source_code(qualified: str) -> tuple[str, str]:
    """The source of an engine function, read from its file at build time: (file, highlighted HTML)."""
    function = engine_function(qualified)
    module = inspect.getmodule(function)
    return f"engine/{Path(module.__file__).name}", highlighted(inspect.getsource(function))


def highlighted(code: str) -> str:
    """Python source as highlighted HTML, in one line, its block reachable by keyboard."""
    html = highlight(code, PythonLexer(), HtmlFormatter(cssclass="highlight", wrapcode=True))
    # One line of HTML, so the Markdown around it cannot end the block at a blank line.
    return html.strip().replace("\n", "&#10;").replace("<pre>", '<pre tabindex="0">', 1)


def engine_function(qualified) -> object:
    """The function `engine.<module>.<name>` of the project's engine, and nothing else.

    Only a module that is a file in engine/ is imported: importing any module by name runs its code.
    """
    match = ENGINE_FUNCTION.fullmatch(qualified) if isinstance(qualified, str) else None
    if match is None or not (ENGINE / f"{match.group(1)}.py").is_file():
        raise jinja2.TemplateRuntimeError(
            f"code() shows a function of the engine: expected 'engine.<module>.<function>' with a file "
            f"engine/<module>.py, got {qualified!r}")
    module_name, name = f"engine.{match.group(1)}", match.group(2)
    function = getattr(importlib.import_module(module_name), name, None)
    if not inspect.isfunction(function) or function.__module__ != module_name:
        raise jinja2.TemplateRuntimeError(
            f"code() shows a function of the engine: expected a function defined in engine/{match.group(1)}.py, "
            f"got {qualified!r}")
    return function


def code_stylesheet() -> bytes:
    """The colours of highlighted code."""
    return HtmlFormatter(style=CODE_STYLE).get_style_defs(".highlight").encode("utf-8")


# ---------------------------------------------------------------- context

def lesson_values(run: Run) -> dict:
    """The numbers of the run that the prose and templates may use."""
    s = run.settings
    init = run.named(run.initial.params)
    final = run.named(run.final_params)
    xs = np.array([x for x, _ in s.points])
    ys = np.array([y for _, y in s.points])
    return {
        "settings": s,
        "n": len(s.points),
        "points": s.points,
        "layers": s.layers,
        "learning_rate": s.learning_rate,
        "epochs": s.epochs,
        "display_every": s.display_every,
        "param_names": run.param_names,
        "param_count": len(run.param_names),
        "init": init,
        "init_grads": run.named(run.initial.grads),
        "init_loss": run.initial.loss,
        "init_pred": predict(s.network, run.initial.params, xs).tolist(),
        "final": {"params": final, "loss": run.final_loss,
                  "pred": predict(s.network, run.final_params, xs).tolist()},
        "last_epoch_loss": run.losses[-1],
        "snapshots": run.snapshots,
        "frame_count": len(run.snapshots),
        "fit_xs": xs[ys >= 0.5].tolist(),
        "fail_xs": xs[ys < 0.5].tolist(),
        "bump_data": is_bump(xs, ys),
        "loss_at": lambda epoch: run.losses[epoch - 1],
        # The first epoch whose loss is below a level (None if none is): where the loss curve crosses it.
        "first_below": lambda level: next((e for e, loss in enumerate(run.losses, start=1) if loss < level), None),
        "sigmoid": lambda z: float(sigmoid(z)),
        "random_init": s.init_random,
        "flat_loss": float(np.mean((ys - ys.mean()) ** 2)),   # the best a constant prediction can do
        "fits_all": misclassified(run) == 0,
        "script_file": SCRIPT_FILE,
        # The first epoch whose loss is above the one before (a step that overshot), if any.
        "first_rise": next((e for e in range(2, len(run.losses) + 1) if run.losses[e - 1] > run.losses[e - 2]), None),
    }


def is_bump(xs: np.ndarray, ys: np.ndarray) -> bool:
    """Whether the data, read from the smallest size up, go "does not fit", "fits", "does not fit" (the lesson's
    bump: each of the three stretches at least one point, a label of 0.5 or more fitting)."""
    fits = ys[np.argsort(xs, kind="stable")] >= 0.5
    runs = [bool(fit) for k, fit in enumerate(fits) if k == 0 or fit != fits[k - 1]]
    return runs == [False, True, False]


def misclassified(run: Run) -> int:
    """How many points the trained network puts on the wrong side of 0.5."""
    xs, ys = np.asarray(run.settings.points, dtype=float).T
    return int(np.sum((predict(run.settings.network, run.final_params, xs) >= 0.5) != (ys >= 0.5)))


def alt_texts(run: Run, strings: dict, lang: str) -> dict[str, str]:
    """Alt text for each figure, written from the run's numbers."""
    v = lesson_values(run)
    fit, fail = v["fit_xs"], v["fail_xs"]
    fit_lo, fit_hi = (sig(min(fit), 3), sig(max(fit), 3)) if fit else ("-", "-")
    xs_curve = np.linspace(min(x for x, _ in run.settings.points), max(x for x, _ in run.settings.points), 200)
    init_curve = predict(run.settings.network, run.initial.params, xs_curve)
    final_curve = predict(run.settings.network, run.final_params, xs_curve)
    common = {"n": v["n"], "fit_lo": fit_lo, "fit_hi": fit_hi, "fit_count": len(fit),
              "fail_count": len(fail), "epochs": v["epochs"], "frames": v["frame_count"],
              "first_loss": sig(run.losses[0]), "last_loss": sig(run.losses[-1]), "wrong": misclassified(run)}
    alt = strings[lang]["alt"]
    return {
        "scatter": alt["scatter"].format(**common),
        "initial": alt["initial"].format(**common, y_min=fixed(init_curve.min(), 2),
                                         y_max=fixed(init_curve.max(), 2), loss=sig(run.initial.loss)),
        "final": alt["final" if v["fits_all"] else "final_stuck"].format(
            **common, y_min=fixed(final_curve.min(), 2), y_max=fixed(final_curve.max(), 2),
            loss=sig(run.final_loss)),
        "loss": alt["loss"].format(**common, flat=sig(v["flat_loss"])),
        "animation": alt["animation"].format(**common),
        "hidden": alt["hidden" if v["fits_all"] else "hidden_stuck"].format(
            **common, units=run.settings.layers[1],
            hidden_desc=alt["unit_join"].join(hidden_units(run, run.final_params, alt))),
        "hidden-start": alt["hidden_start"].format(
            **common, units=run.settings.layers[1], y_min=fixed(init_curve.min(), 2), y_max=fixed(init_curve.max(), 2),
            hidden_desc=alt["unit_join"].join(hidden_units(run, run.initial.params, alt))),
    }


def hidden_units(run: Run, params, alt: dict) -> list[str]:
    """Describe each first-layer unit at these parameters: where its sigmoid switches, and which way."""
    named = run.named(params)
    lo, hi = min(x for x, _ in run.settings.points), max(x for x, _ in run.settings.points)
    described = []
    for j in range(1, run.settings.layers[1] + 1):
        w, b = named[str(Param.weight(1, j, 1))], named[str(Param.bias(j, 1))]
        name = f"a⁽¹⁾{chr(0x2080 + j)}"
        at = -b / w if w != 0 else float("inf")   # sigma(w x + b) = 1/2 where w x + b = 0
        if not lo <= at <= hi:
            described.append(alt["unit_flat"].format(name=name))
        else:
            described.append(alt["unit_rises" if w > 0 else "unit_falls"].format(name=name, at=fixed(at, 2)))
    return described


def starts_alt(run: Run, others: list[tuple[int, Run]], strings: dict, lang: str) -> str:
    """Alt text of the comparison of starts, with every final loss."""
    return strings[lang]["alt"]["starts"].format(
        count=1 + len(others), epochs=run.settings.epochs, loss=sig(run.final_loss),
        others=", ".join(sig(other.final_loss) for _, other in others))


# ---------------------------------------------------------------- the prose's sandbox

MAX_ITEMS = 1_000_000       # characters or items of one value the prose builds with * (a lesson needs a few)
MAX_DIGITS = 4_300          # digits of a whole number: the most Python will print
# Methods whose result can be many times larger than the text they are called on.
GROWING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "replace", "join", "translate",
                             "format", "format_map", "to_bytes"})
# Filters and globals of that kind that the prose has no use for.
GROWING = ("center", "indent", "wordwrap", "urlize", "pprint", "xmlattr", "urlencode", "tojson", "lipsum")
# The objects whose methods the prose may call; of the lesson's own objects it reads only data.
METHOD_OWNERS = (str, int, float, list, tuple, dict, set, frozenset, LoopContext, Namespace, Cycler, Joiner,
                 TemplateModule, TemplateReference)


def digits(number: int) -> int:
    """About how many decimal digits a whole number has (from its bits: quick for any size)."""
    return abs(number).bit_length() * 3 // 10 + 1


def check_binop(operator: str, left, right) -> None:
    """Refuse `left * right` or `left ** right` if the result would be huge, before Python computes it."""
    if not (isinstance(left, int) or isinstance(right, int)):
        return
    if operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        size, limit, unit = digits(left) * right, MAX_DIGITS, "digits"
    elif operator == "*" and isinstance(left, int) and isinstance(right, int):
        size, limit, unit = digits(left) + digits(right), MAX_DIGITS, "digits"
    elif operator == "*":
        count, sequence = (left, right) if isinstance(left, int) else (right, left)
        size, limit, unit = len(sequence) * max(count, 0) if hasattr(sequence, "__len__") else 0, MAX_ITEMS, "items"
    else:
        return
    if size > limit:
        raise SecurityError(f"{operator} would make a value of about {size:,} {unit}; the prose may make at most "
                            f"{limit:,}")


class ProseEnvironment(ImmutableSandboxedEnvironment):
    """Jinja for the prose: the lesson's values and helpers, and no way to Python's internals or to change a value.

    On top of Jinja's immutable sandbox, the lesson's objects show their data but not their methods, and the
    quick ways to a huge value (`*`, `**`, padding and joining methods) are refused. The time and memory a
    hostile template can take by other means (nested loops, text doubled again and again) are not counted:
    the Pages workflow has a time limit.
    """

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, **options):
        super().__init__(**options)
        for name in GROWING:
            self.filters.pop(name, None)
            self.globals.pop(name, None)

    def is_safe_attribute(self, obj, attr: str, value) -> bool:
        """Methods only of plain values (text, numbers, lists) and Jinja's helpers, and none that blow text up."""
        if callable(value) and not isinstance(obj, METHOD_OWNERS):
            return False
        if attr in GROWING_METHODS and isinstance(obj, (str, int)):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value):
        """No str.format for the prose (a width can make a huge text): Jinja would hand it out before asking
        is_safe_attribute; the format filter does the same job."""
        return None

    def call_binop(self, context, operator: str, left, right):
        """`*` and `**`, refused before they are computed if the result would be huge."""
        check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)


class ContentLoader(jinja2.BaseLoader):
    """Templates of the prose: files of the content folder only, read by read_content."""

    def __init__(self, content: Path):
        self.content = content

    def get_source(self, environment, template: str):
        """The source of a file of the content folder (include, import and extends come here)."""
        try:
            path = self.content.joinpath(*split_template_path(template))
        except jinja2.TemplateNotFound:   # a name with '..'
            raise jinja2.TemplateNotFound(template, f"expected the name of a file inside the content folder, "
                                                    f"got {template!r}") from None
        if not path.exists() and not path.is_symlink():
            raise jinja2.TemplateNotFound(template, f"{path}: no such file")
        try:
            source = read_content(self.content, path)
        except ContentError as err:
            raise jinja2.TemplateError(str(err)) from None   # not TemplateNotFound: `ignore missing` must not hide it
        return source, str(path), lambda: True   # a renderer lives for one build


def plain_values(value):
    """Values the prose hands to a partial, with its Markup made plain text again (the partial escapes it)."""
    if isinstance(value, Markup):
        return str(value)
    if isinstance(value, (list, tuple)):
        return type(value)(plain_values(item) for item in value)
    if isinstance(value, dict):
        return {key: plain_values(item) for key, item in value.items()}
    return value


# ---------------------------------------------------------------- raw HTML in the prose

# Tags and attributes the prose may write by hand: tables (Markdown's cannot span columns or hold
# a caption), inline emphasis and code, a foldable details block, links. Nothing that loads,
# runs, redirects, styles freely or submits (script, style, meta, link, iframe, img, form, svg...).
ALLOWED_TAGS = frozenset({"table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td", "div", "span", "p",
                          "br", "code", "kbd", "em", "strong", "sub", "sup", "abbr", "details", "summary", "a"})
ALLOWED_ATTRIBUTES = {"*": {"class", "id", "lang", "title"}, "th": {"colspan", "rowspan", "scope", "style"},
                      "td": {"colspan", "rowspan", "style"}, "a": {"href"}, "details": {"open"}}
# What each attribute may hold, and how to say it. style: only the alignment Markdown's own tables write.
ATTRIBUTE_VALUES = {
    "class": (re.compile(r"[A-Za-z0-9_ -]*"), "class names of letters, digits, - and _"),
    "id": (re.compile(r"[a-z0-9][a-z0-9-]*"), "an anchor of a-z, 0-9 and -"),
    "lang": (re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]+)*"), "a language code such as zh-Hans"),
    "title": (re.compile(r"[^\x00-\x08\x0b\x0e-\x1f]*"), "plain text"),
    "colspan": (re.compile(r"[1-9][0-9]{0,2}"), "a number from 1 to 999"),
    "rowspan": (re.compile(r"[1-9][0-9]{0,2}"), "a number from 1 to 999"),
    "scope": (re.compile(r"row|col|rowgroup|colgroup"), "row, col, rowgroup or colgroup"),
    "style": (re.compile(r"text-align:\s*(left|center|right);?"), "text-align: left, center or right"),
    "open": (re.compile(r"(open)?"), "nothing or open"),
}
SAFE_SCHEMES = ("", "http", "https", "mailto")
TAG_LIKE = re.compile(r"<[A-Za-z/!?]")


class RawHtml(HTMLParser):
    """Reads the prose's raw HTML as a browser would and notes the first thing it may not hold."""

    def __init__(self):
        super().__init__(convert_charrefs=False)   # entities stay as written: &lt;meta&gt; is text
        self.problem: tuple[str, str] | None = None   # (what was refused, the text to find it by in the source)
        self.text = ""

    def refuse(self, problem: str, snippet: str) -> None:
        """Note a problem (only the first counts)."""
        self.problem = self.problem or (problem, snippet)

    def flush_text(self) -> None:
        """Text between tags may not hold a tag-like `<` the parser could not read (an unfinished tag)."""
        if TAG_LIKE.search(self.text):
            self.refuse(f"expected complete tags, got the unfinished {self.text.strip()[:40]!r}",
                        self.text.strip()[:40])
        self.text = ""

    def handle_data(self, data: str) -> None:
        self.text += data

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.flush_text()
        written = self.get_starttag_text()
        if tag not in ALLOWED_TAGS:
            self.refuse(f"expected a tag among {', '.join(sorted(ALLOWED_TAGS))}, got <{tag}>", written)
            return
        allowed = ALLOWED_ATTRIBUTES["*"] | ALLOWED_ATTRIBUTES.get(tag, set())
        for name, value in attrs:
            if name not in allowed:
                self.refuse(f"expected attributes of <{tag}> among {', '.join(sorted(allowed))}, got {name}", written)
            elif name == "href":
                self.check_href(value or "", written)
            elif not ATTRIBUTE_VALUES[name][0].fullmatch(value or ""):
                self.refuse(f"expected {name} to be {ATTRIBUTE_VALUES[name][1]}, got {name}={value!r}", written)

    def check_href(self, href: str, written: str) -> None:
        """A link's address: a page, an anchor, or http(s) and mail; no script and nothing hidden in it."""
        cleaned = re.sub(r"[\x00-\x20]", "", href)   # browsers drop these from addresses
        parts = split_url(cleaned.lower())
        if "\x02" in href or parts is None or parts.scheme not in SAFE_SCHEMES:
            self.refuse(f"expected href to be a relative, http(s) or mailto address, got href={href!r}", written)

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self.flush_text()
        if tag not in ALLOWED_TAGS:
            self.refuse(f"expected a tag among {', '.join(sorted(ALLOWED_TAGS))}, got </{tag}>", f"</{tag}")

    def handle_comment(self, data: str) -> None:
        # A browser ends a comment at <!--> , <!---> and --!> too: what follows would be live HTML.
        self.flush_text()
        if data.startswith((">", "->")) or "--!>" in data:
            self.refuse(f"expected an HTML comment <!-- ... -->, got {'<!--' + data[:40]!r}", f"<!--{data[:20]}")

    def handle_decl(self, decl: str) -> None:
        self.refuse(f"expected tags and comments, got {'<!' + decl[:40]!r}", f"<!{decl[:20]}")

    def handle_pi(self, data: str) -> None:
        self.refuse(f"expected tags and comments, got {'<?' + data[:40]!r}", f"<?{data[:20]}")

    def unknown_decl(self, data: str) -> None:
        self.refuse(f"expected tags and comments, got {'<![' + data[:40]!r}", f"<![{data[:20]}")

    def handle_entityref(self, name: str) -> None:
        self.flush_text()

    def handle_charref(self, name: str) -> None:
        self.flush_text()


def html_problem(html: str) -> tuple[str, str] | None:
    """What a piece of the prose's raw HTML may not hold, if anything: (problem, text to find it by)."""
    parser = RawHtml()
    parser.feed(html)
    parser.close()
    parser.flush_text()
    return parser.problem


def split_url(url: str):
    """The parts of an address, or None if it cannot be read as one."""
    try:
        return urlsplit(url)
    except ValueError:   # such as a bad [IPv6] host
        return None


def image_problem(src: str, lang: str) -> str | None:
    """Why a Markdown image may not be shown, if it may not: it must be a file of the site."""
    parts = split_url(src)
    # The page is <lang>/index.html; a browser reads %2e%2e as .. too.
    inside = posixpath.normpath(posixpath.join(lang, unquote(parts.path))) if parts else ".."
    if parts is None or parts.scheme or parts.netloc or src.startswith(("/", "\\")) or "\\" in src \
            or inside.startswith(".."):
        return f"expected an image of the site (a relative path such as ../figures/scatter.png), got {src!r}"
    return None


def source_line(source: str, snippet: str) -> int | None:
    """The line of the prose's source that holds `snippet`, if it is there as written."""
    index = source.find(snippet) if snippet else -1
    return source.count("\n", 0, index) + 1 if index >= 0 else None


def walk_tokens(tokens):
    """Every Markdown token, the inline ones included."""
    for token in tokens:
        yield token
        yield from walk_tokens(token.children or [])


def markdown_problem(tokens, lang: str) -> tuple[str, str] | None:
    """The first thing in the prose's Markdown that the site may not show: (problem, text to find it by)."""
    for token in walk_tokens(tokens):
        if token.type in ("html_block", "html_inline"):
            found = html_problem(token.content)
            if found:
                return (f"raw HTML: {found[0]}", found[1])
        elif token.type == "image":
            src = token.attrGet("src") or ""
            found = image_problem(src, lang)
            if found:
                return (found, src)
        elif token.type == "math_block_label" and not re.fullmatch(r"[a-z0-9][a-z0-9-]*", token.info):
            return (f"expected a formula label of a-z, 0-9 and -, got {token.info!r}", token.info)
    return None


class HeldHtml:
    """Trusted HTML the prose asked for (partials, formulas, code), kept out of its Markdown and the HTML check."""

    TOKEN = re.compile(r"\x02HTML(\d+)\x03")
    PARAGRAPH = re.compile(r"<p>\x02HTML(\d+)\x03</p>")

    def __init__(self):
        self.pieces: list[str] = []

    def hold(self, html: Markup) -> Markup:
        """A placeholder for `html`, for the prose to place."""
        self.pieces.append(str(html))
        return Markup(f"\x02HTML{len(self.pieces) - 1}\x03")

    def piece(self, match: re.Match) -> str:
        """The HTML behind a placeholder (a forged one stays as it is)."""
        index = int(match.group(1))
        return self.pieces[index] if index < len(self.pieces) else match.group(0)

    def put_back(self, html: str) -> str:
        """The section with its placeholders replaced; one alone in a paragraph takes the paragraph's place."""
        return self.TOKEN.sub(self.piece, self.PARAGRAPH.sub(self.piece, html))


def one_line(message: str) -> str:
    """A message as the one line build.py prints (a tag or a Jinja message may hold line breaks)."""
    return " ".join(message.splitlines())


def prose_line(err: BaseException, content: Path) -> tuple[str, int] | None:
    """The prose file and line where a rendering error arose: Jinja's traceback names template lines."""
    if isinstance(err, jinja2.TemplateSyntaxError) and err.filename and err.lineno:
        return err.filename, err.lineno
    found, tb = None, err.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if Path(name).is_relative_to(content):
            found = (name, tb.tb_lineno)
        tb = tb.tb_next
    return found


# ---------------------------------------------------------------- rendering

def heading_anchors(state) -> None:
    """Turn a heading that ends in {#id} into a heading with that id (stable in both languages)."""
    tokens = state.tokens
    for k, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        inline = tokens[k + 1]
        match = HEADING_ANCHOR.search(inline.content)
        if not match:
            continue
        token.attrSet("id", match.group(1))
        inline.content = inline.content[:match.start()]
        last = inline.children[-1] if inline.children else None
        if last is not None and last.type == "text":
            last.content = HEADING_ANCHOR.sub("", last.content)


# Where the prose's Markdown holds source, not text for readers: a sign stays TeX's and the shell's '-'.
SOURCE_TOKENS = frozenset({"code_inline", "code_block", "fence", "math_inline", "math_inline_double", "math_block",
                           "math_block_label"})


def source_signs(state) -> None:
    """Spell the minus signs of numbers the prose put into formulas and code as '-' (engine/numerals.py)."""
    for token in walk_tokens(state.tokens):
        if token.type in SOURCE_TOKENS:
            token.content = token.content.replace(MINUS, "-")


def compiled_codes(data: None, files: dict[str, bytes]) -> dict[str, types.CodeType]:
    """Compiled templates from the build cache, by template and source."""
    codes = {}
    for name, data in files.items():
        try:
            code = marshal.loads(data)
        except (EOFError, TypeError) as err:   # and ValueError, which the cache expects anyway
            raise ValueError(f"no code: {err}") from None
        if not isinstance(code, types.CodeType):
            raise ValueError("no code")
        codes[name] = code
    return codes


COMPILED = Form(None, lambda codes: (None, {name: marshal.dumps(code) for name, code in codes.items()}),
                compiled_codes)


class CompiledTemplates(jinja2.BytecodeCache):
    """Templates compiled by earlier builds, kept in the build cache (engine/cache.py), all in one entry.

    Compiling the templates is most of the rendering time: a rebuild after an
    edit compiles only what changed. Unlike the other entries, these are code
    (marshalled), so they are read only from a cache folder that is this
    user's alone; from any other, every template is compiled afresh. They are
    kept once the pages are written (`keep`), as one entry: a file each took
    a tenth of a second of a cold build.
    """

    def __init__(self, cache: Cache, kind: str = "page"):
        self.cache = cache
        # "page" or "prose": compiled by different environments, never taken for each other.
        self.key = cache.key("template", kind, importlib.util.MAGIC_NUMBER.hex())
        self.known = (cache.load(self.key, COMPILED) if only_yours(cache.folder) else None) or {}
        self.used: dict[str, types.CodeType] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        """Give the bucket the code kept for its template and source, if there is any."""
        name = f"{bucket.key}-{bucket.checksum}"
        if name in self.known:
            bucket.code = self.used[name] = self.known[name]

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        """Note the code Jinja just compiled."""
        self.used[f"{bucket.key}-{bucket.checksum}"] = bucket.code

    def keep(self) -> None:
        """Keep the code of this build's templates (only theirs: older versions of an edited one go)."""
        if self.used != self.known:
            self.cache.save(self.key, self.used, COMPILED)


class PageRenderer:
    """Renders the lesson pages of both languages into HTML strings."""

    def __init__(self, templates: Path, content: Path, run: Run, batch: MathBatch,
                 figures: dict[str, dict[str, Figure]], explained: Explained, cache: Cache | None = None):
        self.templates = templates
        self.content = content
        self.run = run
        self.batch = batch
        self.figures = figures  # lang -> figure id -> Figure
        self.sources: dict[str, tuple[str, str]] = {}   # function -> (file, highlighted source)
        self.script_parts = script_parts(run.settings)   # the lesson's script (engine/script.py), in parts
        self.script_html: dict[str, str] = {}            # part -> highlighted
        self.strings = load_strings(content)
        self.explained = explained
        # What every page may use, whatever its language: read-only, as the prose's sandbox sees it too.
        self.shared = types.MappingProxyType({**lesson_values(run), **explained.by_name(),
                                              "glossary": load_glossary(content)})
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates),
            autoescape=jinja2.select_autoescape(["html"], default_for_string=True, default=True),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            optimized=False,   # the optimiser folds constants the prose hardly has, and costs a tenth of a second
            bytecode_cache=CompiledTemplates(cache) if cache else None,
        )
        self.env.filters.update(sig=sig, fixed=fixed, plain=plain, sci=sci, tex=tex_number, column=column,
                                csp_hash=csp_hash)
        self.env.globals.update(tex_name=latex_name, zip=zip, enumerate=enumerate)
        self.prose_env = ProseEnvironment(
            loader=ContentLoader(content),
            autoescape=self.env.autoescape,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            optimized=False,
            # Prose marks heading anchors as {#id}, which is Jinja's comment syntax:
            # the prose gets other comment delimiters so the anchors pass through.
            comment_start_string="{##",
            comment_end_string="##}",
            # Apart from the templates' code: compiled prose must come from the sandbox's compiler.
            bytecode_cache=CompiledTemplates(cache, "prose") if cache else None,
        )
        self.prose_env.filters.update(sig=sig, fixed=fixed, plain=plain, sci=sci, tex=tex_number, column=column,
                                      csp_hash=csp_hash)
        self.prose_env.globals.update(tex_name=latex_name, zip=zip, enumerate=enumerate)

    # -- pieces the prose can call

    def math(self, tex: str, page: str, display: bool = False) -> Markup:
        """A formula placeholder for templates (Temml fills it in later); a number's sign is TeX's '-'."""
        return Markup(self.batch.add(tex.replace(MINUS, "-"), display, page))

    def formula(self, formula_id: str, which: str, page: str) -> Markup:
        """A displayed formula of the engine's set, by id: its symbolic or numeric form."""
        formulas = self.explained.formulas
        if not isinstance(formula_id, str) or formula_id not in formulas:
            raise jinja2.TemplateRuntimeError(f"formula(): expected a formula id among {', '.join(formulas)}, "
                                              f"got {formula_id!r}")
        if which not in ("symbolic", "numeric"):
            raise jinja2.TemplateRuntimeError(f"formula(): expected 'symbolic' or 'numeric', got {which!r}")
        tex = getattr(formulas[formula_id], which)
        return Markup(f'<div class="math-display" id="eq-{formula_id}-{which}" data-formula="{formula_id}">'
                      f'{self.batch.add(tex, True, page)}</div>')

    def partial(self, name: str, lang: str, page: str, **values) -> Markup:
        """Render a template from templates/partials with the page's context."""
        template = self.env.get_template(f"partials/{name}.html")
        return Markup(template.render(**self.page_context(lang, page), **values).strip())

    def prose_partial(self, name: str, lang: str, page: str, **values) -> Markup:
        """A partial the prose asks for: one of templates/partials, with the prose's values as plain text."""
        known = sorted(path.stem for path in (self.templates / "partials").glob("*.html"))
        if name not in known:
            raise jinja2.TemplateRuntimeError(f"partial(): expected a partial among {', '.join(known)}, got {name!r}")
        return self.partial(name, lang, page, **plain_values(values))

    def page_context(self, lang: str, page: str, root: str = "../") -> dict:
        """Everything a template on this page may use; `root` leads from the page to the site root."""
        return {
            **self.shared,
            "lang": lang,
            "root": root,
            "t": self.strings[lang],
            "figures": self.figures[lang],
            "math": lambda tex, display=False: self.math(tex, page, display),
            "partial": lambda name, **values: self.partial(name, lang, page, **values),
            "formula": lambda formula_id, which="numeric": self.formula(formula_id, which, page),
            "code": lambda qualified: self.code(qualified, lang),
            "script": lambda part: self.script(part, lang),
        }

    def prose_context(self, lang: str, page: str, held: HeldHtml) -> dict:
        """What the prose may use: the page's context, with the HTML of partials, formulas and code held back."""
        return {
            **self.page_context(lang, page),
            "partial": lambda name, **values: held.hold(self.prose_partial(name, lang, page, **values)),
            "formula": lambda formula_id, which="numeric": held.hold(self.formula(formula_id, which, page)),
            "code": lambda qualified: held.hold(self.code(qualified, lang)),
            "script": lambda part: held.hold(self.script(part, lang)),
        }

    def code(self, qualified: str, lang: str) -> Markup:
        """An engine function's source, highlighted, with the file it comes from."""
        if not isinstance(qualified, str) or qualified not in self.sources:   # both languages show the same ones
            self.sources[qualified] = source_code(qualified)
        file, html = self.sources[qualified]
        name = qualified.rpartition(".")[2]
        caption = escape(self.strings[lang]["code_caption"].format(file=file, name=f"{name}()"))
        return Markup(f'<figure class="code" id="code-{name}"><figcaption><code>{caption}</code></figcaption>'
                      f"{html}</figure>")

    def script(self, part: str, lang: str) -> Markup:
        """One part of the lesson's script (engine/script.py), highlighted, with its lines in the file."""
        parts = self.script_parts
        if not isinstance(part, str) or part not in parts:
            raise jinja2.TemplateRuntimeError(f"script(): expected a part among {', '.join(parts)}, got {part!r}")
        if part not in self.script_html:   # both languages show the same code
            self.script_html[part] = highlighted(parts[part])
        first, last = line_ranges(parts)[part]
        caption = escape(self.strings[lang]["script_caption"]).format(
            file=Markup(f"<code>{escape(SCRIPT_FILE.rpartition('/')[2])}</code>"), first=first, last=last)
        return Markup(f'<figure class="code" id="code-script-{part}"><figcaption>{caption}</figcaption>'
                      f"{self.script_html[part]}</figure>")

    def markdown(self, page: str) -> MarkdownIt:
        """A CommonMark parser whose formulas go to the math batch."""
        md = MarkdownIt("commonmark", {"html": True, "typographer": False})
        md.use(dollarmath_plugin, allow_space=True, double_inline=True)
        md.enable("table")
        fence = md.renderer.rules["fence"]
        # A code block may scroll sideways, so it must be reachable by keyboard.
        md.add_render_rule("fence", lambda r, tokens, idx, options, env: fence(tokens, idx, options, env)
                           .replace("<pre>", '<pre tabindex="0">', 1))
        md.core.ruler.push("heading_anchors", heading_anchors)
        md.core.ruler.push("source_signs", source_signs)
        md.add_render_rule("table_open", lambda *_: '<div class="table-wrap"><table class="data-table">\n')
        md.add_render_rule("table_close", lambda *_: "</table></div>\n")
        md.add_render_rule("math_inline", lambda _renderer, tokens, idx, *_: self.batch.add(tokens[idx].content, False, page))
        md.add_render_rule("math_inline_double",
                           lambda _renderer, tokens, idx, *_: self.batch.add(tokens[idx].content, True, page))
        md.add_render_rule(
            "math_block",
            lambda _renderer, tokens, idx, *_: f'<div class="math-display">{self.batch.add(tokens[idx].content, True, page)}</div>\n',
        )
        md.add_render_rule(
            "math_block_label",
            lambda _renderer, tokens, idx, *_: (
                f'<div class="math-display" id="{tokens[idx].info}">'
                f'{self.batch.add(tokens[idx].content, True, page)}</div>\n'
            ),
        )
        return md

    def section(self, lang: str, number: str, section_id: str, path: Path) -> Section:
        """Render one section file: Jinja first (numbers), then Markdown (text and math)."""
        page = f"{lang}/index.html ({path.name})"
        source = read_content(self.content, path)
        if not source.startswith("# "):
            raise ContentError(f"{path}: the first line must be '# Title'")
        held = HeldHtml()
        try:
            template = self.prose_env.get_template(path.relative_to(self.content).as_posix())
            first, _, filled = template.render(**self.prose_context(lang, page, held)).partition("\n")
        except jinja2.TemplateError as err:
            raise ContentError(one_line(f"{self.where(err, path)}: {err.message or type(err).__name__}")) from None
        except (ArithmeticError, LookupError, TypeError, ValueError, RecursionError) as err:
            raise ContentError(one_line(f"{self.where(err, path)}: {type(err).__name__}: {err}")) from None
        md = self.markdown(page)
        tokens = md.parse(filled)
        problem = markdown_problem(tokens, lang)
        if problem:
            line = source_line(source, problem[1])
            raise ContentError(one_line(f"{path}:{line}: {problem[0]}" if line else f"{path}: {problem[0]}"))
        html = held.put_back(md.renderer.render(tokens, md.options, {}))
        # The punctuation after a formula stays on the formula's line (a browser may break after a <math>
        # even before a word joiner).
        html = MATH_THEN_PUNCTUATION.sub('<span class="math-then">\\1\\2</span>', html)
        self.batch.send()   # Temml renders this section's formulas while the next one is written
        return Section(section_id, number, first[2:].strip(), html)

    def where(self, err: BaseException, path: Path) -> str:
        """Where in the prose an error arose: file:line, or the section's file."""
        found = prose_line(err, self.content)
        return f"{found[0]}:{found[1]}" if found else str(path)

    def lesson(self, lang: str) -> str:
        """The whole lesson in one language."""
        sections = [self.section(lang, number, sid, path) for number, sid, path in section_files(self.content, lang)]
        template = self.env.get_template("lesson.html")
        return template.render(**self.page_context(lang, f"{lang}/index.html"),
                               sections=[s for s in sections if not s.appendix],
                               appendices=[s for s in sections if s.appendix],
                               other=[code for code in LANGS if code != lang][0],
                               strings=self.strings)

    def index(self) -> str:
        """The entry page: pick a language, watch the animation."""
        context = self.page_context("zh", "index.html", root="")
        return self.env.get_template("index.html").render(
            **context, strings=self.strings, langs=LANGS,
            animation={lang: self.figures[lang]["animation"] for lang in LANGS})

    def not_found(self) -> str:
        """The 404 page: self-contained, so it works at any depth of the site."""
        return self.env.get_template("404.html").render(strings=self.strings, langs=LANGS)

    def keep_compiled(self) -> None:
        """Keep the templates compiled for these pages in the build cache, for the next build."""
        for env in (self.env, self.prose_env):
            if env.bytecode_cache is not None:
                env.bytecode_cache.keep()
