"""Forward and backward pass of a small fully connected sigmoid network.

This is the network of the lesson: layer 0 is the input x, layers 1..L are
sigmoid units, and the prediction is the single output y-hat = a^{(L)}_1.
Each non-input node j of layer l computes

    z^{(l)}_j = sum_i w^{(l)}_{ij} a^{(l-1)}_i + b^{(l)}_j,    a^{(l)}_j = sigma(z^{(l)}_j)

and the loss is the mean squared error E = (1/n) sum_k (y_k - y-hat_k)^2.

All samples go through at once: a^{(l)} is an array with one row per sample
and one column per node, so the sums over i become matrix products. The
text's indices start at 1 and numpy's at 0, so W[l][i-1, j-1] holds
w^{(l)}_{ij} and B[l][0, j-1] holds b^{(l)}_j (a one-row matrix, added to
every sample's row); W[0] and B[0] are unused so that W[l] is layer l, as in
the text. The same code also trains several networks side by side: put a
leading axis on W and B (one entry per network) and every product below
runs for all of them at once; `.mT` transposes the last two axes.

Left out on purpose: other activations, other losses, mini-batches. The
lesson needs none of them, and each line here should match a line of the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
import numpy as np


def sigmoid(z):
    """sigma(z) = 1 / (1 + e^{-z}), for any z."""
    # For z below about -709, e^{-z} overflows to infinity and 1 / (1 + inf)
    # is 0: the right answer to the last bit a float holds, so no warning.
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-np.asarray(z, dtype=float)))


def sigmoid_prime(a):
    """sigma'(z) written with a = sigma(z): sigma'(z) = a (1 - a)."""
    return a * (1 - a)


# A parameter's lesson name: w{i}{j}_{l} or b{j}_{l}, one digit per index (nodes 1 to 9, engine/config.py).
PARAM_NAME = re.compile(r"w([1-9])([1-9])_([1-9])|b([1-9])_([1-9])")


@dataclass(frozen=True)
class Param:
    """One parameter of the network, as the lesson names it.

    w{i}{j}_{l} is the weight of layer l on the arrow from node i of layer l-1
    to node j of layer l, and b{j}_{l} the bias of node j of layer l. The name
    is what the user sees (the keys of [init], of run.json); the fields are what
    the code needs. `Param.parse` is the one place that reads a name.
    """

    kind: str             # "w" or "b"
    l: int                # the layer it belongs to (from 1)
    j: int                # the node of layer l it feeds
    i: int | None = None  # a weight's node of layer l-1, where its arrow starts (None for a bias)

    def __post_init__(self):
        """Refuse what has no lesson name: str() always gives a name that `parse` reads back."""
        indices = (self.l, self.j) if self.i is None else (self.l, self.j, self.i)
        if self.kind not in ("w", "b") or (self.kind == "w") != (self.i is not None) \
                or not all(isinstance(n, int) and 1 <= n <= 9 for n in indices):
            raise ValueError(f"not a parameter: {self!r}")

    @classmethod
    def weight(cls, i: int, j: int, l: int) -> Param:
        """w^{(l)}_{ij}, from node i of layer l-1 to node j of layer l."""
        return cls("w", l, j, i)

    @classmethod
    def bias(cls, j: int, l: int) -> Param:
        """b^{(l)}_j, the bias of node j of layer l."""
        return cls("b", l, j)

    @classmethod
    def parse(cls, name: str) -> Param:
        """The parameter a lesson name names: "w12_1" -> Param.weight(1, 2, 1); a ValueError for anything else."""
        match = PARAM_NAME.fullmatch(name) if isinstance(name, str) else None
        if match is None:
            raise ValueError(f"not a parameter name (w{{i}}{{j}}_{{l}} or b{{j}}_{{l}}, each index 1 to 9): {name!r}")
        i, j, l, bias_j, bias_l = match.groups()
        return cls.weight(int(i), int(j), int(l)) if i else cls.bias(int(bias_j), int(bias_l))

    @property
    def index(self) -> str:
        """The subscript: ij for a weight, j for a bias."""
        return f"{self.j}" if self.i is None else f"{self.i}{self.j}"

    def __str__(self) -> str:
        """The lesson name: w12_1, b2_1."""
        return f"{self.kind}{self.index}_{self.l}"

    @property
    def latex(self) -> str:
        """The TeX name: w^{(1)}_{12}, b^{(1)}_{2}."""
        return f"{self.kind}^{{({self.l})}}_{{{self.index}}}"


@dataclass(frozen=True)
class Network:
    """A fully connected sigmoid network; `layers` counts the nodes per layer."""

    layers: tuple[int, ...]

    @property
    def depth(self) -> int:
        """L, the number of the output layer (the input is layer 0)."""
        return len(self.layers) - 1

    @cached_property
    def params(self) -> tuple[Param, ...]:
        """Every parameter in the lesson's order: node by node, its weights then its bias."""
        params = []
        for l in range(1, self.depth + 1):
            for j in range(1, self.layers[l] + 1):
                params += [Param.weight(i, j, l) for i in range(1, self.layers[l - 1] + 1)]
                params.append(Param.bias(j, l))
        return tuple(params)

    @cached_property
    def param_names(self) -> tuple[str, ...]:
        """The parameters' lesson names, in the same order: the keys of [init] and of run.json."""
        return tuple(str(param) for param in self.params)

    def unpack(self, values):
        """Turn parameters in the lesson's order into per-layer W and B arrays.

        `values` is one vector, or a matrix with one row per network.
        """
        values = np.asarray(values, dtype=float)
        batch = values.shape[:-1]
        W, B = [None], [None]
        k = 0
        for l in range(1, self.depth + 1):
            n_in, n_out = self.layers[l - 1], self.layers[l]
            W.append(np.empty(batch + (n_in, n_out)))
            B.append(np.empty(batch + (1, n_out)))
            for j in range(n_out):
                W[l][..., :, j] = values[..., k:k + n_in]
                B[l][..., 0, j] = values[..., k + n_in]
                k += n_in + 1
        return W, B

    def pack(self, W, B) -> np.ndarray:
        """Flatten per-layer W and B arrays back into the lesson's order."""
        parts = []
        for l in range(1, self.depth + 1):
            for j in range(self.layers[l]):
                parts.append(W[l][..., :, j])
                parts.append(B[l][..., 0, j:j + 1])
        return np.concatenate(parts, axis=-1)


def forward(W, B, x):
    """Activations a^{(0)} ... a^{(L)}: a list of arrays, one row per sample."""
    a = [np.asarray(x, dtype=float)[:, None]]        # a^{(0)} is the input x
    for l in range(1, len(W)):
        z = a[l - 1] @ W[l] + B[l]                   # z_j = sum_i w_ij a_i + b_j
        a.append(sigmoid(z))
    return a


def mse(y, y_hat) -> float:
    """E = (1/n) sum_k (y_k - y-hat_k)^2."""
    return float(np.mean((np.asarray(y) - y_hat) ** 2))


def backward(W, a, y):
    """Chain rule from the output down: dE/dW, dE/dB and dE/da for every layer."""
    y = np.asarray(y, dtype=float)[:, None]
    n = len(y)
    L = len(W) - 1
    dW, dB, dA = [None] * (L + 1), [None] * (L + 1), [None] * (L + 1)
    # dE/dy-hat for each sample; the 1/n is there because E is a mean.
    dA[L] = -(2 / n) * (y - a[L])
    for l in range(L, 0, -1):
        # delta_j = dE/dz_j = dE/da_j * sigma'(z_j), one row per sample
        delta = dA[l] * sigmoid_prime(a[l])
        dW[l] = a[l - 1].mT @ delta  # dE/dw_ij = sum over samples of a_i delta_j
        dB[l] = delta.sum(axis=-2, keepdims=True)  # dE/db_j = sum of delta_j
        # A node feeds every node of the next layer, so its gradient adds up
        # the paths through all of them: dE/da_i = sum_j w_ij delta_j.
        dA[l - 1] = delta @ W[l].mT
    return dW, dB, dA


def loss_and_gradient(network: Network, values, points):
    """E, and dE/d(parameter) for every parameter in the lesson's order."""
    x, y = np.asarray(points, dtype=float).T
    W, B = network.unpack(values)
    a = forward(W, B, x)
    dW, dB, _ = backward(W, a, y)
    return mse(y, a[-1][:, 0]), network.pack(dW, dB)


def predict(network: Network, values, x) -> np.ndarray:
    """The network's output y-hat for each input x."""
    W, B = network.unpack(values)
    return forward(W, B, x)[-1][:, 0]


NODE_NAME = re.compile(r"([az])([1-9])_([1-9])")   # a node's z or a: z2_1 is z^{(1)}_2


def latex_name(name: str) -> str:
    """LaTeX of a lesson name: a parameter (w12_1 -> w^{(1)}_{12}) or a node's z or a (a1_2 -> a^{(2)}_{1})."""
    node = NODE_NAME.fullmatch(name)
    if node is None:
        try:
            return Param.parse(name).latex
        except ValueError:
            raise ValueError(f"not a parameter or node name: {name!r}") from None
    letter, j, l = node.groups()
    return f"{letter}^{{({l})}}_{{{j}}}"
