"""The math font the site ships: STIX Two Math, cut down to the characters its formulas use.

Browsers lay out MathML with a font's OpenType MATH table (fraction bars,
sub- and superscript shifts, stretched brackets), and a reader's system may
have no such font: a phone may have none. So the site brings its own, from
the npm package @fontsource/stix-two-math (SIL Open Font License, shipped
beside the font). The whole font is about 370 KB; the lesson's formulas use
some 300 of its 5,000 glyphs, which come to about 25 KB.

A single letter in <mi> is drawn in italic by the browser, which takes the
letter from the font's mathematical italic block (x -> U+1D465), so those
forms are kept for every letter and Greek letter that occurs.
"""

from __future__ import annotations

import html
import io
import re
import struct
import zlib
from pathlib import Path

from engine.cache import Form
from engine.mathtex import shortened

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "node_modules" / "@fontsource" / "stix-two-math"
SOURCE = PACKAGE / "files" / "stix-two-math-latin-400-normal.woff"
FONT_FILE = "assets/math.woff"             # the style sheet's @font-face names it
LICENSE_FILE = "assets/math-font-LICENSE.txt"


class MathFontError(Exception):
    """The math font's npm package is missing or damaged; str() says what to do, in one line."""


def check_installed(source: Path = SOURCE) -> None:
    """Stop at once, in one line, if the font or its licence is not where `npm ci` puts them."""
    for needed in (source, PACKAGE / "LICENSE"):
        if not needed.is_file():
            raise MathFontError(f"math font: expected {needed} from the npm package @fontsource/stix-two-math, "
                                f"got nothing there: run `npm ci` in {ROOT}")


def font_from_entry(data: None, files: dict[str, bytes]) -> bytes:
    """The cut-down font from the cache."""
    if set(files) != {"font"}:
        raise ValueError("not a font entry")
    return files["font"]


FONT = Form(None, lambda font: (None, {"font": font}), font_from_entry)   # a cache entry: the font's bytes
TAG = re.compile(r"<[^>]*>")
# Always kept: what the page's script may write into a formula (other digits, a minus sign, a dash
# for a number that is not shown), plain ASCII, and the radical sign, which <msqrt> draws without
# its being in the text.
ALWAYS = {chr(code) for code in range(0x20, 0x7F)} | set("\u2212\u2013\u221a")


# MathML Core's italic forms (its math-auto transform) beyond the Latin and Greek alphabets, which
# move as whole blocks: dotless i and j, the symbol forms of epsilon, theta, kappa, phi, rho and pi,
# the partial differential and nabla; the italic h is Planck's constant, outside the block.
ITALIC = {"h": "\u210e", "\u0131": "\U0001d6a4", "\u0237": "\U0001d6a5", "\u03f4": "\U0001d6f3",
          "\u2207": "\U0001d6fb", "\u2202": "\U0001d715", "\u03f5": "\U0001d716", "\u03d1": "\U0001d717",
          "\u03f0": "\U0001d718", "\u03d5": "\U0001d719", "\u03f1": "\U0001d71a", "\u03d6": "\U0001d71b"}
ALPHABETS = [("A", "Z", 0x1D434), ("a", "z", 0x1D44E), ("\u0391", "\u03a9", 0x1D6E2), ("\u03b1", "\u03c9", 0x1D6FC)]


def italic(char: str) -> str:
    """The mathematical italic form the browser draws for a one-letter <mi> (x -> U+1D465), or the letter."""
    if char in ITALIC:
        return ITALIC[char]
    for first, last, start in ALPHABETS:
        if first <= char <= last:
            return chr(start + ord(char) - ord(first))
    return char


def characters(formulas: list[str]) -> set[str]:
    """Every character the formulas (MathML) show, with the italic forms of their letters."""
    shown = set(ALWAYS)
    for mathml in formulas:
        shown.update(html.unescape(TAG.sub("", mathml)))
    return shown | {italic(char) for char in shown}


def repacked(font: bytes, flavor: str | None) -> bytes:
    """The same font, its tables byte for byte, in another container: plain OpenType (None) or "woff"."""
    from fontTools.ttLib.sfnt import SFNTReader, SFNTWriter   # the container only: no table is read into objects

    reader = SFNTReader(io.BytesIO(font))
    packed = io.BytesIO()
    writer = SFNTWriter(packed, len(reader.tables), reader.sfntVersion, flavor)
    for tag in reader.keys():
        writer[tag] = reader[tag]
    writer.close()
    return packed.getvalue()


def subset(chars: set[str], source: Path = SOURCE) -> bytes:
    """The font with only these characters (and the glyphs its MATH table builds them with), as WOFF.

    HarfBuzz cuts it: its subsetter keeps the MATH table's variants and assemblies of every glyph kept.
    It reads plain OpenType, so the WOFF the font comes in is unpacked first and the result packed again.
    """
    import uharfbuzz as harfbuzz   # imported here: only a build whose characters are new needs it
    from fontTools.ttLib import TTLibError

    keep = harfbuzz.SubsetInput()
    keep.unicode_set.update(sorted(ord(char) for char in chars))
    for every in (harfbuzz.SubsetInputSets.LAYOUT_FEATURE_TAG,   # math layout uses more than the default set
                  harfbuzz.SubsetInputSets.NAME_ID):             # the copyright and licence stay in the font
        keep.sets(every).clear()
        keep.sets(every).invert()   # the empty set inverted: all of them
    try:
        whole = harfbuzz.Face(repacked(source.read_bytes(), None))
        return repacked(harfbuzz.subset(whole, keep).blob.data, "woff")
    except (OSError, TTLibError, RuntimeError, struct.error, zlib.error, ValueError, EOFError) as err:
        raise MathFontError(f"math font: expected a WOFF font in {source}, got one that cannot be read "
                            f"({shortened(err, 120) or type(err).__name__}): run `npm ci` in {ROOT} to restore it") from None


def files(formulas: list[str], cache=None) -> dict[str, bytes]:
    """The cut-down font and its licence, for the site."""
    chars = characters(formulas)
    font = cache.value("mathfont", "".join(sorted(chars)), lambda: subset(chars), FONT) if cache else subset(chars)
    return {FONT_FILE: font, LICENSE_FILE: (PACKAGE / "LICENSE").read_bytes()}
