"""Stop real builds at random moments and count what they leave: processes, temporary folders, waiting callers.

    python benchmarks/stopped_builds.py              # 50 stops of each kind, 20 builds that fail by themselves
    python benchmarks/stopped_builds.py --rounds 10 --failing 5 --seed 3

Each build is `python build.py --no-cache` of the default lesson in a process group of its own, its
output read by the caller as `subprocess.run(capture_output=True)` does. SIGINT goes to the whole
group (Ctrl-C in a terminal), SIGTERM and SIGKILL to the build alone, after a delay drawn between
0 and the length of a build. The failing builds have an undefined name in one section of the prose
(the pages fail while the workers draw). Every build and each process it starts carries a tag in its
environment, so what is left is found in /proc whoever its parent is by then. After a SIGKILL the
next build runs once, to remove what the killed one could not.

It prints one line per kind: how many builds, how many finished before the signal, the exit
statuses seen, the longest a caller waited after the build itself had ended, and what was left.
Linux only (/proc).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from stopping import TAG_VARIABLE, ended, stop, tagged  # noqa: E402

HUNG = 60   # seconds: a build not done by then is counted as hung (a build takes one or two)


def run(command: list[str], tag: str, how: str | None, delay: float) -> tuple[int, float]:
    """Start a build, stop it after `delay` (or not), read its output to the end: (status, caller's extra wait)."""
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True, env={**os.environ, TAG_VARIABLE: tag})
    readers = [threading.Thread(target=stream.read) for stream in (process.stdout, process.stderr)]
    for reader in readers:
        reader.start()
    time.sleep(delay)
    if how is not None:
        stop(process.pid, how)
    end, deadline = None, time.monotonic() + HUNG
    while any(reader.is_alive() for reader in readers) and time.monotonic() < deadline:
        if end is None and ended(process.pid):
            end = time.monotonic()
        time.sleep(0.002)
    last = time.monotonic()
    if last >= deadline:   # hung: stop it and everything it started, so the next builds can run
        for pid in tagged(tag) + [process.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.wait()
        return "hung", last - (end or last)
    process.wait()
    return process.returncode, last - (end or last)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=50, help="stops of each kind (default 50)")
    parser.add_argument("--failing", type=int, default=20, help="builds that fail by themselves (default 20)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    draw = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="lesson-stops-") as tmp:
        tmp = Path(tmp)
        out = tmp / "site"
        content = tmp / "content"
        shutil.copytree(ROOT / "content", content)
        broken = content / "en" / "06-epochs.md"
        base = [sys.executable, "build.py", "--out", str(out), "--no-cache", "-q"]
        started = time.monotonic()
        assert subprocess.run(base, cwd=ROOT).returncode == 0
        length = time.monotonic() - started
        print(f"a build takes {length:.2f} s here; stops come between 0 and {length:.2f} s")
        plan = [(how, draw.uniform(0, length)) for how in ("SIGINT", "SIGTERM", "SIGKILL") for _ in range(args.rounds)]
        draw.shuffle(plan)
        plan += [("failing", 0.0)] * args.failing
        rows: dict[str, list] = {}
        for how, delay in plan:
            tag = uuid.uuid4().hex
            if how == "failing":
                broken.write_text((ROOT / "content" / "en" / "06-epochs.md").read_text(encoding="utf-8")
                                  + "\n{{ no_such_name }}\n", encoding="utf-8")
                status, waited = run(base + ["--content", str(content)], tag, None, 0.0)
            else:
                shutil.copy(ROOT / "content" / "en" / "06-epochs.md", broken)
                status, waited = run(base, tag, how, delay)
            deadline = time.monotonic() + 2
            while tagged(tag) and time.monotonic() < deadline:
                time.sleep(0.02)
            left = tagged(tag)
            if how == "SIGKILL":
                subprocess.run(base, cwd=ROOT, capture_output=True)
            folders = [p.name for p in tmp.iterdir() if re.match(r"^\.site-(new|old)-", p.name)]
            rows.setdefault(how, []).append((status, waited, left, folders))
            for pid in left:   # so one leftover does not spoil the rest
                os.kill(pid, signal.SIGKILL)
        print(f"{'kind':<9} {'builds':>6} {'finished':>8}  {'exit statuses':<28} {'longest wait':>12}  left")
        for how, results in rows.items():
            statuses = Counter(str(status) for status, *_ in results)
            left = sum(len(l) for _, _, l, _ in results)
            folders = sum(len(f) for *_, f in results)
            print(f"{how:<9} {len(results):>6} {statuses.get('0', 0):>8}  "
                  f"{', '.join(f'{s}: {n}' for s, n in sorted(statuses.items())):<28} "
                  f"{max(w for _, w, _, _ in results):>10.3f} s  {left} processes, {folders} temporary folders")


if __name__ == "__main__":
    main()
