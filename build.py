"""Build the backpropagation lesson into a static site.

    python build.py                                  # default settings -> site/
    python build.py --set train.learning_rate=0.2    # one setting changed
    python build.py --out /tmp/lesson --set init.random=true --set init.seed=3

This file is only the command line: it reads the arguments, runs the
pipeline in engine/, and turns a user's mistake into one line and exit 1.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from engine.config import SETTINGS_HELP, SettingsError
from engine.formulas import FormulaMismatch
from engine.mathtex import FormulaError
from engine.output import OutputError, compare_sites
from engine.pages import ContentError
from engine.pipeline import Paths, build
from engine.train import TrainingDiverged

USER_ERRORS = (SettingsError, ContentError, FormulaError, FormulaMismatch, OutputError, TrainingDiverged)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Read the command line; --help lists every option and every setting."""
    settings = "\n".join(f"  {key:<22} {text}" for key, text in SETTINGS_HELP.items())
    parser = argparse.ArgumentParser(
        prog="build.py",
        description="Train a tiny 1-2-1 sigmoid network and build the bilingual lesson site "
                    "(Chinese and English) from it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"settings (in the settings file, or with --set SECTION.KEY=VALUE):\n{settings}\n\n"
               "VALUE is read as TOML: --set train.epochs=8000 --set init.random=true "
               "--set 'data.points=[[1,0],[2,1],[3,0]]'",
    )
    defaults = Paths()
    parser.add_argument("--config", type=Path, default=defaults.config, metavar="FILE",
                        help="settings file (default: content/lesson.toml)")
    parser.add_argument("--out", type=Path, default=defaults.out, metavar="DIR",
                        help="output folder, replaced as a whole on success (default: site/)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", dest="overrides",
                        help="override one setting without editing the file; repeat for more")
    parser.add_argument("--no-cache", action="store_true",
                        help="build everything afresh instead of reusing results in .cache/")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing unless something fails")
    parser.add_argument("--check-reproducible", action="store_true",
                        help="build twice, each time in a fresh process, into two temporary folders (not --out), "
                             "compare every file byte for byte, say whether they are identical, and remove them")
    return parser.parse_args(argv)


def build_afresh(config: Path, overrides: list[str], out: Path) -> str | None:
    """One build that reuses nothing from earlier builds; the error line, or None if it succeeded."""
    paths = Paths(config=config, out=out)
    if hasattr(Paths, "cache"):  # results remembered from earlier builds would hide a difference
        paths = replace(paths, cache=None)
    try:
        build(paths, overrides)
    except USER_ERRORS as err:
        return f"build.py: error: {err}"
    return None


def check_reproducible(args: argparse.Namespace) -> int:
    """Build the same settings twice in two fresh processes and folders; 0 if every byte is the same."""
    with tempfile.TemporaryDirectory(prefix="lesson-reproducible-") as tmp:
        # Two folders with different names and paths, so a path that leaks into a file shows up.
        outs = [Path(tmp) / "first", Path(tmp) / "second"]
        # "spawn": each build starts a new interpreter with its own hash seed and no module state.
        with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
            errors = list(pool.map(build_afresh, [args.config] * 2, [args.overrides] * 2, outs))
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


def describe(report) -> str:
    """What the build did, in three lines."""
    steps = ", ".join(f"{name} {seconds:.2f}" for name, seconds in report.seconds.items())
    reused = f"; reused from .cache/: {', '.join(report.cached)}" if report.cached else ""
    return (f"  steps (s): {steps}{reused}\n"
            f"  {report.pages} pages, {report.frames} frames, GIF {report.gif_bytes / 1024:.0f} KiB, "
            f"{report.files} files, {report.total_bytes / 2**20:.1f} MiB\n"
            f"  final loss {report.final_loss:.6f}")


def main(argv: list[str] | None = None) -> int:
    """Run the build and report what it made."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.check_reproducible:
        try:
            return check_reproducible(args)
        except KeyboardInterrupt:
            print("build.py: interrupted; the check stopped and its temporary folders are removed", file=sys.stderr)
            return 130
    start = time.perf_counter()
    paths = Paths(config=args.config, out=args.out, cache=None if args.no_cache else Paths.cache)
    try:
        report = build(paths, args.overrides, ProgressBars(not args.quiet and sys.stderr.isatty()))
    except USER_ERRORS as err:
        print(f"build.py: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("build.py: interrupted; the previous site is unchanged", file=sys.stderr)
        return 130
    if not args.quiet:
        print(f"built {report.out} in {time.perf_counter() - start:.2f} s")
        print(describe(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
