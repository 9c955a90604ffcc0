"""Interleaved A/B timings: the same kind of build of several versions of the project, round by round.

    python benchmarks/ab.py HEAD HEAD~1 --runs 20                # cold builds (--no-cache) of two commits
    python benchmarks/ab.py HEAD /tmp/no-font-cache --kind prose # against a copy of the project with one change
    python benchmarks/ab.py HEAD HEAD@one-core                   # the naive pipeline beside the build

Each version is a git revision, or a folder holding a copy of the project (say, with one trick taken
out), exported to a temporary folder with this project's node_modules, and built with this Python.
`REV@one-core` runs that revision confined to one core: the build then starts no workers and node
shares the core with it, the same work one step after another (the naive pipeline). Each round runs
one build of each version, each version going first in turn, and each build is `python build.py` in
a fresh process, as a teacher runs it. The kinds:

    cold       --no-cache
    empty      an empty cache (as benchmarks/build_time.py's cold build: the cache is written too)
    unchanged  a rebuild with nothing changed (the cache filled by one build first)
    prose      a rebuild after a new sentence in one paragraph
    setting    a rebuild after a new learning rate
    big        50,000 epochs and 501 frames, --no-cache

The machine may be shared: before each build the script waits (up to --wait seconds) for half a
second in which the CPUs were 90% idle. It prints, per version, the fastest and the median wall
time, the median CPU time of all the build's processes together, and the median of its difference
from the first version's build of the same round (those met the same moment of the machine, so they
drift less), with the middle half of those differences; and the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from build_time import timed, wait_for_quiet  # noqa: E402
KINDS = ("cold", "empty", "unchanged", "prose", "setting", "big")


def export(revision: str, folder: Path) -> None:
    """The files of a revision (or of a folder holding a copy of the project) in `folder`, with node_modules."""
    if Path(revision).is_dir():
        shutil.copytree(revision, folder, ignore=shutil.ignore_patterns(".git", ".venv", "node_modules", ".cache",
                                                                         "site", "__pycache__"))
        (folder / "node_modules").symlink_to((ROOT / "node_modules").resolve())
        return
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    (folder / "node_modules").symlink_to((ROOT / "node_modules").resolve())


def build_commands(trees: dict[str, Path], kind: str) -> dict[str, list[str]]:
    """The build command of each version for this kind; for a rebuild, its cache filled by one build first."""
    commands = {}
    for version, tree in trees.items():
        command = [sys.executable, str(tree / "build.py"), "--content", str(tree / "content"),
                   "--out", str(tree / ".bench-site"), "-q"]
        if kind in ("cold", "big"):
            command.append("--no-cache")
        else:
            command += ["--cache", str(tree / ".bench-cache")]
        if kind not in ("cold", "big", "empty"):
            subprocess.run(command, check=True)
        if kind == "big":
            command += ["--set", "train.epochs=50000", "--set", "train.display_every=100"]
        commands[version] = command
    return commands


def shown(version: str) -> str:
    """A version as the table names it: a folder by its last part."""
    return Path(version).resolve().name if Path(version.partition("@")[0]).is_dir() else version


def report(times: dict[str, list], first: str) -> None:
    """Per version: fastest, median, CPU, and the median difference from the first version in the same round."""
    print(f"  {'version':<36} {'fastest':>8} {'median':>8} {'CPU (median)':>13}   against {shown(first)}, "
          f"round by round")
    for version, measured in times.items():
        walls, cpus = [m.seconds for m in measured], [m.cpu for m in measured]
        low, middle, high = statistics.quantiles([m.seconds - f.seconds for m, f in zip(measured, times[first])], n=4)
        against = f"{middle:+.2f} s (half the rounds {low:+.2f} to {high:+.2f})" if version != first else ""
        print(f"  {shown(version):<36} {min(walls):7.2f}s {statistics.median(walls):7.2f}s "
              f"{statistics.median(cpus):12.2f}s   {against}")


def compare(versions: list[str], kind: str, runs: int, wait: float) -> None:
    """Build every version `runs` times, round by round, and print what it took."""
    work = Path(tempfile.mkdtemp(prefix="lesson-ab-"))
    try:
        trees, pinned = {}, {}
        for k, version in enumerate(versions):
            revision, _, how = version.partition("@")
            trees[version], pinned[version] = work / f"tree-{k}", how == "one-core"
            export(revision, trees[version])
        commands = build_commands(trees, kind)
        prose = Path("content", "en", "05-loss.md")
        originals = {version: (tree / prose).read_text(encoding="utf-8") for version, tree in trees.items()}
        times = {version: [] for version in trees}
        quiet = 0
        load_before = os.getloadavg()[0]
        for round_ in range(runs):
            for version in versions[round_ % len(versions):] + versions[:round_ % len(versions)]:   # each first in turn
                command = list(commands[version])
                if kind == "prose":
                    (trees[version] / prose).write_text(originals[version].replace(
                        "\n\n", f"\n\nA sentence for round {round_}.\n\n", 1), encoding="utf-8")
                elif kind == "setting":
                    command += ["--set", f"train.learning_rate={0.5 + 0.01 * (round_ + 1)}"]
                elif kind == "empty":
                    shutil.rmtree(trees[version] / ".bench-cache", ignore_errors=True)
                quiet += wait_for_quiet(wait)
                times[version].append(timed(command, pinned[version]))
        print(f"{kind} builds, {runs} rounds; load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} "
              f"after; {quiet} of {runs * len(trees)} builds started on a quiet machine")
        report(times, versions[0])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("versions", nargs="+", metavar="REV[@one-core]")
    parser.add_argument("--kind", choices=KINDS, default="cold")
    parser.add_argument("--runs", type=int, default=10, help="rounds, at least 2 (default 10)")
    parser.add_argument("--wait", type=float, default=30, metavar="SECONDS",
                        help="before each build, wait up to this long for a quiet machine (default 30)")
    args = parser.parse_args()
    if args.runs < 2:
        parser.error("--runs: expected at least 2 rounds")
    if len(set(args.versions)) < len(args.versions):
        parser.error("expected each version once")
    compare(args.versions, args.kind, args.runs, args.wait)


if __name__ == "__main__":
    main()
