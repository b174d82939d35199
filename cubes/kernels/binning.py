"""The accumulation kernel: one pass over a block of stars into a flat moment array.

Hand-written in numba because no library fills N-D moment histograms with hashed jackknife groups,
mixed axis kinds (regular, irregular, hexagonal, categorical), validity accounting and selection
masks in a single pass: numpy.histogramdd / scipy.binned_statistic_dd need one pass per moment
and per axis, boost-histogram has no replicate groups and only one sample per fill. One fused pass
reads each star once, which is what makes a 16-replicate cube cost about one plain histogram.

The kernel knows nothing of xarray or dask. Its layout:

``acc[((flat * K) + g) * M + m]``  flat = C-order bin index, g = jackknife group, m = moment:
all the groups of a bin side by side, so a bin's moments share a few cache lines and a page.

Moments, in order: count; Σw, Σw² (weighted builds only); for each value v, Σ w (v − c_v)^p for
p = 1..powers[v]; for each error column, Σ w σ²; for each cross pair (a, b), Σ w (a − c_a)(b − c_b).

Axis kinds (``ai[a, 0]``): REGULAR (arithmetic index; the axis stores that arithmetic's exact
edges), EDGES (binary search), HEX (two columns, axial cube rounding and a lattice lookup
table), CODE (pre-computed category codes: −1 = not a category, NaN = invalid).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .prefetch import PREFETCH_DISTANCE, prefetch

REGULAR, EDGES, HEX, CODE = 0, 1, 2, 3

# columns of the integer axis parameter table ``ai``
(AI_KIND, AI_COL, AI_COL2, AI_N, AI_EDGE0, AI_TABLE0,
 AI_QMIN, AI_RMIN, AI_NQ, AI_NR, AI_SWAP, AI_OFFSET) = range(12)
N_AI = 12
# columns of the float axis parameter table ``af``
AF_LO, AF_HI, AF_SCALE, AF_X0, AF_Y0, AF_ORIGIN = range(6)
N_AF = 6

# counters
C_READ, C_USED, C_OUTSIDE, C_INVALID, C_DESELECTED = range(5)
N_COUNTERS = 5

_SQRT3 = np.sqrt(3.0)


@nb.njit(nogil=True, inline="always")
def splitmix64(x: np.uint64) -> np.uint64:
    """SplitMix64 finaliser (Steele et al. 2014): a stable, well-mixed hash of a 64-bit id."""
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@nb.njit(nogil=True, inline="always")
def group_of(key: np.int64, k: np.int64) -> np.int64:
    """Jackknife group of a star id: the top 32 bits of splitmix64(id), scaled to [0, k).

    (Lemire's multiply-shift range reduction: uniform like ``% k``, without a division.)
    """
    h = splitmix64(np.uint64(key)) >> np.uint64(32)
    return np.int64((h * np.uint64(k)) >> np.uint64(32))


@nb.njit(nogil=True, cache=True)
def replicate_groups(ids: np.ndarray, row0: int, n: int, k: int) -> np.ndarray:
    """Jackknife group of each star (id = global row number when ``ids`` is empty)."""
    out = np.empty(n, np.int64)
    use_rows = ids.shape[0] == 0
    for i in range(n):
        out[i] = group_of(np.int64(row0 + i) if use_rows else ids[i], np.int64(k))
    return out


@nb.njit(nogil=True, cache=True)
def fnv1a_rows(b: np.ndarray) -> np.ndarray:
    """64-bit FNV-1a hash of each row of a (n, width) uint8 matrix, ignoring trailing NUL bytes.

    Used to turn string star ids (APOGEE_ID) into stable integer ids.
    """
    n, w = b.shape
    out = np.empty(n, np.uint64)
    for i in range(n):
        end = w
        while end > 0 and b[i, end - 1] == 0:
            end -= 1
        h = np.uint64(0xCBF29CE484222325)
        for j in range(end):
            h = (h ^ np.uint64(b[i, j])) * np.uint64(0x100000001B3)
        out[i] = h
    return out


@nb.njit(nogil=True, inline="always")
def _edge_search(x, edges, e0, n):
    # largest b with edges[e0 + b] <= x; the last edge is inclusive (numpy convention).
    lo = 0
    hi = n  # edges[e0 + n] is the last edge
    if x == edges[e0 + n]:
        return n - 1
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if edges[e0 + mid] <= x:
            lo = mid
        else:
            hi = mid
    return lo


@nb.njit(nogil=True, inline="always")
def _hex_axial(px, py, inv_size):
    # pointy-top axial coordinates (q, r) of the hexagon containing (px, py), by cube rounding.
    fq = (_SQRT3 / 3.0 * px - py / 3.0) * inv_size
    fr = (2.0 / 3.0 * py) * inv_size
    fs = -fq - fr
    q = np.floor(fq + 0.5)
    r = np.floor(fr + 0.5)
    s = np.floor(fs + 0.5)
    dq = abs(q - fq)
    dr = abs(r - fr)
    ds = abs(s - fs)
    if dq > dr and dq > ds:
        q = -r - s
    elif dr > ds:
        r = -q - s
    return np.int64(q), np.int64(r)


@nb.njit(nogil=True, cache=True)
def _regular_params(a, naxes, ai, af, strides):
    # (lo, hi, scale, origin, offset, top, stride) of axis a, the integers as floats (exact
    # below 2**53); a dummy that never flags a star and adds nothing when a >= naxes
    if a >= naxes:
        return -np.inf, np.inf, 0.0, 0.0, 0.0, 0.0, 0.0
    return (af[a, AF_LO], af[a, AF_HI], af[a, AF_SCALE], af[a, AF_ORIGIN],
            float(ai[a, AI_OFFSET]), float(ai[a, AI_N] - 1), float(strides[a]))


@nb.njit(nogil=True, cache=True)
def _bin_regular4(cols, i0, m, st, flat, ai, af, strides, col_invalid, xa, xb, ncheck, cva):
    """All axes regular (at most 4): one branch-free pass computing the flat index.

    Equivalent to four :func:`_bin_axis` calls, without re-reading and re-writing the per-star
    state between axes. With ``ncheck == 2`` it also checks the two value columns ``xa``, ``xb``
    (their non-finite counts go to ``col_invalid[cva]`` and ``[cva + 1]``).
    """
    naxes = ai.shape[0]
    x0 = cols[ai[0, AI_COL]]
    x1 = cols[ai[1, AI_COL]] if naxes > 1 else x0
    x2 = cols[ai[2, AI_COL]] if naxes > 2 else x0
    x3 = cols[ai[3, AI_COL]] if naxes > 3 else x0
    lo0, hi0, sc0, or0, of0, tp0, sd0 = _regular_params(0, naxes, ai, af, strides)
    lo1, hi1, sc1, or1, of1, tp1, sd1 = _regular_params(1, naxes, ai, af, strides)
    lo2, hi2, sc2, or2, of2, tp2, sd2 = _regular_params(2, naxes, ai, af, strides)
    lo3, hi3, sc3, or3, of3, tp3, sd3 = _regular_params(3, naxes, ai, af, strides)
    check = ncheck == 2
    anybad = False
    for j in range(m):
        v0 = x0[i0 + j]
        v1 = x1[i0 + j]
        v2 = x2[i0 + j]
        v3 = x3[i0 + j]
        # NaN/inf in any column (dummy axes repeat column 0, which changes nothing here)
        bad = (v0 - v0 != 0.0) | (v1 - v1 != 0.0) | (v2 - v2 != 0.0) | (v3 - v3 != 0.0)
        if check:  # loop-invariant: LLVM unswitches it
            ua = xa[i0 + j]
            ub = xb[i0 + j]
            bad = bad | (ua - ua != 0.0) | (ub - ub != 0.0)
        out = ((v0 < lo0) | (v0 > hi0) | (v1 < lo1) | (v1 > hi1) | (v2 < lo2) | (v2 > hi2)
               | (v3 < lo3) | (v3 > hi3))
        # the bin and the flat index in floating point (integers, exact), one conversion at the
        # end: float clamps and multiplies vectorise far better than 64-bit integer ones.
        # numba's max(0.0, NaN) is 0.0, so a NaN lands in bin 0 (and is flagged invalid).
        f = min(tp0, max(0.0, np.floor((v0 - or0) * sc0) + of0)) * sd0
        f += min(tp1, max(0.0, np.floor((v1 - or1) * sc1) + of1)) * sd1
        f += min(tp2, max(0.0, np.floor((v2 - or2) * sc2) + of2)) * sd2
        f += min(tp3, max(0.0, np.floor((v3 - or3) * sc3) + of3)) * sd3
        flat[j] = np.int64(f)
        anybad |= bad
        st[j] |= np.int8(out) * np.int8(1 - bad) + np.int8(2 * bad)
    if anybad:  # rare: count the non-finite entries of each column (stars not deselected)
        for a in range(naxes):
            _check_finite(cols[ai[a, AI_COL]], i0, m, st, col_invalid, ai[a, AI_COL])
        if check:
            _check_finite(xa, i0, m, st, col_invalid, cva)
            _check_finite(xb, i0, m, st, col_invalid, cva + 1)


# per-star state bits within a block; priority deselected > invalid > outside
OUTSIDE_BIT, INVALID_BIT, DESELECTED_BIT = 1, 2, 4


@nb.njit(nogil=True, cache=True)
def _check_finite(x, i0, m, st, col_invalid, c):
    """Flag non-finite entries (counted per column among stars not deselected)."""
    bad_count = 0
    for j in range(m):
        v = x[i0 + j]
        bad = not (v - v == 0.0)  # NaN and ±inf, without a branch
        bad_count += bad and (st[j] & DESELECTED_BIT) == 0
        st[j] |= INVALID_BIT * bad
    col_invalid[c] += bad_count


@nb.njit(nogil=True, cache=True)
def _bin_axis(a, x, y, i0, m, st, flat, stride, ai, af, edges, tables, col_invalid):
    """Add axis a's bin of stars i0..i0+m to ``flat``; flag stars outside it or non-finite.

    Regular and edges axes check finiteness in the same branch-free loop; a star flagged by an
    earlier axis still gets a (harmless, unused) bin here, so that every column's non-finite
    entries are counted.
    """
    kind = ai[a, AI_KIND]
    n = ai[a, AI_N]
    e0 = ai[a, AI_EDGE0]
    c = ai[a, AI_COL]
    if kind == REGULAR:
        lo = af[a, AF_LO]
        hi = af[a, AF_HI]
        scale = af[a, AF_SCALE]
        origin = af[a, AF_ORIGIN]
        offset = ai[a, AI_OFFSET]
        bad_count = 0
        for j in range(m):  # branch-free so that LLVM vectorises it
            v = x[i0 + j]
            bad = not (v - v == 0.0)  # NaN and ±inf
            inside = (v >= lo) & (v <= hi)
            # floor((v - origin) * scale) + offset: the bin rule whose exact thresholds the
            # axis stores as its bounds (cubes.axes.arithmetic_edges); numba's
            # max(-1e18, NaN) is -1e18, so NaN lands in bin 0 (and is flagged invalid)
            t = min(1e18, max(-1e18, np.floor((v - origin) * scale)))
            b = min(n - 1, max(0, np.int64(t) + offset))
            flat[j] += b * stride
            bad_count += np.int64(bad & ((st[j] & DESELECTED_BIT) == 0))
            st[j] |= np.int8(1 - inside) | np.int8(2 * bad)
        col_invalid[c] += bad_count
    elif kind == EDGES:
        _check_finite(x, i0, m, st, col_invalid, c)
        for j in range(m):
            v = x[i0 + j]
            if st[j] != 0:
                continue
            if v < edges[e0] or v > edges[e0 + n]:
                st[j] |= OUTSIDE_BIT
                continue
            flat[j] += _edge_search(v, edges, e0, n) * stride
    elif kind == HEX:
        _check_finite(x, i0, m, st, col_invalid, c)
        _check_finite(y, i0, m, st, col_invalid, ai[a, AI_COL2])
        x0 = af[a, AF_X0]
        y0 = af[a, AF_Y0]
        inv = af[a, AF_SCALE]
        swap = ai[a, AI_SWAP] == 1
        qmin, rmin, nq, nr = ai[a, AI_QMIN], ai[a, AI_RMIN], ai[a, AI_NQ], ai[a, AI_NR]
        t0 = ai[a, AI_TABLE0]
        for j in range(m):
            if st[j] != 0:
                continue
            px = x[i0 + j] - x0
            py = y[i0 + j] - y0
            if swap:
                px, py = py, px
            q, r = _hex_axial(px, py, inv)
            q -= qmin
            r -= rmin
            b = -1
            if q >= 0 and r >= 0 and q < nq and r < nr:
                b = tables[t0 + q * nr + r]
            if b < 0:
                st[j] |= OUTSIDE_BIT
            else:
                flat[j] += b * stride
    else:  # CODE
        _check_finite(x, i0, m, st, col_invalid, c)
        for j in range(m):
            if st[j] != 0:
                continue
            v = x[i0 + j]
            b = np.int64(v) if v >= 0 else -1
            if b < 0 or b >= n:
                st[j] |= OUTSIDE_BIT
            else:
                flat[j] += b * stride


BLOCK = 1024  # stars per inner block: per-star state and value buffers stay in L1


@nb.njit(nogil=True, cache=True)
def fill(
    cols, ncols, ai, af, edges, tables, strides, nbins,
    vcols, shifts, powers, ecols, necols, cross,
    weights, selected, ids, row0, k1, acc, counters, col_invalid,
):  # fmt: skip
    """Accumulate one block of stars into ``acc`` (see the module docstring for the layout).

    Stars are processed in blocks of ``BLOCK``. Within a block, each stage is a tight,
    branch-free loop over contiguous memory that LLVM vectorises: validity of the values, the
    bin index (one fused pass when all axes are regular and at most four, else one loop per
    axis), the jackknife hash, and the compaction of the used stars with their offsets in
    ``acc``. Then each used star adds all its moments at once (its bin's moments are
    contiguous, all jackknife groups of a bin side by side), with the cache line of the star
    ``PREFETCH_DISTANCE`` ahead requested in advance.

    Parameters
    ----------
    cols : tuple of float64 arrays
        Axis columns (padded with empty arrays); the first ``ncols`` are real.
    ai, af, edges, tables : arrays
        Axis parameter tables (see ``AI_*``, ``AF_*``), concatenated edges and hex lookup tables.
    strides : int64 array
        C-order stride of each axis in the flat bin index; ``nbins`` the number of bins.
    vcols, shifts, powers : tuple of float64 arrays, float64 array, int64 array
        Value columns (first ``len(shifts)`` real), their shifts c_v and highest powers.
    ecols, necols : tuple of float64 arrays, int
        Per-star error columns (σ, same units as the value), first ``necols`` real.
    cross : int64 array (ncross, 2)
        Index pairs into ``vcols`` of cross moments.
    weights, selected, ids : arrays of length 0 (absent) or n
        Per-star weights (float64), selection mask (uint8) and star ids (int64) whose hash
        gives the jackknife group (:func:`group_of`); without ids, the row number
        ``row0 + i`` is hashed.
    k1 : int
        Number of jackknife groups (1 without replicates).
    acc, counters, col_invalid : float64, int64, int64 arrays, updated in place
        Moments at ``((flat * k1) + g) * M + m``; [read, used, outside, invalid, deselected];
        non-finite entries per column (axis columns, then values, then errors, then weights).
    """
    naxes = ai.shape[0]
    nv = shifts.shape[0]
    ncross = cross.shape[0]
    has_w = weights.shape[0] > 0
    has_sel = selected.shape[0] > 0
    has_g = k1 > 1
    use_rows = ids.shape[0] == 0
    M = 1 + (2 if has_w else 0) + necols + ncross
    for v in range(nv):
        M += powers[v]
    n = 0
    if ncols > 0:
        n = cols[0].shape[0]
    elif nv > 0:
        n = vcols[0].shape[0]
    counters[C_READ] += n
    st = np.empty(BLOCK, np.int8)  # OUTSIDE_BIT | INVALID_BIT | DESELECTED_BIT, 0 = used
    flat = np.empty(BLOCK, np.int64)
    w = np.ones(BLOCK)
    buf = np.empty((max(nv, 1), BLOCK))
    ebuf = np.empty((max(necols, 1), BLOCK))
    use = np.empty(BLOCK, np.int64)  # positions of the used stars of a block
    bins = np.empty(BLOCK, np.int64)  # their moment offsets in acc
    grp = np.zeros(BLOCK, np.int64)  # jackknife group of each star of the block
    n_used = n_invalid = n_deselected = 0
    all_regular = 1 <= naxes <= 4
    for a in range(naxes):
        all_regular = all_regular and ai[a, AI_KIND] == REGULAR
    simple = (not has_w) and necols == 0 and ncross == 0
    for v in range(nv):
        simple = simple and powers[v] == 2
    two_values = simple and nv == 2
    fuse_values = two_values and all_regular  # value checks ride on the fused axis pass
    xa = vcols[0]
    xb = vcols[1]
    ca = shifts[0] if nv > 0 else 0.0
    cb = shifts[1] if nv > 1 else 0.0
    for i0 in range(0, n, BLOCK):
        m = min(BLOCK, n - i0)
        if has_sel:
            for j in range(m):
                st[j] = DESELECTED_BIT * (selected[i0 + j] == 0)
        else:
            st[:m] = 0
        if not all_regular:  # (the fused regular pass assigns the index itself)
            flat[:m] = 0
        for v in range(nv if not fuse_values else 0):
            x = vcols[v]
            c = shifts[v]
            bad_count = 0
            if two_values:  # check only: the accumulation reads the columns directly
                _check_finite(x, i0, m, st, col_invalid, ncols + v)
            else:
                for j in range(m):  # gather, shift and check in one vectorisable loop
                    d = x[i0 + j] - c
                    buf[v, j] = d
                    bad = not (d - d == 0.0)
                    bad_count += np.int64(bad & ((st[j] & DESELECTED_BIT) == 0))
                    st[j] |= np.int8(2 * bad)
            col_invalid[ncols + v] += bad_count
        for e in range(necols):
            x = ecols[e]
            for j in range(m):
                ebuf[e, j] = x[i0 + j]
            _check_finite(x, i0, m, st, col_invalid, ncols + nv + e)
        if has_w:
            _check_finite(weights, i0, m, st, col_invalid, ncols + nv + necols)
            for j in range(m):
                w[j] = weights[i0 + j]
        if all_regular:
            _bin_regular4(cols, i0, m, st, flat, ai, af, strides, col_invalid, xa, xb,
                          2 if fuse_values else 0, ncols)
        else:
            for a in range(naxes):
                _bin_axis(a, cols[ai[a, AI_COL]], cols[ai[a, AI_COL2]], i0, m, st, flat,
                          strides[a], ai, af, edges, tables, col_invalid)
        if has_g:  # the hash in its own branch-free loop, so that it vectorises
            if use_rows:
                for j in range(m):
                    grp[j] = group_of(np.int64(row0 + i0 + j), k1)
            else:
                for j in range(m):
                    grp[j] = group_of(ids[i0 + j], k1)
        # branch-free classification and compaction of the used stars and their offsets
        nu = 0
        for j in range(m):
            s = st[j]
            use[nu] = j
            bins[nu] = ((flat[j] * k1) + grp[j]) * M
            nu += s == 0
            n_deselected += (s & DESELECTED_BIT) != 0
            n_invalid += (s & (INVALID_BIT | DESELECTED_BIT)) == INVALID_BIT
        n_used += nu
        for t in range(nu):
            if t + PREFETCH_DISTANCE < nu:
                prefetch(acc, bins[t + PREFETCH_DISTANCE])
            j = use[t]
            b = bins[t]
            acc[b] += 1.0
            if two_values:  # the commonest case, unrolled, straight from the columns
                d0 = xa[i0 + j] - ca
                d1 = xb[i0 + j] - cb
                acc[b + 1] += d0
                acc[b + 2] += d0 * d0
                acc[b + 3] += d1
                acc[b + 4] += d1 * d1
                continue
            if simple:  # Σd, Σd² per value, unweighted
                for v in range(nv):
                    d = buf[v, j]
                    acc[b + 1 + 2 * v] += d
                    acc[b + 2 + 2 * v] += d * d
                continue
            wj = w[j]
            k = 1
            if has_w:
                acc[b + 1] += wj
                acc[b + 2] += wj * wj
                k = 3
            for v in range(nv):
                d = buf[v, j]
                t = wj
                for _ in range(powers[v]):
                    t *= d
                    acc[b + k] += t
                    k += 1
            for e in range(necols):
                acc[b + k] += wj * ebuf[e, j] * ebuf[e, j]
                k += 1
            for q in range(ncross):
                acc[b + k] += wj * buf[cross[q, 0], j] * buf[cross[q, 1], j]
                k += 1
    counters[C_USED] += n_used
    counters[C_INVALID] += n_invalid
    counters[C_DESELECTED] += n_deselected
    counters[C_OUTSIDE] += n - n_used - n_invalid - n_deselected


@nb.njit(nogil=True, cache=True)
def locate(cols, ncols, ai, af, edges, tables, strides, out):
    """Flat C-order bin index of every star into ``out`` (int64): −1 where the star is outside
    an axis or has a non-finite axis column. The same bin rules as :func:`fill` (one
    :func:`_bin_axis` call per axis), so a star is located in the bin it is counted in."""
    naxes = ai.shape[0]
    n = cols[0].shape[0] if ncols > 0 else 0
    st = np.empty(BLOCK, np.int8)
    flat = np.empty(BLOCK, np.int64)
    col_invalid = np.zeros(ncols, np.int64)
    for i0 in range(0, n, BLOCK):
        m = min(BLOCK, n - i0)
        st[:m] = 0
        flat[:m] = 0
        for a in range(naxes):
            x = cols[ai[a, AI_COL]]
            y = cols[ai[a, AI_COL2]] if ai[a, AI_KIND] == HEX else x
            _bin_axis(a, x, y, i0, m, st, flat, strides[a], ai, af, edges, tables, col_invalid)
        for j in range(m):
            out[i0 + j] = flat[j] if st[j] == 0 else -1
