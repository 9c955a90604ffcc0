"""Read the experiment's settings once and check them.

The settings live in `content/lesson.toml` (sections `data`, `network`, `init`,
`train`, and the optional `site`); any key can be overridden from the command line with
`--set SECTION.KEY=VALUE`, where VALUE is read as TOML. Everything is validated
here, once, into frozen objects that the rest of the build trusts. A bad value
raises `SettingsError`, whose message is one line: the key, what was expected,
and what arrived.

What arrives is bounded before it is parsed: the file must be a regular file
of at most 1 MiB (a pipe or a device could block or never end), and arrays
may nest at most 20 deep (the TOML parser recurses once per level, and
Python's stack runs out long before a settings file needs it to).
"""

from __future__ import annotations

import codecs
import os
import re
import stat
import sys
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.network import Network

# What each setting means; `build.py --help` prints this table.
SETTINGS_HELP = {
    "data.points": "list of [x, y] pairs, 2 to 1000 (each is a row of the lesson's tables); x between -1e15 "
                   "and 1e15; y is the label, between 0 and 1",
    "network.layers": "nodes per layer, input first: starts and ends with 1, each 1-9 (default [1, 2, 1])",
    "init.<name>": "starting value of a parameter (between -1e15 and 1e15), named as in the lesson: w{i}{j}_{l} "
                   "(weight of layer l from node i to node j) or b{j}_{l} (bias of node j of layer l)",
    "init.random": "true: draw every parameter from a standard normal distribution (the listed values are not used)",
    "init.seed": "seed of that random draw (whole number >= 0, default 0)",
    "train.learning_rate": "step size of gradient descent, a number > 0 (default 0.5)",
    "train.epochs": "how many full passes over the data, a whole number >= 1 (default 5000)",
    "train.display_every": "a snapshot (animation frame) every this many epochs, between 1 and "
                           "train.epochs, at most 1000 frames in all (default 100)",
    "site.repository": "optional: the https URL of the lesson's source repository, linked from the page's "
                       "foot and from the appendix on rebuilding it (default: none, and no link)",
}

KNOWN_KEYS = {
    "data": {"points"},
    "network": {"layers"},
    "init": {"random", "seed"},  # plus the parameter names of the network
    "train": {"learning_rate", "epochs", "display_every"},
    "site": {"repository"},
}

MAX_EPOCHS = 1_000_000  # a few minutes of training; more is surely a typo
MAX_FRAMES = 1000       # about 10 ms and 16 KB each: the build stays near 10 s and the site near 20 MB
MAX_ABS_X = 1e15        # the figures need x +- 1 to differ from x (true below 2**53, about 9e15)
MAX_ABS_START = 1e15    # a starting weight times an x stays far from float overflow (a sigmoid is flat by 40)
MAX_POINTS = 1000       # each a row of the pages' tables; at 1,000 a build takes 3 s for a 5.5 MB site
                        # (5 min and 61 MB with MAX_EPOCHS and MAX_FRAMES, 2 min with the lesson's 12 points)
MAX_FILE_BYTES = 2**20  # 1,000 points take about 20 KB: anything near 1 MiB is not a settings file
MAX_NESTING = 20        # data.points nests 2 deep; the parser takes about 3 of Python's 1,000 frames a level
MAX_LAYERS = 6  # input, up to four hidden layers, output: the diagram stays readable
MAX_NODES = 9   # parameter names like w12_1 use one digit per node index
PARAM_NAME = re.compile(r"^(w[1-9][1-9]|b[1-9])_[1-9]$")
# An https address of a web page: a host, then a path, query or fragment without spaces, quotes or brackets.
HTTPS_URL = re.compile(r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#][!#-&(-;=?-~]*)?")
MAX_URL = 2000


class SettingsError(Exception):
    """A setting that cannot be used; str() is the one line shown to the user."""

    def __init__(self, key: str, expected: str, got: str):
        super().__init__(f"{shown_key(key)}: expected {expected}, got {got}")
        self.key = key


@dataclass(frozen=True)
class Settings:
    """The validated experiment: data, network shape, starting parameters, training."""

    points: tuple[tuple[float, float], ...]
    layers: tuple[int, ...]
    init: tuple[tuple[str, float], ...]  # every parameter, in the lesson's order
    init_random: bool
    init_seed: int
    learning_rate: float
    epochs: int
    display_every: int
    repository: str | None = None   # where the lesson's source lives, if the settings say

    @property
    def network(self) -> Network:
        """The network these settings describe."""
        return Network(self.layers)

    @property
    def initial_params(self) -> dict[str, float]:
        """The starting value of each parameter, by name."""
        return dict(self.init)

    def as_dict(self) -> dict[str, Any]:
        """The resolved settings as plain data, in the shape of lesson.toml (`site` only if it says something)."""
        site = {"site": {"repository": self.repository}} if self.repository else {}
        return {
            "data": {"points": [list(p) for p in self.points]},
            "network": {"layers": list(self.layers)},
            "init": {"random": self.init_random, "seed": self.init_seed, **dict(self.init)},
            "train": {
                "learning_rate": self.learning_rate,
                "epochs": self.epochs,
                "display_every": self.display_every,
            },
            **site,
        }


def with_random_init(settings: Settings, seed: int) -> Settings:
    """The same experiment started from parameters drawn at random with `seed`."""
    _, _, values = validate_init({"random": True, "seed": seed}, settings.network)
    return replace(settings, init=values, init_random=True, init_seed=seed)


def load(path: Path, overrides: list[str] = ()) -> Settings:
    """Read the settings file, apply `--set` overrides, and validate the result."""
    raw = read_file(path)
    for item in overrides:
        key, value = parse_override(item)
        section, _, name = key.partition(".")
        table = raw.setdefault(section, {})
        if not isinstance(table, dict):
            raise SettingsError(section, "a table of settings", describe(table))
        table[name] = value
    return validate(raw)


def read_file(path: Path) -> dict[str, Any]:
    """Parse the TOML settings file, naming the file and line on failure."""
    where = shown_path(path)
    text = read_text(Path(path), where)
    check_nesting("--config", text, f"{where}: ")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SettingsError("--config", "valid TOML", f"{where}: {err}") from None
    except ValueError:  # an integer longer than Python converts (sys.get_int_max_str_digits)
        raise SettingsError("--config", f"whole numbers of at most {sys.get_int_max_str_digits()} digits",
                            f"{where}: a longer one") from None


def read_text(path: Path, where: str) -> str:
    """The text of a regular UTF-8 file of at most MAX_FILE_BYTES; nothing that could block or never end."""
    try:
        refuse_unless_regular(os.stat(path).st_mode, where)  # before opening it: opening a pipe waits for a writer
        # O_NONBLOCK: should a pipe take the file's place meanwhile, opening that does not wait either.
        with open(path, "rb", opener=lambda name, flags: os.open(name, flags | os.O_NONBLOCK)) as file:
            opened = os.fstat(file.fileno())
            refuse_unless_regular(opened.st_mode, where)
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise SettingsError("--config", "a readable settings file", f"{where}: {err.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise SettingsError("--config", f"a settings file of at most {MAX_FILE_BYTES // 2**20} MiB",
                            f"{where}, {max(opened.st_size, len(data)):,} bytes")
    if data.startswith(codecs.BOM_UTF8):
        raise SettingsError("--config", "UTF-8 text without a byte order mark", f"{where}, which starts with one")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise SettingsError("--config", "a UTF-8 text file",
                            f"{where}: byte 0x{data[err.start]:02x} on line {line} is not UTF-8") from None


FILE_KINDS = [(stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
              (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")]


def refuse_unless_regular(mode: int, where: str) -> None:
    """Refuse a folder, pipe, device or socket as the settings file, naming what it is."""
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in FILE_KINDS if test(mode)), "not a regular file")
        raise SettingsError("--config", "a regular file", f"{where}, {kind}")


def parse_override(item: str) -> tuple[str, Any]:
    """Split `SECTION.KEY=VALUE` and read VALUE as one TOML value (anything else stays text)."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep:
        raise SettingsError("--set", "SECTION.KEY=VALUE", describe(item))
    section, dot, name = key.partition(".")
    if not dot or not section or not name or "." in name:
        raise SettingsError("--set", "a key of the form SECTION.KEY", describe(key))
    check_nesting(key, text)
    try:
        table = tomllib.loads(f"value = {text}")
    except tomllib.TOMLDecodeError:
        table = {}
    except ValueError:  # an integer longer than Python converts (sys.get_int_max_str_digits)
        raise SettingsError(key, f"a number of at most {sys.get_int_max_str_digits()} digits",
                            describe(text.strip())) from None
    # `5000\nfoo=1` is TOML too, with a second key: only exactly one value counts. No setting is
    # text, so the text that is not one value is then named by the check of the key it was for.
    return key, table["value"] if list(table) == ["value"] else text.strip()


# The parts of TOML text in which a bracket nests nothing: strings (four kinds) and comments. A
# string without its closing quotes runs to the end of its line or of the text (the parser then
# says what is wrong), so that no quote is scanned from twice.
TOML_BRACKET = re.compile(r'''
    "{3}(?:[^"\\]|\\[\s\S]|"{1,2}(?!"))*(?:"{3,5})?   # multi-line basic string
  | '{3}(?:[^']|'{1,2}(?!'))*(?:'{3,5})?             # multi-line literal string
  | "(?:[^"\\\n]|\\.)*"?                             # basic string
  | '[^'\n]*'?                                       # literal string
  | \#[^\n]*                                         # comment
  | [\[\]{}]                                         # a bracket that nests
  ''', re.VERBOSE)


def check_nesting(key: str, text: str, where: str = "") -> None:
    """Refuse TOML text whose arrays and inline tables nest more than MAX_NESTING deep, before it is parsed."""
    depth = deepest = 0
    for token in TOML_BRACKET.finditer(text):
        if token.group() in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token.group() in ("]", "}"):
            depth -= 1
    if deepest > MAX_NESTING:
        raise SettingsError(key, f"arrays and tables nested at most {MAX_NESTING} deep", f"{where}{deepest} deep")


def validate(raw: dict[str, Any]) -> Settings:
    """Check every section and key and build the frozen Settings."""
    for section, table in raw.items():
        if section not in KNOWN_KEYS:
            raise SettingsError(section, f"one of the sections {', '.join(KNOWN_KEYS)}", "an unknown section")
        if not isinstance(table, dict):
            raise SettingsError(section, "a table of settings", describe(table))
    data, network, init, train, site = (raw.get(s, {}) for s in KNOWN_KEYS)
    for section, table in (("data", data), ("network", network), ("train", train), ("site", site)):
        for key in table:
            if key not in KNOWN_KEYS[section]:
                known = ", ".join(sorted(KNOWN_KEYS[section]))
                raise SettingsError(f"{section}.{key}", f"one of the keys {known}", "an unknown key")

    points = validate_points(data.get("points"))
    layers = validate_layers(network.get("layers"))
    epochs = whole_number("train.epochs", train.get("epochs"), minimum=1)
    if epochs > MAX_EPOCHS:
        raise SettingsError("train.epochs", f"at most {MAX_EPOCHS:,}", describe(epochs))
    display_every = whole_number("train.display_every", train.get("display_every"), minimum=1)
    if display_every > epochs:
        raise SettingsError("train.display_every", f"at most train.epochs ({epochs})", describe(display_every))
    if frame_count(epochs, display_every) > MAX_FRAMES:
        fewest = next(every for every in range(max(1, epochs // MAX_FRAMES), epochs + 1)
                      if frame_count(epochs, every) <= MAX_FRAMES)
        raise SettingsError("train.display_every", f"at least {fewest}, so that {epochs} epochs make at most "
                            f"{MAX_FRAMES} animation frames", str(display_every))
    learning_rate = number("train.learning_rate", train.get("learning_rate"))
    if learning_rate <= 0:
        raise SettingsError("train.learning_rate", "a number > 0", repr(learning_rate))
    init_random, init_seed, init_values = validate_init(init, Network(layers))
    repository = validate_repository(site.get("repository"))
    return Settings(points, layers, init_values, init_random, init_seed, learning_rate, epochs, display_every,
                    repository)


def validate_repository(value: Any) -> str | None:
    """Check the optional address of the lesson's repository: an https URL that a link can carry as it is."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_URL or not HTTPS_URL.fullmatch(value):
        raise SettingsError("site.repository", "an https URL such as https://github.com/USER/REPO", describe(value))
    return value


def validate_points(value: Any) -> tuple[tuple[float, float], ...]:
    """Check the data: 2 to MAX_POINTS [x, y] pairs with y in [0, 1]."""
    if not isinstance(value, list):
        raise SettingsError("data.points", "a list of [x, y] pairs", describe(value))
    if len(value) < 2:
        raise SettingsError("data.points", "at least 2 points", f"{len(value)}")
    if len(value) > MAX_POINTS:
        raise SettingsError("data.points", f"at most {MAX_POINTS:,} points (each is a row of the lesson's tables)",
                            f"{len(value):,}")
    points = []
    for k, point in enumerate(value):
        key = f"data.points[{k}]"
        if not isinstance(point, list) or len(point) != 2:
            raise SettingsError(key, "a pair [x, y]", describe(point))
        x = number(key + " x", point[0], -MAX_ABS_X, MAX_ABS_X)
        y = number(key + " y", point[1], 0, 1, "a label between 0 and 1")
        points.append((x, y))
    return tuple(points)


def validate_layers(value: Any) -> tuple[int, ...]:
    """Check the network shape: one input, one output, 1-9 nodes per layer."""
    expected = f"a list of 2 to {MAX_LAYERS} node counts that starts and ends with 1"
    if not isinstance(value, list) or not 2 <= len(value) <= MAX_LAYERS:
        raise SettingsError("network.layers", expected, describe(value))
    layers = tuple(whole_number(f"network.layers[{k}]", n, minimum=1) for k, n in enumerate(value))
    if layers[0] != 1 or layers[-1] != 1:
        raise SettingsError("network.layers", expected, describe(value))
    if max(layers) > MAX_NODES:
        raise SettingsError("network.layers", f"at most {MAX_NODES} nodes in a layer", describe(value))
    return layers


def validate_init(init: dict[str, Any], network: Network):
    """Resolve the starting value of every parameter: as listed, or all drawn at random."""
    names = network.param_names
    random = init.get("random", False)
    if not isinstance(random, bool):
        raise SettingsError("init.random", "true or false", describe(random))
    seed = whole_number("init.seed", init.get("seed", 0), minimum=0)
    for key, value in init.items():
        if key in KNOWN_KEYS["init"]:
            continue
        # With a random start the listed values are not used, so they may name
        # parameters of another shape of network; they must still look like names.
        if key not in names and not (random and PARAM_NAME.match(key)):
            raise SettingsError(
                f"init.{key}",
                f"random, seed or a parameter of layers {list(network.layers)} ({', '.join(names)})",
                "an unknown key",
            )
        number(f"init.{key}", value, -MAX_ABS_START, MAX_ABS_START)
    if random:
        drawn = np.random.default_rng(seed).standard_normal(len(names))
        return random, seed, tuple(zip(names, (float(v) for v in drawn)))
    for name in names:
        if name not in init:
            raise SettingsError(f"init.{name}", "a number (or init.random = true)", "nothing")
    return random, seed, tuple((name, float(init[name])) for name in names)


def frame_count(epochs: int, every: int) -> int:
    """How many snapshots (animation frames) a run keeps: epoch 1, every `every`-th epoch and the last."""
    return epochs // every + (every > 1) + (epochs % every > 0)  # the multiples, epoch 1, the last


def number(key: str, value: Any, lowest: float = -sys.float_info.max, highest: float = sys.float_info.max,
           expected: str = "") -> float:
    """Check that a value is a number from lowest to highest (any float by default) and return it as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(key, "a number", describe(value))
    if not lowest <= value <= highest:  # also nan; an int is compared exactly, however long (float() overflows)
        low, high = (f"{bound:.2g}".replace("e+", "e") for bound in (lowest, highest))
        raise SettingsError(key, expected or f"a number between {low} and {high}", describe(value))
    return float(value)


def whole_number(key: str, value: Any, minimum: int) -> int:
    """Check that a value is a whole number >= minimum and return it as an int."""
    expected = f"a whole number >= {minimum}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(key, expected, describe(value))
    if (isinstance(value, float) and not value.is_integer()) or value < minimum:  # is_integer(): not nan, inf
        raise SettingsError(key, expected, describe(value))
    return int(value)


def describe(value: Any) -> str:
    """Show a value that arrived where it did not belong, briefly."""
    if value is None:
        return "nothing"
    return shortened(repr(value))


def shown_key(key: str) -> str:
    """A key as typed, on one short line; quoted and escaped if it holds anything but plain ASCII,
    so that a look-alike letter, an invisible character or a line break shows."""
    return shortened(key if key.isascii() and key.isprintable() else ascii(key))


def shown_path(path: Path) -> str:
    """A file's name as given, on one line (escaped if it holds a line break or other control)."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def shortened(text: str) -> str:
    """At most 60 characters of a text."""
    return text if len(text) <= 60 else text[:57] + "..."
