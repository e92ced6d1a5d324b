"""Number formatting of the report: every number in its text and tables goes through one of these."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from ..text import finite, num


def sci(x) -> str:
    """Scientific notation, for quantities spanning orders of magnitude (gradients, errors, p-values)."""
    return f"{float(x):.1e}" if finite(x) else "–"


def sig(x) -> str:
    """Two significant digits (ratios, raw values); scientific below 10^-3."""
    if not finite(x):
        return "–"
    x = float(x)
    if x != 0 and abs(x) < 1e-3:
        return sci(x)
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.2g}"


def plain(x) -> str:
    """A value as written in the config or data: integers without decimals, else up to 4 digits."""
    if not finite(x):
        return "–" if not isinstance(x, str) else x
    x = float(x)
    return count(x) if x.is_integer() else f"{x:.4g}"


def count(x) -> str:
    return f"{int(x):,}" if finite(x) else "–"


def pct(x) -> str:
    return f"{100 * float(x):.1f}%" if finite(x) else "–"


def two(x) -> str:
    """Accuracies and shares in prose and captions."""
    return f"{float(x):.2f}" if finite(x) else "n/a"


def pm(mean, sd, n: int = 2, digits: int = 3) -> str:
    """Mean ± sd over seeds (just the mean for a single seed)."""
    if not finite(mean):
        return "–"
    if n <= 1 or not finite(sd):
        return num(mean, digits)
    return f"{num(mean, digits)} ± {num(sd, digits)}"


def value_text(x) -> str:
    """A cell of a table whose columns mix numbers, flags and text."""
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return count(x)
    if isinstance(x, (float, np.floating)):
        if not math.isfinite(x):
            return "–"
        return count(x) if float(x).is_integer() and abs(x) >= 1 else num(x)
    if x is None:
        return "–"
    try:
        if pd.isna(x):
            return "–"
    except (TypeError, ValueError):
        pass
    return str(x)


def join_words(items: Sequence[str], last: str = "and") -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


def plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def signed(x, digits: int = 3) -> str:
    """A difference with its sign (+0.260, -0.012); no negative zero."""
    if not finite(x):
        return "–"
    text = f"{float(x):+.{digits}f}"
    return "+" + text[1:] if float(text) == 0 else text


def ci(x, lo, hi, digits: int = 3, sign: bool = False) -> str:
    """A value with its 95 % interval: ``0.602 [0.592, 0.612]``."""
    f = (lambda v: signed(v, digits)) if sign else (lambda v: num(v, digits))
    if not finite(x):
        return "–"
    if not (finite(lo) and finite(hi)):
        return f(x)
    return f"{f(x)} [{f(lo)}, {f(hi)}]"


def ci_text(lo, hi, digits: int = 3, sign: bool = False) -> str:
    """The interval in prose: ``95 % CI 0.592 to 0.612``."""
    f = (lambda v: signed(v, digits)) if sign else (lambda v: num(v, digits))
    return f"95 % CI {f(lo)} to {f(hi)}" if finite(lo) and finite(hi) else "no interval"


def pval(p) -> str:
    """A p-value: three decimals from 0.001 on, scientific below, and "< 1e-300" for an underflow."""
    if not finite(p):
        return "–"
    p = float(p)
    if p >= 0.001:
        return f"{p:.3f}"
    return sci(p) if p > 0 else "< 1e-300"


def yes(x) -> str:
    """A flag of a typed table or a JSON summary as a table cell."""
    return "yes" if x else "no"


def codes(names: Sequence[str], empty: str = "none") -> str:
    names = [f"`{n}`" for n in names]
    return join_words(names) if names else empty
