"""A machine with only what the README installs, or with less: the build says what is missing in one line.

Temml's npm package not installed, the math font missing or damaged, no `node` on the PATH, a
`node` that answers with junk or never answers, matplotlib's font list made before the CJK font
was installed: each stops the build with one line that says what to do, exit status 1, and
nothing written. And what the set-up
itself leaves behind (npm's engine warnings, files git would offer to commit) is checked too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sitetools import ROOT

SMALL = ["--set", "train.epochs=60", "--set", "train.display_every=20"]


def cli(*args: str, cwd: Path = ROOT, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "build.py", "--no-cache", "-q", *SMALL, *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def one_error_line(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("build.py: error: "), result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def fake_node(folder: Path, script: str) -> dict:
    """A PATH whose `node` is this shell script (and nothing else of the system's)."""
    folder.mkdir(parents=True, exist_ok=True)
    node = folder / "node"
    node.write_text("#!/bin/sh\n" + script + "\n", encoding="utf-8")
    node.chmod(0o755)
    return {"PATH": f"{folder}:/usr/bin:/bin"}   # found before the real one


def project_copy(folder: Path) -> Path:
    """A copy of the project's code and sources, without node_modules."""
    folder.mkdir()
    for name in ("build.py", "engine", "content", "templates"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, folder / name)
    return folder


def test_without_the_npm_packages_installed_the_build_says_to_run_npm_ci(tmp_path):
    project = project_copy(tmp_path / "project")
    result = cli("--out", str(tmp_path / "site"), cwd=project)
    one_error_line(result, "npm ci", str(project))
    assert not (tmp_path / "site").exists()


def project_with_temml(folder: Path) -> Path:
    """A copy of the project whose node_modules holds Temml and nothing else."""
    project_copy(folder)
    (folder / "node_modules").mkdir()
    (folder / "node_modules" / "temml").symlink_to(ROOT / "node_modules" / "temml")
    return folder


def test_without_the_math_font_the_build_says_to_run_npm_ci(tmp_path):
    project = project_with_temml(tmp_path / "project")
    result = cli("--out", str(tmp_path / "site"), cwd=project)
    one_error_line(result, "math font", "stix-two-math", "npm ci", str(project))
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize("damage", ["cut short", "not a font", "empty", "bytes changed"])
def test_a_damaged_math_font_is_one_line(tmp_path, damage):
    """A font file that is not the package's (cut short by a full disk, overwritten, edited) stops the build
    in one line that names it, before anything is written."""
    project = project_with_temml(tmp_path / "project")
    package = project / "node_modules" / "@fontsource" / "stix-two-math"
    shutil.copytree(ROOT / "node_modules" / "@fontsource" / "stix-two-math", package)
    font = next((package / "files").glob("*-latin-400-normal.woff"))
    data = bytearray(font.read_bytes())
    if damage == "cut short":
        data = data[:1000]
    elif damage == "not a font":
        data = bytearray(b"<html>not found</html>" * 100)
    elif damage == "empty":
        data = bytearray()
    else:   # a byte in every kilobyte flipped: the compressed tables no longer unpack
        for k in range(2000, len(data), 1000):
            data[k] ^= 0x55
    font.write_bytes(bytes(data))
    result = cli("--out", str(tmp_path / "site"), cwd=project)
    one_error_line(result, "math font", str(font), "cannot be read", "npm ci")
    assert not (tmp_path / "site").exists()


def test_without_node_the_build_says_to_install_it(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    result = cli("--out", str(tmp_path / "site"), env={"PATH": str(empty)})
    one_error_line(result, "node", "Node.js")
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize("script", [
    'echo "Segmentation fault"',                             # junk, exit 0
    'echo "node: bad option: --no-opt" >&2; exit 9',         # a failure of its own
    'cat > /dev/null; echo "[{\\"mathml\\": 1}]"',             # answers, but not for every formula
])
def test_a_node_that_answers_junk_is_one_line(tmp_path, script):
    result = cli("--out", str(tmp_path / "site"), env=fake_node(tmp_path / "bin", script))
    one_error_line(result, "Temml")
    assert not (tmp_path / "site").exists()


def test_a_node_that_never_answers_is_stopped_after_the_time_limit(tmp_path, monkeypatch):
    from engine import mathtex
    from engine.pipeline import Paths, build
    monkeypatch.setattr(mathtex.Temml, "TIME_LIMIT", 2.0)
    monkeypatch.setenv("PATH", fake_node(tmp_path / "bin", "exec sleep 600")["PATH"])
    started = time.monotonic()
    with pytest.raises(mathtex.FormulaError) as info:
        build(Paths(out=tmp_path / "site", cache=None))
    assert time.monotonic() - started < 30
    assert "within 2 s" in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "site").exists()
    left = subprocess.run(["pgrep", "-f", "sleep 600"], capture_output=True, text=True).stdout.split()
    assert left == [], left


def test_a_font_list_older_than_the_cjk_font_is_one_line_naming_it(tmp_path):
    """matplotlib lists fonts on its first run; a list made before fonts-noto-cjk lacks it."""
    config = tmp_path / "mpl"
    env = {"MPLCONFIGDIR": str(config)}
    subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env={**os.environ, **env}, check=True)
    listing = next(config.glob("fontlist-*.json"))
    fonts = json.loads(listing.read_text(encoding="utf-8"))
    fonts["ttflist"] = [font for font in fonts["ttflist"] if "CJK" not in font["name"]]
    listing.write_text(json.dumps(fonts), encoding="utf-8")
    result = cli("--out", str(tmp_path / "site"), env=env)
    one_error_line(result, "Noto Sans CJK SC", str(listing))
    assert not (tmp_path / "site").exists()


def test_a_cjk_font_that_is_not_installed_is_one_line_saying_how_to_install_it(monkeypatch):
    from matplotlib import font_manager
    from engine import figures
    monkeypatch.setattr(figures, "CJK_FONTS", ["No Such CJK Font", "DejaVu Sans"])
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *args, **kwargs: [])
    with pytest.raises(figures.FigureError) as info:
        figures.require_cjk_font()
    assert "apt-get install fonts-noto-cjk" in str(info.value) and "\n" not in str(info.value)


def test_the_default_build_is_quiet_with_a_fresh_matplotlib(tmp_path):
    """No matplotlib font warnings (a font list naming a font the README does not install logs one per text)."""
    result = cli("--out", str(tmp_path / "site"), env={"MPLCONFIGDIR": str(tmp_path / "mpl")})
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_every_npm_package_supports_the_node_the_readme_names():
    """`npm ci` on node 20 warns EBADENGINE for a package whose engines exclude it."""
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    for name, package in lock["packages"].items():
        wanted = package.get("engines", {}).get("node", "*")
        assert any(admits_node_20(part.strip()) for part in wanted.split("||")), (name, wanted)


def admits_node_20(wanted: str) -> bool:
    """Whether one alternative of an engines range ("*", ">= 18.16", "20.*") admits node 20.0.0."""
    if wanted == "*":
        return True
    at_least = re.fullmatch(r">=\s*(\d+)(?:\.(\d+|\*))?(?:\.(\d+|\*))?", wanted)
    if at_least:
        return tuple(int(part) if part and part != "*" else 0 for part in at_least.groups()) <= (20, 0, 0)
    major = re.fullmatch(r"(\d+)\.\*", wanted)
    assert major, f"a range this test cannot read: {wanted}"
    return int(major.group(1)) == 20


def test_what_the_set_up_and_builds_make_is_ignored_by_git():
    assert (ROOT / ".git").exists() and shutil.which("git"), "the tests run in a git clone of the project"
    made = [".venv/bin/python", "lesson-zh.html", "lesson-en.html", "site/index.html", ".cache/x",
            "node_modules/temml/package.json", "tests/__pycache__/x.pyc"]
    result = subprocess.run(["git", "check-ignore", "--no-index", *made], cwd=ROOT, capture_output=True, text=True)
    assert sorted(result.stdout.split()) == sorted(made)
