"""How fast the lesson builds and how light the site is, against the naive pipeline.

    python benchmarks/build_time.py [--runs 5]

Every build runs `python build.py` as a teacher does (a fresh process, so
imports count), one kind after another in each round, so slow and fast
moments of the machine spread over all kinds alike. Each row prints the
median and the range. Nothing in the repository is touched: builds go to a
temporary folder with their own cache and a copy of the prose. The machine
may be shared: each build waits (up to --wait seconds) for a moment in which
the CPUs are idle. Its CPUs also change speed from minute to minute (a fixed
loop of plain Python has taken from 0.058 s to 0.112 s here within one run,
with nothing else running), so the loop is timed just before each cold build
and printed too: compare cold builds only between runs at the same speed.

The naive pipeline is the same cold build confined to one core: the build
then starts no drawing workers and draws in its own process, after the pages,
and node shares the core with it. The same work, one step after another.
"""

from __future__ import annotations

import argparse
import gzip
import functools
import http.server
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent

class Timing(NamedTuple):
    """One command's wall time, the CPU time of all its processes together, and the peak memory of the largest."""

    seconds: float
    cpu: float
    peak_kib: int


def on_one_core() -> None:
    """Confine this (child) process to the first core it may use: a build there starts no workers."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def timed(command: list[str], one_core: bool = False, wait: float = 0) -> Timing:
    """Run a command (confined to one core if asked) and time it, once the machine is quiet (waiting at most
    `wait` seconds). The peak is the largest of all the processes waited for so far (the kernel keeps no
    other): of this one, if it is the first."""
    wait_for_quiet(wait)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, preexec_fn=on_one_core if one_core else None)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return Timing(seconds, cpu, after.ru_maxrss)


def idle_share(seconds: float) -> float:
    """The share of the machine's CPU time that went unused over the next `seconds` (/proc/stat)."""
    def counts() -> tuple[int, int]:
        fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return fields[3] + fields[4], sum(fields)   # idle and I/O wait; all
    idle, total = counts()
    time.sleep(seconds)
    later_idle, later_total = counts()
    return (later_idle - idle) / max(1, later_total - total)


def wait_for_quiet(limit: float) -> bool:
    """Wait (at most `limit` seconds) until the CPUs were 90% idle for half a second; whether they were."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if idle_share(0.5) >= 0.9:
            return True
    return False


def reference_loop() -> float:
    """The machine's speed now: seconds for a fixed loop of plain Python (the fastest of three)."""
    fastest = math.inf
    for _ in range(3):
        start = time.perf_counter()
        total = 0
        for k in range(3_000_000):
            total += k
        fastest = min(fastest, time.perf_counter() - start)
    return fastest


def build_command(content: Path, out: Path, cache: Path | None, overrides=()) -> list[str]:
    """The command a teacher runs, with the benchmark's own prose, output and cache folders."""
    return [sys.executable, str(ROOT / "build.py"), "--content", str(content), "--out", str(out), "-q",
            *(["--cache", str(cache)] if cache else ["--no-cache"]), *(f"--set={item}" for item in overrides)]


def summary(values: list[float]) -> str:
    """median (min-max)."""
    return f"{statistics.median(values):7.2f} s  ({min(values):.2f}-{max(values):.2f})"


def folder_bytes(folder: Path, pattern: str = "*") -> int:
    """Bytes of the files below a folder matching a pattern."""
    return sum(p.stat().st_size for p in folder.rglob(pattern) if p.is_file())


def first_screen_bytes(site: Path, page: str) -> tuple[int, int] | None:
    """Bytes (raw, gzip as a server sends them) a reader downloads before scrolling, seen by Chromium."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path("/usr/bin/chromium").exists():
        return None
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    http.server.SimpleHTTPRequestHandler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fetched = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"])
            view = browser.new_page(viewport={"width": 1280, "height": 800})
            view.on("requestfinished", lambda request: fetched.append(request.url))
            view.goto(f"http://127.0.0.1:{server.server_address[1]}/{page}")
            view.wait_for_load_state("networkidle")
            browser.close()
    finally:
        server.shutdown()
    raw = packed = 0
    for url in fetched:
        data = (site / url.split("/", 3)[3].split("#")[0]).read_bytes()
        raw += len(data)
        text = url.endswith((".html", ".css", ".js", ".svg", ".json"))
        packed += len(gzip.compress(data, 6)) if text else len(data)
    return raw, packed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds of every kind of build (default 5)")
    parser.add_argument("--no-scale", action="store_true", help="skip the 50,000-epoch build")
    parser.add_argument("--wait", type=float, default=30, metavar="SECONDS",
                        help="before each build, wait up to this long for a quiet machine (default 30)")
    args = parser.parse_args()
    runs = args.runs
    measure = functools.partial(timed, wait=args.wait)
    work = Path(tempfile.mkdtemp(prefix="lesson-bench-"))
    try:
        content = work / "content"
        shutil.copytree(ROOT / "content", content)
        prose = content / "en" / "05-loss.md"
        original = prose.read_text(encoding="utf-8")
        cache, out = work / "cache", work / "site"
        times = {name: [] for name in ("cold", "unchanged", "prose", "setting", "naive")}
        cpu = {name: [] for name in ("cold", "naive")}
        memory = 0
        speed = []   # the loop's time just before each cold build
        for round_ in range(runs):
            for kind, one_core in (("cold", False), ("naive", True)):
                shutil.rmtree(cache, ignore_errors=True)
                if kind == "cold":
                    wait_for_quiet(args.wait)
                    speed.append(reference_loop())
                cold = measure(build_command(content, work / f"{kind}-{round_}", cache), one_core)
                times[kind].append(cold.seconds)
                cpu[kind].append(cold.cpu)
                if round_ == 0 and kind == "cold":  # the first child process so far: its peak is this build's alone
                    memory = cold.peak_kib
                shutil.rmtree(work / f"{kind}-{round_}")
            timed(build_command(content, out, cache))  # so that the next ones start from a built site
            times["unchanged"].append(measure(build_command(content, out, cache)).seconds)
            prose.write_text(original.replace("\n\n", f"\n\nA sentence for round {round_}.\n\n", 1), encoding="utf-8")
            times["prose"].append(measure(build_command(content, out, cache)).seconds)
            prose.write_text(original, encoding="utf-8")
            rate = f"train.learning_rate={0.5 + 0.01 * (round_ + 1)}"
            times["setting"].append(measure(build_command(content, out, cache, [rate])).seconds)
        timed(build_command(content, out, cache))
        ratio = statistics.median(times["naive"]) / statistics.median(times["cold"])
        print(f"builds of the default lesson, {runs} rounds, median (min-max); load average "
              f"{' '.join(f'{load:.2f}' for load in os.getloadavg())} at the end")
        print(f"  cold build (empty cache, new folder)   {summary(times['cold'])}, CPU {statistics.median(cpu['cold']):.2f} s")
        print(f"  rebuild, nothing changed               {summary(times['unchanged'])}")
        print(f"  rebuild after one paragraph of prose   {summary(times['prose'])}")
        print(f"  rebuild after one setting              {summary(times['setting'])}")
        print(f"  naive pipeline (cold build, one core)  {summary(times['naive'])}, CPU {statistics.median(cpu['naive']):.2f} s")
        print(f"  naive / cold                           {ratio:7.1f} x")
        print(f"  machine speed (a fixed loop of Python, before each cold build) {statistics.median(speed):.3f} s  ({min(speed):.3f}-{max(speed):.3f})")
        print(f"  peak memory (largest process of a cold build) {memory / 1024:.0f} MiB")
        print("site")
        print(f"  GIF                                    {(out / 'animation' / 'training.gif').stat().st_size / 1024:7.0f} KiB")
        print(f"  PNG frames                             {folder_bytes(out / 'animation' / 'frames') / 1024:7.0f} KiB")
        total = folder_bytes(out)
        print(f"  whole site                             {total / 1e6:7.2f} MB ({total / 2**20:.2f} MiB)")
        for page in ("index.html", "en/index.html", "zh/index.html"):
            seen = first_screen_bytes(out, page)
            if seen:
                print(f"  first screen of {page:<22} {seen[0] / 1024:7.0f} KiB  ({seen[1] / 1024:.0f} KiB gzipped)")
        if not args.no_scale:
            big = ["train.epochs=50000", "train.display_every=100"]
            seconds, _, peak = measure(build_command(content, work / "big", None, big))
            print(f"50,000 epochs, 501 frames (no cache)     {seconds:7.2f} s, peak memory {peak / 1024:.0f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
