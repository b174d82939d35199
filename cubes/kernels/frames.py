"""Fused heliocentric → Galactocentric transform of positions and velocities (numba).

Hand-written because astropy's ``ICRS → Galactocentric`` builds representation objects and
differentials per call (about 0.7 s per million stars here); one pass per star applies the same
constant matrices (taken from astropy once per frame, see :mod:`cubes.frames`). Knows nothing of
xarray.

Speed notes (this 2-core machine; astropy ≈ 250 ns/star once warm). The star loop is written so
that LLVM vectorises it (AVX-512: 8 stars per instruction), which took the arithmetic from 23 to
5 ns/star for the six Cartesian outputs and 10 for all 17 (in cache, one thread). On 2 M stars
the rest is memory: reading the inputs, writing the columns, and the kernel zeroing the fresh
pages of the output on first touch (12 ms for six columns, 96 MB, on one thread; 7 ms on two,
hence :func:`transform`'s threads; docs/benchmarks.md):

- no libm calls (sin, cos, atan2 are polynomial / rational, branch-free, below);
- ``error_model="numpy"``: a division cannot raise, so the loop has no early exit;
- unsigned star indices: numba's negative-index wraparound otherwise turns every load into a
  gather;
- results go to an L1/L2-resident scratch allocated in the kernel, which LLVM knows aliases no
  input, then row by row into the output columns; stores straight into the caller's columns
  need more runtime alias checks than LLVM will emit. The copies are non-temporal stores
  (:mod:`cubes.kernels.streaming`): no read of the output lines before writing them, no
  eviction of the inputs (6 outputs 16 → 12 ms, 17 outputs 40 → 24 ms, one thread);
- ``fastmath={"contract"}`` only: fused multiply-adds (one rounding instead of two), no
  reassociation, NaN and inf semantics kept;
- one compiled specialisation per group of outputs asked for (:func:`transform`), so
  ``outputs=("x", "y", "z", "vx", "vy", "vz")`` does not pay for atan2, sqrt and divisions.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numba as nb
import numpy as np

from .streaming import store_fence, stream

_FASTMATH = {"contract"}

# sin and cos of the small reduced angle (|x| <= pi/4): Cephes' minimax polynomials (sin.c;
# error < 1.5e-16 here, checked against long double), which need 2 and 3 fewer terms than the
# Taylor series. Plain arithmetic: libm's scalar sin/cos cost 15 ns each here (numba has no
# vector math library in this llvmlite build).
_S = (-1.66666666666666307295e-1, 8.33333333332211858878e-3, -1.98412698295895385996e-4,
      2.75573136213857245213e-6, -2.50507477628578072866e-8, 1.58962301576546568060e-10)
_C = (4.16666666666665929218e-2, -1.38888888888730564116e-3, 2.48015872888517045348e-5,
      -2.75573141792967388112e-7, 2.08757008419747316778e-9, -1.13585365213876817300e-11)


@nb.njit(nogil=True, inline="always", fastmath=_FASTMATH)
def sincos_deg(angle):
    """(sin, cos) of an angle in degrees, accurate to a few 1e-16.

    The reduction to [-45, 45] deg is exact in degrees (subtracting a multiple of 90 loses no
    bits), so large angles lose nothing either; the quadrant q may be off by one at an exact
    odd multiple of 45 deg (a product by 1/90, not a division), which the polynomials cover.
    The quadrant is applied by selects and signs, not by a branch on it (a switch stops LLVM
    from vectorising the star loop).
    """
    q = np.floor(angle * (1.0 / 90.0) + 0.5)
    x = (angle - 90.0 * q) * (np.pi / 180.0)
    z = x * x
    s = x + x * z * (_S[0] + z * (_S[1] + z * (_S[2] + z * (_S[3] + z * (_S[4] + z * _S[5])))))
    c = 1.0 - 0.5 * z + z * z * (_C[0] + z * (_C[1] + z * (_C[2] + z * (_C[3] + z * (
        _C[4] + z * _C[5])))))
    k = np.int64(q) & 3  # quadrant: (sin, cos) = (s, c), (c, -s), (-s, -c), (-c, s)
    odd = (k & 1) == 1
    sin = (1.0 - (k & 2)) * (c if odd else s)
    cos = (1.0 - ((k + 1) & 2)) * (s if odd else c)
    return sin, cos


# atan on [0, 0.66] as t + t³ P(t²)/Q(t²) (Cephes atan.c, relative error < 2e-16); larger
# ratios are brought there by atan(t) = π/4 + atan((t - 1)/(t + 1)).
_AP = (-8.750608600031904122785e-1, -1.615753718733365076637e1, -7.500855792314704667340e1,
       -1.228866684490136173410e2, -6.485021904942025371773e1)
_AQ = (2.485846490142306297962e1, 1.650270098316988542046e2, 4.328810604912902668951e2,
       4.853903996359136964868e2, 1.945506571482613964425e2)
_PIO4_LO = 3.061616997868382943065e-17  # π/4 − fl(π/4)


@nb.njit(nogil=True, inline="always", fastmath=_FASTMATH, error_model="numpy")
def atan2_deg(y, x):
    """atan2(y, x) in degrees, in [-180, 180], to about 1e-14 deg; 0 for x = y = 0, NaN if
    either is NaN.

    Branch-free (vectorisable) where numpy's arctan2 would cost a separate pass over the
    columns and libm's a scalar call per star.
    """
    ax, ay = abs(x), abs(y)
    swap = ay > ax  # selects rather than min/max, so that a NaN propagates
    hi = ay if swap else ax
    lo = ax if swap else ay
    big = lo > 0.66 * hi  # ratio t = lo / hi in (0.66, 1]: reduce by π/4
    t = (lo - hi if big else lo) / (lo + hi if big else hi)
    t = 0.0 if hi == 0.0 else t
    z = t * t
    p = (((_AP[0] * z + _AP[1]) * z + _AP[2]) * z + _AP[3]) * z + _AP[4]
    q = ((((z + _AQ[0]) * z + _AQ[1]) * z + _AQ[2]) * z + _AQ[3]) * z + _AQ[4]
    a = t + t * (z * p / q)
    a = (a + _PIO4_LO) + np.pi / 4 if big else a
    a = np.pi / 2 - a if swap else a
    a = np.pi - a if x < 0.0 else a
    a = -a if y < 0.0 else a
    return a * (180.0 / np.pi)


#: outputs, in order: x y z vx vy vz R phi vR vphi Lz X Y Z U V W
OUTPUTS = ("x", "y", "z", "vx", "vy", "vz", "R", "phi", "vR", "vphi", "Lz",
           "X", "Y", "Z", "U", "V", "W")
CYLINDRICAL = ("R", "phi", "vR", "vphi", "Lz")
HELIOCENTRIC = ("X", "Y", "Z", "U", "V", "W")

BLOCK = 256  # stars per scratch block: 17 × 256 doubles stay in L1/L2


@nb.njit(nogil=True, inline="always", fastmath=_FASTMATH, error_model="numpy")
def _transform(ra, dec, dist, pmra, pmdec, rv, A_, offset, vsun, G_, k, parallax, vc, outs,
               i0, i1, cylindrical, heliocentric, fallback):
    """Stars ``i0:i1`` into ``outs[q][i0:i1]`` for each non-empty ``outs[q]`` (q indexing
    :data:`OUTPUTS`); ``cylindrical``, ``heliocentric``, ``fallback`` are compile-time
    constants of each specialisation (see :func:`transform` for the arguments). Returns the
    number of invalid parallaxes (0 for distances)."""
    A = (A_[0, 0], A_[0, 1], A_[0, 2], A_[1, 0], A_[1, 1], A_[1, 2], A_[2, 0], A_[2, 1], A_[2, 2])
    G = (G_[0, 0], G_[0, 1], G_[0, 2], G_[1, 0], G_[1, 1], G_[1, 2], G_[2, 0], G_[2, 1], G_[2, 2])
    ox, oy, oz = offset[0], offset[1], offset[2]
    ux, uy, uz = vsun[0], vsun[1], vsun[2]
    scratch = np.empty((len(OUTPUTS), BLOCK))
    invalid = 0
    for b0 in range(i0, i1, BLOCK):
        nblock = min(i1, b0 + BLOCK) - b0
        for j in range(nblock):
            i = np.uint64(b0 + j)
            sa, ca = sincos_deg(ra[i])
            sd, cd = sincos_deg(dec[i])
            if parallax:
                valid = dist[i] > 0.0  # False for NaN too
                invalid += not valid
                r = 1.0 / dist[i] if valid else np.nan
            else:
                r = dist[i]
            lx, ly, lz = cd * ca, cd * sa, sd  # line of sight, ICRS
            px, py, pz = r * lx, r * ly, r * lz
            gx = A[0] * px + A[1] * py + A[2] * pz + ox
            gy = A[3] * px + A[4] * py + A[5] * pz + oy
            gz = A[6] * px + A[7] * py + A[8] * pz + oz
            if cylindrical or fallback:
                R = np.sqrt(gx * gx + gy * gy)
                inv_R = 1.0 / R
                cphi = -gx * inv_R  # phi = 0 towards the Sun (x < 0), growing towards +y
                sphi = gy * inv_R
            vr = rv[i]
            if fallback and not np.isfinite(vr):
                # circular rotation vc (sphi, cphi, 0) relative to the Sun, on the line of
                # sight expressed in Galactocentric axes
                gl0 = A[0] * lx + A[1] * ly + A[2] * lz
                gl1 = A[3] * lx + A[4] * ly + A[5] * lz
                gl2 = A[6] * lx + A[7] * ly + A[8] * lz
                vr = (vc * sphi - ux) * gl0 + (vc * cphi - uy) * gl1 - uz * gl2
            va = k * r * pmra[i]
            vd = k * r * pmdec[i]
            vx = vr * lx - va * sa - vd * sd * ca
            vy = vr * ly + va * ca - vd * sd * sa
            vz = vr * lz + vd * cd
            gvx = A[0] * vx + A[1] * vy + A[2] * vz + ux
            gvy = A[3] * vx + A[4] * vy + A[5] * vz + uy
            gvz = A[6] * vx + A[7] * vy + A[8] * vz + uz
            scratch[0, j] = gx
            scratch[1, j] = gy
            scratch[2, j] = gz
            scratch[3, j] = gvx
            scratch[4, j] = gvy
            scratch[5, j] = gvz
            if cylindrical:
                vphi = gvx * sphi + gvy * cphi  # along rotation
                scratch[6, j] = R
                scratch[7, j] = atan2_deg(gy, -gx)
                scratch[8, j] = gvy * sphi - gvx * cphi  # outward: along (x, y)/R
                scratch[9, j] = vphi
                scratch[10, j] = R * vphi
            if heliocentric:
                scratch[11, j] = G[0] * px + G[1] * py + G[2] * pz
                scratch[12, j] = G[3] * px + G[4] * py + G[5] * pz
                scratch[13, j] = G[6] * px + G[7] * py + G[8] * pz
                scratch[14, j] = G[0] * vx + G[1] * vy + G[2] * vz
                scratch[15, j] = G[3] * vx + G[4] * vy + G[5] * vz
                scratch[16, j] = G[6] * vx + G[7] * vy + G[8] * vz
        for q in range(len(OUTPUTS)):
            column = outs[q]
            if column.shape[0] > 0:
                for j in range(nblock):
                    stream(column, np.uint64(b0 + j), scratch[q, j])  # straight to memory
    store_fence()  # the columns are read by other threads next
    return invalid


def _specialise(cylindrical: bool, heliocentric: bool, fallback: bool):
    """The kernel compiled for one choice of output groups and RV fallback (compiled on first
    use, cached on disk); a closure so that the flags are constants LLVM folds away."""

    def kernel(ra, dec, dist, pmra, pmdec, rv, A, offset, vsun, G, k, parallax, vc, outs, i0,
               i1):
        return _transform(ra, dec, dist, pmra, pmdec, rv, A, offset, vsun, G, k, parallax, vc,
                          outs, i0, i1, cylindrical, heliocentric, fallback)

    kernel.__name__ = kernel.__qualname__ = (
        f"transform_cyl{cylindrical:d}_helio{heliocentric:d}_fallback{fallback:d}")
    return nb.njit(nogil=True, cache=True, fastmath=_FASTMATH, error_model="numpy")(kernel)


_KERNELS = {flags: _specialise(*flags) for flags in itertools.product((False, True), repeat=3)}
_NONE = np.empty(0)  # an output not asked for


@lru_cache(maxsize=4)
def _pool(pid: int, threads: int) -> ThreadPoolExecutor:
    """``threads`` worker threads for :func:`transform`, one pool per process (``pid``): a
    forked child inherits the parent's pool object but not its threads."""
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="cubes-frames")


def transform(ra, dec, dist, pmra, pmdec, rv, A, offset, vsun, G, k, outs: Sequence, *,
              parallax: bool = False, rv_fallback_vc: float | None = None,
              threads: int = 1) -> int:
    """Transform stars from ICRS to Galactocentric Cartesian and cylindrical quantities;
    returns the number of stars whose parallax is not positive or not finite (0 for distances).

    Parameters
    ----------
    ra, dec : contiguous float64 arrays, deg
    dist : contiguous float64 array, kpc; or parallaxes in mas if ``parallax`` (distance =
        1/parallax, NaN where the parallax is not positive or not finite)
    pmra, pmdec : contiguous float64 arrays, mas/yr (pmra includes cos dec)
    rv : contiguous float64 array, km/s
    A, offset, vsun : (3, 3), (3,), (3,)
        ``x_gc = A @ x_icrs + offset`` (kpc) and ``v_gc = A @ v_icrs + vsun`` (km/s), astropy's
        own matrices for the frame.
    G : (3, 3)
        ICRS → Galactic rotation (heliocentric X towards the Galactic centre, Y towards l = 90°).
    k : float
        km/s per (mas/yr × kpc).
    outs : 17 entries, one per :data:`OUTPUTS`
        A contiguous float64 array of the stars' length to fill (kpc, km/s, deg for phi, kpc km/s
        for Lz = R vphi), or None for a quantity not wanted. phi = atan2(y, −x): 0 at the Sun's
        azimuth, increasing along rotation.
    rv_fallback_vc : float, km/s, optional
        Stars with a non-finite ``rv`` get the line-of-sight projection of circular rotation
        at this speed, seen from the moving Sun, instead of NaN velocities.
    threads : int
        Run on this many threads (the kernel holds no GIL), over contiguous parts of the
        stars handed out as threads come free; 1 runs in the calling thread, as dask workers
        do.
    """
    if len(outs) != len(OUTPUTS):
        raise ValueError(f"outs needs {len(OUTPUTS)} entries, got {len(outs)}")
    columns = tuple(_NONE if o is None else o for o in outs)
    wanted = {name for name, o in zip(OUTPUTS, outs, strict=True) if o is not None}
    fallback = rv_fallback_vc is not None
    kernel = _KERNELS[(bool(wanted & set(CYLINDRICAL)), bool(wanted & set(HELIOCENTRIC)),
                       fallback)]
    vc = float(rv_fallback_vc) if fallback else math.nan
    n = ra.shape[0]
    args = (ra, dec, dist, pmra, pmdec, rv, A, offset, vsun, G, k, bool(parallax), vc, columns)
    # Eight parts per thread, pulled from the pool as threads come free: on a shared machine
    # a thread that loses its core to another process no longer holds up the whole call
    # (2 M stars, 2 threads, one busy process on the machine: best 21 -> 14 ms, median
    # 24 -> 19 ms; unchanged on a quiet machine). Parts of fewer than 64 blocks are not worth
    # a hand-off.
    threads = max(1, int(threads))
    parts = 1 if threads == 1 else max(1, min(8 * threads, n // (64 * BLOCK)))
    if parts == 1:
        return kernel(*args, 0, n)
    edges = [n * p // parts // BLOCK * BLOCK for p in range(parts)] + [n]
    pool = _pool(os.getpid(), threads)
    jobs = [pool.submit(kernel, *args, a, b) for a, b in itertools.pairwise(edges)]
    return sum(job.result() for job in jobs)


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
