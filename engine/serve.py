"""Live preview for authors: build, serve the site on 127.0.0.1, rebuild on every change, reload the page.

`python build.py serve` runs the ordinary build in a child process (so a
change to engine/ takes effect, and a crash cannot take the server down),
serves the output folder, and watches content/, templates/, engine/ and the
settings file with `watchfiles` (change events from the operating system, so
a save is seen at once without reading every file again and again). After
each change it builds again; the build swaps the new site in atomically, so
the last good site stays served while a build runs or when it fails.

Served HTML pages get one extra element before `</body>`, a script from
/__reload.js. The built files never contain it. The script asks every
second for /__reload/state.js (the site's Content-Security-Policy allows
scripts from the same server but no XMLHttpRequest), reloads the page when a
build succeeded, and shows a failed build's error in an overlay. /__reload
gives the same state as JSON.

Only `build.py` prints: it passes `say`, which gets one line at a time
(and `trouble=True` for warnings and errors, which go to stderr).
"""

from __future__ import annotations

import functools
import http.server
import io
import json
import posixpath
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable
from urllib.parse import quote, unquote, urlsplit

from engine.output import OutputError, check_target, listed

HOOK = '<script src="/__reload.js" data-version="{version}"></script>\n'
HOOK_SCRIPT = r"""/* Live preview only (python build.py serve): reload after a rebuild, show a failed build. */
(function () {
  var hook = document.currentScript;
  var version = Number(hook.getAttribute("data-version"));
  var box = null;
  function show(error) {
    if (!error) {
      if (box) { box.remove(); box = null; }
      return;
    }
    if (!box) {
      box = document.createElement("div");
      box.id = "preview-error";
      box.setAttribute("role", "alert");
      var s = box.style;
      s.position = "fixed"; s.left = s.right = s.top = "0"; s.zIndex = "2147483647";
      s.margin = "0"; s.padding = "1em"; s.background = "#8b0000"; s.color = "#fff";
      s.font = "14px/1.4 monospace"; s.whiteSpace = "pre-wrap";
      document.body.appendChild(box);
    }
    box.textContent = "The build failed; this is the last good version.\n" + error;
  }
  window.__previewState = function (state) {
    if (state.version !== version) { location.reload(); return; }
    show(state.error);
  };
  function poll() {
    var old = document.getElementById("preview-poll");
    if (old) old.remove();
    var script = document.createElement("script");
    script.id = "preview-poll";
    script.src = "/__reload/state.js?" + Date.now();
    document.head.appendChild(script);
  }
  setInterval(poll, 1000);
})();
"""
Say = Callable[..., None]   # say(line, trouble=False): one line for the terminal
NO_SITE_YET = "<!doctype html>\n<meta charset=\"utf-8\">\n<title>No site yet</title>\n<body>\n" \
              "<p>The first build failed; fix the error and this page reloads.</p>\n</body>\n"


class Preview:
    """What the served pages need to know: the version of the last good build, and the last error."""

    def __init__(self):
        self.version = 0
        self.error: str | None = None

    def state(self) -> bytes:
        """The state as JSON."""
        return json.dumps({"version": self.version, "error": self.error}).encode("utf-8")


def with_hook(html: bytes, version: int) -> bytes:
    """The page with the reload hook before its last </body> (or at the end)."""
    hook = HOOK.format(version=version).encode("utf-8")
    at = html.rfind(b"</body>")
    return html + hook if at < 0 else html[:at] + hook + html[at:]


class PreviewHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the output folder; HTML gets the reload hook, /__reload* the build's state."""

    def __init__(self, *args, preview: Preview, **kwargs):
        self.preview = preview
        super().__init__(*args, **kwargs)

    def log_message(self, *args) -> None:
        """Keep the terminal for build messages."""

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def answer(self, status: int, body: bytes, content_type: str) -> io.BytesIO:
        """Send the headers of a generated answer; return its body for do_GET to copy."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def send_head(self):
        """Answer the hook's requests and the files the last good build wrote (never any other file)."""
        route = urlsplit(self.path).path
        if route == "/__reload":
            return self.answer(200, self.preview.state(), "application/json")
        if route == "/__reload/state.js":
            return self.answer(200, b"__previewState(" + self.preview.state() + b");\n", "text/javascript")
        if route == "/__reload.js":
            return self.answer(200, HOOK_SCRIPT.encode("utf-8"), "text/javascript")
        site = Path(self.directory)
        files = listed(site) or set()
        name = site_file(route, files)
        if name is None and f"{route.strip('/')}/index.html" in files:   # a folder without its slash
            self.send_response(301)
            self.send_header("Location", route + "/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if name is None:
            page = (site / "404.html").read_bytes() if "404.html" in files else NO_SITE_YET.encode("utf-8")
            return self.answer(404, with_hook(page, self.preview.version), "text/html; charset=utf-8")
        if name.endswith(".html"):
            return self.answer(200, with_hook((site / name).read_bytes(), self.preview.version),
                               "text/html; charset=utf-8")
        self.path = "/" + quote(name)   # the standard handler sends the file, with its type and length
        return super().send_head()


def site_file(route: str, files: set[str]) -> str | None:
    """The file of the site a request's path names (a folder's index.html), if the build wrote it."""
    name = posixpath.normpath(unquote(route)).lstrip("/")
    if route.endswith("/") or name in ("", "."):
        name = posixpath.join(name, "index.html") if name not in ("", ".") else "index.html"
    return name if name in files else None


class PreviewServer(http.server.ThreadingHTTPServer):
    """An HTTP server whose threads end with the process, quiet about readers who close a page mid-answer."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """Ignore dropped connections; report anything else as usual."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def run_build(command: list[str]) -> tuple[int, str]:
    """Run one build in a child process: (exit status, its stderr).

    The child has a process group of its own, so Ctrl-C in the terminal
    reaches only this process, which passes it on once and waits: the
    build then stops at a safe point and removes its temporary folder.
    """
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        _, errors = child.communicate()
    except KeyboardInterrupt:
        child.send_signal(signal.SIGINT)
        child.wait()
        raise
    return child.returncode, errors


def error_line(errors: str) -> str:
    """The one line that says why a build failed: its error line, or the last line of a traceback."""
    lines = [line for line in errors.splitlines() if line.strip()]
    said = [line for line in lines if line.startswith("build.py: error:")]
    return (said or lines or ["the build stopped without saying why"])[-1]


def rebuild(command: list[str], preview: Preview, say: Say, why: str) -> None:
    """Build once and tell the terminal and the open pages how it went."""
    start = time.perf_counter()
    status, errors = run_build(command)
    if status == 0:
        for line in errors.splitlines():   # warnings, one line each
            say(line, trouble=True)
        preview.version += 1
        preview.error = None
        say(f"{why}: built in {time.perf_counter() - start:.2f} s")
        return
    line = error_line(errors)
    if not line.startswith("build.py: error:"):   # a crash (engine/ being edited): the whole traceback
        say(errors.rstrip(), trouble=True)
    preview.error = line
    say(line, trouble=True)


def changed_files(changes) -> str:
    """The changed files, shortly, for the terminal."""
    names = sorted({Path(path).name for _, path in changes})
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def stop(signum, frame) -> None:
    """Stop the preview as Ctrl-C does."""
    raise KeyboardInterrupt


def serve(command: list[str], out: Path, folders: list[Path], settings_file: Path, port: int,
          say: Say) -> int:
    """Build with `command`, serve `out` on 127.0.0.1:`port`, and rebuild on every change until Ctrl-C."""
    from watchfiles import DefaultFilter, watch   # only the preview needs it
    try:
        out = check_target(out)   # the folder the build will accept: nothing else is ever served
    except OutputError as err:
        say(f"build.py: error: {err}", trouble=True)
        return 1
    preview = Preview()
    try:
        server = PreviewServer(("127.0.0.1", port),
                               functools.partial(PreviewHandler, directory=str(out), preview=preview))
    except OSError as err:
        say(f"build.py: error: --port: expected a free port on 127.0.0.1, got {port} ({err.strerror})", trouble=True)
        return 1
    folders = [folder.resolve() for folder in folders]
    settings_file = settings_file.resolve()
    # The settings file's folder, not the file: an editor that saves by replacing the file would end a watch on it.
    watched = folders + ([settings_file.parent] if not any(settings_file.is_relative_to(f) for f in folders) else [])
    ignore = DefaultFilter()

    def wanted(change, path: str) -> bool:
        place = Path(path)
        return ignore(change, path) and (place == settings_file or any(place.is_relative_to(f) for f in folders))

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    previous = signal.signal(signal.SIGTERM, stop)   # `kill` and a closed terminal stop it as Ctrl-C does
    try:
        rebuild(command, preview, say, "first build")
        thread.start()
        say(f"serving {out} at http://127.0.0.1:{server.server_address[1]}/ "
            f"(rebuilds when {', '.join(f.name + '/' for f in folders)} or {settings_file.name} change; Ctrl-C stops)")
        for changes in watch(*watched, watch_filter=wanted):
            rebuild(command, preview, say, f"changed {changed_files(changes)}")
    except KeyboardInterrupt:
        say("stopped")
    finally:
        signal.signal(signal.SIGTERM, previous)
        if thread.is_alive():
            server.shutdown()
        server.server_close()
    return 0
