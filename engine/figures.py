"""Draw the lesson's figures and the training animation with matplotlib.

Static figures (the points, the starting curve, the final fit, the loss curve,
the hidden units at the start and after training) are SVG, so they stay sharp
on a projector; each is drawn once with the words of every language and
written as one file per language. Each is drawn in two layouts: wide, and
narrow for a phone (where the wide one's words would be 6 px high). Each file
holds both looks of the page, light and dark: its colours are named after
their meaning, and the address `name.svg#dark` gives them the dark palette's
values. The animation frames carry no words of
either language, only the lesson's symbols and numbers (x, ŷ, ȳ, the epoch e,
the loss E), so one set serves both pages and each page's caption says what the
symbols mean: each frame shows the fitted curve over the points and the loss so
far. Frames are drawn by blitting: the axes, ticks and points are drawn once,
and each frame only redraws the lines and text that change. They are drawn
light only: the page turns them dark with a CSS filter (a dark set of frames
and GIF would add 0.6 MB to a site of 3).

Only the `Figure` class and the Agg canvas are used, never pyplot, so nothing
here depends on a display or on global figure state. Every function returns
bytes; writing them is the job of `engine.output`.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib import font_manager, rcParams
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, LogFormatterSciNotation, NullFormatter
from PIL import Image

from engine import images
from engine.images import FigureError
from engine.network import forward, predict
from engine.train import Run

# Chinese labels need a CJK font, which the project's set-up installs; other
# text keeps DejaVu Sans. Only fonts the set-up installs are named: matplotlib
# logs a line for every text drawn with a list that names a missing font.
LATIN_FONTS = ["DejaVu Sans"]
CJK_FONTS = ["Noto Sans CJK SC", "DejaVu Sans"]   # fonts-noto-cjk, which the README installs
# Figures keep their words as SVG text (smaller, selectable, read by screen
# readers), so a reader's browser picks the font: these follow matplotlib's.
WEB_FONTS = {
    "'DejaVu Sans'": "'DejaVu Sans',sans-serif",
    "'Noto Sans CJK SC', 'DejaVu Sans'": "'Noto Sans CJK SC','DejaVu Sans',sans-serif",
}


@dataclass(frozen=True)
class Palette:
    """The figures' colours by what they mean; the dark palette gives each meaning a colour for a dark page."""

    paper: str    # the page behind the figure: the outline that parts the points from the curve
    ink: str      # axes, ticks and words
    grid: str
    curve: str    # the network's output ŷ
    loss: str
    flat: str     # the reference line: the loss of the best constant prediction
    fits: str     # points labelled 1
    fails: str    # points labelled 0
    units: tuple[str, ...]   # the hidden units, in turn

    def colours(self) -> dict[str, str]:
        """Each colour by a name of its own: ink, ..., unit1, unit2, ..."""
        named = {name: value for name, value in vars(self).items() if name != "units"}
        return named | {f"unit{j}": colour for j, colour in enumerate(self.units, start=1)}


LIGHT = Palette(paper="#ffffff", ink="#1f2933", grid="#d9dee5", curve="#3559c7", loss="#b4451f", flat="#52606d",
                fits="#1c8a5a", fails="#c2410c", units=("#7c3aed", "#0f766e", "#b45309", "#be185d", "#1d4ed8"))
# The page's own dark colours (style.css: --paper, --ink, --line, --muted, and the live plots' --ex-*), and
# lighter tints of the hidden units' hues: every colour but the grid has a contrast of 7 or more with the page.
DARK = Palette(paper="#14191f", ink="#e3e8ee", grid="#35404c", curve="#8ea6ff", loss="#ff9a6b", flat="#a6b1bf",
               fits="#4fc98e", fails="#f4895a", units=("#c4a5ff", "#4fd1c5", "#f59e4c", "#f77fbf", "#86a8ff"))
FLAT_DASHES = (0, (5, 3))
# The width of a figure's narrow layout, for a phone, in inches: 343 CSS px wide (on a 375 px screen) it shows
# the figures' 10-point words 12 px high, where the wide layout (6.4 or 8 inches) shows them 6 to 7 px high.
NARROW = 4.0
SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
GROUP_TAG = re.compile(r"<g[\s>]|</g>")   # where an SVG group opens or closes
FRAME_SIZE = (8.0, 3.4)  # inches at 100 dpi: 800 x 340 pixels
FRAME_DPI = 100
CURVE_SAMPLES = 300
TITLE_BASELINE = 311.37 / 340   # the baseline of a frame's title, as a fraction of the frame's height


@dataclass(frozen=True)
class Labels:
    """The words a static figure needs, in one language."""

    x: str          # axis label for the input
    y: str          # axis label for the label / prediction
    fits: str       # legend: points with y = 1
    fails: str      # legend: points with y = 0
    curve: str      # legend: the network's prediction
    epoch: str      # axis label for the epoch
    loss: str       # axis label for the loss
    flat: str       # the reference line: the best constant prediction ŷ = ȳ, with its {loss}
    hidden: str     # panel title: the hidden units' outputs
    output: str     # panel title: the network's output
    recommended: str  # title of this build's own start
    seed: str       # title of a random start, with {seed}

    @property
    def fonts(self) -> list[str]:
        """The font families for these words: a CJK font first if any word needs one."""
        needs_cjk = any(ord(char) >= 0x2E80 for word in vars(self).values() for char in word)
        return CJK_FONTS if needs_cjk else LATIN_FONTS


def require_cjk_font() -> None:
    """Stop in one line, with the fix, if matplotlib cannot find the CJK font that Chinese words need.

    Without it the words would lose their glyphs silently. matplotlib lists the
    fonts once, on its first run: a font installed later stays unknown to it
    until that list is made again.
    """
    try:
        font_manager.findfont(font_manager.FontProperties(family=CJK_FONTS[0]), fallback_to_default=False)
        return
    except ValueError:
        pass
    listing = Path(matplotlib.get_cachedir()) / f"fontlist-v{font_manager.FontManager.__version__}.json"
    if any(Path(path).name.startswith("NotoSansCJK") for path in font_manager.findSystemFonts()):
        raise FigureError(f"figures: expected matplotlib to know the CJK font {CJK_FONTS[0]}, got a font list "
                          f"made before it was installed: delete {listing} and build again")
    raise FigureError(f"figures: expected the CJK font {CJK_FONTS[0]} for the Chinese words, got none installed: "
                      "apt-get install fonts-noto-cjk")


def configure_matplotlib() -> None:
    """Fix fonts and output metadata so figures look the same and are byte-identical."""
    rcParams["font.family"] = LATIN_FONTS   # numbers and symbols; words get their language's fonts
    rcParams["svg.hashsalt"] = "backprop-lesson"
    rcParams["svg.fonttype"] = "none"
    rcParams["axes.edgecolor"] = LIGHT.ink
    rcParams["axes.labelcolor"] = LIGHT.ink
    rcParams["xtick.color"] = LIGHT.ink
    rcParams["ytick.color"] = LIGHT.ink
    rcParams["text.color"] = LIGHT.ink
    rcParams["axes.spines.top"] = False
    rcParams["axes.spines.right"] = False
    rcParams["axes.titley"] = 1.0   # titles at the top: no tick labels above to make room for (skips a layout pass)


class PowerLabels(LogFormatterSciNotation):
    """Log-axis labels as plain text: 10⁻² for a power of ten, 0.25 between them.

    matplotlib writes them in TeX ($\\mathdefault{10^{-2}}$), and building
    its math parser costs a twentieth of a second in every process that draws.
    Between powers (labelled when the axis spans less than a decade or so) it
    would write 2.5×10⁻¹, which is longer than the number.
    """

    def __call__(self, x, pos=None):
        label = super().__call__(x, pos)
        tex = re.fullmatch(r"\$\\mathdefault\{(.*)\}\$", label)
        if tex is None:
            return label
        if "\\times" in tex.group(1):
            return f"{x:.3g}"
        return re.sub(r"\^\{(-?\d+)\}", lambda power: power.group(1).translate(SUPERSCRIPT), tex.group(1))


def log_scale(ax) -> None:
    """A log-scale y axis labelled in plain text."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(PowerLabels())
    ax.yaxis.set_minor_formatter(PowerLabels(labelOnlyBase=False))


def log_epochs(ax, epochs: int) -> None:
    """A log-scale epoch axis from 1 to the last epoch, labelled 1, 10, 100, 1000.

    On a log axis epochs 1 to 10 take as much room as 1000 to 10,000, so the
    first epochs' fall is as visible as the slow end. Labels are whole numbers;
    when fewer than two powers of ten show, 2, 3, 5, 20, 30, 50 are labelled too.
    """
    ax.set_xscale("log")
    ax.set_xlim(1, max(2, epochs))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, pos: f"{value:.0f}"))
    between = FuncFormatter(lambda value, pos: f"{value:.0f}" if f"{value:.0f}"[0] in "235" else "")
    ax.xaxis.set_minor_formatter(between if epochs < 100 else NullFormatter())


def flat_loss(run: Run) -> float:
    """The loss of the best constant prediction, ŷ = ȳ for every x: the mean of (y - ȳ)²."""
    ys = np.array([y for _, y in run.settings.points], dtype=float)
    return float(np.mean((ys - ys.mean()) ** 2))


def flat_line(ax, run: Run):
    """The loss of the best constant prediction as a dashed line across the loss axes (None if it is 0:
    a log axis cannot show it, and no network would have anything to learn)."""
    flat = flat_loss(run)
    if flat <= 0:
        return None
    return ax.axhline(flat, color=LIGHT.flat, linewidth=1.2, linestyle=FLAT_DASHES, zorder=1)


def x_range(run: Run) -> tuple[float, float]:
    """The x interval the curves are drawn over: the data plus a margin."""
    xs = [x for x, _ in run.settings.points]
    lo, hi = min(xs), max(xs)
    pad = 0.08 * (hi - lo) if hi > lo else 1.0
    return lo - pad, hi + pad


def curve_xs(run: Run) -> np.ndarray:
    """Evenly spaced inputs at which the network's curve is drawn."""
    return np.linspace(*x_range(run), CURVE_SAMPLES)


def draw_points(ax, run: Run) -> tuple:
    """Scatter the data, coloured by label, on fixed axes; return the two groups (y = 1, y = 0)."""
    points = np.asarray(run.settings.points)
    groups = []
    for target, colour, marker in ((1, LIGHT.fits, "o"), (0, LIGHT.fails, "X")):
        mask = points[:, 1] >= 0.5 if target else points[:, 1] < 0.5
        groups.append(ax.scatter(points[mask, 0], points[mask, 1], s=46, c=colour, marker=marker,
                                 edgecolors=LIGHT.paper, linewidths=0.8, zorder=3))
    ax.set_xlim(*x_range(run))
    ax.set_ylim(-0.08, 1.08)
    ax.grid(True, color=LIGHT.grid, linewidth=0.6)
    return tuple(groups)


def svg_files(fig: Figure, languages: Languages) -> dict[str, bytes]:
    """The figure as one SVG per language, drawn once: each file keeps its own language's words only."""
    buffer = io.StringIO()
    FigureCanvasAgg(fig)
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, transparent=True)
    svg = buffer.getvalue()
    return {lang: themed_svg(tidy_svg(without_groups(svg, [words_id(other) for other in languages if other != lang]))
                             ).encode("utf-8")
            for lang in languages}


def without_groups(svg: str, ids: list[str]) -> str:
    """matplotlib's SVG without the groups (`<g id=...>` up to its own `</g>`) of these ids."""
    for group in ids:
        while (start := svg.find(f'<g id="{group}">')) >= 0:
            depth = 0
            for tag in GROUP_TAG.finditer(svg, start):
                depth += -1 if tag.group(0) == "</g>" else 1
                if depth == 0:
                    break
            else:
                raise ValueError(f"group {group!r} is never closed")
            svg = svg[:start] + svg[tag.end():]
    return svg


def tidy_svg(svg: str) -> str:
    """matplotlib's SVG in fewer bytes, drawn the same: no metadata, indentation or
    group ids, coordinates to 1/100 of a point, and web fonts after matplotlib's."""
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r"\n\s*", "\n", svg).replace(" \n", " ")
    svg = re.sub(r'<g id="[^"]*">', "<g>", svg)
    svg = re.sub(r"<[^>]+>", lambda tag: re.sub(   # in tags only: the words between them keep every digit
        r"\d+\.\d{3,}", lambda m: f"{float(m.group(0)):.2f}".rstrip("0").rstrip("."), tag.group(0)), svg)
    for fonts, stack in WEB_FONTS.items():
        svg = svg.replace(f"font-family: {fonts};", f"font-family: {stack};")
    return re.sub(r'style="[^"]*"', lambda m: re.sub(r"([:;,]) ", r"\1", m.group(0)), svg)


def themed_svg(svg: str) -> str:
    """The SVG with its colours named (fill:var(--ink)), drawn in the light palette, or in the dark one
    when opened as `name.svg#dark`.

    An <img> cannot see the page's light or dark theme, but its address can say
    it: `#dark` makes the SVG's root the `:target`, which sets the dark values.
    One file holds both looks; the page shows the one its theme asks for.
    """
    names = {colour: name for name, colour in LIGHT.colours().items()}

    def named(match: re.Match) -> str:
        if match.group(2) not in names:
            raise ValueError(f"figure colour {match.group(2)} is not in the palette")
        return f"{match.group(1)}var(--{names[match.group(2)]})"

    svg = re.sub(r"((?:fill|stroke):)(#[0-9a-f]{6})", named, svg)
    used = set(re.findall(r"var\(--(\w+)\)", svg))
    values = {palette: ";".join(f"--{name}:{colour}" for name, colour in palette.colours().items() if name in used)
              for palette in (LIGHT, DARK)}
    style = f"<style>svg{{{values[LIGHT]}}}:target{{{values[DARK]}}}</style>"
    return re.sub(r"<svg ([^>]*)>", lambda root: f'<svg id="dark" {root.group(1)}>\n{style}', svg, count=1)


def new_figure(width: float = 6.4, height: float = 3.6, top: float = 0.86, left: float = 0.9, **spacing) -> Figure:
    """A blank figure with fixed margins, `left` in inches (fixed, not computed: that is 2-3x faster to draw)."""
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=left / width, right=1 - 0.2 / width, bottom=0.55 / height, top=top, **spacing)
    return fig


# ---------------------------------------------------------------- words in every language

# A figure is drawn once with the words of every language, each language's words in
# SVG groups of their own; `svg_files` writes one file per language without the
# other languages' groups. Where matplotlib puts an axis label or a title depends
# on the tick labels, never on the words, so each language's words sit where a
# figure drawn in that language alone would put them.
Languages = dict[str, Labels]   # language code -> the figure words in that language


def words_id(lang: str) -> str:
    """The SVG group id of one language's words."""
    return f"words-{lang}"


class Translation(Text):
    """One language's words for an axis label or a title, drawn where matplotlib puts that (empty) text."""

    def __init__(self, place: Text, text: str, lang: str, fonts: list[str]):
        super().__init__(text=text)
        self.update_from(place)   # size, colour, alignment, rotation and transform
        self.set_rotation_mode(place.get_rotation_mode())
        self.set_fontfamily(fonts)
        self.set_gid(words_id(lang))
        self.place = place

    def draw(self, renderer):
        self.set_position(self.place.get_position())   # placed while the axes were drawn, just before
        super().draw(renderer)


def translate(fig: Figure, place: Text, texts: dict[str, str], languages: Languages) -> None:
    """Give an axis label or a title its words in every language (it stays empty itself)."""
    place.set_text("")
    for lang, text in texts.items():
        fig.add_artist(Translation(place, text, lang, languages[lang].fonts))


def label_axes(fig: Figure, ax, languages: Languages, x: str | None = None, y: str | None = None) -> None:
    """The x and y axis labels, in every language, from the words named `x` and `y`."""
    for name, axis in ((x, ax.xaxis), (y, ax.yaxis)):
        if name:
            translate(fig, axis.label, {lang: getattr(words, name) for lang, words in languages.items()}, languages)


def legends_above(ax, handles: list, labels: dict[str, list[str]], languages: Languages, ncols: int) -> list[Legend]:
    """A legend above the axes in every language (each lays out its own words), by language: its labels."""
    legends = []
    for lang, words in labels.items():
        legend = ax.add_artist(Legend(ax, handles, words, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=ncols,
                                      frameon=False, borderaxespad=0.2, prop={"family": languages[lang].fonts}))
        legend.set_gid(words_id(lang))
        legends.append(legend)
    return legends


# ---------------------------------------------------------------- the static figures

def data_figures(run: Run, languages: Languages, narrow: bool = False) -> dict[str, dict[str, bytes]]:
    """The data alone, then with the starting curve, then with the trained curve: name -> language -> SVG."""
    fig = new_figure(NARROW, 4.0, top=1 - 0.9 / 4.0) if narrow else new_figure()   # narrow: a legend of three rows
    ax = fig.add_subplot()
    fits, fails = draw_points(ax, run)
    ax.set_yticks([0, 1])
    xs = curve_xs(run)
    curve, = ax.plot(xs, predict(run.settings.network, run.initial.params, xs), color=LIGHT.curve, linewidth=2.2,
                     visible=False)
    label_axes(fig, ax, languages, x="x", y="y")
    drawn, legends = {}, []
    for name in ("scatter", "initial", "final"):
        if name == "initial":
            ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1])
            curve.set_visible(True)
        if name == "final":
            curve.set_ydata(predict(run.settings.network, run.final_params, xs))
        handles = [fits, fails] + [curve] * curve.get_visible()
        for legend in legends:
            legend.remove()
        legends = legends_above(ax, handles, {lang: [words.fits, words.fails, words.curve][:len(handles)]
                                              for lang, words in languages.items()}, languages, 1 if narrow else 3)
        drawn[name] = svg_files(fig, languages)
    return drawn


def loss_figure(run: Run, languages: Languages, narrow: bool = False) -> dict[str, bytes]:
    """The loss of every epoch, both axes on a log scale, under the loss of the best constant prediction."""
    fig = new_figure(NARROW, 3.3, top=1 - 0.4 / 3.3) if narrow else new_figure(6.4, 3.2, top=0.95)
    ax = fig.add_subplot()
    epochs = np.arange(1, len(run.losses) + 1)
    ax.plot(epochs, shown_losses(run), color=LIGHT.loss, linewidth=2, zorder=2)
    log_scale(ax)
    log_epochs(ax, len(run.losses))
    ax.grid(True, which="major", color=LIGHT.grid, linewidth=0.6)
    line = flat_line(ax, run)
    if line is not None and narrow:
        # Its words above the axes: on the line they would cross the curve's first epochs.
        legends_above(ax, [line], {lang: [words.flat.format(loss=f"{flat_loss(run):.4g}")]
                                   for lang, words in languages.items()}, languages, 1)
    elif line is not None:
        # Its words in every language, each with the value: at the right end, just above the line.
        flat = flat_loss(run)
        for lang, words in languages.items():
            ax.annotate(words.flat.format(loss=f"{flat:.4g}"), (0.99, flat), xycoords=ax.get_yaxis_transform(),
                        xytext=(0, 2.5), textcoords="offset points", ha="right", va="bottom", fontsize=10,
                        color=LIGHT.flat, family=words.fonts, gid=words_id(lang))
    label_axes(fig, ax, languages, x="epoch", y="loss")
    return svg_files(fig, languages)


def hidden_figures(run: Run, languages: Languages, narrow: bool = False) -> dict[str, dict[str, bytes]]:
    """The first hidden layer's units a^{(1)}_j(x) beside the output they add up to (above it, if narrow),
    drawn twice: at the starting values ("hidden-start") and after training ("hidden"). Name -> language -> SVG."""
    network = run.settings.network
    xs = curve_xs(run)
    if narrow:
        fig = new_figure(NARROW, 6.4, top=1 - 0.32 / 6.4, hspace=0.42)
        left, right = fig.subplots(2, 1, sharex=True)
    else:
        fig = new_figure(8.0, 3.4, top=0.9, wspace=0.25)
        left, right = fig.subplots(1, 2, sharex=True)
    units = [left.plot([], [], linewidth=2.2, color=LIGHT.units[j % len(LIGHT.units)],
                       label=f"a⁽¹⁾{str(j + 1).translate(SUBSCRIPT)}")[0] for j in range(network.layers[1])]
    left.set_xlim(*x_range(run))
    left.set_ylim(-0.05, 1.05)
    left.grid(True, color=LIGHT.grid, linewidth=0.6)
    draw_points(right, run)
    output, = right.plot([], [], color=LIGHT.curve, linewidth=2.4, label="ŷ")
    for ax, title in ((left, "hidden"), (right, "output")):
        ax.set_title("", fontsize=11)
        translate(fig, ax.title, {lang: getattr(words, title) for lang, words in languages.items()}, languages)
        if ax.get_subplotspec().is_last_row():   # stacked, the upper one shares the lower one's x axis
            label_axes(fig, ax, languages, x="x")
    drawn = {}
    for name, params in (("hidden-start", run.initial.params), ("hidden", run.final_params)):
        W, B = network.unpack(params)
        a = forward(W, B, xs)
        for j, unit in enumerate(units):
            unit.set_data(xs, a[1][:, j])
        output.set_data(xs, a[-1][:, 0])
        left.legend(frameon=False, loc="best")   # placed anew where these curves leave room
        drawn[name] = svg_files(fig, languages)
    return drawn


def starts_figure(run: Run, others: list[tuple[int, Run]], languages: Languages, narrow: bool = False
                  ) -> dict[str, bytes]:
    """Final curves of this build's start and of random starts, each with its final loss."""
    runs = [(None, run)] + others
    columns = 2 if narrow else 3
    rows = -(-len(runs) // columns)
    if narrow:   # no axis labels: the panels take the room
        fig = new_figure(NARROW, 2.2 * rows, top=1 - 0.5 / (2.2 * rows), left=0.45, hspace=0.6, wspace=0.15)
    else:
        fig = new_figure(8.0, 2.4 * rows, top=1 - 0.5 / (2.4 * rows), hspace=0.55, wspace=0.12)
    axes = fig.subplots(rows, columns, sharex=True, sharey=True, squeeze=False).ravel()
    xs = curve_xs(run)
    for ax, (seed, each) in zip(axes, runs):
        draw_points(ax, each)
        ax.plot(xs, predict(each.settings.network, each.final_params, xs), color=LIGHT.curve, linewidth=2)
        ax.set_yticks([0, 1])
        ax.set_title("", fontsize=10)
        # This build's own start comes first; if it too was drawn at random, its seed is named.
        mine = f" · seed {run.settings.init_seed}" if run.settings.init_random else ""
        titles = {lang: words.recommended + mine if seed is None else words.seed.format(seed=seed)
                  for lang, words in languages.items()}
        translate(fig, ax.title, {lang: f"{title}\nE = {each.final_loss:.4f}" for lang, title in titles.items()},
                  languages)
    for ax in axes[len(runs):]:
        ax.set_visible(False)
    return svg_files(fig, languages)


LOSS_FLOOR = 1e-12   # a log scale has no 0: a smaller loss (a perfect fit gives exactly 0) is drawn here


def shown_losses(run: Run) -> np.ndarray:
    """The loss of every epoch as the log-scale plots draw it: at least LOSS_FLOOR."""
    return np.maximum(np.asarray(run.losses, dtype=float), LOSS_FLOOR)


def loss_limits(run: Run) -> tuple[float, float]:
    """Fixed log-scale limits that hold every loss of the run (as shown) and the reference line."""
    flat = flat_loss(run)
    shown = shown_losses(run)
    lo, hi = float(shown.min()), float(shown.max())
    if flat > 0:
        lo, hi = min(lo, flat), max(hi, flat)
    return lo / 1.6, hi * 1.6


class FrameDrawer:
    """Draws one animation frame per snapshot on a background drawn once."""

    def __init__(self, run: Run):
        self.run = run
        self.fig = Figure(figsize=FRAME_SIZE, dpi=FRAME_DPI)
        self.canvas = FigureCanvasAgg(self.fig)
        self.fig.patch.set_facecolor(LIGHT.paper)
        self.fit_ax, self.loss_ax = self.fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.15, 1]})
        self.fig.subplots_adjust(left=0.07, right=0.965, bottom=0.16, top=0.86, wspace=0.3)
        self.xs = curve_xs(run)
        self.shown_losses = shown_losses(run)

        # Only symbols and numbers, no words: the page's caption says what they mean, in its language.
        # The points sit above the curve: like the spines (below), they are drawn over each frame's curve.
        self.points = draw_points(self.fit_ax, run)
        for group in self.points:
            group.set_animated(True)
        self.fit_ax.set_xlabel("x")
        self.fit_ax.set_ylabel("ŷ", rotation=0, labelpad=10)
        log_scale(self.loss_ax)
        log_epochs(self.loss_ax, len(run.losses))
        self.loss_ax.set_ylim(*loss_limits(run))
        self.loss_ax.set_xlabel("e")
        self.loss_ax.set_ylabel("E", rotation=0, labelpad=10)
        self.loss_ax.grid(True, which="major", color=LIGHT.grid, linewidth=0.6)
        if flat_line(self.loss_ax, run) is not None:
            self.loss_ax.annotate("ŷ = ȳ", (0.98, flat_loss(run)), xycoords=self.loss_ax.get_yaxis_transform(),
                                  xytext=(0, 3), textcoords="offset points", ha="right", va="bottom", fontsize=10,
                                  color=LIGHT.flat)

        self.curve, = self.fit_ax.plot([], [], color=LIGHT.curve, linewidth=2.4, animated=True)
        self.loss_line, = self.loss_ax.plot([], [], color=LIGHT.loss, linewidth=1.8, animated=True)
        self.loss_dot, = self.loss_ax.plot([], [], "o", color=LIGHT.loss, markersize=6, animated=True, clip_on=False)
        # The title "e = 100    E = 0.12345": its symbols are drawn once with the
        # background, its two numbers in each frame (text is most of a frame's drawing
        # time, a space as costly as a digit). The font is monospaced, so every
        # character has a fixed place: the numbers end where the whole title would put them.
        style = {"va": "baseline", "fontsize": 13, "family": "DejaVu Sans Mono"}
        epoch_width, loss_width = len(str(run.settings.epochs)), len(f"{max(run.losses):.5f}")
        epoch_label = "e = "
        symbols = self.fig.text(0.5, TITLE_BASELINE, f"{epoch_label}{'':{epoch_width}}    E = {'':{loss_width}}",
                                ha="center", **style)
        box = symbols.get_window_extent(self.canvas.get_renderer()).transformed(self.fig.transFigure.inverted())
        advance = box.width / len(symbols.get_text())
        self.epoch = self.fig.text(box.x0 + advance * (len(epoch_label) + epoch_width), TITLE_BASELINE, "",
                                   ha="right", animated=True, **style)
        self.loss = self.fig.text(box.x1, TITLE_BASELINE, "", ha="right", animated=True, **style)
        # The spines that show sit above the lines: they are left out of the background and drawn over
        # each frame's lines, as a full draw would (drawn twice, their soft edges would come out darker).
        self.spines = [(ax, spine) for ax in (self.fit_ax, self.loss_ax) for spine in ax.spines.values()
                       if spine.get_visible()]
        for _, spine in self.spines:
            spine.set_visible(False)
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)
        for _, spine in self.spines:
            spine.set_visible(True)
        self.pixels = Image.new("RGB", self.canvas.get_width_height())   # each frame is read into it

    def frame(self, index: int) -> Image.Image:
        """The frame for snapshot `index`, as an RGB image (the same image each time: use it before the next)."""
        snap = self.run.snapshots[index]
        self.curve.set_data(self.xs, predict(self.run.settings.network, snap.params, self.xs))
        self.loss_line.set_data(np.arange(1, snap.epoch + 1), self.shown_losses[:snap.epoch])
        self.loss_dot.set_data([snap.epoch], [max(snap.loss, LOSS_FLOOR)])
        self.epoch.set_text(str(snap.epoch))
        self.loss.set_text(f"{snap.loss:.5f}")
        self.canvas.restore_region(self.background)
        self.fit_ax.draw_artist(self.curve)
        self.loss_ax.draw_artist(self.loss_line)
        self.loss_ax.draw_artist(self.loss_dot)
        for ax, spine in self.spines:
            ax.draw_artist(spine)
        for group in self.points:
            self.fit_ax.draw_artist(group)
        self.fig.draw_artist(self.epoch)
        self.fig.draw_artist(self.loss)
        # Agg's RGBA buffer read into the same image each time, the alpha byte dropped (one copy, in C).
        self.pixels.frombytes(self.canvas.buffer_rgba(), "raw", "RGBX")
        return self.pixels


def frames(run: Run, part: int = 0, parts: int = 1, tick=None) -> tuple[dict[int, bytes], dict[int, Image.Image]]:
    """Draw one share of the frames: their PNGs, and (drawn in one share) the palette images the GIF shows.

    Frames become palette images as soon as they are drawn, so a long run
    never holds its frames' full pixels in memory. Every share learns the same
    palette from the same few frames, so shares drawn apart fit together; with
    several shares the build makes the GIF from their PNGs.
    """
    drawer = FrameDrawer(run)
    count = len(run.snapshots)
    picked = {k: drawer.frame(k).copy() for k in images.palette_picks(count)}
    palette = images.shared_palette(list(picked.values()))
    in_gif = set(images.gif_picks(count)) if parts == 1 else set()
    pngs, gif_frames = {}, {}
    for done, k in enumerate(range(part, count, parts), start=1):
        frame = (picked[k] if k in picked else drawer.frame(k)).quantize(palette=palette, dither=Image.Dither.NONE)
        pngs[k] = images.png_bytes(frame)
        if k in in_gif:
            gif_frames[k] = frame
        if tick:
            tick(done)
    return pngs, gif_frames


# ---------------------------------------------------------------- the drawing jobs of a build

def frame_files(run: Run, others, progress=None, *, part: int, parts: int) -> dict[str, bytes]:
    """One share of the PNG frames by file name; drawn in one share, the GIF too (else the build makes it)."""
    configure_matplotlib()
    count = len(run.snapshots)
    tick = (lambda done: progress(f"frames {part + 1}/{parts}", done, -(-count // parts))) if progress else None
    pngs, gif_frames = frames(run, part, parts, tick)
    files = {images.frame_name(k, count): png for k, png in pngs.items()}
    if gif_frames:
        files[images.GIF] = images.gif_bytes([gif_frames[k] for k in sorted(gif_frames)])
    return files


def figure_files(run: Run, others, progress=None, *, words: dict[str, dict], group: str) -> dict[str, bytes]:
    """One group of static figures as SVG files by name, each drawn once in each layout (wide, narrow) and
    written in every language of `words`.

    The groups are separate jobs, so that the two workers can share them out as they come free.
    """
    configure_matplotlib()
    languages = {lang: Labels(**words[lang]) for lang in words}
    if any(labels.fonts == CJK_FONTS for labels in languages.values()):
        require_cjk_font()
    files = {}
    for narrow in (False, True):
        if group == "data":
            drawn = data_figures(run, languages, narrow)
        elif group == "loss":
            drawn = {"loss": loss_figure(run, languages, narrow)}
        elif group == "hidden":
            drawn = hidden_figures(run, languages, narrow)
        elif group == "starts":
            drawn = {"starts": starts_figure(run, others, languages, narrow)}
        else:
            raise ValueError(f"no figure group {group!r}")
        files |= {images.figure_name(lang, name, narrow): svg for name, svgs in drawn.items()
                  for lang, svg in svgs.items()}
    return files
