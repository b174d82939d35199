"""Gradients from cubes against per-star numpy fits, the emcee line fit, and the mock's truth."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import xarray as xr

import cubes
from cubes import axes as A
from cubes import mock
from cubes.kernels.binning import replicate_groups
from cubes.stats import gradients as G
from cubes.stats.linefit import fit_line
from tests.utils import raise_if_dask_computes

K = 8
ZE = np.arange(0.0, 1.41, 0.2)  # Hawkins' |Z| slices


@pytest.fixture(scope="module")
def stars():
    rng = np.random.default_rng(11)
    n = 30_000
    R = rng.uniform(6, 12, n)
    az = np.abs(rng.normal(0, 0.6, n))
    feh = 0.45 - 0.07 * R - 0.15 * az + 0.02 * R * az + rng.normal(0, 0.12, n)
    return xr.Dataset({
        "R": ("star", R, {"units": "kpc"}), "abs_z": ("star", az, {"units": "kpc"}),
        "feh": ("star", feh, {"units": "dex"}),
        "feh_error": ("star", np.full(n, 0.05), {"units": "dex"}),
        "R_error": ("star", np.full(n, 0.1), {"units": "kpc"}),
        "id": ("star", np.arange(n) * 3 + 1),
    }, attrs={"id_column": "id"})


@pytest.fixture(scope="module")
def cube(stars):
    return cubes.bin_catalog(stars, {"abs_z": A.edges(ZE), "R": A.regular(6, 12, 0.5)},
                             values=["feh", "R"], cross=[("feh", "R")],
                             errors={"feh": "feh_error", "R": "R_error"}, replicates=K,
                             progress=False)


def _slice(stars, i, mask=None):
    az = stars.abs_z.values
    sel = (az >= ZE[i]) & ((az < ZE[i + 1]) if i < len(ZE) - 2 else (az <= ZE[i + 1]))
    sel &= (stars.R.values >= 6) & (stars.R.values <= 12)
    return sel if mask is None else sel & mask


def test_lsq_gradient_is_polyfit_on_the_stars(stars, cube):
    g = G.gradient(cube, "feh", dim="R").sel(replicate=-1)
    assert g.slope.dims == ("abs_z",) and g.slope.attrs["units"] == "dex / kpc"
    R, feh = stars.R.values, stars.feh.values
    for i in range(len(ZE) - 1):
        s = _slice(stars, i)
        (m, b), cov = np.polyfit(R[s], feh[s], 1, cov=True)
        assert g.slope[i] == pytest.approx(m, rel=1e-10)
        assert g.intercept[i] == pytest.approx(b, rel=1e-9, abs=1e-12)
        assert g.slope_stderr[i] == pytest.approx(np.sqrt(cov[0, 0]), rel=1e-8)
        assert g.intercept_stderr[i] == pytest.approx(np.sqrt(cov[1, 1]), rel=1e-8)
        assert int(g["count"][i]) == s.sum()


def test_lsq_jackknife_error_is_leave_one_group_out_polyfit(stars, cube):
    groups = replicate_groups(stars.id.values.astype(np.int64), 0, stars.sizes["star"], K)
    R, feh = stars.R.values, stars.feh.values
    loo = np.array([[np.polyfit(R[_slice(stars, i, groups != k)],
                                feh[_slice(stars, i, groups != k)], 1)[0]
                     for i in range(len(ZE) - 1)] for k in range(K)])
    ref = np.sqrt((K - 1) / K * ((loo - loo.mean(0)) ** 2).sum(0))
    est = cubes.estimate(G.gradient(cube, "feh", dim="R")["slope"])
    np.testing.assert_allclose(est["slope_error"], ref, rtol=1e-7)


def test_lsq_on_a_lazy_cube_stays_lazy(cube):
    lazy = cube.chunk({"abs_z": 2})
    with raise_if_dask_computes():
        g = G.gradient(lazy, "feh", dim="R")
        est = cubes.estimate(g[["slope", "intercept"]])
    xr.testing.assert_allclose(est.compute(),
                               cubes.estimate(G.gradient(cube, "feh", "R")[["slope",
                                                                            "intercept"]]))


def test_weighted_profile_fit_is_polyfit_and_linregress():
    rng = np.random.default_rng(4)
    x = np.linspace(0.03, 0.99, 17)
    y = rng.normal(-0.2 * x[None, :] + 0.1, 0.02, (3, 17))
    err = rng.uniform(0.01, 0.04, (3, 17))
    y[1, 4] = np.nan  # a missing point is left out
    prof = xr.DataArray(y, dims=("R", "abs_z"), coords={"abs_z": x})
    w = G.profile_gradient(prof, "abs_z", error=xr.DataArray(err, dims=("R", "abs_z")))
    u = G.profile_gradient(prof, "abs_z")
    for r in range(3):
        ok = np.isfinite(y[r])
        (m, b), cov = np.polyfit(x[ok], y[r, ok], 1, w=1 / err[r, ok], cov="unscaled")
        assert float(w.slope[r]) == pytest.approx(m, rel=1e-10)
        assert float(w.intercept[r]) == pytest.approx(b, rel=1e-10)
        assert float(w.slope_stderr[r]) == pytest.approx(np.sqrt(cov[0, 0]), rel=1e-10)
        assert float(w.intercept_stderr[r]) == pytest.approx(np.sqrt(cov[1, 1]), rel=1e-10)
        lr = scipy.stats.linregress(x[ok], y[r, ok])
        assert float(u.slope[r]) == pytest.approx(lr.slope, rel=1e-10)
        assert float(u.slope_stderr[r]) == pytest.approx(lr.stderr, rel=1e-9)
        assert float(u.intercept_stderr[r]) == pytest.approx(lr.intercept_stderr, rel=1e-9)
    assert int(u.n_points[1]) == 16


def test_wls_gradient_fits_bin_means_with_their_standard_errors(stars, cube):
    g = G.gradient(cube.isel(abs_z=0), "feh", dim="R", method="wls").sel(replicate=-1)
    R, feh = stars.R.values, stars.feh.values
    s = _slice(stars, 0)
    e = np.arange(6, 12.01, 0.5)
    i = np.clip(np.searchsorted(e, R[s], side="right") - 1, 0, len(e) - 2)
    means = np.array([feh[s][i == k].mean() for k in range(len(e) - 1)])
    sem = np.array([feh[s][i == k].std(ddof=1) / np.sqrt((i == k).sum())
                    for k in range(len(e) - 1)])
    m, b = np.polyfit(0.5 * (e[1:] + e[:-1]), means, 1, w=1 / sem)
    assert float(g.slope) == pytest.approx(m, rel=1e-9)
    assert float(g.intercept) == pytest.approx(b, rel=1e-9)


def _line_data(rng, n, m, b, lam, sx, sy):
    xt = rng.uniform(6, 12, n)
    yt = m * xt + b + rng.normal(0, lam * np.sqrt(1 + m * m), n)  # λ perpendicular
    return xt + rng.normal(0, sx, n), yt + rng.normal(0, sy, n)


def test_emcee_line_fit_recovers_slope_intercept_scatter():
    """Hawkins (2023) model on synthetic stars with errors on both axes, two slices at once."""
    rng = np.random.default_rng(8)
    truth = [(-0.078, 0.418, 0.30), (-0.04, 0.1, 0.15)]
    n = 1500
    sx = rng.uniform(0.05, 0.15, (2, n))
    sy = rng.uniform(0.04, 0.12, (2, n))
    xy = [_line_data(rng, n, m, b, lam, 0.0, 0.0) for m, b, lam in truth]
    x = np.stack([p[0] for p in xy]) + rng.normal(0, sx)
    y = np.stack([p[1] for p in xy]) + rng.normal(0, sy)
    da = {k: xr.DataArray(v, dims=("slice", "star"), attrs={"units": u}) for k, v, u in
          (("x", x, "kpc"), ("y", y, "dex"), ("sx", sx, "kpc"), ("sy", sy, "dex"))}
    kw = {"dim": "star", "x_error": da["sx"], "y_error": da["sy"], "walkers": 10,
          "steps": 400, "seed": 3}
    fit = fit_line(da["x"], da["y"], **kw)
    assert fit.slope.attrs["units"] == "dex / kpc"
    for k, (m, b, lam) in enumerate(truth):
        for p, t in (("slope", m), ("intercept", b), ("scatter", lam)):
            med = float(fit[p][k])
            half = 0.5 * float(fit[f"{p}_p84"][k] - fit[f"{p}_p16"][k])
            assert abs(med - t) < 2 * half, (p, k, med, t, half)
        # posterior width of the slope ≈ the OLS formal error (σ_x ≪ spread of x)
        lr = scipy.stats.linregress(x[k], y[k])
        half = 0.5 * float(fit.slope_p84[k] - fit.slope_p16[k])
        assert 0.7 < half / lr.stderr < 1.4
    again = fit_line(da["x"], da["y"], **kw)
    xr.testing.assert_identical(fit, again)  # seeded: reproducible
    mle = fit_line(da["x"], da["y"], dim="star", x_error=da["sx"], y_error=da["sy"],
                   method="mle")
    np.testing.assert_allclose(mle.slope, fit.slope, atol=2 * float(
        (fit.slope_p84 - fit.slope_p16).max()))


def test_cube_line_fit_equals_the_per_star_fit_for_equal_errors(stars, cube):
    """Bins are groups of stars with the bin-mean errors: exact when errors are equal."""
    g = G.gradient(cube.isel(abs_z=[0]), "feh", dim="R", method="mle").sel(replicate=-1)
    s = _slice(stars, 0)
    per_star = fit_line(xr.DataArray(stars.R.values[s], dims="star"),
                        xr.DataArray(stars.feh.values[s], dims="star"), dim="star",
                        x_error=0.1, y_error=0.05, method="mle")
    for p in ("slope", "intercept", "scatter"):
        assert float(g[p][0]) == pytest.approx(float(per_star[p]), rel=1e-4)
    mc = G.gradient(cube.isel(abs_z=[0, 1]), "feh", dim="R", method="mcmc", walkers=8,
                    steps=200)
    est = cubes.estimate(mc[["slope", "scatter"]])
    assert est.slope.dims == ("abs_z",) and (est.slope_error > 0).all()
    small = G.gradient(cube.isel(abs_z=[0, -1]), "feh", "R", method="mle", min_count=1000)
    assert int(small["count"].sel(replicate=-1)[1]) < 1000
    assert np.isfinite(small.slope[:, 0]).all() and np.isnan(small.slope[:, 1]).all()


# -- Long et al. (2025): medians in |Z| with and without the radial-trend correction -------
@pytest.fixture(scope="module")
def flared():
    """Two populations whose |z| grows with R (a flare): without the radial correction, the
    radial gradient leaks into the vertical one."""
    rng = np.random.default_rng(5)
    n = 80_000
    pop = rng.integers(0, 2, n)
    R = rng.uniform(7, 13, n)
    az = np.abs(rng.normal(0, 0.12 + 0.1 * (R - 7), n))
    feh = 0.5 - 0.07 * R - np.where(pop == 0, 0.2, 0.02) * az + rng.normal(0, 0.1, n)
    keep = az < 1.02
    ds = xr.Dataset({"R": ("star", R), "abs_z": ("star", az), "feh": ("star", feh),
                     "pop": ("star", pop)}).isel(star=keep)
    c = cubes.bin_catalog(ds, {"pop": A.categorical([0, 1]), "R": A.regular(7, 13, 0.25),
                               "abs_z": A.regular(0, 1.02, 0.06),
                               "feh": A.regular(-1.5, 1.0, 0.01)},
                          values=["feh", "R"], cross=[("feh", "R")], replicates=K,
                          progress=False)
    return ds, c


def test_median_profiles_match_per_star_medians(flared):
    ds, c = flared
    g = G.gradient(c, "feh", "abs_z", method="median", radius_bins=[7, 9, 11, 13],
                   radial="median")
    trend = G.radial_trend(c, "feh", kind="median", exclude=["abs_z"]).sel(replicate=-1)
    R, az, feh, pop = (ds[k].values for k in ("R", "abs_z", "feh", "pop"))
    iR = np.clip(((R - 7) / 0.25).astype(int), 0, 23)
    iz = np.clip((az / 0.06).astype(int), 0, 16)
    delta = feh - trend.values[pop, iR]
    med = g.median_feh.sel(replicate=-1)
    worst = 0.0
    for p in range(2):
        for b, (lo, hi) in enumerate([(7, 9), (9, 11), (11, 13)]):
            for j in range(17):
                s = (pop == p) & (R >= lo) & (R < hi) & (iz == j)
                if s.sum() >= 100:  # dense cells: a median is then known to a bin width
                    worst = max(worst, abs(float(med[p, j, b]) - np.median(delta[s])))
    assert worst < 0.01  # one [Fe/H] bin
    # the binned trend is the per-star median of each fine R bin, within one bin width
    for p in range(2):
        ref = [np.median(feh[(pop == p) & (iR == k)]) for k in range(24)]
        np.testing.assert_allclose(trend[p], ref, atol=0.01)
    # the fit is the OLS of the medians on the bin centres (scipy.linregress)
    y = med.isel(pop=0, R_bin=1).values
    lr = scipy.stats.linregress(c.abs_z.values, y)
    assert float(g.slope.sel(replicate=-1)[0, 1]) == pytest.approx(lr.slope, rel=1e-10)
    assert float(g.slope_stderr.sel(replicate=-1)[0, 1]) == pytest.approx(lr.stderr, rel=1e-9)


def test_radial_trend_correction_removes_the_leak_of_the_radial_gradient(flared):
    _, c = flared
    kw = {"method": "median", "radius_bins": [7, 9, 11, 13]}
    truth = np.array([-0.2, -0.02])[:, None]
    for radial in ("median", "linear"):
        est = cubes.estimate(G.gradient(c, "feh", "abs_z", radial=radial, **kw)["slope"])
        pull = (est.slope - truth) / est.slope_error
        assert float(np.abs(pull).max()) < 3, (radial, est.slope.values)
    raw = cubes.estimate(G.gradient(c, "feh", "abs_z", radial=None, **kw)["slope"])
    leak = (raw.slope - truth) / raw.slope_error  # the flare: −0.07 dex/kpc × dR/d|z|
    assert float(leak.mean()) < -3 and float((raw.slope - truth).mean()) < -0.02


# -- the mock disk: known gradients ---------------------------------------------------------
@pytest.fixture(scope="module")
def disk():
    st = mock.disk(150_000, seed=2).compute()
    cat = xr.Dataset({"R": st.R_true, "z": st.z_true, "feh": st.feh_true,
                      "source_id": st.source_id}, attrs={"id_column": "source_id"})
    cat["abs_z"] = np.abs(cat.z)
    model = mock.DiskModel.from_describe(st.attrs["truth"]["disk"])
    return cat, model


def _mock_slopes(cat, axes, along):
    c = cubes.bin_catalog(cat, axes, values=["feh", along], cross=[("feh", along)],
                          replicates=16, progress=False)
    return cubes.estimate(G.gradient(c, "feh", along)["slope"])


def test_mock_radial_gradient_is_recovered(disk):
    cat, model = disk
    est = _mock_slopes(cat, {"abs_z": A.regular(0, 1.2, 0.2), "R": A.regular(5, 11, 0.5)}, "R")
    pull = (est.slope - model.feh_gradient) / est.slope_error
    assert float(np.abs(pull).max()) < 2.5, pull.values
    assert float(np.abs(pull).mean()) < 1.5


def test_mock_vertical_gradient_matches_the_model(disk):
    """d[Fe/H]/d|z| per R bin against the LSQ slope of the model's ⟨feh⟩(R, z) at the stars."""
    cat, model = disk
    est = _mock_slopes(cat, {"R": A.regular(6, 10, 1.0), "abs_z": A.regular(0, 1.0, 0.1)},
                       "abs_z")
    R, az = cat.R.values, cat.abs_z.values
    truth = []
    for lo in range(6, 10):
        s = (R >= lo) & (R < lo + 1) & (az <= 1.0)
        truth.append(np.polyfit(az[s], model.mean_feh(R[s], az[s]), 1)[0])
    truth = np.array(truth)
    pull = (est.slope.values - truth) / est.slope_error.values
    assert np.abs(pull).max() < 2.5, (est.slope.values, truth)
    # and the model's own d⟨feh⟩/dz is that steep: the mix of populations makes it
    zz = np.linspace(0.0, 1.0, 101)
    local = np.gradient(model.mean_feh(8.0, zz), zz)
    assert local.min() < truth.mean() < local.max() < 0


# -- bad input ------------------------------------------------------------------------------
def test_bad_input_says_what_is_missing(stars, cube):
    with pytest.raises(KeyError, match=r"no 'sum_vz'.*values=\['vz', 'R'\], cross"):
        G.gradient(cube, "vz", dim="R")
    plain = cubes.bin_catalog(stars, {"abs_z": A.edges(ZE), "R": A.regular(6, 12, 1.0)},
                              values=["feh", "R"], replicates=0, progress=False)
    with pytest.raises(KeyError, match=r"no cross moment 'sum_feh_R'.*cross=\[\('feh', 'R'\)"):
        G.gradient(plain, "feh", dim="R")
    only_feh = cubes.bin_catalog(stars, {"R": A.regular(6, 12, 1.0)}, values=["feh"],
                                 replicates=0, progress=False)
    with pytest.raises(KeyError, match="no coordinate 'R' binned as a value"):
        G.gradient(only_feh, "feh", dim="R")
    with pytest.raises(ValueError, match="no dim 'phi' to fit along"):
        G.gradient(cube, "feh", dim="phi")
    with pytest.raises(ValueError, match="too few stars"):
        G.gradient(cube.isel(R=[0]).isel(abs_z=[-1]), "feh", "R", min_count=10_000)
    with pytest.raises(ValueError, match="method must be one of"):
        G.gradient(cube, "feh", "R", method="bayes")
    with pytest.raises(ValueError, match="finely binned dim"):
        G.gradient(cube, "feh", "abs_z", method="median")
    with pytest.raises(ValueError, match="priors"):
        G.gradient(cube, "feh", "R", method="mle", priors={"gradient": (-1, 1)})
    with pytest.raises(TypeError, match="moment cube"):
        G.gradient(stars.feh, "feh", "R")
