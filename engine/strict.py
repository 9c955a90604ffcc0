"""Warnings about a lesson that builds but is probably not what its author meant.

The build succeeds with them (`build.py` prints each as one line on stderr);
`--strict` turns every one into a failure before anything is written, as a
site published by CI should have none. They are:

- a section that exists in one language only (section files are `NN-id.md`,
  appendices `A-id.md`; both languages should have the same ids in the same order);
- a formula (`data-formula` attribute) or a figure (`<figure id>`, or an image
  outside a figure) that one language's page shows and the other does not (or
  not as often);
- an image without alt text;
- a setting that is listed but not used: parameter values under `[init]`
  while `init.random = true`, or `init.seed` while it is false.

Unknown settings are not warnings: they always fail (engine/config.py).
Every function returns the warnings as one-line strings; nothing prints.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import permutations
from pathlib import Path

from engine import config
from engine.pages import LANGS, section_files

TAGS = re.compile(r"<figure\b[^>]*>|</figure>|<img\b[^>]*>")
IMAGE = re.compile(r"<img\b[^>]*>")
FORMULA = re.compile(r' data-formula="([^"]*)"')   # no \b: it would be tried at every position
ID = re.compile(r'\bid="([^"]*)"')
SRC = re.compile(r'\bsrc="([^"]*)"')
ALT = re.compile(r'\balt="([^"]*)"')


class StrictError(Exception):
    """--strict was given and the build has warnings; `.warnings` lists them, one line each."""

    def __init__(self, warnings: list[str]):
        super().__init__("; ".join(warnings))
        self.warnings = warnings


def check(files: dict[str, bytes], content: Path, settings: config.Settings, strict: bool) -> tuple[str, ...]:
    """Every warning about this build; with `strict`, raise StrictError if there is any."""
    pages = {name: data.decode("utf-8") for name, data in sorted(files.items()) if name.endswith(".html")}
    found = [*section_warnings(content), *language_warnings(pages), *alt_warnings(pages),
             *unused_settings(settings)]
    if strict and found:
        raise StrictError(found)
    return tuple(found)


def section_warnings(content: Path) -> list[str]:
    """Sections whose file exists in one language only, or at another place in the order."""
    numbers = {lang: {sid: number for number, sid, _ in section_files(content, lang)} for lang in LANGS}
    shown = content.relative_to(Path.cwd()) if content.is_relative_to(Path.cwd()) else content   # shorter
    found = []
    for lang, other in permutations(LANGS, 2):
        found += [f"{shown / lang}/{number}-{sid}.md: section '{sid}' has no {other} version "
                  f"(expected {shown / other}/{number}-{sid}.md)"
                  for sid, number in numbers[lang].items() if sid not in numbers[other]]
    first, second = LANGS
    found += [f"section '{sid}' is number {number} in {first} but {numbers[second][sid]} in {second}"
              for sid, number in numbers[first].items() if numbers[second].get(sid, number) != number]
    return found


def page_parts(html: str, lang: str) -> tuple[Counter, set[str]]:
    """How often each formula id is shown, and the figures of a page (an image's language folder as {lang})."""
    shown, inside = set(), False
    for match in TAGS.finditer(html):   # one pass: figures do not nest, and the pages are large
        tag = match.group(0)
        if tag.startswith("<figure"):
            inside = True
            if found := ID.search(tag):
                shown.add(f"figure #{found.group(1)}")
        elif tag == "</figure>":
            inside = False
        elif not inside and (found := SRC.search(tag)):
            shown.add(f"image {found.group(1).replace(f'/{lang}/', '/{lang}/')}")
    return Counter(FORMULA.findall(html)), shown


def language_warnings(pages: dict[str, str]) -> list[str]:
    """Formulas and figures that one language's lesson page shows and the other's does not (as often)."""
    parts = {lang: page_parts(pages[f"{lang}/index.html"], lang) for lang in LANGS if f"{lang}/index.html" in pages}
    found = []
    for lang, other in permutations(parts, 2):
        (formulas, figures), (other_formulas, other_figures) = parts[lang], parts[other]
        # Counted, not only listed: the diagrams' cards show every formula once in both languages.
        found += [f"{lang}/index.html: formula '{f}' is shown {formulas[f]}×, "
                  f"in {other}/index.html {other_formulas[f]}×" for f in sorted(formulas) if formulas[f] > other_formulas[f]]
        found += [f"{lang}/index.html: {f} is not in {other}/index.html" for f in sorted(figures - other_figures)]
    return found


def alt_warnings(pages: dict[str, str]) -> list[str]:
    """Images whose alt text is missing or empty."""
    found = []
    for name, html in pages.items():
        for tag in IMAGE.findall(html):
            alt = ALT.search(tag)
            if alt is None or not alt.group(1).strip():
                src = SRC.search(tag)
                found.append(f"{name}: image {src.group(1) if src else tag} has no alt text")
    return found


def unused_settings(settings: config.Settings) -> list[str]:
    """Settings that are given (in the settings file or with --set) but do not change the build."""
    given = settings.in_file | settings.on_command_line
    if settings.init_random:
        # `--set init.random=true` is the quick way to try a random start: the file's values then
        # stand aside as meant. Values given beside `random = true`, in the file or with --set, are not.
        beside = settings.on_command_line | (set() if "init.random" in settings.on_command_line else settings.in_file)
        values = sorted(key for key in beside if config.setting_of(key).name == config.PARAMETERS)
        if values:
            return [f"{', '.join(values)}: not used, since init.random = true "
                    f"draws every parameter (with init.seed = {settings.init_seed})"]
    elif "init.seed" in given:
        return ["init.seed: not used, since init.random = false (the listed values are the start)"]
    return []
