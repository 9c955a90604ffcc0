"""engine/network.py: gradients against finite differences, the loss against a plain MSE,
parameter names and their order, the Param type, pack/unpack, sigmoid, LaTeX names."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest

import plain_network as plain
from engine.network import Network, Param, latex_name, loss_and_gradient, predict, sigmoid

ARCHITECTURES = [(1, 2, 1), (1, 3, 1), (1, 2, 2, 1)]
H = 1e-6
RTOL = 1e-6
ATOL = 1e-6


def random_points(rng, n=12):
    xs = rng.uniform(-1.0, 7.0, n)
    ys = rng.uniform(0.0, 1.0, n)
    return [(float(x), float(y)) for x, y in zip(xs, ys)]


def central_differences(layers, names, values, points):
    """dE/d(parameter) by (E(p + h) - E(p - h)) / 2h, on the plain loss (no engine code)."""
    grads = []
    for k, name in enumerate(names):
        up = dict(zip(names, values))
        down = dict(zip(names, values))
        up[name] += H
        down[name] -= H
        grads.append((plain.loss_generic(layers, up, points) - plain.loss_generic(layers, down, points)) / (2 * H))
    return np.array(grads)


CASES = [(layers, seed, which) for layers in ARCHITECTURES for seed in (0, 1, 2, 3, 4)
         for which in ("design", "random")]


@pytest.mark.parametrize("layers,seed,which", CASES,
                         ids=[f"{'-'.join(map(str, l))}-seed{s}-{w}" for l, s, w in CASES])
def test_gradient_matches_central_differences(layers, seed, which):
    rng = np.random.default_rng(seed)
    net = Network(layers)
    names = plain.names_for(layers)
    values = rng.normal(0.0, 1.5, len(names))
    points = list(plain.DESIGN_POINTS) if which == "design" else random_points(rng)

    loss, grads = loss_and_gradient(net, values, points)

    expected = central_differences(layers, names, values, points)
    assert grads.shape == (len(names),)
    np.testing.assert_allclose(grads, expected, rtol=RTOL, atol=ATOL)
    # the gradient is not trivially zero, so the comparison means something
    assert np.max(np.abs(expected)) > 1e-4


@pytest.mark.parametrize("layers", ARCHITECTURES, ids=lambda l: "-".join(map(str, l)))
@pytest.mark.parametrize("seed", [10, 11, 12])
def test_loss_is_plain_mse_and_gradient_is_plain_chain_rule(layers, seed):
    rng = np.random.default_rng(seed)
    names = plain.names_for(layers)
    values = rng.normal(0.0, 1.0, len(names))
    points = random_points(rng, 9)
    params = dict(zip(names, values.tolist()))

    loss, grads = loss_and_gradient(Network(layers), values, points)

    # loss: plain forward per sample, then the mean of squared errors
    y_hats = [plain.predict_generic(layers, params, x) for x, _ in points]
    assert loss == pytest.approx(plain.mse([y for _, y in points], y_hats), rel=1e-12, abs=1e-15)
    # gradient: the dict-based per-sample backprop
    _, expected = plain.loss_grad_generic(layers, params, points)
    np.testing.assert_allclose(grads, [expected[n] for n in names], rtol=1e-10, atol=1e-14)


def test_121_hand_written_and_generic_plain_agree_with_engine():
    """The hand-written 1-2-1 chain rule, the dict version and the engine: one answer."""
    values = [plain.DESIGN_INIT[n] for n in plain.DESIGN_NAMES_121]
    loss, grads = loss_and_gradient(Network((1, 2, 1)), values, plain.DESIGN_POINTS)
    l121, g121 = plain.loss_grad_121(plain.DESIGN_INIT, plain.DESIGN_POINTS)
    lgen, ggen = plain.loss_grad_generic((1, 2, 1), plain.DESIGN_INIT, plain.DESIGN_POINTS)
    assert l121 == pytest.approx(lgen, rel=1e-14)
    for k, name in enumerate(plain.DESIGN_NAMES_121):
        assert g121[name] == pytest.approx(ggen[name], rel=1e-12, abs=1e-16)
        assert grads[k] == pytest.approx(g121[name], rel=1e-12, abs=1e-16)
    assert loss == pytest.approx(l121, rel=1e-13)


def test_predict_matches_plain_forward():
    rng = np.random.default_rng(5)
    for layers in ARCHITECTURES:
        names = plain.names_for(layers)
        values = rng.normal(size=len(names))
        xs = rng.uniform(-2, 8, 7)
        got = predict(Network(layers), values, xs)
        want = [plain.predict_generic(layers, dict(zip(names, values.tolist())), float(x)) for x in xs]
        np.testing.assert_allclose(got, want, rtol=1e-13)


# ------------------------------------------------------------------ names, pack/unpack

def test_param_names_121_are_the_design_order():
    assert Network((1, 2, 1)).param_names == (
        "w11_1", "b1_1", "w12_1", "b2_1", "w11_2", "w21_2", "b1_2")


@pytest.mark.parametrize("layers,count", [((1, 3, 1), 10), ((1, 2, 2, 1), 13), ((1, 1), 2), ((1, 4, 3, 2, 1), 8 + 15 + 8 + 3)])
def test_param_name_counts(layers, count):
    names = Network(layers).param_names
    assert len(names) == count
    assert len(set(names)) == count
    assert list(names) == plain.names_for(layers)


@pytest.mark.parametrize("layers", ARCHITECTURES + [(1, 1), (1, 9, 9, 1), (1, 4, 3, 2, 1)],
                         ids=lambda l: "-".join(map(str, l)))
def test_every_name_reads_as_the_param_it_names_and_back(layers):
    names = plain.names_for(layers)   # written out independently, in the design's order
    params = Network(layers).params
    assert [str(param) for param in params] == names
    for name, param in zip(names, params):
        assert Param.parse(name) == param
        key = plain.key_of(name)   # ('w', l, i, j) or ('b', l, j)
        if key[0] == "w":
            assert (param.kind, param.l, param.i, param.j) == key
            assert param == Param.weight(key[2], key[3], key[1])
        else:
            assert (param.kind, param.l, param.j, param.i) == key + (None,)
            assert param == Param.bias(key[2], key[1])


@pytest.mark.parametrize("name,tex", [("w12_1", "w^{(1)}_{12}"), ("b2_1", "b^{(1)}_{2}"), ("w93_5", "w^{(5)}_{93}")])
def test_param_latex_is_the_lesson_s_notation(name, tex):
    assert Param.parse(name).latex == latex_name(name) == tex


@pytest.mark.parametrize("bad", ["x1_1", "a1_1", "z2_1", "w12", "w_1", "b_1", "", "w12_1 ", " w12_1", "w12_1\n",
                                 "W12_1", "w01_1", "w10_1", "w12_0", "w12_10", "w123_1", "w1_1", "b12_1", "b0_1",
                                 "w\uff11\uff12_1", "w12-1", None, 12, ("w", 1, 2, 1)])
def test_param_parse_refuses_what_is_not_a_parameter_name(bad):
    with pytest.raises(ValueError, match=r"not a parameter name .*" + re.escape(repr(bad))):
        Param.parse(bad)


@pytest.mark.parametrize("fields", [("w", 1, 2), ("b", 1, 2, 1), ("v", 1, 1), ("w", 1, 1, 0), ("b", 0, 1),
                                    ("b", 1, 10), ("w", 1, 1, 1.0)])
def test_a_param_without_a_lesson_name_cannot_be_made(fields):
    with pytest.raises(ValueError, match="not a parameter"):
        Param(*fields)


@pytest.mark.parametrize("layers", ARCHITECTURES, ids=lambda l: "-".join(map(str, l)))
def test_pack_unpack_round_trip_and_placement(layers):
    net = Network(layers)
    values = np.random.default_rng(7).normal(size=len(net.param_names))
    W, B = net.unpack(values)
    np.testing.assert_array_equal(net.pack(W, B), values)
    # W[l][i-1, j-1] holds w^{(l)}_{ij}, B[l][0, j-1] holds b^{(l)}_j (engine/network.py docstring)
    for name, value in zip(net.param_names, values):
        key = plain.key_of(name)
        if key[0] == "w":
            _, l, i, j = key
            assert W[l][i - 1, j - 1] == value, name
        else:
            _, l, j = key
            assert B[l][0, j - 1] == value, name


# ------------------------------------------------------------------ sigmoid

def test_sigmoid_matches_formula_for_moderate_z():
    z = np.linspace(-30, 30, 601)
    expected = np.array([1.0 / (1.0 + math.exp(-v)) for v in z])
    np.testing.assert_allclose(sigmoid(z), expected, rtol=1e-14, atol=1e-300)
    assert float(sigmoid(0.0)) == 0.5


@pytest.mark.parametrize("z", [1e4, -1e4, 800.0, -800.0, 710.0, -710.0, 745.2, -745.2])
def test_sigmoid_extremes_are_finite_and_raise_no_warning(z):
    # Underflow is left out on purpose: exp(-|z|) rounding to 0 for huge |z| *is* the right
    # answer (sigma = 0 or 1 exactly) and numpy ignores it by default. See the report.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            scalar = float(sigmoid(z))
            array = sigmoid(np.array([z, -z, 0.0, 3.0]))
    assert 0.0 <= scalar <= 1.0
    assert np.all(np.isfinite(array)) and np.all((array >= 0) & (array <= 1))
    assert scalar == (1.0 if z > 0 else pytest.approx(0.0, abs=1e-300))


def test_sigmoid_whole_range_in_unit_interval():
    z = np.concatenate([np.linspace(-1e4, 1e4, 20001), np.linspace(-50, 50, 10001)])
    with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
        s = sigmoid(z)
    assert np.all(np.isfinite(s))
    assert np.all((s >= 0) & (s <= 1))
    assert np.all(np.diff(s[:20001]) >= 0)  # monotone


# ------------------------------------------------------------------ LaTeX names

@pytest.mark.parametrize("name,tex", [
    ("w12_1", "w^{(1)}_{12}"),
    ("b2_1", "b^{(1)}_{2}"),
    ("a1_2", "a^{(2)}_{1}"),
    ("w11_1", "w^{(1)}_{11}"),
    ("w21_2", "w^{(2)}_{21}"),
    ("b1_2", "b^{(2)}_{1}"),
])
def test_latex_name(name, tex):
    assert latex_name(name) == tex


@pytest.mark.parametrize("bad", ["x1_1", "w12", "w_1", "", "w12_1 "])
def test_latex_name_rejects_non_names(bad):
    with pytest.raises(ValueError):
        latex_name(bad)
