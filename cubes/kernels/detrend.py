"""Quantiles of a value minus a per-row shift, from histograms (numpy; knows nothing of xarray).

Long et al. (2025) take medians of Δ[Fe/H] = [Fe/H] − trend(R) (spec 003 §4.1 step 5). A cube
holds, per radius bin r, a histogram of [Fe/H] along fine bins; with the trend constant over the
radius bin (t_r), the cumulative count of Δ ≤ s is Σ_r F_r(s + t_r), F_r the cumulative of row
r, linear inside each bin (stars uniform within a bin, as
:func:`cubes.kernels.quantile.binned_quantile` assumes). Evaluated on the union of all shifted
edges e_k − t_r this sum is exactly piecewise linear, so the quantile is exact under that
assumption.
"""

from __future__ import annotations

import numpy as np

from .quantile import binned_quantile


def shifted_quantile(counts: np.ndarray, shifts: np.ndarray, member: np.ndarray,
                     edges: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Quantiles of (value − shift_r) pooled over the rows of each group.

    Parameters
    ----------
    counts : array (r, n)
        Histogram of the value per row (e.g. per radius bin), along bins with ``edges``.
    shifts : array (r,)
        Amount subtracted from the value of every star of a row (the trend at that row).
    member : array (r, b)
        1 where row r belongs to group b (e.g. a radius bin to an analysis bin), else 0.
    edges : array (n + 1,)
        Bin edges of the value.
    q : array (m,)
        Quantiles in [0, 1].

    Returns
    -------
    array (b, m)
        NaN for a group without stars, or with stars in a row whose shift is not finite.
    """
    counts = np.asarray(counts, dtype=np.float64)
    shifts = np.asarray(shifts, dtype=np.float64)
    member = np.asarray(member, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64)
    total = counts.sum(-1)
    used = total > 0
    bad = used & ~np.isfinite(shifts)
    ok = used & np.isfinite(shifts)
    out = np.full((member.shape[1], q.size), np.nan)
    if not ok.any():
        return out
    grid = np.unique((edges[None, :] - shifts[ok, None]).ravel())
    cum = np.concatenate([np.zeros((counts.shape[0], 1)), np.cumsum(counts, -1)], -1)
    F = np.stack([np.interp(grid + shifts[i], edges, cum[i]) for i in np.flatnonzero(ok)])
    C = member[ok].T @ F  # (b, G), cumulative count of the group at each grid point
    res = binned_quantile(np.diff(C, axis=-1), grid, q)
    broken = (member[bad].sum(0) > 0) if bad.any() else np.zeros(member.shape[1], bool)
    return np.where(broken[:, None], np.nan, res)


def fill_gaps(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """NaNs of ``y`` (along ``x``) filled by linear interpolation between finite neighbours,
    held constant beyond the first and last finite points (no extrapolation)."""
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(y)
    if ok.all() or not ok.any():
        return y
    return np.interp(x, x[ok], y[ok])
