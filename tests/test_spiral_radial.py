"""cubes.spiral.radial: the A_Φ(R) exponential fit (spec 004 §6.3) against scipy references."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.optimize import curve_fit, minimize

from cubes.spiral.radial import exponential_fit


def _map(seed=0, n=80, A0=1.05, h=2.9, noise=0.04, outliers=0):
    rng = np.random.default_rng(seed)
    R = rng.uniform(5.0, 11.5, n)
    N = rng.integers(4000, 60000, n).astype(float)
    sig = noise * np.sqrt(10000.0 / N)
    A = A0 * np.exp(-(R - 8.178) / h) + rng.normal(0.0, sig)
    if outliers:
        A[:outliers] += 0.8
    cell = np.arange(n)
    return (xr.DataArray(A, dims="cell", coords={"cell": cell, "R": ("cell", R)}),
            xr.DataArray(N, dims="cell"), xr.DataArray(sig, dims="cell"))


def _model(R, a, h):
    return a * np.exp(-(R - 8.178) / h)


def test_l2_equals_curve_fit():
    A, N, sig = _map()
    res = exponential_fit(A, "R", sigma=sig, norm="l2")
    p, cov = curve_fit(_model, A.R.values, A.values, p0=(1.0, 3.0), sigma=sig.values)
    np.testing.assert_allclose([res.A_sun, res.h_R], p, rtol=1e-7)
    np.testing.assert_allclose([res.A_sun_error, res.h_R_error], np.sqrt(np.diag(cov)),
                               rtol=1e-5)
    res_abs = exponential_fit(A, "R", sigma=sig, norm="l2", absolute_sigma=True)
    p, cov = curve_fit(_model, A.R.values, A.values, p0=(1.0, 3.0), sigma=sig.values,
                       absolute_sigma=True)
    np.testing.assert_allclose([res_abs.A_sun_error, res_abs.h_R_error],
                               np.sqrt(np.diag(cov)), rtol=1e-5)
    assert abs(float(res.h_R) - 2.9) < 4 * float(res.h_R_error)
    np.testing.assert_allclose(res.residual, A - _model(A.R, *p), atol=1e-6)


def test_l1_minimises_the_papers_loss_and_resists_outliers():
    A, N, _ = _map(seed=1, outliers=6)
    res = exponential_fit(A, "R", n_stars=N, norm="l1")
    s = 1.0 / np.sqrt(N.values)
    R, a = A.R.values, A.values

    def loss(p):
        return np.sum(np.abs(a - _model(R, p[0], p[1])) / s)

    # an independent minimisation of Σ|A − m|/σ from several starts
    best = min((minimize(loss, x0, method="Powell", options={"xtol": 1e-10, "ftol": 1e-14})
                for x0 in [(0.8, 2.0), (1.2, 4.0), (1.0, 3.0)]), key=lambda r: r.fun)
    assert loss((float(res.A_sun), float(res.h_R))) <= best.fun * (1 + 1e-7)
    np.testing.assert_allclose([res.A_sun, res.h_R], best.x, rtol=2e-3)
    assert abs(float(res.h_R) - 2.9) < 0.25  # six +0.8 outliers barely move the L1 fit
    l2 = exponential_fit(A, "R", n_stars=N, norm="l2")
    assert abs(float(l2.h_R) - 2.9) > abs(float(res.h_R) - 2.9)
    assert 0 < float(res.h_R_error) < 0.5 and int(res.n_used) == 80


def test_l1_jackknife_error_matches_the_scatter_over_realisations():
    hs, errs = [], []
    for seed in range(12):
        A, N, _ = _map(seed=10 + seed, n=60)
        r = exponential_fit(A, "R", n_stars=N)
        hs.append(float(r.h_R))
        errs.append(float(r.h_R_error))
    assert 0.5 < np.median(errs) / np.std(hs) < 2.0


def test_mask_nan_and_replicate_dim():
    A, N, sig = _map(seed=3)
    A = A.where(A.cell != 5)  # NaN sample left out
    mask = A.cell % 3 != 0
    res = exponential_fit(A, "R", sigma=sig, mask=mask, norm="l2")
    keep = (A.cell.values % 3 != 0) & (A.cell.values != 5)
    p, _ = curve_fit(_model, A.R.values[keep], A.values[keep], p0=(1.0, 3.0),
                     sigma=sig.values[keep])
    np.testing.assert_allclose([res.A_sun, res.h_R], p, rtol=1e-7)
    assert int(res.n_used) == keep.sum() and int(res.used.sum()) == keep.sum()
    rep = xr.concat([A, A * 1.1], dim="replicate")
    out = exponential_fit(rep, "R", sigma=sig, norm="l2")
    assert out.A_sun.dims == ("replicate",)
    np.testing.assert_allclose(out.A_sun.values[1] / out.A_sun.values[0], 1.1, rtol=1e-7)
    np.testing.assert_allclose(out.h_R.values[1], out.h_R.values[0], rtol=1e-7)


def test_too_few_samples_gives_nan_and_bad_norm_raises():
    A, N, _ = _map(n=2)
    res = exponential_fit(A, "R", n_stars=N)
    assert np.isnan(float(res.h_R)) and int(res.n_used) == 2
    with pytest.raises(ValueError, match="norm"):
        exponential_fit(A, "R", norm="l3")
    with pytest.raises(KeyError):
        exponential_fit(A, "Rg")
