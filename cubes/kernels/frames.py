"""Fused heliocentric → Galactocentric transform of positions and velocities (numba).

Hand-written because astropy's ``ICRS → Galactocentric`` builds representation objects and
differentials per call (about 0.7 s per million stars here); one pass per star applies the same
constant matrices (taken from astropy once per frame, see :mod:`cubes.frames`). Knows nothing of
xarray.
"""

from __future__ import annotations

import numba as nb
import numpy as np

# sin and cos of the small reduced angle (|x| <= pi/4): Taylor series to x**15 / x**16, whose
# truncation error (< 5e-17) is below double rounding. Plain arithmetic, so the star loop
# vectorises; libm's scalar sin/cos cost 15 ns each here (numba has no vector math library
# in this llvmlite build), which made them most of the transform's time.
_S = (1.0, -1.0 / 6, 1.0 / 120, -1.0 / 5040, 1.0 / 362880, -1.0 / 39916800,
      1.0 / 6227020800, -1.0 / 1307674368000)
_C = (1.0, -1.0 / 2, 1.0 / 24, -1.0 / 720, 1.0 / 40320, -1.0 / 3628800, 1.0 / 479001600,
      -1.0 / 87178291200, 1.0 / 20922789888000)


@nb.njit(nogil=True, inline="always")
def sincos_deg(angle):
    """(sin, cos) of an angle in degrees, accurate to a few 1e-16.

    The reduction to [-45, 45] deg is exact in degrees (subtracting a multiple of 90 loses no
    bits), so large angles lose nothing either.
    """
    q = np.floor(angle / 90.0 + 0.5)
    x = (angle - 90.0 * q) * (np.pi / 180.0)
    x2 = x * x
    s = x * (_S[0] + x2 * (_S[1] + x2 * (_S[2] + x2 * (_S[3] + x2 * (_S[4] + x2 * (
        _S[5] + x2 * (_S[6] + x2 * _S[7])))))))
    c = _C[0] + x2 * (_C[1] + x2 * (_C[2] + x2 * (_C[3] + x2 * (_C[4] + x2 * (_C[5] + x2 * (
        _C[6] + x2 * (_C[7] + x2 * _C[8])))))))
    k = np.int64(q) & 3  # quadrant
    sin = s if k == 0 else (c if k == 1 else (-s if k == 2 else -c))
    cos = c if k == 0 else (-s if k == 1 else (-c if k == 2 else s))
    return sin, cos


#: outputs, in order: x y z vx vy vz R phi vR vphi Lz X Y Z U V W
OUTPUTS = ("x", "y", "z", "vx", "vy", "vz", "R", "phi", "vR", "vphi", "Lz",
           "X", "Y", "Z", "U", "V", "W")


@nb.njit(nogil=True, cache=True)
def _transform(ra, dec, dist, pmra, pmdec, rv, A, offset, vsun, G, k, out, i0, i1):
    """Transform stars ``i0:i1`` from ICRS to Galactocentric Cartesian and cylindrical
    quantities, into columns ``0 : i1 - i0`` of ``out``.

    Parameters
    ----------
    ra, dec : float64 arrays, deg
    dist : float64 array, kpc (NaN for stars without a valid distance)
    pmra, pmdec : float64 arrays, mas/yr (pmra includes cos dec)
    rv : float64 array, km/s
    A, offset, vsun : (3, 3), (3,), (3,)
        ``x_gc = A @ x_icrs + offset`` (kpc) and ``v_gc = A @ v_icrs + vsun`` (km/s), astropy's
        own matrices for the frame.
    G : (3, 3)
        ICRS → Galactic rotation (heliocentric X towards the Galactic centre, Y towards l = 90°).
    k : float
        km/s per (mas/yr × kpc).
    out : float64 array (17, n)
        Filled with :data:`OUTPUTS` (kpc, km/s, kpc km/s for Lz = R vphi) except ``out[7]``
        (phi), left to the caller: ``degrees(arctan2(y, -x))`` with numpy's SIMD arctan2 (0 at
        the Sun's azimuth, increasing along rotation).
    """
    for i in range(i0, i1):
        j = i - i0
        sa, ca = sincos_deg(ra[i])
        sd, cd = sincos_deg(dec[i])
        r = dist[i]
        # position and velocity in ICRS Cartesian
        px, py, pz = r * cd * ca, r * cd * sa, r * sd
        va = k * r * pmra[i]
        vd = k * r * pmdec[i]
        vr = rv[i]
        vx = vr * cd * ca - va * sa - vd * sd * ca
        vy = vr * cd * sa + va * ca - vd * sd * sa
        vz = vr * sd + vd * cd
        # Galactocentric Cartesian
        gx = A[0, 0] * px + A[0, 1] * py + A[0, 2] * pz + offset[0]
        gy = A[1, 0] * px + A[1, 1] * py + A[1, 2] * pz + offset[1]
        gz = A[2, 0] * px + A[2, 1] * py + A[2, 2] * pz + offset[2]
        gvx = A[0, 0] * vx + A[0, 1] * vy + A[0, 2] * vz + vsun[0]
        gvy = A[1, 0] * vx + A[1, 1] * vy + A[1, 2] * vz + vsun[1]
        gvz = A[2, 0] * vx + A[2, 1] * vy + A[2, 2] * vz + vsun[2]
        R = np.sqrt(gx * gx + gy * gy)
        cphi = -gx / R
        sphi = gy / R
        out[0, j] = gx
        out[1, j] = gy
        out[2, j] = gz
        out[3, j] = gvx
        out[4, j] = gvy
        out[5, j] = gvz
        out[6, j] = R
        out[7, j] = 0.0  # phi: filled by the caller with numpy's vectorised arctan2
        out[8, j] = -(gvx * cphi) + gvy * sphi  # outward: along (x, y)/R = (-cphi, sphi)
        out[9, j] = gvx * sphi + gvy * cphi  # along rotation
        out[10, j] = R * out[9, j]
        # heliocentric Galactic Cartesian
        out[11, j] = G[0, 0] * px + G[0, 1] * py + G[0, 2] * pz
        out[12, j] = G[1, 0] * px + G[1, 1] * py + G[1, 2] * pz
        out[13, j] = G[2, 0] * px + G[2, 1] * py + G[2, 2] * pz
        out[14, j] = G[0, 0] * vx + G[0, 1] * vy + G[0, 2] * vz
        out[15, j] = G[1, 0] * vx + G[1, 1] * vy + G[1, 2] * vz
        out[16, j] = G[2, 0] * vx + G[2, 1] * vy + G[2, 2] * vz


BLOCK = 4096  # stars per scratch block: 17 × 4096 doubles stay in L2


def _select(ra, dec, dist, pmra, pmdec, rv, A, offset, vsun, G, k, rows, out):
    """All quantities block by block into an L2-resident scratch, then only ``rows`` (indices
    into :data:`OUTPUTS`) copied out: memory traffic for the columns asked for, not all 17."""
    n = ra.shape[0]
    for b in nb.prange((n + BLOCK - 1) // BLOCK):
        i0 = b * BLOCK
        i1 = min(n, i0 + BLOCK)
        scratch = np.empty((17, BLOCK))
        _transform(ra, dec, dist, pmra, pmdec, rv, A, offset, vsun, G, k, scratch, i0, i1)
        for s in range(rows.shape[0]):
            q = rows[s]
            for j in range(i1 - i0):
                out[s, i0 + j] = scratch[q, j]


def _all(ra, dec, dist, pmra, pmdec, rv, A, offset, vsun, G, k, out):
    """All 17 quantities straight into ``out`` (17, n), block by block."""
    n = ra.shape[0]
    for b in nb.prange((n + BLOCK - 1) // BLOCK):
        i0 = b * BLOCK
        i1 = min(n, i0 + BLOCK)
        _transform(ra, dec, dist, pmra, pmdec, rv, A, offset, vsun, G, k, out[:, i0:i1], i0, i1)


# serial versions are safe to call from several dask worker threads at once; the parallel ones
# use all cores (numba threads) for one large in-memory catalog
transform_all = nb.njit(nogil=True, cache=True)(_all)
transform_all_parallel = nb.njit(nogil=True, cache=True, parallel=True)(_all)
transform_selected = nb.njit(nogil=True, cache=True)(_select)
transform_selected_parallel = nb.njit(nogil=True, cache=True, parallel=True)(_select)


#: outputs of :func:`velocity_errors`, in order
ERROR_OUTPUTS = ("vR_error", "vphi_error", "vz_error")


@nb.njit(nogil=True, cache=True)
def velocity_errors(ra, dec, dist, pmra, pmdec, rv, s_dist, s_pmra, s_pmdec, s_rv, corr,
                    A, offset, vsun, k, out):
    """Linear (first-order) propagation of astrometric and RV errors to σ(v_R, v_φ, v_z).

    The Jacobian of (v_R, v_φ, v_z) with respect to (d, μ_α*, μ_δ, v_los) is analytic: v_z
    depends on the velocity only; v_R and v_φ also on the position angle, which moves with the
    distance. Inputs are independent except μ_α*–μ_δ (``corr``, Gaia's pmra_pmdec_corr; zeros
    if unknown). Units: kpc, mas/yr, km/s; outputs km/s in ``out`` (3, n).
    """
    deg = np.pi / 180.0
    for i in range(ra.shape[0]):
        a = ra[i] * deg
        d = dec[i] * deg
        ca, sa, cd, sd = np.cos(a), np.sin(a), np.cos(d), np.sin(d)
        r = dist[i]
        # unit vectors in ICRS: line of sight, east (alpha), north (delta)
        lx, ly, lz = cd * ca, cd * sa, sd
        ex, ey, ez = -sa, ca, 0.0
        nx, ny, nz = -sd * ca, -sd * sa, cd
        # position and velocity in the Galactocentric frame
        px = A[0, 0] * lx + A[0, 1] * ly + A[0, 2] * lz
        py = A[1, 0] * lx + A[1, 1] * ly + A[1, 2] * lz
        x = r * px + offset[0]
        y = r * py + offset[1]
        ux = k * r * pmra[i]
        uy = k * r * pmdec[i]
        vx_i = rv[i] * lx + ux * ex + uy * nx
        vy_i = rv[i] * ly + ux * ey + uy * ny
        vz_i = rv[i] * lz + ux * ez + uy * nz
        gvx = A[0, 0] * vx_i + A[0, 1] * vy_i + A[0, 2] * vz_i + vsun[0]
        gvy = A[1, 0] * vx_i + A[1, 1] * vy_i + A[1, 2] * vz_i + vsun[1]
        R = np.hypot(x, y)
        vR = (x * gvx + y * gvy) / R
        vphi = (y * gvx - x * gvy) / R
        # derivatives of the ICRS velocity with respect to (d, pmra, pmdec, rv)
        jac = np.empty((3, 4))  # rows vR, vphi, vz
        for j in range(4):
            if j == 0:
                dvx = k * (pmra[i] * ex + pmdec[i] * nx)
                dvy = k * (pmra[i] * ey + pmdec[i] * ny)
                dvz = k * (pmra[i] * ez + pmdec[i] * nz)
                dpx, dpy = px, py
            elif j == 1:
                dvx, dvy, dvz = k * r * ex, k * r * ey, k * r * ez
                dpx = dpy = 0.0
            elif j == 2:
                dvx, dvy, dvz = k * r * nx, k * r * ny, k * r * nz
                dpx = dpy = 0.0
            else:
                dvx, dvy, dvz = lx, ly, lz
                dpx = dpy = 0.0
            gdx = A[0, 0] * dvx + A[0, 1] * dvy + A[0, 2] * dvz
            gdy = A[1, 0] * dvx + A[1, 1] * dvy + A[1, 2] * dvz
            gdz = A[2, 0] * dvx + A[2, 1] * dvy + A[2, 2] * dvz
            pdp = (x * dpx + y * dpy) / R  # dR
            jac[0, j] = (dpx * gvx + dpy * gvy + x * gdx + y * gdy) / R - vR * pdp / R
            jac[1, j] = (dpy * gvx + y * gdx - dpx * gvy - x * gdy) / R - vphi * pdp / R
            jac[2, j] = gdz
        s = (s_dist[i], s_pmra[i], s_pmdec[i], s_rv[i])
        c12 = corr[i] * s[1] * s[2]
        for q in range(3):
            var = 0.0
            for j in range(4):
                var += (jac[q, j] * s[j]) ** 2
            var += 2.0 * jac[q, 1] * jac[q, 2] * c12
            out[q, i] = np.sqrt(var)
