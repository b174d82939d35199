"""Precomputed look-up tables of the vertical orbits for the phase-spiral model (spec 004 §5.3).

Scaling property (spec §5.3): in Φ = A_Φ Φ⊙, θ_z depends only on (z, w̃) with w̃ = w/√A_Φ, and
z_max, h(z_max) and the mask M only on ε = E_z/A_Φ = Φ⊙(z) + w̃²/2. So, once for the shape Φ⊙:

- a 2-D table of the first-quadrant angle t(|z|, |w̃|) = 2πQ/P ∈ [0, π/2] (Eqs. 10–11) and of
  its derivative ∂t/∂w̃, on a uniform grid (default 2 pc × 0.1 km/s, |z| ≤ 1200 pc,
  |w̃| ≤ 58 km/s); θ_z follows by quadrant (Eq. 11);
- 1-D tables over ε (uniform, 0.25 (km/s)² steps, up to ε_max = Φ⊙(1200 pc)) of z_max(ε),
  h(z_max) (spec §5.5), the mask M(z_max) = sigm((z_max − 300)/25) sigm((800 − z_max)/25)
  (Eq. 21 in its A_Φ-independent z_max form, as :class:`cubes.mock.PhaseSpiral` uses) and
  their ε-derivatives; beyond ε_max the mask is < 2e-7 and the spiral is set to 0;
- P⊙(z_max) (Eq. 9), Myr.

Construction: the quarter-orbit integral T(z_max, u) = ∫₀^u z_max cos u' du' /
√(2[Φ⊙(z_max) − Φ⊙(z_max sin u')]) (the substitution z' = z_max sin u' of spec §5.3) is
accumulated by 8-point Gauss–Legendre over 256 steps in u, on 1 pc steps in z_max; t =
(π/2) T(z_max, u)/T(z_max, π/2) with u = arcsin(|z|/z_max) is then read off by bilinear
interpolation of its small anharmonic part t − u. Look-ups are bilinear (2-D) and linear (1-D),
in :mod:`cubes.kernels.spiral`.

Accuracy against :class:`cubes.vertical.VerticalOrbits` (64-point quadrature per star;
measured by ``tests/test_spiral.py``), over orbits with 150 ≤ z_max ≤ 1100 pc (where the mask
is ≥ 1e-3): |Δθ_z| < 1e-4 rad (typically 1e-6), |Δz_max| < 1e-3 pc, |Δh| < 1e-5, relative
ΔP < 1e-7. Only the orbits with z_max ≲ 20 pc (masked: M < 1e-5) are less accurate, where θ_z
is singular at the origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..vertical import SolarVerticalPotential, VerticalOrbits, myr_per_pc_per_kms, phase_shape

#: anchor heights of the mask and of ω, φ₆₀₀ (pc), and the mask width (pc), spec §5.5
Z_LOW, Z_MID, Z_HIGH, MASK_WIDTH = 300.0, 600.0, 800.0, 25.0


@dataclass(frozen=True, eq=False)
class SpiralTables:
    """Look-up tables of one vertical-potential shape (units: pc, km/s, (km/s)², Myr).

    Attributes
    ----------
    z_step, w_step : float
        Steps of the 2-D angle table in |z| (pc) and |w̃| (km/s); grid origin at 0.
    theta : ndarray (nz, nw)
        First-quadrant angle t(|z|, |w̃|) ∈ [0, π/2], rad.
    theta_dw : ndarray (nz, nw)
        ∂t/∂|w̃|, rad/(km/s).
    eps_step : float
        Step of the 1-D tables in ε = Φ⊙(z) + w̃²/2, (km/s)²; grid origin at 0.
    eps_max : float
        Last ε of the 1-D tables: Φ⊙(z_top).
    zmax, h, dh, mask, dmask : ndarray (ne,)
        z_max(ε) (pc), h(z_max(ε)), dh/dε, M(z_max(ε)), dM/dε.
    zmax_grid, period : ndarray
        P⊙(z_max) in Myr on z_max = 0, 1, 2, … pc (Gauss–Legendre, as VerticalOrbits).
    """

    shape: object
    z_step: float
    w_step: float
    theta: np.ndarray
    theta_dw: np.ndarray
    eps_step: float
    eps_max: float
    zmax: np.ndarray
    h: np.ndarray
    dh: np.ndarray
    mask: np.ndarray
    dmask: np.ndarray
    zmax_grid: np.ndarray
    period: np.ndarray

    @property
    def z_top(self) -> float:
        """Largest |z| of the angle table, pc."""
        return self.z_step * (self.theta.shape[0] - 1)

    @property
    def w_top(self) -> float:
        """Largest |w̃| of the angle table, km/s."""
        return self.w_step * (self.theta.shape[1] - 1)

    def potential(self, z) -> np.ndarray:
        """Φ⊙(z), (km/s)² (z in pc)."""
        return self.shape(z)

    def kernel_args(self) -> tuple:
        """The tables in the order :mod:`cubes.kernels.spiral` reads them."""
        return (self.theta, self.theta_dw, 1.0 / self.z_step, 1.0 / self.w_step, self.h,
                self.dh, self.mask, self.dmask, 1.0 / self.eps_step, self.eps_max)

    # -- numpy look-ups (the kernels do the same in numba) --------------------------------
    def angle(self, z, w_scaled) -> np.ndarray:
        """θ_z(z, w̃) in [0, 2π) by bilinear look-up (Eq. 11); z in pc, w̃ = w/√A_Φ in km/s.
        NaN outside the table (|z| > z_top or |w̃| > w_top)."""
        z = np.asarray(z, dtype=np.float64)
        w = np.asarray(w_scaled, dtype=np.float64)
        t = _bilinear(self.theta, np.abs(z) / self.z_step, np.abs(w) / self.w_step)
        theta = np.where(z >= 0, np.where(w >= 0, t, np.pi - t),
                         np.where(w < 0, np.pi + t, 2.0 * np.pi - t))
        return np.mod(theta, 2.0 * np.pi)

    def energy(self, z, w_scaled) -> np.ndarray:
        """ε = Φ⊙(z) + w̃²/2 = E_z/A_Φ, (km/s)²."""
        return self.shape(z) + 0.5 * np.asarray(w_scaled, dtype=np.float64) ** 2

    def _of_energy(self, table: np.ndarray, eps) -> np.ndarray:
        eps = np.asarray(eps, dtype=np.float64)
        grid = self.eps_step * np.arange(table.size)
        return np.where(eps <= self.eps_max, np.interp(eps, grid, table), np.nan)

    def zmax_of_energy(self, eps) -> np.ndarray:
        """z_max(ε), pc (NaN beyond ε_max)."""
        return self._of_energy(self.zmax, eps)

    def phase_shape_of_energy(self, eps) -> np.ndarray:
        """h(z_max(ε)) of spec §5.5 (NaN beyond ε_max)."""
        return self._of_energy(self.h, eps)

    def mask_of_energy(self, eps) -> np.ndarray:
        """M(z_max(ε)) (0 beyond ε_max)."""
        return np.nan_to_num(self._of_energy(self.mask, eps), nan=0.0)

    def period_of_zmax(self, zmax) -> np.ndarray:
        """P⊙(z_max) in Myr (linear interpolation on 1 pc steps)."""
        return np.interp(np.asarray(zmax, dtype=np.float64), self.zmax_grid, self.period,
                         right=np.nan)

    def modulation(self, z, w_scaled, *, alpha: float, beta: float, omega: float,
                   phi600: float) -> np.ndarray:
        """M(E_z) S(E_z, θ_z) of Eqs. 18–21 by table look-up (z in pc, w̃ in km/s)."""
        eps = self.energy(z, w_scaled)
        inside = eps <= self.eps_max
        theta = self.angle(np.where(inside, z, 0.0), np.where(inside, w_scaled, 0.0))
        psi = theta - phi600 - omega * np.nan_to_num(self.phase_shape_of_energy(eps))
        return np.where(inside, self.mask_of_energy(eps)
                        * (alpha * np.cos(psi) + beta * np.cos(2.0 * psi)), 0.0)


def _bilinear(table: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of ``table`` at fractional indices (x, y); NaN outside."""
    nx, ny = table.shape
    inside = (x >= 0) & (x <= nx - 1) & (y >= 0) & (y <= ny - 1)
    x = np.where(inside, x, 0.0)
    y = np.where(inside, y, 0.0)
    i = np.minimum(x.astype(np.int64), nx - 2)
    j = np.minimum(y.astype(np.int64), ny - 2)
    fx, fy = x - i, y - j
    v = ((1 - fx) * (1 - fy) * table[i, j] + fx * (1 - fy) * table[i + 1, j]
         + (1 - fx) * fy * table[i, j + 1] + fx * fy * table[i + 1, j + 1])
    return np.where(inside, v, np.nan)


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _quarter_integrals(shape, zm: np.ndarray, n_u: int) -> np.ndarray:
    """T(z_max, u_n) = ∫₀^{u_n} z_max cos u du / √(2[Φ(z_max) − Φ(z_max sin u)]) on u_n =
    n (π/2)/n_u, n = 0..n_u (pc/(km/s)); 8-point Gauss–Legendre per step. Rows z_max > 0."""
    x, wts = np.polynomial.legendre.leggauss(8)
    du = 0.5 * np.pi / n_u
    u = (np.arange(n_u)[:, None] + 0.5 * (x + 1.0)) * du  # (n_u, 8)
    out = np.zeros((zm.size, n_u + 1))
    for s in range(0, zm.size, 128):  # chunks bound the memory to ~30 MB
        z = zm[s:s + 128, None, None]
        gap = 2.0 * (shape(z) - shape(z * np.sin(u)))
        integrand = z * np.cos(u) / np.sqrt(np.maximum(gap, 1e-300))
        steps = 0.5 * du * (integrand * wts).sum(-1)
        out[s:s + 128, 1:] = np.cumsum(steps, axis=1)
    return out


def build_tables(shape=None, *, z_top: float = 1200.0, z_step: float = 2.0,
                 w_step: float = 0.1, eps_step: float = 0.25, n_u: int = 256) -> SpiralTables:
    """Tabulate θ_z(z, w̃), z_max(ε), h, M and P⊙ for a vertical-potential shape (spec §5.3).

    Parameters
    ----------
    shape : callable, optional
        Φ⊙(z) in (km/s)², z in pc, even and increasing in |z|, with a ``force`` method
        (default :class:`cubes.vertical.SolarVerticalPotential`, Widmark+2025 Eqs. 7–8).
    z_top : float
        Largest |z| (pc) of the angle table; ε_max = Φ⊙(z_top).
    z_step, w_step : float
        Steps of the angle table in |z| (pc) and |w̃| (km/s).
    eps_step : float
        Step of the 1-D tables in ε, (km/s)².
    n_u : int
        Steps in u of the quarter-orbit integral.

    Returns
    -------
    SpiralTables
    """
    shape = SolarVerticalPotential() if shape is None else shape
    orbits = VerticalOrbits(shape)
    eps_max = float(shape(z_top))
    w_top = np.ceil(np.sqrt(2.0 * eps_max) / w_step) * w_step
    z_far = float(orbits.zmax(shape(z_top) + 0.5 * w_top**2))
    # quarter-orbit integrals on 1 pc steps of z_max; t − u is smooth (0 for a harmonic well)
    zm = np.arange(0.0, np.ceil(z_far) + 2.0)
    T = np.zeros((zm.size, n_u + 1))
    T[1:] = _quarter_integrals(shape, zm[1:], n_u)
    u_grid = np.linspace(0.0, 0.5 * np.pi, n_u + 1)
    corr = np.zeros_like(T)
    corr[1:] = 0.5 * np.pi * T[1:] / T[1:, -1:] - u_grid
    period = 4.0 * T[:, -1] * myr_per_pc_per_kms()
    period[0] = period[1]  # the harmonic limit at z_max → 0 (1 pc is within 1e-7 of it)

    z = np.arange(0.0, z_top + 0.5 * z_step, z_step)
    w = np.arange(0.0, w_top + 0.5 * w_step, w_step)
    zz, ww = np.meshgrid(z, w, indexing="ij")
    zmax = orbits.zmax(shape(zz) + 0.5 * ww**2)
    safe = np.where(zmax > 0, zmax, 1.0)
    u = np.arcsin(np.clip(zz / safe, 0.0, 1.0))
    t = u + _bilinear(corr, zmax / 1.0, u / (0.5 * np.pi / n_u))
    t = np.where(zmax > 0, t, 0.0)
    t_dw = np.gradient(t, w_step, axis=1, edge_order=2)

    eps = np.arange(0.0, eps_max + 0.5 * eps_step, eps_step)
    zm_e = orbits.zmax(eps)
    h = phase_shape(orbits, np.maximum(zm_e, 1e-3))
    dh = np.gradient(h, eps_step, edge_order=2)
    m_lo = _sigmoid((zm_e - Z_LOW) / MASK_WIDTH)
    m_hi = _sigmoid((Z_HIGH - zm_e) / MASK_WIDTH)
    mask = m_lo * m_hi
    # dM/dε = dM/dz_max / Φ⊙'(z_max); Φ⊙'(0) = 0 where dM/dz_max → its finite value × ∞:
    # the mask is flat there (M ~ 1e-5), so take the one-sided slope in ε instead
    dm_dz = mask * ((1 - m_lo) - (1 - m_hi)) / MASK_WIDTH
    force = shape.force(zm_e)
    dmask = np.where(force > 0, dm_dz / np.where(force > 0, force, 1.0),
                     np.gradient(mask, eps_step)[0])
    return SpiralTables(shape, float(z_step), float(w_step), t, t_dw, float(eps_step), eps_max,
                        zm_e, h, dh, mask, dmask, zm, period)


@lru_cache(maxsize=2)
def default_tables() -> SpiralTables:
    """Tables of Widmark+2025's Φ⊙ (built once per process, ~1 s)."""
    return build_tables()
