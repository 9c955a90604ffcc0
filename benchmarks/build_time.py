"""How fast the lesson builds and how light the site is, against a naive pipeline.

    python benchmarks/build_time.py [--runs 5]

Every build runs `python build.py` as a teacher does (a fresh process, so
imports count), one kind after another in each round, so slow and fast
moments of the machine spread over all kinds alike. Each row prints the
median and the range. Nothing in the repository is touched: builds go to a
temporary folder with their own cache and a copy of the prose.

The naive baseline, written below, does the same training and frames the
obvious way: a per-sample Python training loop, a new pyplot figure and
`savefig` per frame, and imageio's default GIF writer.
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import functools
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

NAIVE = textwrap.dedent("""
    import io, math, sys, tomllib
    from pathlib import Path
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import imageio.v2 as imageio

    settings = tomllib.loads(Path({config!r}).read_text())
    points, init, train = settings["data"]["points"], settings["init"], settings["train"]
    names = ["w11_1", "b1_1", "w12_1", "b2_1", "w11_2", "w21_2", "b1_2"]
    p = {{name: float(init[name]) for name in names}}
    sig = lambda z: 1 / (1 + math.exp(-z))

    def forward(p, x):
        a1, a2 = sig(p["w11_1"] * x + p["b1_1"]), sig(p["w12_1"] * x + p["b2_1"])
        return a1, a2, sig(p["w11_2"] * a1 + p["w21_2"] * a2 + p["b1_2"])

    losses, snapshots = [], []
    for epoch in range(1, train["epochs"] + 1):
        grads, loss = dict.fromkeys(names, 0.0), 0.0
        for x, y in points:
            a1, a2, yh = forward(p, x)
            loss += (y - yh) ** 2 / len(points)
            d2 = -2 * (y - yh) * yh * (1 - yh) / len(points)
            d11, d12 = d2 * p["w11_2"] * a1 * (1 - a1), d2 * p["w21_2"] * a2 * (1 - a2)
            for name, g in (("w11_2", d2 * a1), ("w21_2", d2 * a2), ("b1_2", d2), ("w11_1", d11 * x),
                            ("b1_1", d11), ("w12_1", d12 * x), ("b2_1", d12)):
                grads[name] += g
        losses.append(loss)
        if epoch == 1 or epoch % train["display_every"] == 0:
            snapshots.append((epoch, loss, dict(p)))
        p = {{name: p[name] - train["learning_rate"] * grads[name] for name in names}}

    out = Path({out!r}); out.mkdir(parents=True, exist_ok=True)
    xs = [0.3 + 6.5 * k / 299 for k in range(300)]
    frames = []
    for k, (epoch, loss, q) in enumerate(snapshots):
        fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.4))
        left.scatter([x for x, _ in points], [y for _, y in points])
        left.plot(xs, [forward(q, x)[2] for x in xs])
        right.plot(range(1, epoch + 1), losses[:epoch])
        right.set_yscale("log")
        fig.suptitle(f"epoch {{epoch}}  E = {{loss:.5f}}")
        name = out / f"frame-{{k:03d}}.png"
        fig.savefig(name, dpi=100)
        plt.close(fig)
        frames.append(imageio.imread(name))
    imageio.mimsave(out / "training.gif", frames, duration=0.12, loop=0)
""")


def timed(command: list[str]) -> tuple[float, int]:
    """Wall seconds of a command, and the peak memory (KiB) of the processes it ran."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    return seconds, max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


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
    runs = parser.parse_args().runs
    work = Path(tempfile.mkdtemp(prefix="lesson-bench-"))
    try:
        content = work / "content"
        shutil.copytree(ROOT / "content", content)
        prose = content / "en" / "05-loss.md"
        original = prose.read_text(encoding="utf-8")
        cache, out = work / "cache", work / "site"
        times = {name: [] for name in ("cold", "unchanged", "prose", "setting", "naive")}
        memory = 0
        for round_ in range(runs):
            shutil.rmtree(cache, ignore_errors=True)
            seconds, peak = timed(build_command(content, work / f"cold-{round_}", cache))
            times["cold"].append(seconds)
            if round_ == 0:  # the first child process so far: its peak is this build's alone
                memory = peak
            shutil.rmtree(work / f"cold-{round_}")
            timed(build_command(content, out, cache))  # so that the next ones start from a built site
            times["unchanged"].append(timed(build_command(content, out, cache))[0])
            prose.write_text(original.replace("\n\n", f"\n\nA sentence for round {round_}.\n\n", 1), encoding="utf-8")
            times["prose"].append(timed(build_command(content, out, cache))[0])
            prose.write_text(original, encoding="utf-8")
            rate = f"train.learning_rate={0.5 + 0.01 * (round_ + 1)}"
            times["setting"].append(timed(build_command(content, out, cache, [rate]))[0])
            naive = [sys.executable, "-c", NAIVE.format(config=str(content / "lesson.toml"), out=str(work / "naive"))]
            times["naive"].append(timed(naive)[0])
            shutil.rmtree(work / "naive")
        timed(build_command(content, out, cache))
        ratio = statistics.median(times["naive"]) / statistics.median(times["cold"])
        print(f"builds of the default lesson, {runs} rounds, median (min-max)")
        print(f"  cold build (empty cache, new folder)   {summary(times['cold'])}")
        print(f"  rebuild, nothing changed               {summary(times['unchanged'])}")
        print(f"  rebuild after one paragraph of prose   {summary(times['prose'])}")
        print(f"  rebuild after one setting              {summary(times['setting'])}")
        print(f"  naive pipeline (same training, frames) {summary(times['naive'])}")
        print(f"  naive / cold                           {ratio:7.1f} x")
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
        if not parser.parse_args().no_scale:
            big = ["train.epochs=50000", "train.display_every=100"]
            seconds, peak = timed(build_command(content, work / "big", None, big))
            print(f"50,000 epochs, 501 frames (no cache)     {seconds:7.2f} s, peak memory {peak / 1024:.0f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
