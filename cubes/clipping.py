"""Per-bin σ-clipping of a catalog: keep the stars near their own bin's mean.

Widmark et al. 2025 (spec 004 §3.1) select the "bulk disk" of each spatial hexagon in two steps
on L_z (nearby cells) or v_l (distant cells): drop stars more than 5σ from the cell's mean,
recompute mean and σ, keep stars within 1σ. :func:`clip_per_bin` does any such sequence for
every bin at once: each step is a moment cube of the column over the bins (one pass), and the
per-bin mean and σ are carried back to the stars with :func:`cubes.binning.locate` /
:func:`~cubes.binning.lookup`. The result is a selection (the ``selected`` mask, recorded in
``attrs["selections"]``): no star is dropped, and deselected stars are counted by the engine.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import xarray as xr

from .axes import Axis
from .binning import bin_catalog, locate, lookup
from .catalog import restrict


def clip_per_bin(stars: xr.Dataset, column: str,
                 axes: Mapping[Hashable, Axis | Sequence[float] | np.ndarray], *,
                 nsigma: Sequence[float] = (5.0, 1.0), ddof: int = 0) -> xr.Dataset:
    """Keep stars within ``nsigma[i]`` σ of their bin's mean of ``column``, step after step.

    Parameters
    ----------
    stars : xr.Dataset
        Catalog (dim ``star``); an existing ``selected`` mask is respected and narrowed.
    column : str
        The clipped column (e.g. ``"Lz"`` in kpc km/s, or ``"v_l"`` in km/s).
    axes : mapping
        The bins (as for :func:`cubes.bin_catalog`), e.g. ``{"cell": hexagonal(...)}``.
    nsigma : sequence of float
        One clip per entry, each using the mean and σ of the stars kept by the previous ones
        (Widmark+2025: (5, 1)). Bounds are inclusive: |v − mean| ≤ nσ is kept.
    ddof : int
        Delta degrees of freedom of σ (0: the population σ, numpy's default).

    Returns
    -------
    The catalog with ``selected`` updated lazily; stars outside the axes or with a non-finite
    ``column`` are deselected too. ``attrs["selections"]`` gains one entry describing the clip.
    """
    if column not in stars.variables:
        raise KeyError(f"clip_per_bin: the catalog has no column {column!r}")
    if not nsigma or any(not s > 0 for s in nsigma):
        raise ValueError(f"nsigma must be positive numbers, got {nsigma!r}")
    index = locate(stars, axes)
    value = stars[column]
    clip = None  # the stars every step so far kept (the catalog's own selection aside)
    for n in nsigma:
        step = restrict(stars, clip)
        cube = bin_catalog(step, axes, [column], replicates=0, progress=False)
        mean = lookup(cube.cube.mean(column), index)
        sigma = lookup(cube.cube.std(column, ddof=ddof), index)
        inside = (np.abs(value - mean) <= n * sigma).fillna(False)
        clip = inside if clip is None else clip & inside
    rule = (f"clip_per_bin({column!r}, axes={list(map(str, axes))}, nsigma={list(nsigma)}): "
            f"|{column} - bin mean| <= n sigma, step by step")
    return restrict(stars, clip, [rule])
