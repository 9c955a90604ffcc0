"""engine/config.py and the command line: every bad setting is one line naming the key, what was
expected and what arrived; through build.py it is exit status 1 and the existing site untouched."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import plain_network as plain
from conftest import LESSON_TOML
from engine import config
from engine.config import SettingsError
from sitetools import dot_folders_beside, run_cli, tree_hashes

BAD_TOML = "<bad toml>"  # stands for a file with a syntax error on line 3, written by a fixture

# (id, --set overrides, --config file or None, key the message must name, text it must show)
BAD = [
    ("number-quoted-string", ['init.w11_1="abc"'], None, "init.w11_1", "abc"),
    ("number-bare-word", ["init.w11_1=abc"], None, "init.w11_1", "abc"),
    ("number-bool", ["train.learning_rate=true"], None, "train.learning_rate", "True"),
    ("nan", ["init.w11_1=nan"], None, "init.w11_1", "nan"),
    ("inf", ["train.learning_rate=inf"], None, "train.learning_rate", "inf"),
    ("epochs-0", ["train.epochs=0"], None, "train.epochs", "0"),
    ("epochs-negative", ["train.epochs=-5"], None, "train.epochs", "-5"),
    ("epochs-fraction", ["train.epochs=12.5"], None, "train.epochs", "12.5"),
    ("display-0", ["train.display_every=0"], None, "train.display_every", "0"),
    ("display-negative", ["train.display_every=-1"], None, "train.display_every", "-1"),
    ("display-above-epochs", ["train.display_every=6000"], None, "train.display_every", "6000"),
    ("display-above-epochs-set-both", ["train.epochs=50", "train.display_every=51"], None,
     "train.display_every", "51"),
    ("lr-0", ["train.learning_rate=0"], None, "train.learning_rate", "0"),
    ("lr-negative", ["train.learning_rate=-0.1"], None, "train.learning_rate", "-0.1"),
    ("one-point", ["data.points=[[1,0]]"], None, "data.points", "1"),
    ("point-not-pair", ["data.points=[[1,0],[2]]"], None, "data.points", "[2]"),
    ("point-number", ["data.points=[[1,0],3]"], None, "data.points", "3"),
    ("label-above-1", ["data.points=[[1,0],[2,1.5]]"], None, "data.points", "1.5"),
    ("label-below-0", ["data.points=[[1,-0.5],[2,1]]"], None, "data.points", "-0.5"),
    ("point-x-string", ['data.points=[[1,0],["a",1]]'], None, "data.points", "a"),
    ("points-not-list", ["data.points=5"], None, "data.points", "5"),
    ("layers-start-2", ["network.layers=[2,2,1]"], None, "network.layers", "[2, 2, 1]"),
    ("layers-end-3", ["network.layers=[1,2,3]"], None, "network.layers", "[1, 2, 3]"),
    ("layers-zero", ["network.layers=[1,0,1]"], None, "network.layers", "0"),
    ("layers-too-wide", ["network.layers=[1,10,1]"], None, "network.layers", "10"),
    ("unknown-section", ["trian.epochs=5"], None, "trian", "unknown"),
    ("unknown-key", ["train.epoch=5"], None, "train.epoch", "unknown"),
    ("unknown-param", ["init.w99_1=1"], None, "init.w99_1", "unknown"),
    ("random-not-bool", ['init.random="yes"'], None, "init.random", "yes"),
    ("seed-negative", ["init.seed=-1"], None, "init.seed", "-1"),
    ("missing-file", [], "/nonexistent.toml", "--config", "/nonexistent.toml"),
    ("unparsable-file", [], BAD_TOML, "--config", "line 3"),
    ("set-without-equals", ["train.epochs"], None, "--set", "train.epochs"),
    ("set-without-section", ["epochs=5"], None, "--set", "epochs"),
]
IDS = [case[0] for case in BAD]


@pytest.fixture(scope="module")
def bad_toml(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("toml") / "broken.toml"
    text = LESSON_TOML.read_text(encoding="utf-8").splitlines()
    # lines 1-2 fine, line 3 broken; the rest of the real file after it
    path.write_text("[train]\nepochs = 10\nlearning_rate = = 0.5\n" + "\n".join(text) + "\n", encoding="utf-8")
    return path


def config_path(value, bad_toml):
    if value is None:
        return LESSON_TOML
    return bad_toml if value == BAD_TOML else Path(value)


def check_one_line(message: str, key: str, shows: str):
    assert "\n" not in message and "\r" not in message, message
    assert key in message, message
    assert "expected " in message, message
    assert "got " in message, message
    assert shows in message, message


# ------------------------------------------------------------------ in process

@pytest.mark.parametrize("case_id,overrides,path,key,shows", BAD, ids=IDS)
def test_bad_setting_raises_one_line(case_id, overrides, path, key, shows, bad_toml):
    with pytest.raises(SettingsError) as info:
        config.load(config_path(path, bad_toml), overrides)
    check_one_line(str(info.value), key, shows)


def test_message_order_is_key_expected_got():
    with pytest.raises(SettingsError) as info:
        config.load(LESSON_TOML, ["train.epochs=0"])
    message = str(info.value)
    assert message.index("train.epochs") < message.index("expected") < message.index("got")


# ------------------------------------------------------------------ through build.py

def cli_args(overrides, path, bad_toml, out: Path) -> list[str]:
    args = ["--out", str(out), "-q"]
    if path is not None:
        args += ["--config", str(config_path(path, bad_toml))]
    for item in overrides:
        args += ["--set", item]
    return args


@pytest.fixture(scope="module")
def cli_failures(default_site, default_site_hashes, bad_toml):
    """Run every bad case through `python build.py --out <existing default site>`, a few at a time."""
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {case[0]: pool.submit(run_cli, *cli_args(case[1], case[2], bad_toml, default_site))
                   for case in BAD}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("case_id,overrides,path,key,shows", BAD, ids=IDS)
def test_cli_bad_setting_exit_1_one_line(case_id, overrides, path, key, shows, cli_failures):
    result = cli_failures[case_id]
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    check_one_line(lines[0], key, shows)
    assert result.stdout == ""


def test_cli_failures_leave_the_site_untouched(cli_failures, default_site, default_site_hashes):
    assert cli_failures  # every case ran
    assert tree_hashes(default_site) == default_site_hashes
    assert dot_folders_beside(default_site) == []


# ------------------------------------------------------------------ the good path

def test_set_changes_one_init_value():
    s = config.load(LESSON_TOML, ["init.w11_1=0.3"])
    expected = dict(plain.DESIGN_INIT, w11_1=0.3)
    assert s.initial_params == expected
    assert s.as_dict()["init"]["w11_1"] == 0.3
    assert [name for name, _ in s.init] == list(plain.DESIGN_NAMES_121)


def test_set_value_with_spaces_around_equals_sign_key():
    s = config.load(LESSON_TOML, ["train.learning_rate=0.2", "train.epochs=600", "train.display_every=100"])
    assert (s.learning_rate, s.epochs, s.display_every) == (0.2, 600, 100)


def test_points_override_parses():
    s = config.load(LESSON_TOML, ["data.points=[[1,0],[2,1]]"])
    assert s.points == ((1.0, 0.0), (2.0, 1.0))
    assert all(isinstance(v, float) for p in s.points for v in p)


def test_integral_float_epochs_accepted():
    s = config.load(LESSON_TOML, ["train.epochs=5e3"])
    assert s.epochs == 5000 and type(s.epochs) is int
    s = config.load(LESSON_TOML, ["train.display_every=50.0"])
    assert s.display_every == 50 and type(s.display_every) is int


def test_settings_are_frozen(default_settings):
    with pytest.raises(Exception):
        default_settings.epochs = 3  # type: ignore[misc]


def test_random_init_from_a_file_without_values(tmp_path):
    """init.random draws every parameter not given: reproducible per seed, different across seeds."""
    text = LESSON_TOML.read_text(encoding="utf-8")
    kept = [line for line in text.splitlines()
            if not any(line.strip().startswith(n + " ") or line.strip().startswith(n + "=")
                       for n in plain.DESIGN_NAMES_121)]
    path = tmp_path / "no-init.toml"
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    with pytest.raises(SettingsError):  # without random, a missing value is an error
        config.load(path)
    a = config.load(path, ["init.random=true", "init.seed=3"]).initial_params
    b = config.load(path, ["init.random=true", "init.seed=3"]).initial_params
    c = config.load(path, ["init.random=true", "init.seed=4"]).initial_params
    assert a == b
    assert a != c
    assert list(a) == list(plain.DESIGN_NAMES_121)


def test_random_init_seed_on_the_default_settings():
    """The brief and build.py's own docstring (`--set init.random=true --set init.seed=3`) expect
    this to give a random start. ENGINE ISSUE: lesson.toml gives all 7 values, and random only
    draws the ones *not* given, so on the default settings init.random/init.seed change nothing."""
    a = config.load(LESSON_TOML, ["init.random=true", "init.seed=3"]).initial_params
    b = config.load(LESSON_TOML, ["init.random=true", "init.seed=3"]).initial_params
    c = config.load(LESSON_TOML, ["init.random=true", "init.seed=4"]).initial_params
    assert a == b
    assert a != c, "init.seed=3 and init.seed=4 give the same start: random=true was ignored"
    assert a != plain.DESIGN_INIT
