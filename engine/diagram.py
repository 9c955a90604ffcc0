"""Draw the network as inline SVG: nodes, weighted edges and biases, each one focusable.

The same drawing serves the forward pass (edges point from the input to the
output; numbers are weights and activations) and the backward pass (edges
point back from the loss; numbers are gradients). Every node, edge and bias is
a focusable element that names the card (a formula, rendered by KaTeX) it
opens; the page's script shows the card on hover, focus or tap.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from engine.network import Network

SUPER = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")
SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
WIDTH = 720
ROW = 118          # vertical distance between two nodes of a layer
RADIUS = 29
LABEL_AT = 0.5     # edge labels sit this far along the edge from its lower layer...
LABEL_AT_COMPACT = 0.3  # ...or this far, where edges cross in the middle


@dataclass(frozen=True)
class Item:
    """One focusable part of the diagram and the formula its card shows."""

    id: str            # element id, unique on the page
    kind: str          # "node", "edge" or "bias"
    name: str          # lesson name: x, a1_1, w11_1, b1_1
    formula: str       # id of the Formula the card shows


@dataclass(frozen=True)
class Diagram:
    """The SVG markup and the items whose cards the page must hold."""

    svg: str
    items: tuple[Item, ...]


def plain_name(name: str) -> str:
    """A lesson name written with Unicode indices for SVG text: w12_1 -> w⁽¹⁾₁₂."""
    if name == "x":
        return "x"
    letter, rest = name[0], name[1:]
    index, layer = rest.split("_")
    return f"{letter}{f'({layer})'.translate(SUPER)}{index.translate(SUB)}"


def short(value: float) -> str:
    """A value short enough for a label on the drawing: three significant digits."""
    return f"{value:.3g}".replace("-", "−")


def positions(network: Network) -> tuple[dict[tuple[int, int], tuple[float, float]], int]:
    """Centre of every node, layers left to right, and the drawing's height."""
    tallest = max(network.layers)
    height = int(ROW * tallest + 70)
    left, right = 70, WIDTH - 70
    step = (right - left) / network.depth
    centres = {}
    for l, count in enumerate(network.layers):
        top = height / 2 + 20 - ROW * (count - 1) / 2
        for j in range(1, count + 1):
            centres[l, j] = (left + l * step, top + ROW * (j - 1))
    return centres, height


def draw(network: Network, pass_: str, values: dict[str, float], node_numbers: dict[str, float]) -> Diagram:
    """The diagram of one pass: `values` label the edges and biases, `node_numbers` the nodes."""
    centres, height = positions(network)
    prefix = "fwd" if pass_ == "forward" else "bwd"
    # Past 1-2-1 the edges crowd together: labels keep only the numbers (the cards name them).
    compact = network.depth > 2 or max(network.layers) > 2
    parts: list[tuple[Item, str]] = [node_part(prefix, pass_, network, 0, 1, centres, node_numbers)]
    # In the order of the computation: each node after the edges and bias that
    # feed it, so Tab walks the forward pass (and the backward pass reversed).
    for name in network.param_names:
        layer, index = int(name.split("_")[1]), name[1:].split("_")[0]
        j = int(index[-1])
        target = centres[layer, j]
        item = Item(f"{prefix}-{name}", "edge" if name.startswith("w") else "bias", name,
                    ("term-" if pass_ == "forward" else "grad-") + name)
        symbol = plain_name(name) if pass_ == "forward" else f"∂E/∂{plain_name(name)}"
        number = (f'<tspan data-slot="{"p" if pass_ == "forward" else "g"}:{name}" data-digits="3">'
                  f"{short(values[name])}</tspan>")
        # (markup, characters to make room for: numbers change between snapshots, so six)
        text = (number, 6) if compact else (f"{escape(symbol, quote=False)} = {number}", len(symbol) + 3 + 6)
        if item.kind == "edge":
            parts.append((item, edge_svg(item.id, centres[layer - 1, int(index[0])], target, text, pass_,
                                         LABEL_AT_COMPACT if compact else LABEL_AT)))
        else:
            parts.append((item, bias_svg(item.id, target, text)))
            parts.append(node_part(prefix, pass_, network, layer, j, centres, node_numbers))
    if pass_ == "backward":
        parts.reverse()
    arrow = f"{prefix}-arrow"
    svg = (
        f'<svg class="diagram-svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'role="group">'
        f'<defs><marker id="{arrow}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="dg-arrowhead"/></marker></defs>'
        + "".join(markup.replace("ARROW", arrow) for _, markup in parts) + "</svg>"
    )
    return Diagram(svg, tuple(item for item, _ in parts))


def node_part(prefix: str, pass_: str, network: Network, l: int, j: int, centres,
              node_numbers: dict[str, float]) -> tuple[Item, str]:
    """The item and markup of one node."""
    name = "x" if l == 0 else f"a{j}_{l}"
    item = Item(f"{prefix}-{name}", "node", name, ("node-" if pass_ == "forward" else "grad-") + name)
    role = "input" if l == 0 else ("output" if l == network.depth else "hidden")
    value = (f'<tspan data-slot="{"a" if pass_ == "forward" else "d"}:{j}_{l}" data-digits="3">'
             f"{short(node_numbers[name])}</tspan>")
    return item, node_svg(item.id, centres[l, j], plain_name(name), value, role)


def focusable(item_id: str, kind: str, inner: str) -> str:
    """Wrap shapes in a focusable group that names its card."""
    return (f'<g class="dg-item dg-{kind}" id="{item_id}" tabindex="0" role="button" '
            f'aria-describedby="card-{item_id}" data-card="card-{item_id}">{inner}</g>')


def edge_svg(item_id: str, source, target, text: tuple[str, int], pass_: str, at: float) -> str:
    """An arrow between two nodes with a wide invisible band that is easy to point at."""
    (x1, y1), (x2, y2) = source, target
    length = ((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5
    ux, uy = (x2 - x1) / length, (y2 - y1) / length
    sx, sy = x1 + ux * (RADIUS + 3), y1 + uy * (RADIUS + 3)
    ex, ey = x2 - ux * (RADIUS + 5), y2 - uy * (RADIUS + 5)
    if pass_ == "backward":
        sx, sy, ex, ey = ex, ey, sx, sy
    lx, ly = x1 + (x2 - x1) * at, y1 + (y2 - y1) * at
    inner = (
        f'<line class="dg-hit" x1="{sx:.1f}" y1="{sy:.1f}" x2="{ex:.1f}" y2="{ey:.1f}"/>'
        f'<line class="dg-line" x1="{sx:.1f}" y1="{sy:.1f}" x2="{ex:.1f}" y2="{ey:.1f}" marker-end="url(#ARROW)"/>'
        f'<text class="dg-label" x="{lx:.1f}" y="{ly - 7:.1f}" text-anchor="middle">{text[0]}</text>'
    )
    return focusable(item_id, "edge", inner)


def bias_svg(item_id: str, centre, text: tuple[str, int]) -> str:
    """A bias as a small tag above its node, joined by a short line."""
    x, y = centre
    top = y - RADIUS - 34
    width = 12 + 6.6 * text[1]  # about the width of 13px text
    inner = (
        f'<line class="dg-line dg-bias-line" x1="{x:.1f}" y1="{top + 22:.1f}" x2="{x:.1f}" y2="{y - RADIUS:.1f}"/>'
        f'<rect class="dg-bias-box" x="{x - width / 2:.1f}" y="{top:.1f}" width="{width:.1f}" height="22" rx="11"/>'
        f'<text class="dg-label dg-bias-text" x="{x:.1f}" y="{top + 15.5:.1f}" text-anchor="middle">{text[0]}</text>'
    )
    return focusable(item_id, "bias", inner)


def node_svg(item_id: str, centre, name: str, value: str, role: str) -> str:
    """A node: a circle with its name inside and its value below."""
    x, y = centre
    inner = (
        f'<circle class="dg-shape dg-{role}" cx="{x:.1f}" cy="{y:.1f}" r="{RADIUS}"/>'
        f'<text class="dg-name" x="{x:.1f}" y="{y + 6:.1f}" text-anchor="middle">{escape(name, quote=False)}</text>'
        f'<text class="dg-value" x="{x:.1f}" y="{y + RADIUS + 18:.1f}" text-anchor="middle">{value}</text>'
    )
    return focusable(item_id, "node", inner)
