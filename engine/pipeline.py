"""The build as a recipe: settings -> training run -> figures and formulas -> pages -> site/.

Every step returns values; the site's files are gathered in one dictionary
(path inside the site -> bytes) and handed to `engine.output` at the very end,
so nothing is written unless every step succeeded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from engine import config, diagram, figures, formulas, mathtex, output, train
from engine.network import loss_and_gradient, predict
from engine.pages import (LANGS, Figure, PageRenderer, alt_texts, code_stylesheet, figure_labels, load_strings,
                          starts_alt)

ROOT = Path(__file__).resolve().parent.parent
STATIC_FIGURE_SIZE = (640, 360)
LOSS_FIGURE_SIZE = (640, 320)
WIDE_FIGURE_SIZE = (800, 340)
COMPARISON_SEEDS = (1, 2, 3, 4, 5)  # random starts set beside the configured one
REFERENCE_SEED = 2024               # random parameters the browser's network is checked at
REFERENCE_EPOCHS = 100              # a short run the browser's training is checked against


@dataclass(frozen=True)
class Paths:
    """Where the build reads its sources and writes the site."""

    config: Path = ROOT / "content" / "lesson.toml"
    content: Path = ROOT / "content"
    templates: Path = ROOT / "templates"
    out: Path = ROOT / "site"


@dataclass(frozen=True)
class Report:
    """What a build produced, for the terminal."""

    pages: int
    frames: int
    files: int
    total_bytes: int
    gif_bytes: int
    final_loss: float
    out: Path


def build(paths: Paths, overrides: list[str] = ()) -> Report:
    """Build the whole site from the settings and sources, then write it."""
    settings = config.load(paths.config, overrides)
    output.check_target(paths.out)
    run = train.train(settings)
    others = comparison_runs(settings)
    files: dict[str, bytes] = {}
    lesson_figures = draw_figures(run, others, paths.content, files)
    explained = explain(run)
    explained["starts"] = [{"seed": seed, "final_loss": other.final_loss} for seed, other in others]
    explained["client"] = client_data(run)
    files.update(render_pages(run, paths, lesson_figures, explained))
    files.update(mathtex.stylesheet_files())
    files.update(static_files(paths.templates / "static"))
    files["assets/code.css"] = code_stylesheet()
    files.update(data_files(run))
    files[".nojekyll"] = b""
    output.write_site(files, paths.out)
    return Report(
        pages=sum(name.endswith(".html") for name in files),
        frames=len(run.snapshots),
        files=len(files),
        total_bytes=sum(len(data) for data in files.values()),
        gif_bytes=len(files["animation/training.gif"]),
        final_loss=run.final_loss,
        out=paths.out,
    )


def frame_name(index: int, count: int) -> str:
    """The file name of frame `index` (0-based), zero-padded so the names sort in order."""
    return f"animation/frames/frame-{index + 1:0{max(3, len(str(count)))}d}.png"


def comparison_runs(settings: config.Settings) -> list[tuple[int, train.Run]]:
    """The same training from random starts, to compare with the configured start."""
    seeds = [seed for seed in COMPARISON_SEEDS if not (settings.init_random and seed == settings.init_seed)]
    return [(seed, train.train(config.with_random_init(settings, seed))) for seed in seeds[:4]]


def explain(run: train.Run) -> dict:
    """The formulas, diagrams and gradient checks of the lesson, each number checked against backprop."""
    network, points = run.settings.network, run.settings.points
    start = run.named(run.initial.params)
    lesson_formulas = formulas.lesson_formulas(network, start, points)
    k = formulas.example_sample(points)
    x, y = points[k]
    forward_numbers = {"x": x, **{f"a{j}_{l}": lesson_formulas[f"node-a{j}_{l}"].value
                                  for l in range(1, network.depth + 1) for j in range(1, network.layers[l] + 1)}}
    backward_numbers = {"x": lesson_formulas["grad-x"].value,
                        **{f"a{j}_{l}": lesson_formulas[f"grad-a{j}_{l}"].value
                           for l in range(1, network.depth + 1) for j in range(1, network.layers[l] + 1)}}
    return {
        "formulas": lesson_formulas,
        "example": {"k": k + 1, "x": x, "y": y},
        "diagrams": {
            "forward": diagram.draw(network, "forward", start, forward_numbers),
            "backward": diagram.draw(network, "backward", run.named(run.initial.grads), backward_numbers),
        },
        "checks": {"start": formulas.gradient_checks(network, run.initial.params, points),
                   "end": formulas.gradient_checks(network, run.final_params, points)},
    }


def client_data(run: train.Run) -> dict:
    """What the page's scripts need, inlined as JSON: the run, and numpy's answers to check them against."""
    settings, network = run.settings, run.settings.network
    count = len(run.snapshots)
    rng = np.random.default_rng(REFERENCE_SEED)
    checks = [list(run.initial.params), list(run.final_params)] + [
        rng.standard_normal(len(run.param_names)).tolist() for _ in range(2)]
    xs = [x for x, _ in settings.points]
    reference = []
    for values in checks:
        loss, grads = loss_and_gradient(network, values, settings.points)
        reference.append({"params": values, "loss": loss, "grads": grads.tolist(),
                          "predictions": predict(network, values, xs).tolist()})
    hundred = train.train(replace(settings, epochs=REFERENCE_EPOCHS, display_every=REFERENCE_EPOCHS))
    return {
        "layers": list(settings.layers),
        "names": list(run.param_names),
        "points": [list(p) for p in settings.points],
        "example": formulas.example_sample(settings.points),
        "learningRate": settings.learning_rate,
        "epochs": settings.epochs,
        "initial": list(run.initial.params),
        "snapshots": [{"epoch": s.epoch, "loss": s.loss, "params": list(s.params), "grads": list(s.grads)}
                      for s in run.snapshots],
        "frames": [frame_name(k, count) for k in range(count)],
        "reference": {"points": reference,
                      "run": {"epochs": REFERENCE_EPOCHS, "params": list(hundred.final_params),
                              "losses": list(hundred.losses), "loss": hundred.final_loss}},
    }


def draw_figures(run: train.Run, others, content: Path, files: dict[str, bytes]) -> dict[str, dict[str, Figure]]:
    """Draw the animation and each language's figures into `files`; describe them for the pages."""
    figures.configure_matplotlib()
    frames, gif = figures.animation(run)
    for k, png in enumerate(frames):
        files[frame_name(k, len(frames))] = png
    files["animation/training.gif"] = gif
    strings = load_strings(content)
    width, height = figures.FRAME_SIZE[0] * figures.FRAME_DPI, figures.FRAME_SIZE[1] * figures.FRAME_DPI
    described = {}
    for lang in LANGS:
        labels = figure_labels(strings, lang)
        alt = alt_texts(run, strings, lang)
        drawn = {
            "scatter": (figures.scatter_figure(run, labels), STATIC_FIGURE_SIZE),
            "initial": (figures.curve_figure(run, run.initial.params, labels), STATIC_FIGURE_SIZE),
            "final": (figures.curve_figure(run, run.final_params, labels), STATIC_FIGURE_SIZE),
            "loss": (figures.loss_figure(run, labels), LOSS_FIGURE_SIZE),
            "hidden": (figures.hidden_figure(run, run.final_params, labels), WIDE_FIGURE_SIZE),
            "starts": (figures.starts_figure(run, others, labels), (800, 240 * -(-(1 + len(others)) // 3))),
        }
        alt["starts"] = starts_alt(run, others, strings, lang)
        described[lang] = {"animation": Figure("animation/training.gif", alt["animation"], int(width), int(height))}
        for name, (svg, (w, h)) in drawn.items():
            files[f"figures/{lang}/{name}.svg"] = svg
            described[lang][name] = Figure(f"figures/{lang}/{name}.svg", alt[name], w, h)
    return described


def render_pages(run: train.Run, paths: Paths, lesson_figures, explained: dict) -> dict[str, bytes]:
    """Render every page, then all their formulas in one KaTeX batch."""
    batch = mathtex.MathBatch()
    renderer = PageRenderer(paths.templates, paths.content, run, batch, lesson_figures, explained)
    pages = {f"{lang}/index.html": renderer.lesson(lang) for lang in LANGS}
    pages["index.html"] = renderer.index()
    pages["404.html"] = renderer.not_found()
    batch.render()
    return {name: batch.substitute(html).encode("utf-8") for name, html in pages.items()}


def static_files(folder: Path) -> dict[str, bytes]:
    """The style sheet and scripts, copied into assets/."""
    return {f"assets/{path.relative_to(folder).as_posix()}": path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def data_files(run: train.Run) -> dict[str, bytes]:
    """The run as JSON (the output contract) and the loss of every epoch as CSV."""
    record = json.dumps(train.run_record(run), indent=1, ensure_ascii=False) + "\n"
    csv = "epoch,loss\n" + "".join(f"{e},{loss!r}\n" for e, loss in enumerate(run.losses, start=1))
    return {"data/run.json": record.encode("utf-8"), "data/run.csv": csv.encode("utf-8")}
