"""Fused heliocentric → Galactocentric transform of positions and velocities (numba).

Hand-written because astropy's ``ICRS → Galactocentric`` builds representation objects and
differentials per call (about 0.7 s per million stars here); one pass per star applies the same
constant matrices (taken from astropy once per frame, see :mod:`cubes.frames`). Knows nothing of
xarray.
"""

from __future__ import annotations

import numba as nb
import numpy as np

#: outputs, in order: x y z vx vy vz R phi vR vphi Lz X Y Z U V W
OUTPUTS = ("x", "y", "z", "vx", "vy", "vz", "R", "phi", "vR", "vphi", "Lz",
           "X", "Y", "Z", "U", "V", "W")


def _transform(ra, dec, dist, pmra, pmdec, rv, A, offset, vsun, G, k, out):
    """Transform stars from ICRS to Galactocentric Cartesian and cylindrical quantities.

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
        Filled with :data:`OUTPUTS`: kpc, km/s, deg (phi: 0 at the Sun's azimuth, increasing
        along rotation), kpc km/s (Lz = R vphi).
    """
    deg = np.pi / 180.0
    for i in nb.prange(ra.shape[0]):
        a = ra[i] * deg
        d = dec[i] * deg
        ca, sa, cd, sd = np.cos(a), np.sin(a), np.cos(d), np.sin(d)
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
        R = np.hypot(gx, gy)
        # library convention: phi = 0 at the Sun (x < 0), increasing along rotation (+y)
        phi = np.arctan2(gy, -gx)
        cphi = -gx / R
        sphi = gy / R
        out[0, i] = gx
        out[1, i] = gy
        out[2, i] = gz
        out[3, i] = gvx
        out[4, i] = gvy
        out[5, i] = gvz
        out[6, i] = R
        out[7, i] = phi / deg
        out[8, i] = -(gvx * cphi) + gvy * sphi  # outward: along (x, y)/R = (-cphi, sphi)
        out[9, i] = gvx * sphi + gvy * cphi  # along rotation
        out[10, i] = R * out[9, i]
        # heliocentric Galactic Cartesian
        out[11, i] = G[0, 0] * px + G[0, 1] * py + G[0, 2] * pz
        out[12, i] = G[1, 0] * px + G[1, 1] * py + G[1, 2] * pz
        out[13, i] = G[2, 0] * px + G[2, 1] * py + G[2, 2] * pz
        out[14, i] = G[0, 0] * vx + G[0, 1] * vy + G[0, 2] * vz
        out[15, i] = G[1, 0] * vx + G[1, 1] * vy + G[1, 2] * vz
        out[16, i] = G[2, 0] * vx + G[2, 1] * vy + G[2, 2] * vz


#: serial: safe to call from several dask worker threads at once
icrs_to_galactocentric = nb.njit(nogil=True, cache=True)(_transform)
#: the same on all cores (numba threads), for one large in-memory catalog
icrs_to_galactocentric_parallel = nb.njit(nogil=True, cache=True, parallel=True)(_transform)
