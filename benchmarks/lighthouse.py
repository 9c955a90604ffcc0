"""The lesson pages as a reader's phone loads them: Lighthouse's mobile audit, median of a few runs.

    python benchmarks/lighthouse.py                  # builds the default lesson into a temporary folder
    python benchmarks/lighthouse.py --site site --runs 5

The site is served from 127.0.0.1 under a sub-path (/backprop-lesson/), gzipped as GitHub Pages
serves it, and each lesson page is audited by Lighthouse (npm `lighthouse`, pinned in package.json;
run `npm ci` first) in Debian's Chromium (CHROME_PATH, default /usr/bin/chromium) with its mobile
preset: a simulated slow 4G network and a 4x slower CPU. It prints one row per page: the
performance score, Total Blocking Time, layout shift (CLS), Largest Contentful Paint, the number
of DOM elements, the accessibility and best-practices scores, and the bytes sent (gzipped).
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "/backprop-lesson/"
LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
CHROME_FLAGS = ("--headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                "--disable-background-networking --disable-component-update --disable-sync")
SQUEEZED = {".html", ".css", ".js", ".json", ".svg", ".txt", ".csv", ".py", ".map"}   # what Pages gzips


class Handler(http.server.SimpleHTTPRequestHandler):
    """Files of the site under PREFIX, text gzipped when the browser accepts it; anything else is 404."""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        if not self.path.startswith(PREFIX):
            self.send_error(404)
            return
        path = self.path[len(PREFIX):].split("?", 1)[0].split("#", 1)[0] or "index.html"
        if path.endswith("/"):
            path += "index.html"
        file = (Path(self.directory) / path).resolve()
        if Path(self.directory).resolve() not in file.parents or not file.is_file():
            self.send_error(404)
            return
        body = file.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(file)))
        if file.suffix in SQUEEZED and "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body, 6)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=600")
        self.end_headers()
        self.wfile.write(body)


def audit(url: str, report: Path) -> dict:
    """One Lighthouse run: the numbers of the table."""
    env = {**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium")}
    subprocess.run([str(LIGHTHOUSE), url, "--quiet", "--output=json", f"--output-path={report}",
                    f"--chrome-flags={CHROME_FLAGS}", "--only-categories=performance,accessibility,best-practices"],
                   check=True, env=env, timeout=300)
    found = json.loads(report.read_text(encoding="utf-8"))
    audits, categories = found["audits"], found["categories"]
    return {
        "performance": categories["performance"]["score"],
        "tbt": audits["total-blocking-time"]["numericValue"],
        "cls": audits["cumulative-layout-shift"]["numericValue"],
        "lcp": audits["largest-contentful-paint"]["numericValue"] / 1000,
        "dom": audits["dom-size"]["numericValue"],
        "accessibility": categories["accessibility"]["score"],
        "best": categories["best-practices"]["score"],
        "bytes": audits["total-byte-weight"]["numericValue"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, help="a built site (default: build the default lesson now)")
    parser.add_argument("--runs", type=int, default=3, help="runs per page; the table gives the median (default 3)")
    parser.add_argument("--reports", type=Path, help="keep Lighthouse's JSON reports in this folder (to read the trace)")
    args = parser.parse_args()
    if not LIGHTHOUSE.exists():
        sys.exit("benchmarks/lighthouse.py: node_modules/.bin/lighthouse is missing: run `npm ci`")
    with tempfile.TemporaryDirectory(prefix="lesson-lighthouse-") as tmp:
        site = args.site
        if site is None:
            site = Path(tmp) / "site"
            subprocess.run([sys.executable, "build.py", "--out", str(site), "-q"], cwd=ROOT, check=True)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(site)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}{PREFIX}"
        print(f"Lighthouse 12 mobile preset, {base}, median of {args.runs} runs")
        print(f"{'page':<5} {'performance':>11} {'TBT':>8} {'CLS':>6} {'LCP':>7} {'DOM':>7} "
              f"{'a11y':>5} {'best pr.':>8} {'sent':>9}")
        try:
            for page in ("zh/", "en/"):
                folder = args.reports or Path(tmp)
                folder.mkdir(parents=True, exist_ok=True)
                runs = [audit(base + page, folder / f"{page[:2]}-{k}.json") for k in range(args.runs)]
                m = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
                print(f"{page:<5} {m['performance']:>11.2f} {m['tbt']:>5.0f} ms {m['cls']:>6.3f} {m['lcp']:>5.2f} s "
                      f"{m['dom']:>7.0f} {m['accessibility']:>5.2f} {m['best']:>8.2f} {m['bytes'] / 1024:>5.0f} KiB")
        finally:
            server.shutdown()


if __name__ == "__main__":
    main()
