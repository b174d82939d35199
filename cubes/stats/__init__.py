"""Statistics as pure functions of moment cubes (no I/O; replicates carried along)."""

from .hemispheres import fold, north_south
from .moments import count, density, dispersion, mean, std, var
from .quantiles import quantile

__all__ = ["count", "density", "dispersion", "fold", "mean", "north_south", "quantile", "std",
           "var"]
