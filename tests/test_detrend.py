"""The shifted-mixture quantile kernel against a direct numpy construction (union grid)."""

from __future__ import annotations

import numpy as np

from cubes.kernels.detrend import shifted_quantile
from cubes.kernels.quantile import binned_quantile


def _reference(counts, shifts, member, edges, q):
    """One cell: the pooled cumulative count on the union of shifted edges, then
    binned_quantile of its increments (exact for a piecewise-linear CDF)."""
    used = counts.sum(-1) > 0
    grid = np.unique((edges[None, :] - shifts[used, None]).ravel())
    cum = np.concatenate([np.zeros((counts.shape[0], 1)), np.cumsum(counts, -1)], -1)
    F = np.stack([np.interp(grid + shifts[i], edges, cum[i]) for i in np.flatnonzero(used)])
    C = member[used].T @ F
    return binned_quantile(np.diff(C, axis=-1), grid, q)


def test_batched_kernel_equals_the_union_grid_construction_in_every_cell():
    rng = np.random.default_rng(4)
    edges = np.linspace(-1.0, 0.6, 161)
    counts = rng.poisson(rng.uniform(0, 6, (3, 5, 12, 160)))  # 15 cells × 12 rows
    counts[0, 0, :4] = 0  # empty rows
    shifts = rng.normal(0, 0.1, (3, 5, 12))
    member = np.zeros((12, 3))
    member[:4, 0] = member[4:9, 1] = member[9:, 2] = 1
    q = np.array([0.16, 0.5, 0.84, 1.0])
    got = shifted_quantile(counts, shifts, member, edges, q)
    assert got.shape == (3, 5, 3, 4)
    for i in range(3):
        for j in range(5):
            ref = _reference(counts[i, j].astype(float), shifts[i, j], member, edges, q)
            np.testing.assert_allclose(got[i, j], ref, rtol=0, atol=1e-12)
    # q = 0: where the pooled distribution starts, the first non-empty bin's shifted left edge
    # (the union-grid reference can land one grid point early there, by rounding)
    low = shifted_quantile(counts, shifts, member, edges, np.array([0.0]))[..., 0]
    first = np.argmax(counts > 0, axis=-1)
    start = np.where(counts.sum(-1) > 0, edges[first] - shifts, np.inf)
    for g, rows in enumerate((slice(0, 4), slice(4, 9), slice(9, 12))):
        expect = start[..., rows].min(-1)
        np.testing.assert_allclose(low[..., g], np.where(np.isfinite(expect), expect, np.nan),
                                   atol=1e-12)


def test_empty_groups_and_non_finite_shifts_give_nan():
    edges = np.linspace(0, 1, 11)
    counts = np.ones((1, 2, 10))
    counts[0, 1] = 0
    member = np.eye(2)
    out = shifted_quantile(counts, np.array([[0.0, 0.0]]), member, edges, np.array([0.5]))
    assert np.isfinite(out[0, 0, 0]) and np.isnan(out[0, 1, 0])
    out = shifted_quantile(counts, np.array([[np.nan, 0.0]]), member, edges, np.array([0.5]))
    assert np.isnan(out[0, 0, 0])
