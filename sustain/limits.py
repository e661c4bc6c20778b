"""Bounds on the work a specification or a formula can ask for, checked before any work.

A spec or a formula written by mistake (``draws = 1e12``, ``poly(hhi, 100000)``,
``I(x + 10**10**10)``) must fail at once with a message that states the bound, not after
minutes of computing or an out-of-memory crash. The bounds are generous for real studies of
this field (thousands of agencies, a dozen years, a few hundred parameters) and named here, in
one place, with their reasons.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any

from sustain.errors import SpecError

#: ``option name -> (lowest, highest)`` for options of any spec entry or public function.
#: Draws and warm-up: 100,000 per chain is far beyond what any diagnostic needs (ESS of a few
#: thousand); chains: 64 (more than cores on any machine we serve); seeds: numpy's 32-bit
#: range, so that a seed means the same everywhere; bootstrap replications: one million.
OPTION_BOUNDS: MappingProxyType[str, tuple[float, float]] = MappingProxyType(
    {
        "draws": (1, 100_000),
        "tune": (0, 100_000),
        "chains": (1, 64),
        "cores": (1, 256),
        "random_seed": (0, 2**32 - 1),
        "seed": (0, 2**32 - 1),
        "reps": (1, 1_000_000),
        "points": (2, 10_000),
        "digits": (0, 10),
        "max_treedepth": (1, 20),
        "target_accept": (0.5, 0.999),
        "n_workers": (1, 256),
        "workers": (1, 256),
    }
)
#: Largest absolute integer literal in a formula (amounts are data, not literals).
MAX_FORMULA_INTEGER = 10**9
#: Largest literal exponent in a formula (``x**2``, ``x**3``; not ``10**10**10``).
MAX_FORMULA_POWER = 10
#: Largest degree of a polynomial (``poly(x, 3)``) and spline (``bs(x, degree=3)``).
MAX_POLYNOMIAL_DEGREE = 10
#: Largest number of spline basis columns (``bs(x, df=...)``, knots).
MAX_SPLINE_DF = 50
#: Largest number of specifications one multiverse may expand to.
MAX_SPECIFICATIONS = 10_000


def check_bound(name: str, value: Any, where: str | None = None) -> None:
    """Raise :class:`SpecError` when option ``name`` is out of its bounds (or not a number).

    Options without a bound pass; ``None`` passes (the default is used).

    Examples
    --------
    >>> check_bound("draws", 1000)
    >>> check_bound("draws", -5, "models[0].draws")
    Traceback (most recent call last):
    ...
    sustain.errors.SpecError: models[0].draws = -5 is out of bounds: draws must be between 1 and 100000
    """
    bounds = OPTION_BOUNDS.get(name)
    if bounds is None or value is None:
        return
    lo, hi = bounds
    label = where or name
    integer = float(lo).is_integer() and float(hi).is_integer()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(f"{label} = {value!r} must be a number between {_fmt(lo)} and {_fmt(hi)}")
    if integer and not (isinstance(value, int) or float(value).is_integer()):
        raise SpecError(f"{label} = {value!r} must be a whole number")
    if not (math.isfinite(float(value)) and lo <= value <= hi):
        raise SpecError(
            f"{label} = {value!r} is out of bounds: {name} must be between {_fmt(lo)} and "
            f"{_fmt(hi)}"
        )


def check_bounds(options: dict[str, Any] | Any, where: str = "") -> None:
    """:func:`check_bound` for every bounded key of a mapping of options.

    Examples
    --------
    >>> check_bounds({"draws": 500, "chains": 0}, "models[1]")
    Traceback (most recent call last):
    ...
    sustain.errors.SpecError: models[1].chains = 0 is out of bounds: chains must be between 1 and 64
    """
    for key, value in dict(options).items():
        check_bound(str(key), value, f"{where}.{key}" if where else str(key))


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"
