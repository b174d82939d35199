"""Quantiles (medians) along a finely binned value dim of a cube (e.g. [Fe/H])."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from .. import conventions as cv
from ..jackknife import samples
from ..kernels.quantile import binned_quantile
from ._chunks import core_whole
from .moments import _weight


def axis_edges(cube: xr.Dataset, dim: str) -> np.ndarray:
    """Edges of an edges-type axis, from its CF bounds variable."""
    name = cv.bounds_name(dim)
    if dim not in cube.dims:
        raise KeyError(f"the cube has no dim {dim!r}; its dims are {list(cube.dims)!r}")
    if name not in cube.variables:
        raise ValueError(f"dim {dim!r} has no bounds variable {name!r}: it is not a binned "
                         "(edges) axis")
    b = np.asarray(cube[name].values)
    return np.concatenate([b[:, 0], b[-1:, 1]])


def quantile(cube: xr.Dataset, dim: str, q: float | Sequence[float]) -> xr.DataArray:
    """Quantile(s) ``q`` of the distribution binned along ``dim``, per every other bin.

    Medians of a value need the value as a finely binned axis (here ``dim``), not as a moment:
    the quantile is read off the cumulative counts, linear inside a bin (exact to one bin
    width). Works per jackknife sample.
    """
    edges = axis_edges(cube, dim)
    scalar = np.ndim(q) == 0
    qs = np.atleast_1d(np.asarray(q, dtype=np.float64))
    if np.any((qs < 0) | (qs > 1)):
        raise ValueError(f"quantiles must be in [0, 1], got {q!r}")
    w = core_whole(_weight(samples(cube)).astype(np.float64), dim)
    out = xr.apply_ufunc(
        binned_quantile, w, kwargs={"edges": edges, "q": qs},
        input_core_dims=[[dim]], output_core_dims=[["quantile"]],
        dask="parallelized", output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"quantile": qs.size}},
    ).assign_coords(quantile=qs)
    units = cube[dim].attrs.get("units")
    out = out.rename(f"quantile_{dim}").assign_attrs(
        long_name=f"quantile of {dim}", **({"units": units} if units else {}))
    return out.isel(quantile=0, drop=False) if scalar else out
