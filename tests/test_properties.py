"""Property-based tests (Hypothesis): settings drawn at random, valid and invalid.

- Valid settings always validate, survive a round trip through `--set`, and train into a run
  whose every recorded number agrees with the network's own loss and gradient.
- A few random valid settings, drawn from everything the validator accepts, are built under --strict
  into real sites whose run.json is consistent; so are the settings that once broke the build.
- Invalid settings always fail with one line that names the key, never another exception;
  through build.py that is exit status 1, no traceback, and the existing site untouched.

Builds take seconds, so those properties draw few examples; the cheap ones draw many.
The examples are the same on every run (tests/conftest.py: the "repeatable" profile, no example
database); `pytest --hypothesis-profile=long tests/test_properties.py` draws ten times as many,
new ones each time.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import tomllib
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import plain_network as plain

from hypothesis import HealthCheck, given, settings, strategies as st

from engine import config, formulas, output, train
from engine.config import SettingsError
from engine.network import Network, sigmoid
from engine.pipeline import Paths, build
from sitetools import ROOT, dot_folders_beside, run_cli, tree_hashes

LESSON_TOML = ROOT / "content" / "lesson.toml"
SCALE = settings().max_examples / 100   # 1 in the repeatable profile, 10 in the long one (tests/conftest.py)
SLOW = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
CHEAP = settings(max_examples=round(200 * SCALE))
TRAINING = settings(max_examples=round(60 * SCALE))
BUILDS = settings(max_examples=round(6 * SCALE), suppress_health_check=SLOW)
CLI = settings(max_examples=round(5 * SCALE), suppress_health_check=SLOW)


# ------------------------------------------------------------------ strategies: valid settings

def finite(lo: float, hi: float):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


LABEL = st.sampled_from([0, 1, 0.0, 1.0]) | finite(0, 1)


@st.composite
def layer_lists(draw, max_hidden: int = config.MAX_LAYERS - 2, max_nodes: int = config.MAX_NODES):
    """Every accepted shape: one input, 1 to 4 hidden layers of 1 to 9 nodes, one output."""
    return [1, *draw(st.lists(st.integers(1, max_nodes), min_size=1, max_size=max_hidden)), 1]


@st.composite
def valid_raw(draw, x=finite(-config.MAX_ABS_X, config.MAX_ABS_X), layers=layer_lists(),
              max_epochs: int = config.MAX_EPOCHS, values=finite(-1e6, 1e6), rates=finite(1e-6, 1e6),
              max_points: int = 12):
    """A settings table as lesson.toml would hold it: valid, and anywhere in the valid range."""
    shape = draw(layers)
    network = Network(tuple(shape))
    init = {"random": True, "seed": draw(st.integers(0, 2**32))} if draw(st.booleans()) else {}
    if not init or draw(st.booleans()):  # explicit values (with a random start they are not used)
        init.update({name: draw(values) for name in network.param_names})
    epochs = draw(st.integers(1, max_epochs))
    fewest = next(d for d in range(max(1, epochs // config.MAX_FRAMES), epochs + 1)
                  if config.frame_count(epochs, d) <= config.MAX_FRAMES)
    return {
        "data": {"points": draw(st.lists(st.tuples(x, LABEL).map(list), min_size=2, max_size=max_points))},
        "network": {"layers": shape},
        "init": init,
        "train": {"learning_rate": draw(rates), "epochs": epochs,
                  "display_every": draw(st.integers(fewest, epochs))},
    }


def toml_value(value) -> str:
    """A value as TOML text, as a person would type it after --set KEY=."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, float):
        return {math.inf: "inf", -math.inf: "-inf"}.get(value, "nan" if value != value else repr(value))
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def as_overrides(raw: dict) -> list[str]:
    return [f"{section}.{key}={toml_value(value)}" for section, table in raw.items() for key, value in table.items()]


# ------------------------------------------------------------------ properties of valid settings

@CHEAP
@given(valid_raw())
def test_valid_settings_validate_and_round_trip(raw):
    s = config.validate(raw)
    assert s.points == tuple((float(x), float(y)) for x, y in raw["data"]["points"])
    assert s.layers == tuple(raw["network"]["layers"])
    assert [name for name, _ in s.init] == list(s.network.param_names)
    assert s.init_random == raw["init"].get("random", False)
    assert (s.learning_rate, s.epochs, s.display_every) == tuple(raw["train"][k] for k in
                                                                 ("learning_rate", "epochs", "display_every"))
    assert config.frame_count(s.epochs, s.display_every) <= config.MAX_FRAMES
    assert all(math.isfinite(v) for _, v in s.init)
    again = config.validate(json.loads(json.dumps(s.as_dict())))  # run.json's settings validate to the same
    assert again == s


def outcome(make):
    """Settings, or the one-line message of the SettingsError."""
    try:
        return make()
    except SettingsError as err:
        return str(err)


@CHEAP
@given(valid_raw())
def test_every_setting_can_come_from_the_command_line(raw):
    """--set SECTION.KEY=VALUE for every key gives what the same values in the file give."""
    merged = tomllib.loads(LESSON_TOML.read_text(encoding="utf-8"))
    for section, table in raw.items():
        merged.setdefault(section, {}).update(table)
    assert outcome(lambda: config.load(LESSON_TOML, as_overrides(raw))) == outcome(lambda: config.validate(merged))


@CHEAP
@given(st.integers(1, 10**6), st.data())
def test_frame_count_is_the_number_of_snapshots(epochs, data):
    every = data.draw(st.integers(1, epochs))
    assert config.frame_count(epochs, every) == len(plain.expected_snapshot_epochs(epochs, every))


@CHEAP
@given(finite(-1e308, 1e308) | st.sampled_from([0.0, 709.0, -709.0, 710.0, -710.0, 745.2, -745.2, 1e4, -1e4]))
def test_sigmoid_is_safe_everywhere_and_the_scalar_formula_agrees(z):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            vector, scalar, mirror = float(sigmoid(z)), formulas.sigma(z), float(sigmoid(-z))
    assert 0.0 <= vector <= 1.0 and math.isclose(vector, scalar, rel_tol=1e-15, abs_tol=1e-300)
    assert math.isclose(vector + mirror, 1.0, rel_tol=1e-15)


def plain_loss_and_gradient(s, params) -> tuple[float, list[float]]:
    """The loss and gradient at `params` (in the engine's order), from tests/plain_network.py: plain Python
    over dictionaries of named parameters, its names listed by its own rule."""
    names = plain.names_for(s.layers)
    assert names == list(s.network.param_names)
    loss, grads = plain.loss_grad_generic(s.layers, dict(zip(names, params)), s.points)
    return loss, [grads[name] for name in names]


SMALL_SETTINGS = valid_raw(x=finite(-50, 50), layers=layer_lists(max_hidden=2, max_nodes=4), max_epochs=60,
                           values=finite(-5, 5), rates=finite(1e-3, 20))


@TRAINING
@given(SMALL_SETTINGS)
def test_training_records_what_the_network_computes(raw):
    s = config.validate(raw)
    run = train.train(s)
    network = s.network
    assert len(run.losses) == s.epochs and run.param_names == network.param_names
    assert [snap.epoch for snap in run.snapshots] == plain.expected_snapshot_epochs(s.epochs, s.display_every)
    assert run.snapshots[0].params == tuple(v for _, v in s.init)
    for snap in run.snapshots:
        loss, grads = plain_loss_and_gradient(s, snap.params)
        assert math.isclose(snap.loss, loss, rel_tol=1e-12, abs_tol=1e-15)
        assert snap.loss == run.losses[snap.epoch - 1]
        np.testing.assert_allclose(snap.grads, grads, rtol=1e-10, atol=1e-14)
    last = run.snapshots[-1]
    assert last.epoch == s.epochs
    np.testing.assert_allclose(run.final_params, np.array(last.params) - s.learning_rate * np.array(last.grads),
                               rtol=1e-12, atol=1e-12)
    assert math.isclose(run.final_loss, plain_loss_and_gradient(s, run.final_params)[0],
                        rel_tol=1e-12, abs_tol=1e-15)
    assert all(math.isfinite(v) and 0 <= v <= 1 for v in (*run.losses, run.final_loss))


# ------------------------------------------------------------------ random valid settings, built

# Every accepted setting (every shape, any number of points, starting values and steps anywhere in
# their limits), with one limit that only keeps a build short: at most 400 epochs. More epochs train
# longer and draw more frames, but build no other kind of page (tests/test_safety.py builds 100,000).
BUILDABLE = valid_raw(max_epochs=400, values=finite(-config.MAX_ABS_START, config.MAX_ABS_START),
                      max_points=config.MAX_POINTS)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """A private copy of content/ and templates/ (others edit the live ones while tests run)."""
    tmp = tmp_path_factory.mktemp("sources")
    shutil.copytree(ROOT / "content", tmp / "content")
    shutil.copytree(ROOT / "templates", tmp / "templates")
    return {"content": tmp / "content", "templates": tmp / "templates"}


def strict_json(path: Path):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


@pytest.fixture(scope="module")
def built_sites(tmp_path_factory):
    return tmp_path_factory.mktemp("random-builds")


def write_settings(raw: dict, path: Path) -> Path:
    path.write_text("".join(f"[{section}]\n" + "".join(f"{key} = {toml_value(value)}\n" for key, value in table.items())
                            for section, table in raw.items()), encoding="utf-8")
    return path


def fresh(paths: Paths) -> Paths:
    """The same paths without the build cache: every step really runs."""
    return replace(paths, cache=None)


@BUILDS
@given(raw=BUILDABLE)
def test_random_valid_settings_build_a_consistent_site(raw, sources, built_sites):
    """Any accepted settings build a whole site; the only warning is about values a random start leaves unused."""
    settings_file = write_settings(raw, built_sites / "lesson.toml")
    out = built_sites / "site"  # the same folder every time: each build replaces the last one
    init = raw["init"]
    unused = init.get("random", False) and any(key not in ("random", "seed") for key in init)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # not even matplotlib may warn (a log scale without a positive value)
        report = build(fresh(Paths(config=settings_file, out=out, **sources)), strict=not unused)
    assert [("not used, since init.random = true" in line) for line in report.warnings] == ([True] if unused else [])
    s = config.validate(raw)
    record = strict_json(out / "data" / "run.json")
    assert record["settings"] == s.as_dict()
    assert record["param_names"] == list(s.network.param_names)
    assert len(record["loss"]) == s.epochs
    snapshots = record["snapshots"]
    assert [snap["epoch"] for snap in snapshots] == plain.expected_snapshot_epochs(s.epochs, s.display_every)
    for snap in snapshots:
        assert snap["loss"] == record["loss"][snap["epoch"] - 1]
        assert list(snap["params"]) == list(snap["grads"]) == record["param_names"]
    start = snapshots[0]["params"]
    assert [start[name] for name in record["param_names"]] == [v for _, v in s.init]
    final = record["final"]
    recomputed, _ = plain_loss_and_gradient(s, [final["params"][n] for n in record["param_names"]])
    assert math.isclose(final["loss"], recomputed, rel_tol=1e-12, abs_tol=1e-15)
    csv = (out / "data" / "run.csv").read_text(encoding="utf-8").splitlines()
    assert len(csv) == s.epochs + 1 and math.isclose(float(csv[-1].split(",")[1]), record["loss"][-1], rel_tol=1e-11)
    assert len(list((out / "animation" / "frames").glob("*.png"))) == len(snapshots)
    assert (out / output.MARKER).is_file() and dot_folders_beside(out) == []


# ------------------------------------------------------------------ invalid settings

NOT_A_NUMBER = st.one_of(st.text(max_size=8), st.booleans(), st.lists(st.integers(), max_size=2),
                         st.dictionaries(st.text(max_size=3), st.integers(), max_size=1),
                         st.sampled_from([math.nan, math.inf, -math.inf]))
NOT_WHOLE = st.one_of(NOT_A_NUMBER, finite(-1e9, 1e9).filter(lambda v: v != int(v)))


@st.composite
def broken(draw):
    """(what is broken, the key the message must name, raw settings with exactly that broken)."""
    return draw(st.sampled_from(BROKEN_KINDS).flatmap(lambda kind: st.builds(lambda case: (kind, *case),
                                                                             breaking(kind))))


BROKEN_KINDS = [
    "points-type", "points-few", "point-shape", "point-x", "point-x-far", "point-y", "point-y-range",
    "layers-type", "layers-count", "layers-node", "layers-ends", "layers-wide",
    "param", "param-missing", "param-unknown", "random", "seed",
    "rate", "rate-not-positive", "epochs", "epochs-range", "every", "every-range", "every-frames",
    "section-unknown", "section-not-table", "key-unknown",
]


@st.composite
def breaking(draw, kind: str):
    """(key the message must name, raw settings with `kind` broken)."""
    raw = draw(valid_raw(layers=layer_lists(max_hidden=2), max_epochs=1000))
    epochs = raw["train"]["epochs"]
    names = Network(tuple(raw["network"]["layers"])).param_names
    points = raw["data"]["points"]
    k = draw(st.integers(0, len(points) - 1))
    if kind == "points-type":
        raw["data"]["points"] = draw(st.one_of(st.text(max_size=5), st.integers(), st.booleans()))
        return "data.points", raw
    if kind == "points-few":
        raw["data"]["points"] = points[:draw(st.integers(0, 1))]
        return "data.points", raw
    if kind == "point-shape":
        points[k] = draw(st.one_of(st.lists(finite(0, 1), max_size=1), st.lists(finite(0, 1), min_size=3, max_size=4),
                                   finite(0, 1), st.text(max_size=3)))
        return f"data.points[{k}]", raw
    if kind == "point-x":
        points[k][0] = draw(NOT_A_NUMBER)
        return f"data.points[{k}] x", raw
    if kind == "point-x-far":
        points[k][0] = draw(st.floats(config.MAX_ABS_X, 1e308, exclude_min=True)) * draw(st.sampled_from([1, -1]))
        return f"data.points[{k}] x", raw
    if kind == "point-y":
        points[k][1] = draw(NOT_A_NUMBER)
        return f"data.points[{k}] y", raw
    if kind == "point-y-range":
        points[k][1] = draw(finite(1.000001, 1e9) | finite(-1e9, -1e-9))
        return f"data.points[{k}] y", raw
    layers = raw["network"]["layers"]
    if kind == "layers-type":
        raw["network"]["layers"] = draw(st.one_of(st.text(max_size=4), st.integers(), st.booleans()))
        return "network.layers", raw
    if kind == "layers-count":
        raw["network"]["layers"] = draw(st.sampled_from([[], [1], [1, 1], [1, 2, 2, 2, 2, 2, 1], [1] * 9]))
        return "network.layers", raw
    if kind == "layers-node":
        j = draw(st.integers(0, len(layers) - 1))
        layers[j] = draw(st.one_of(NOT_WHOLE, st.integers(-5, 0)))
        return "network.layers", raw  # the message names network.layers[j] or network.layers
    if kind == "layers-ends":
        layers[draw(st.sampled_from([0, -1]))] = draw(st.integers(2, 9))
        return "network.layers", raw
    if kind == "layers-wide":
        layers[draw(st.integers(0, len(layers) - 1))] = draw(st.integers(config.MAX_NODES + 1, 10**6))
        return "network.layers", raw
    init = raw["init"]
    if kind == "param":
        name = draw(st.sampled_from(names))
        init[name] = draw(NOT_A_NUMBER)
        return f"init.{name}", raw
    if kind == "param-missing":
        init.pop("random", None)
        name = draw(st.sampled_from(names))
        for each in names:
            init.setdefault(each, 0.5)
        del init[name]
        return f"init.{name}", raw
    if kind == "param-unknown":
        init.pop("random", None)
        name = draw(st.from_regex(r"\A[a-z][a-z0-9_]{0,8}\Z")).strip()
        if name in names or name in ("random", "seed"):
            name += "_x"
        init[name] = 0.5
        return f"init.{name}", raw
    if kind == "random":
        init["random"] = draw(st.one_of(st.integers(), st.text(max_size=4), finite(-2, 2)))
        return "init.random", raw
    if kind == "seed":
        init["seed"] = draw(st.one_of(NOT_WHOLE, st.integers(max_value=-1)))
        return "init.seed", raw
    table = raw["train"]
    if kind == "rate":
        table["learning_rate"] = draw(NOT_A_NUMBER)
        return "train.learning_rate", raw
    if kind == "rate-not-positive":
        table["learning_rate"] = draw(finite(-1e9, 0) | st.just(0))
        return "train.learning_rate", raw
    if kind == "epochs":
        table["epochs"] = draw(NOT_WHOLE)
        return "train.epochs", raw
    if kind == "epochs-range":
        table["epochs"] = draw(st.integers(max_value=0) | st.integers(config.MAX_EPOCHS + 1, 10**12))
        return "train.epochs", raw
    if kind == "every":
        table["display_every"] = draw(NOT_WHOLE)
        return "train.display_every", raw
    if kind == "every-range":
        table["display_every"] = draw(st.integers(max_value=0) | st.integers(epochs + 1, epochs + 10**6))
        return "train.display_every", raw
    if kind == "every-frames":
        table["epochs"] = draw(st.integers(config.MAX_FRAMES + 1, config.MAX_EPOCHS))
        table["display_every"] = draw(st.integers(1, table["epochs"] // (config.MAX_FRAMES + 1)))
        return "train.display_every", raw
    if kind == "section-unknown":
        name = draw(st.from_regex(r"\A[a-z]{1,8}\Z").filter(lambda n: n not in config.KNOWN_KEYS))
        raw[name] = {"x": 1}
        return name, raw
    if kind == "section-not-table":
        section = draw(st.sampled_from(list(config.KNOWN_KEYS)))
        raw[section] = draw(st.one_of(st.integers(), st.text(max_size=4), st.lists(st.integers(), max_size=2)))
        return section, raw
    section = draw(st.sampled_from(["data", "network", "train"]))
    key = draw(st.from_regex(r"\A[a-z_]{1,10}\Z").filter(lambda n: n not in config.KNOWN_KEYS[section]))
    raw[section][key] = 1
    return f"{section}.{key}", raw


def check_one_line(message: str, key: str) -> None:
    assert "\n" not in message
    assert message.startswith(key), (key, message)
    assert ": expected " in message and ", got " in message, message


@CHEAP
@given(broken())
def test_invalid_settings_fail_with_one_line_naming_the_key(case):
    _, key, raw = case
    with pytest.raises(SettingsError) as info:
        config.validate(raw)
    check_one_line(str(info.value), key)


@CHEAP
@given(st.text(max_size=80))
def test_any_text_after_set_is_settings_or_one_line(text):
    try:
        config.load(LESSON_TOML, [text])
    except SettingsError as err:
        assert "\n" not in str(err) and ": expected " in str(err)


@CHEAP
@given(text=st.text(max_size=200))
def test_any_settings_file_is_settings_or_one_line(text, tmp_path_factory):
    path = tmp_path_factory.mktemp("toml", numbered=True) / "lesson.toml"
    path.write_text(text, encoding="utf-8")
    try:
        config.load(path)
    except SettingsError as err:
        assert "\n" not in str(err) and ": expected " in str(err)


TRICKY = st.text(alphabet="[]{}\"'#\\\n x", max_size=8)  # what could fool a count of brackets


@st.composite
def toml_strings(draw):
    """(a string, the string in one of TOML's four ways of writing one that can hold it)."""
    value = draw(TRICKY)
    ways = [json.dumps(value), '"""' + json.dumps(value)[1:-1] + '"""']
    if "'" not in value and "\n" not in value:
        ways.append(f"'{value}'")
    if "'''" not in value and not value.endswith("'") and not value.startswith("\n"):
        ways.append(f"'''{value}'''")
    return value, draw(st.sampled_from(ways))


@st.composite
def nested_toml(draw):
    """(value, its TOML text, how deep its arrays nest): strings full of brackets, in arrays in arrays."""
    pairs = draw(st.lists(toml_strings(), min_size=1, max_size=3))
    value, text, depth = [v for v, _ in pairs], "[" + ", ".join(t for _, t in pairs) + "]", 1
    for _ in range(draw(st.integers(0, config.MAX_NESTING + 2))):
        value, text, depth = [value], f"[{text}]", depth + 1
    return value, text, depth


@CHEAP
@given(nested_toml())
def test_nesting_is_counted_as_the_parser_nests(case):
    """Brackets in strings of every kind never count; arrays up to the limit are parsed, deeper ones not."""
    value, text, depth = case
    assert tomllib.loads(f"value = {text}")["value"] == value  # the text says the value
    if depth <= config.MAX_NESTING:
        config.check_nesting("data.points", text)
    else:
        with pytest.raises(SettingsError, match=f"nested at most {config.MAX_NESTING} deep, got {depth} deep$"):
            config.check_nesting("data.points", text)


@pytest.fixture(scope="module")
def existing_site(tmp_path_factory):
    out = tmp_path_factory.mktemp("existing") / "site"
    output.write_site({"index.html": b"<!doctype html><title>kept</title>", "data/run.json": b"{}"}, out)
    return out, tree_hashes(out)


@CLI
# Kinds that --set cannot say (a section that is not a table), or that the settings file would
# mend (a missing parameter is taken from content/lesson.toml), are left out.
@given(case=broken().filter(lambda case: case[0] not in ("section-not-table", "param-missing")))
def test_invalid_settings_on_the_command_line_exit_1_and_leave_the_site(case, existing_site):
    _, key, raw = case
    out, before = existing_site
    args = [arg for item in as_overrides(raw) for arg in ("--set", item)]
    result = run_cli("--out", str(out), "-q", *args, timeout=120)
    assert result.returncode == 1, result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("build.py: error: "), result.stderr
    assert tree_hashes(out) == before and dot_folders_beside(out) == []


# ------------------------------------------------------------------ settings that once broke the build
# Each was accepted by the validator and then failed: a content template that read parameters of the
# 1-2-1 network, an empty list of sizes that fit, a division by a loss of 0, formulas with every one
# of 81 paths written out (Temml's expansion limit). Each now builds a whole lesson under --strict.

ONCE_BROKEN = {
    "one-hidden-unit": ["network.layers=[1,1,1]", "init.random=true"],
    "three-hidden-units": ["network.layers=[1,3,1]", "init.random=true"],
    "two-hidden-layers": ["network.layers=[1,2,1,1]", "init.random=true"],
    "two-wide-layers": ["network.layers=[1,2,2,1]", "init.random=true"],
    "many-paths": ["network.layers=[1,9,9,1]", "init.random=true"],
    "widest-and-deepest": ["network.layers=[1,9,9,9,9,1]", "init.random=true"],
    "one-class-data": ["data.points=[[1,0],[2,0],[3,0]]"],
    "zero-loss": ["data.points=[[1,1],[2,1]]", "init.b1_2=100"],
}


@pytest.mark.parametrize("name", ONCE_BROKEN)
def test_settings_that_once_broke_the_build_build_under_strict(name, sources, tmp_path):
    overrides = ONCE_BROKEN[name] + ["train.epochs=30", "train.display_every=10"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = build(fresh(Paths(config=LESSON_TOML, out=tmp_path / "site", **sources)), overrides, strict=True)
    assert report.warnings == ()
    layers = config.load(LESSON_TOML, overrides).layers
    for lang in ("zh", "en"):
        html = (tmp_path / "site" / lang / "index.html").read_text(encoding="utf-8")
        if layers != (1, 2, 1):   # the text names the network it was written for
            assert "-".join(map(str, layers)) in html
        paths_from_x = math.prod(layers[1:-1])
        if paths_from_x > formulas.MOST_PATHS:   # a sum of many paths: three written out and the count
            assert re.search(f"Π</mi>(<mspace></mspace>)?</mrow><mn>{paths_from_x}</mn></msub>", html)


def test_a_network_without_a_hidden_layer_is_refused_at_once():
    with pytest.raises(SettingsError) as refused:
        config.load(LESSON_TOML, ["network.layers=[1,1]"])
    assert str(refused.value).startswith("network.layers: expected a list of 3 to 6 node counts (input, at least "
                                         "one hidden layer, output)") and str(refused.value).endswith("got [1, 1]")
