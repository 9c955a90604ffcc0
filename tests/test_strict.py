"""Warnings and `--strict` (engine/strict.py), end to end through `build.py`.

Each kind of warning is made in a copy of content/: without --strict the
build succeeds and prints it as one line on stderr; with --strict the build
fails with one line per warning, exit 1, and the existing site untouched.
Which settings change nothing is also checked in process, for every way of
giving them (in the settings file or with --set).
"""

from __future__ import annotations

import re
import shutil

import pytest

from engine import config, strict
from sitetools import ROOT, dot_folders_beside, run_cli, tree_hashes

LESSON_TOML = ROOT / "content" / "lesson.toml"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A site built from the default content, which later failing builds must leave as it is."""
    out = tmp_path_factory.mktemp("strict") / "site"
    result = run_cli("--out", str(out), "--strict", "-q")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return out


def edit(path, old: str, new: str) -> None:
    """Replace one piece of a prose file."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def remove_section(content):
    (content / "en" / "05-loss.md").unlink()


def add_formula(content):
    edit(content / "zh" / "03-forward.md", '{{ formula("node-a1_1") }}',
         '{{ formula("node-a1_1") }}\n\n{{ formula("node-x", "symbolic") }}')


def remove_figure(content):
    path = content / "en" / "06-epochs.md"
    path.write_text("\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                              if 'id="loss"' not in line) + "\n", encoding="utf-8")


def random_in_file(content):
    edit(content / "lesson.toml", "[init]\n", "[init]\nrandom = true\nseed = 3\n")


def add_images_without_alt(content):
    for lang in ("zh", "en"):   # in both languages, so only the alt text is missing
        with open(content / lang / "06-epochs.md", "a", encoding="utf-8") as file:
            file.write(f"\n![](../figures/{lang}/loss.svg)\n")


CASES = {
    "section": (remove_section, [], r"05-loss\.md: section 'loss' has no en version"),
    "formula": (add_formula, [], r"zh/index\.html: formula 'node-x' is shown 2×, in en/index\.html 1×"),
    "figure": (remove_figure, [], r"zh/index\.html: figure #figure-loss is not in en/index\.html"),
    "alt": (add_images_without_alt, [], r"en/index\.html: image \.\./figures/en/loss\.svg has no alt text"),
    "unused-init": (None, ["--set", "init.random=true", "--set", "init.w11_1=2"],
                    r"init\.w11_1: not used, since init\.random = true"),
    "unused-seed": (None, ["--set", "init.seed=4"], r"init\.seed: not used, since init\.random = false"),
    "unused-in-file": (random_in_file, [], r"^build\.py: \w+: init\.b1_1, init\.b1_2, init\.b2_1, init\.w11_1, init\.w11_2, "
                                         r"init\.w12_1, init\.w21_2: not used, since init\.random = true draws every "
                                         r"parameter \(with init\.seed = 3\)"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_warning_fails_only_with_strict(site, tmp_path, case):
    change, options, expected = CASES[case]
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    if change:
        change(content)
    before = tree_hashes(site)
    args = ["--content", str(content), "--out", str(site), *options]

    strict = run_cli(*args, "--strict")
    assert strict.returncode == 1, strict.stderr
    lines = strict.stderr.splitlines()
    assert lines and all(line.startswith("build.py: error: ") and line.endswith(" (--strict)") for line in lines), lines
    assert any(re.search(expected, line) for line in lines), lines
    assert strict.stdout == ""
    assert tree_hashes(site) == before, "--strict failed but the site changed"
    assert dot_folders_beside(site) == []

    lenient = run_cli(*args, "-q")
    assert lenient.returncode == 0, lenient.stderr
    lines = lenient.stderr.splitlines()
    assert all(line.startswith("build.py: warning: ") for line in lines), lines
    assert any(re.search(expected, line) for line in lines), lines
    assert [line.removeprefix("build.py: warning: ") for line in lines] == \
        [line.removeprefix("build.py: error: ").removesuffix(" (--strict)") for line in strict.stderr.splitlines()]
    assert lenient.stdout == ""
    assert tree_hashes(site) != before, "without --strict the build should have written the site"
    run_cli("--out", str(site), "-q")   # back to the default site for the next case


def test_default_lesson_has_no_warnings(site):
    """The published site is built with --strict (.github/workflows/pages.yml): the fixture did that."""
    assert (site / "en" / "index.html").is_file()


ALL_VALUES = "init.b1_1, init.b1_2, init.b2_1, init.w11_1, init.w11_2, init.w12_1, init.w21_2"


@pytest.mark.parametrize("in_file,overrides,expected", [
    ("", [], None),
    ("seed = 3", [], "init.seed: not used, since init.random = false"),
    ("", ["init.seed=3"], "init.seed: not used, since init.random = false"),
    ("random = true", [], f"{ALL_VALUES}: not used, since init.random = true draws every parameter (with init.seed = 0)"),
    ("random = true\nseed = 2", ["init.w11_1=1"], f"{ALL_VALUES}: not used, since init.random = true draws"),
    ("", ["init.random=true"], None),                    # the file's values stand aside, as meant
    ("random = false", ["init.random=true"], None),
    ("seed = 3", ["init.random=true"], None),
    ("", ["init.random=true", "init.w11_1=2"], "init.w11_1: not used, since init.random = true"),
    ("random = true", ["init.random=false"], None),
    ("random = true", ["init.random=false", "init.seed=1"], "init.seed: not used"),
], ids=str)
def test_settings_that_change_nothing(tmp_path, in_file, overrides, expected):
    """From the loaded settings alone (the file is not read again): values beside a random start, a seed beside
    listed values."""
    path = tmp_path / "lesson.toml"
    path.write_text(LESSON_TOML.read_text(encoding="utf-8").replace("[init]\n", f"[init]\n{in_file}\n"),
                    encoding="utf-8")
    found = strict.unused_settings(config.load(path, overrides))
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and found[0].startswith(expected), found
