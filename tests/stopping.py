"""Stopping builds and finding what they left, for tests/test_processes.py and benchmarks/stopped_builds.py.

Every build under test carries a tag in its environment (TAG_VARIABLE), and so does each process it
starts, so whatever a build left running is found in /proc afterwards, whoever its parent is by then.
Linux only.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

TAG_VARIABLE = "LESSON_STOP_TAG"


def state(pid: int | str) -> str:
    """A process's state letter ("R", "S", "Z" for a zombie ...), or "" when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


def ended(pid: int) -> bool:
    """Whether a child process has ended (a zombie not yet reaped: its exit is seen, it is not waited for)."""
    return state(pid) in ("Z", "")


def tagged(tag: str) -> list[int]:
    """The live processes whose environment carries `tag` (zombies hold nothing, so they do not count)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if f"{TAG_VARIABLE}={tag}".encode() not in (entry / "environ").read_bytes().split(b"\0"):
                continue
        except OSError:   # gone meanwhile, or not ours to read
            continue
        if not ended(int(entry.name)):
            found.append(int(entry.name))
    return found


def described(pids: list[int]) -> list[str]:
    """"pid command line" for each process still there, for a readable assertion message."""
    lines = []
    for pid in pids:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            lines.append(f"{pid} {command[:80]}")
        except OSError:
            pass
    return lines


def stop(pid: int, how: str) -> None:
    """Stop a build started in a process group of its own: SIGINT to the whole group, as Ctrl-C in a
    terminal sends it; SIGTERM or SIGKILL to the build alone, as `kill` does."""
    try:
        if how == "SIGINT":
            os.killpg(pid, signal.SIGINT)
        else:
            os.kill(pid, getattr(signal, how))
    except ProcessLookupError:   # it had finished already
        pass
