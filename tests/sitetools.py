"""Small helpers for tests that look at built sites or run the command line."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def tree_hashes(folder: Path) -> dict[str, str]:
    """Every file and folder under `folder`: relative path -> sha256 of the bytes ("<dir>" for folders)."""
    folder = Path(folder)
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        for name in dirnames:
            found[(base / name).relative_to(folder).as_posix() + "/"] = "<dir>"
        for name in filenames:
            path = base / name
            found[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def run_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """`python build.py ARGS` from the repository root."""
    return subprocess.run([sys.executable, "build.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


# build.main() with engine.output.write_site replaced by a tripwire: for --out values where a
# refusal that fails to happen would damage the machine (the repo, /, the home folder), the
# refusal is still checked by the real code path (pipeline.build -> output.check_target), but if
# it does not happen nothing is written and the process exits with 99.
GUARDED = r"""
import sys
sys.path.insert(0, {root!r})
import engine.output, engine.pipeline
def tripwire(files, out):
    sys.stderr.write("TRIPWIRE: write_site reached for %s\n" % out)
    sys.exit(99)
engine.output.write_site = tripwire
import build
sys.exit(build.main(sys.argv[1:]))
"""


def run_cli_guarded(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", GUARDED.format(root=str(ROOT)), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def dot_folders_beside(path: Path) -> list[str]:
    """Hidden entries next to `path` (where the build keeps its temporary folders)."""
    return sorted(p.name for p in Path(path).parent.iterdir() if p.name.startswith("."))
