"""Statistics as pure functions of moment cubes (no I/O; replicates carried along).

Per-bin moments (:mod:`.moments`), quantiles (:mod:`.quantiles`), hemispheres and folds
(:mod:`.hemispheres`), North–South asymmetries (:mod:`.asymmetry`), phase-space density
contrast and spiral shape (:mod:`.contrast`), correlations (:mod:`.correlation`), gradients and
line fits (:mod:`.gradients`, :mod:`.linefit`), metallicity maps (:mod:`.maps`).
"""

from .hemispheres import fold, north_south
from .moments import count, density, dispersion, mean, std, var
from .quantiles import quantile

# imported on first use: they build on cubes.reduce, which itself uses .quantiles
_SUBMODULES = ("asymmetry", "contrast", "correlation", "gradients", "linefit", "maps")


def __getattr__(name: str):
    import importlib

    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'cubes.stats' has no attribute {name!r}")


__all__ = ["asymmetry", "contrast", "correlation", "count", "density", "dispersion", "fold",
           "gradients", "linefit", "maps", "mean", "north_south", "quantile", "std", "var"]
