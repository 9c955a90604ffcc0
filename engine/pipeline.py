"""The build as a recipe: settings -> training run -> figures and formulas -> pages -> site/.

`build` reads top to bottom in that order. Every step returns values; the
site's files are gathered in one dictionary (path inside the site -> bytes)
and handed to `engine.output` at the very end, so nothing is written unless
every step succeeded. Two things happen side by side, because a cold build
is CPU work for both cores: two worker processes draw the figures and frames
(`Figures`, engine/workers.py) while this process writes the pages, and node
renders each section's formulas while the next section is written
(engine/mathtex.py).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import jinja2
import numpy as np

from engine import config, diagram, formulas, images, mathfont, mathtex, output, train
from engine.cache import FOLDER as cache_folder, Cache, Form
from engine.pages import (LANGS, ContentError, Explained, Figure, PageRenderer, alt_texts, code_stylesheet,
                          load_strings, misclassified, starts_alt)
from engine.script import SCRIPT_FILE, lesson_script
from engine.single_file import single_page
from engine.strict import check
from engine.workers import Helpers, Job, Workers

ROOT = Path(__file__).resolve().parent.parent
FIGURE_SIZES = {  # pixels at 100 dpi, for the <img> width and height: the wide layout, then the narrow one
    "scatter": ((640, 360), (400, 400)), "initial": ((640, 360), (400, 400)), "final": ((640, 360), (400, 400)),
    "loss": ((640, 320), (400, 330)), "hidden-start": ((800, 340), (400, 640)), "hidden": ((800, 340), (400, 640)),
}
FRAME_SIZE = (800, 340)
# The static figures in groups, each a drawing job (engine.figures.figure_files), the most work first:
# the two workers take the frames and then these as they come free, so they finish close together (A/B,
# all in one job: the 501-frame build took 0.09 to 0.33 s longer; the default one, one share of frames, the same).
FIGURE_GROUPS = ("data", "starts", "hidden", "loss")
COMPARISON_SEEDS = (1, 2, 3, 4, 5)  # random starts set beside the configured one...
COMPARISON_COUNT = 4                # ...this many of them


def default_cache() -> Path:
    """Where builds keep their results unless told: $LESSON_CACHE if set, else .cache/ in the project folder."""
    return Path(os.environ.get("LESSON_CACHE") or cache_folder)


@dataclass(frozen=True)
class Paths:
    """Where the build reads its sources and writes the site."""

    config: Path = ROOT / "content" / "lesson.toml"
    content: Path = ROOT / "content"
    templates: Path = ROOT / "templates"
    out: Path = ROOT / "site"
    cache: Path | None = field(default_factory=default_cache)   # None: build everything afresh


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
    left: tuple[str, ...] = ()                                # what the write could not clean up, one line each


# What a report says about the site (the cache keeps it with the site's files); the rest is about one build.
SITE_NUMBERS = {"pages": int, "frames": int, "files": int, "total_bytes": int, "gif_bytes": int, "final_loss": float}


def site_entry(site: tuple[dict[str, bytes], Report]) -> tuple[dict, dict[str, bytes]]:
    """A whole site as the cache keeps it: its report's numbers, and its files."""
    files, report = site
    return {name: getattr(report, name) for name in SITE_NUMBERS}, files


def site_from_entry(numbers: dict, files: dict[str, bytes]) -> tuple[dict[str, bytes], Report]:
    """A whole site from the cache: its files, and a report of it (where it goes is the build's to say)."""
    for name, data in files.items():
        if name.endswith(".html"):
            data.decode("utf-8")   # engine.strict reads the pages: a UnicodeDecodeError is a ValueError here
    return files, Report(**numbers, out=Path())


SITE = Form(SITE_NUMBERS, site_entry, site_from_entry)

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
          strict: bool = False, single: tuple[Path, str] | None = None) -> Report:
    """Build the whole site from the settings and sources, then write it (with `strict`, only if nothing warns).

    `single` (a path and a language) also writes that language's page as one self-contained file, together
    with the site: both are written or neither.
    """
    clock = Stopwatch()
    with clock.step("settings"):
        check_places(paths, single)
        cache = Cache(paths.cache)
        settings = config.load(paths.config, overrides)
        mathtex.check_installed()
        mathfont.check_installed()
        strings = load_strings(paths.content)
        site_key = cache.key("site", settings.as_dict(), folder_digest(paths.content), folder_digest(paths.templates))
    # A site built before from the same settings, prose and templates is written again as it was (a rebuild
    # with nothing changed: 0.30 s; redoing the pages from the cache's parts took 0.11 s more, A/B).
    built = cache.load(site_key, SITE)
    if built is None:
        figures = Figures(settings, strings, cache)   # which figures and frames the cache does not hold
        # The helper processes: two drawing workers and Temml's node. They live in this block and are gone
        # when it ends, whatever ends it (engine/workers.py).
        with Helpers() as helpers:
            if figures.missing:
                # Forked now, the workers import matplotlib while the network trains, on the core the training
                # leaves idle (forked after it, a cold build took 0.07 to 0.14 s longer, A/B).
                helpers.drawing.start()
            with clock.step("run"):
                run, others = cache.value("runs", settings.as_dict(), lambda: train_with_comparisons(settings, progress),
                                          runs_form(settings))
            figures.draw(helpers.drawing, run, others, progress)   # the workers draw while the pages are written
            with clock.step("pages"):
                files = pages(run, others, strings, paths, cache, helpers.temml)   # node renders their formulas
            with clock.step("figures (waited for)"):
                files |= figures.files()
        files |= lesson_files(run, paths.templates)
        built = files, site_report(files, run)
        cache.save(site_key, built, SITE)
        cache.trim()
    files, report = built
    found = check(files, paths.content, settings, strict)   # reads the pages only
    with clock.step("write"):
        left = output.write_site(files, paths.out, single_file(files, single))
    return replace(report, out=paths.out, seconds=clock.seconds, cached=tuple(sorted(set(cache.hits))),
                   warnings=found, left=tuple(left))


def check_places(paths: Paths, single: tuple[Path, str] | None) -> None:
    """Refuse, before any work, a site folder, single file or cache folder that cannot be written as asked."""
    out = output.check_target(paths.out)
    if single:
        output.check_single_file(single[0], out)
    check_apart(paths.cache, out)


def pages(run: train.Run, others, strings: dict, paths: Paths, cache: Cache, temml: mathtex.Temml
          ) -> dict[str, bytes]:
    """The pages, with every formula and number of the run; the diagram cards' formulas and the math font."""
    return render_pages(run, paths, describe_figures(run, others, strings), explain(run, others), cache, temml)


def lesson_files(run: train.Run, templates: Path) -> dict[str, bytes]:
    """The site's other files: style sheets and scripts, the run as data, the lesson's own script (section 11)."""
    return {**static_files(templates / "static"), "assets/code.css": code_stylesheet(), **data_files(run),
            SCRIPT_FILE: lesson_script(run.settings).encode("utf-8"), ".nojekyll": b""}


def site_report(files: dict[str, bytes], run: train.Run) -> Report:
    """What a new site holds, for the terminal and the cache."""
    return Report(pages=sum(name.endswith(".html") for name in files), frames=len(run.snapshots), files=len(files),
                  total_bytes=sum(len(data) for data in files.values()),
                  gif_bytes=len(files["animation/training.gif"]), final_loss=run.final_loss, out=Path())


def check_apart(cache: Path | None, out: Path) -> None:
    """Refuse a cache inside the site or around it: one would delete or hold the other."""
    if cache is None:
        return
    place = Path(cache).expanduser().resolve()
    if place.is_relative_to(out) or out.is_relative_to(place):
        raise output.OutputError(f"--cache: expected a folder apart from the site, got {cache} "
                                 f"({'inside' if place.is_relative_to(out) else 'around'} the site {out})")


def single_file(files: dict[str, bytes], single: tuple[Path, str] | None) -> tuple[Path, bytes] | None:
    """The --single-file target and its bytes: one language's page with everything it uses inside."""
    if single is None:
        return None
    path, lang = single
    return path, single_page(files, lang)


def folder_digest(folder: Path) -> str:
    """A hash of everything below a folder: names, the bytes of regular files, where links point.

    Links are not followed and special files (pipes, devices) not read: the pages read only what
    lies inside the folder (engine/pages.py), and a link's text names what it leads to.
    """
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        if path.is_symlink():
            digest.update(b"link\0" + os.fsencode(os.readlink(path)))
        elif path.is_file():
            with open(path, "rb") as file:
                for block in iter(lambda: file.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


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


def runs_form(settings: config.Settings) -> Form:
    """How the cache keeps `train_with_comparisons(settings)`: the runs as records (train.run_record), the loss of
    every epoch as a file of 8-byte floats (as JSON, 50,000 epochs took a quarter of a second to read)."""
    seeds = comparison_seeds(settings)

    def dump(runs) -> tuple[dict, dict]:
        """The lesson's run and the comparison runs by seed, as plain data and loss files."""
        run, others = runs
        named = [("run", run)] + [(f"seed-{seed}", other) for seed, other in others]
        records = {name: {**train.run_record(each), "loss": []} for name, each in named}
        losses = {f"{name}.loss": np.asarray(each.losses, dtype="<f8").tobytes() for name, each in named}
        return {"run": records["run"], "others": [[seed, records[f"seed-{seed}"]] for seed, _ in others]}, losses

    def read(data: dict, files: dict) -> tuple[train.Run, list[tuple[int, train.Run]]]:
        """The runs again; the settings (which the key fixes) are this build's."""
        named = [("run", data["run"], settings)] + [(f"seed-{seed}", record, config.with_random_init(settings, seed))
                                                    for seed, record in data["others"]]
        if any(seed not in seeds for seed, _ in data["others"]) or set(files) != {f"{n}.loss" for n, _, _ in named}:
            raise ValueError("a comparison run of another seed, or loss files of other runs")
        runs = [train.run_from_record({**record, "loss": np.frombuffer(files[f"{name}.loss"], dtype="<f8").tolist()},
                                      these) for name, record, these in named]
        return runs[0], [(seed, run) for (seed, _), run in zip(data["others"], runs[1:])]

    return Form({"run": train.RECORD, "others": [(int, train.RECORD)]}, dump, read)


def explain(run: train.Run, others: list[tuple[int, train.Run]]) -> Explained:
    """The formulas, diagrams and gradient checks of the lesson, each number checked against backprop; the random
    starts (`others`) beside the run; what the page's scripts need."""
    network, points = run.settings.network, run.settings.points
    start = run.named(run.initial.params)
    lesson_formulas = formulas.lesson_formulas(network, start, points)
    k = formulas.example_sample(points)
    x, y = points[k]
    forward_numbers = {"x": x, **{f"a{j}_{l}": lesson_formulas[f"node-a{j}_{l}"].value
                                  for l in range(1, network.depth + 1) for j in range(1, network.layers[l] + 1)}}
    nodes = formulas.node_values(network, start, x)
    backward_numbers = {"x": lesson_formulas["grad-x"].value,
                        "E": (y - nodes.a[network.depth, 1]) ** 2,
                        **{f"a{j}_{l}": lesson_formulas[f"grad-a{j}_{l}"].value
                           for l in range(1, network.depth + 1) for j in range(1, network.layers[l] + 1)}}
    # The backward diagram opens on the example sample's own gradients (its cards say so), not the mean.
    sample_grads = formulas.sample_gradients(network, start, nodes, y)
    return Explained(
        formulas=lesson_formulas,
        example={"k": k + 1, "x": x, "y": y},
        in_text=formulas.in_text(network),
        diagrams={
            "forward": diagram.draw(network, "forward", start, forward_numbers),
            "backward": diagram.draw(network, "backward", sample_grads, backward_numbers,
                                     formulas.local_derivatives(network, start, nodes, y), k + 1),
        },
        checks={"start": formulas.gradient_checks(network, run.initial.params, points),
                "end": formulas.gradient_checks(network, run.final_params, points)},
        # Each random start beside this build's: its final loss, and how many points it still gets wrong.
        starts=[{"seed": seed, "final_loss": other.final_loss, "wrong": misclassified(other)}
                for seed, other in others],
        client=client_data(run),
    )


def client_data(run: train.Run) -> dict:
    """What the page's scripts need, inlined as JSON: the run's points, starting values and snapshots."""
    settings = run.settings
    count = len(run.snapshots)
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
        "frames": [images.frame_name(k, count) for k in range(count)],
    }


def describe_figures(run: train.Run, others, strings: dict) -> dict[str, dict[str, Figure]]:
    """Each figure's file, size and alt text (written from the data), per language."""
    described = {}
    starts = (800, 240 * -(-(1 + len(others)) // 3)), (400, 220 * -(-(1 + len(others)) // 2))   # rows of 3, of 2
    for lang in LANGS:
        alt = alt_texts(run, strings, lang)
        alt["starts"] = starts_alt(run, others, strings, lang)
        described[lang] = {"animation": Figure("animation/training.gif", alt["animation"], *FRAME_SIZE)}
        for name, (wide, narrow) in (FIGURE_SIZES | {"starts": starts}).items():
            narrow_layout = Figure(images.figure_name(lang, name, narrow=True), alt[name], *narrow)
            described[lang][name] = Figure(images.figure_name(lang, name), alt[name], *wide, narrow=narrow_layout)
    return described


def frame_shares(count: int) -> int:
    """In how many shares to draw the frames: one job for a short run, one per core's turn for a long one.

    A/B, 50,000 epochs (501 frames): in one share, the build took 0.5 to 0.9 s longer.
    """
    return 1 if count <= 100 else 4


# The drawing functions the workers run. engine.figures is imported in them, so in the workers only: the
# build's own process, which writes the pages meanwhile, never spends the 0.21 s that importing matplotlib
# takes (imported here, a cold build took 0.23 to 0.33 s longer, A/B).

def draw_frames(run: train.Run, others, progress: Progress | None, *, part: int, parts: int) -> dict[str, bytes]:
    """One share of the animation's frames as PNG files (drawn in one share, the GIF too)."""
    from engine import figures
    return figures.frame_files(run, others, progress, part=part, parts=parts)


def draw_figures(run: train.Run, others, progress: Progress | None, *, words: dict, group: str) -> dict[str, bytes]:
    """One group of the lesson's figures as SVG files, in every language of `words`."""
    from engine import figures
    return figures.figure_files(run, others, progress, words=words, group=group)


def drawing_jobs(settings: config.Settings, strings: dict, cache: Cache, frames: int
                 ) -> dict[str, tuple[Callable, dict]]:
    """Cache key -> (drawing function, its options) of every group of figure files; the function takes the runs."""
    inputs = settings.as_dict()
    parts = frame_shares(frames)
    jobs = {cache.key("frames", inputs, part, parts): (draw_frames, {"part": part, "parts": parts})
            for part in range(parts)}
    words = {lang: strings[lang]["figure"] for lang in LANGS}
    for group in FIGURE_GROUPS:
        jobs[cache.key("figures", inputs, words, group)] = (draw_figures, {"words": words, "group": group})
    return jobs


def drawn_files(data: None, files: dict[str, bytes]) -> dict[str, bytes]:
    """A drawing job's files from the cache (every job draws some)."""
    if not files:
        raise ValueError("no files")
    return files


DRAWN = Form(None, lambda files: (None, files), drawn_files)   # what a drawing job made: its files


class Figures:
    """The figures and frames of a build: those the cache holds, and the others drawn by the workers.

    Without workers (on one core), they are drawn in this process when `files` asks for them: a cold
    build then took 0.72 to 0.86 s longer (A/B, the workers not forked on two cores).
    """

    def __init__(self, settings: config.Settings, strings: dict, cache: Cache):
        self.cache = cache
        self.count = len(train.snapshot_epochs(settings.epochs, settings.display_every))   # frames
        self.jobs = drawing_jobs(settings, strings, cache, self.count)
        self.drawn = {key: cache.load(key, DRAWN) for key in self.jobs}
        self.missing = [key for key, files in self.drawn.items() if files is None]   # what must be drawn
        self.collect: Callable[[], list] = list

    def draw(self, workers: Workers, run: train.Run, others, progress: Progress | None) -> None:
        """Hand what must be drawn to the workers, who start on it at once."""
        self.collect = workers.run([Job(function, (run, others, progress), options)
                                    for function, options in (self.jobs[key] for key in self.missing)])

    def files(self) -> dict[str, bytes]:
        """Every frame and figure, and the GIF (made here if the frames came in several shares)."""
        for key, result in zip(self.missing, self.collect()):
            self.cache.save(key, result, DRAWN)
            self.drawn[key] = result
        files = {name: data for result in self.drawn.values() for name, data in result.items()}
        if images.GIF not in files:
            files[images.GIF] = images.gif_from_pngs([files[images.frame_name(k, self.count)]
                                                      for k in images.gif_picks(self.count)])
        return dict(sorted(files.items()))


def render_pages(run: train.Run, paths: Paths, lesson_figures, explained: Explained, cache: Cache,
                 temml: mathtex.Temml | None = None) -> dict[str, bytes]:
    """Every page, the cards' formulas (assets/cards.js) and the math font they use.

    The formulas go to Temml as they are written (the renderer sends each section's, the cards' with the
    first), so node renders them while the rest of the pages is written.
    """
    batch = mathtex.MathBatch(cache, temml)
    renderer = PageRenderer(paths.templates, paths.content, run, batch, lesson_figures, explained, cache)
    cards = card_formulas(explained, batch)
    pages = {}
    try:
        for lang in LANGS:
            pages[f"{lang}/index.html"] = renderer.lesson(lang)
        pages["index.html"] = renderer.index()
        pages["404.html"] = renderer.not_found()
        renderer.keep_compiled()
    except jinja2.TemplateError as err:   # a template's mistake, or a UI string it asks for that is missing
        raise ContentError(f"{template_place(err)}: {err.message or err}") from None
    batch.render()
    pages = {name: batch.substitute(html) for name, html in pages.items()}
    cards = {key: batch.substitute(html) for key, html in cards.items()}
    return {**{name: html.encode("utf-8") for name, html in pages.items()},
            "assets/cards.js": cards_script(cards),
            # The cache keeps the cut-down font: A/B, a rebuild after a paragraph of prose took 0.06 to 0.07 s
            # less, after a setting 0.05 s (HarfBuzz cuts it quickly; importing it is most of the time).
            **mathfont.files(batch.mathml, cache)}


def template_place(err: jinja2.TemplateError) -> str:
    """Where in the templates an error arose: the innermost template file and line of its traceback."""
    places = [f"{frame.f_code.co_filename}:{line}" for frame, line in traceback.walk_tb(err.__traceback__)
              if frame.f_code.co_filename.endswith(".html")]
    return places[-1] if places else getattr(err, "filename", None) or "templates"


def card_formulas(explained: Explained, batch: mathtex.MathBatch) -> dict[str, str]:
    """The diagram cards' formulas (placeholders until rendered), by "formula-id:symbolic", ":numeric" (one
    sample's numbers, the card's own form where it has one) and ":mean" (gradients: the mean over the samples)."""
    found = {}
    for drawn in explained.diagrams.values():
        for item in drawn.items:
            formula = explained.formulas[item.formula]
            forms = {"symbolic": formula.symbolic, "numeric": formula.card or formula.numeric, "mean": formula.mean}
            for which, tex in forms.items():
                if tex:
                    found[f"{item.formula}:{which}"] = batch.add(tex, True, "assets/cards.js")
    return found


def cards_script(cards: dict[str, str]) -> bytes:
    """The cards' formulas as a classic script both lesson pages load (no fetch: it works from file://)."""
    return ("/* The diagram cards' formulas, the same in both languages (engine/pipeline.py). */\n"
            f"window.LessonCards = {json.dumps(cards, ensure_ascii=False, sort_keys=True)};\n").encode("utf-8")


def static_files(folder: Path) -> dict[str, bytes]:
    """The style sheet and scripts, copied into assets/."""
    return {f"assets/{path.relative_to(folder).as_posix()}": path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def data_files(run: train.Run) -> dict[str, bytes]:
    """The run as JSON (the output contract) and the loss of every epoch as CSV."""
    # One line: tools read it, and a browser shows it laid out; indenting would add a sixth to its size.
    record = json.dumps(train.run_record(run), ensure_ascii=False, separators=(",", ":")) + "\n"
    # Twelve significant digits: more than a spreadsheet shows, a third shorter than every digit.
    csv = "epoch,loss\n" + "".join(f"{e},{loss:.12g}\n" for e, loss in enumerate(run.losses, start=1))
    return {"data/run.json": record.encode("utf-8"), "data/run.csv": csv.encode("utf-8")}
