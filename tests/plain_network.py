"""A second, deliberately plain implementation of the lesson's network, for the tests.

Nothing here imports the engine. Everything is pure Python floats and explicit
loops, written differently from engine/network.py on purpose:

* `loss_grad_121` spells out the 1-2-1 network of DESIGN §2 by hand, one
  sample at a time, one chain-rule factor per line;
* `loss_grad_generic` handles any shape with dictionaries keyed by
  ("w", l, i, j) and ("b", l, j) and per-sample, per-node loops.

Conventions are the DESIGN's: layer 0 is the input, w^{(l)}_{ij} goes from node
i of layer l-1 to node j of layer l, E = (1/n) sum (y - y_hat)^2 with no 1/2,
every gradient is the mean over the samples of the per-sample gradient, and the
loss of epoch e is computed with the parameters before that epoch's update.
"""

from __future__ import annotations

import math
import re

# ------------------------------------------------------------------ DESIGN §2 facts

DESIGN_POINTS = (
    (0.8, 0.0), (1.1, 0.0), (1.7, 0.0), (1.9, 0.0),
    (2.7, 1.0), (3.2, 1.0), (3.7, 1.0), (4.0, 1.0),
    (5.0, 0.0), (5.5, 0.0), (6.0, 0.0), (6.3, 0.0),
)
DESIGN_NAMES_121 = ("w11_1", "b1_1", "w12_1", "b2_1", "w11_2", "w21_2", "b1_2")
DESIGN_INIT = {"w11_1": 0.1, "b1_1": 0.6, "w12_1": 0.9, "b2_1": -1.5,
               "w11_2": 0.1, "w21_2": 0.9, "b1_2": 0.2}
DESIGN_LEARNING_RATE = 0.5
DESIGN_EPOCHS = 5000
DESIGN_DISPLAY_EVERY = 100


def sig(z: float) -> float:
    """sigma(z) = 1 / (1 + e^{-z}); the two branches keep math.exp from overflowing."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


def mse(ys, y_hats) -> float:
    """E = (1/n) sum (y - y_hat)^2, one term at a time."""
    total = 0.0
    for y, y_hat in zip(ys, y_hats):
        total += (y - y_hat) * (y - y_hat)
    return total / len(ys)


# ------------------------------------------------------------------ 1-2-1, by hand

def forward_121(p: dict, x: float) -> tuple[float, float, float]:
    """Hidden activations a^{(1)}_1, a^{(1)}_2 and the prediction a^{(2)}_1 for one x."""
    a1 = sig(p["w11_1"] * x + p["b1_1"])
    a2 = sig(p["w12_1"] * x + p["b2_1"])
    y_hat = sig(p["w11_2"] * a1 + p["w21_2"] * a2 + p["b1_2"])
    return a1, a2, y_hat


def loss_121(p: dict, points) -> float:
    """The MSE of the 1-2-1 network on the points."""
    return mse([y for _, y in points], [forward_121(p, x)[2] for x, _ in points])


def loss_grad_121(p: dict, points) -> tuple[float, dict]:
    """E and dE/d(each of the 7 parameters): per-sample chain rule, then the mean."""
    n = len(points)
    g = {name: 0.0 for name in DESIGN_NAMES_121}
    loss = 0.0
    for x, y in points:
        a1, a2, y_hat = forward_121(p, x)
        loss += (y - y_hat) ** 2
        # dE_k/dy_hat for this sample's squared error (the 1/n comes at the end)
        d_yhat = -2.0 * (y - y_hat)
        # y_hat = sigma(z_out): dy_hat/dz_out = y_hat (1 - y_hat)
        d_zout = d_yhat * y_hat * (1.0 - y_hat)
        # z_out = w11_2 a1 + w21_2 a2 + b1_2
        g["w11_2"] += d_zout * a1
        g["w21_2"] += d_zout * a2
        g["b1_2"] += d_zout * 1.0
        # a1 = sigma(z1), z1 = w11_1 x + b1_1; dz_out/da1 = w11_2
        d_z1 = d_zout * p["w11_2"] * a1 * (1.0 - a1)
        g["w11_1"] += d_z1 * x
        g["b1_1"] += d_z1 * 1.0
        # a2 = sigma(z2), z2 = w12_1 x + b2_1; dz_out/da2 = w21_2
        d_z2 = d_zout * p["w21_2"] * a2 * (1.0 - a2)
        g["w12_1"] += d_z2 * x
        g["b2_1"] += d_z2 * 1.0
    return loss / n, {name: value / n for name, value in g.items()}


# ------------------------------------------------------------------ any shape, with dicts

NAME = re.compile(r"^(w)(\d)(\d)_(\d)$|^(b)(\d)_(\d)$")


def names_for(layers) -> list[str]:
    """Parameter names in DESIGN order: layer by layer, node by node, its incoming weights then its bias."""
    names = []
    for l in range(1, len(layers)):
        for j in range(1, layers[l] + 1):
            for i in range(1, layers[l - 1] + 1):
                names.append("w%d%d_%d" % (i, j, l))
            names.append("b%d_%d" % (j, l))
    return names


def key_of(name: str) -> tuple:
    """'w12_1' -> ('w', 1, 1, 2) (kind, layer, from, to); 'b2_1' -> ('b', 1, 2)."""
    m = NAME.match(name)
    if m is None:
        raise ValueError(name)
    if m.group(1):
        return ("w", int(m.group(4)), int(m.group(2)), int(m.group(3)))
    return ("b", int(m.group(7)), int(m.group(6)))


def loss_grad_generic(layers, params: dict, points) -> tuple[float, dict]:
    """E and the mean gradient for any layer sizes; params and result keyed by name."""
    L = len(layers) - 1
    theta = {key_of(name): value for name, value in params.items()}
    grad = {key: 0.0 for key in theta}
    loss = 0.0
    for x, y in points:
        act = {(0, 1): float(x)}
        for l in range(1, L + 1):
            for j in range(1, layers[l] + 1):
                z = theta[("b", l, j)]
                for i in range(1, layers[l - 1] + 1):
                    z += theta[("w", l, i, j)] * act[(l - 1, i)]
                act[(l, j)] = sig(z)
        y_hat = act[(L, 1)]
        loss += (y - y_hat) ** 2
        # delta[(l, j)] = dE_k/dz^{(l)}_j for this sample
        delta = {(L, 1): -2.0 * (y - y_hat) * y_hat * (1.0 - y_hat)}
        for l in range(L, 0, -1):
            for j in range(1, layers[l] + 1):
                grad[("b", l, j)] += delta[(l, j)]
                for i in range(1, layers[l - 1] + 1):
                    grad[("w", l, i, j)] += delta[(l, j)] * act[(l - 1, i)]
            if l > 1:
                for i in range(1, layers[l - 1] + 1):
                    through = 0.0
                    for j in range(1, layers[l] + 1):
                        through += theta[("w", l, i, j)] * delta[(l, j)]
                    a = act[(l - 1, i)]
                    delta[(l - 1, i)] = through * a * (1.0 - a)
    n = len(points)
    return loss / n, {name: grad[key_of(name)] / n for name in params}


def loss_generic(layers, params: dict, points) -> float:
    return loss_grad_generic(layers, params, points)[0]


def predict_generic(layers, params: dict, x: float) -> float:
    """The prediction for one x (forward pass only, via a one-sample loss call would be wasteful)."""
    theta = {key_of(name): value for name, value in params.items()}
    act = {(0, 1): float(x)}
    for l in range(1, len(layers)):
        for j in range(1, layers[l] + 1):
            z = theta[("b", l, j)]
            for i in range(1, layers[l - 1] + 1):
                z += theta[("w", l, i, j)] * act[(l - 1, i)]
            act[(l, j)] = sig(z)
    return act[(len(layers) - 1, 1)]


# ------------------------------------------------------------------ gradient descent

def plain_train(loss_grad, init: dict, learning_rate: float, epochs: int, keep=()) -> dict:
    """Full-batch gradient descent.

    `loss_grad(params) -> (E, grads)`. Returns {"losses": [...], "snapshots": {epoch: (loss,
    params, grads)} for the epochs in `keep`, "final_params": {...}, "final_loss": E}.
    """
    keep = set(keep)
    params = dict(init)
    losses, snapshots = [], {}
    for epoch in range(1, epochs + 1):
        loss, grads = loss_grad(params)          # loss of epoch e: before its update
        losses.append(loss)
        if epoch in keep:
            snapshots[epoch] = (loss, dict(params), dict(grads))
        params = {name: params[name] - learning_rate * grads[name] for name in params}
    final_loss, _ = loss_grad(params)
    return {"losses": losses, "snapshots": snapshots, "final_params": params, "final_loss": final_loss}


def expected_snapshot_epochs(epochs: int, every: int) -> list[int]:
    """Epoch 1, every `every`-th epoch, and the last one (DESIGN §2, §4), by counting."""
    out = [1]
    e = every
    while e <= epochs:
        if e != 1:
            out.append(e)
        e += every
    if out[-1] != epochs:
        out.append(epochs)
    return out
