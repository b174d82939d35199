"""Quantiles of a value minus a per-row shift, from histograms (numba; knows nothing of xarray).

Long et al. (2025) take medians of Δ[Fe/H] = [Fe/H] − trend(R) (spec 003 §4.1 step 5). A cube
holds, per radius bin r, a histogram of [Fe/H] along fine bins; with the trend constant over the
radius bin (t_r), the cumulative count of Δ ≤ s is Σ_r F_r(s + t_r), F_r the cumulative of row
r, linear inside each bin (stars uniform within a bin, as
:func:`cubes.kernels.quantile.binned_quantile` assumes). That sum is continuous, piecewise
linear and non-decreasing in s, so its quantile — the leftmost s where it reaches q·N — is found
by bisection to machine precision: exact under that assumption.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(nogil=True, cache=True)
def _row_cdf(x, edges, cum):
    """Cumulative count of one row at value x (linear inside bins, constant outside)."""
    n = edges.shape[0] - 1
    if x <= edges[0]:
        return 0.0
    if x >= edges[n]:
        return cum[n]
    lo, hi = 0, n
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if edges[mid] <= x:
            lo = mid
        else:
            hi = mid
    return cum[lo] + (x - edges[lo]) / (edges[lo + 1] - edges[lo]) * (cum[lo + 1] - cum[lo])


@nb.njit(nogil=True, cache=True)
def _shifted_quantile(counts, shifts, member, edges, q, out):
    # hand-written: a quantile of a *shifted mixture* of histograms per cell has no library
    # equivalent, and np.vectorize over ~10³ cells (T_eff group × R bin × height × replicate)
    # cost 20 s per call; here every cell is a loop in compiled code
    nb_, nr, nv = counts.shape
    ng = member.shape[1]
    cum = np.empty((nr, nv + 1))
    tiny = np.finfo(np.float64).tiny
    for c in range(nb_):
        for r in range(nr):
            acc = 0.0
            cum[r, 0] = 0.0
            for k in range(nv):
                acc += counts[c, r, k]
                cum[r, k + 1] = acc
        for g in range(ng):
            total = 0.0
            lo, hi = np.inf, -np.inf
            broken = False
            for r in range(nr):
                m = member[r, g]
                if m == 0.0 or cum[r, nv] == 0.0:
                    continue
                t = shifts[c, r]
                if not np.isfinite(t):
                    broken = True
                    break
                total += m * cum[r, nv]
                lo = min(lo, edges[0] - t)
                hi = max(hi, edges[nv] - t)
            if broken or total <= 0.0:
                out[c, g, :] = np.nan
                continue
            for j in range(q.shape[0]):
                # leftmost s with F(s) >= q·N, as binned_quantile (q = 0: first non-empty bin)
                target = max(q[j] * total, tiny)
                a, b = lo, hi
                for _ in range(64):
                    s = 0.5 * (a + b)
                    f = 0.0
                    for r in range(nr):
                        m = member[r, g]
                        if m != 0.0 and cum[r, nv] > 0.0:
                            f += m * _row_cdf(s + shifts[c, r], edges, cum[r])
                    if f < target:
                        a = s
                    else:
                        b = s
                out[c, g, j] = 0.5 * (a + b)


def shifted_quantile(counts: np.ndarray, shifts: np.ndarray, member: np.ndarray,
                     edges: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Quantiles of (value − shift_r) pooled over the rows of each group, for every cell.

    Parameters
    ----------
    counts : array (..., r, n)
        Histogram of the value per row (e.g. per radius bin), along bins with ``edges``; any
        leading dims are cells (groups of stars fitted separately).
    shifts : array (..., r)
        Amount subtracted from the value of every star of a row (the trend at that row).
    member : array (r, b)
        1 where row r belongs to group b (e.g. a radius bin to an analysis bin), else 0
        (leading size-1 dims, as ``xr.apply_ufunc`` broadcasts, are accepted).
    edges : array (n + 1,)
        Bin edges of the value.
    q : array (m,)
        Quantiles in [0, 1].

    Returns
    -------
    array (..., b, m)
        NaN for a group without stars, or with stars in a row whose shift is not finite. The
        pooled cumulative count is piecewise linear; its quantile is found by bisection to
        machine precision (64 halvings).
    """
    counts = np.asarray(counts, dtype=np.float64)
    shifts = np.asarray(shifts, dtype=np.float64)
    nr, nv = counts.shape[-2:]
    lead = np.broadcast_shapes(counts.shape[:-2], shifts.shape[:-1])
    counts = np.broadcast_to(counts, (*lead, nr, nv))
    shifts = np.broadcast_to(shifts, (*lead, nr))
    member = np.asarray(member, dtype=np.float64)
    member = member.reshape(member.shape[-2:])
    q = np.ascontiguousarray(np.atleast_1d(np.asarray(q, dtype=np.float64)))
    out = np.empty((int(np.prod(lead)), member.shape[1], q.size))
    _shifted_quantile(np.ascontiguousarray(counts.reshape(-1, nr, nv)),
                      np.ascontiguousarray(shifts.reshape(-1, nr)), np.ascontiguousarray(member),
                      np.ascontiguousarray(np.asarray(edges, dtype=np.float64)), q, out)
    return out.reshape(*lead, member.shape[1], q.size)


def fill_gaps(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """NaNs of ``y`` (along ``x``) filled by linear interpolation between finite neighbours,
    held constant beyond the first and last finite points (no extrapolation)."""
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(y)
    if ok.all() or not ok.any():
        return y
    return np.interp(x, x[ok], y[ok])
