"""Kernels of the phase-spiral fit (Widmark+2025, spec 004 §5.4–5.6) on one z–w histogram.

Loss and gradient of the bulk background (step 1) and of the spiral model (step 2), and the
coarse (A_Φ, ω) grid with a linear solve; one call loops over all 120 × 120 bins in numba, so
the optimiser (scipy) sees one function of a handful of parameters. No xarray, no dask.

Conventions shared by all kernels
---------------------------------
- ``z`` (n_z,) model heights in pc (z = Z + Z⊙), ``w`` (n_w,) model velocities w = W + W⊙ in
  km/s (the background kernel adds W⊙ itself), ``dz``, ``dw`` bin widths (pc, km/s).
- ``data`` (n_z, n_w) the counts N_ij (row mode) or η_i N_ij (paper mode); ``row`` (n_z,) the
  row totals T_i = Σ_j N_ij (row mode) or η_i (paper mode). A row with ``row[i] <= 0`` has zero
  weight (an empty row).
- ``mode`` bits: without ``ROW``, the paper's (Eqs. 22–23): x_ij = (f_ij − η_i N_ij)/√(η_i f_ij);
  with ``ROW``, row-conditional (the default of :func:`cubes.spiral.fit`): the model is
  normalised to the data's row totals, f^rc_ij = f_ij T_i / Σ_j f_ij, and x_ij =
  (f^rc_ij − N_ij)/√f^rc_ij — the same as the paper's residual with η_i f^rc_ij in place of
  f_ij, since η_i cancels. With ``DEVIANCE``, x is Poisson's deviance residual of the same
  counts instead (:func:`_deviance_residual`; unbiased at low counts, where Pearson's is not).
- loss = Σ_ij log cosh x_ij (= −log L + const, Eqs. 22–23), with log cosh x = |x| + log1p(e^{−2|x|})
  − log 2; expected counts are floored at ``F_FLOOR``.
- Spiral (Eqs. 18–21): S = α cos ψ + β cos 2ψ, ψ = θ_z − φ₆₀₀ − ω h(ε), times the mask M(ε), with
  w̃ = w/√A_Φ, ε = Φ⊙(z) + w̃²/2, θ_z(z, w̃) and h, M(ε) from the tables of
  :mod:`cubes.spiral.tables` (``tab`` = ``SpiralTables.kernel_args()``).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

#: bits of ``mode``: the row-conditional normalisation, and the deviance residual
ROW, DEVIANCE = 1, 2
F_FLOOR = 1e-8  # expected counts below this are floored (an empty corner bin of the model)
TINY = 1e-300  # model values are floored at this before a row normalisation
_LOG2 = math.log(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@nb.njit(nogil=True, inline="always")
def _residual(f, d, scale):
    """x = (f − d)/√(scale f), log cosh x and ∂(log cosh x)/∂f (0 where f is floored);
    log cosh x = |x| + log1p(e) − log 2 and tanh|x| = (1 − e)/(1 + e) with e = e^{−2|x|}."""
    floored = f < F_FLOOR
    if floored:
        f = F_FLOOR
    root = math.sqrt(scale * f)
    x = (f - d) / root
    ax = abs(x)
    e = math.exp(-2.0 * ax)
    lc = ax + math.log1p(e) - _LOG2
    if floored:
        return lc, 0.0
    th = (1.0 - e) / (1.0 + e)
    if x < 0.0:
        th = -th
    return lc, th * (f + d) / (2.0 * f * root)


@nb.njit(nogil=True, inline="always")
def _deviance_residual(f, d, scale):
    """The Poisson deviance residual x = sign(μ − N) √(2[μ − N + N log(N/μ)]) of N = d/scale
    counts about μ = f/scale, log cosh x and ∂(log cosh x)/∂f (0 where f is floored).

    For |x| ≲ 1, log cosh x ≈ x²/2 is the Poisson log-likelihood (unbiased at any count);
    (f − d)/√(scale f) — Pearson's residual — has its minimum at f = √(μ² + μ) > μ instead.
    """
    floored = f < F_FLOOR
    if floored:
        f = F_FLOOR
    mu = f / scale
    n = d / scale
    dev = mu - n
    if n > 0.0:
        dev += n * math.log(n / mu)
    dev = max(2.0 * dev, 0.0)
    ax = math.sqrt(dev)
    e = math.exp(-2.0 * ax)
    lc = ax + math.log1p(e) - _LOG2
    if floored:
        return lc, 0.0
    # ∂lc/∂μ = tanh(x) ∂x/∂μ = (tanh|x|/|x|)(1 − N/μ); tanh(a)/a → 1 − a²/3 at a → 0
    if ax > 1e-4:
        r = (1.0 - e) / ((1.0 + e) * ax)
    else:
        r = 1.0 - dev / 3.0
    return lc, r * (1.0 - n / mu) / scale


@nb.njit(nogil=True, cache=True)
def loss_and_dF(F, data, row, mode, dF):
    """Loss of the expected counts F (n_z, n_w) against the data; writes ∂loss/∂F into ``dF``.

    Row mode normalises F row by row first: ∂/∂F_il = (T_i/S_i)(g_il − Σ_j g_ij f_ij/T_i)
    with S_i = Σ_j F_ij, f = F T_i/S_i and g = ∂loss/∂f.
    """
    nz, nw = F.shape
    loss = 0.0
    for i in range(nz):
        if row[i] <= 0.0:
            for j in range(nw):
                dF[i, j] = 0.0
            continue
        if mode & 1 == 0:
            for j in range(nw):
                if mode & 2:
                    lc, g = _deviance_residual(F[i, j], data[i, j], row[i])
                else:
                    lc, g = _residual(F[i, j], data[i, j], row[i])
                loss += lc
                dF[i, j] = g
        else:
            s = 0.0
            for j in range(nw):
                s += max(F[i, j], TINY)
            ratio = row[i] / s  # a model row that vanishes (underflow) becomes flat in w
            gf = 0.0
            for j in range(nw):
                f = max(F[i, j], TINY) * ratio
                if mode & 2:
                    lc, g = _deviance_residual(f, data[i, j], 1.0)
                else:
                    lc, g = _residual(f, data[i, j], 1.0)
                loss += lc
                dF[i, j] = g
                gf += g * f
            gf /= row[i]
            for j in range(nw):
                dF[i, j] = ratio * (dF[i, j] - gf)
    return loss


@nb.njit(nogil=True, cache=True)
def gaussians(x, shift, sigma, step):
    """∫ 𝒩(x' + shift; 0, σ_k) dx' over the bins [x_i − step/2, x_i + step/2], on (n, K), and
    its derivatives by σ_k and by shift (the factors of Eq. 17, integrated over each bin)."""
    n, K = x.size, sigma.size
    g = np.empty((n, K))
    dg_ds = np.empty((n, K))
    dg_dx = np.empty((n, K))
    r2 = math.sqrt(2.0)
    for k in range(K):
        s = sigma[k]
        for i in range(n):
            lo = (x[i] + shift - 0.5 * step) / s
            hi = (x[i] + shift + 0.5 * step) / s
            if lo > 0.0:  # tails by erfc: no cancellation of 1 − 1
                g[i, k] = 0.5 * (math.erfc(lo / r2) - math.erfc(hi / r2))
            elif hi < 0.0:
                g[i, k] = 0.5 * (math.erfc(-hi / r2) - math.erfc(-lo / r2))
            else:
                g[i, k] = 0.5 * (math.erf(hi / r2) - math.erf(lo / r2))
            plo = _INV_SQRT_2PI * math.exp(-0.5 * lo * lo)
            phi = _INV_SQRT_2PI * math.exp(-0.5 * hi * hi)
            dg_ds[i, k] = -(phi * hi - plo * lo) / s
            dg_dx[i, k] = (phi - plo) / s
    return g, dg_ds, dg_dx


@nb.njit(nogil=True, cache=True)
def _gram(a, gz, gw):
    """B_ij = Σ_k a_k gz_ik gw_jk."""
    nz, nw, K = gz.shape[0], gw.shape[0], a.size
    B = np.zeros((nz, nw))
    for i in range(nz):
        for k in range(K):
            c = a[k] * gz[i, k]
            for j in range(nw):
                B[i, j] += c * gw[j, k]
    return B


@nb.njit(nogil=True, cache=True)
def background(z, w, dz, dw, a, sz, sw, w_sun):
    """B_ij = Σ_k a_k ∫∫_bin 𝒩(z; σ_z,k) 𝒩(w + W⊙; σ_w,k) dz dw (Eq. 17), counts per bin."""
    return _gram(a, gaussians(z, 0.0, sz, dz)[0], gaussians(w, w_sun, sw, dw)[0])


@nb.njit(nogil=True, cache=True)
def _contract(dB, a, gz, gz_s, gw, gw_s, gw_x, grad):
    """∂loss/∂(a_k, σ_z,k, σ_w,k, W⊙) from ∂loss/∂B_ij (into ``grad``, 3K + 1)."""
    nz, nw, K = gz.shape[0], gw.shape[0], a.size
    H = np.zeros((nz, K))  # Σ_j dB_ij gw_jk
    Kt = np.zeros((nw, K))  # Σ_i dB_ij gz_ik
    for i in range(nz):
        for j in range(nw):
            d = dB[i, j]
            if d != 0.0:
                for k in range(K):
                    H[i, k] += d * gw[j, k]
                    Kt[j, k] += d * gz[i, k]
    grad[:] = 0.0
    for k in range(K):
        ga = 0.0
        gs = 0.0
        for i in range(nz):
            ga += gz[i, k] * H[i, k]
            gs += gz_s[i, k] * H[i, k]
        gw_sum = 0.0
        gx_sum = 0.0
        for j in range(nw):
            gw_sum += gw_s[j, k] * Kt[j, k]
            gx_sum += gw_x[j, k] * Kt[j, k]
        grad[k] = ga
        grad[K + k] = a[k] * gs
        grad[2 * K + k] = a[k] * gw_sum
        grad[3 * K] += a[k] * gx_sum


@nb.njit(nogil=True, cache=True)
def background_loss(z, w, dz, dw, data, row, mode, a, sz, sw, w_sun, grad):
    """Step-1 loss (Eq. 22, or its row-conditional form) of the 6-Gaussian bulk.

    ``grad`` (3K + 1,) receives ∂loss/∂(a_k, σ_z,k, σ_w,k, W⊙).
    """
    gz, gz_s, _ = gaussians(z, 0.0, sz, dz)
    gw, gw_s, gw_x = gaussians(w, w_sun, sw, dw)
    B = _gram(a, gz, gw)
    dB = np.empty(B.shape)
    loss = loss_and_dF(B, data, row, mode, dB)
    _contract(dB, a, gz, gz_s, gw, gw_s, gw_x, grad)
    return loss


@nb.njit(nogil=True, inline="always")
def _lookup(zabs, wabs, theta, theta_dw, iz, iw):
    """Bilinear t(|z|, |w̃|) and ∂t/∂|w̃| (caller guarantees the point is inside)."""
    x = zabs * iz
    y = wabs * iw
    i = min(int(x), theta.shape[0] - 2)
    j = min(int(y), theta.shape[1] - 2)
    fx = x - i
    fy = y - j
    c00 = (1 - fx) * (1 - fy)
    c10 = fx * (1 - fy)
    c01 = (1 - fx) * fy
    c11 = fx * fy
    t = (c00 * theta[i, j] + c10 * theta[i + 1, j] + c01 * theta[i, j + 1]
         + c11 * theta[i + 1, j + 1])
    td = (c00 * theta_dw[i, j] + c10 * theta_dw[i + 1, j] + c01 * theta_dw[i, j + 1]
          + c11 * theta_dw[i + 1, j + 1])
    return t, td


@nb.njit(nogil=True, inline="always")
def _interp(table, e):
    """Linear look-up of a 1-D table at fractional index e (0 ≤ e ≤ size − 1)."""
    k = min(int(e), table.size - 2)
    f = e - k
    return (1.0 - f) * table[k] + f * table[k + 1]


@nb.njit(nogil=True, inline="always")
def _fields(z, zphi, wt, theta, theta_dw, iz, iw, h, dh, mask, dmask, ie, eps_max):
    """θ_z, ∂θ/∂w̃, ε, M, dM/dε, h, dh/dε at (z, w̃); M = 0 (spiral off) beyond ε_max."""
    eps = zphi + 0.5 * wt * wt
    if eps > eps_max:
        return 0.0, 0.0, eps, 0.0, 0.0, 0.0, 0.0
    t, td = _lookup(abs(z), abs(wt), theta, theta_dw, iz, iw)
    if z >= 0.0:
        th = t if wt >= 0.0 else math.pi - t
        dth = td
    else:
        th = math.pi + t if wt < 0.0 else 2.0 * math.pi - t
        dth = -td
    e = eps * ie
    return (th, dth, eps, _interp(mask, e), _interp(dmask, e), _interp(h, e), _interp(dh, e))


@nb.njit(nogil=True, cache=True)
def _spiral_terms(z, zphi, w, A, omega, phi, alpha, beta,
                  theta, theta_dw, iz, iw, h, dh, mask, dmask, ie, eps_max, MS, D):
    """M S per bin into ``MS`` and its derivatives by (A_Φ, ω, φ₆₀₀, α, β, w) into ``D``
    (n_z, n_w, 6); w = W + W⊙, so the last is also ∂/∂W⊙."""
    nz, nw = MS.shape
    sq = math.sqrt(A)
    for i in range(nz):
        for j in range(nw):
            wt = w[j] / sq
            th, dth, eps, m, dm, hh, dhh = _fields(z[i], zphi[i], wt, theta, theta_dw, iz, iw,
                                                   h, dh, mask, dmask, ie, eps_max)
            if m == 0.0 and dm == 0.0:
                MS[i, j] = 0.0
                for p in range(6):
                    D[i, j, p] = 0.0
                continue
            psi = th - phi - omega * hh
            c1 = math.cos(psi)
            s1 = math.sin(psi)
            c2 = c1 * c1 - s1 * s1
            s2 = 2.0 * s1 * c1
            S = alpha * c1 + beta * c2
            dS = -alpha * s1 - 2.0 * beta * s2  # ∂S/∂ψ
            MS[i, j] = m * S
            # ∂/∂w̃ of M S at fixed z: ε' = w̃, ψ' = θ' − ω h' w̃
            dwt = dm * wt * S + m * dS * (dth - omega * dhh * wt)
            D[i, j, 0] = dwt * (-0.5 * wt / A)  # ∂w̃/∂A = −w̃/(2A)
            D[i, j, 1] = m * dS * (-hh)
            D[i, j, 2] = -m * dS
            D[i, j, 3] = m * c1
            D[i, j, 4] = m * c2
            D[i, j, 5] = dwt / sq  # ∂w̃/∂w = 1/√A


@nb.njit(nogil=True, cache=True)
def spiral_loss(z, zphi, w, B, data, row, mode, A, omega, phi, alpha, beta,
                theta, theta_dw, iz, iw, h, dh, mask, dmask, ie, eps_max, grad):
    """Step-2 loss (Eq. 23, or row-conditional) of f = B[1 + M S] (Eq. 24).

    ``zphi`` (n_z,) = Φ⊙(z_i); ``w`` (n_w,) = W_j + W⊙ (km/s). ``grad`` (5,) receives
    ∂loss/∂(A_Φ, ω, φ₆₀₀, α, β).
    """
    nz, nw = B.shape
    MS = np.empty((nz, nw))
    D = np.empty((nz, nw, 6))
    _spiral_terms(z, zphi, w, A, omega, phi, alpha, beta, theta, theta_dw, iz, iw, h, dh,
                  mask, dmask, ie, eps_max, MS, D)
    F = np.empty((nz, nw))
    for i in range(nz):
        for j in range(nw):
            F[i, j] = B[i, j] * (1.0 + MS[i, j])
    dF = np.empty((nz, nw))
    loss = loss_and_dF(F, data, row, mode, dF)
    grad[:] = 0.0
    for i in range(nz):
        for j in range(nw):
            d = dF[i, j] * B[i, j]
            if d != 0.0:
                for p in range(5):
                    grad[p] += d * D[i, j, p]
    return loss


@nb.njit(nogil=True, cache=True)
def joint_loss(z, zphi, w, dz, dw, data, row, mode, a, sz, sw, w_sun, A, omega, phi, alpha,
               beta, theta, theta_dw, iz, iw, h, dh, mask, dmask, ie, eps_max, grad_bg,
               grad_sp):
    """Loss of f = B[1 + M S] as a function of the background (a, σ_z, σ_w, W⊙) and the
    spiral (A_Φ, ω, φ₆₀₀, α, β) together; ``w`` here is the histogram's W (W⊙ is added).
    ``grad_bg`` (3K + 1,) and ``grad_sp`` (5,) receive the gradients."""
    gz, gz_s, _ = gaussians(z, 0.0, sz, dz)
    gw, gw_s, gw_x = gaussians(w, w_sun, sw, dw)
    B = _gram(a, gz, gw)
    nz, nw = B.shape
    wm = w + w_sun
    MS = np.empty((nz, nw))
    D = np.empty((nz, nw, 6))
    _spiral_terms(z, zphi, wm, A, omega, phi, alpha, beta, theta, theta_dw, iz, iw, h, dh,
                  mask, dmask, ie, eps_max, MS, D)
    F = np.empty((nz, nw))
    for i in range(nz):
        for j in range(nw):
            F[i, j] = B[i, j] * (1.0 + MS[i, j])
    dF = np.empty((nz, nw))
    loss = loss_and_dF(F, data, row, mode, dF)
    dB = np.empty((nz, nw))
    grad_sp[:] = 0.0
    extra = 0.0
    for i in range(nz):
        for j in range(nw):
            dB[i, j] = dF[i, j] * (1.0 + MS[i, j])
            d = dF[i, j] * B[i, j]
            if d != 0.0:
                for p in range(5):
                    grad_sp[p] += d * D[i, j, p]
                extra += d * D[i, j, 5]
    _contract(dB, a, gz, gz_s, gw, gw_s, gw_x, grad_bg)
    grad_bg[3 * a.size] += extra
    return loss


@nb.njit(nogil=True, cache=True)
def spiral_model(z, zphi, w, B, A, omega, phi, alpha, beta,
                 theta, theta_dw, iz, iw, h, dh, mask, dmask, ie, eps_max):
    """f = B[1 + M S] (Eq. 24), expected counts per bin."""
    nz, nw = B.shape
    F = np.empty((nz, nw))
    sq = math.sqrt(A)
    for i in range(nz):
        for j in range(nw):
            th, dth, eps, m, dm, hh, dhh = _fields(z[i], zphi[i], w[j] / sq, theta, theta_dw,
                                                   iz, iw, h, dh, mask, dmask, ie, eps_max)
            psi = th - phi - omega * hh
            F[i, j] = B[i, j] * (1.0 + m * (alpha * math.cos(psi) + beta * math.cos(2 * psi)))
    return F


@nb.njit(nogil=True, inline="always")
def _best_on_phase(G, b, phis, s_max):
    """max over φ of q = b·x − ½ xᵀ G x, x = (α, β) ≥ 0, α + β ≤ s_max, with
    c = (α cos φ, α sin φ, β cos 2φ, β sin 2φ): returns (q, φ, α, β)."""
    best_q, best_phi, best_a, best_b = 0.0, 0.0, 0.0, 0.0
    for p in range(phis.size):
        ph = phis[p]
        u0, u1 = math.cos(ph), math.sin(ph)
        v0, v1 = math.cos(2 * ph), math.sin(2 * ph)
        b0 = b[0] * u0 + b[1] * u1
        b1 = b[2] * v0 + b[3] * v1
        g00 = G[0, 0] * u0 * u0 + 2 * G[0, 1] * u0 * u1 + G[1, 1] * u1 * u1
        g11 = G[2, 2] * v0 * v0 + 2 * G[2, 3] * v0 * v1 + G[3, 3] * v1 * v1
        g01 = (G[0, 2] * u0 * v0 + G[0, 3] * u0 * v1 + G[1, 2] * u1 * v0 + G[1, 3] * u1 * v1)
        # candidates: interior, α only, β only; then the α + β ≤ s_max edge if exceeded
        for cand in range(3):
            if cand == 0:
                det = g00 * g11 - g01 * g01
                if det <= 0.0:
                    continue
                xa = (g11 * b0 - g01 * b1) / det
                xb = (g00 * b1 - g01 * b0) / det
                if xa < 0.0 or xb < 0.0:
                    continue
            elif cand == 1:
                xa = max(b0 / g00, 0.0) if g00 > 0 else 0.0
                xb = 0.0
            else:
                xa = 0.0
                xb = max(b1 / g11, 0.0) if g11 > 0 else 0.0
            tot = xa + xb
            if tot > s_max:
                xa *= s_max / tot
                xb *= s_max / tot
            q = b0 * xa + b1 * xb - 0.5 * (g00 * xa * xa + 2 * g01 * xa * xb + g11 * xb * xb)
            if q > best_q:
                best_q, best_phi, best_a, best_b = q, ph, xa, xb
    return best_q, best_phi, best_a, best_b


@nb.njit(nogil=True, cache=True)
def spiral_grid(z, zphi, w, B, dB, data, row, mode, A_grid, omega_grid, phis, s_max,
                theta, theta_dw, iz, iw, h, dh, mask, dmask, ie, eps_max):
    """Coarse search of step 2: for each (A_Φ, ω) the spiral is linear in
    c = (α cos φ₆₀₀, α sin φ₆₀₀, β cos 2φ₆₀₀, β sin 2φ₆₀₀); the loss is expanded to second
    order about c = 0 (log cosh x ≈ x²/2, Poisson weights), giving the normal equations
    G c = b, profiled over φ₆₀₀ on ``phis`` with α, β ≥ 0 (:func:`_best_on_phase`).

    ``dB`` (n_z, n_w) = ∂B/∂W⊙: a shift δ of W⊙ is a fifth, unconstrained linear coefficient,
    eliminated from the normal equations before the profile (its part of the gain is left
    out, so q measures the spiral's own gain); all zeros for a fixed W⊙. Without it, an error
    of W⊙ from step 1 (which absorbs the w-odd part of the α term) is fitted by the spiral.

    Row mode uses the row-normalised background B^rc and the basis centred on each row
    (the first-order effect of the row normalisation); paper mode weights bins by 1/η_i.
    Returns (n_A, n_ω, 5): the gain q (≈ loss decrease), φ₆₀₀, α, β, δW⊙.
    """
    nz, nw = B.shape
    out = np.zeros((A_grid.size, omega_grid.size, 5))
    Bref = np.empty((nz, nw))  # reference model and per-bin weight 1/Var
    Eref = np.zeros((nz, nw))  # ∂Bref/∂W⊙
    wgt = np.zeros(nz)
    for i in range(nz):
        if row[i] <= 0.0:
            for j in range(nw):
                Bref[i, j] = 0.0
            continue
        s = 0.0
        for j in range(nw):
            s += B[i, j]
        r = row[i] / s if (mode & 1 and s > 0.0) else 1.0
        for j in range(nw):
            Bref[i, j] = B[i, j] * r
            Eref[i, j] = dB[i, j] * r
        wgt[i] = 1.0 if mode & 1 else 1.0 / row[i]
    # the W⊙ block (all bins): G55, b5 and the row sums of the shift basis
    g55 = 0.0
    b5 = 0.0
    erow = np.zeros(nz)
    for i in range(nz):
        if wgt[i] == 0.0:
            continue
        for j in range(nw):
            e = Eref[i, j]
            if e != 0.0 and Bref[i, j] > F_FLOOR:
                g55 += wgt[i] * e * e / Bref[i, j]
                b5 += wgt[i] * (data[i, j] - Bref[i, j]) * e / Bref[i, j]
            erow[i] += e
    if mode & 1:
        for i in range(nz):
            if row[i] > 0.0:
                g55 -= erow[i] * erow[i] / row[i]
    use_shift = g55 > 0.0
    n = nz * nw
    no = omega_grid.size
    idx = np.empty(n, np.int64)
    th = np.empty(n)
    hh = np.empty(n)
    mm = np.empty(n)
    Gs = np.zeros((4, 4))
    bs = np.zeros(4)
    G = np.zeros((4, 4))
    # ω outermost in the accumulators, bins outermost in the loop: cos/sin of ψ = θ − ω h
    # advance by a rotation per ω step on a uniform grid (no trig in the inner loop)
    step = (omega_grid[-1] - omega_grid[0]) / (no - 1) if no > 1 else 0.0
    uniform = True
    for o in range(1, no):
        if abs(omega_grid[o] - omega_grid[o - 1] - step) > 1e-9 * (1.0 + abs(step)):
            uniform = False
    Gacc = np.zeros((no, 10))
    bacc = np.zeros((no, 4))
    eacc = np.zeros((no, 4))
    racc = np.zeros((nz, no, 4))
    for a in range(A_grid.size):
        sq = math.sqrt(A_grid[a])
        m_act = 0
        for i in range(nz):
            if wgt[i] == 0.0:
                continue
            for j in range(nw):
                t, dt, eps, m, dm, hv, dhv = _fields(z[i], zphi[i], w[j] / sq, theta, theta_dw,
                                                     iz, iw, h, dh, mask, dmask, ie, eps_max)
                if m > 1e-3:
                    idx[m_act] = i * nw + j
                    th[m_act] = t
                    hh[m_act] = hv
                    mm[m_act] = m
                    m_act += 1
        Gacc[:] = 0.0
        bacc[:] = 0.0
        eacc[:] = 0.0
        if mode & 1:
            racc[:] = 0.0
        for q in range(m_act):
            k = idx[q]
            i = k // nw
            j = k - i * nw
            bw = Bref[i, j] * wgt[i]
            res = (data[i, j] - Bref[i, j]) * wgt[i]
            ew = Eref[i, j] * wgt[i]
            br = Bref[i, j]
            mq = mm[q]
            psi = th[q] - omega_grid[0] * hh[q]
            c1 = math.cos(psi)
            s1 = math.sin(psi)
            cr = math.cos(step * hh[q])
            sr = math.sin(step * hh[q])
            for o in range(no):
                if o > 0:
                    if uniform:  # ψ → ψ − step h
                        c1, s1 = c1 * cr + s1 * sr, s1 * cr - c1 * sr
                    else:
                        psi = th[q] - omega_grid[o] * hh[q]
                        c1 = math.cos(psi)
                        s1 = math.sin(psi)
                g0 = mq * c1
                g1 = mq * s1
                g2 = mq * (c1 * c1 - s1 * s1)
                g3 = mq * 2.0 * s1 * c1
                Gacc[o, 0] += bw * g0 * g0
                Gacc[o, 1] += bw * g0 * g1
                Gacc[o, 2] += bw * g0 * g2
                Gacc[o, 3] += bw * g0 * g3
                Gacc[o, 4] += bw * g1 * g1
                Gacc[o, 5] += bw * g1 * g2
                Gacc[o, 6] += bw * g1 * g3
                Gacc[o, 7] += bw * g2 * g2
                Gacc[o, 8] += bw * g2 * g3
                Gacc[o, 9] += bw * g3 * g3
                bacc[o, 0] += res * g0
                bacc[o, 1] += res * g1
                bacc[o, 2] += res * g2
                bacc[o, 3] += res * g3
                eacc[o, 0] += ew * g0
                eacc[o, 1] += ew * g1
                eacc[o, 2] += ew * g2
                eacc[o, 3] += ew * g3
                if mode & 1:
                    racc[i, o, 0] += br * g0
                    racc[i, o, 1] += br * g1
                    racc[i, o, 2] += br * g2
                    racc[i, o, 3] += br * g3
        for o in range(no):
            c = 0
            for u in range(4):
                for v in range(u, 4):
                    G[u, v] = Gacc[o, c]
                    c += 1
            b = bacc[o]
            g5 = eacc[o].copy()
            if mode & 1:  # Σ_j Bref_ij = T_i: centre the basis on each row
                for i in range(nz):
                    if row[i] > 0.0:
                        for u in range(4):
                            ru = racc[i, o, u]
                            if ru == 0.0:
                                continue
                            g5[u] -= ru * erow[i] / row[i]
                            for v in range(u, 4):
                                G[u, v] -= ru * racc[i, o, v] / row[i]
            for u in range(4):
                for v in range(u):
                    G[u, v] = G[v, u]
            if use_shift:  # eliminate δW⊙ (Schur complement)
                for u in range(4):
                    bs[u] = b[u] - g5[u] * b5 / g55
                    for v in range(4):
                        Gs[u, v] = G[u, v] - g5[u] * g5[v] / g55
            else:
                for u in range(4):
                    bs[u] = b[u]
                    for v in range(4):
                        Gs[u, v] = G[u, v]
            qv, ph, xa, xb = _best_on_phase(Gs, bs, phis, s_max)
            out[a, o, 0] = qv
            out[a, o, 1] = ph
            out[a, o, 2] = xa
            out[a, o, 3] = xb
            if use_shift:
                cc = (xa * math.cos(ph), xa * math.sin(ph), xb * math.cos(2 * ph),
                      xb * math.sin(2 * ph))
                out[a, o, 4] = (b5 - (g5[0] * cc[0] + g5[1] * cc[1] + g5[2] * cc[2]
                                      + g5[3] * cc[3])) / g55
    return out


@nb.njit(nogil=True, cache=True)
def background_shift(z, w, dz, dw, a, sz, sw, w_sun):
    """∂B_ij/∂W⊙ of :func:`background`."""
    gz = gaussians(z, 0.0, sz, dz)[0]
    return _gram(a, gz, gaussians(w, w_sun, sw, dw)[2])


@nb.njit(nogil=True, cache=True)
def background_loss_modulated(z, w, dz, dw, data, row, mode, a, sz, sw, w_sun, factor, grad):
    """:func:`background_loss` of the model B ∘ ``factor`` (n_z, n_w), e.g. factor = 1 + M S of
    a fixed spiral: the background refitted under the spiral. ``grad`` as there (W⊙ moves B
    only, not the factor)."""
    gz, gz_s, _ = gaussians(z, 0.0, sz, dz)
    gw, gw_s, gw_x = gaussians(w, w_sun, sw, dw)
    B = _gram(a, gz, gw)
    nz, nw = B.shape
    F = np.empty((nz, nw))
    for i in range(nz):
        for j in range(nw):
            F[i, j] = B[i, j] * factor[i, j]
    dF = np.empty((nz, nw))
    loss = loss_and_dF(F, data, row, mode, dF)
    for i in range(nz):
        for j in range(nw):
            dF[i, j] *= factor[i, j]
    _contract(dF, a, gz, gz_s, gw, gw_s, gw_x, grad)
    return loss
