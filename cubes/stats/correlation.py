"""Pearson correlation between two profiles along a dim (Lin et al. 2023 Table 1).

:func:`pearson` is vectorised over every other dim and keeps ``replicate`` (jackknife error
from :func:`cubes.estimate`) or ``subsample`` (the paper's 50 random 60 % subsamples, from
:func:`cubes.resampling.subsamples`, summarised by :func:`cubes.resampling.percentiles`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import special


def _p_value(r: np.ndarray, n: int) -> np.ndarray:
    """Two-sided p of Pearson's r for n pairs under independent normal data (Student t, n − 2
    dof), as ``scipy.stats.pearsonr``."""
    r = np.asarray(r, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(r) * np.sqrt((n - 2) / ((1.0 - r) * (1.0 + r)))
    p = 2.0 * special.stdtr(n - 2, -t)
    return np.where(np.isfinite(r), np.clip(p, 0.0, 1.0), np.nan)


def pearson(x: xr.DataArray, y: xr.DataArray, dim: str = "abs_z", *,
            within: tuple[float, float] | None = None) -> xr.Dataset:
    """Pearson r and its two-sided p between profiles ``x`` and ``y`` along ``dim``.

    Lin et al. 2023 §3.3, Table 1 (spec 000 §4.6): r between δρ_(N−S)(|z|) and Δσ_vz(|z|) (or
    Δ[Fe/H](|z|)) over the 20 bins |z| ≤ 1 kpc, p as ``scipy.stats.pearsonr`` (two-sided,
    Student t with n − 2 dof; the spec checks that the table's p follow from its r with n = 20).
    Like the paper, it ignores the correlation between neighbouring bins, so p is too small.

    Parameters
    ----------
    x, y : DataArray
        Profiles sharing ``dim`` (coordinates must agree exactly); every other dim is
        broadcast (one r per R_g bin, jackknife sample, subsample …).
    dim : str
        The dim correlated along.
    within : (lo, hi), optional
        Keep the bins whose centre coordinate is in [lo, hi], e.g. ``(0, 1.0)`` for |z| ≤ 1 kpc.

    Returns
    -------
    Dataset with ``r`` and ``p`` (dimensionless), ``attrs["n"]`` the number of bins. A NaN in
    either profile, or a constant profile, gives NaN (as scipy); ``cubes.estimate`` of the
    Dataset gives both with their jackknife errors.
    """
    for name, a in (("x", x), ("y", y)):
        if not isinstance(a, xr.DataArray):
            raise TypeError(f"pearson needs DataArray profiles, got {type(a).__name__} for {name}")
        if dim not in a.dims:
            raise ValueError(f"pearson: profile {name} ({a.name}) has no {dim!r} dim "
                             f"(dims: {list(a.dims)!r})")
    try:
        x, y = xr.align(x, y, join="exact")
    except ValueError as err:
        raise ValueError(f"pearson: the two profiles have different {dim!r} bins ({err})") \
            from None
    if within is not None:
        lo, hi = within
        c = np.asarray(x[dim].values, dtype=np.float64)
        idx = np.flatnonzero((c >= lo) & (c <= hi))
        x, y = x.isel({dim: idx}), y.isel({dim: idx})
    n = x.sizes[dim]
    if n < 3:
        raise ValueError(f"pearson needs at least 3 bins along {dim!r}, got {n}")
    dx = x - x.mean(dim, skipna=False)
    dy = y - y.mean(dim, skipna=False)
    sxy = (dx * dy).sum(dim, skipna=False)
    den = np.sqrt((dx * dx).sum(dim, skipna=False) * (dy * dy).sum(dim, skipna=False))
    r = (sxy / den.where(den > 0)).clip(-1.0, 1.0)
    p = xr.apply_ufunc(_p_value, r, kwargs={"n": n}, dask="parallelized",
                       output_dtypes=[np.float64])
    label = f"{x.name} and {y.name} along {dim}"
    r.attrs = {"long_name": f"Pearson r of {label}", "units": ""}
    p.attrs = {"long_name": f"two-sided p of Pearson r ({n} bins, Student t)", "units": ""}
    return xr.Dataset({"r": r, "p": p}, attrs={"n": n, "dim": dim})
