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

from engine.network import Network, Param, backward, forward, latex_name, loss_and_gradient, mse, predict

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


def node_values(network: Network, values: dict[str, float], x: float) -> NodeValues:
    """z^{(l)}_j = sum_i w^{(l)}_{ij} a^{(l-1)}_i + b^{(l)}_j and a = sigma(z), node by node."""
    z, a = {}, {(0, 1): x}
    for l in range(1, network.depth + 1):
        for j in range(1, network.layers[l] + 1):
            z[l, j] = sum(values[str(Param.weight(i, j, l))] * a[l - 1, i]
                          for i in range(1, network.layers[l - 1] + 1)) + values[str(Param.bias(j, l))]
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
            weights, bias = [Param.weight(i, j, l) for i in inputs], Param.bias(j, l)
            z_name, a_name = latex_name(f"z{j}_{l}"), latex_name(f"a{j}_{l}")
            terms = [f"{w.latex}\\,{node_latex(l - 1, w.i)}" for w in weights]
            products = [f"{num(values[str(w)], f'p:{w}')}\\cdot "
                        f"{num(nodes.a[l - 1, w.i], slot('a', l - 1, w.i))}" for w in weights]
            z, a = nodes.z[l, j], nodes.a[l, j]
            # A phone shows about three terms in symbols, two products in numbers (one if a wide layer feeds it).
            per_row = 2 if len(inputs) <= 2 else 1
            symbolic = (f"\\begin{{aligned}} {z_name} &= {in_rows(terms + [bias.latex], ' + ', 3)} \\\\ "
                        f"{a_name} &= \\sigma({z_name}) = \\frac{{1}}{{1 + e^{{-{z_name}}}}} \\end{{aligned}}")
            bias_number = num(values[str(bias)], f"p:{bias}")
            numeric = aligned(f"{z_name} &= {in_rows(products + [bias_number], ' + ', per_row)}",
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
    for param in network.params:
        name, l, j = str(param), param.l, param.j
        z_name = latex_name(f"z{j}_{l}")
        inputs = range(1, network.layers[l - 1] + 1)
        parts = [f"{Param.weight(i, j, l).latex}\\,{node_latex(l - 1, i)}" for i in inputs]
        parts.append(Param.bias(j, l).latex)
        if param.kind == "w":
            i = param.i
            parts[i - 1] = f"\\textcolor{{#c2410c}}{{{parts[i - 1]}}}"
            value = values[name] * nodes.a[l - 1, i]
            numeric = (f"{param.latex}\\,{node_latex(l - 1, i)} = "
                       f"{num(values[name], f'p:{name}')}\\cdot {num(nodes.a[l - 1, i], slot('a', l - 1, i))} "
                       f"= {num(value, f't:{name}', result=True)}")
            expected = float(W[l][i - 1, j - 1] * engine_a[l - 1][0, i - 1])
        else:
            parts[-1] = f"\\textcolor{{#c2410c}}{{{parts[-1]}}}"
            value = values[name]
            numeric = f"{param.latex} = {num(value, f'p:{name}', result=True)}"
            expected = float(B[l][0, j - 1])
        # A wide layer's sum on rows of three terms (a card is as narrow as a phone).
        sum_tex = f"{z_name} = {' + '.join(parts)}" if len(parts) <= 3 else aligned(f"{z_name} &= {in_rows(parts, ' + ', 3)}")
        formulas.append(Formula(f"term-{name}", sum_tex, numeric, value,
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
        weight = Param.weight(i, j, l)
        factors.append(Factor(partial(latex_name(f"z{j}_{l}"), node_latex(l_low, i)), values[str(weight)],
                              f"p:{weight}"))
    return factors


def path_factors(values: dict[str, float], nodes: NodeValues, y: float, param: Param,
                 path: list[tuple[int, int]]) -> list[Factor]:
    """The local derivatives of E_k along one path, from the output down to the parameter."""
    l, j = path[0]
    a = nodes.a[l, j]
    factors = upstream_factors(values, nodes, y, path)
    factors.append(Factor(partial(latex_name(f"a{j}_{l}"), latex_name(f"z{j}_{l}")), a * (1 - a), slot("s", l, j)))
    if param.kind == "w":  # dz^{(l)}_j / dw^{(l)}_{ij} = a^{(l-1)}_i, the input the weight multiplies
        factors.append(Factor(partial(latex_name(f"z{j}_{l}"), param.latex), nodes.a[l - 1, param.i],
                              slot("a", l - 1, param.i)))
    else:                  # dz^{(l)}_j / db^{(l)}_j = 1
        factors.append(Factor(partial(latex_name(f"z{j}_{l}"), param.latex), 1.0))
    return factors


PATH_BREAK = " \\\\ &\\quad + "  # inside `aligned`: each further path on a line of its own
MOST_PATHS = 4       # a sum of more paths than this is summarised: its first two paths, its last, and the count
SYMBOLS_PER_ROW = 5  # local derivatives in symbols on one line (five fit a phone's 340 CSS px of formula)


def shown_paths(paths: list) -> list[tuple[int, object]]:
    """(number, path) of the paths a formula writes out: all of them, or the first two and the last.

    A node deep in a wide network has thousands of paths to the loss (9 x 9 x 9 = 729 from
    x in a 1-9-9-9-1 network); three of them show what each one is, and the count says how many.
    """
    numbered = list(enumerate(paths, start=1))
    return numbered if len(paths) <= MOST_PATHS else [*numbered[:2], numbered[-1]]


def path_sum(lhs: str, paths: list[list[Factor]], write, result: str = "") -> list[str]:
    """Rows of an `aligned` block: lhs = the sum over paths of the products `write(factors)` gives.

    A few paths are written out in full, one after another. Many are named Pi_1, Pi_2, ..., Pi_P (the
    product along path p): the sum of the names, then the first two products and the last.
    """
    tail = [f"&= {result}"] if result else []
    if len(paths) <= MOST_PATHS:
        return [f"{lhs} &= {PATH_BREAK.join(write(factors) for factors in paths)}", *tail]
    count = len(paths)
    rows = [f"{lhs} &= \\Pi_{{1}} + \\Pi_{{2}} + \\cdots + \\Pi_{{{count}}}", *tail]
    for number, factors in shown_paths(paths):
        if number == count:
            rows.append("&\\;\\;\\vdots")
        rows.append(f"\\Pi_{{{number}}} &= {write(factors)}")
    return rows


def symbols(factors: list[Factor]) -> str:
    """One path's product in symbols, SYMBOLS_PER_ROW local derivatives a line."""
    return in_rows([f.tex for f in factors], "\\,", SYMBOLS_PER_ROW)


def numbers(factors: list[Factor], per_row: int = 3) -> str:
    """One path's product in numbers, `per_row` factors a line."""
    return in_rows([num(f.value, f.key) for f in factors], "\\cdot ", per_row)


def path_total(paths: list[list[Factor]]) -> float:
    """The sum over paths of the product of their local derivatives."""
    return math.fsum(math.prod(f.value for f in factors) for factors in paths)


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
            value = path_total(paths)
            target = node_latex(l, j)
            result = num(value, slot("d", l, j), result=True)
            if l == network.depth:
                symbolic = aligned(f"{partial('E_k', target)} &= -2\\,(y_k - \\hat y_k)")
            else:
                symbolic = aligned(*path_sum(partial("E_k", target), paths, symbols))

            def numeric(k_tex: str, y_tex: str) -> str:
                lhs = partial(f"E_{{{k_tex}}}", target)
                if l == network.depth:
                    return aligned(f"{lhs} &= -2\\,({y_tex} - {num(nodes.a[l, j], slot('a', l, j))})", f"&= {result}")
                return aligned(*path_sum(lhs, paths, numbers, result))
            formulas.append(Formula(
                "grad-x" if l == 0 else f"grad-a{j}_{l}", symbolic, numeric(str(k), num(y)),
                value, ((f"dE_{k}/d{target}", value, float(engine[l][0, j - 1])),),
                card=numeric(k_slot(k), num(y, "y", whole=True))))
    return formulas


def sample_paths(network: Network, values: dict[str, float], nodes: NodeValues, y: float, name: str):
    """The local derivatives of dE_k/d(name) for one sample (its node values and label), path by path."""
    param = Param.parse(name)
    return [path_factors(values, nodes, y, param, path) for path in paths_to_output(network, param.l, param.j)]


def sample_gradients(network: Network, values: dict[str, float], nodes: NodeValues, y: float) -> dict[str, float]:
    """dE_k/d(every parameter) for one sample, node by node from the output down: the error term
    delta = dE_k/dz of each node, delta^{(l)}_i = a(1 - a) sum_j w^{(l+1)}_{ij} delta^{(l+1)}_j (as the text
    derives it; one pass, where the paths would be a product per path)."""
    L = network.depth
    a_out = nodes.a[L, 1]
    delta = {(L, 1): -2 * (y - a_out) * a_out * (1 - a_out)}
    for l in range(L - 1, 0, -1):
        for i in range(1, network.layers[l] + 1):
            a = nodes.a[l, i]
            delta[l, i] = a * (1 - a) * math.fsum(values[str(Param.weight(i, j, l + 1))] * delta[l + 1, j]
                                                  for j in range(1, network.layers[l + 1] + 1))
    grads = {}
    for param in network.params:
        l, j = param.l, param.j
        grads[str(param)] = delta[l, j] * (nodes.a[l - 1, param.i] if param.kind == "w" else 1.0)
    return grads


def gradient_formulas(network: Network, values: dict[str, float], points: Sequence[tuple[float, float]],
                      example: int) -> list[Formula]:
    """For each parameter: dE/d(parameter) as a mean of per-sample gradients, with sample `example`'s path products.

    The example's gradient is the sum over paths of products, as the text writes it; every sample's
    (for the mean) comes from the error terms, node by node. The engine's matrices check both.
    """
    params = [values[name] for name in network.param_names]
    _, engine_grads = loss_and_gradient(network, params, points)
    _, engine_example = loss_and_gradient(network, params, [points[example]])
    n = len(points)
    samples = [node_values(network, values, x) for x, _ in points]  # z and a of every node, once per sample
    per_sample = [sample_gradients(network, values, nodes, y) for nodes, (_, y) in zip(samples, points)]
    formulas = []
    k = example + 1
    for p, name in enumerate(network.param_names):
        mean = math.fsum(grads[name] for grads in per_sample) / n
        paths = sample_paths(network, values, samples[example], points[example][1], name)
        value_k = path_total(paths)
        target = latex_name(name)
        symbolic = aligned(
            f"{partial('E', target)} &= \\frac{{1}}{{n}} \\sum_{{k=1}}^{{n}} {partial('E_k', target)}",
            *path_sum(partial("E_k", target), paths, symbols))

        def sample(k_tex: str) -> list[str]:   # one sample's product, its result on a line of its own
            return path_sum(partial(f"E_{{{k_tex}}}", target), paths, numbers, num(value_k, f"gk:{name}", result=True))
        numeric = aligned(*sample(str(k)),
                          f"{partial('E', target)} &= \\frac{{1}}{{{n}}} \\sum_{{k=1}}^{{{n}}} {partial('E_k', target)} "
                          f"= {num(mean, f'g:{name}', result=True)}")
        card = aligned(*sample(k_slot(k)))
        formulas.append(Formula(f"grad-{name}", symbolic, numeric, mean, (
            (f"dE_{k}/d{name}", value_k, float(engine_example[p])),
            (f"dE_{k}/d{name} node by node", per_sample[example][name], float(engine_example[p])),
            (f"dE/d{name}", mean, float(engine_grads[p])),
        ), card=card, mean=mean_card(target, name, [grads[name] for grads in per_sample], mean)))
    return formulas


def in_rows(terms: list[str], joiner: str, per_row: int) -> str:
    """Terms joined by an operator (" + ", "\\cdot "), `per_row` to a line of an `aligned` block: a phone's
    screen holds about 340 CSS px of formula."""
    rows = [joiner.join(terms[start:start + per_row]) for start in range(0, len(terms), per_row)]
    return f" \\\\ &\\quad{joiner}".join(rows)


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


ALL_IN_TEXT = 16   # parameters: a network this small has every formula written out in the text


@dataclass(frozen=True)
class InText:
    """The nodes and parameters whose formulas the text of sections 3 and 7 writes out.

    A small network has them all. In a larger one the text takes the first and the last node of
    each layer and, of each, the first and the last incoming weight and the bias: every kind of
    formula once, and the diagram's cards hold the rest.
    """

    nodes: tuple[tuple[int, int], ...]   # (layer, node), layers from 1, in the order of the forward pass
    params: tuple[str, ...]              # in the lesson's order
    complete: bool                       # every node and parameter is among them
    x_paths: int                         # paths from x to the loss, the most any node has
    param_paths: int                     # paths from a first-layer parameter, the most any parameter has


def in_text(network: Network) -> InText:
    """Which formulas the text shows for this network (see InText)."""
    every = tuple((l, j) for l in range(1, network.depth + 1) for j in range(1, network.layers[l] + 1))
    x_paths, param_paths = math.prod(network.layers[1:-1]), math.prod(network.layers[2:-1])
    if len(network.param_names) <= ALL_IN_TEXT:
        return InText(every, network.param_names, True, x_paths, param_paths)
    ends = lambda count: sorted({1, count})   # noqa: E731  the first and the last of 1..count
    nodes = tuple((l, j) for l in range(1, network.depth + 1) for j in ends(network.layers[l]))
    params = []
    for l, j in nodes:
        params += [str(Param.weight(i, j, l)) for i in ends(network.layers[l - 1])] + [str(Param.bias(j, l))]
    return InText(nodes, tuple(params), False, x_paths, param_paths)


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
