"""Remember expensive results by the hash of everything they were made from.

A rebuild that changes one paragraph of prose should not train the network,
draw 51 frames and start KaTeX again. Each result is stored under a key that
hashes its inputs together with a fingerprint of the code and the package
versions that made it, so a change to any of them makes a new key: the cache
can be missing an entry, but it cannot hand back a stale one.

The cache lives in a git-ignored folder (`.cache/`); deleting it is always
safe. Entries are pickles written by this program for this program only. It
keeps at most KEPT_BYTES: past that, the entries used least recently go.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / ".cache"   # where builds keep their results unless told otherwise
# What a cache folder holds: entries named kind-hash, Jinja's compiled templates, files being written.
ENTRY = re.compile(r"[a-z]+-[0-9a-f]{40}|jinja|\.tmp-.+")
KEPT_BYTES = 256 * 2**20   # past this size, the results used least recently are deleted
PACKAGES = ("numpy", "matplotlib", "pillow", "imageio", "jinja2", "markdown-it-py", "mdit-py-plugins", "pygments")


def code_fingerprint() -> str:
    """A hash of the engine's source files, the package versions and the KaTeX version."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "engine").glob("*.*")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for package in PACKAGES:
        digest.update(f"{package}={metadata.version(package)}".encode())
    katex = ROOT / "node_modules" / "katex" / "package.json"
    if katex.is_file():
        digest.update(katex.read_bytes())
    return digest.hexdigest()


class CacheFolderError(Exception):
    """The folder given for the cache holds files the cache did not write; str() says which."""


def check_folder(folder: Path) -> None:
    """Refuse a cache folder that holds anything but the cache (entries would be strewn among other files)."""
    if folder.exists() and not folder.is_dir():
        raise CacheFolderError(f"--cache: expected a folder, got the file {folder.resolve()}")
    others = sorted(path.name for path in folder.iterdir()
                    if not ENTRY.fullmatch(path.name)) if folder.is_dir() else []
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise CacheFolderError(f"--cache: expected a new or empty folder, or one a build used as its cache, "
                               f"got {folder.resolve()} (it holds {shown})")


def holds_results(folder: Path | None) -> bool:
    """Whether a build could take anything from this folder (no folder: caching is off)."""
    return folder is not None and folder.is_dir() and any(folder.iterdir())


class Cache:
    """Results stored by content hash; `folder=None` turns caching off."""

    def __init__(self, folder: Path | None):
        if folder is not None:
            check_folder(folder)
        self.folder = folder
        self.salt = code_fingerprint() if folder is not None else ""
        self.hits: list[str] = []

    def key(self, kind: str, *inputs: Any) -> str:
        """The hash of a result's kind, its inputs and the code that makes it."""
        text = json.dumps([self.salt, kind, inputs], sort_keys=True, default=repr, ensure_ascii=False)
        return f"{kind}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:40]}"

    def load(self, key: str) -> Any | None:
        """A stored result, or None."""
        if self.folder is None:
            return None
        path = self.folder / key
        try:
            value = pickle.loads(path.read_bytes())
            os.utime(path)   # used now: among the last to go when the cache is trimmed
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            return None
        self.hits.append(key.split("-")[0])
        return value

    def save(self, key: str, value: Any) -> None:
        """Store a result (atomically, so a crash never leaves half an entry)."""
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
        with os.fdopen(handle, "wb") as stream:
            pickle.dump(value, stream, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, self.folder / key)

    def trim(self) -> None:
        """Delete the results used least recently until the cache is back within KEPT_BYTES.

        A teacher who tries many settings would otherwise collect a few megabytes per try.
        """
        if self.folder is None or not self.folder.is_dir():
            return
        entries = []
        for path in (*self.folder.iterdir(), *(self.folder / "jinja").glob("*")):
            try:
                if path.is_file() and not path.name.startswith(".tmp-"):
                    entries.append((path.stat(), path))
            except OSError:   # gone meanwhile (another build trimming the same cache)
                pass
        total = sum(stat.st_size for stat, _ in entries)
        for stat, path in sorted(entries, key=lambda entry: entry[0].st_mtime):
            if total <= KEPT_BYTES:
                break
            path.unlink(missing_ok=True)
            total -= stat.st_size

    def value(self, kind: str, inputs: Any, make: Callable[[], Any]) -> Any:
        """The stored result for these inputs, or a new one made and stored now."""
        key = self.key(kind, inputs)
        found = self.load(key)
        if found is None:
            found = make()
            self.save(key, found)
        return found
