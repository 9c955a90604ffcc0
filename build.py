"""Build the backpropagation lesson into a static site.

    python build.py                                  # default settings -> site/
    python build.py --set train.learning_rate=0.2    # one setting changed
    python build.py --out /tmp/lesson --set init.random=true --set init.seed=3

This file is only the command line: it reads the arguments, runs the
pipeline in engine/, and turns a user's mistake into one line and exit 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from engine.config import SETTINGS_HELP, SettingsError
from engine.formulas import FormulaMismatch
from engine.mathtex import FormulaError
from engine.output import OutputError
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
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing unless something fails")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the build and report what it made."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    start = time.perf_counter()
    try:
        report = build(Paths(config=args.config, out=args.out), args.overrides)
    except USER_ERRORS as err:
        print(f"build.py: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("build.py: interrupted; the previous site is unchanged", file=sys.stderr)
        return 130
    if not args.quiet:
        seconds = time.perf_counter() - start
        print(f"built {report.out} in {seconds:.2f} s: {report.pages} pages, {report.frames} frames, "
              f"{report.files} files, {report.total_bytes / 1024:.0f} KiB "
              f"(GIF {report.gif_bytes / 1024:.0f} KiB); final loss {report.final_loss:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
