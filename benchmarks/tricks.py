"""What each of the build's performance tricks saves: the build with it against the build without it.

    python benchmarks/tricks.py [--runs 20] [--only NAME ...] [REV]

Each trick below is taken out of a copy of the project (REV, default HEAD) by a small edit of its
code, and the copies are built side by side with the unchanged one by benchmarks/ab.py, in the kind of
build the trick is for, round by round. A trick is kept only where it pays more than 0.05 s (the
README's Performance section has the table). An edit that no longer finds its code fails loudly:
the trick has moved or gone, and this list is to be brought up to date with it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from ab import compare, export  # noqa: E402

FORK_EARLY = '''                helpers.drawing.start()
            with clock.step("run"):
'''
DRAW = "            figures.draw(helpers.drawing, run, others, progress)"
FORK_SECOND = '''            self.first.start()
            in_own_group(self.first.pid)   # the worker does it too: whichever is first, the group exists
'''
FIGURE_JOBS = '''    for group in FIGURE_GROUPS:
        jobs[cache.key("figures", inputs, words, group)] = (draw_figures, {"words": words, "group": group})
    return jobs
'''

# name -> (kind of build, [(file, the code with the trick, the code without it)])
TRICKS = {
    "drawing-workers": ("cold", [("engine/workers.py", "return len(os.sched_getaffinity(0)) > 1 and",
                                  "return False and")]),
    "matplotlib-in-workers-only": ("cold", [("engine/pipeline.py", "from engine.workers import Helpers, Job, Workers\n",
                                             "from engine.workers import Helpers, Job, Workers\n"
                                             "from engine import figures as _figures  # noqa\n")]),
    "one-import-for-both-workers": ("cold", [
        ("engine/workers.py", FORK_SECOND, FORK_SECOND + '''            self.second = context.Process(target=work, args=(self.jobs, self.results, os.getpid(), False))
            self.second.start()
            try:
                os.setpgid(self.second.pid, self.first.pid)
            except OSError:
                pass
'''),
        ("engine/workers.py", "    second = None\n    if first:\n", "    second = None\n    if False:\n")]),
    "workers-before-training": ("cold", [("engine/pipeline.py", FORK_EARLY,
                                          FORK_EARLY.replace("helpers.drawing.start()", "pass")),
                                         ("engine/pipeline.py", DRAW, "            if figures.missing:\n"
                                          "                helpers.drawing.start()\n" + DRAW)]),
    "gc-freeze-at-exit": ("cold", [("build.py", "    gc.freeze()\n", "")]),
    "whole-site-reused": ("unchanged", [("engine/pipeline.py", "    built = cache.load(site_key, SITE)\n",
                                         "    built = None\n")]),
    "font-cached": ("prose", [("engine/pipeline.py", "**mathfont.files(batch.mathml, cache)}",
                               "**mathfont.files(batch.mathml)}")]),
    "frame-shares": ("big", [("engine/pipeline.py", "return 1 if count <= 100 else 4", "return 1")]),
    "figure-groups": ("big", [("engine/pipeline.py", FIGURE_JOBS, '''    jobs[cache.key("figures", inputs, words)] = (draw_all_figures, {"words": words})
    return jobs


def draw_all_figures(run, others, progress, *, words):
    files = {}
    for group in FIGURE_GROUPS:
        files |= draw_figures(run, others, progress, words=words, group=group)
    return files
''')]),
}


def without(trick: str, base: Path, folder: Path) -> None:
    """A copy of the project in `folder` with one trick taken out."""
    shutil.copytree(base, folder, symlinks=True)
    for name, old, new in TRICKS[trick][1]:
        path = folder / name
        code = path.read_text(encoding="utf-8")
        if code.count(old) != 1:
            raise SystemExit(f"{trick}: expected its code once in {name}, found it {code.count(old)} times "
                             f"(update benchmarks/tricks.py):\n{old}")
        path.write_text(code.replace(old, new), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision", nargs="?", default="HEAD")
    parser.add_argument("--runs", type=int, default=20, help="rounds (default 20)")
    parser.add_argument("--only", nargs="+", choices=TRICKS, metavar="NAME", help="these tricks only")
    parser.add_argument("--wait", type=float, default=30, metavar="SECONDS",
                        help="before each build, wait up to this long for a quiet machine (default 30)")
    args = parser.parse_args()
    chosen = args.only or list(TRICKS)
    work = Path(tempfile.mkdtemp(prefix="lesson-tricks-"))
    try:
        base = work / "with-every-trick"
        export(args.revision, base)
        for trick in chosen:
            without(trick, base, work / f"without-{trick}")
        for kind in dict.fromkeys(TRICKS[trick][0] for trick in chosen):
            compare([str(base)] + [str(work / f"without-{t}") for t in chosen if TRICKS[t][0] == kind],
                    kind, args.runs, args.wait)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
