"""Names and attributes shared by every stage: the one place that says how a cube is spelled.

A moment cube is an ``xr.Dataset`` whose data variables are additive sums over the stars in each
bin (see ../DESIGN.md, "a cube holds additive moments, never answers"):

``count``                 number of stars (int64, never weighted)
``sum_w``, ``sum_w2``     Σw and Σw² when per-star weights were given
``sum_<v>``               Σ w (v − c_v)        c_v = the value's shift, ``attrs["shift"]``
``sum_<v>2`` … ``4``      Σ w (v − c_v)^p
``sum_<v>_err2``          Σ w σ_v²             (per-star measurement errors, for deconvolution)
``sum_<a>_<b>``           Σ w (a − c_a)(b − c_b) cross moments (exact least-squares gradients)

Each sum variable carries ``attrs``: ``moment`` (the formula), ``value``, ``power``, ``shift``
and ``units``. Jackknife groups live on the leading ``replicate`` dim (see :mod:`cubes.jackknife`).
"""

from __future__ import annotations

#: attrs["cubes_kind"] of every cube; a Zarr store without it is not a cube.
CUBE_KIND = "moment-cube"
#: name of the star dim of catalogs.
STAR_DIM = "star"
#: name of the jackknife dim.
REPLICATE_DIM = "replicate"
#: label, on a statistic's replicate dim, of the full sample (no group left out).
FULL_SAMPLE = -1
#: name of the boolean catalog variable that carries selections (see :func:`cubes.select`).
SELECTED = "selected"
#: second dim of CF bounds variables.
BOUNDS_DIM = "bounds"

COUNT = "count"
SUM_W = "sum_w"
SUM_W2 = "sum_w2"


def sum_name(value: str, power: int = 1) -> str:
    """Name of Σ w (v − c)^power."""
    return f"sum_{value}" if power == 1 else f"sum_{value}{power}"


def err2_name(value: str) -> str:
    """Name of Σ w σ_v²."""
    return f"sum_{value}_err2"


def cross_name(a: str, b: str) -> str:
    """Name of Σ w (a − c_a)(b − c_b)."""
    return f"sum_{a}_{b}"


def bounds_name(dim: str) -> str:
    """Name of the CF bounds variable of an axis dim."""
    return f"{dim}_bounds"


def width_name(dim: str) -> str:
    """Name of the 1-D bin-width coordinate of an axis dim (survives in DataArrays)."""
    return f"{dim}_width"
