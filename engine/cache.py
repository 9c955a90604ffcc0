"""Remember expensive results by the hash of everything they were made from.

A rebuild that changes one paragraph of prose should not train the network,
draw 51 frames and start node again. Each result is stored under a key that
hashes its inputs together with a fingerprint of the code and the package
versions that made it, so a change to any of them makes a new key: the cache
can be missing an entry, but it cannot hand back a stale one.

The cache lives in a git-ignored folder (`.cache/`); deleting it is always
safe. An entry is a line of JSON and the bytes of the files it holds, behind a
header with the SHA-256 of both (`entry_bytes`): plain data, which no code
comes from when it is read (as it would from a pickle). Each kind of result
says how it becomes plain data and back, and what shape the data has (its
`Form`). Every entry is checked as it is read, its hash and then its shape;
one that fails is deleted and the result made afresh. So the cache never
fails a build nor changes its output: at worst the build does the work.

The hash finds damage, not intent: someone who can write the folder can
write an entry that passes, and change the site. Only Jinja's compiled
templates (engine/pages.py) are code, and so could make a build run theirs:
they are read only from a folder that is yours and that nobody else may
write in (`only_yours`); elsewhere the templates are compiled afresh.

Writing is best effort too: an entry that cannot be written (a full disk, a
read-only folder) is not kept, and nothing half-written is left behind. The
cache keeps at most KEPT_BYTES: past that, the entries used least recently go.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / ".cache"   # where builds keep their results unless told otherwise
# What a cache folder holds: entries named kind-hash, files being written, and the compiled
# templates that earlier versions kept in jinja/ (trim deletes them).
ENTRY = re.compile(r"[a-z]+-[0-9a-f]{40}|jinja|\.tmp-.+")
STALE_SECONDS = 3600   # a temporary file this old is no build's any more (writing one takes milliseconds)
KEPT_BYTES = 256 * 2**20   # past this size, the results used least recently are deleted
PACKAGES = ("numpy", "matplotlib", "pillow", "fonttools", "uharfbuzz", "imageio", "jinja2", "markdown-it-py", "mdit-py-plugins", "pygments")
TAG = b"lesson-cache/1"   # an entry's first bytes: what it is and the version of its layout


def code_fingerprint() -> str:
    """A hash of the engine's source files, the package versions and the npm packages' versions."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "engine").glob("*.*")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for package in PACKAGES:
        digest.update(f"{package}={metadata.version(package)}".encode())
    for package in ("temml", "@fontsource/stix-two-math"):   # the formulas' MathML and the math font
        manifest = ROOT / "node_modules" / package / "package.json"
        if manifest.is_file():
            digest.update(manifest.read_bytes())
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


def only_yours(folder: Path | None) -> bool:
    """Whether the folder is this user's and nobody else may write in it (code is loaded only from such a one)."""
    try:
        info = os.stat(folder)
    except (OSError, TypeError):
        return False
    return info.st_uid == os.getuid() and not info.st_mode & 0o022


@dataclass(frozen=True)
class Form:
    """How one kind of result is kept: `dump` makes it plain data and files, `read` makes it again.

    The data must fit `shape` (see `fits`) before `read` sees it; `read` raises
    ValueError for data of the right shape that still cannot be this result.
    """

    shape: Any
    dump: Callable[[Any], tuple[Any, dict[str, bytes]]]
    read: Callable[[Any, dict[str, bytes]], Any]


def fits(value: Any, shape: Any) -> bool:
    """Whether plain data has a shape: None, a type (exactly), [shape] (a list of such), (shape, ...) (a list
    of these, in order), {str: shape} (any names, each to such) or {"name": shape, ...} (exactly these names)."""
    if shape is None or isinstance(shape, type):
        return value is None if shape is None else type(value) is shape   # exactly: True is no int here
    if isinstance(shape, list):
        return type(value) is list and all(fits(item, shape[0]) for item in value)
    if isinstance(shape, tuple):
        return type(value) is list and len(value) == len(shape) and all(map(fits, value, shape))
    if list(shape) == [str]:
        return type(value) is dict and all(fits(item, shape[str]) for item in value.values())
    return type(value) is dict and value.keys() == shape.keys() and all(fits(value[k], shape[k]) for k in shape)


def inside(name: str) -> bool:
    """Whether a file name stays inside the folder it is written to (a relative path, no `..`)."""
    return all(part not in ("", ".", "..") for part in name.split("/")) and not set(name) & {"\0", "\\"}


def entry_bytes(data: Any, files: dict[str, bytes]) -> list[bytes]:
    """An entry in pieces: `TAG sha256\n`, then the rest it hashes: a line of JSON, the files' bytes one after another.

    The JSON holds the data and each file's name and size; the files stay raw
    bytes (the frames alone are half a megabyte), never text.
    """
    index = json.dumps({"data": data, "files": [[name, len(content)] for name, content in files.items()]},
                       ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
    digest = hashlib.sha256(index)
    for content in files.values():
        digest.update(content)
    return [TAG + b" " + digest.hexdigest().encode() + b"\n", index, *files.values()]


def entry_parts(raw: bytes) -> tuple[Any, dict[str, bytes]]:
    """The data and files of an entry's bytes; ValueError if the hash or the layout is wrong."""
    start = raw.find(b"\n") + 1
    if raw[:start] != TAG + b" " + hashlib.sha256(memoryview(raw)[start:]).hexdigest().encode() + b"\n":
        raise ValueError("not an entry, or a damaged one")
    stop = raw.find(b"\n", start)
    index = json.loads(raw[start:stop].decode("utf-8")) if stop > 0 else None
    if type(index) is not dict or index.keys() != {"data", "files"} or not fits(index["files"], [(str, int)]):
        raise ValueError("no line of data and files")
    files, offset = {}, stop + 1
    for name, size in index["files"]:
        if not inside(name) or name in files or size < 0:
            raise ValueError(f"a file named {name!r} of {size} bytes")
        files[name] = raw[offset:offset + size]
        offset += size
    if offset != len(raw):
        raise ValueError("the files do not fill the entry")
    return index["data"], files


def discard(path: Path) -> None:
    """Delete a bad entry if that can be done (a folder in its place too), so a good one can take its place."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError:   # nothing lost: the entry is ignored either way
        pass


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

    def load(self, key: str, form: Form) -> Any | None:
        """A stored result, or None (also for an entry that is damaged or not of this form: it is deleted)."""
        if self.folder is None:
            return None
        path = self.folder / key
        try:
            data, files = entry_parts(path.read_bytes())
            if not fits(data, form.shape):
                raise ValueError(f"not the shape of a {key.split('-')[0]} entry")
            value = form.read(data, files)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError):   # a folder, unreadable, damaged, of another shape
            discard(path)
            return None
        try:
            os.utime(path)   # used now: among the last to go when the cache is trimmed
        except OSError:      # deleted meanwhile, or a read-only cache: the value is good all the same
            pass
        self.hits.append(key.split("-")[0])
        return value

    def save(self, key: str, value: Any, form: Form) -> None:
        """Store a result, atomically (a crash never leaves half an entry); one that cannot be written is not kept."""
        if self.folder is None:
            return
        pieces = entry_bytes(*form.dump(value))
        temporary = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
            with os.fdopen(handle, "wb") as stream:
                stream.writelines(pieces)
            os.replace(temporary, self.folder / key)
            temporary = None
        except OSError:   # a full disk, a read-only folder, a folder in the entry's place: the build goes on
            pass
        finally:
            if temporary is not None:   # written in part, or not moved into place
                discard(Path(temporary))

    def trim(self) -> None:
        """Delete the results used least recently until the cache is back within KEPT_BYTES.

        A teacher who tries many settings would otherwise collect a few megabytes per try.
        """
        if self.folder is None or not self.folder.is_dir():
            return
        discard(self.folder / "jinja")   # compiled templates of earlier versions: code, and no longer read
        entries = []
        for path in self.folder.iterdir():
            try:
                if not path.is_file():
                    continue
                stat = path.stat()
                if not path.name.startswith(".tmp-"):
                    entries.append((stat, path))
                elif time.time() - stat.st_mtime > STALE_SECONDS:   # a killed build's half-written entry
                    path.unlink(missing_ok=True)
            except OSError:   # gone meanwhile (another build trimming the same cache)
                pass
        total = sum(stat.st_size for stat, _ in entries)
        for stat, path in sorted(entries, key=lambda entry: entry[0].st_mtime):
            if total <= KEPT_BYTES:
                break
            path.unlink(missing_ok=True)
            total -= stat.st_size

    def value(self, kind: str, inputs: Any, make: Callable[[], Any], form: Form) -> Any:
        """The stored result for these inputs, or a new one made and stored now."""
        key = self.key(kind, inputs)
        found = self.load(key, form)
        if found is None:
            found = make()
            self.save(key, found, form)
        return found
