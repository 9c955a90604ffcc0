"""Read the experiment's settings once and check them.

The settings live in `content/lesson.toml` (sections `data`, `network`, `init`,
`train` and `site`); any key can be overridden from the command line with
`--set SECTION.KEY=VALUE`, where VALUE is read as TOML. SETTINGS, below,
describes every setting once: the kind of value it takes, its default, its
limits and what it does. The rest follows from it: the checks, the defaults
of a settings file that leaves a key out, `build.py --help`, the warnings
about settings that change nothing (engine/strict.py) and the README's table
(tests/test_config.py keeps that in step). Everything is validated here, once,
into frozen `Settings` that the rest of the build trusts. A bad value raises
`SettingsError`, whose message is one line: the key, what was expected, and
what arrived.

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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from engine.network import Network, Param

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
# An https address of a web page: a host, then a path, query or fragment without spaces, quotes or brackets.
HTTPS_URL = re.compile(r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#][!#-&(-;=?-~]*)?")
MAX_URL = 2000


class SettingsError(Exception):
    """A setting that cannot be used; str() is the one line shown to the user."""

    def __init__(self, key: str, expected: str, got: str):
        super().__init__(f"{shown_key(key)}: expected {expected}, got {got}")
        self.key, self.expected, self.got = key, expected, got


REQUIRED = "required"  # the default of a setting that has none: the settings must give it
PARAMETERS = "<name>"  # the NAME of init.<name>: one setting for the starting values of all the parameters
KIND_NAMES = {bool: "true or false", int: "whole number", float: "number", str: "text", list: "list"}


@dataclass(frozen=True)
class Setting:
    """One setting: its key, the kind of value it takes, its default, its limits and what it does."""

    key: str                    # SECTION.NAME, as in lesson.toml
    kind: type                  # what TOML gives for it: bool, int, float, str or list
    default: Any                # what a settings file that leaves it out gets (REQUIRED: there is none)
    help: str                   # what it does, for --help and the README
    low: float | None = None    # the smallest and the largest value of an int or a float (both allowed)
    high: float | None = None
    limits: str = ""            # the limits in words, where low and high do not say them all
    check: Callable[[Setting, Any, dict], Any] | None = None   # checks what kind, low and high do not
    settings_name: str = ""     # its attribute in Settings, where that is not NAME

    @property
    def section(self) -> str:
        return self.key.partition(".")[0]

    @property
    def name(self) -> str:
        return self.key.partition(".")[2]

    @property
    def attribute(self) -> str:
        return self.settings_name or self.name

    @property
    def kind_name(self) -> str:
        return KIND_NAMES[self.kind]

    @property
    def shown_default(self) -> str:
        """The default as TOML writes it (and --set takes it); `none` for no value."""
        if self.default is REQUIRED:
            return "none (required)"
        return "none" if self.default is None else toml_text(self.default)

    @property
    def shown_limits(self) -> str:
        """The limits in words ("" for true or false)."""
        if self.limits or self.low is None:
            return self.limits
        low = shown_bound(self.low)
        return f">= {low}" if self.high is None else f"{low} to {shown_bound(self.high)}"

    def value_in(self, table: dict[str, Any], known: dict[str, Any]) -> Any:
        """This setting's value in its section's table, checked; the default if the table leaves it out.

        `known` holds the values of the settings before it in SETTINGS, which a check may need.
        """
        check = self.check or within_limits
        if self.name == PARAMETERS:   # every key that no other setting of the section names
            return check(self, {name: value for name, value in table.items()
                                if f"{self.section}.{name}" not in BY_KEY}, known)
        if self.name in table:
            return check(self, table[self.name], known)
        try:
            return check(self, None if self.default is REQUIRED else self.default, known)
        except SettingsError as err:   # no default, or one that does not fit the other settings
            note = "it has no default" if self.default is REQUIRED else "its default"
            raise SettingsError(err.key, err.expected, f"{err.got} ({note})") from None


# ------------------------------------------------------------------ the checks, kind by kind

def within_limits(setting: Setting, value: Any, known: dict | None = None, key: str = "") -> Any:
    """The value if it is of the setting's kind (bool, int or float) and within its limits (under `key`, if given)."""
    key = key or setting.key
    if setting.kind is bool:
        if not isinstance(value, bool):
            raise SettingsError(key, "true or false", describe(value))
        return value
    if setting.kind is int:
        whole = whole_number(key, value, minimum=setting.low)
        if setting.high is not None and whole > setting.high:
            raise SettingsError(key, f"at most {shown_bound(setting.high)}", describe(whole))
        return whole
    lowest = -sys.float_info.max if setting.low is None else setting.low
    highest = sys.float_info.max if setting.high is None else setting.high
    return number(key, value, lowest, highest)


def xy_pairs(setting: Setting, value: Any, known: dict) -> tuple[tuple[float, float], ...]:
    """The data: 2 to MAX_POINTS [x, y] pairs with y in [0, 1]."""
    if not isinstance(value, list):
        raise SettingsError(setting.key, "a list of [x, y] pairs", describe(value))
    if len(value) < 2:
        raise SettingsError(setting.key, "at least 2 points", f"{len(value)}")
    if len(value) > MAX_POINTS:
        raise SettingsError(setting.key, f"at most {MAX_POINTS:,} points (each is a row of the lesson's tables)",
                            f"{len(value):,}")
    pairs = []
    for k, point in enumerate(value):
        key = f"{setting.key}[{k}]"
        if not isinstance(point, list) or len(point) != 2:
            raise SettingsError(key, "a pair [x, y]", describe(point))
        x = number(key + " x", point[0], -MAX_ABS_X, MAX_ABS_X)
        y = number(key + " y", point[1], 0, 1, "a label between 0 and 1")
        pairs.append((x, y))
    return tuple(pairs)


def node_counts(setting: Setting, value: Any, known: dict) -> tuple[int, ...]:
    """The network's shape: one input, one to four hidden layers, one output, 1 to MAX_NODES nodes per layer.

    A network without a hidden layer is one sigmoid of x: it has no chain of layers for the lesson to
    take apart (and cannot draw the bump), so it is refused here rather than taught badly.
    """
    expected = f"a list of 3 to {MAX_LAYERS} node counts (input, at least one hidden layer, output) that starts and ends with 1"
    if not isinstance(value, list) or not 3 <= len(value) <= MAX_LAYERS:
        raise SettingsError(setting.key, expected, describe(value))
    counts = tuple(whole_number(f"{setting.key}[{k}]", n, minimum=1) for k, n in enumerate(value))
    if counts[0] != 1 or counts[-1] != 1:
        raise SettingsError(setting.key, expected, describe(value))
    if max(counts) > MAX_NODES:
        raise SettingsError(setting.key, f"at most {MAX_NODES} nodes in a layer", describe(value))
    return counts


def starting_values(setting: Setting, listed: dict[str, Any], known: dict) -> tuple[tuple[str, float], ...]:
    """The starting value of every parameter, in the lesson's order: as listed, or all drawn at random."""
    network, random = Network(known["network.layers"]), known["init.random"]
    names = network.param_names
    for name, value in listed.items():
        # With a random start the listed values are not used, so they may name
        # parameters of another shape of network; they must still look like names.
        if name not in names and not (random and is_param_name(name)):
            raise SettingsError(f"init.{name}", f"random, seed or a parameter of layers {list(network.layers)} "
                                f"({', '.join(names)})", "an unknown key")
        within_limits(setting, value, key=f"init.{name}")
    if random:
        return random_start(network, known["init.seed"])
    for name in names:
        if name not in listed:
            raise SettingsError(f"init.{name}", "a number (or init.random = true)", "nothing (it has no default)")
    return tuple((name, float(listed[name])) for name in names)


def is_param_name(name: str) -> bool:
    """Whether a key is written as a parameter's name (of a network of any shape)."""
    try:
        Param.parse(name)
    except ValueError:
        return False
    return True


def above_zero(setting: Setting, value: Any, known: dict) -> float:
    """A number > 0."""
    rate = within_limits(setting, value)
    if rate <= 0:
        raise SettingsError(setting.key, "a number > 0", repr(rate))
    return rate


def snapshot_interval(setting: Setting, value: Any, known: dict) -> int:
    """Epochs between snapshots: at most train.epochs, and at most MAX_FRAMES snapshots in all."""
    every, epochs = within_limits(setting, value), known["train.epochs"]
    if every > epochs:
        raise SettingsError(setting.key, f"at most train.epochs ({epochs})", describe(every))
    if frame_count(epochs, every) > MAX_FRAMES:
        fewest = next(each for each in range(max(1, epochs // MAX_FRAMES), epochs + 1)
                      if frame_count(epochs, each) <= MAX_FRAMES)
        raise SettingsError(setting.key, f"at least {fewest}, so that {epochs} epochs make at most "
                            f"{MAX_FRAMES} animation frames", str(every))
    return every


def https_url(setting: Setting, value: Any, known: dict) -> str | None:
    """An https URL that a link can carry as it is, or None."""
    if value is not None and (not isinstance(value, str) or len(value) > MAX_URL or not HTTPS_URL.fullmatch(value)):
        raise SettingsError(setting.key, "an https URL such as https://github.com/USER/REPO", describe(value))
    return value


# ------------------------------------------------------------------ every setting, once

# In this order a setting's check finds the values it needs (`known`) already checked.
SETTINGS = (
    Setting("data.points", list, REQUIRED,
            "the observations the network learns from, as [x, y] pairs: x is the size tried on, y = 1 if it "
            "fit and 0 if not (each is a row of the lesson's tables)",
            limits=f"2 to {MAX_POINTS:,} pairs, x from -1e15 to 1e15, y (the label) from 0 to 1", check=xy_pairs),
    Setting("network.layers", list, [1, 2, 1], "nodes per layer, input first; every node is a sigmoid unit",
            limits=f"3 to {MAX_LAYERS} layers (at least one hidden) of 1 to {MAX_NODES} nodes, the first and the last of 1",
            check=node_counts),
    Setting("init.random", bool, False,
            "true: draw every parameter from a standard normal distribution (listed values are not used)",
            settings_name="init_random"),
    Setting("init.seed", int, 0, "the seed of that random draw", low=0, settings_name="init_seed"),
    Setting(f"init.{PARAMETERS}", float, REQUIRED,
            "the starting value of a parameter, named as in the lesson: w{i}{j}_{l} is the weight of layer l from "
            "node i to node j, b{j}_{l} the bias of node j of layer l; every parameter of network.layers is "
            "required unless init.random = true",
            low=-MAX_ABS_START, high=MAX_ABS_START, check=starting_values, settings_name="init"),
    Setting("train.learning_rate", float, 0.5, "the step size of gradient descent", limits="> 0", check=above_zero),
    Setting("train.epochs", int, 5000, "how many full passes over the data", low=1, high=MAX_EPOCHS),
    Setting("train.display_every", int, 100,
            "a snapshot (an animation frame) at epoch 1, every this many epochs, and at the last epoch",
            low=1, limits=f"1 to train.epochs, and at most {MAX_FRAMES:,} frames in all (at least train.epochs / "
                          f"{MAX_FRAMES:,})", check=snapshot_interval),
    Setting("site.repository", str, None,
            "the https address of the lesson's source repository, linked from the page's foot and from the "
            "appendix on rebuilding it (none: no link)",
            limits=f"an https URL of at most {MAX_URL:,} characters", check=https_url, settings_name="repository"),
)
BY_KEY = {setting.key: setting for setting in SETTINGS}
SECTIONS = list(dict.fromkeys(setting.section for setting in SETTINGS))
KNOWN_KEYS = {section: {s.name for s in SETTINGS if s.section == section and s.name != PARAMETERS}
              for section in SECTIONS}


def setting_of(key: str) -> Setting | None:
    """The setting that describes SECTION.NAME (init.<name>: any other key of [init]), or None."""
    return BY_KEY.get(key) or BY_KEY.get(f"{key.partition('.')[0]}.{PARAMETERS}")


@dataclass(frozen=True)
class Settings:
    """The validated experiment: one attribute for each setting of SETTINGS."""

    points: tuple[tuple[float, float], ...]
    layers: tuple[int, ...]
    init_random: bool
    init_seed: int
    init: tuple[tuple[str, float], ...]  # every parameter, in the lesson's order
    learning_rate: float
    epochs: int
    display_every: int
    repository: str | None            # where the lesson's source lives, if the settings say
    # The keys that the settings file and --set gave, for the warnings about settings that change
    # nothing (engine/strict.py). Where a value came from is not part of the experiment: not compared.
    in_file: frozenset[str] = field(default=frozenset(), compare=False)
    on_command_line: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def network(self) -> Network:
        """The network these settings describe."""
        return Network(self.layers)

    @property
    def initial_params(self) -> dict[str, float]:
        """The starting value of each parameter, by name."""
        return dict(self.init)

    def as_dict(self) -> dict[str, Any]:
        """The resolved settings as plain data, in the shape of lesson.toml (a setting that is None left out)."""
        tables = {}
        for setting in SETTINGS:
            value = getattr(self, setting.attribute)
            if setting.name == PARAMETERS:
                tables.setdefault(setting.section, {}).update(value)
            elif value is not None:
                tables.setdefault(setting.section, {})[setting.name] = as_lists(value)
        return tables


def with_random_init(settings: Settings, seed: int) -> Settings:
    """The same experiment started from parameters drawn at random with `seed`."""
    return replace(settings, init=random_start(settings.network, seed), init_random=True, init_seed=seed)


def random_start(network: Network, seed: int) -> tuple[tuple[str, float], ...]:
    """Every parameter drawn from a standard normal distribution with `seed`, in the lesson's order."""
    drawn = np.random.default_rng(seed).standard_normal(len(network.param_names))
    return tuple(zip(network.param_names, (float(value) for value in drawn)))


def load(path: Path, overrides: list[str] = ()) -> Settings:
    """Read the settings file, apply `--set` overrides, and validate the result."""
    raw = read_file(path)
    in_file = {f"{section}.{name}" for section, table in raw.items() if isinstance(table, dict) for name in table}
    on_command_line = set()
    for item in overrides:
        key, value = parse_override(item)
        section, _, name = key.partition(".")
        table = raw.setdefault(section, {})
        if not isinstance(table, dict):
            raise SettingsError(section, "a table of settings", describe(table))
        table[name] = value
        on_command_line.add(key)
    return replace(validate(raw), in_file=frozenset(in_file), on_command_line=frozenset(on_command_line))


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
    """Check every section and key, fill in the defaults, and build the frozen Settings."""
    for section, table in raw.items():
        if section not in SECTIONS:
            raise SettingsError(section, f"one of the sections {', '.join(SECTIONS)}", "an unknown section")
        if not isinstance(table, dict):
            raise SettingsError(section, "a table of settings", describe(table))
        for name in table:
            if setting_of(f"{section}.{name}") is None:
                names = ", ".join(sorted(KNOWN_KEYS[section]))
                raise SettingsError(f"{section}.{name}", f"one of the keys {names}", "an unknown key")
    known = {}   # key -> checked value (or default), in the order of SETTINGS
    for setting in SETTINGS:
        known[setting.key] = setting.value_in(raw.get(setting.section, {}), known)
    return Settings(**{setting.attribute: known[setting.key] for setting in SETTINGS})


def frame_count(epochs: int, every: int) -> int:
    """How many snapshots (animation frames) a run keeps: epoch 1, every `every`-th epoch and the last."""
    return epochs // every + (every > 1) + (epochs % every > 0)  # the multiples, epoch 1, the last


def number(key: str, value: Any, lowest: float = -sys.float_info.max, highest: float = sys.float_info.max,
           expected: str = "") -> float:
    """Check that a value is a number from lowest to highest (any float by default) and return it as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(key, "a number", describe(value))
    if not lowest <= value <= highest:  # also nan; an int is compared exactly, however long (float() overflows)
        raise SettingsError(key, expected or f"a number between {shown_bound(lowest)} and {shown_bound(highest)}",
                            describe(value))
    return float(value)


def whole_number(key: str, value: Any, minimum: int) -> int:
    """Check that a value is a whole number >= minimum and return it as an int."""
    expected = f"a whole number >= {minimum}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(key, expected, describe(value))
    if (isinstance(value, float) and not value.is_integer()) or value < minimum:  # is_integer(): not nan, inf
        raise SettingsError(key, expected, describe(value))
    return int(value)


def shown_bound(bound: float) -> str:
    """A limit as the messages write it: 1,000,000 (a whole number) or 1e15."""
    return f"{bound:,}" if isinstance(bound, int) else f"{bound:.2g}".replace("e+", "e")


def toml_text(value: Any) -> str:
    """A default as TOML writes it: true, 0.5, [1, 2, 1]."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return f"[{', '.join(toml_text(item) for item in value)}]"
    return repr(value)


def as_lists(value: Any) -> Any:
    """A value with its tuples turned into lists, as TOML and JSON hold them."""
    return [as_lists(item) for item in value] if isinstance(value, tuple) else value


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
