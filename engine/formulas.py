"""Every formula the pages show, with its numbers, and a check that the numbers are right.

A `Formula` holds the LaTeX a reader sees (symbolic, and with the numbers of
one moment plugged in), the value that arithmetic gives, and the value the
engine computed for the same quantity by its own route (`network.forward` and
`network.backward`, which work on whole matrices). `check` fails the build if
the two disagree: the formulas are derived here a second time, node by node
and path by path, exactly as the lesson's text derives them.

Per sample k the loss is E_k = (y_k - y-hat_k)^2 and E is their mean, so every
gradient is the mean over the samples of a product of local derivatives taken
along the paths from the parameter to the output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from engine.network import Network, backward, forward, latex_name, loss_and_gradient, mse, predict

TOLERANCE = 1e-9


class FormulaMismatch(Exception):
    """A value shown on the page disagrees with the engine; str() names the formula."""


@dataclass(frozen=True)
class Formula:
    """One formula: what it means, its numbers, and the engine's values to check them against."""

    id: str
    symbolic: str
    numeric: str
    value: float
    checks: tuple[tuple[str, float, float], ...]  # (what, value shown, engine's value)
    card: str = ""   # the numeric form a diagram card shows, if not `numeric`: the sample's index is a slot too
    mean: str = ""   # gradients of parameters: the card's form for the mean over all samples


def num(value: float, key: str | None = None, result: bool = False, digits: int = 4, whole: bool = False) -> str:
    """A number for a formula, `digits` significant; negatives in parentheses unless it is a result.

    `key` names the quantity (p:w11_1, a:1_1, g:b1_2, ...) so that the page's
    script can show the same formula at another snapshot or for another sample
    (see lesson.js); a `whole` number (a sample's index k, its label y) keeps no decimals.
    """
    if whole or value == 0 or not math.isfinite(value) or (key is None and value == int(value)):
        text = f"{value:g}"  # fixed numbers such as y = 1 or dz/db = 1 need no decimals
    else:
        decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(value)))))
        text = f"{value:.{decimals}f}"
    text = f"({text})" if text.startswith("-") and not result else text
    if key is None:
        return text
    return f"\\data{{slot={key}{', result=1' if result else ''}{', whole=1' if whole else ''}}}{{{text}}}"


def k_slot(k: int) -> str:
    """The index of the sample a card's numbers belong to, which the reader can change."""
    return num(k, "k", result=True, whole=True)


def slot(letter: str, layer: int, node: int) -> str:
    """The key of a node quantity: a:1_1 is a^{(1)}_1 of the example sample (a:1_0 is x)."""
    return f"{letter}:{node}_{layer}"


def sigma(z: float) -> float:
    """The logistic function on one number, written as in the text."""
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


# ---------------------------------------------------------------- forward

@dataclass(frozen=True)
class NodeValues:
    """z and a of every node for one input, computed one node at a time."""

    z: dict[tuple[int, int], float]   # (layer, node) -> z, layers from 1
    a: dict[tuple[int, int], float]   # (layer, node) -> a, layer 0 is the input


def param(values: dict[str, float], letter: str, index: str, layer: int) -> float:
    """A parameter's value by its lesson name, e.g. ('w', '12', 1) -> w12_1."""
    return values[f"{letter}{index}_{layer}"]


def node_values(network: Network, values: dict[str, float], x: float) -> NodeValues:
    """z^{(l)}_j = sum_i w^{(l)}_{ij} a^{(l-1)}_i + b^{(l)}_j and a = sigma(z), node by node."""
    z, a = {}, {(0, 1): x}
    for l in range(1, network.depth + 1):
        for j in range(1, network.layers[l] + 1):
            z[l, j] = sum(param(values, "w", f"{i}{j}", l) * a[l - 1, i]
                          for i in range(1, network.layers[l - 1] + 1)) + param(values, "b", str(j), l)
            a[l, j] = sigma(z[l, j])
    return NodeValues(z, a)


def node_latex(l: int, j: int) -> str:
    """LaTeX of node j of layer l: the input x, or a^{(l)}_j."""
    return "x" if l == 0 else latex_name(f"a{j}_{l}")


def forward_formulas(network: Network, values: dict[str, float], x: float) -> list[Formula]:
    """For each non-input node: z as a weighted sum plus bias, then a = sigma(z)."""
    nodes = node_values(network, values, x)
    W, B = network.unpack([values[name] for name in network.param_names])
    engine_a = forward(W, B, [x])
    formulas = []
    for l in range(1, network.depth + 1):
        inputs = range(1, network.layers[l - 1] + 1)
        for j in range(1, network.layers[l] + 1):
            z_name, a_name = latex_name(f"z{j}_{l}"), latex_name(f"a{j}_{l}")
            terms = " + ".join(f"{latex_name(f'w{i}{j}_{l}')}\\,{node_latex(l - 1, i)}" for i in inputs)
            products = [f"{num(param(values, 'w', f'{i}{j}', l), f'p:w{i}{j}_{l}')}\\cdot "
                        f"{num(nodes.a[l - 1, i], slot('a', l - 1, i))}" for i in inputs]
            bias = latex_name(f"b{j}_{l}")
            z, a = nodes.z[l, j], nodes.a[l, j]
            symbolic = (f"\\begin{{aligned}} {z_name} &= {terms} + {bias} \\\\ "
                        f"{a_name} &= \\sigma({z_name}) = \\frac{{1}}{{1 + e^{{-{z_name}}}}} \\end{{aligned}}")
            bias_number = num(param(values, 'b', str(j), l), f'p:b{j}_{l}')
            numeric = aligned(f"{z_name} &= {in_rows(products + [bias_number], ' + ', 2)}",
                              f"&= {num(z, slot('z', l, j), result=True)}",
                              f"{a_name} &= \\sigma({num(z, slot('z', l, j), result=True)}) "
                              f"= {num(a, slot('a', l, j), result=True)}")
            formulas.append(Formula(f"node-a{j}_{l}", symbolic, numeric, a,
                                    ((f"{a_name} at x = {x}", a, float(engine_a[l][0, j - 1])),)))
    return formulas


def input_formula(x: float, k: int, points) -> Formula:
    """The input node: x is the size of sample k."""
    return Formula("node-x", "a^{(0)}_{1} = x_k", f"x_{{{k}}} = {num(x)}", x,
                   ((f"x of sample {k}", x, float(points[k - 1][0])),),
                   card=f"x_{{{k_slot(k)}}} = {num(x, slot('a', 0, 1), result=True)}")


def term_formulas(network: Network, values: dict[str, float], x: float) -> list[Formula]:
    """What each weight and bias adds to the z of the node it feeds, for one input."""
    nodes = node_values(network, values, x)
    W, B = network.unpack([values[name] for name in network.param_names])
    engine_a = forward(W, B, [x])
    formulas = []
    for name in network.param_names:
        l, j = param_node(name)
        z_name = latex_name(f"z{j}_{l}")
        inputs = range(1, network.layers[l - 1] + 1)
        parts = [f"{latex_name(f'w{i}{j}_{l}')}\\,{node_latex(l - 1, i)}" for i in inputs]
        parts.append(latex_name(f"b{j}_{l}"))
        if name.startswith("w"):
            i = int(name[1])
            parts[i - 1] = f"\\textcolor{{#c2410c}}{{{parts[i - 1]}}}"
            value = values[name] * nodes.a[l - 1, i]
            numeric = (f"{latex_name(name)}\\,{node_latex(l - 1, i)} = "
                       f"{num(values[name], f'p:{name}')}\\cdot {num(nodes.a[l - 1, i], slot('a', l - 1, i))} "
                       f"= {num(value, f't:{name}', result=True)}")
            expected = float(W[l][i - 1, j - 1] * engine_a[l - 1][0, i - 1])
        else:
            parts[-1] = f"\\textcolor{{#c2410c}}{{{parts[-1]}}}"
            value = values[name]
            numeric = f"{latex_name(name)} = {num(value, f'p:{name}', result=True)}"
            expected = float(B[l][0, j - 1])
        formulas.append(Formula(f"term-{name}", f"{z_name} = {' + '.join(parts)}", numeric, value,
                                ((f"term {name}", value, expected),)))
    return formulas


# ---------------------------------------------------------------- backward

@dataclass(frozen=True)
class Factor:
    """One local derivative on a path: its LaTeX and its value for one sample."""

    tex: str
    value: float
    key: str | None = None   # the quantity's slot key, if it changes with the parameters


def paths_to_output(network: Network, l: int, j: int) -> list[list[tuple[int, int]]]:
    """Every path of nodes from node j of layer l up to the output node (L, 1)."""
    if l == network.depth:
        return [[(l, j)]]
    return [[(l, j)] + rest
            for m in range(1, network.layers[l + 1] + 1)
            for rest in paths_to_output(network, l + 1, m)]


def partial(top: str, bottom: str) -> str:
    """LaTeX of the partial derivative d top / d bottom."""
    return f"\\frac{{\\partial {top}}}{{\\partial {bottom}}}"


def upstream_factors(values: dict[str, float], nodes: NodeValues, y: float,
                     path: list[tuple[int, int]]) -> list[Factor]:
    """The local derivatives from E_k down to the first node's a along one path to the output."""
    y_hat = nodes.a[path[-1]]
    factors = [Factor(partial("E_k", "\\hat y"), -2 * (y - y_hat), "dy")]
    for k in range(len(path) - 1, 0, -1):
        (l, j), (l_low, i) = path[k], path[k - 1]
        a = nodes.a[l, j]
        factors.append(Factor(partial(latex_name(f"a{j}_{l}"), latex_name(f"z{j}_{l}")), a * (1 - a), slot("s", l, j)))
        # one edge down: dz^{(l)}_j / da^{(l-1)}_i = w^{(l)}_{ij}
        factors.append(Factor(partial(latex_name(f"z{j}_{l}"), node_latex(l_low, i)), values[f"w{i}{j}_{l}"],
                              f"p:w{i}{j}_{l}"))
    return factors


def path_factors(values: dict[str, float], nodes: NodeValues, y: float, name: str,
                 path: list[tuple[int, int]]) -> list[Factor]:
    """The local derivatives of E_k along one path, from the output down to the parameter."""
    l, j = path[0]
    a = nodes.a[l, j]
    factors = upstream_factors(values, nodes, y, path)
    factors.append(Factor(partial(latex_name(f"a{j}_{l}"), latex_name(f"z{j}_{l}")), a * (1 - a), slot("s", l, j)))
    if name.startswith("w"):  # dz^{(l)}_j / dw^{(l)}_{ij} = a^{(l-1)}_i, the input the weight multiplies
        i = int(name[1])
        factors.append(Factor(partial(latex_name(f"z{j}_{l}"), latex_name(name)), nodes.a[l - 1, i],
                              slot("a", l - 1, i)))
    else:                     # dz^{(l)}_j / db^{(l)}_j = 1
        factors.append(Factor(partial(latex_name(f"z{j}_{l}"), latex_name(name)), 1.0))
    return factors


PATH_BREAK = " \\\\ &\\quad + "  # inside `aligned`: each further path on a line of its own


def sum_of_paths(paths: list[list[Factor]]) -> tuple[str, float]:
    """LaTeX of a sum over paths of products of symbols, one path a line, and its value."""
    symbols = PATH_BREAK.join("\\,".join(f.tex for f in factors) for factors in paths)
    return symbols, math.fsum(math.prod(f.value for f in factors) for factors in paths)


def aligned(*rows: str) -> str:
    """Rows of an `aligned` block, each already holding its `&`."""
    return "\\begin{aligned} " + " \\\\ ".join(rows) + " \\end{aligned}"


def node_gradient_formulas(network: Network, values: dict[str, float], x: float, y: float,
                           k: int) -> list[Formula]:
    """For each node, dE_k/da for sample k: the paths from the node to the loss, added up."""
    params = [values[name] for name in network.param_names]
    W, B = network.unpack(params)
    _, _, engine = backward(W, forward(W, B, [x]), [y])
    nodes = node_values(network, values, x)
    formulas = []
    for l in range(0, network.depth + 1):
        for j in range(1, network.layers[l] + 1):
            paths = [upstream_factors(values, nodes, y, path) for path in paths_to_output(network, l, j)]
            symbols, value = sum_of_paths(paths)
            target = node_latex(l, j)
            if l == network.depth:
                symbols = "-2\\,(y_k - \\hat y_k)"
            result = num(value, slot("d", l, j), result=True)

            def numeric(k_tex: str, y_tex: str) -> str:
                said = (f"-2\\,({y_tex} - {num(nodes.a[l, j], slot('a', l, j))})" if l == network.depth
                        else chain_rows(paths))
                return aligned(f"{partial(f'E_{{{k_tex}}}', target)} &= {said}", f"&= {result}")
            formulas.append(Formula(
                "grad-x" if l == 0 else f"grad-a{j}_{l}",
                aligned(f"{partial('E_k', target)} &= {symbols}"), numeric(str(k), num(y)),
                value, ((f"dE_{k}/d{target}", value, float(engine[l][0, j - 1])),),
                card=numeric(k_slot(k), num(y, "y", whole=True))))
    return formulas


def param_node(name: str) -> tuple[int, int]:
    """The (layer, node) a parameter belongs to: w12_1 -> (1, 2), b1_2 -> (2, 1)."""
    body, layer = name[1:].split("_")
    return int(layer), int(body[-1])


def sample_gradient(network: Network, values: dict[str, float], nodes: NodeValues, y: float, name: str):
    """dE_k/d(name) for one sample (its node values and label): the sum over paths of products."""
    paths = [path_factors(values, nodes, y, name, path) for path in paths_to_output(network, *param_node(name))]
    return paths, sum(math.prod(f.value for f in factors) for factors in paths)


def gradient_formulas(network: Network, values: dict[str, float], points: Sequence[tuple[float, float]],
                      example: int) -> list[Formula]:
    """For each parameter: dE/d(parameter) as a mean of per-sample path products, with sample `example`'s numbers."""
    params = [values[name] for name in network.param_names]
    _, engine_grads = loss_and_gradient(network, params, points)
    _, engine_example = loss_and_gradient(network, params, [points[example]])
    n = len(points)
    samples = [node_values(network, values, x) for x, _ in points]  # z and a of every node, once per sample
    formulas = []
    for p, name in enumerate(network.param_names):
        per_sample = [sample_gradient(network, values, nodes, y, name)[1] for nodes, (_, y) in zip(samples, points)]
        mean = math.fsum(per_sample) / n
        paths, value_k = sample_gradient(network, values, samples[example], points[example][1], name)
        target = latex_name(name)
        products, _ = sum_of_paths(paths)
        k = example + 1
        symbolic = aligned(
            f"{partial('E', target)} &= \\frac{{1}}{{n}} \\sum_{{k=1}}^{{n}} {partial('E_k', target)}",
            f"{partial('E_k', target)} &= {products}")
        def sample(k_tex: str) -> list[str]:   # one sample's product, its result on a line of its own
            return [f"{partial(f'E_{{{k_tex}}}', target)} &= {chain_rows(paths)}",
                    f"&= {num(value_k, f'gk:{name}', result=True)}"]
        numeric = aligned(*sample(str(k)),
                          f"{partial('E', target)} &= \\frac{{1}}{{{n}}} \\sum_{{k=1}}^{{{n}}} {partial('E_k', target)} "
                          f"= {num(mean, f'g:{name}', result=True)}")
        card = aligned(*sample(k_slot(k)))
        formulas.append(Formula(f"grad-{name}", symbolic, numeric, mean, (
            (f"dE_{k}/d{name}", value_k, float(engine_example[p])),
            (f"dE/d{name}", mean, float(engine_grads[p])),
        ), card=card, mean=mean_card(target, name, per_sample, mean)))
    return formulas


def in_rows(terms: list[str], joiner: str, per_row: int) -> str:
    """Terms joined by an operator (" + ", "\\cdot "), `per_row` to a line of an `aligned` block: a phone's
    screen holds about 340 CSS px of formula."""
    rows = [joiner.join(terms[start:start + per_row]) for start in range(0, len(terms), per_row)]
    return f" \\\\ &\\quad{joiner}".join(rows)


def chain_rows(paths: list[list[Factor]], per_row: int = 3) -> str:
    """The numbers of each path's product, `per_row` factors to a line, each path on lines of its own."""
    return PATH_BREAK.join(in_rows([num(f.value, f.key) for f in factors], "\\cdot ", per_row) for factors in paths)


def mean_card(target: str, name: str, per_sample: list[float], mean: float) -> str:
    """dE/d(name) = (1/n)(dE_1 + ... + dE_n), every sample's gradient written out, two to a line (a card is narrow)."""
    n = len(per_sample)
    terms = [num(value, f"g{k}:{name}") for k, value in enumerate(per_sample, start=1)]
    return aligned(f"{partial('E', target)} &= \\tfrac{{1}}{{{n}}}\\big({in_rows(terms, ' + ', 2)}\\big)",
                   f"&= {num(mean, f'g:{name}', result=True)}")


def local_derivatives(network: Network, values: dict[str, float], nodes: NodeValues, y: float) -> dict[str, float]:
    """Every local derivative a path of the backward diagram can use, by slot key, for one sample:
    dE_k/dy-hat (dy), sigma'(z) = a(1 - a) of each node (s:j_l), each weight (p:name), each node's a (a:j_l)."""
    out = {"dy": -2 * (y - nodes.a[network.depth, 1])}
    for (l, j), a in nodes.a.items():
        out[slot("a", l, j)] = a
        if l > 0:
            out[slot("s", l, j)] = a * (1 - a)
    for name in network.param_names:
        out[f"p:{name}"] = values[name]
    return out


# ---------------------------------------------------------------- checks

def finite_difference(network: Network, params: Sequence[float], points, p: int, h: float = 1e-6) -> float:
    """Central difference (E(theta + h) - E(theta - h)) / 2h for parameter p."""
    x, y = np.asarray(points, dtype=float).T
    up, down = np.array(params, dtype=float), np.array(params, dtype=float)
    up[p] += h
    down[p] -= h
    return (mse(y, predict(network, up, x)) - mse(y, predict(network, down, x))) / (2 * h)


def relative_error(a: float, b: float) -> float:
    """|a - b| relative to the larger of the two (0 when both are 0)."""
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale > 0 else 0.0


def check(formulas: Sequence[Formula], tolerance: float = TOLERANCE) -> None:
    """Fail if any value shown disagrees with the engine by more than `tolerance` (relative)."""
    for formula in formulas:
        for what, shown, engine in formula.checks:
            if abs(shown - engine) > tolerance * max(abs(shown), abs(engine)) + 1e-300:
                raise FormulaMismatch(f"formula {formula.id}: {what} is {shown!r} on the page "
                                      f"but {engine!r} by backprop (relative error "
                                      f"{relative_error(shown, engine):.2e} > {tolerance:g})")


# ---------------------------------------------------------------- the lesson's set

def example_sample(points) -> int:
    """The sample the worked examples use: the first one that fits (y = 1), else the first."""
    return next((k for k, (_, y) in enumerate(points) if y >= 0.5), 0)


def lesson_formulas(network: Network, values: dict[str, float], points) -> dict[str, Formula]:
    """Every formula of the diagrams and the derivation for one set of parameters, checked."""
    example = example_sample(points)
    x, y = points[example]
    formulas = [input_formula(x, example + 1, points)]
    formulas += forward_formulas(network, values, x)
    formulas += term_formulas(network, values, x)
    formulas += node_gradient_formulas(network, values, x, y, example + 1)
    formulas += gradient_formulas(network, values, points, example)
    check(formulas)
    return {formula.id: formula for formula in formulas}


@dataclass(frozen=True)
class GradientCheck:
    """Backprop against central finite differences for one parameter."""

    name: str
    backprop: float
    numeric: float
    error: float


def gradient_checks(network: Network, params: Sequence[float], points) -> list[GradientCheck]:
    """dE/d(parameter) by backprop and by central differences, with their relative error."""
    _, grads = loss_and_gradient(network, params, points)
    checks = []
    for p, name in enumerate(network.param_names):
        numeric = finite_difference(network, params, points, p)
        checks.append(GradientCheck(name, float(grads[p]), numeric, relative_error(float(grads[p]), numeric)))
    return checks
