"""The ``.cube`` accessor on moment cubes: notebook access to the library's functions.

It holds no logic: each method delegates to a public function of :mod:`cubes.stats`,
:mod:`cubes.jackknife` or :mod:`cubes.reduce`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence

import xarray as xr

from . import jackknife, reduce, resampling, stats
from .stats import asymmetry, contrast, gradients, maps


@xr.register_dataset_accessor("cube")
class CubeAccessor:
    """``ds.cube.mean("vz")``, ``ds.cube.dispersion("vz")``, ``ds.cube.estimate(stat)`` …"""

    def __init__(self, obj: xr.Dataset):
        self._obj = obj

    def samples(self) -> xr.Dataset:
        """Full-sample and leave-one-group-out sums (:func:`cubes.jackknife.samples`)."""
        return jackknife.samples(self._obj)

    def count(self) -> xr.DataArray:
        """Stars per bin (:func:`cubes.stats.count`)."""
        return stats.count(self._obj)

    def mean(self, value: str) -> xr.DataArray:
        """Mean of ``value`` per bin (:func:`cubes.stats.mean`)."""
        return stats.mean(self._obj, value)

    def var(self, value: str, *, ddof: int = 0) -> xr.DataArray:
        """Variance of ``value`` per bin (:func:`cubes.stats.var`)."""
        return stats.var(self._obj, value, ddof=ddof)

    def std(self, value: str, *, ddof: int = 0) -> xr.DataArray:
        """Standard deviation of ``value`` per bin (:func:`cubes.stats.std`)."""
        return stats.std(self._obj, value, ddof=ddof)

    def dispersion(self, value: str, *, deconvolve: bool | None = None,
                   ddof: int = 1) -> xr.DataArray:
        """Error-deconvolved dispersion (:func:`cubes.stats.dispersion`)."""
        return stats.dispersion(self._obj, value, deconvolve=deconvolve, ddof=ddof)

    def density(self) -> xr.DataArray:
        """Stars per unit bin volume (:func:`cubes.stats.density`)."""
        return stats.density(self._obj)

    def quantile(self, dim: str, q: float | Sequence[float]) -> xr.DataArray:
        """Quantiles along a binned value dim (:func:`cubes.stats.quantile`)."""
        return stats.quantile(self._obj, dim, q)

    def sum(self, dims: Hashable | Iterable[Hashable]) -> xr.Dataset:
        """The cube summed over ``dims`` (:func:`cubes.reduce.marginalize`)."""
        return reduce.marginalize(self._obj, dims)

    def coarsen(self, factors: Mapping[Hashable, int]) -> xr.Dataset:
        """Adjacent bins merged (:func:`cubes.reduce.coarsen`)."""
        return reduce.coarsen(self._obj, factors)

    def fold(self, dim: str = "z") -> xr.Dataset:
        """The cube on ``abs_<dim>`` with a ``hemisphere`` dim (:func:`cubes.stats.fold`)."""
        return stats.fold(self._obj, dim)

    def north_south(self, stat: xr.DataArray | xr.Dataset, dim: str = "z"):
        """North − South of a statistic (:func:`cubes.stats.north_south`)."""
        return stats.north_south(stat, dim)

    def asymmetry(self, stat: xr.DataArray, *, dim: str = "z", mode: str = "linear"):
        """Asymmetry index (N − S)/(N + S) of a statistic with a ``dim`` axis
        (:func:`cubes.stats.asymmetry.asymmetry`, Wang et al. 2025 Eq. 1)."""
        return asymmetry.asymmetry(stat, dim=dim, mode=mode)

    def median_north_south(self, value: str = "feh", **kwargs) -> xr.DataArray:
        """North − South of the median of a binned value dim
        (:func:`cubes.stats.asymmetry.median_north_south`, Lin et al. 2023 §4.5)."""
        return asymmetry.median_north_south(self._obj, value, **kwargs)

    def density_north_south(self, **kwargs) -> xr.DataArray:
        """North − South star counts in a |v_z| strip
        (:func:`cubes.stats.asymmetry.density_north_south`)."""
        return asymmetry.density_north_south(self._obj, **kwargs)

    def density_contrast(self, dims: tuple[str, str] = ("z", "vz"), **kwargs) -> xr.DataArray:
        """δρ = n / n_smooth − 1 in a phase-space plane
        (:func:`cubes.stats.contrast.density_contrast`, Lin et al. 2023 §4.3)."""
        return contrast.density_contrast(self._obj, dims, **kwargs)

    def subsamples(self, n: int = 50, fraction: float = 0.6, seed: int = 0) -> xr.Dataset:
        """Sums of ``n`` random subsets of the jackknife groups on a ``subsample`` dim
        (:func:`cubes.resampling.subsamples`, Lin et al. 2023 Table 1)."""
        return resampling.subsamples(self._obj, n, fraction, seed)

    def gradient(self, value: str, dim: str, *, method: str = "lsq", **kwargs) -> xr.Dataset:
        """Slope and intercept of ``value`` along ``dim`` per every other dim
        (:func:`cubes.stats.gradients.gradient`: "lsq", "wls", "mcmc", "mle", "median")."""
        return gradients.gradient(self._obj, value, dim, method=method, **kwargs)

    def offset_map(self, value: str = "feh", **kwargs) -> xr.Dataset:
        """Map of ``value`` minus each radial bin's mean (:func:`cubes.stats.maps.offset_map`,
        Wang et al. 2025 §3)."""
        return maps.offset_map(self._obj, value, **kwargs)

    def residual_map(self, fit, **kwargs) -> xr.Dataset:
        """Map of ``value`` minus a fitted radial model (:func:`cubes.stats.maps.residual_map`,
        Hawkins 2023 §4.5)."""
        return maps.residual_map(self._obj, fit, **kwargs)

    def azimuthal_profile(self, value: str = "feh", **kwargs) -> xr.Dataset:
        """Annulus-relative profile of ``value`` along azimuth
        (:func:`cubes.stats.maps.azimuthal_profile`, Hawkins 2023 §4.6)."""
        return maps.azimuthal_profile(self._obj, value, **kwargs)

    def estimate(self, stat: xr.DataArray | xr.Dataset) -> xr.Dataset:
        """Value and jackknife error of a statistic (:func:`cubes.jackknife.estimate`)."""
        return jackknife.estimate(stat)
