"""Phase-space (z–v_z) kernels: Gaussian smoothing, sector peaks, local maxima (numpy/scipy).

They know nothing of xarray: the two phase-space dims are the last two axes of ``counts`` (or
one flattened last axis), every leading axis is an independent map (R bin, [Fe/H] bin,
jackknife sample …), and nothing loops over cells in Python.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def smooth(counts: np.ndarray, sigma: tuple[float, float], mode: str, truncate: float,
           cval: float = 0.0) -> np.ndarray:
    """Gaussian filter over the last two axes only (``scipy.ndimage.gaussian_filter``).

    ``sigma`` is in cells; ``mode`` is scipy's boundary mode ('reflect' is scipy's default).
    """
    a = np.asarray(counts, dtype=np.float64)
    return ndimage.gaussian_filter(a, sigma=sigma, mode=mode, truncate=truncate, cval=cval,
                                   axes=(-2, -1))


def sector_peaks(values: np.ndarray, labels: np.ndarray, nsector: int,
                 nr: int) -> tuple[np.ndarray, np.ndarray]:
    """Per angular sector, the radial bin of maximum mean value.

    Parameters
    ----------
    values : array (..., ncell)
        One map per leading index, its cells flattened; NaN cells are skipped.
    labels : int array (ncell,)
        Polar cell of each map cell, ``sector * nr + rbin``; −1 for cells left out.
    nsector, nr : int
        Number of sectors and of radial bins per sector.

    Returns
    -------
    rbin : float array (..., nsector)
        Index of the radial bin with the largest mean (the first on a tie); NaN where a
        sector has no finite cell.
    peak : float array (..., nsector)
        That largest mean.
    """
    v = np.asarray(values, dtype=np.float64)
    lead = v.shape[:-1]
    v = v.reshape(-1, v.shape[-1])
    rows = v.shape[0]
    nlab = nsector * nr
    use = (labels >= 0)[None, :] & np.isfinite(v)
    flat = (np.arange(rows)[:, None] * nlab + labels[None, :])[use]
    sums = np.bincount(flat, weights=v[use], minlength=rows * nlab)
    cnts = np.bincount(flat, minlength=rows * nlab)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (sums / cnts).reshape(rows, nsector, nr)
    filled = np.where(np.isfinite(means), means, -np.inf)
    idx = np.argmax(filled, axis=-1)
    peak = np.take_along_axis(filled, idx[..., None], -1)[..., 0]
    empty = ~np.isfinite(peak)
    rbin = np.where(empty, np.nan, idx.astype(np.float64))
    peak = np.where(empty, np.nan, peak)
    return rbin.reshape(*lead, nsector), peak.reshape(*lead, nsector)


def local_maxima(profile: np.ndarray, coord: np.ndarray, n: int, min_value: float,
                 refine: bool, min_abs_coord: float = 0.0) -> np.ndarray:
    """Positions of the local maxima of profiles along the last axis, by hemisphere.

    A maximum is a finite value above ``min_value``, greater than its lower neighbour and not
    smaller than its upper one (a flat top counts once); the end cells have only one neighbour
    and are never maxima. ``refine`` places it at the vertex of the parabola through the cell
    and its two neighbours (uniform ``coord`` spacing assumed), else at the cell centre.
    Cells with |coord| < ``min_abs_coord`` are not candidates (their values still serve as
    neighbours).

    Returns
    -------
    array (..., 2, n)
        [..., 0, :] the maxima at coord > 0 in increasing coord, [..., 1, :] those at coord < 0
        in decreasing coord (nearest the plane first); NaN where there are fewer than n.
    """
    y = np.asarray(profile, dtype=np.float64)
    c = np.asarray(coord, dtype=np.float64)
    left, mid, right = y[..., :-2], y[..., 1:-1], y[..., 2:]
    with np.errstate(invalid="ignore"):
        peak = (mid > left) & (mid >= right) & (mid > min_value)
    peak &= np.isfinite(left) & np.isfinite(mid) & np.isfinite(right)
    pos = np.broadcast_to(c[1:-1], mid.shape).astype(np.float64)
    if refine and c.size > 2:
        step = c[1] - c[0]
        curv = left - 2.0 * mid + right
        with np.errstate(invalid="ignore", divide="ignore"):
            shift = np.where(curv < 0, 0.5 * (left - right) / curv, 0.0)
        pos = pos + np.clip(shift, -0.5, 0.5) * step
    centre = c[1:-1]
    out = np.full((*y.shape[:-1], 2, n), np.nan)
    far = np.abs(centre) >= min_abs_coord
    for h, side in enumerate((far & (centre > 0), far & (centre < 0))):  # hemispheres
        key = np.where(peak & side, np.abs(centre), np.inf)
        order = np.argsort(key, axis=-1, kind="stable")[..., :n]
        k = np.take_along_axis(key, order, -1)
        p = np.take_along_axis(pos, order, -1)
        out[..., h, : order.shape[-1]] = np.where(np.isfinite(k), p, np.nan)
    return out
