"""Vertical dynamics in a 1-D potential: energy, z_max, period P(E_z) and angle θ_z.

The solar-neighbourhood potential of Widmark et al. 2025 (spec §5.2, Eqs. 7–8, A1):

    Φ⊙(z) = 4πG [ρ_DM z²/2 + h₁²ρ₁ ln cosh(z/h₁) + h₂²ρ₂ ln cosh(z/h₂)]

(ρ_DM = 0.01, ρ₁ = 0.043, ρ₂ = 0.045 M⊙/pc³, h₁ = 120, h₂ = 430 pc), scaled as Φ = A_Φ Φ⊙.
Period and angle (spec §5.3, Eqs. 9–12), with the substitution z' = z_max sin u that makes the
integrands regular, evaluated by Gauss–Legendre quadrature, vectorised over stars:

    P(E_z) = 4 ∫₀^{π/2} z_max cos u du / √(2[E_z − Φ(z_max sin u)])
    Q(z)   = ∫₀^{arcsin(|z|/z_max)} (same integrand),  θ_z from Q/P by quadrant (Eq. 11)

Units: z in pc, w in km/s, Φ and E_z in (km/s)², periods in Myr, angles in radians.
Because Φ = A_Φ Φ⊙, P_A(E) = P⊙(E/A_Φ)/√A_Φ and θ_z depends only on (z, w/√A_Φ).

Any galpy model gives a shape too: :class:`GalpyVerticalPotential` is Φ(R, z) − Φ(R, 0) at a
fixed R (the vertical potential galpy's ``toVerticalPotential`` integrates in).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

#: Gauss–Legendre nodes and weights on [-1, 1] (64 points: converged to < 1e-10 here)
_X, _W = np.polynomial.legendre.leggauss(64)


def _units():
    import astropy.constants as const
    import astropy.units as u

    return const, u


def gravitational_constant(choice: str = "codata") -> float:
    """G in pc (km/s)² / M⊙: ``"codata"`` (astropy), or ``"widmark2025"``, the 4.49e-15
    pc³ M⊙⁻¹ yr⁻² of the authors' code, with which the paper's periods are reproduced."""
    const, u = _units()
    unit = u.pc * (u.km / u.s) ** 2 / u.Msun
    if choice == "codata":
        return float(const.G.to_value(unit))
    if choice == "widmark2025":
        return float((4.49e-15 * u.pc**3 / u.Msun / u.yr**2).to_value(unit))
    raise ValueError(f"unknown G choice {choice!r}; use 'codata' or 'widmark2025'")


def myr_per_pc_per_kms() -> float:
    """1 pc / (km/s) in Myr (≈ 0.9778)."""
    _, u = _units()
    return float((1 * u.pc / (u.km / u.s)).to_value(u.Myr))


def _log_cosh(x: np.ndarray) -> np.ndarray:
    """ln cosh(x) for x ≥ 0, as x + log1p(exp(−2x)) − ln 2 (no overflow at large x)."""
    return x + np.log1p(np.exp(-2.0 * x)) - np.log(2.0)


@dataclass(frozen=True)
class SolarVerticalPotential:
    """Φ⊙(z) of Widmark et al. 2025 (densities in M⊙/pc³, scale heights in pc)."""

    rho_dm: float = 0.01
    rho1: float = 0.043
    h1: float = 120.0
    rho2: float = 0.045
    h2: float = 430.0
    G: str = "codata"

    @cached_property
    def _four_pi_g(self) -> float:
        return 4.0 * np.pi * gravitational_constant(self.G)

    def __call__(self, z) -> np.ndarray:
        """Φ⊙(z) in (km/s)², z in pc."""
        z = np.abs(np.asarray(z, dtype=np.float64))
        return self._four_pi_g * (self.rho_dm * z * z / 2
                                  + self.h1**2 * self.rho1 * _log_cosh(z / self.h1)
                                  + self.h2**2 * self.rho2 * _log_cosh(z / self.h2))

    def force(self, z) -> np.ndarray:
        """dΦ⊙/dz in (km/s)²/pc."""
        z = np.asarray(z, dtype=np.float64)
        return self._four_pi_g * (self.rho_dm * z + self.h1 * self.rho1 * np.tanh(z / self.h1)
                                  + self.h2 * self.rho2 * np.tanh(z / self.h2))


@dataclass(frozen=True)
class GalpyVerticalPotential:
    """Φ(R, z) − Φ(R, 0) of a galpy potential at a fixed radius, as a shape for
    :class:`VerticalOrbits` (the interface of :class:`SolarVerticalPotential`).

    Parameters
    ----------
    potential : str
        A galpy potential by name (``galpy.potential`` or ``galpy.potential.mwpotentials``).
    R : float
        Galactocentric radius, kpc.
    ro, vo : float, optional
        galpy's natural units, kpc and km/s, for a potential in natural units (default 8 kpc,
        220 km/s); a model in physical units (McMillan17) uses its own
        (:func:`cubes.dynamics.natural_units`). Set to the units used after construction.
    zmax_table : float
        Largest |z| of the table, pc (NaN beyond).
    step : float
        Table step in z, pc.

    Φ is tabulated once: the force from galpy (its C code where it has one) and ∂²Φ/∂z² by a
    central difference of it (±0.01 pc) at every step, Φ − Φ(0) as the
    running 8-point Gauss–Legendre integral of the force (no cancellation against Φ(R, 0)
    near the plane), joined by a piecewise quintic Hermite interpolant (scipy's
    ``BPoly.from_derivatives``): within ~1e-12 of galpy's Φ(R, z) − Φ(R, 0), and exactly
    even in z.
    """

    potential: str = "MWPotential2014"
    R: float = 8.178
    ro: float | None = None
    vo: float | None = None
    zmax_table: float = 10_000.0
    step: float = 2.0

    def __post_init__(self):
        from .dynamics._support import natural_units

        ro, vo = natural_units(self.potential, self.ro, self.vo)
        object.__setattr__(self, "ro", ro)
        object.__setattr__(self, "vo", vo)

    @cached_property
    def _poly(self):
        from scipy.interpolate import BPoly

        from .dynamics._support import evaluate, galpy_potential

        pot = galpy_potential(self.potential)
        n = int(np.ceil(self.zmax_table / self.step))
        z = np.arange(n + 1) * self.step  # pc
        r = self.R / self.ro
        scale = self.vo**2 / (self.ro * 1000.0)  # natural force → (km/s)²/pc

        def force(zz):  # dΦ/dz, (km/s)²/pc
            zz = np.asarray(zz, dtype=np.float64)
            return -evaluate(pot, "zforce", r, zz / (self.ro * 1000.0)) * scale

        x, w = np.polynomial.legendre.leggauss(8)
        mid = 0.5 * (z[:-1] + z[1:])
        pieces = (force(mid[:, None] + 0.5 * self.step * x) * w).sum(-1) * 0.5 * self.step
        phi = np.concatenate([[0.0], np.cumsum(pieces)])
        h = 0.01  # pc: ∂²Φ/∂z² to ~(h / 300 pc)² ≈ 1e-9; it only shapes the quintic between knots
        d2 = (force(z + h) - force(z - h)) / (2.0 * h)
        return BPoly.from_derivatives(z, np.stack([phi, force(z), d2], axis=-1),
                                      extrapolate=False)

    def __call__(self, z) -> np.ndarray:
        """Φ(R, z) − Φ(R, 0) in (km/s)², z in pc."""
        return self._poly(np.abs(np.asarray(z, dtype=np.float64)))

    def force(self, z) -> np.ndarray:
        """dΦ/dz in (km/s)²/pc (odd in z)."""
        z = np.asarray(z, dtype=np.float64)
        return np.sign(z) * self._poly(np.abs(z), 1)


class VerticalOrbits:
    """Energies, z_max, periods and angles in Φ = amplitude × shape (a 1-D even potential).

    Parameters
    ----------
    shape : callable
        Φ⊙(z) in (km/s)², even, increasing in |z| (e.g. :class:`SolarVerticalPotential`).
    amplitude : float
        A_Φ.
    zmax_table : float
        Largest z_max of the inversion table, pc.
    """

    def __init__(self, shape=None, amplitude: float = 1.0, zmax_table: float = 5000.0):
        self.shape = SolarVerticalPotential() if shape is None else shape
        self.amplitude = float(amplitude)
        self._z = np.concatenate([[0.0], np.geomspace(1e-3, zmax_table, 20001)])
        self._phi = self.amplitude * self.shape(self._z)
        if np.any(np.diff(self._phi) <= 0):
            raise ValueError("the potential must increase with |z| for z_max to be unique")

    def potential(self, z) -> np.ndarray:
        """Φ(z) in (km/s)²."""
        return self.amplitude * self.shape(z)

    def energy(self, z, w) -> np.ndarray:
        """E_z = Φ(z) + w²/2, (km/s)²."""
        return self.potential(z) + 0.5 * np.asarray(w, dtype=np.float64) ** 2

    def zmax(self, energy) -> np.ndarray:
        """z_max solving Φ(z_max) = E_z (pc): table interpolation refined by Newton steps."""
        e = np.asarray(energy, dtype=np.float64)
        z = np.interp(e, self._phi, self._z)
        for _ in range(3):  # Newton: the table guess is already close
            f = self.potential(z) - e
            df = self.amplitude * self.shape.force(z)
            z = np.where(df > 0, z - f / np.where(df > 0, df, 1.0), z)
        return z

    def _integral(self, zmax, umax):
        """∫₀^umax z_max cos u du / √(2[Φ(z_max) − Φ(z_max sin u)]) (pc / (km/s))."""
        zmax = np.asarray(zmax, dtype=np.float64)[..., None]
        umax = np.asarray(umax, dtype=np.float64)[..., None]
        u = 0.5 * umax * (_X + 1.0)
        e = self.potential(zmax)
        # 2[Φ(zm) − Φ(zm sin u)] → 0 as u → π/2 like cos²u: the ratio stays finite
        gap = 2.0 * (e - self.potential(zmax * np.sin(u)))
        integrand = zmax * np.cos(u) / np.sqrt(np.maximum(gap, 1e-300))
        return 0.5 * umax[..., 0] * (integrand * _W).sum(-1)

    def period(self, zmax) -> np.ndarray:
        """P(z_max) in Myr (the period of the orbit reaching z_max)."""
        return 4.0 * self._integral(zmax, np.pi / 2) * myr_per_pc_per_kms()

    def angle(self, z, w) -> np.ndarray:
        """θ_z in [0, 2π): 0 at (z = 0, w > 0), π/2 at (z_max, 0) (Eq. 11)."""
        z = np.asarray(z, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        zm = self.zmax(self.energy(z, w))
        frac = np.where(zm > 0, np.clip(np.abs(z) / np.where(zm > 0, zm, 1.0), 0.0, 1.0), 0.0)
        q = self._integral(zm, np.arcsin(frac))
        p = self._integral(zm, np.pi / 2) * 4.0
        t = 2.0 * np.pi * q / np.where(p > 0, p, 1.0)
        theta = np.where(z >= 0, np.where(w >= 0, t, np.pi - t),
                         np.where(w < 0, np.pi + t, 2.0 * np.pi - t))
        return np.mod(theta, 2.0 * np.pi)


def anharmonicity(orbits: VerticalOrbits, z_a: float = 300.0, z_b: float = 800.0) -> float:
    """Γ = P(z_b)/P(z_a) − 1 (Widmark et al. 2025 Eq. 25; 0.260 for Φ⊙)."""
    pa, pb = orbits.period(np.array([z_a, z_b]))
    return float(pb / pa - 1.0)


def phase_shape(orbits: VerticalOrbits, zmax) -> np.ndarray:
    """h(z_max) = [ν(z_max) − ν(600)] / [ν(300) − ν(800)], ν = 1/P (spec §5.5): the spiral
    phase is φ(E_z) = φ₆₀₀ + ω h(z_max)."""
    nu = 1.0 / orbits.period(np.asarray(zmax, dtype=np.float64))
    n300, n600, n800 = 1.0 / orbits.period(np.array([300.0, 600.0, 800.0]))
    return (nu - n600) / (n300 - n800)
