"""Draw the network as inline SVG, upright: input at the bottom, output at the top.

The same drawing serves the forward pass (arrows point up from the input to the
output; numbers are weights and activations) and the backward pass (a loss node
E sits on top and the arrows point down from it; numbers are gradients). Every
node, edge and bias is a focusable element that names the card (a formula,
rendered by Temml) it opens; the page's script shows the card in the panel
beside or under the drawing.

The backward drawing also carries the chain rule's local derivatives, hidden
until the reader picks a part: the script then lights every path from the loss
down to that part and shows on each link the factor it contributes
(dE_k/dy-hat on the loss link, sigma'(z) = a(1 - a) beside each node, the weight
w for stepping back across an arrow, and the input a, x or 1 on the part itself),
so that their product is the gradient on the card.

One upright layout serves every screen: 380 units wide, so that on a 375 px
phone (about 343 px of drawing) a 13.5-unit label is still 12 px tall.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from engine.network import Network
from engine.numerals import minus

SUPER = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")
SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
WIDTH = 380
SIDE = 50          # room left and right of the outermost nodes of a layer of three or more
MIN_SPREAD = 84    # centre to centre within a layer at the least: two nodes and their labels side by side
ROW = 150          # vertical distance between two layers
LOSS_ROW = 96      # ... and between the output and the loss node above it
RADIUS = 34
EDGE_LABEL_AT = 0.3    # labels of the input's edges sit this far along from x (clear of the bias tags); others halfway


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


def plain_name(letter: str, index: str, layer: int) -> str:
    """A lesson name written with Unicode indices for SVG text: ("w", "12", 1) -> w⁽¹⁾₁₂."""
    return f"{letter}{f'({layer})'.translate(SUPER)}{index.translate(SUB)}"


def node_name(l: int, j: int) -> tuple[str, str]:
    """Node j of layer l: its lesson name (x, a1_1) and the same with Unicode indices (x, a⁽¹⁾₁)."""
    return ("x", "x") if l == 0 else (f"a{j}_{l}", plain_name("a", str(j), l))


def short(value: float | None) -> str:
    """A value short enough for a label on the drawing: three significant digits."""
    return "–" if value is None else minus(f"{value:.3g}")


def factor_text(value: float) -> str:
    """A local derivative as the cards write it: four significant digits (engine/formulas.py num)."""
    from engine.formulas import num
    return minus(num(value, result=True))


def slot(key: str, value: float | None, digits: int = 3) -> str:
    """A number the page's script rewrites (another sample, the mean, new parameters)."""
    text = short(value) if digits == 3 else factor_text(value)
    return f'<tspan data-slot="{key}" data-digits="{digits}">{text}</tspan>'


def drawing_width(network: Network) -> int:
    """WIDTH, or wider for a layer of more than four nodes, so that no two nodes overlap (the page scrolls it)."""
    return max(WIDTH, 2 * SIDE + (max(network.layers) - 1) * MIN_SPREAD)


def positions(network: Network, loss: bool) -> tuple[dict[tuple[int, int], tuple[float, float]], int, int]:
    """Centre of every node, the output layer on top (under the loss node, if any), the height and the width."""
    top = 44 + (LOSS_ROW if loss else 0)
    width = drawing_width(network)
    centres = {}
    for l, count in enumerate(network.layers):
        y = top + ROW * (network.depth - l)
        spread = 180 if count == 2 else (width - 2 * SIDE) / max(1, count - 1)  # wide layers use it all
        for j in range(1, count + 1):
            centres[l, j] = (width / 2 + (j - (count + 1) / 2) * spread, y)
    return centres, int(top + ROW * network.depth + 48), width


def side_of(x: float, width: int) -> int:
    """-1 for a node left of the middle, +1 otherwise: labels go to the node's outer side."""
    return -1 if x < width / 2 - 1 else 1


def draw(network: Network, pass_: str, values: dict[str, float], node_numbers: dict[str, float],
         factors: dict[str, float] | None = None, sample: int = 1) -> Diagram:
    """The diagram of one pass.

    `values` label the edges and biases (parameters, or sample `sample`'s gradients),
    `node_numbers` the nodes (by lesson name, and "E" for the loss), and `factors`
    (backward only) the local derivatives by slot key: dy, s:j_l, p:name, a:i_l.
    """
    backward = pass_ == "backward"
    centres, height, width = positions(network, backward)
    prefix = "bwd" if backward else "fwd"
    # Past 1-2-1 the edges crowd together: labels keep only the numbers (the cards name them).
    compact = network.depth > 2 or max(network.layers) > 2
    factors = factors or {}
    parts: list[tuple[Item, str]] = [node_part(prefix, pass_, network, 0, 1, centres, node_numbers, factors, width)]
    # In the order of the computation: each node after the edges and bias that
    # feed it, so Tab walks the forward pass (and the backward pass reversed).
    for param in network.params:
        name, layer, j = str(param), param.l, param.j
        plain = plain_name(param.kind, param.index, layer)
        target = centres[layer, j]
        item = Item(f"{prefix}-{name}", "edge" if param.kind == "w" else "bias", name,
                    ("grad-" if backward else "term-") + name)
        key = f"G:{name}" if backward else f"p:{name}"
        symbol = "" if compact else (f"∂E{sub_slot(sample)}/∂{plain}" if backward else plain)
        label = (symbol, slot(key, values[name]))
        if item.kind == "edge":
            source = centres[layer - 1, param.i]
            own = (node_name(layer - 1, param.i)[1], f"a:{param.i}_{layer - 1}")
            chain = {"w": (plain, f"p:{name}"), "in": own} if backward else {}
            # The input's edges keep their labels low, clear of the bias tags under the nodes they feed.
            at = (EDGE_LABEL_AT if abs(source[0] - target[0]) > 1 else 0.55) if layer == 1 else 0.5
            parts.append((item, edge_svg(item.id, source, target, label, backward, chain, factors, at, width)))
        else:
            parts.append((item, bias_svg(item.id, target, label, backward, width)))
            parts.append(node_part(prefix, pass_, network, layer, j, centres, node_numbers, factors, width))
    if backward:
        parts.reverse()
    arrow = f"{prefix}-arrow"
    loss = loss_svg(centres[network.depth, 1], node_numbers.get("E"), factors.get("dy"), sample) if backward else ""
    # A wider drawing keeps the lesson drawing's scale (its labels 12 px on a phone) and scrolls sideways.
    wide = f' style="max-width:{24 * width / WIDTH:.1f}rem;min-width:{343 * width / WIDTH:.0f}px"' if width > WIDTH else ""
    svg = (
        f'<svg class="diagram-svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}"{wide} '
        f'role="group">'
        f'<defs><marker id="{arrow}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="dg-arrowhead"/></marker></defs>'
        + loss.replace("ARROW", arrow)
        + "".join(markup.replace("ARROW", arrow) for _, markup in parts) + "</svg>"
    )
    return Diagram(svg, tuple(item for item, _ in parts))


def sub_slot(sample: int) -> str:
    """The sample's index as a subscript the script rewrites (empty for the mean)."""
    return f'<tspan data-sub="">{str(sample).translate(SUB)}</tspan>'


def two_lines(x: float, y: float, anchor: str, first: str, second: str, css: str, extra: str = "") -> str:
    """A label of a symbol over its number (or the number alone), its top line at y."""
    if not first:
        return f'<text class="{css}" x="{x:.1f}" y="{y + 8:.1f}" text-anchor="{anchor}"{extra}>{second}</text>'
    return (f'<text class="{css}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{first}'
            f'<tspan x="{x:.1f}" dy="16">= {second}</tspan></text>')


def node_part(prefix: str, pass_: str, network: Network, l: int, j: int, centres,
              node_numbers: dict[str, float], factors: dict[str, float], width: int) -> tuple[Item, str]:
    """The item and markup of one node."""
    name, plain = node_name(l, j)
    item = Item(f"{prefix}-{name}", "node", name, ("node-" if pass_ == "forward" else "grad-") + name)
    role = "input" if l == 0 else ("output" if l == network.depth else "hidden")
    value = slot(f"{'a' if pass_ == 'forward' else 'd'}:{j}_{l}", node_numbers[name])
    x, y = centres[l, j]
    inner = (
        f'<circle class="dg-shape dg-{role}" cx="{x:.1f}" cy="{y:.1f}" r="{RADIUS}"/>'
        f'<text class="dg-name" x="{x:.1f}" y="{y - 4:.1f}" text-anchor="middle">{escape(plain, quote=False)}</text>'
        f'<text class="dg-value" x="{x:.1f}" y="{y + 15:.1f}" text-anchor="middle">{value}</text>'
    )
    if pass_ == "backward" and l > 0:
        # sigma'(z) = a(1 - a): the step from this node's a back to its z, above the node on its
        # outer side, clear of the arrows coming in (left of the output, under the loss link).
        side = side_of(x, width)
        fx, fy, anchor = ((x - RADIUS - 6, y + 5, "end") if l == network.depth
                          else (x + side * 8, y - RADIUS - 6, "end" if side < 0 else "start"))
        inner += (f'<text class="dg-label dg-factor dg-factor-s" data-factor="s:{j}_{l}" x="{fx:.1f}" '
                  f'y="{fy:.1f}" text-anchor="{anchor}">σ′ = '
                  f'{slot(f"s:{j}_{l}", factors.get(f"s:{j}_{l}", 0.0), 4)}</text>')
    return item, focusable(item.id, "node", inner)


def focusable(item_id: str, kind: str, inner: str) -> str:
    """Wrap shapes in a focusable group that names its card."""
    return (f'<g class="dg-item dg-{kind}" id="{item_id}" tabindex="0" role="button" '
            f'aria-controls="card-{item_id}" aria-describedby="card-{item_id}" data-card="card-{item_id}">{inner}</g>')


def edge_svg(item_id: str, source, target, label: tuple[str, str], backward: bool,
             chain: dict[str, tuple[str, str]], factors: dict[str, float], at: float, width: int) -> str:
    """An arrow between two nodes with a wide invisible band that is easy to point at.

    `chain` (backward only) holds the two local derivatives the edge can stand for on a
    lit path: "w", its weight, when the path steps back across it to a lower node, and
    "in", the input it multiplies, when the path ends at its own weight.
    """
    (x1, y1), (x2, y2) = source, target
    length = ((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5
    ux, uy = (x2 - x1) / length, (y2 - y1) / length
    sx, sy = x1 + ux * (RADIUS + 3), y1 + uy * (RADIUS + 3)
    ex, ey = x2 - ux * (RADIUS + 5), y2 - uy * (RADIUS + 5)
    if backward:
        sx, sy, ex, ey = ex, ey, sx, sy
    lx, ly = x1 + (x2 - x1) * at, y1 + (y2 - y1) * at
    outward = side_of(x2, width) if abs(x2 - x1) > 1 else 1
    tx, anchor = lx + outward * 14, "start" if outward > 0 else "end"
    inner = (
        f'<line class="dg-hit" x1="{sx:.1f}" y1="{sy:.1f}" x2="{ex:.1f}" y2="{ey:.1f}"/>'
        f'<line class="dg-line" x1="{sx:.1f}" y1="{sy:.1f}" x2="{ex:.1f}" y2="{ey:.1f}" marker-end="url(#ARROW)"/>'
        + two_lines(tx, ly - 6, anchor, label[0], label[1], "dg-label dg-normal")
    )
    for role, (symbol, key) in chain.items():
        inner += two_lines(tx, ly - 6, anchor, f"× {symbol}", slot(key, factors.get(key, 0.0), 4),
                           f"dg-label dg-factor dg-factor-{role}", f' data-factor="{key}"')
    return focusable(item_id, "edge", inner)


def bias_svg(item_id: str, centre, label: tuple[str, str], backward: bool, drawing: int) -> str:
    """A bias as a tag joined to its node: beside a node in the middle, else below it on the outer side."""
    x, y = centre
    width, lines = (84, 2) if label[0] else (58, 1)
    height = 12 + 16 * lines
    if abs(x - drawing / 2) < 1 and drawing == WIDTH:   # beside the middle node, unless the layer is wide
        left, top = x + RADIUS + 10, y - height / 2
        joint = (left, y, x + RADIUS, y)
    else:
        side = side_of(x, drawing)
        left = min(max(2, x + side * 4 - (width if side < 0 else 0)), drawing - 2 - width)
        top = y + RADIUS + 8
        joint = (left + width / 2, top, x + side * RADIUS * 0.6, y + RADIUS * 0.8)
    cx = left + width / 2
    inner = (
        f'<line class="dg-line dg-bias-line" x1="{joint[0]:.1f}" y1="{joint[1]:.1f}" '
        f'x2="{joint[2]:.1f}" y2="{joint[3]:.1f}"/>'
        f'<rect class="dg-bias-box" x="{left:.1f}" y="{top:.1f}" width="{width}" height="{height}" rx="10"/>'
        + two_lines(cx, top + (19 if label[0] else 11), "middle", label[0], label[1], "dg-label dg-bias-text")
    )
    if backward:   # dz/db = 1: the input a bias multiplies is always 1
        inner += (f'<text class="dg-label dg-factor dg-factor-in" data-factor="one" x="{cx:.1f}" '
                  f'y="{top + height + 16:.1f}" text-anchor="middle">× 1</text>')
    return focusable(item_id, "bias", inner)


def loss_svg(output, loss: float | None, dy: float | None, sample: int) -> str:
    """The loss E_k (or E) above the output, and the first link of every path: dE_k/dy-hat."""
    x, y = output
    top = y - LOSS_ROW
    return (
        f'<g class="dg-loss" id="bwd-loss">'
        f'<rect class="dg-shape dg-loss-box" x="{x - 34:.1f}" y="{top - 20:.1f}" width="68" height="40" rx="8"/>'
        f'<text class="dg-name" x="{x:.1f}" y="{top - 3:.1f}" text-anchor="middle">E{sub_slot(sample)}</text>'
        f'<text class="dg-value" x="{x:.1f}" y="{top + 14:.1f}" text-anchor="middle">{slot("L", loss)}</text>'
        f'<line class="dg-line" x1="{x:.1f}" y1="{top + 22:.1f}" x2="{x:.1f}" y2="{y - RADIUS - 5:.1f}" '
        f'marker-end="url(#ARROW)"/>'
        + two_lines(x + 10, top + 40, "start", f"∂E{sub_slot(sample)}/∂ŷ", slot("dy", dy or 0.0, 4),
                    "dg-label dg-factor dg-factor-dy", ' data-factor="dy"')
        + "</g>"
    )
