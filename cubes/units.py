"""Unit strings of derived quantities, through astropy so that they parse back.

``power("km / s", 2) == "km2 / s2"``; ``product("kpc", "km / s") == "kpc km / s"``. Strings
astropy cannot read are combined as text and left for the reader (never dropped silently).
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=256)
def _unit(text: str):
    from astropy import units as u

    return u.Unit(text, parse_strict="raise")


def _fmt(unit) -> str:
    return unit.to_string()


def power(units: str | None, p: int) -> str | None:
    """Units of a quantity raised to the integer power ``p``."""
    if not units:
        return None
    try:
        return _fmt(_unit(units) ** p)
    except (ValueError, TypeError):
        return units if p == 1 else f"({units})^{p}"


def product(*units: str | None) -> str | None:
    """Units of a product (None if any factor has no units)."""
    if not units or any(not x for x in units):
        return None
    try:
        out = _unit(units[0])
        for x in units[1:]:
            out = out * _unit(x)
        return _fmt(out)
    except (ValueError, TypeError):
        return " ".join(f"({x})" for x in units)


def inverse(units: str | None) -> str | None:
    """Units of 1 / quantity."""
    return power(units, -1)
