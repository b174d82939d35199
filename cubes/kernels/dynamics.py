"""Orbit labels from tables on uniform grids: epicycle actions and z_max from E_z (numba).

The tables (built from a galpy potential by :mod:`cubes.dynamics`) sit on uniform grids, so a
star's cell is one multiply away, not a search; one fused pass per star reads each input once.
Knows nothing of xarray, dask or galpy.

Units are whatever the caller tabulated in; :mod:`cubes.dynamics` uses kpc, km/s, kpc km/s.
"""

from __future__ import annotations

import numba as nb
import numpy as np

_TWO_PI = 2.0 * np.pi


@nb.njit(nogil=True, cache=True)
def epicycle(R, vR, Lz, lnl0, dlnl, ln_rg, ln_kappa, jr, theta, rg):
    """Epicycle action, phase and guiding radius of stars (Binney & Tremaine 2008 §3.2.3).

    Parameters
    ----------
    R, vR, Lz : 1-D float64 arrays
        Radius, radial velocity (> 0 outwards), angular momentum (> 0 along rotation).
    lnl0, dlnl : float
        The table grid: ln L_c = lnl0 + i dlnl, i = 0 … len(ln_rg) − 1.
    ln_rg, ln_kappa : 1-D float64 arrays
        ln R_g and ln κ(R_g) of the circular orbit of angular momentum L_c (linear
        interpolation in ln L_c).
    jr, theta, rg : 1-D float64 arrays (outputs)
        J_R = [v_R² + κ²(R − R_g)²] / (2κ); θ_R = atan2(v_R, κ (R_g − R)) in [0, 2π), 0 at
        pericentre and increasing with time (dθ_R/dt = κ); R_g. NaN where L_z ≤ 0, L_z is
        outside the table or an input is NaN.
    """
    m = ln_rg.size
    for i in range(R.size):
        lz = Lz[i]
        x = (np.log(lz) - lnl0) / dlnl if lz > 0.0 else -1.0
        if not (x >= 0.0 and x <= m - 1.0):  # also catches NaN
            jr[i] = np.nan
            theta[i] = np.nan
            rg[i] = np.nan
            continue
        k = min(int(x), m - 2)
        f = x - k
        g = np.exp(ln_rg[k] + f * (ln_rg[k + 1] - ln_rg[k]))
        kap = np.exp(ln_kappa[k] + f * (ln_kappa[k + 1] - ln_kappa[k]))
        v = vR[i]
        d = kap * (g - R[i])
        jr[i] = (v * v + d * d) / (2.0 * kap)
        t = np.arctan2(v, d)
        theta[i] = t + _TWO_PI if t < 0.0 else t
        rg[i] = g


@nb.njit(nogil=True, inline="always")
def _hermite(s0, s1, d0, d1, h, t):
    """Cubic Hermite interpolant on a segment of length h at fraction t, and its derivative."""
    t2 = t * t
    t3 = t2 * t
    a = 2.0 * t3 - 3.0 * t2 + 1.0
    b = t3 - 2.0 * t2 + t
    c = -2.0 * t3 + 3.0 * t2
    e = t3 - t2
    val = a * s0 + b * h * d0 + c * s1 + e * h * d1
    der = ((6.0 * t2 - 6.0 * t) * (s0 - s1) / h + (3.0 * t2 - 4.0 * t + 1.0) * d0
           + (3.0 * t2 - 2.0 * t) * d1)
    return val, der


@nb.njit(nogil=True, inline="always")
def _lagrange4(f):
    """Cubic Lagrange weights of the nodes −1, 0, 1, 2 at fraction f."""
    return (-f * (f - 1.0) * (f - 2.0) / 6.0, (f + 1.0) * (f - 1.0) * (f - 2.0) / 2.0,
            -(f + 1.0) * f * (f - 2.0) / 2.0, (f + 1.0) * f * (f - 1.0) / 6.0)


@nb.njit(nogil=True, inline="always")
def _node(S, k, w, j):
    """S(R, z_j): the four rows k − 1 … k + 2 combined with weights w."""
    return w[0] * S[k - 1, j] + w[1] * S[k, j] + w[2] * S[k + 1, j] + w[3] * S[k + 2, j]


@nb.njit(nogil=True, inline="always")
def _row(S, D, k, w, j, h, t):
    """S(R, z) and ∂S/∂z: cubic Hermite in z on rows k − 1 … k + 2, cubic Lagrange across."""
    val = 0.0
    der = 0.0
    for m in range(4):
        r = k - 1 + m
        v, d = _hermite(S[r, j], S[r, j + 1], D[r, j], D[r, j + 1], h, t)
        val += w[m] * v
        der += w[m] * d
    return val, der


@nb.njit(nogil=True, cache=True)
def zmax_from_energy(R, z, vz, lnr0, dlnr, dz, S, D, zmax, ez):
    """z_max solving Φ(R, z_max) − Φ(R, 0) = E_z at each star's R, by table inversion.

    The table holds S(R, z) = √(2[Φ(R, z) − Φ(R, 0)]) (the speed that reaches z from the
    plane; nearly linear in z, so well conditioned near z = 0) and D = ∂S/∂z, on the uniform
    grid ln R = lnr0 + k dlnr, z = j dz (z ≥ 0): a cubic Hermite in z along each row, cubic
    Lagrange interpolation across four rows in ln R. The star's S_E = √(S(R, |z|)² + v_z²)
    = √(2 E_z); z_max is the root of S(R, z_max) = S_E: bisection over grid nodes, then
    Newton steps on the segment.

    Outputs ``zmax`` (same unit as dz) and ``ez`` = S_E²/2; NaN where R or z is outside the
    table, where z_max would be above its top, or for NaN inputs.
    """
    nr, nz = S.shape
    ztop = dz * (nz - 1)
    for i in range(R.size):
        r = R[i]
        x = (np.log(r) - lnr0) / dlnr if r > 0.0 else -1.0
        az = abs(z[i])
        w = vz[i]
        if not (x >= 0.0 and x <= nr - 1.0 and az <= ztop and w == w):
            zmax[i] = np.nan
            ez[i] = np.nan
            continue
        k = min(max(int(x), 1), nr - 3)  # rows k − 1 … k + 2 exist
        lw = _lagrange4(x - k)
        # the star's own S(R, |z|)
        y = az / dz
        j = min(int(y), nz - 2)
        s_here, _ = _row(S, D, k, lw, j, dz, y - j)
        target2 = s_here * s_here + w * w
        target = np.sqrt(target2)
        ez[i] = 0.5 * target2
        if not (_node(S, k, lw, nz - 1) >= target):
            zmax[i] = np.nan
            continue
        # bisection on nodes: largest j with S(R, z_j) <= target (S increases with z)
        lo, hi = 0, nz - 1
        while hi - lo > 1:
            mid = (lo + hi) >> 1
            if _node(S, k, lw, mid) <= target:
                lo = mid
            else:
                hi = mid
        s_lo = _node(S, k, lw, lo)
        s_hi = _node(S, k, lw, hi)
        t = (target - s_lo) / (s_hi - s_lo) if s_hi > s_lo else 0.0
        for _ in range(4):  # Newton on the (monotone) cubic; the linear guess is close
            val, der = _row(S, D, k, lw, lo, dz, t)
            if der > 0.0:
                t -= (val - target) / (der * dz)
            t = min(max(t, 0.0), 1.0)
        zmax[i] = (lo + t) * dz
