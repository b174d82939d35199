"""Signals of known size injected into the equilibrium mock (the seeds' measurements to recover).

- :class:`NorthSouth` (seed 001, Wang+2025; seed 000): beyond a radius, stars North of the plane
  get their vertical velocities scaled by ``sigma_vz_ratio`` (so σ_vz,N / σ_vz,S is exactly that
  ratio there) and their [Fe/H] shifted by ``feh_offset`` dex.
- :class:`ArmMetallicity` (seed 002, Hawkins 2023): [Fe/H] raised by ``amplitude`` ×
  exp(−d²/2w²) with d the in-plane distance to the nearest Reid+2014 arm centre line and w that
  arm's width.
- :class:`PhaseSpiral` (seed 004, Widmark+2025 Eqs. 18–24): the z–w density becomes
  B(z, w)[1 + M(E_z) S(E_z, θ_z)] by rejection sampling of the equilibrium B, with
  S = α cos(θ_z − φ) + β cos 2(θ_z − φ), φ(E_z) = φ₆₀₀ + ω h(z_max) and the mask M on
  300–800 pc orbits (spec §5.5), in the mock's own vertical potential A(R) Φ⊙. At fixed E_z the
  acceptance is 1/(1 + α + β) on average over θ_z, so the energy distribution is unchanged.

Each signal's :meth:`describe` goes into the catalog's ``attrs["truth"]``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from .. import spiral_arms
from ..vertical import VerticalOrbits, phase_shape


@dataclass(frozen=True)
class NorthSouth:
    """North-South asymmetry beyond ``R_min`` (kpc, true R), for z > 0 (true z)."""

    R_min: float = 10.0
    sigma_vz_ratio: float = 1.0
    feh_offset: float = 0.0

    def applies(self, R, z) -> np.ndarray:
        return (np.asarray(R) > self.R_min) & (np.asarray(z) > 0)

    def describe(self) -> dict:
        return {"kind": "north_south", **asdict(self)}


@dataclass(frozen=True)
class ArmMetallicity:
    """[Fe/H] excess along spiral arms: ``amplitude`` (dex) on the arm centre lines."""

    amplitude: float = 0.05
    arms: tuple[str, ...] = tuple(a.name for a in spiral_arms.REID2014)
    R0: float = spiral_arms.REID2014_R0

    def excess(self, x, y) -> np.ndarray:
        """The injected Δ[Fe/H](x, y), dex (x, y Galactocentric, kpc)."""
        d, i = spiral_arms.nearest_arm(x, y, arms=self.arms, R0=self.R0)
        width = np.array([spiral_arms.arm(a).width for a in self.arms] + [1.0])[i]
        return self.amplitude * np.exp(-0.5 * (d / width) ** 2)  # 0 where d = inf

    def describe(self) -> dict:
        return {"kind": "arm_metallicity", "amplitude": self.amplitude,
                "arms": list(self.arms), "R0": self.R0, "catalog": "Reid et al. 2014 Table 2"}


@lru_cache(maxsize=4)
def _solar_orbits() -> VerticalOrbits:
    return VerticalOrbits(amplitude=1.0)


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass(frozen=True)
class PhaseSpiral:
    """A Widmark+2025 phase spiral (ω, φ₆₀₀ in rad; α, β ≥ 0, α + β < 1) for R_min < R < R_max.

    A_Φ is not a knob here: it is the disk's own A(R) (:meth:`DiskModel.amplitude`), so the
    spiral is wound consistently with the potential the stars move in.
    """

    alpha: float = 0.1
    beta: float = 0.1
    omega: float = 3.0
    phi600: float = 0.0
    R_min: float = -np.inf
    R_max: float = np.inf

    def __post_init__(self):
        if self.alpha < 0 or self.beta < 0 or self.alpha + self.beta >= 1:
            raise ValueError(f"PhaseSpiral needs alpha, beta >= 0 and alpha + beta < 1 (a "
                             f"positive density); got alpha={self.alpha}, beta={self.beta}")

    def modulation(self, z, w, amplitude, *, exact: bool = False) -> np.ndarray:
        """M(E_z) S(E_z, θ_z) at heights z (kpc), vertical velocities w (km/s) in the potential
        ``amplitude`` × Φ⊙ (spec 004 Eqs. 18–21, mask in its A_Φ-independent z_max form).

        By default θ_z, z_max, h and M come from the precomputed tables of
        :mod:`cubes.spiral.tables` (θ_z within 2e-5 rad of the quadrature; ~100× faster);
        ``exact=True`` integrates each star's orbit (:class:`cubes.vertical.VerticalOrbits`,
        64-point Gauss–Legendre), the independent reference the tables are tested against.
        """
        z_pc = 1000.0 * np.asarray(z, dtype=np.float64)
        w_scaled = np.asarray(w, dtype=np.float64) / np.sqrt(amplitude)  # θ_z(z, w/√A_Φ)
        if not exact:
            from ..spiral.tables import default_tables

            return default_tables().modulation(z_pc, w_scaled, alpha=self.alpha,
                                               beta=self.beta, omega=self.omega,
                                               phi600=self.phi600)
        orbits = _solar_orbits()
        zmax = orbits.zmax(orbits.energy(z_pc, w_scaled))
        theta = orbits.angle(z_pc, w_scaled)
        phase = self.phi600 + self.omega * phase_shape(orbits, zmax)
        mask = _sigmoid((zmax - 300.0) / 25.0) * _sigmoid((800.0 - zmax) / 25.0)
        s = self.alpha * np.cos(theta - phase) + self.beta * np.cos(2.0 * (theta - phase))
        return mask * s

    def keep(self, rng: np.random.Generator, z, w, amplitude) -> np.ndarray:
        """Rejection step of B → B(1 + M S): keep each star with probability
        (1 + M S)/(1 + α + β) (z kpc, w km/s, ``amplitude`` A_Φ scalar or per star)."""
        f = 1.0 + self.modulation(z, w, amplitude)
        return rng.random(f.size) * (1.0 + self.alpha + self.beta) < f

    def accept(self, rng: np.random.Generator, R, z, w, amplitude) -> np.ndarray:
        """:meth:`keep` inside the radial range; stars outside it are always kept."""
        inside = (np.asarray(R) > self.R_min) & (np.asarray(R) < self.R_max)
        keep = np.ones(np.shape(R), dtype=bool)
        if inside.any():
            keep[inside] = self.keep(rng, z[inside], w[inside], amplitude[inside])
        return keep

    def describe(self) -> dict:
        d = asdict(self)
        d.update(kind="phase_spiral",  # JSON has no infinity: an open end is None
                 R_min=float(self.R_min) if np.isfinite(self.R_min) else None,
                 R_max=float(self.R_max) if np.isfinite(self.R_max) else None,
                 model="Widmark et al. 2025 Eqs. 18-24; A_phi = the disk's A(R)")
        return d
