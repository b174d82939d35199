"""cubes: stellar catalogs binned into labelled N-D moment cubes (xarray + Zarr + Dask).

See DESIGN.md for the architecture; the names imported here are the public contract::

    stars = cubes.open_catalog(path_or_url, survey="gaia_dr3")
    stars = cubes.select(stars, "parallax_over_error > 5")
    cube = cubes.bin_catalog(stars, axes={"R": edges, "z": cubes.axes.symmetric(2, 0.1)},
                             values=["vz"], replicates=16)
    cubes.write_cube(cube, "cube.zarr"); cube = cubes.open_cube("cube.zarr")
    cube.cube.estimate(cube.cube.north_south(cube.cube.dispersion("vz")))
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("galcubes")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

from . import accessor as _accessor  # noqa: F401,E402  (registers ds.cube)
from . import axes, jackknife, stats  # noqa: E402
from .binning import bin_catalog  # noqa: E402
from .frames import Frame, galactocentric  # noqa: E402
from .jackknife import estimate  # noqa: E402

# I/O entry points import heavy readers (pyarrow, astropy, zarr, fsspec) on first use.
_LAZY = {"open_catalog": "io", "select": "catalog", "open_cube": "store",
         "write_cube": "store"}


_LAZY_MODULES = ("mock", "plot", "reduce", "io", "catalog", "store", "schemas", "dynamics",
                 "vertical", "readers", "spiral", "spiral_arms", "clipping", "resampling")


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'cubes' has no attribute {name!r}")

__all__ = ["Frame", "axes", "bin_catalog", "estimate", "galactocentric", "jackknife", "mock",
           "open_catalog", "open_cube", "select", "stats", "write_cube"]
