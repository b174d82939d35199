"""cubes.stats.homogenise: quantile regression as an LP, B-spline quantile curves, the P5 age
calibration (Wang+2025 §2.2, spec 001 §1.5) and the id join — against independent references:
the primal LP and brute-force perturbations for optimality, exact sample quantiles in narrow
bins of a large synthetic sample, and a known injected age distortion."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from scipy.optimize import linprog
from scipy.stats import norm

from cubes.stats import homogenise as hg


def _primal(X, y, q):
    """The textbook primal LP min q·1ᵀu + (1 − q)·1ᵀv, Xβ + u − v = y, u, v ≥ 0 (an
    independent formulation of the same problem)."""
    n, p = X.shape
    A = sparse.hstack([sparse.csr_matrix(X), sparse.eye(n), -sparse.eye(n)]).tocsr()
    c = np.r_[np.zeros(p), np.full(n, q), np.full(n, 1 - q)]
    res = linprog(c, A_eq=A, b_eq=y, bounds=[(None, None)] * p + [(0, None)] * (2 * n),
                  method="highs")
    assert res.status == 0
    return res.x[:p]


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
def test_lp_solution_is_the_check_loss_minimum(q):
    rng = np.random.default_rng(3)
    n = 300
    x = rng.uniform(0, 14, n)
    y = 0.1 * x + rng.standard_t(3, n)
    X = hg.bspline_design(x, np.r_[[0.0] * 3, 4.0, 9.0, [14.0] * 3], 2)
    beta = hg.quantile_regression(X, y, q)
    loss = hg.check_loss(y - X @ beta, q)
    # the primal LP reaches the same minimum
    assert loss == pytest.approx(hg.check_loss(y - X @ _primal(X, y, q), q), rel=1e-9)
    # no perturbation lowers it (a convex function: a local minimum is the global one)
    for _ in range(400):
        d = rng.normal(0, 1, beta.size) * 10 ** rng.uniform(-4, 0)
        assert hg.check_loss(y - X @ (beta + d), q) >= loss - 1e-9
    # the subgradient condition: #(r < 0) ≤ q n ≤ #(r ≤ 0), up to the p interpolated points
    r = y - X @ beta
    p = X.shape[1]
    assert (r < -1e-9).sum() <= q * n + p and (r <= 1e-9).sum() >= q * n - p


def test_intercept_only_regression_is_a_sample_quantile():
    rng = np.random.default_rng(4)
    y = rng.exponential(2.0, 1001)
    for q in (0.1, 0.5, 0.9):
        b = hg.quantile_regression(np.ones((y.size, 1)), y, q)[0]
        s = np.sort(y)
        k = int(np.ceil(q * y.size)) - 1       # the q-quantile order statistic (n q not integer)
        assert b == pytest.approx(s[k], abs=1e-9)


def test_curves_match_exact_quantiles_in_narrow_bins_of_a_large_sample():
    """Δτ = f(τ) + σ(τ) ε (Gaussian): the calibration's q-curves against (a) the exact sample
    quantile of the stars in narrow τ bins, (b) the analytic f + σ Φ⁻¹(q)."""
    rng = np.random.default_rng(5)
    n = 30_000
    x = rng.uniform(0.5, 13.5, n)
    y = 0.5 * np.sin(x / 2.0) + 0.02 * x ** 2 + (0.3 + 0.05 * x) * rng.standard_normal(n)
    cal = hg.calibrate(x - y, x)                       # Δτ = τ − τ_ref = y
    assert 1 <= cal.median.n_interior <= 12
    for q, curve in cal.curves.items():
        for c in (2.0, 4.0, 6.0, 8.0, 10.0, 12.0):
            inbin = np.abs(x - c) < 0.15
            exact = np.quantile(y[inbin], q)
            # the binned quantile's own noise, sqrt(q(1 − q)/m) / pdf at the quantile
            s = 0.3 + 0.05 * c
            noise = np.sqrt(q * (1 - q) / inbin.sum()) * s / norm.pdf(norm.ppf(q))
            truth = 0.5 * np.sin(c / 2) + 0.02 * c ** 2 + s * norm.ppf(q)
            got = curve(c)[0]
            assert abs(got - exact) < 4 * noise + 0.02, (q, c, got, exact, noise)
            assert abs(got - truth) < 0.04 + 0.03 * abs(norm.ppf(q)), (q, c, got, truth)


def test_p5_reproduces_a_polynomial_median_and_the_correction_is_clamped():
    rng = np.random.default_rng(6)
    x = rng.uniform(1, 13, 8000)
    p = np.polynomial.Polynomial([0.1, -0.05, 0.01, 0.0, 0.0, 1e-6])
    tau_ref = x - p(x) + rng.laplace(0, 0.01, x.size)     # a tight, symmetric noise
    cal = hg.calibrate(tau_ref, x, domain_percentiles=(0, 100))
    g = np.linspace(1.5, 12.5, 12)
    np.testing.assert_allclose(cal.correction(g), p(g), atol=0.01)
    np.testing.assert_allclose(cal.apply(g), g - p(g), atol=0.01)
    # outside the fitted domain the correction is constant (no polynomial extrapolation)
    lo, hi = cal.domain
    assert cal.correction(np.array([-5.0, 30.0])) == pytest.approx(cal.correction([lo, hi]))
    assert np.isnan(cal.apply(np.array([np.nan]))[0])
    assert sorted(cal.curves) == [0.1, 0.5, 0.9]
    assert cal.curves[0.1](6.0) < cal.curves[0.5](6.0) < cal.curves[0.9](6.0)


def _distortion(t):
    return 2.0 * (t / 14.0) ** 2.5            # Gyr: +0.5 at 8 Gyr, +2 at 14


def test_an_injected_age_distortion_is_recovered_when_the_regressor_is_exact():
    """τ = t + δ(t) (no error), τ_ref = t + 20 % noise: the median of Δτ at fixed τ is the
    injected δ, so P5(τ) must give it back within its jackknife noise."""
    rng = np.random.default_rng(7)
    t = rng.uniform(0.5, 13.0, 20_000)
    tau = t + _distortion(t)
    tau_ref = t * (1 + 0.2 * rng.standard_normal(t.size))
    cal = hg.calibrate(tau_ref, tau)
    at = np.array([4.0, 8.0, 10.0, 12.0])
    grid = np.linspace(0.0, 15.0, 15001)
    t_at = np.interp(at, grid + _distortion(grid), grid)   # solves t + δ(t) = τ
    injected = at - t_at                                  # τ − t(τ): δ seen at APOGEE's τ
    groups = rng.integers(0, 16, t.size)
    err, reps = hg.jackknife_correction(tau_ref, tau, groups, at,
                                        n_interior=cal.median.n_interior)
    got = cal.correction(at)
    assert reps.shape == (16, 4) and (err > 0).all()
    assert np.all(np.abs(got - injected) < 3.5 * err + 0.02), (got, injected, err)


def test_jackknife_error_matches_the_scatter_over_independent_samples():
    at = np.array([4.0, 10.0])
    values, errors = [], []
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        t = rng.uniform(0.5, 13.0, 1500)
        tau = t + _distortion(t)
        tau_ref = t + 0.2 * t * rng.standard_normal(t.size)
        cal = hg.calibrate(tau_ref, tau, n_interior=4, quantiles=(0.5,))
        err, _ = hg.jackknife_correction(tau_ref, tau, rng.integers(0, 16, t.size), at,
                                         n_interior=4)
        values.append(cal.correction(at))
        errors.append(err)
    scatter = np.std(values, axis=0, ddof=1)
    ratio = np.mean(errors, axis=0) / scatter
    assert np.all((ratio > 0.65) & (ratio < 1.6)), ratio


def test_information_criterion_prefers_few_knots_for_a_straight_line():
    rng = np.random.default_rng(8)
    x = rng.uniform(0, 10, 5000)
    y = 0.3 * x + rng.standard_normal(x.size)
    assert hg.fit_quantile_curve(x, y, 0.5).n_interior <= 3
    y2 = np.sin(2 * x) + 0.1 * rng.standard_normal(x.size)
    assert hg.fit_quantile_curve(x, y2, 0.5).n_interior >= 6
    with pytest.raises(ValueError, match="SIC"):
        hg.information_criterion(np.ones(5), 0.5, 2, ic="BIC")


def test_match_ids_against_a_dictionary_join():
    rng = np.random.default_rng(9)
    a = rng.choice(10**12, 5000, replace=False).astype(np.int64)
    b = np.r_[rng.choice(a, 800, replace=False), rng.integers(10**12, 2 * 10**12, 3000)]
    rng.shuffle(b)
    a[:3] = [0, -1, -9999]                                 # "no Gaia id"
    b[:3] = [0, -1, -9999]
    ia, ib = hg.match_ids(a, b)
    where = {int(v): i for i, v in enumerate(b) if v not in (0, -1, -9999)}
    ref = sorted((i, where[int(v)]) for i, v in enumerate(a) if int(v) in where)
    assert list(zip(ia.tolist(), ib.tolist(), strict=True)) == ref
    assert np.all(a[ia] == b[ib]) and not np.isin(a[ia], [0, -1, -9999]).any()
    with pytest.raises(ValueError, match="repeated"):
        hg.match_ids(np.array([5, 5, 6]), np.array([5]))
    with pytest.raises(TypeError, match="integers"):
        hg.match_ids(np.array([1.0]), np.array([1]))


def test_bad_inputs_give_clear_errors():
    with pytest.raises(ValueError, match="NaN"):
        hg.calibrate(np.array([1.0, np.nan, 3.0]), np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="quantile"):
        hg.check_loss(np.ones(3), 1.5)
    with pytest.raises(ValueError, match="0.5"):
        hg.calibrate(np.arange(50.0), np.arange(50.0), quantiles=(0.1, 0.9))
    with pytest.raises(ValueError, match="more than"):
        hg.quantile_regression(np.ones((2, 3)), np.ones(2), 0.5)
