"""A straight line with intrinsic scatter and errors on both axes (numpy, emcee; no xarray).

Hogg, Bovy & Lang (2010, arXiv:1008.4686) §§7–8 in the form of Foreman-Mackey's "Fitting a plane
to data" (dfm.io 2017), as used by Hawkins (2023, spec 002 §4.1, Eq. 4):

    ln L = Σ_i [ −½ ln(2π Σ_i²) − Δ_i² / (2 Σ_i²) ],   Δ_i = y_i − (m x_i + b)
    Σ_i² = m² σ_x,i² − 2 m σ_xy,i + σ_y,i² + λ² (1 + m²)     (scatter ⟂ to the line)
    Σ_i² = m² σ_x,i² − 2 m σ_xy,i + σ_y,i² + λ²              (``scatter="vertical"``)

The data come as *groups* of points sharing one error budget: n_g points with mean x̄_g, ȳ_g,
centred second moments C_xx, C_yy, C_xy and mean squared errors ⟨σ_x²⟩, ⟨σ_y²⟩, ⟨σ_xy⟩. Then

    Σ_{i∈g} Δ_i² = C_yy − 2m C_xy + m² C_xx + n_g (ȳ_g − m x̄_g − b)²

so the group's likelihood is exact when its errors are equal (one star per group is the plain
per-star likelihood; a cube bin is a group with its bin-averaged errors). Parameters are
θ = (m, b, λ); priors are uniform boxes (spec 002 A1: m ∈ (−2, 2), b ∈ (−10, 10), λ ∈ (0, 2)).
"""

from __future__ import annotations

import numpy as np

#: Default uniform prior ranges (spec 002 §4.1 / A1): slope, intercept, scatter.
DEFAULT_PRIORS = ((-2.0, 2.0), (-10.0, 10.0), (0.0, 2.0))
SCATTER_MODES = ("perpendicular", "vertical")
#: the returned parameters, in order
PARAMETERS = ("slope", "intercept", "scatter")


def _clean(n, xbar, ybar, cxx, cyy, cxy, sx2, sy2, sxy):
    """Groups with stars and finite moments, as float64 1-D arrays."""
    arrs = [np.asarray(a, dtype=np.float64).ravel() for a in
            (n, xbar, ybar, cxx, cyy, cxy, sx2, sy2, sxy)]
    n = arrs[0]
    ok = (n > 0) & np.all([np.isfinite(a) for a in arrs], axis=0)
    return [a[ok] for a in arrs]


def log_likelihood(theta, n, xbar, ybar, cxx, cyy, cxy, sx2, sy2, sxy, *,
                   scatter: str = "perpendicular") -> np.ndarray:
    """ln L of parameters ``theta`` (..., 3) = (m, b, λ) for cleaned group arrays (g,)."""
    theta = np.asarray(theta, dtype=np.float64)
    m, b, lam = (theta[..., k, None] for k in range(3))
    extra = (1.0 + m * m) if scatter == "perpendicular" else 1.0
    var = m * m * sx2 - 2.0 * m * sxy + sy2 + lam * lam * extra
    q = cyy - 2.0 * m * cxy + m * m * cxx + n * (ybar - m * xbar - b) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        ll = -0.5 * n * np.log(2.0 * np.pi * var) - 0.5 * q / var
    return np.where(var > 0, ll, -np.inf).sum(-1)


def log_prior(theta, priors=DEFAULT_PRIORS) -> np.ndarray:
    """0 inside the uniform box ``priors`` ((lo, hi) per parameter), −inf outside."""
    theta = np.asarray(theta, dtype=np.float64)
    lo = np.array([p[0] for p in priors])
    hi = np.array([p[1] for p in priors])
    inside = np.all((theta > lo) & (theta < hi), axis=-1)
    return np.where(inside, 0.0, -np.inf)


def ols_start(n, xbar, ybar, cxx, cyy, cxy, sx2, sy2, sxy, *,
              scatter: str = "perpendicular") -> np.ndarray:
    """Ordinary least squares (m, b) of the pooled groups and the moment estimate of λ
    (λ² = [Var(y − ŷ) − ⟨σ_y²⟩ − m²⟨σ_x²⟩ + 2m⟨σ_xy⟩] / (1 + m²), spec 002 §4.1)."""
    N = n.sum()
    mx = (n * xbar).sum() / N
    my = (n * ybar).sum() / N
    sxx = cxx.sum() + (n * (xbar - mx) ** 2).sum()
    sxy_ = cxy.sum() + (n * (xbar - mx) * (ybar - my)).sum()
    syy = cyy.sum() + (n * (ybar - my) ** 2).sum()
    m = sxy_ / sxx if sxx > 0 else 0.0
    b = my - m * mx
    res = max(syy - m * sxy_, 0.0) / N
    lam2 = res - (n * (sy2 + m * m * sx2 - 2 * m * sxy)).sum() / N
    if scatter == "perpendicular":
        lam2 /= 1.0 + m * m
    return np.array([m, b, np.sqrt(max(lam2, 1e-6))])


def _inside(theta, priors):
    """``theta`` moved strictly inside the prior box."""
    lo = np.array([p[0] for p in priors], dtype=np.float64)
    hi = np.array([p[1] for p in priors], dtype=np.float64)
    pad = 1e-6 * (hi - lo)
    return np.clip(theta, lo + pad, hi - pad)


def line_mle(n, xbar, ybar, cxx, cyy, cxy, sx2, sy2, sxy, *, scatter="perpendicular",
             priors=DEFAULT_PRIORS, min_points: int = 3) -> np.ndarray:
    """Maximum-likelihood (m, b, λ) within the prior box (scipy L-BFGS-B from the OLS start);
    NaN with fewer than ``min_points`` points."""
    from scipy.optimize import minimize

    g = _clean(n, xbar, ybar, cxx, cyy, cxy, sx2, sy2, sxy)
    if g[0].sum() < min_points or g[0].size < 2:
        return np.full(3, np.nan)
    x0 = _inside(ols_start(*g, scatter=scatter), priors)

    def neg(t):
        v = -log_likelihood(t, *g, scatter=scatter)
        return float(v) if np.isfinite(v) else 1e300

    res = minimize(neg, x0, method="L-BFGS-B", bounds=[tuple(p) for p in priors])
    return _inside(res.x, priors) if np.isfinite(res.fun) else np.full(3, np.nan)


def sample_line(n, xbar, ybar, cxx, cyy, cxy, sx2, sy2, sxy, *, quantiles,
                scatter: str = "perpendicular", priors=DEFAULT_PRIORS, walkers: int = 10,
                steps: int = 1000, burn: int | None = None, seed: int = 0,
                min_points: int = 3) -> np.ndarray:
    """Posterior quantiles of (m, b, λ) from emcee: array (3, len(quantiles)).

    Walkers start in a 1e-4 Gaussian ball around the maximum-likelihood point (spec 002 A2);
    the first ``burn`` steps (default: half) are dropped. The same ``seed`` gives the same
    chain (emcee's stretch moves draw from a RandomState seeded with it), which also makes the
    jackknife samples of one fit share their random numbers. NaN with fewer than
    ``min_points`` points.
    """
    import emcee

    if scatter not in SCATTER_MODES:
        raise ValueError(f"scatter must be one of {SCATTER_MODES!r}, got {scatter!r}")
    q = np.asarray(quantiles, dtype=np.float64)
    g = _clean(n, xbar, ybar, cxx, cyy, cxy, sx2, sy2, sxy)
    if g[0].sum() < min_points or g[0].size < 2:
        return np.full((3, q.size), np.nan)
    start = line_mle(*g, scatter=scatter, priors=priors, min_points=min_points)
    rng = np.random.default_rng(seed)
    p0 = _inside(start + 1e-4 * rng.standard_normal((walkers, 3)), priors)

    def log_prob(theta):
        lp = log_prior(theta, priors)
        ll = np.where(np.isfinite(lp), log_likelihood(theta, *g, scatter=scatter), -np.inf)
        return lp + ll

    sampler = emcee.EnsembleSampler(walkers, 3, log_prob, vectorize=True)
    sampler.random_state = np.random.RandomState(seed).get_state()
    sampler.run_mcmc(p0, steps, progress=False)
    burn = steps // 2 if burn is None else int(burn)
    chain = sampler.get_chain(discard=burn, flat=True)
    return np.quantile(chain, q, axis=0).T


def group_moments(x, y, x_error=None, y_error=None, xy_cov=None):
    """One group per point (n = 1, no within-group spread): the per-star likelihood."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    zero = np.zeros_like(x)
    sx2 = zero if x_error is None else np.asarray(x_error, dtype=np.float64) ** 2
    sy2 = zero if y_error is None else np.asarray(y_error, dtype=np.float64) ** 2
    sxy = zero if xy_cov is None else np.asarray(xy_cov, dtype=np.float64)
    n = np.where(np.isfinite(x) & np.isfinite(y), 1.0, 0.0)
    return n, x, y, zero, zero, zero, sx2 + zero, sy2 + zero, sxy + zero
