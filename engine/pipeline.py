"""The build as a recipe: settings -> training run -> figures and formulas -> pages -> site/.

Every step returns values; the site's files are gathered in one dictionary
(path inside the site -> bytes) and handed to `engine.output` at the very end,
so nothing is written unless every step succeeded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine import config, figures, mathtex, output, train
from engine.pages import LANGS, Figure, PageRenderer, alt_texts, figure_labels, load_strings

ROOT = Path(__file__).resolve().parent.parent
STATIC_FIGURE_SIZE = (640, 360)
LOSS_FIGURE_SIZE = (640, 320)


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
    files: dict[str, bytes] = {}
    lesson_figures = draw_figures(run, paths.content, files)
    files.update(render_pages(run, paths, lesson_figures))
    files.update(mathtex.stylesheet_files())
    files.update(static_files(paths.templates / "static"))
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


def draw_figures(run: train.Run, content: Path, files: dict[str, bytes]) -> dict[str, dict[str, Figure]]:
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
        }
        described[lang] = {"animation": Figure("animation/training.gif", alt["animation"], int(width), int(height))}
        for name, (svg, (w, h)) in drawn.items():
            files[f"figures/{lang}/{name}.svg"] = svg
            described[lang][name] = Figure(f"figures/{lang}/{name}.svg", alt[name], w, h)
    return described


def render_pages(run: train.Run, paths: Paths, lesson_figures) -> dict[str, bytes]:
    """Render every page, then all their formulas in one KaTeX batch."""
    batch = mathtex.MathBatch()
    renderer = PageRenderer(paths.templates, paths.content, run, batch, lesson_figures)
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
