"""How the lesson writes a number for its readers: digits, and one minus sign, U+2212.

Every number a reader sees passes through here: the prose's and the tables' (the filters of
engine/pages.py), the diagrams' labels (engine/diagram.py) and the figures' alt texts. The
page's scripts write theirs the same way (LessonText in templates/static/lesson.js).

The ASCII hyphen-minus stays where a number is not shown but read by a program: code and
shell commands, TeX (engine/pages.py spells a sign the prose puts into a formula or into code
as '-' again; the formula shows it as a minus), data files and attributes that scripts parse.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Context, Decimal

MINUS = "\u2212"


def minus(text: str) -> str:
    """A formatted number as readers see it: each hyphen-minus (a sign, an exponent's sign) a minus sign."""
    return text.replace("-", MINUS)


def sig(value: float, digits: int = 4) -> str:
    """A number with `digits` significant digits, never in e-notation for this lesson's range."""
    if value == 0 or not math.isfinite(value):
        return minus(f"{value:g}")
    return fixed(value, max(0, digits - 1 - math.floor(math.log10(abs(value)))))


def fixed(value: float, decimals: int = 4) -> str:
    """A number with a fixed count of decimals. A tie (exact in binary: 0.125 to two decimals) goes away
    from zero, as the page's scripts round (JavaScript's toFixed); Python's format would round it to even."""
    if not math.isfinite(value):
        return minus(f"{value:.{decimals}f}")
    # Enough digits for any float (1.8e308) with its decimals: the default 28 would refuse 1e30 to two decimals.
    exact = Decimal(value).quantize(Decimal(1).scaleb(-decimals), context=Context(prec=400 + decimals,
                                                                                   rounding=ROUND_HALF_UP))
    return minus(f"{exact:f}")


def plain(value: float) -> str:
    """A data value as written in the settings: 0.8, 1, 6.3."""
    return minus(f"{value:g}")


def sci(value: float, digits: int = 1) -> str:
    """A tiny or huge number in e-notation: 7.6e−09."""
    return minus(f"{value:.{digits}e}")


def column(values) -> list[str]:
    """Numbers written with the same count of decimals, enough for each of them (at most 3)."""
    decimals = max(min(3, len(f"{v:g}".partition(".")[2])) for v in values) if values else 0
    return [fixed(v, decimals) for v in values]
