"""Quantiles of binned distributions (numpy; knows nothing of xarray)."""

from __future__ import annotations

import numpy as np


def binned_quantile(counts: np.ndarray, edges: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Quantiles along the last axis of histogram ``counts`` with bin ``edges``.

    The distribution is taken as uniform inside each bin (linear interpolation of the
    cumulative counts), so a quantile is exact to within one bin width.

    Parameters
    ----------
    counts : array (..., n)
        Non-negative counts (or weights) per bin.
    edges : array (n + 1,)
        Bin edges along the last axis.
    q : array (m,)
        Quantiles in [0, 1].

    Returns
    -------
    array (..., m)
        NaN where a row has no counts.
    """
    counts = np.asarray(counts, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    cum = np.cumsum(counts, axis=-1)
    total = cum[..., -1:]
    target = q * total  # (..., m)
    # first bin whose cumulative count reaches the target (q = 0: the first non-empty bin)
    reach = np.maximum(target, np.finfo(np.float64).tiny)
    idx = np.sum(cum[..., None, :] < reach[..., :, None], axis=-1)
    idx = np.clip(idx, 0, counts.shape[-1] - 1)
    before = np.take_along_axis(np.concatenate([np.zeros_like(total), cum], axis=-1), idx, -1)
    inbin = np.take_along_axis(counts, idx, -1)
    frac = np.where(inbin > 0, (target - before) / np.where(inbin > 0, inbin, 1.0), 0.0)
    out = edges[idx] + np.clip(frac, 0.0, 1.0) * (edges[idx + 1] - edges[idx])
    return np.where(total > 0, out, np.nan)
