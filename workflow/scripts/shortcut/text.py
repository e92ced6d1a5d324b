"""Numbers and changes in words: the one formatter and the one direction word that the verdict
(``shortcut.diagnose``, ``shortcut.remedy``) and the report (``shortcut.report``) both use.

The tables these read are typed (``shortcut.files.read_table``), so nothing here parses text: a
value is a number or it is missing."""

from __future__ import annotations

import math

import numpy as np


def finite(x) -> bool:
    """``x`` is a finite number (a bool, a text or None is not)."""
    return (isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))
            and math.isfinite(x))


def num(x, digits: int = 3, missing: str = "–") -> str:
    """A number with fixed decimals (no negative zero), thousands separators from 10^4 on;
    ``missing`` for anything that is not a finite number (tables show "–", prose "n/a")."""
    if not finite(x):
        return missing
    x = float(x)
    if abs(x) >= 1e4:
        return f"{x:,.0f}"
    text = f"{x:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def prose(x, digits: int = 3) -> str:
    """:func:`num` in a sentence: "n/a" where the number is missing."""
    return num(x, digits, missing="n/a")


def direction(before, after, tol: float = 0.0005) -> str:
    """'rises' / 'falls' / 'stays' for a change from ``before`` to ``after`` ('changes' when
    either is not a number). Every sentence of the verdict and the report takes its direction
    word from here, so no sentence can say "falls" beside a value that rose."""
    if not (finite(before) and finite(after)):
        return "changes"
    if after > before + tol:
        return "rises"
    if after < before - tol:
        return "falls"
    return "stays"


def names(items) -> str:
    """Names in backticks, joined in prose: `a`, `b` and `c`."""
    items = [f"`{x}`" for x in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
