"""Numbers out of annotation sources: floats, image sizes, and what is wrong with a box.

Every reader turns its raw fields into numbers here, so a box that cannot be
used says, in the source's own terms, which value is missing, empty, not a
number or not finite (`NaN`, `Infinity`: Python's `json.dump` writes them).
"""

from __future__ import annotations

import math


def to_float(value) -> float | None:
    """Returns `value` as a float, or None when it is not a number (booleans are not)."""
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def to_size(value) -> int | None:
    """An annotated width or height in pixels, or None when it is missing, not finite or below 1."""
    number = to_float(value)
    if number is None or not math.isfinite(number) or number < 1:
        return None
    return int(number)


def number_text(value: float) -> str:
    """A float as a message shows it: `NaN`, `Infinity`, `-Infinity` or `%g`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return f"{value:g}"


def short(value, limit: int = 40) -> str:
    """`repr(value)`, cut to `limit` characters for a message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def box_values(fields, none: str = "is missing") -> tuple[list, str | None]:
    """Floats of [(label, raw value)], and what is wrong with them (None when all are finite numbers).

    A raw value of None `none` (say "is null" for JSON), a blank string is
    empty; the problem text names every bad value by its label:
    "<xmax> is missing; <ymin> 'a' is not a number".
    """
    numbers, wrong = [], []
    for label, raw in fields:
        number = to_float(raw)
        numbers.append(number)
        if raw is None:
            wrong.append(f"{label} {none}")
        elif isinstance(raw, str) and not raw.strip():
            wrong.append(f"{label} is empty")
        elif number is None:
            wrong.append(f"{label} {short(raw)} is not a number")
        elif not math.isfinite(number):
            wrong.append(f"{label} is {number_text(number)}")
    return numbers, "; ".join(wrong) or None
