"""The lesson's own script: the whole training written out in plain numpy, in the lesson's names.

`lesson_script(settings)` returns the source of a standalone Python program
that trains the network of `settings` as engine/train.py does: the same data,
starting values, learning rate, epochs and display interval, written into it
as numbers that read back exactly (repr of each float). Every node, delta,
gradient and update gets one line, named as in the text (w12_1, a2_1,
delta2_1, dE_dw12_1), so a learner can set it beside section 7's derivation.
The lines are generated for the network's shape: any `network.layers` gives a
script in the same style.

The engine does the same sums with matrices (engine/network.py) and so adds
the samples up in another order: the two agree to the last digit or two
(tests/test_script.py checks 1e-12 against data/run.json), except in a run
whose loss rises somewhere, where a step overshoots and a difference in the
last bit grows fast. Section 11 says so when the run's loss ever rises.

The site ships the script as SCRIPT_FILE, and section 11 shows it in its
parts (`script_parts`), which put together are the file, byte for byte.
"""

from __future__ import annotations

from engine.config import Settings
from engine.network import Param

SCRIPT_FILE = "code/lesson_network.py"
WIDTH = 79   # the longest line (PEP 8); longer sums and lists go on over more lines
SEPARATOR = "\n\n"   # after a part's last line: two blank lines, as around Python's top-level blocks


def script_parts(settings: Settings) -> dict[str, str]:
    """The script in the parts section 11 shows one at a time: setup, forward, training, result."""
    layers = settings.layers
    depth = len(layers) - 1
    nodes = [(j, l) for l in range(1, depth + 1) for j in range(1, layers[l] + 1)]
    params = settings.network.params
    return {
        "setup": setup(settings, params),
        "forward": forward(layers, nodes),
        "training": training(settings, layers, nodes, params),
        "result": result(settings, nodes, params),
    }


def lesson_script(settings: Settings) -> str:
    """The whole script: its parts, two blank lines apart."""
    return SEPARATOR.join(script_parts(settings).values())


def line_ranges(parts: dict[str, str]) -> dict[str, tuple[int, int]]:
    """The first and last line of each part in the whole script."""
    ranges, first = {}, 1
    for name, text in parts.items():
        ranges[name] = (first, first + text.count("\n") - 1)
        first = ranges[name][1] + 1 + SEPARATOR.count("\n")
    return ranges


def node(j: int, l: int) -> str:
    """The name of node j of layer l: the input is x, the others a{j}_{l} (a2_1 is a^(1)_2)."""
    return "x" if l == 0 else f"a{j}_{l}"


def wrapped(head: str, parts: list[str], sep: str, tail: str = "") -> list[str]:
    """head + parts joined by sep + tail, as one line if it fits, else broken after a separator.

    `head` must end inside an open bracket that `tail` closes, so that Python reads on; the
    continued lines line up under the bracket.
    """
    line = head + sep.join(parts) + tail
    if len(line) <= WIDTH:
        return [line]
    lines, current, empty = [], head, True
    for k, part in enumerate(parts):
        piece = part + (tail if k == len(parts) - 1 else sep.rstrip())   # "w11_2 * a1_1 +", ..., "b1_2)"
        if not empty and len(current) + 1 + len(piece) > WIDTH:
            lines.append(current)
            current, empty = " " * len(head), True
        current += piece if empty else " " + piece
        empty = False
    return lines + [current]


def setup(settings: Settings, params: tuple[Param, ...]) -> str:
    """The docstring, the data, the settings and the starting values."""
    shape = "-".join(str(n) for n in settings.layers)
    depth = len(settings.layers) - 1
    out = node(1, depth)
    pairs = [f"({x!r}, {y!r})" for x, y in settings.points]
    rows = [pairs[k:k + 4] for k in range(0, len(pairs), 4)]
    data = ["points = ["] + [f"    {', '.join(row)}," for row in rows] + ["]"]
    if settings.init_random:
        start = ["# Starting values, drawn at random in this order:",
                 f"# numpy.random.default_rng({settings.init_seed}).standard_normal({len(params)})"]
    else:
        start = ["# Starting values."]
    lines = [
        f'"""The lesson\'s {shape} network, trained by gradient descent in numpy.',
        "",
        "build.py wrote this file with the settings of the lesson it built. Run it in",
        "any folder with `python3 lesson_network.py`: it needs only numpy.",
        "Names as in the lesson: w12_1 is w^(1)_12, the weight from node 1 of layer 0",
        "(the input x) to node 2 of layer 1; b2_1 is b^(1)_2; a2_1 is that node's value",
        f"a^(1)_2 and delta2_1 its delta^(1)_2. The prediction y_hat is {out}.",
        '"""',
        "",
        "import numpy as np",
        "",
        "# The data: x is the size tried on, y is 1 if it fit and 0 if not.",
        *data,
        "x, y = np.array(points).T   # one entry per sample",
        "",
        f"learning_rate = {settings.learning_rate!r}",
        f"epochs = {settings.epochs!r}",
        f"display_every = {settings.display_every!r}",
        "",
        *start,
        *[f"{name} = {value!r}" for name, value in settings.init],
    ]
    return "\n".join(lines) + "\n"


def forward(layers: tuple[int, ...], nodes: list[tuple[int, int]]) -> str:
    """sigmoid, and the forward pass: one line per node, z = sum of w * a + b inside the sigmoid."""
    lines = [
        "def sigmoid(z):",
        "    return 1 / (1 + np.exp(-z))",
        "",
        "",
        "def forward():",
        '    """Every node\'s value a for every sample, with the current parameters."""',
    ]
    for j, l in nodes:
        terms = [f"{Param.weight(i, j, l)} * {node(i, l - 1)}" for i in range(1, layers[l - 1] + 1)]
        terms.append(str(Param.bias(j, l)))
        lines += wrapped(f"    {node(j, l)} = sigmoid(", terms, " + ", ")")
    lines += listed("    return ", [node(j, l) for j, l in nodes], "")
    return "\n".join(lines) + "\n"


def training(settings: Settings, layers: tuple[int, ...], nodes: list[tuple[int, int]],
             params: tuple[Param, ...]) -> str:
    """The loop: forward and loss, the deltas from the output back, the gradients, the update."""
    depth = len(layers) - 1
    width = len(str(settings.epochs))
    lines = [
        "for epoch in range(1, epochs + 1):",
        "    # Forward, and the loss E of this epoch, before its update.",
        *listed("    ", [node(j, l) for j, l in nodes], " = forward()"),
        f"    y_hat = {node(1, depth)}",
        "    E = np.mean((y - y_hat) ** 2)",
        "    if epoch == 1 or epoch % display_every == 0 or epoch == epochs:",
        f'        print(f"epoch {{epoch:{width}}}   E = {{E:.15g}}")',
        "",
        "    # Backward: each node's delta = dE_k/dz for every sample k, output first.",
        "    delta1_{0} = -2 * (y - y_hat) * y_hat * (1 - y_hat)".format(depth),
    ]
    for l in range(depth - 1, 0, -1):
        for i in range(1, layers[l] + 1):
            back = [f"delta{j}_{l + 1} * {Param.weight(i, j, l + 1)}" for j in range(1, layers[l + 1] + 1)]
            slope = f" * a{i}_{l} * (1 - a{i}_{l})"
            if len(back) == 1:
                lines.append(f"    delta{i}_{l} = {back[0]}{slope}")
            else:
                lines += wrapped(f"    delta{i}_{l} = (", back, " + ", ")" + slope)
    lines += ["",
              "    # Gradients: the mean over the samples of delta times the value carried.",
              *[f"    dE_d{param} = np.mean({carried(param)})" for param in params],
              "",
              "    # Update: one step downhill, every gradient from the old parameters.",
              *[f"    {param} = {param} - learning_rate * dE_d{param}" for param in params]]
    return "\n".join(lines) + "\n"


def carried(param: Param) -> str:
    """delta of the node a parameter feeds, times the value it carries (1 for a bias)."""
    delta = f"delta{param.j}_{param.l}"
    return delta if param.kind == "b" else f"{delta} * {node(param.i, param.l - 1)}"


def listed(head: str, names: list[str], tail: str) -> list[str]:
    """`head a1_1, a2_1, a1_2 tail`, the names in brackets over several lines if it is long."""
    line = f"{head}{', '.join(names)}{tail}"
    return [line] if len(line) <= WIDTH else wrapped(f"{head}(", names, ", ", f"){tail}")


def result(settings: Settings, nodes: list[tuple[int, int]], params: tuple[Param, ...]) -> str:
    """After the last update: the final loss and every parameter."""
    depth = len(settings.layers) - 1
    lines = [
        "# After the last update: the loss once more, and the trained parameters.",
        *listed("", [node(j, l) for j, l in nodes], " = forward()"),
        f'print(f"after {{epochs}} epochs: E = {{np.mean((y - {node(1, depth)}) ** 2):.15g}}")',
    ]
    for j, l in nodes:   # one line per node (longer ones in pieces): the weights into it, then its bias
        into = [str(param) for param in params if (param.l, param.j) == (l, j)]
        shown: list[str] = []
        for name in into:
            if shown and len(printed(shown + [name])) > WIDTH:
                lines.append(printed(shown))
                shown = []
            shown.append(name)
        lines.append(printed(shown))
    return "\n".join(lines) + "\n"


def printed(names: list[str]) -> str:
    """A line that prints parameters by name: print(f"w11_1 = {w11_1}   b1_1 = {b1_1}")."""
    return 'print(f"' + "   ".join(f"{name} = {{{name}}}" for name in names) + '")'
