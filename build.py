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
import gc
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The engine is imported inside the functions below, so that a Ctrl-C while it
# loads is one line like any other, and --help does not wait for it.

ROOT = Path(__file__).resolve().parent


def user_errors() -> tuple[type[Exception], ...]:
    """The errors that are the user's to fix: one line and exit 1, never a traceback."""
    from engine.cache import CacheFolderError
    from engine.config import SettingsError
    from engine.images import FigureError
    from engine.formulas import FormulaMismatch
    from engine.mathfont import MathFontError
    from engine.mathtex import FormulaError
    from engine.output import OutputError
    from engine.pages import ContentError
    from engine.single_file import SingleFileError
    from engine.train import TrainingDiverged
    from engine.workers import WorkerDied
    return (SettingsError, ContentError, FormulaError, FormulaMismatch, OutputError, TrainingDiverged,
            SingleFileError, CacheFolderError, FigureError, WorkerDied, MathFontError)


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with a mistake on the command line told in one line (exit 1), as every other bad input."""

    def error(self, message: str):
        self.exit(1, f"{self.prog}: error: {message} (python build.py --help lists every option)\n")


def port(text: str) -> int:
    """A TCP port number for --port."""
    try:
        number = int(text)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {text!r}")
    return number


def settings_help() -> str:
    """Every setting for --help, two lines each: what it does; its kind, limits and default."""
    from engine.config import SETTINGS
    lines = []
    for setting in SETTINGS:
        limits = f", {setting.shown_limits}" if setting.shown_limits else ""
        lines += [f"  {setting.key:<22} {setting.help}",
                  f"  {'':<22} {setting.kind_name}{limits}; default: {setting.shown_default}"]
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Read the command line (`serve` first: the live preview); --help lists every option and every setting."""
    from engine.pages import LANGS
    from engine.pipeline import Paths
    serving = argv[:1] == ["serve"]
    parser = ArgumentParser(
        prog="build.py serve" if serving else "build.py",
        description="Train a tiny 1-2-1 sigmoid network and build the bilingual lesson site "
                    "(Chinese and English) from it.\n\n"
                    "python build.py serve [--port N] [options]: the live preview. It builds, serves the site\n"
                    "on 127.0.0.1 only, and rebuilds and reloads the open page whenever a source is saved.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="settings (in the settings file, or with --set SECTION.KEY=VALUE; one with a default may be left "
               f"out):\n{settings_help()}\n\n"
               "VALUE is one TOML value: --set train.epochs=8000 --set init.random=true "
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
                             "sheet, font, script and image inside, to read offline or send by e-mail (a new "
                             "file, or one written this way before; never a file of the sources or the site)")
    parser.add_argument("--lang", choices=LANGS, default=LANGS[0],
                        help=f"the language of --single-file (default: {LANGS[0]})")
    if serving:
        parser.add_argument("--port", type=port, default=8000, metavar="N",
                            help="port on 127.0.0.1 to serve the preview on (default: 8000; 0: any free port)")
    parser.add_argument("--check-reproducible", action="store_true",
                        help="build twice, each time in a fresh process, into two temporary folders (not --out), "
                             "compare every file byte for byte, say whether they are identical, and remove them")
    args = parser.parse_args(argv[1:] if serving else argv)
    args.serve = serving
    if args.config is None:
        args.config = args.content / "lesson.toml"
    return args


def build_command(args: argparse.Namespace, out: Path, cache: bool = True) -> list[str]:
    """A quiet `build.py` command with the same sources and settings, writing to `out` (for serve and the check)."""
    command = [sys.executable, str(ROOT / "build.py"), "--config", str(args.config.resolve()),
               "--out", str(Path(out).resolve()), "--content", str(args.content.resolve()),
               "--templates", str(args.templates.resolve()), "-q"]
    command += [f"--set={item}" for item in args.overrides]
    command += ["--cache", str(args.cache.resolve())] if cache and not args.no_cache else ["--no-cache"]
    command += ["--strict"] * args.strict
    return command


def check_reproducible(args: argparse.Namespace) -> int:
    """Build the same settings twice in two fresh processes and folders; 0 if every byte is the same."""
    from engine.output import compare_sites
    with tempfile.TemporaryDirectory(prefix="lesson-reproducible-") as tmp:
        # Two folders with different names and paths, so a path that leaks into a file shows up. Each
        # build is a new interpreter (its own hash seed, no module state) and reuses nothing cached.
        outs = [Path(tmp) / "first", Path(tmp) / "second"]
        builds = [subprocess.Popen(build_command(args, out, cache=False), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True) for out in outs]
        try:
            errors = [build.communicate()[1] for build in builds]
        finally:   # stopped: each build stops on the same signal by itself; wait for both before cleaning up
            for build in builds:
                build.wait()
        failed = next((error for build, error in zip(builds, errors) if build.returncode != 0), None)
        if failed is not None:
            print(failed.strip().splitlines()[-1] if failed.strip() else "build.py: error: a build failed",
                  file=sys.stderr)
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


def terminate(signum, frame) -> None:
    """SIGTERM (`kill`, a closed session) stops the build as Ctrl-C does: cleanly, the old site kept."""
    from engine.output import Terminated
    raise Terminated


STOPS = {signal.SIGINT, signal.SIGTERM}


def main(argv: list[str] | None = None, leaving: bool = False) -> int:
    """Run the command and report what it did; a stop (Ctrl-C, SIGTERM) is one line too.

    Once the new site is in place, a stop is held back: the build is done, and what is left is
    to say so (and, when `leaving`, for the process to end, with the stop still held: it ends
    anyway, and its status says what really happened).
    """
    argv = sys.argv[1:] if argv is None else argv
    previous = signal.signal(signal.SIGTERM, terminate)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    try:
        return run(argv)
    except KeyboardInterrupt as stop:   # also SIGTERM (Terminated); the engine stopped its helpers already
        terminated = type(stop).__name__ == "Terminated"
        print(f"build.py: {'terminated' if terminated else 'interrupted'}; the previous site is unchanged",
              file=sys.stderr)
        return 128 + (signal.SIGTERM if terminated else signal.SIGINT)
    finally:
        if leaving:
            signal.pthread_sigmask(signal.SIG_BLOCK, STOPS)
        signal.signal(signal.SIGTERM, previous)
        if not leaving:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def run(argv: list[str]) -> int:
    """The command line's work."""
    start = time.perf_counter()
    args = parse_args(argv)
    if args.check_reproducible:
        return check_reproducible(args)
    if args.serve:
        from engine.serve import serve
        return serve(build_command(args, args.out), args.out, [args.content, args.templates, ROOT / "engine"],
                     args.config, args.port, say)
    from engine.pipeline import Paths, build
    from engine.strict import StrictError
    paths = Paths(config=args.config, content=args.content, templates=args.templates, out=args.out,
                  cache=None if args.no_cache else args.cache)
    try:
        report = build(paths, args.overrides, ProgressBars(not args.quiet and sys.stderr.isatty()), args.strict,
                       (args.single_file, args.lang) if args.single_file else None)
        signal.pthread_sigmask(signal.SIG_BLOCK, STOPS)   # the new site is in place: see main()
    except StrictError as err:
        for line in err.warnings:
            print(f"build.py: error: {line} (--strict)", file=sys.stderr)
        return 1
    except user_errors() as err:
        print(f"build.py: error: {err}", file=sys.stderr)
        return 1
    for line in report.warnings + report.left:
        print(f"build.py: warning: {line}", file=sys.stderr)
    if not args.quiet:
        print(f"built {report.out} in {time.perf_counter() - start:.2f} s")
        print(describe(report, args.cache))
        if args.single_file:
            print(f"  single file {args.single_file} ({args.lang}): "
                  f"{args.single_file.stat().st_size / 2**20:.1f} MiB, everything inside, opens offline")
    return 0


def say(line: str, trouble: bool = False) -> None:
    """Print one line for the live preview at once (warnings and errors on stderr)."""
    print(line, file=sys.stderr if trouble else sys.stdout, flush=True)


if __name__ == "__main__":
    status = main(leaving=True)
    # Everything is written and every helper has ended. Python's last garbage collections on the way
    # out would look through every object once more only to free what the process's end frees anyway:
    # frozen, the exit takes 0.02 s instead of 0.07 s (medians of 10 cold builds each, from here to the
    # caller seeing the end; A/B, whole cold builds: 0.04 to 0.09 s).
    gc.freeze()
    sys.exit(status)
