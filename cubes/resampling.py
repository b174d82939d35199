"""Random subsamples of a catalog as exact sums of its cube's jackknife groups.

Lin et al. 2023 (§3.3, Table 1; spec 000 §4.6) recompute their profiles on 50 random
subsamples of 60 % of the stars and quote the 16/50/84 percentiles of each statistic (and 50 ×
70 % for the spiral shape, §4.7). A cube stores the sums of each of its K jackknife groups
(a star's group is a hash of its id, so the groups are random subsets of the stars), so the
sums of a random set of m = round(fraction · K) groups *are* the cube of a random subsample of
about m/K of the stars — one addition, no pass over the catalog. :func:`subsamples` returns
those cubes along a ``subsample`` dim (and no ``replicate`` dim), on which every statistic
works unchanged; :func:`percentiles` summarises any statistic over it.

**Granularity.** The subsample is drawn in units of jackknife groups, not stars:

- the fraction is m/K, not ``fraction`` (K = 16, 60 % → 10 groups = 62.5 %); the value used
  is in ``attrs["subsamples"]["effective_fraction"]``;
- there are only C(K, m) distinct subsamples, and two of them share a whole number of groups,
  so the spread over subsamples approaches that of per-star subsampling only for K ≳ 10
  (K = 16: C(16, 10) = 8008; K = 8: C(8, 5) = 56). K < 10 gives a warning, and asking for
  more subsamples than there are distinct ones is an error;
- the spread over the subsamples is made of K group values, so, like the jackknife error, it
  is itself uncertain by about 1/√(2(K − 1)) (16 % for K = 20, 18 % for K = 16) relative to
  the spread over per-star subsamples — the test measures a ratio 0.99 ± 0.15 over 32 bins.

Each single subsample is distributed as a random subsample of the stars of its size (the
groups are exchangeable random subsets); tests/test_correlation.py checks the spread of a
statistic over group subsamples against per-star subsampling of the catalog. The same
``(n, fraction, seed)`` picks the same groups in every cube of the same catalog and K, so
statistics from different cubes (a (z, v_z) cube and a (z, [Fe/H]) cube) pair up subsample by
subsample.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import xarray as xr

from . import conventions as cv
from .jackknife import is_samples
from .stats._chunks import core_whole

SUBSAMPLE_DIM = "subsample"


def subsamples(cube: xr.Dataset, n: int = 50, fraction: float = 0.6, seed: int = 0
               ) -> xr.Dataset:
    """``n`` cubes of random subsamples of round(fraction·K) of the cube's K star groups.

    Parameters
    ----------
    cube : xr.Dataset
        A moment cube with a ``replicate`` dim of K ≥ 2 groups (its per-group sums, not the
        jackknife samples of :func:`cubes.jackknife.samples`).
    n : int
        Number of subsamples (Lin et al. 2023: 50); all distinct.
    fraction : float
        Fraction of the groups in each (Lin et al.: 0.6 for Table 1, 0.7 for the spiral shape).
    seed : int
        Seed of ``numpy.random.default_rng``: the same seed gives the same subsamples.

    Returns
    -------
    xr.Dataset
        The cube with ``replicate`` replaced by ``subsample`` (0 … n−1): each variable that had
        a replicate dim is the sum over the chosen groups (lazy stays lazy). Coordinate
        ``subsample_groups`` (subsample, member) lists them; ``attrs["subsamples"]`` records
        n, fraction, groups, K, effective_fraction and seed.
    """
    if cv.REPLICATE_DIM not in cube.dims:
        raise ValueError("subsamples() needs a cube with jackknife groups (a 'replicate' "
                         "dim): build it with replicates=K (K >= 10 for 60 % subsamples)")
    if is_samples(cube):
        raise ValueError("subsamples() needs the cube's per-group sums, not its jackknife "
                         "samples (cubes.jackknife.samples); pass the cube itself")
    k = cube.sizes[cv.REPLICATE_DIM]
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    m = round(fraction * k)
    if not 1 <= m < k:
        raise ValueError(f"fraction {fraction} of K = {k} groups is {m} groups: a subsample "
                         "needs at least 1 and fewer than K groups; build the cube with more "
                         "replicates")
    distinct = math.comb(k, m)
    if n < 1 or n > distinct:
        raise ValueError(f"asked for {n} subsamples of {m} of K = {k} groups, but there are "
                         f"{distinct} distinct ones; build the cube with more replicates")
    if k < 10:
        warnings.warn(f"subsamples of a cube with only K = {k} jackknife groups: the "
                      f"resampling unit is a group ({100 / k:.0f} % of the stars), so the "
                      "spread over subsamples is coarse; use K >= 10", stacklevel=2)
    rng = np.random.default_rng(seed)
    chosen: list[tuple[int, ...]] = []
    seen: set[tuple[int, ...]] = set()
    while len(chosen) < n:  # draws of group sets (a handful of rejections at most)
        g = tuple(sorted(int(i) for i in rng.choice(k, size=m, replace=False)))
        if g not in seen:
            seen.add(g)
            chosen.append(g)
    groups = np.asarray(chosen, dtype=np.int64)
    sel = np.zeros((n, k), dtype=np.int64)
    np.put_along_axis(sel, groups, 1, axis=1)
    rep = cube[cv.REPLICATE_DIM].values
    weights = xr.DataArray(sel, dims=(SUBSAMPLE_DIM, cv.REPLICATE_DIM),
                           coords={cv.REPLICATE_DIM: rep, SUBSAMPLE_DIM: np.arange(n)})
    res = cube.drop_dims(cv.REPLICATE_DIM)  # keeps the axes' coordinates and bounds
    for name, v in cube.data_vars.items():
        if cv.REPLICATE_DIM in v.dims:
            w = weights if np.issubdtype(v.dtype, np.integer) else weights.astype(v.dtype)
            s = xr.dot(v, w, dim=cv.REPLICATE_DIM)
            res[name] = s.transpose(SUBSAMPLE_DIM, *[d for d in v.dims
                                                     if d != cv.REPLICATE_DIM]).assign_attrs(
                v.attrs)
    res = res.assign_coords({
        SUBSAMPLE_DIM: (SUBSAMPLE_DIM, np.arange(n), {"long_name": "random subsample"}),
        "subsample_groups": ((SUBSAMPLE_DIM, "member"), groups,
                             {"long_name": "jackknife groups summed in each subsample"}),
    })
    res.attrs["subsamples"] = {"n": n, "fraction": fraction, "groups": m, "K": k,
                               "effective_fraction": m / k, "seed": seed}
    return res


def percentiles(stat: xr.DataArray | xr.Dataset, q: Sequence[float] = (16, 50, 84),
                dim: str = SUBSAMPLE_DIM) -> xr.DataArray | xr.Dataset:
    """Percentiles ``q`` (in %) of a statistic over ``dim`` (default: the subsamples).

    Lin et al. 2023 Table 1 quote the 50th as the value and the 16th/84th as its error bar.
    Linear interpolation between order statistics (numpy's default). A NaN in any subsample
    gives NaN (it is not skipped). Returns the statistic with a ``percentile`` dim.
    """
    if dim not in stat.dims:
        raise ValueError(f"percentiles: the statistic has no {dim!r} dim (dims: "
                         f"{list(stat.dims)!r}); compute it on cubes.resampling.subsamples(...)")
    qs = np.asarray(q, dtype=np.float64)
    if np.any((qs < 0) | (qs > 100)):
        raise ValueError(f"percentiles must be in [0, 100], got {q!r}")
    stat = core_whole(stat, dim)
    out = stat.quantile(qs / 100.0, dim=dim, skipna=False, keep_attrs=True)
    out = out.rename({"quantile": "percentile"}).assign_coords(percentile=qs)
    out["percentile"].attrs = {"long_name": f"percentile over {dim}", "units": "%"}
    return out
