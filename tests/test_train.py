"""engine/train.py against a plain gradient-descent implementation (tests/plain_network.py)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import plain_network as plain
from conftest import LESSON_TOML
from engine import config
from engine.train import TrainingDiverged, run_record, snapshot_epochs, train

REL = 1e-9


def close(a, b, rel=REL, abs_=1e-13):
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


# ------------------------------------------------------------------ the default experiment

def test_lesson_toml_holds_the_design_experiment(default_settings):
    s = default_settings
    assert s.points == plain.DESIGN_POINTS
    assert s.layers == (1, 2, 1)
    assert dict(s.init) == plain.DESIGN_INIT
    assert [name for name, _ in s.init] == list(plain.DESIGN_NAMES_121)
    assert (s.learning_rate, s.epochs, s.display_every) == (0.5, 5000, 100)
    assert s.init_random is False


def test_default_losses_match_plain_every_epoch(default_run, plain_default):
    assert len(default_run.losses) == 5000
    want = plain_default["losses"]
    bad = [e for e, (a, b) in enumerate(zip(default_run.losses, want), start=1) if not close(a, b)]
    assert bad == [], f"epochs whose loss differs from the plain run: {bad[:10]}"


def test_default_final_params_match_plain(default_run, plain_default):
    assert default_run.param_names == plain.DESIGN_NAMES_121
    final = dict(zip(default_run.param_names, default_run.final_params))
    for name in plain.DESIGN_NAMES_121:
        assert close(final[name], plain_default["final_params"][name]), name
    assert close(default_run.final_loss, plain_default["final_loss"])


def test_default_also_matches_the_generic_plain_version(default_settings, default_run):
    """The dict-keyed generic version, run on the same 1-2-1 experiment, agrees as well."""
    result = plain.plain_train(lambda p: plain.loss_grad_generic((1, 2, 1), p, plain.DESIGN_POINTS),
                               plain.DESIGN_INIT, 0.5, 5000)
    final = dict(zip(default_run.param_names, default_run.final_params))
    for name in plain.DESIGN_NAMES_121:
        assert close(final[name], result["final_params"][name]), name
    assert all(close(a, b) for a, b in zip(default_run.losses, result["losses"]))


def test_default_snapshot_epochs(default_run):
    assert [s.epoch for s in default_run.snapshots] == [1] + list(range(100, 5001, 100))
    assert len(default_run.snapshots) == 51


def test_default_snapshots_hold_params_before_update_and_grads_there(default_run, plain_default):
    for snap in default_run.snapshots:
        loss, params, grads = plain_default["snapshots"][snap.epoch]
        assert close(snap.loss, loss), snap.epoch
        assert snap.loss == default_run.losses[snap.epoch - 1]
        for k, name in enumerate(plain.DESIGN_NAMES_121):
            assert close(snap.params[k], params[name]), (snap.epoch, name)
            assert close(snap.grads[k], grads[name], abs_=1e-15), (snap.epoch, name)
    # epoch 1's snapshot is the starting point itself
    assert default_run.snapshots[0].params == tuple(plain.DESIGN_INIT[n] for n in plain.DESIGN_NAMES_121)


def test_default_run_reproduces_the_experiment(default_run, plain_default):
    # The lesson's starting loss, about 0.3613: the plain implementation's value at DESIGN's init.
    first = plain.loss_121(plain.DESIGN_INIT, plain.DESIGN_POINTS)
    assert round(first, 4) == 0.3613
    assert close(default_run.losses[0], first, rel=1e-12)
    assert default_run.final_loss < 0.01
    final = dict(zip(default_run.param_names, default_run.final_params))
    for x, y in plain.DESIGN_POINTS:
        y_hat = plain.forward_121(final, x)[2]
        assert (y_hat > 0.5) if y == 1 else (y_hat < 0.5), (x, y, y_hat)
    # four points fit
    assert sum(y for _, y in plain.DESIGN_POINTS) == 4
    # the loss falls overall
    assert default_run.losses[-1] < default_run.losses[0] / 30


def test_final_is_after_last_update(default_run):
    """final.params = last snapshot params - lr * grads when the last epoch is a snapshot."""
    last = default_run.snapshots[-1]
    assert last.epoch == 5000
    for k in range(7):
        assert close(default_run.final_params[k], last.params[k] - 0.5 * last.grads[k], rel=1e-15)


def test_run_record_shape(default_run):
    record = run_record(default_run)
    assert set(record) == {"settings", "param_names", "loss", "snapshots", "final"}
    assert record["param_names"] == list(plain.DESIGN_NAMES_121)
    assert set(record["snapshots"][0]) == {"epoch", "loss", "params", "grads"}
    assert list(record["snapshots"][0]["params"]) == list(plain.DESIGN_NAMES_121)
    assert set(record["final"]) == {"params", "loss"}


# ------------------------------------------------------------------ snapshot epochs

def test_snapshot_epochs_with_a_ragged_end():
    s = config.load(LESSON_TOML, ["train.epochs=250", "train.display_every=100"])
    run = train(s)
    assert [snap.epoch for snap in run.snapshots] == [1, 100, 200, 250]
    assert len(run.losses) == 250
    want = plain.plain_train(lambda p: plain.loss_grad_121(p, plain.DESIGN_POINTS), plain.DESIGN_INIT,
                             0.5, 250, keep=[1, 100, 200, 250])
    for snap in run.snapshots:
        loss, params, grads = want["snapshots"][snap.epoch]
        assert close(snap.loss, loss)
        for k, name in enumerate(plain.DESIGN_NAMES_121):
            assert close(snap.params[k], params[name])
            assert close(snap.grads[k], grads[name], abs_=1e-15)


@pytest.mark.parametrize("epochs,every,expected", [
    (5000, 100, [1] + list(range(100, 5001, 100))),
    (250, 100, [1, 100, 200, 250]),
    (1, 1, [1]),
    (3, 1, [1, 2, 3]),
    (10, 10, [1, 10]),
    (600, 100, [1, 100, 200, 300, 400, 500, 600]),
])
def test_snapshot_epochs_function(epochs, every, expected):
    assert snapshot_epochs(epochs, every) == expected


# ------------------------------------------------------------------ other shapes, random init

@pytest.mark.parametrize("layers", ["[1,3,1]", "[1,2,2,1]"])
def test_other_architectures_random_init_match_plain(layers):
    s = config.load(LESSON_TOML, [f"network.layers={layers}", "init.random=true", "init.seed=1",
                                  "train.epochs=300", "train.display_every=50"])
    shape = tuple(int(n) for n in layers.strip("[]").split(","))
    assert s.layers == shape
    names = plain.names_for(shape)
    run = train(s)
    assert list(run.param_names) == names
    init = s.initial_params
    assert list(init) == names

    want = plain.plain_train(lambda p: plain.loss_grad_generic(shape, p, s.points), init,
                             s.learning_rate, 300, keep=range(1, 301))
    assert len(run.losses) == 300
    assert all(close(a, b) for a, b in zip(run.losses, want["losses"]))
    assert [snap.epoch for snap in run.snapshots] == [1, 50, 100, 150, 200, 250, 300]
    for snap in run.snapshots:
        loss, params, grads = want["snapshots"][snap.epoch]
        assert close(snap.loss, loss)
        for k, name in enumerate(names):
            assert close(snap.params[k], params[name]), (snap.epoch, name)
            assert close(snap.grads[k], grads[name], abs_=1e-15), (snap.epoch, name)
    for k, name in enumerate(names):
        assert close(run.final_params[k], want["final_params"][name]), name
    assert close(run.final_loss, want["final_loss"])


# ------------------------------------------------------------------ divergence

# A sample at x = 0 and one at x = 1e10 with w11_1 = 1e-10 keep the first hidden unit
# unsaturated while dE/dw11_1 is ~1e7; with learning rate 1e308 the first step sends w11_1 to
# infinity, and on the next forward pass 0 * inf = NaN.
ABSURD = ["data.points=[[0,0],[1e10,1]]", "init.w11_1=1e-10", "train.learning_rate=1e308"]


def test_absurd_settings_raise_training_diverged_naming_the_epoch():
    s = config.load(LESSON_TOML, ABSURD + ["train.epochs=5", "train.display_every=1"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(TrainingDiverged) as info:
            train(s)
    message = str(info.value)
    assert "\n" not in message
    assert "epoch 2" in message


def test_divergence_in_the_last_update_is_caught_too():
    """ENGINE BUG: the same absurd step as above, but as the only epoch.

    train() checks the loss and gradients only at the start of each epoch, never the parameters
    after the last update, so a one-epoch run returns final params containing inf and a final loss
    of NaN instead of raising; the build then succeeds and writes NaN/Infinity into run.json.
    """
    s = config.load(LESSON_TOML, ABSURD + ["train.epochs=1", "train.display_every=1"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            run = train(s)
        except TrainingDiverged as err:
            assert "epoch" in str(err)
            return
    pytest.fail(f"no TrainingDiverged; final loss {run.final_loss}, final params {run.final_params}")


def test_huge_learning_rate_on_the_lesson_data_stays_finite():
    """With the stable sigmoid, a huge step saturates every unit instead of overflowing."""
    s = config.load(LESSON_TOML, ["train.learning_rate=1e300", "train.epochs=20", "train.display_every=5"])
    run = train(s)
    assert all(math.isfinite(v) for v in run.losses)
    assert all(math.isfinite(v) for v in run.final_params)
    assert math.isfinite(run.final_loss)
    assert np.all(np.isfinite([g for snap in run.snapshots for g in snap.grads]))
