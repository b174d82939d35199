"""Per-bin statistics from the additive moments: count, mean, variance, dispersion, density.

Every function takes a moment cube (from :func:`cubes.bin_catalog` or :func:`cubes.open_cube`,
numpy- or dask-backed; lazy stays lazy), first turns its per-group sums into jackknife samples
(:func:`cubes.jackknife.samples`), and returns a DataArray that keeps the ``replicate`` dim, so
:func:`cubes.jackknife.estimate` gives its error at the end of any chain.

Sums are stored about a per-value shift c (``attrs["shift"]``): S1 = Σw(v − c), S2 = Σw(v − c)².
With W = Σw (the count when unweighted):

    mean = c + S1/W,     var = (S2 − S1²/W) / (W − ddof)

which is free of the cancellation of Σv² − (Σv)²/n when |mean| ≫ σ.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import conventions as cv
from ..jackknife import samples
from ..units import inverse, power, product


def _need(cube: xr.Dataset, name: str, what: str, fix: str) -> xr.DataArray:
    if not isinstance(cube, xr.Dataset):
        raise TypeError(f"{what} needs a moment cube (xr.Dataset), got {type(cube).__name__}")
    if name not in cube.data_vars:
        have = sorted(str(n) for n in cube.data_vars)
        raise KeyError(f"{what}: the cube has no {name!r} ({fix}); it has {have!r}")
    return cube[name]


def _weight(s: xr.Dataset) -> xr.DataArray:
    return s[cv.SUM_W] if cv.SUM_W in s.data_vars else s[cv.COUNT]


def _units(cube: xr.Dataset, value: str) -> str | None:
    var = cube.get(cv.sum_name(value))
    return None if var is None else var.attrs.get("units")


def _value_sums(cube: xr.Dataset, value: str, power: int, what: str):
    for p in range(1, power + 1):
        _need(cube, cv.sum_name(value, p), what,
              f"bin the catalog with values=[{value!r}]" + (f", moments>={p}" if p > 2 else ""))
    s = samples(cube)
    shift = float(cube[cv.sum_name(value)].attrs.get("shift", 0.0))
    return s, shift


def _named(out: xr.DataArray, name: str, long_name: str, units: str | None) -> xr.DataArray:
    """The statistic with its own name and attrs (never those inherited from a sum)."""
    out = out.rename(name).copy(deep=False)  # a new variable: never relabel the cube's own
    out.attrs = {"long_name": long_name, **_unit_attr(units)}
    return out


def count(cube: xr.Dataset) -> xr.DataArray:
    """Number of stars per bin (int64), per jackknife sample."""
    _need(cube, cv.COUNT, "count", "not a moment cube")
    return _named(samples(cube)[cv.COUNT], "count", "number of stars", None)


def mean(cube: xr.Dataset, value: str) -> xr.DataArray:
    """(Weighted) mean of ``value`` per bin, in the value's units; NaN in empty bins."""
    s, shift = _value_sums(cube, value, 1, "mean")
    w = _weight(s)
    out = shift + s[cv.sum_name(value)] / w.where(w > 0)
    return _named(out, f"mean_{value}", f"mean of {value}", _units(cube, value))


def var(cube: xr.Dataset, value: str, *, ddof: int = 0) -> xr.DataArray:
    """Variance of ``value`` per bin: (S2 − S1²/W)/(W − ddof); NaN where W ≤ ddof.

    ``ddof=0`` is numpy's / scipy.binned_statistic_dd's ``std``; weights act as frequency
    weights (the denominator is Σw − ddof).
    """
    s, _ = _value_sums(cube, value, 2, "var")
    w = _weight(s)
    s1, s2 = s[cv.sum_name(value)], s[cv.sum_name(value, 2)]
    wpos = w.where(w > 0)
    num = s2 - s1 * s1 / wpos
    out = num.clip(min=0.0) / (w - ddof).where(w - ddof > 0)
    return _named(out, f"var_{value}", f"variance of {value} (ddof={ddof})",
                  power(_units(cube, value), 2))


def std(cube: xr.Dataset, value: str, *, ddof: int = 0) -> xr.DataArray:
    """Standard deviation of ``value`` per bin (``ddof=0`` as numpy.std)."""
    out = np.sqrt(var(cube, value, ddof=ddof))
    return _named(out, f"std_{value}", f"standard deviation of {value} (ddof={ddof})",
                  _units(cube, value))


def dispersion(cube: xr.Dataset, value: str, *, deconvolve: bool | None = None,
               ddof: int = 1) -> xr.DataArray:
    """Intrinsic velocity dispersion σ per bin, measurement errors deconvolved.

    σ² = var(v) − ⟨σ_v²⟩ with ⟨σ_v²⟩ = Σwσ_v²/Σw (Lin et al. 2023 §4 use the median of σ_v²;
    the mean is what the additive cube holds, and equals it for homoscedastic errors). Bins
    where the errors exceed the spread (σ² < 0) are NaN, as are bins with W ≤ ddof.

    Parameters
    ----------
    deconvolve : bool, optional
        Subtract the mean squared error. Default: when the cube has ``sum_<value>_err2``
        (binned with ``errors=``).
    ddof : int
        Delta degrees of freedom of the variance (1: unbiased for the population σ²).
    """
    has_err = cv.err2_name(value) in cube.data_vars
    if deconvolve is None:
        deconvolve = has_err
    v = var(cube, value, ddof=ddof)
    if deconvolve:
        _need(cube, cv.err2_name(value), "dispersion(deconvolve=True)",
              f"bin the catalog with errors={{{value!r}: '<error column>'}}")
        s = samples(cube)
        w = _weight(s)
        v = v - s[cv.err2_name(value)] / w.where(w > 0)
    out = np.sqrt(v.where(v >= 0))
    kind = ", errors deconvolved" if deconvolve else ""
    return _named(out, f"sigma_{value}", f"σ_{value}{kind}", _units(cube, value))


def bin_measure(cube: xr.Dataset) -> xr.DataArray:
    """Volume of each bin: product of edge widths and hexagon areas (categorical dims: 1)."""
    measure = xr.DataArray(1.0)
    units = []
    for dim in cube.dims:
        for name in (cv.width_name(str(dim)), f"{dim}_area"):
            if name in cube.coords and cube[name].dims == (dim,):
                measure = measure * cube[name].reset_coords(drop=True)
                units.append(cube[name].attrs.get("units"))
    measure.attrs = {"units": product(*units) if units else None}
    return measure


def density(cube: xr.Dataset) -> xr.DataArray:
    """Stars per unit bin volume (count / product of bin widths and hexagon areas)."""
    m = bin_measure(cube)
    return _named(count(cube) / m, "density", "number density of stars in the binned space",
                  inverse(m.attrs["units"]))


def _unit_attr(units: str | None) -> dict[str, str]:
    return {"units": units} if units else {}
