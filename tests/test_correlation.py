"""Pearson correlation of profiles and the group subsamples of cubes.resampling vs numpy/scipy."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import xarray as xr
from scipy import ndimage
from scipy import stats as sps

import cubes
from cubes import axes as A
from cubes import resampling, stats
from cubes.kernels.binning import replicate_groups
from cubes.stats import contrast as C
from cubes.stats.correlation import pearson
from tests.utils import raise_if_dask_computes

K = 20


@pytest.fixture(scope="module")
def stars():
    rng = np.random.default_rng(3)
    n = 120_000
    z = rng.normal(0, 0.5, n)
    wave = 0.6 * np.sin(2 * np.pi * np.abs(z) / 0.6) * (z > 0)  # a N-S wave in sigma_vz
    return xr.Dataset({
        "R": ("star", rng.uniform(8, 10, n), {"units": "kpc"}),
        "z": ("star", z, {"units": "kpc"}),
        "vz": ("star", rng.normal(0, 16 + 6 * np.abs(z) + wave, n), {"units": "km / s"}),
        "id": ("star", np.arange(n) * 3 + 2),
    }, attrs={"id_column": "id"})


AXES = {"R": A.regular(8, 10, 1.0), "z": A.symmetric(1.2, 0.05), "vz": A.symmetric(60, 2.0)}


@pytest.fixture(scope="module")
def cube(stars):
    return cubes.bin_catalog(stars, AXES, ["vz"], replicates=K, progress=False)


@pytest.fixture(scope="module")
def groups(stars):
    return replicate_groups(stars.id.values.astype(np.int64), 0, stars.sizes["star"], K)


def profiles(cube):
    """δρ_(N−S)(|z|) and Δσ_vz(|z|), the pair of Lin et al. 2023 Table 1."""
    drho = C.contrast_north_south(cube)
    dsig = stats.north_south(stats.dispersion(cube.cube.sum("vz"), "vz"))
    return drho, dsig


def numpy_profiles(stars, cube, mask):
    """The same two profiles per R bin from the stars, by numpy and scipy.ndimage."""
    ze = np.r_[cube.z_bounds[:, 0], cube.z_bounds[-1, 1]]
    ve = np.r_[cube.vz_bounds[:, 0], cube.vz_bounds[-1, 1]]
    R, z, vz = stars.R.values, stars.z.values, stars.vz.values
    inside = mask & (np.abs(z) <= 1.2) & (np.abs(vz) <= 60)
    iz = np.searchsorted(ze, z, side="right") - 1
    half = (ze.size - 1) // 2
    drho, dsig = [], []
    for lo in (8.0, 9.0):
        sel = inside & (R >= lo) & ((R < lo + 1) if lo < 9 else (R <= lo + 1))
        n, _, _ = np.histogram2d(z[sel], vz[sel], bins=(ze, ve))
        d = n / ndimage.gaussian_filter(n, 3) - 1
        stripe = d[:, np.abs(cube.vz.values) < 10].mean(1)
        drho.append(stripe[half:] - stripe[:half][::-1])
        sig = np.array([vz[sel & (iz == j)].std(ddof=1) for j in range(ze.size - 1)])
        dsig.append(sig[half:] - sig[:half][::-1])
    return np.array(drho), np.array(dsig)


def test_pearson_matches_scipy_vectorized_over_other_dims():
    rng = np.random.default_rng(0)
    x = xr.DataArray(rng.normal(size=(3, 4, 30)), dims=("a", "b", "abs_z"),
                     coords={"abs_z": 0.025 + 0.05 * np.arange(30)}, name="x")
    y = (0.5 * x + rng.normal(size=x.shape)).rename("y")
    out = pearson(x, y, within=(0, 1.0))
    assert out.attrs["n"] == 20 and out["r"].dims == ("a", "b")
    for i in range(3):
        for j in range(4):
            ref = sps.pearsonr(x[i, j, :20], y[i, j, :20])
            assert abs(float(out["r"][i, j]) - ref.statistic) < 1e-12
            np.testing.assert_allclose(float(out["p"][i, j]), ref.pvalue, rtol=1e-9)
    # the spec's check of Lin et al. Table 1: r = -0.856 with n = 20 has p = 1.48e-6
    r = xr.DataArray(-0.856)
    from cubes.stats.correlation import _p_value
    np.testing.assert_allclose(_p_value(r.values, 20), 1.48e-6, rtol=0.01)
    perfect = pearson(x, 2 * x + 1)
    np.testing.assert_allclose(perfect["r"], 1.0)
    assert (perfect["p"] < 1e-200).all()


def test_pearson_of_the_table1_pair_matches_per_star_numpy_and_scipy(stars, cube, groups):
    drho, dsig = profiles(cube)
    res = pearson(drho, dsig, within=(0, 1.0))
    assert res["r"].dims == ("replicate", "R")
    for rep, mask in ((-1, np.ones(stars.sizes["star"], bool)), (7, groups != 7)):
        nd, ns = numpy_profiles(stars, cube, mask)
        np.testing.assert_allclose(drho.sel(replicate=rep), nd, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(dsig.sel(replicate=rep), ns, rtol=1e-9, atol=1e-12)
        for i in range(2):
            ref = sps.pearsonr(nd[i, :20], ns[i, :20])
            got = res.sel(replicate=rep).isel(R=i)
            assert abs(float(got["r"]) - ref.statistic) < 1e-9
            np.testing.assert_allclose(float(got["p"]), ref.pvalue, rtol=1e-6)
    est = cubes.estimate(res)
    assert set(est.data_vars) == {"r", "r_error", "p", "p_error"}
    assert (est["r_error"] > 0).all() and (est["r_error"] < 0.5).all()


def test_pearson_bad_input():
    x = xr.DataArray(np.arange(5.0), dims="abs_z", coords={"abs_z": np.arange(5)}, name="x")
    with pytest.raises(ValueError, match="has no 'abs_z' dim"):
        pearson(x, x.rename(abs_z="z"))
    with pytest.raises(ValueError, match="different 'abs_z' bins"):
        pearson(x, x.assign_coords(abs_z=np.arange(5) + 0.5))
    with pytest.raises(ValueError, match="at least 3 bins"):
        pearson(x, x, within=(0, 1))
    assert np.isnan(pearson(x, x.where(x != 2))["r"])  # a NaN bin gives NaN, as scipy
    assert np.isnan(pearson(x, x * 0 + 1)["r"])  # a constant profile too


def test_a_subsample_is_the_exact_cube_of_its_groups_stars(stars, cube, groups):
    sub = resampling.subsamples(cube, n=5, fraction=0.6, seed=1)
    assert "replicate" not in sub.dims and sub.sizes["subsample"] == 5
    assert sub.attrs["subsamples"]["groups"] == 12 and sub["z_bounds"].equals(cube["z_bounds"])
    for i in (0, 4):
        chosen = sub.subsample_groups.values[i]
        assert len(set(chosen)) == 12
        direct = cubes.bin_catalog(stars.isel(star=np.isin(groups, chosen)), AXES, ["vz"],
                                   replicates=0, progress=False,
                                   shifts={"vz": cube.sum_vz.attrs["shift"]})
        np.testing.assert_array_equal(sub["count"].isel(subsample=i), direct["count"])
        np.testing.assert_allclose(sub["sum_vz2"].isel(subsample=i), direct["sum_vz2"],
                                   rtol=1e-10)
    # every statistic works on it unchanged, with the subsample dim in place of replicate
    drho, dsig = profiles(sub)
    assert pearson(drho, dsig, within=(0, 1.0))["r"].dims == ("subsample", "R")
    # the same seed picks the same groups in any cube of the catalog (statistics pair up)
    other = cubes.bin_catalog(stars, {"z": A.symmetric(1.2, 0.3)}, replicates=K, progress=False)
    np.testing.assert_array_equal(resampling.subsamples(other, 5, 0.6, 1).subsample_groups,
                                  sub.subsample_groups)


def test_group_subsamples_spread_like_per_star_subsamples(stars, cube):
    """Statistical check of the granularity: 200 subsamples of 12 of 20 groups against 200
    random 60 % subsets of the stars, for σ_vz(z) and for a Pearson r of a NS profile."""
    nsub = 200
    sub = resampling.subsamples(cube.cube.sum("vz").cube.sum("R"), n=nsub, fraction=0.6, seed=2)
    sig = stats.dispersion(sub, "vz")
    tmpl = xr.DataArray(np.sin(2 * np.pi * sig.z.values[24:] / 0.6), dims="abs_z",
                        coords={"abs_z": sig.z.values[24:]})
    r_grp = pearson(stats.north_south(sig), tmpl, within=(0, 1.0))["r"].values
    z, vz = stars.z.values, stars.vz.values
    inside = (np.abs(z) <= 1.2) & (np.abs(vz) <= 60)
    ze = np.r_[cube.z_bounds[:, 0], cube.z_bounds[-1, 1]]
    iz, v = np.searchsorted(ze, z[inside], side="right") - 1, vz[inside]
    rng = np.random.default_rng(5)
    sig_star, r_star = [], []
    for _ in range(nsub):  # the per-star reference: numpy on the catalog
        pick = rng.choice(v.size, size=round(0.6 * v.size), replace=False)
        cnt = np.bincount(iz[pick], minlength=48)
        s1 = np.bincount(iz[pick], v[pick], 48)
        s2 = np.bincount(iz[pick], v[pick] ** 2, 48)
        s = np.sqrt((s2 - s1**2 / cnt) / (cnt - 1))
        sig_star.append(s)
        r_star.append(sps.pearsonr(s[24:44] - s[:24][::-1][:20], tmpl.values[:20]).statistic)
    sig_star, r_star = np.array(sig_star), np.array(r_star)
    # spread of σ_vz over subsamples, bin by bin (|z| < 0.8 kpc: 32 bins with > 500 stars).
    # Per bin, the group spread is set by K = 20 group values, so it scatters by
    # 1/sqrt(2 (K - 1)) = 16 % about the per-star spread (plus 2 x 5 % from 200 draws each):
    # expected std of the ratio 0.18, of its mean over 32 bins 0.03
    core = slice(8, 40)
    ratio = sig.std("subsample").values[core] / sig_star.std(0)[core]
    assert 0.92 < ratio.mean() < 1.08 and ratio.std() < 0.27, ratio  # measured 0.99, 0.15
    pull = ((sig.mean("subsample").values[core] - sig_star.mean(0)[core])
            / (np.sqrt(2 / nsub) * sig_star.std(0)[core]))
    assert np.abs(pull).max() < 4, pull  # measured: standard deviation 0.9, max 2.9
    # and the 16/50/84 percentiles of r
    pg, ps = np.percentile(r_grp, [16, 50, 84]), np.percentile(r_star, [16, 50, 84])
    width = ps[2] - ps[0]
    # measured: groups 0.716 / 0.788 / 0.851, stars 0.714 / 0.798 / 0.859
    assert abs(pg[1] - ps[1]) < 0.25 * width, (pg, ps)
    assert 0.75 < (pg[2] - pg[0]) / width < 1.33, (pg, ps)


def test_percentiles_are_numpy_percentiles_over_subsamples(cube):
    sub = resampling.subsamples(cube, n=50, fraction=0.6, seed=0)
    drho, dsig = profiles(sub)
    res = pearson(drho, dsig, within=(0, 1.0))
    pc = resampling.percentiles(res)
    assert pc["r"].dims == ("percentile", "R")
    np.testing.assert_allclose(pc["r"].values,
                               np.percentile(res["r"].values, [16, 50, 84], axis=0), rtol=1e-12)
    np.testing.assert_allclose(pc.percentile, [16, 50, 84])
    with pytest.raises(ValueError, match="no 'subsample' dim"):
        resampling.percentiles(dsig.isel(subsample=0))


def test_subsamples_stay_lazy(cube):
    lazy = cube.chunk({"R": 1, "z": 12}).assign_coords(cube.coords)  # as open_cube: coords loaded
    with raise_if_dask_computes():
        sub = resampling.subsamples(lazy, n=10, fraction=0.6, seed=0)
        drho, dsig = profiles(sub)
        pc = resampling.percentiles(pearson(drho, dsig, within=(0, 1.0)))
    assert sub["count"].chunks and pc["r"].chunks
    ref = resampling.subsamples(cube, n=10, fraction=0.6, seed=0)
    xr.testing.assert_identical(sub.compute(), ref)
    xr.testing.assert_allclose(pc.compute(), resampling.percentiles(
        pearson(*profiles(ref), within=(0, 1.0))))


def test_subsamples_refuse_what_cannot_be_resampled(stars, cube):
    with pytest.raises(ValueError, match="replicates=K"):
        resampling.subsamples(cube.isel(replicate=0, drop=True))
    with pytest.raises(ValueError, match="not its jackknife samples"):
        resampling.subsamples(cube.cube.samples())
    with pytest.raises(ValueError, match="fewer than K groups"):
        resampling.subsamples(cube, fraction=0.99)
    with pytest.raises(ValueError, match="fraction must be in"):
        resampling.subsamples(cube, fraction=1.5)
    small = cubes.bin_catalog(stars, {"z": A.symmetric(1.2, 0.3)}, replicates=6, progress=False)
    assert math.comb(6, 4) == 15
    with pytest.raises(ValueError, match="15 distinct ones"):
        resampling.subsamples(small, n=50)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resampling.subsamples(small, n=10)
    assert any("K = 6" in str(w.message) for w in caught)
