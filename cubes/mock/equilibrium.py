"""The equilibrium disk behind :func:`cubes.mock.disk`, and its truth in closed (numerical) form.

A sum of populations k, each vertically isothermal in the vertical potential of Widmark et al.
2025 (spec 004 §5.2), Φ(R, z) = A(R) Φ⊙(z), with the amplitude falling off exponentially,
A(R) = A₀ exp(−(R − R0)/h_A). Population k has the vertical dispersion

    σ_k(R) = σ_k,0 exp(−(R − R0) / (2 h_A)),

so that A(R)/σ_k(R)² does not depend on R: every population is isothermal at every radius
(ρ_k ∝ exp(−Φ/σ_k²), the exact 1-D equilibrium, Spitzer 1942) with a vertical profile
n_k(z) ∝ exp(−A₀ Φ⊙(z)/σ_k,0²) that is the same at all R (a constant-scale-height disk, as
observed), while σ_vz ∝ exp(−(R − R0)/(2 h_A)). Hence, with f_k the population fractions:

    σ_vz²(R, z)   = e^{−(R−R0)/h_A} Σ_k f_k n_k(z) σ_k,0² / Σ_k f_k n_k(z)
    ⟨[Fe/H]⟩(R, z) = g_R (R − R0) + Σ_k f_k n_k(z) [Fe/H]_k / Σ_k f_k n_k(z)

(radial gradient g_R at every height; the vertical gradient comes from the population mix).
Radii follow an exponential surface density of scale length h_R; the in-plane velocities are
Gaussian (σ_R = ratio × σ_z, asymmetric drift σ_R²/80 km/s) — plausible, not a DF equilibrium;
only the vertical structure is exact, and it is the one the seeds' statistics test.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property

import numpy as np

from ..vertical import SolarVerticalPotential
from .kinematic import DEFAULT_POPULATIONS, Population

#: the z grid (kpc) of the vertical tables: ±6 kpc, 2 pc steps
_Z = np.linspace(-6.0, 6.0, 6001)


def isothermal_profiles(z: np.ndarray, amplitude: float, sigma: np.ndarray,
                        shape) -> tuple[np.ndarray, np.ndarray]:
    """Vertical profiles ρ_k(z) ∝ exp(−A Φ⊙(z)/σ_k²) of isothermal populations on the grid
    ``z`` (kpc, increasing), normalised on it: (pdf in kpc⁻¹, cdf in [0, 1]), each of shape
    (len(sigma), len(z)); trapezoidal integration. ``shape`` is Φ⊙(z_pc) in (km/s)², σ in km/s.
    """
    phi = amplitude * shape(1000.0 * z)
    rho = np.exp(-phi[None, :] / np.asarray(sigma, dtype=np.float64)[:, None] ** 2)
    cdf = np.concatenate([np.zeros((rho.shape[0], 1)),
                          np.cumsum(0.5 * (rho[:, 1:] + rho[:, :-1]) * np.diff(z), axis=1)], 1)
    norm = cdf[:, -1:]
    return rho / norm, cdf / norm


@dataclass(frozen=True)
class DiskModel:
    """Parameters of the equilibrium disk (lengths kpc, velocities km/s, [Fe/H] dex).

    Parameters
    ----------
    populations : tuple of Population
        Fractions, σ_z at R0, [Fe/H] at R0, ages (Gyr).
    R0 : float
        Radius where σ_k = σ_k,0, A = A₀ and the radial gradient is zero (the Sun's radius).
    A0, h_A : float
        Vertical-potential amplitude at R0 (Widmark's A_Φ) and its exponential scale length.
    h_R : float
        Scale length of the stellar surface density.
    R_min, R_max : float
        Radial extent of the disk.
    feh_gradient : float
        Radial [Fe/H] gradient g_R, dex/kpc.
    feh_scatter : float
        Intrinsic [Fe/H] scatter within a population, dex.
    sigma_R_ratio : float
        σ_R / σ_z of every population.
    vc : float
        Flat circular speed, km/s.
    """

    populations: tuple[Population, ...] = DEFAULT_POPULATIONS
    R0: float = 8.178
    A0: float = 1.0
    h_A: float = 3.0
    h_R: float = 2.6
    R_min: float = 3.0
    R_max: float = 16.0
    feh_gradient: float = -0.06
    feh_scatter: float = 0.10
    sigma_R_ratio: float = 1.8
    vc: float = 234.0
    shape: SolarVerticalPotential = field(default_factory=SolarVerticalPotential)

    def describe(self) -> dict:
        """JSON-serialisable record (``attrs["truth"]["disk"]``)."""
        d = asdict(self)
        d["populations"] = [asdict(p) for p in self.populations]
        d["shape"] = {"name": "widmark2025 Phi_sun", **asdict(self.shape)}
        return d

    @classmethod
    def from_describe(cls, d: dict) -> DiskModel:
        """Rebuild the model from :meth:`describe` (e.g. a mock catalog's attrs)."""
        d = dict(d)
        d["populations"] = tuple(Population(**p) for p in d["populations"])
        shape = dict(d["shape"])
        shape.pop("name", None)
        d["shape"] = SolarVerticalPotential(**shape)
        return cls(**d)

    # -- vertical structure --------------------------------------------------------------
    def amplitude(self, R) -> np.ndarray:
        """A(R): the vertical potential's amplitude."""
        return self.A0 * np.exp(-(np.asarray(R, dtype=np.float64) - self.R0) / self.h_A)

    def sigma_scale(self, R) -> np.ndarray:
        """σ_k(R) / σ_k,0 = exp(−(R − R0)/(2 h_A))."""
        return np.exp(-(np.asarray(R, dtype=np.float64) - self.R0) / (2.0 * self.h_A))

    def potential(self, R, z) -> np.ndarray:
        """Φ(R, z) − Φ(R, 0) = A(R) Φ⊙(z), (km/s)² (z in kpc)."""
        return self.amplitude(R) * self.shape(1000.0 * np.asarray(z, dtype=np.float64))

    @cached_property
    def _tables(self) -> tuple[np.ndarray, np.ndarray]:
        """(pdf, cdf) of each population's n_k(z) on the grid _Z (kpc⁻¹; cdf in [0, 1])."""
        sigma = np.array([p.sigma_z for p in self.populations])
        return isothermal_profiles(_Z, self.A0, sigma, self.shape)

    def vertical_density(self, z) -> np.ndarray:
        """n_k(z), shape (len(populations), *z.shape), kpc⁻¹ (each integrates to 1)."""
        z = np.asarray(z, dtype=np.float64)
        pdf, _ = self._tables
        return np.stack([np.interp(z, _Z, p, left=0.0, right=0.0) for p in pdf])

    def sample_z(self, rng: np.random.Generator, k: int, size: int) -> np.ndarray:
        """Heights (kpc) of ``size`` stars of population ``k`` (inverse CDF of n_k)."""
        _, cdf = self._tables
        return np.interp(rng.random(size), cdf[k], _Z)

    def _weights(self, z) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        f = np.array([p.fraction for p in self.populations]).reshape((-1,) + (1,) * z.ndim)
        w = f * self.vertical_density(z)
        return w / w.sum(0)

    # -- truth -------------------------------------------------------------------------
    def sigma_vz(self, R, z) -> np.ndarray:
        """True σ_vz(R, z), km/s (broadcast over R and z)."""
        w = self._weights(z)
        s2 = np.array([p.sigma_z**2 for p in self.populations]).reshape(
            (-1,) + (1,) * np.ndim(z))
        return np.sqrt((w * s2).sum(0)) * self.sigma_scale(R)

    def mean_feh(self, R, z) -> np.ndarray:
        """True ⟨[Fe/H]⟩(R, z), dex, before any injected signal."""
        w = self._weights(z)
        feh = np.array([p.feh0 for p in self.populations]).reshape((-1,) + (1,) * np.ndim(z))
        return (w * feh).sum(0) + self.feh_gradient * (np.asarray(R, dtype=np.float64)
                                                        - self.R0)

    def surface_density(self, R) -> np.ndarray:
        """Σ(R) up to a constant: exp(−R/h_R) within [R_min, R_max], else 0."""
        R = np.asarray(R, dtype=np.float64)
        return np.where((R >= self.R_min) & (R <= self.R_max), np.exp(-R / self.h_R), 0.0)

    def sample_radius(self, rng: np.random.Generator, size: int, lo: float,
                      hi: float) -> np.ndarray:
        """Radii (kpc) from Σ(R) R dR on [max(lo, R_min), min(hi, R_max)] (inverse CDF)."""
        lo, hi = max(lo, self.R_min), min(hi, self.R_max)
        grid = np.linspace(lo, hi, 4001)
        pdf = grid * np.exp(-(grid - lo) / self.h_R)
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(grid))])
        return np.interp(rng.random(size) * cdf[-1], cdf, grid)
