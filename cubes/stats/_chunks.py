"""One rule for the core dims of ``xr.apply_ufunc(..., dask="parallelized")``.

A gufunc sees each of its core dims whole, so a dask-backed input split along one (a cube
opened with ``open_cube(..., chunks=...)`` that cuts R, [Fe/H], z …) must be one chunk along
it. :func:`core_whole` rechunks exactly those dims of dask-backed data: the other dims keep
their chunks (parallelism and memory stay per chunk), in-memory inputs and coordinates are left
alone.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

import xarray as xr


def core_whole(obj: xr.DataArray | xr.Dataset, dims: Hashable | Iterable[Hashable]):
    """``obj`` with its dask data in one chunk along each of ``dims`` present (else as is).

    Only the data is rechunked: ``DataArray.chunk`` would also turn the (small, in-memory)
    coordinates into dask arrays chunked differently from the data.
    """
    dims = [dims] if isinstance(dims, str) else list(dims)
    if isinstance(obj, xr.Dataset):
        return obj.map(core_whole, dims=dims, keep_attrs=True)
    if obj.chunks is None:
        return obj
    axes = {obj.get_axis_num(d): -1 for d in dims
            if d in obj.dims and len(obj.chunksizes[d]) > 1}
    return obj.copy(data=obj.data.rechunk(axes)) if axes else obj
