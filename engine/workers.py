"""The build's helper processes: two drawing workers and Temml's node process.

A cold build is CPU work on two cores: the main process trains and writes the
pages, node renders the formulas, and two workers draw the figures and frames
with matplotlib meanwhile. Helper processes are easy to leave behind, so the
rules here are few and strict:

- One object, `Helpers`, owns every helper, in one `with` block: leaving the
  block by any path (done, an error, Ctrl-C, SIGTERM) kills them and waits
  until they are gone, and a Ctrl-C in the middle of that waits for it to be
  done. Nothing is started before the block is entered, so a Ctrl-C at any
  moment finds each helper either not started or known to it.
- Each worker asks the kernel to kill it when its parent dies
  (PR_SET_PDEATHSIG; the first worker's parent is the build, the second's
  the first), and checks that its parent is still there once it has asked.
  So a build killed outright (SIGKILL, a crash) leaves no worker behind, and
  nobody who waits for the build's output (a pipe on its stderr) waits
  longer than the build itself. Node leaves by itself then: it looks before
  each formula whether the build is still there, and its input closes.
- The workers, and node, have process groups of their own: Ctrl-C in a
  terminal reaches the build alone, which stops them (the workers ignore it
  anyway).
- Node starts after the first worker is forked: a worker forked later would
  hold node's input open, and node would never see it end (`Workers.start`
  refuses to fork once node runs).

A job is a module-level function and its arguments: pickle sends the
function's name, and the worker, a copy of the build made by fork, finds it.
Where workers cannot help or cannot be made safe (one core to run on, no
fork, not Linux), the jobs run in the main process when their results are
collected: the build is then the same work, one step after another.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import pickle
import queue
import signal
from dataclasses import dataclass, field
from typing import Callable

from engine.mathtex import Temml
from engine.output import HeldStops

PR_SET_PDEATHSIG = 1         # prctl(2): the signal this process gets when its parent dies
PR_SET_CHILD_SUBREAPER = 36  # prctl(2): orphaned descendants are handed to this process, not to init
STOPPING = {signal.SIGINT, signal.SIGTERM}   # held back while a worker is forked


class WorkerDied(Exception):
    """A drawing worker ended in the middle of the build; str() says how."""


class Helpers:
    """The helper processes of one build, owned by one `with` block; each starts when asked."""

    def __init__(self):
        self.temml = Temml()
        self.drawing = Workers(self.temml)

    def __enter__(self) -> "Helpers":
        return self

    def __exit__(self, *exc) -> None:
        # A Ctrl-C or SIGTERM now must not cut the clean-up short (the workers would outlive the build):
        # it waits, and is then dropped. The block has ended already, by an error or having done its work.
        with HeldStops():
            self.close()

    def close(self) -> None:
        """Stop every helper, also in the middle of its work, and wait until each is gone."""
        try:
            self.temml.close()
        finally:
            self.drawing.close()


def die_with_parent(parent: int) -> bool:
    """Ask the kernel for SIGKILL when the parent ends; False if that cannot be asked or it has ended already."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (AttributeError, OSError):   # not Linux
        return False
    return prctl(PR_SET_PDEATHSIG, signal.SIGKILL) == 0 and os.getppid() == parent


def can_fork_workers() -> bool:
    """Whether workers can help here (two cores this process may run on, fork) and be made to die with the
    build (Linux's prctl)."""
    try:
        ctypes.CDLL(None).prctl
    except (AttributeError, OSError):
        return False
    return len(os.sched_getaffinity(0)) > 1 and "fork" in multiprocessing.get_all_start_methods()


@dataclass(frozen=True)
class Job:
    """A function to run in a worker, with its arguments (a module-level function: pickle sends its name)."""

    function: Callable
    args: tuple = ()
    options: dict = field(default_factory=dict)

    def __call__(self):
        return self.function(*self.args, **self.options)


class Workers:
    """Two forked processes that take drawing jobs from one queue as they come free.

    The first is forked from the build and imports matplotlib, then forks the
    second, so both have it for the price of one import (0.21 s of CPU, on a
    build that keeps both cores busy: with both forked by the build, each
    importing matplotlib, a cold build took 0.12 to 0.15 s longer, A/B). The two form a process
    group of their own: one SIGKILL to the group stops both, whatever each is
    doing. The build waits for both: the first is its child; the second is
    the first's, and when the first is gone the kernel hands it to the build
    (which is a "subreaper" while it has workers), so no worker is left
    unwaited for. The first watches the second and tells the build if it
    ends unexpectedly, so a crash stops the build instead of leaving it
    waiting for a result.
    """

    def __init__(self, node: Temml):
        self.node = node   # forked before it starts, or never (see the module's docstring)
        self.first: multiprocessing.Process | None = None
        self.jobs = self.results = None

    def start(self) -> None:
        """Fork the workers now (they import matplotlib while the build goes on); nothing if they cannot help."""
        if self.first is not None or not can_fork_workers():
            return
        if self.node.process is not None:
            raise RuntimeError("a drawing worker forked after node started would hold node's input open: "
                               "fork the workers before node starts (engine/workers.py)")
        context = multiprocessing.get_context("fork")
        # Queues, not pipes: a put never waits for the reader, so a worker with a large result goes on.
        self.jobs, self.results = context.Queue(), context.Queue()
        adopt_orphans(True)
        # Ctrl-C and SIGTERM wait while the worker is forked: it is known before either is handled.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, STOPPING)
        try:
            self.first = context.Process(target=work, args=(self.jobs, self.results, os.getpid(), True))
            self.first.start()
            in_own_group(self.first.pid)   # the worker does it too: whichever is first, the group exists
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)

    def run(self, jobs: list[Job]) -> Callable[[], list]:
        """Hand out the jobs; return a function that waits for their results, in order."""
        if self.first is None:
            return lambda: [job() for job in jobs]
        for k, job in enumerate(jobs):
            # Pickled here, not in the queue's thread: a job that cannot travel fails now, never silently.
            self.jobs.put(pickle.dumps((k, job)))
        return lambda: self.collect(len(jobs))

    def collect(self, count: int) -> list:
        """The results of the jobs handed out, in order; a job's error (or a worker's end) is raised here."""
        results = {}
        while len(results) < count:
            try:
                k, value = pickle.loads(self.results.get(timeout=0.5))
            except queue.Empty:
                if not self.first.is_alive():
                    raise WorkerDied(f"a drawing worker ended unexpectedly (exit status {self.first.exitcode})") \
                        from None
                continue
            if isinstance(value, BaseException):
                raise value
            results[k] = value
        return [results[k] for k in range(count)]

    def close(self) -> None:
        """Kill both workers, also in the middle of a job, and wait until they are gone."""
        # No pid: a Ctrl-C that came just before the signals were held was handled inside start(), before
        # the fork (its handler runs at Python's next chance); there is no worker to stop.
        if self.first is None or self.first.pid is None:
            return
        try:
            os.killpg(self.first.pid, signal.SIGKILL)
        except ProcessLookupError:   # gone already
            pass
        self.first.join()
        while True:   # the second, handed to the build when the first ended
            try:
                os.waitpid(-self.first.pid, 0)
            except ChildProcessError:
                break
        adopt_orphans(False)
        self.jobs.cancel_join_thread()   # jobs nobody will take must not hold up this process's exit
        self.jobs.close()
        self.results.close()
        self.first = self.jobs = self.results = None


def adopt_orphans(on: bool) -> None:
    """Make this process the one that waits for its descendants whose parent has ended (PR_SET_CHILD_SUBREAPER)."""
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, int(on))


def in_own_group(pid: int) -> None:
    """Put a worker in a process group of its own (named by its pid), so that one signal reaches all workers."""
    try:
        os.setpgid(pid, pid)
    except OSError:   # it has ended already, or did it itself first
        pass


def work(jobs, results, parent: int, first: bool) -> None:
    """A worker: die with its parent, import the drawing code, fork the second (the first), then run jobs."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the build's to handle
    if first:
        in_own_group(0)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPPING)   # blocked while forking
    if not die_with_parent(parent):
        return   # the build is gone already
    from engine import figures
    figures.configure_matplotlib()
    second = None
    if first:
        held = signal.pthread_sigmask(signal.SIG_BLOCK, STOPPING)
        try:
            second = multiprocessing.get_context("fork").Process(target=work, args=(jobs, results, os.getpid(), False))
            second.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
    while True:
        try:
            k, job = pickle.loads(jobs.get(timeout=0.5))
        except queue.Empty:
            if second is not None and not second.is_alive():
                results.put(travelling(-1, WorkerDied(f"a drawing worker ended unexpectedly "
                                                      f"(exit status {second.exitcode})")))
                second = None
            continue
        try:
            value = job()
        except Exception as err:  # noqa: BLE001 - the build raises it
            value = err
        results.put(travelling(k, value))


def travelling(k: int, value) -> bytes:
    """A job's result (or error) pickled for the build: here, where a failure can still be told, not in the
    queue's thread, which would drop it and leave the build waiting for ever."""
    try:
        return pickle.dumps((k, value))
    except Exception as err:  # noqa: BLE001 - whatever the reason, the build hears of it
        return pickle.dumps((k, RuntimeError(f"a drawing job's result cannot reach the build: {err}")))
