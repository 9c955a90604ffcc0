"""The build's helper processes: two drawing workers and KaTeX's node process.

A build is mostly CPU work on two cores: the main process trains and writes
pages, node renders formulas, and two workers draw the figures and frames with
matplotlib. Starting a worker means importing matplotlib (about a third of a
second), which can happen while the main process imports the engine and
trains, so the command line starts the workers first (`Helpers.start`); this
module imports nothing heavy for that reason. Node starts once the run is
trained: it needs a tenth of a second to load KaTeX, and in the first moments
both cores are busy already, the drawing waiting on matplotlib's import.
"""

from __future__ import annotations

import atexit
import importlib
import multiprocessing
import os
import queue
import signal
from dataclasses import dataclass, field
from typing import Callable

from engine.mathtex import Katex

# What both the build and the workers use (numpy, Pillow, the network): imported
# once, before the first worker is forked, rather than once on each side.
SHARED_MODULES = ("engine.train", "engine.images")


class Helpers:
    """The helper processes of one build; each starts when first wanted, all stop in `close`."""

    def __init__(self):
        self.katex = Katex()
        self.drawing: Workers | None = None

    def start(self) -> "Helpers":
        """Start the drawing workers now, before it is known what the build needs (node starts later)."""
        self.workers(wanted=True)
        return self

    def workers(self, wanted: bool) -> "Workers":
        """The drawing workers (started now if they were not, and if they are wanted)."""
        if self.drawing is None:
            self.drawing = Workers(wanted)
        return self.drawing

    def close(self) -> None:
        """Stop every helper, also in the middle of its work."""
        self.katex.close()
        if self.drawing is not None:
            self.drawing.close()


@dataclass(frozen=True)
class Job:
    """A drawing function named by module and name (the main process need not import matplotlib for it)."""

    function: str          # e.g. "engine.figures.frame_files"
    args: tuple = ()
    options: dict = field(default_factory=dict)

    def __call__(self):
        module, _, name = self.function.rpartition(".")
        return getattr(importlib.import_module(module), name)(*self.args, **self.options)


class Workers:
    """Two processes that draw while the main process trains and writes pages.

    The first is forked and imports matplotlib, then forks the second, so both
    have it for the price of one import. They take jobs from one queue as
    they come free. Where that cannot help (nothing to draw, one core, no
    fork), jobs run in this process when their results are collected.
    """

    def __init__(self, wanted: bool):
        can = (os.cpu_count() or 1) > 1 and "fork" in multiprocessing.get_all_start_methods()
        self.first = None
        self.pids: list[int] = []
        if wanted and can:
            for module in SHARED_MODULES:
                importlib.import_module(module)
            context = multiprocessing.get_context("fork")
            # Queues, not pipes: a put never waits for the reader, so a worker
            # with a large result can go on to its next job.
            self.jobs, self.results = context.Queue(), context.Queue()
            self.first = context.Process(target=draw_jobs, args=(self.jobs, self.results, True), daemon=False)
            # Ctrl-C is held back while forking: the worker must start out ignoring it (it is the
            # main process's to handle), and the main process hears it as soon as the fork is done.
            held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                self.first.start()
                self.pids.append(self.first.pid)
                atexit.register(self.close)   # whatever happens, no worker outlives the build
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)

    def start(self, jobs: list[Callable]) -> Callable[[], list]:
        """Hand out the jobs; return a function that waits for their results, in order."""
        if self.first is None:
            return lambda: [job() for job in jobs]
        for k, job in enumerate(jobs):
            self.jobs.put((k, job))

        def collect() -> list:
            results = {}
            while len(results) < len(jobs):
                k, value = self.results.get()
                if k == "pid":
                    self.pids.append(value)
                elif isinstance(value, BaseException):
                    raise value
                else:
                    results[k] = value
            return [results[k] for k in range(len(jobs))]

        return collect

    def close(self) -> None:
        """Stop both workers at once, also in the middle of a job (after an error or Ctrl-C)."""
        if self.first is None:
            return
        try:
            while True:   # the second worker's pid, if it came and was not read
                k, value = self.results.get_nowait()
                if k == "pid":
                    self.pids.append(value)
        except (queue.Empty, OSError, EOFError):
            pass
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.first.join()
        self.jobs.cancel_join_thread()   # jobs nobody will take must not hold up the exit
        self.first = None


def draw_jobs(jobs, results, fork_second: bool) -> None:
    """A worker: import the drawing code, maybe fork a second worker, then run jobs until it is stopped."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the main process's to handle
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})   # blocked while forking
    parent = os.getppid()
    from engine import figures
    figures.configure_matplotlib()
    if fork_second:
        second = multiprocessing.get_context("fork").Process(target=draw_jobs, args=(jobs, results, False),
                                                             daemon=False)
        second.start()
        results.put(("pid", second.pid))
    # After its last job a worker waits to be stopped (Workers.close), so that its results
    # reach the build in full; if the build is gone instead, it leaves at once, waiting for no one.
    while True:
        try:
            k, job = jobs.get(timeout=1)
        except queue.Empty:
            if os.getppid() != parent:
                os._exit(0)
            continue
        try:
            results.put((k, job()))
        except Exception as err:  # noqa: BLE001 - the main process raises it
            results.put((k, err))
