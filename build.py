"""Build the backpropagation lesson into a static site.

    python build.py                                  # default settings -> site/
    python build.py --set train.learning_rate=0.2    # one setting changed
    python build.py --out /tmp/lesson --set init.random=true --set init.seed=3
    python build.py --strict                         # any warning fails the build (CI)
    python build.py serve --port 8000                # live preview: rebuild and reload on every change
    python build.py --single-file lesson-zh.html --lang zh   # one self-contained HTML file

This file is only the command line: it reads the arguments, runs the
pipeline in engine/, and turns a user's mistake into one line and exit 1.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from engine.cache import FOLDER as CACHE, holds_results
from engine.workers import Helpers

# The rest of the engine is imported in the functions below, after a build has
# started its helper processes: their start-up then overlaps those imports.

ROOT = Path(__file__).resolve().parent


def user_errors() -> tuple[type[Exception], ...]:
    """The errors that are the user's to fix: one line and exit 1, never a traceback."""
    from engine.cache import CacheFolderError
    from engine.config import SettingsError
    from engine.formulas import FormulaMismatch
    from engine.mathtex import FormulaError
    from engine.output import OutputError
    from engine.pages import ContentError
    from engine.single_file import SingleFileError
    from engine.train import TrainingDiverged
    return (SettingsError, ContentError, FormulaError, FormulaMismatch, OutputError, TrainingDiverged,
            SingleFileError, CacheFolderError)


def plain_build(argv: list[str]) -> bool:
    """Whether the command line asks for a build in this process (not help, the preview or the check)."""
    return argv[:1] != ["serve"] and not {"-h", "--help", "--check-reproducible"} & set(argv)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Read the command line (`serve` first: the live preview); --help lists every option and every setting."""
    from engine.config import SETTINGS_HELP
    from engine.pages import LANGS
    from engine.pipeline import Paths
    serving = argv[:1] == ["serve"]
    settings = "\n".join(f"  {key:<22} {text}" for key, text in SETTINGS_HELP.items())
    parser = argparse.ArgumentParser(
        prog="build.py serve" if serving else "build.py",
        description="Train a tiny 1-2-1 sigmoid network and build the bilingual lesson site "
                    "(Chinese and English) from it.\n\n"
                    "python build.py serve [--port N] [options]: the live preview. It builds, serves the site\n"
                    "on 127.0.0.1 only, and rebuilds and reloads the open page whenever a source is saved.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"settings (in the settings file, or with --set SECTION.KEY=VALUE):\n{settings}\n\n"
               "VALUE is read as TOML: --set train.epochs=8000 --set init.random=true "
               "--set 'data.points=[[1,0],[2,1],[3,0]]'",
    )
    defaults = Paths()
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="settings file (default: lesson.toml in the content folder)")
    parser.add_argument("--content", type=Path, default=defaults.content, metavar="DIR",
                        help="the lesson's prose and words: zh/, en/, strings.toml, glossary.toml (default: content/)")
    parser.add_argument("--templates", type=Path, default=defaults.templates, metavar="DIR",
                        help="page templates and static/ files (default: templates/)")
    parser.add_argument("--out", type=Path, default=defaults.out, metavar="DIR",
                        help="output folder, replaced as a whole on success (default: site/)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", dest="overrides",
                        help="override one setting without editing the file; repeat for more")
    parser.add_argument("--cache", type=Path, default=defaults.cache, metavar="DIR",
                        help="where builds keep results to reuse, so a rebuild redoes only what changed: a new or "
                             "empty folder, or one used as a cache before (default: .cache/ in the project "
                             "folder; always safe to delete)")
    parser.add_argument("--no-cache", action="store_true",
                        help="build everything afresh, reusing and keeping nothing")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print nothing unless something fails or warns")
    parser.add_argument("--strict", action="store_true",
                        help="fail on any warning (a section, formula or figure in one language only, an image "
                             "without alt text, a setting that is not used), before anything is written")
    parser.add_argument("--single-file", type=Path, metavar="FILE",
                        help="also write the lesson in one language (--lang) as one HTML file with every style "
                             "sheet, font, script and image inside, to read offline or send by e-mail")
    parser.add_argument("--lang", choices=LANGS, default=LANGS[0],
                        help=f"the language of --single-file (default: {LANGS[0]})")
    if serving:
        parser.add_argument("--port", type=int, default=8000, metavar="N",
                            help="port on 127.0.0.1 to serve the preview on (default: 8000; 0: any free port)")
    parser.add_argument("--check-reproducible", action="store_true",
                        help="build twice, each time in a fresh process, into two temporary folders (not --out), "
                             "compare every file byte for byte, say whether they are identical, and remove them")
    args = parser.parse_args(argv[1:] if serving else argv)
    args.serve = serving
    if args.config is None:
        args.config = args.content / "lesson.toml"
    return args


def build_afresh(paths, overrides: list[str]) -> str | None:
    """One build that reuses nothing from earlier builds; the error line, or None if it succeeded."""
    from engine.pipeline import build
    try:
        build(replace(paths, cache=None), overrides)  # cached results would hide a difference
    except user_errors() as err:
        return f"build.py: error: {err}"
    return None


def ignore_ctrl_c() -> None:
    """In the two builds of --check-reproducible: Ctrl-C is for the checking process, which then waits
    for them to end (each in its own way, as it would alone) before it removes their folders."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def check_reproducible(args: argparse.Namespace) -> int:
    """Build the same settings twice in two fresh processes and folders; 0 if every byte is the same."""
    from engine.output import compare_sites
    from engine.pipeline import Paths
    sources = Paths(config=args.config, content=args.content, templates=args.templates)
    with tempfile.TemporaryDirectory(prefix="lesson-reproducible-") as tmp:
        # Two folders with different names and paths, so a path that leaks into a file shows up.
        outs = [Path(tmp) / "first", Path(tmp) / "second"]
        # "spawn": each build starts a new interpreter with its own hash seed and no module state.
        with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=ignore_ctrl_c) as pool:
            errors = list(pool.map(build_afresh, [replace(sources, out=out) for out in outs], [args.overrides] * 2))
        if errors[0] or errors[1]:
            print(errors[0] or errors[1], file=sys.stderr)
            return 1
        count, differing = compare_sites(*outs)
    if differing:
        print(f"not reproducible: {differing} differs between two builds of the same settings "
              f"({count} files compared)", file=sys.stderr)
        return 1
    print(f"reproducible: two builds of the same settings are byte-identical ({count} files compared)")
    return 0


class ProgressBars:
    """Progress bars on the terminal for long work (many epochs or frames); silent otherwise."""

    WORTH_A_BAR = {"training": 20_000, "frames": 150}

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bars = {}

    def __call__(self, what: str, done: int, total: int) -> None:
        """Move the bar of `what` to `done` out of `total`."""
        if not self.enabled or total < self.WORTH_A_BAR.get(what, 0):
            return
        from tqdm import tqdm
        bar = self.bars.get(what)
        if bar is None:
            bar = self.bars[what] = tqdm(total=total, desc=what, unit="", leave=False, file=sys.stderr)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()


def describe(report, cache: Path) -> str:
    """What the build did, in three lines."""
    steps = ", ".join(f"{name} {seconds:.2f}" for name, seconds in report.seconds.items())
    reused = f"; reused from {shown(cache)}: {', '.join(report.cached)}" if report.cached else ""
    return (f"  steps (s): {steps}{reused}\n"
            f"  {report.pages} pages, {report.frames} frames, GIF {report.gif_bytes / 1024:.0f} KiB, "
            f"{report.files} files, {report.total_bytes / 2**20:.1f} MiB\n"
            f"  final loss {report.final_loss:.6f}")


def shown(folder: Path) -> str:
    """A folder as the user would write it: relative to here if it is below, with a closing slash."""
    folder = Path(folder).resolve()
    return f"{folder.relative_to(Path.cwd()) if folder.is_relative_to(Path.cwd()) else folder}/"


def main(argv: list[str] | None = None) -> int:
    """Run the build and report what it made."""
    argv = sys.argv[1:] if argv is None else argv
    helpers = Helpers() if plain_build(argv) else None
    try:
        # A build that can take nothing from the cache needs every helper: start them now, so their
        # start-up overlaps the engine's imports. Otherwise the build starts what it turns out to need.
        if helpers is not None and not holds_results(cache_folder(argv)):
            helpers.start()
        return run(argv, helpers)
    except KeyboardInterrupt:   # while the engine was still being imported
        print("build.py: interrupted; the previous site is unchanged", file=sys.stderr)
        return 130
    finally:
        if helpers is not None:
            helpers.close()


def cache_folder(argv: list[str]) -> Path | None:
    """The cache folder the command line asks for (None: --no-cache), read before the engine is imported."""
    if "--no-cache" in argv:
        return None
    folder = CACHE
    for k, arg in enumerate(argv):
        if arg == "--cache" and k + 1 < len(argv):
            folder = Path(argv[k + 1])
        elif arg.startswith("--cache="):
            folder = Path(arg.removeprefix("--cache="))
    return folder


def run(argv: list[str], helpers: Helpers | None) -> int:
    """The command line's work, once the helpers (if any) are on their way."""
    start = time.perf_counter()
    args = parse_args(argv)
    if args.check_reproducible:
        try:
            return check_reproducible(args)
        except KeyboardInterrupt:
            print("build.py: interrupted; the check stopped and its temporary folders are removed", file=sys.stderr)
            return 130
    if args.serve:
        from engine.serve import serve
        return serve(build_command(args), args.out, [args.content, args.templates, ROOT / "engine"], args.config,
                     args.port, say)
    from engine.pipeline import Paths, build
    from engine.strict import StrictError
    paths = Paths(config=args.config, content=args.content, templates=args.templates, out=args.out,
                  cache=None if args.no_cache else args.cache)
    try:
        report = build(paths, args.overrides, ProgressBars(not args.quiet and sys.stderr.isatty()), args.strict,
                       helpers)
        if args.single_file:
            from engine.single_file import single_page
            page = single_page(report.out, args.lang)
            write_file(args.single_file, page)
    except StrictError as err:
        for line in err.warnings:
            print(f"build.py: error: {line} (--strict)", file=sys.stderr)
        return 1
    except user_errors() as err:
        print(f"build.py: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("build.py: interrupted; the previous site is unchanged", file=sys.stderr)
        return 130
    for line in report.warnings:
        print(f"build.py: warning: {line}", file=sys.stderr)
    if not args.quiet:
        print(f"built {report.out} in {time.perf_counter() - start:.2f} s")
        print(describe(report, args.cache))
        if args.single_file:
            print(f"  single file {args.single_file} ({args.lang}): {len(page) / 2**20:.1f} MiB, "
                  "everything inside, opens offline")
    return 0


def build_command(args: argparse.Namespace) -> list[str]:
    """The `build.py` command that the live preview runs for each build: the same options, quiet."""
    command = [sys.executable, str(Path(__file__).resolve()), "--config", str(args.config.resolve()),
               "--out", str(args.out.resolve()), "--content", str(args.content.resolve()),
               "--templates", str(args.templates.resolve()), "-q"]
    command += [f"--set={item}" for item in args.overrides]
    command += ["--no-cache"] if args.no_cache else ["--cache", str(args.cache.resolve())]
    command += ["--strict"] * args.strict
    return command


def say(line: str, trouble: bool = False) -> None:
    """Print one line for the live preview at once (warnings and errors on stderr)."""
    print(line, file=sys.stderr if trouble else sys.stdout, flush=True)


def write_file(path: Path, data: bytes) -> None:
    """Write one file whole: into a temporary file beside it, then renamed over it."""
    path = Path(path)
    temporary = None
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}-", delete=False) as file:
            temporary = Path(file.name)
            file.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException as err:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        if isinstance(err, OSError):
            from engine.output import OutputError
            raise OutputError(f"--single-file: expected a file that can be written, got {path} "
                              f"({err.strerror or err})") from None
        raise


if __name__ == "__main__":
    status = main()
    # Everything is written and every helper has stopped: leave now, without tearing
    # the interpreter down object by object (that takes a twentieth of a second).
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:   # nobody reads it any more
            pass
    os._exit(status)
