"""Checks of caller-supplied parameters, with one message shape for all of them.

"The 'k' parameter of recommend must be an int >= 1. Got 0." (scikit-learn's parameter
validation reads the same way). Never ``assert`` for user input: it vanishes under
``python -O``.

>>> check_int("k", 5, "recommend")
5
>>> check_int("k", 0, "recommend")
Traceback (most recent call last):
...
mentor_match.errors.InvalidParameterError: The 'k' parameter of recommend must be an int >= 1. Got 0.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

from mentor_match.errors import InvalidParameterError


def _is_int(value: Any) -> bool:
    # bool is an int to Python, never to a caller; numpy integers register as Integral.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(
    name: str,
    value: Any,
    where: str,
    *,
    low: int | None = 1,
    high: int | None = None,
    allow_none: bool = False,
) -> int | None:
    """``value`` as an ``int`` in ``[low, high]``, or :class:`InvalidParameterError`.

    ``None`` passes (and is returned) only with ``allow_none``.
    """
    if value is None and allow_none:
        return None
    ok = _is_int(value) and (low is None or value >= low) and (high is None or value <= high)
    if not ok:
        raise InvalidParameterError(
            f"The {name!r} parameter of {where} must be {_domain('an int', low, high, allow_none)}. "
            f"Got {value!r}."
        )
    return int(value)


def check_number(
    name: str,
    value: Any,
    where: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite ``float`` in the given range (ends closed unless ``*_open``)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low}"
        hi = "" if high is None else f"{'<' if high_open else '<='} {high}"
        bounds = " and ".join(b for b in (lo, hi) if b)
        domain = "a finite number" + (f" {bounds}" if bounds else "")
        raise InvalidParameterError(f"The {name!r} parameter of {where} must be {domain}. Got {value!r}.")
    return float(value)


def check_choice(name: str, value: Any, where: str, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices``, else :class:`InvalidParameterError`."""
    options = list(choices)
    if value not in options:
        raise InvalidParameterError(
            f"The {name!r} parameter of {where} must be one of {options}. Got {value!r}."
        )
    return value


def _domain(kind: str, low: int | None, high: int | None, allow_none: bool) -> str:
    if low is not None and high is not None:
        text = f"{kind} in [{low}, {high}]"
    elif low is not None:
        text = f"{kind} >= {low}"
    elif high is not None:
        text = f"{kind} <= {high}"
    else:
        text = kind
    return text + (" or None" if allow_none else "")
