"""cubes: stellar catalogs binned into labelled N-D moment cubes (xarray + Zarr + Dask).

See ../DESIGN.md for the architecture; the names imported here are the public contract.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("galcubes")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"
