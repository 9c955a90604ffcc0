"""The build as a recipe: settings -> training run -> figures and formulas -> pages -> site/.

Every step returns values; the site's files are gathered in one dictionary
(path inside the site -> bytes) and handed to `engine.output` at the very end,
so nothing is written unless every step succeeded.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import multiprocessing
import os
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from engine import config, diagram, formulas, images, mathtex, output, train
from engine.cache import Cache
from engine.network import loss_and_gradient, predict
from engine.pages import LANGS, Figure, PageRenderer, alt_texts, code_stylesheet, load_strings, starts_alt
from engine.strict import check

ROOT = Path(__file__).resolve().parent.parent
FIGURE_SIZES = {  # pixels at 100 dpi, for the <img> width and height
    "scatter": (640, 360), "initial": (640, 360), "final": (640, 360),
    "loss": (640, 320), "hidden": (800, 340),
}
FRAME_SIZE = (800, 340)
FRAME_PARTS = 2  # the frames are drawn in this many shares, one per core
COMPARISON_SEEDS = (1, 2, 3, 4, 5)  # random starts set beside the configured one...
COMPARISON_COUNT = 4                # ...this many of them
REFERENCE_SEED = 2024               # random parameters the browser's network is checked at
REFERENCE_EPOCHS = 100              # a short run the browser's training is checked against


@dataclass(frozen=True)
class Paths:
    """Where the build reads its sources and writes the site."""

    config: Path = ROOT / "content" / "lesson.toml"
    content: Path = ROOT / "content"
    templates: Path = ROOT / "templates"
    out: Path = ROOT / "site"
    cache: Path | None = ROOT / ".cache"   # None: build everything afresh


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
    seconds: dict[str, float] = field(default_factory=dict)   # wall time of each step
    cached: tuple[str, ...] = ()                              # results taken from the cache
    warnings: tuple[str, ...] = ()                            # one line each (engine/strict.py)


Progress = Callable[[str, int, int], None]   # (what, done, total): the CLI draws a bar


class Stopwatch:
    """Wall time of the named steps of a build."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str):
        """Time the block as step `name`."""
        start = time.perf_counter()
        yield
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


def build(paths: Paths, overrides: list[str] = (), progress: Progress | None = None,
          strict: bool = False) -> Report:
    """Build the whole site from the settings and sources, then write it (with `strict`, only if nothing warns)."""
    clock = Stopwatch()
    cache = Cache(paths.cache)
    with clock.step("settings"):
        settings = config.load(paths.config, overrides)
        output.check_target(paths.out)
        strings = load_strings(paths.content)
        # Nothing changed since a build with the same settings, prose and templates: reuse it whole.
        site_key = cache.key("site", settings.as_dict(), folder_digest(paths.content), folder_digest(paths.templates))
        previous = cache.load(site_key)
    if previous is not None:
        files, report = previous
        found = check(files, paths.content, paths.config, overrides, settings, strict)
        with clock.step("write"):
            output.write_site(files, paths.out)
        return replace(report, out=paths.out, seconds=clock.seconds, cached=("site",), warnings=found)
    jobs = drawing_jobs(settings, strings, cache)
    drawn = {key: cache.load(key) for key in jobs}
    missing = [key for key, files in drawn.items() if files is None]
    workers = Workers(wanted=len(missing) > 1)
    try:
        with clock.step("train"):
            run, others = cache.value("runs", settings.as_dict(),
                                      lambda: train_with_comparisons(settings, progress))
        with clock.step("figures (started)"):
            collect = workers.start([functools.partial(jobs[key], run, others, progress) for key in missing])
        with clock.step("pages"):
            explained = explain(run)
            explained["starts"] = [{"seed": seed, "final_loss": other.final_loss} for seed, other in others]
            explained["client"] = client_data(run)
            files = render_pages(run, paths, describe_figures(run, others, strings), explained, cache)
        with clock.step("figures (waited for)"):
            for key, result in zip(missing, collect()):
                cache.save(key, result)
                drawn[key] = result
    finally:
        workers.close()
    files.update(animation_files(list(drawn.values())))
    files.update(mathtex.stylesheet_files())
    files.update(static_files(paths.templates / "static"))
    files["assets/code.css"] = code_stylesheet()
    files.update(data_files(run))
    files[".nojekyll"] = b""
    found = check(files, paths.content, paths.config, overrides, settings, strict)
    with clock.step("write"):
        output.write_site(files, paths.out)
    report = Report(
        pages=sum(name.endswith(".html") for name in files),
        frames=len(run.snapshots),
        files=len(files),
        total_bytes=sum(len(data) for data in files.values()),
        gif_bytes=len(files["animation/training.gif"]),
        final_loss=run.final_loss,
        out=paths.out,
        seconds=clock.seconds,
        cached=tuple(sorted(set(cache.hits))),
        warnings=found,
    )
    cache.save(site_key, (files, report))
    return report


def folder_digest(folder: Path) -> str:
    """A hash of every file below a folder, names and contents."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def frame_name(index: int, count: int) -> str:
    """The file name of frame `index` (0-based), zero-padded so the names sort in order."""
    return f"animation/frames/frame-{index + 1:0{max(3, len(str(count)))}d}.png"


def comparison_seeds(settings: config.Settings) -> list[int]:
    """Seeds of the random starts set beside the configured one (never the same start twice)."""
    seeds = [seed for seed in COMPARISON_SEEDS if not (settings.init_random and seed == settings.init_seed)]
    return seeds[:COMPARISON_COUNT]


def train_with_comparisons(settings: config.Settings, progress: Progress | None = None):
    """The lesson's run, and the same training from random starts (those that stayed finite)."""
    seeds = comparison_seeds(settings)
    tick = functools.partial(progress, "training", total=settings.epochs) if progress else None
    runs = train.train_side_by_side([settings] + [config.with_random_init(settings, s) for s in seeds], tick)
    others = [(seed, other) for seed, other in zip(seeds, runs[1:]) if math.isfinite(other.final_loss)]
    return runs[0], others


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


def describe_figures(run: train.Run, others, strings: dict) -> dict[str, dict[str, Figure]]:
    """Each figure's file, size and alt text (written from the data), per language."""
    described = {}
    starts_height = 240 * -(-(1 + len(others)) // 3)   # rows of three panels
    for lang in LANGS:
        alt = alt_texts(run, strings, lang)
        alt["starts"] = starts_alt(run, others, strings, lang)
        described[lang] = {"animation": Figure("animation/training.gif", alt["animation"], *FRAME_SIZE),
                           "starts": Figure(f"figures/{lang}/starts.svg", alt["starts"], 800, starts_height)}
        for name, (width, height) in FIGURE_SIZES.items():
            described[lang][name] = Figure(f"figures/{lang}/{name}.svg", alt[name], width, height)
    return described


def draw_frames(run: train.Run, others, progress: Progress | None = None, *, part: int,
                parts: int) -> tuple[dict[str, bytes], dict]:
    """One share of the PNG frames, and the palette images of its frames the GIF shows."""
    from engine import figures  # matplotlib loads only where something is drawn
    figures.configure_matplotlib()
    count = len(run.snapshots)
    tick = functools.partial(progress, f"frames {part + 1}/{parts}", total=-(-count // parts)) if progress else None
    pngs, gif_frames = figures.frames(run, part, parts, tick)
    return {frame_name(k, count): png for k, png in pngs.items()}, gif_frames


def draw_language_figures(run: train.Run, others, progress: Progress | None = None, *, words: dict,
                          lang: str) -> dict[str, bytes]:
    """The static figures of one language, as SVG."""
    from engine import figures
    figures.configure_matplotlib(" ".join(words.values()))
    labels = figures.Labels(**words)
    drawn = {
        **figures.data_figures(run, labels),
        "loss": figures.loss_figure(run, labels),
        "hidden": figures.hidden_figure(run, run.final_params, labels),
        "starts": figures.starts_figure(run, others, labels),
    }
    return {f"figures/{lang}/{name}.svg": svg for name, svg in drawn.items()}


def drawing_jobs(settings: config.Settings, strings: dict, cache: Cache) -> dict[str, Callable]:
    """Cache key -> drawing function (taking the runs) of every figure file group of the site."""
    inputs = settings.as_dict()
    jobs = {cache.key("frames", inputs, part, FRAME_PARTS): functools.partial(draw_frames, part=part,
                                                                             parts=FRAME_PARTS)
            for part in range(FRAME_PARTS)}
    for lang in LANGS:
        words = strings[lang]["figure"]
        jobs[cache.key("figures", inputs, lang, words)] = functools.partial(draw_language_figures, words=words,
                                                                            lang=lang)
    return jobs


def animation_files(drawn: list) -> dict[str, bytes]:
    """The frames' PNGs and the GIF made of the frames the shares set aside for it."""
    files, gif_frames = {}, {}
    for result in drawn:
        if isinstance(result, tuple):   # a share of the frames
            files.update(result[0])
            gif_frames.update(result[1])
        else:                           # a language's figures
            files.update(result)
    files["animation/training.gif"] = images.gif_bytes([gif_frames[k] for k in sorted(gif_frames)])
    return files


def load_matplotlib() -> None:
    """Prepare a worker: leave Ctrl-C to the main process, import the drawing code (a third of a second)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from engine import figures
    figures.configure_matplotlib()


class Workers:
    """Two forked processes that draw while the main process trains and writes pages.

    They start (and import matplotlib) before training, so that cost overlaps
    too. Where that cannot help (nothing to draw, one core, no fork), jobs
    run in this process when their results are collected.
    """

    def __init__(self, wanted: bool):
        can = (os.cpu_count() or 1) > 1 and "fork" in multiprocessing.get_all_start_methods()
        self.pool = None
        if wanted and can:
            # multiprocessing's Pool, not concurrent.futures: its terminate() also stops
            # workers in the middle of a job, so Ctrl-C never leaves the build waiting.
            self.pool = multiprocessing.get_context("fork").Pool(2, initializer=load_matplotlib)

    def start(self, jobs: list[Callable]) -> Callable[[], list]:
        """Start the jobs; return a function that waits for their results, in order."""
        if self.pool is None:
            return lambda: [job() for job in jobs]
        pending = [self.pool.apply_async(job) for job in jobs]
        return lambda: [result.get() for result in pending]

    def close(self) -> None:
        """Stop the worker processes, also in the middle of a job (after an error or Ctrl-C)."""
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()


def render_pages(run: train.Run, paths: Paths, lesson_figures, explained: dict, cache: Cache) -> dict[str, bytes]:
    """Render every page, then all their formulas in one KaTeX batch."""
    batch = mathtex.MathBatch()
    compiled = paths.cache / "jinja" if paths.cache else None
    if compiled:
        compiled.mkdir(parents=True, exist_ok=True)
    renderer = PageRenderer(paths.templates, paths.content, run, batch, lesson_figures, explained, compiled)
    pages = {f"{lang}/index.html": renderer.lesson(lang) for lang in LANGS}
    pages["index.html"] = renderer.index()
    pages["404.html"] = renderer.not_found()
    batch.render(cache)
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
