"""Exact reductions of cubes: marginalise dims and coarsen bins by adding sums."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping

import numpy as np
import xarray as xr

from . import conventions as cv
from .stats.quantiles import axis_edges


def _check_dims(cube: xr.Dataset, dims: Iterable[Hashable], what: str) -> list[Hashable]:
    dims = list(dims)
    missing = [d for d in dims if d not in cube.dims]
    if missing:
        raise ValueError(f"{what}: cannot reduce over absent dims {missing!r}; the cube has "
                         f"{list(cube.dims)!r}")
    if cv.REPLICATE_DIM in dims:
        raise ValueError(f"{what}: the 'replicate' dim holds jackknife groups; it is summed "
                         "by the statistics themselves")
    return dims


def marginalize(cube: xr.Dataset, dims: Hashable | Iterable[Hashable]) -> xr.Dataset:
    """Sum a cube over ``dims``: the cube of the same stars without those axes (exact)."""
    dims = [dims] if isinstance(dims, str) else list(dims)
    dims = _check_dims(cube, dims, "sum")
    out = cube.sum(dims, keep_attrs=True)
    drop = [n for n, v in out.coords.items() if any(d in v.dims for d in dims)]
    out = out.drop_vars(drop)
    for n in out.data_vars:
        out[n].attrs = cube[n].attrs
    out.attrs["summed_over"] = [*cube.attrs.get("summed_over", []), *map(str, dims)]
    return out


def coarsen(cube: xr.Dataset, factors: Mapping[Hashable, int]) -> xr.Dataset:
    """Merge every ``factor`` adjacent bins of edges axes (the bin count must divide exactly)."""
    dims = _check_dims(cube, factors, "coarsen")
    new_coords = {}
    for d in dims:
        k = int(factors[d])
        n = cube.sizes[d]
        if k < 1 or n % k:
            raise ValueError(f"coarsen: factor {k!r} for dim {d!r} must divide its {n} bins")
        bounds = axis_edges(cube, str(d))[::k]  # the binning edges (CF bounds)
        # nominal edges from the nominal centres and widths, so merged bins keep nominal labels
        c = np.asarray(cube[d].values, dtype=np.float64)
        w = np.asarray(cube[cv.width_name(str(d))].values, dtype=np.float64)
        nominal = np.concatenate([c - w / 2, c[-1:] + w[-1:] / 2])[::k]
        new_coords[d] = (bounds, nominal)
    drop = [n for n, v in cube.coords.items() if any(d in v.dims for d in dims)]
    out = cube.drop_vars(drop).coarsen({d: int(factors[d]) for d in dims}).sum(keep_attrs=True)
    for d, (e, nominal) in new_coords.items():
        centre_attrs = {**cube[d].attrs, "edges": nominal.tolist()}
        out = out.assign_coords({
            d: (d, 0.5 * (nominal[1:] + nominal[:-1]), centre_attrs),
            cv.bounds_name(str(d)): ((d, cv.BOUNDS_DIM), np.stack([e[:-1], e[1:]], axis=1),
                                     cube[cv.bounds_name(str(d))].attrs),
            cv.width_name(str(d)): (d, np.diff(nominal), cube[cv.width_name(str(d))].attrs),
        })
    for n in out.data_vars:
        out[n].attrs = cube[n].attrs
    out.attrs = dict(cube.attrs)
    return out
