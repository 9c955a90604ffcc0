"""The prose as input from a stranger (engine/pages.py): a merged pull request is built and published.

Each attack is made in a copy of content/ and built through `build.py`: the build must stop with
exit 1 and one line that names the file, do nothing the attack asked for, publish nothing, and
leave the existing site as it was. The attacks that would hang or eat memory on a build without
the checks run with a memory cap and a timeout, so that they fail rather than harm the machine.
A last build shows that what the lesson needs still gets through: hand-written tables and
details, images of the site, includes of the content folder, partials with the prose's text.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from jinja2.sandbox import SecurityError

from sitetools import ROOT, dot_folders_beside, tree_hashes

QUICK = ["--set", "train.epochs=60", "--set", "train.display_every=20"]   # 4 frames: training takes no time
SECRET = "SECRET-7f3a9c-never-published"
MEMORY_CAP = 2 << 30   # bytes of address space: enough for a build and its node, not for a bomb
REFRESH = '<meta http-equiv="refresh" content="0;url=https://evil.example/">'


def capped_memory() -> None:
    """In the child before it runs: a bomb fails with MemoryError instead of taking the machine's memory."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def build_cli(content: Path, out: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """`python build.py` on a copy of the content, quiet, without cache."""
    return subprocess.run([sys.executable, "build.py", "--content", str(content), "--out", str(out), "--no-cache",
                           "-q", *QUICK], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=capped_memory)


def append(path: Path, text: str) -> None:
    """Add text at the end of a file of the copy."""
    path.write_text(path.read_text(encoding="utf-8") + "\n" + text + "\n", encoding="utf-8")


def secret_file(folder: Path, name: str, text: str = "") -> Path:
    """A file outside the content folder that must never reach the site."""
    path = folder / name
    path.write_text(text + SECRET + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------ the attacks
# Most add a line to a section: (section, the line, a piece of what the error must say). PWNED
# stands for a file the line tries to create.

ADDED_LINES = {
    "python-internals": ("en/02-data.md", "{{ cycler.__init__.__globals__.os.popen('touch PWNED').read() }}",
                         "unsafe"),
    "raw-meta-refresh": ("en/02-data.md", REFRESH, "raw HTML: expected a tag among"),
    # A browser ends this comment at <!-->, and the refresh is live.
    "raw-comment-trick": ("en/02-data.md", f"<div>\n<!-->\n{REFRESH}\n-->\n</div>",
                          "raw HTML: expected an HTML comment"),
    "formula-label-breakout": ("en/05-loss.md", '$$\nx\n$$ (a"><meta/http-equiv="refresh"/content="0;url=https://evil.'
                               'example/"><i/")', "expected a formula label"),
    "code-os-system": ("en/11-code.md", '{{ code("os.system") }}', "expected 'engine.<module>.<function>'"),
    # Would publish the source of a module outside the engine.
    "code-other-module": ("en/11-code.md", '{{ code("json.dumps") }}', "expected 'engine.<module>.<function>'"),
    # Importing `this` prints to stdout: importing a module by name runs its code.
    "code-import-runs-code": ("en/11-code.md", '{{ code("this.s") }}', "expected 'engine.<module>.<function>'"),
    "remote-image": ("en/02-data.md", "![tracker](https://evil.example/t.png)", "expected an image of the site"),
    "protocol-relative-image": ("en/02-data.md", "![tracker](//evil.example/x.png)", "expected an image of the site"),
    "string-bomb": ("en/02-data.md", '{{ "x" * 10**10 }}', "the prose may make at most 1,000,000"),
    # Jinja's ** groups from the left: 9 ** 9 ** 9 is (9 ** 9) ** 9, a number of 77 digits.
    "power-bomb": ("en/02-data.md", "{{ 9 ** (9 ** 9) }}", "the prose may make at most 4,300"),
    "huge-section": ("en/02-data.md", ("Many words. " * 100 + "\n\n") * 1000, "expected at most 1024 KiB (1 MiB)"),
    "include-link-outside": ("en/02-data.md", '{% include "notes.txt" %}', "expected a file inside the content folder"),
}


def add_line(name):
    """The attack that adds the line ADDED_LINES[name] to its section."""
    def attack(c, t):
        section, line, says = ADDED_LINES[name]
        append(c / section, line.replace("PWNED", str(t / "pwned")))
        return c / section, says
    return attack


def include_link_outside(c, t):
    os.symlink(secret_file(t, "passwd"), c / "notes.txt")
    add_line("include-link-outside")(c, t)
    return c / "notes.txt", ADDED_LINES["include-link-outside"][2]


def section_link_outside(c, t):
    os.symlink(secret_file(t, "secret.md", "# A section\n\n"), c / "en" / "12-secret.md")
    return c / "en" / "12-secret.md", "expected a file inside the content folder"


def strings_link_outside(c, t):
    copy = secret_file(t, "strings.toml", (c / "strings.toml").read_text(encoding="utf-8") + "\n# ")
    (c / "strings.toml").unlink()
    os.symlink(copy, c / "strings.toml")
    return c / "strings.toml", "expected a file inside the content folder"


def glossary_fifo(c, t):
    (c / "glossary.toml").unlink()
    os.mkfifo(c / "glossary.toml")   # opening it would wait for a writer for ever
    return c / "glossary.toml", "expected a regular file, got a named pipe"


def strings_dev_zero(c, t):
    (c / "strings.toml").unlink()
    os.symlink("/dev/zero", c / "strings.toml")   # reading it would never end
    return c / "strings.toml", "got a link to /dev/zero"


def not_utf8(c, t):
    section = c / "en" / "02-data.md"
    section.write_bytes(section.read_bytes() + "\nTaille unique, caf\u00e9.\n".encode("latin-1"))
    return section, "expected UTF-8 text, got the byte 0xe9 at byte offset"


def ui_string_reads_internals(c, t):
    strings = c / "strings.toml"
    text = strings.read_text(encoding="utf-8")
    assert 'point_table_caption = "The {n} fittings"' in text
    strings.write_text(text.replace('"The {n} fittings"', '"The {n.__class__.__mro__} fittings"'), encoding="utf-8")
    return strings, "en.point_table_caption: expected fields like {count}, got {n.__class__.__mro__}"


# Each makes one attack in the copy `c` (`t` is the test's folder, outside it) and returns the file
# the error must name and a piece of what it must say.
ATTACKS = {**{name: add_line(name) for name in ADDED_LINES}, **{
    attack.__name__.replace("_", "-"): attack for attack in [
        include_link_outside, section_link_outside, strings_link_outside, glossary_fifo, strings_dev_zero, not_utf8,
        ui_string_reads_internals]}}


def previous_site(folder: Path) -> Path:
    """An output folder from an earlier build (marked as build.py marks it), which a failing build must keep."""
    from engine.output import MARKER, marker
    out = folder / "site"
    out.mkdir()
    (out / MARKER).write_bytes(marker(["index.html"]))
    (out / "index.html").write_text("<!doctype html><title>the previous site</title>\n", encoding="utf-8")
    return out


def files_holding(folder: Path, text: str) -> list[str]:
    """The files below a folder whose bytes hold `text`."""
    return sorted(str(p) for p in folder.rglob("*") if p.is_file() and text.encode() in p.read_bytes())


@pytest.mark.parametrize("name", ATTACKS)
def test_an_attack_in_the_prose_stops_the_build_with_one_line(tmp_path, name):
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    named, says = ATTACKS[name](content, tmp_path)
    out = previous_site(tmp_path)
    before = tree_hashes(out)
    result = build_cli(content, out)
    assert result.returncode == 1, result.stderr[-3000:]
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("build.py: error: "), result.stderr[-3000:]
    assert str(named) in lines[0] and says in lines[0], lines[0]
    assert tree_hashes(out) == before and dot_folders_beside(out) == []
    assert not (tmp_path / "pwned").exists()
    assert SECRET not in result.stderr and files_holding(out, SECRET) == []


def test_what_the_lesson_needs_still_gets_through(tmp_path):
    """Hand-written HTML of the allowed kinds, an image of the site, an include of a file of the content
    folder (through a link that stays inside it), and a partial whose caption tries to be markup."""
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    (content / "shared").mkdir()
    (content / "shared" / "note.md").write_text("A *shared* note.\n", encoding="utf-8")
    os.symlink("note.md", content / "shared" / "alias.md")
    append(content / "en" / "02-data.md", "\n\n".join([
        '<details open><summary>Why <em>two</em> units?</summary>\n<table class="data-table"><caption>Sizes</caption>'
        '<tr><th scope="col" colspan="2" style="text-align:left">x</th></tr>'
        '<tr><td>1</td><td><kbd>Tab</kbd> <a href="#results" title="the results">see</a></td></tr></table>\n</details>',
        "![the observations](../figures/en/scatter.svg)",
        '{% include "shared/alias.md" %}',
        '{{ partial("figure", id="scatter", caption=\'' + REFRESH + '\' | safe) }}']))
    out = tmp_path / "site"
    result = build_cli(content, out)
    assert result.returncode == 0, result.stderr[-3000:]
    page = (out / "en" / "index.html").read_text(encoding="utf-8")
    assert '<details open><summary>Why <em>two</em> units?</summary>' in page
    assert '<th scope="col" colspan="2" style="text-align:left">x</th>' in page and "<kbd>Tab</kbd>" in page
    assert '<img src="../figures/en/scatter.svg" alt="the observations" />' in page
    assert "<p>A <em>shared</em> note.</p>" in page
    assert "<figcaption>&lt;meta http-equiv=&#34;refresh&#34;" in page
    assert files_holding(out, "http-equiv=\"refresh\"") == []


# ------------------------------------------------------------------ the checks themselves, in process

ALLOWED_HTML = [
    '<table class="data-table init-table"><caption>x</caption><thead><tr><th scope="col">a</th></tr></thead>'
    '<tbody><tr><td style="text-align:left" colspan="2">1 &lt; 2</td></tr></tbody></table>',
    '<span lang="zh-Hans" title="a &amp; b">x</span><br><code>f(x)</code><sub>1</sub><sup>2</sup>',
    '<abbr title="mean squared error">MSE</abbr> <a href="https://example.org/a?b=1#c">x</a> <a href="#loss">y</a>',
    "<!-- a comment, even <b>with tags</b> -->",
    "<div>a < b and 2 > 1</div>",
]
REFUSED_HTML = {
    "<script>alert(1)</script>": "got <script>",
    "<img src=x>": "got <img>",
    "<svg><a href=x>y</a></svg>": "got <svg>",
    "<iframe src=//x></iframe>": "got <iframe>",
    '<td style="background:url(//x)">': "expected style to be text-align",
    '<td onmouseover="x">': "got onmouseover",
    '<div/onclick="x">': "got onclick",
    '<a href=" java\tscript:alert(1)">x</a>': "expected href to be",
    '<a href="data:text/html,x">x</a>': "expected href to be",
    '<td title="\x02HTML0\x03">': "expected title to be plain text",
    "<!-- a --!><script>x</script> -->": "expected an HTML comment",
    "<!--->x<b>--></b>": "expected an HTML comment",
    '<div title="x': "unfinished",
    "<!DOCTYPE html>": "expected tags and comments",
    "<?xml version='1.0'?>": "expected tags and comments",
    "<![CDATA[x]]>": "expected tags and comments",
}


@pytest.mark.parametrize("html", ALLOWED_HTML)
def test_raw_html_of_the_allowed_kinds_passes(html):
    from engine.pages import html_problem
    assert html_problem(html) is None


@pytest.mark.parametrize("html", REFUSED_HTML)
def test_raw_html_of_other_kinds_is_refused(html):
    from engine.pages import html_problem
    problem = html_problem(html)
    assert problem is not None and REFUSED_HTML[html] in problem[0], problem


@pytest.fixture()
def prose_env():
    """The prose's Jinja, as the renderer makes it (without loader: templates from strings)."""
    import jinja2
    from engine.pages import ProseEnvironment
    return ProseEnvironment(autoescape=True, undefined=jinja2.StrictUndefined)


@pytest.mark.parametrize("source", [
    '{{ "ab" * 600000 }}', "{{ [1, 2] * 600000 }}", "{{ 10 ** 5000 }}",
    "{{ (10 ** 2000) * (10 ** 2000) * (10 ** 2000) }}", '{{ "a".center(10) }}', '{{ "{:>9}".format(1) }}',
    '{{ "x".replace("", "y") }}', '{{ "x" | indent(10) }}', "{{ settings.as_dict() }}", "{{ lipsum(1000000) }}",
    "{{ [].append(1) }}"])
def test_the_sandbox_refuses_huge_values_and_risky_methods(prose_env, source):
    import jinja2
    settings = type("Settings", (), {"as_dict": lambda self: {}})()
    with pytest.raises((SecurityError, jinja2.TemplateError)):
        prose_env.from_string(source).render(settings=settings)


def test_the_sandbox_keeps_what_the_prose_uses(prose_env):
    source = ('{% set ns = namespace(rows=[]) %}{% for x in [3, 1, 2] %}{% set ns.rows = ns.rows + [x * 2] %}'
              '{% endfor %}{{ ns.rows | sort | join("-") }} {{ "%.1e" | format(12345.0) }} {{ "a-b".split("-") | '
              'length }} {{ 2 ** 10 }} {{ "x" ~ 1 }} {{ [1.5, 2.5] | sum }} {{ "a-b" | replace("-", "+") }} '
              '{{ {"k": 1}.get("k") }}')
    assert prose_env.from_string(source).render() == "2-4-6 1.2e+04 2 1024 x1 4.0 a+b 1"


def test_a_placeholder_alone_in_a_paragraph_becomes_the_block():
    from engine.pages import HeldHtml
    held = HeldHtml()
    figure, inline = held.hold("<figure>f</figure>"), held.hold("<b>i</b>")
    assert held.put_back(f"<p>{figure}</p>\n<p>a {inline} b \x02HTML9\x03</p>") == \
        "<figure>f</figure>\n<p>a <b>i</b> b \x02HTML9\x03</p>"
