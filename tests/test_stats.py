"""Statistics of cubes against direct per-star numpy computations."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import cubes
from cubes import axes as A
from cubes import stats
from cubes.kernels.binning import replicate_groups
from tests.utils import raise_if_dask_computes

K = 8


@pytest.fixture(scope="module")
def stars():
    rng = np.random.default_rng(7)
    n = 60_000
    z = rng.normal(0, 0.7, n)
    sig = 15 + 10 * np.abs(z) + 3 * (z > 0)  # a built-in North–South difference
    return xr.Dataset({
        "R": ("star", rng.uniform(6, 12, n), {"units": "kpc"}),
        "z": ("star", z, {"units": "kpc"}),
        "vz": ("star", rng.normal(2.0, sig), {"units": "km / s"}),
        "vz_error": ("star", rng.uniform(1, 5, n), {"units": "km / s"}),
        "feh": ("star", rng.normal(-0.1, 0.25, n), {"units": "dex"}),
        "id": ("star", np.arange(n) * 7 + 3),
    }, attrs={"id_column": "id"})


AXES = {"R": A.regular(6, 12, 2.0), "z": A.symmetric(1.5, 0.25)}


@pytest.fixture(scope="module")
def cube(stars):
    return cubes.bin_catalog(stars, AXES, ["vz"], errors=True, replicates=K)


def per_bin(stars, func, cube, mask=None):
    """func(per-star values of the bin) for every (R, z) bin, by brute force."""
    R, z = stars.R.values, stars.z.values
    Re = np.r_[cube.R_bounds[:, 0], cube.R_bounds[-1, 1]]
    ze = np.r_[cube.z_bounds[:, 0], cube.z_bounds[-1, 1]]
    iR = np.clip(np.searchsorted(Re, R, side="right") - 1, 0, len(Re) - 2)
    iz = np.clip(np.searchsorted(ze, z, side="right") - 1, 0, len(ze) - 2)
    inside = (R >= Re[0]) & (R <= Re[-1]) & (z >= ze[0]) & (z <= ze[-1])
    if mask is not None:
        inside &= mask
    out = np.full((len(Re) - 1, len(ze) - 1), np.nan)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            sel = inside & (iR == i) & (iz == j)
            if sel.sum() > 1:
                out[i, j] = func(sel)
    return out


def test_mean_std_dispersion_match_per_star_numpy(stars, cube):
    vz, err = stars.vz.values, stars.vz_error.values
    full = {"replicate": -1}
    np.testing.assert_allclose(cube.cube.mean("vz").sel(full),
                               per_bin(stars, lambda s: vz[s].mean(), cube), rtol=1e-10)
    np.testing.assert_allclose(cube.cube.std("vz").sel(full),
                               per_bin(stars, lambda s: vz[s].std(), cube), rtol=1e-10)
    ref = per_bin(stars, lambda s: np.sqrt(vz[s].var(ddof=1) - np.mean(err[s] ** 2)), cube)
    np.testing.assert_allclose(cube.cube.dispersion("vz").sel(full), ref, rtol=1e-10)
    raw = per_bin(stars, lambda s: vz[s].std(ddof=1), cube)
    np.testing.assert_allclose(cube.cube.dispersion("vz", deconvolve=False).sel(full), raw,
                               rtol=1e-10)


def test_jackknife_estimate_matches_leave_one_group_out_by_hand(stars, cube):
    groups = replicate_groups(stars.id.values.astype(np.int64), 0, stars.sizes["star"], K)
    vz = stars.vz.values
    loo = np.stack([per_bin(stars, lambda s: vz[s].mean(), cube, mask=groups != k)
                    for k in range(K)])
    ref = np.sqrt((K - 1) / K * ((loo - loo.mean(0)) ** 2).sum(0))
    est = cube.cube.estimate(cube.cube.mean("vz"))
    np.testing.assert_allclose(est["mean_vz_error"], ref, rtol=1e-8)
    np.testing.assert_allclose(est["mean_vz"], cube.cube.mean("vz").sel(replicate=-1))


def test_north_south_of_a_dispersion_matches_direct_hemispheres(stars, cube):
    vz, z = stars.vz.values, stars.z.values
    sig = per_bin(stars, lambda s: vz[s].std(), cube)  # (R, z)
    n = sig.shape[1] // 2
    ref = sig[:, n:] - sig[:, :n][:, ::-1]
    ns = stats.north_south(cube.cube.std("vz"), "z")
    assert ns.dims == ("replicate", "R", "abs_z")
    np.testing.assert_allclose(ns.sel(replicate=-1), ref, rtol=1e-9)
    np.testing.assert_allclose(ns["abs_z"], cube.z.values[n:])
    np.testing.assert_allclose(ns["abs_z_width"], 0.25)
    # the built-in 3 km/s asymmetry is found, with errors
    est = cubes.estimate(ns)
    pull = (est[ns.name] - 3.0) / est[f"{ns.name}_error"]
    assert float(np.abs(pull).median()) < 2.0
    assert (z > 0).any()


def test_folding_the_cube_then_summing_hemispheres_is_the_abs_z_cube(stars, cube):
    folded = stats.fold(cube, "z").sum("hemisphere")
    absz = stars.assign(az=np.abs(stars.z))
    direct = cubes.bin_catalog(absz, {"R": AXES["R"], "az": A.regular(0, 1.5, 0.25)}, ["vz"],
                               errors=True, replicates=K)
    np.testing.assert_array_equal(folded["count"], direct["count"])
    np.testing.assert_allclose(folded["sum_vz2"], direct["sum_vz2"], rtol=1e-9)


@pytest.mark.parametrize(
    ("edges", "match"),
    [
        ([-1.0, -0.5, 0.5, 1.0], "odd number of bins"),
        ([-1.0, -0.2, 0.0, 0.5, 1.0], "not mirror-symmetric"),
        ([-0.8, -0.7, 0.1, 0.5, 1.0], "not mirror-symmetric"),
    ],
)
def test_a_z_axis_that_cannot_be_folded_is_refused(stars, edges, match):
    c = cubes.bin_catalog(stars, {"z": edges}, ["vz"], replicates=0)
    with pytest.raises(ValueError, match=match):
        stats.north_south(c.cube.mean("vz"), "z")
    with pytest.raises(ValueError, match="no 'y' dim"):
        stats.fold(c, "y")


def test_density_is_count_per_bin_volume(stars, cube):
    d = cube.cube.density().sel(replicate=-1)
    c = cube.cube.count().sel(replicate=-1)
    np.testing.assert_allclose(d, c / (2.0 * 0.25))
    assert d.attrs["units"] == "1 / kpc2"
    assert cube.cube.var("vz").attrs == {"long_name": "variance of vz (ddof=0)",
                                         "units": "km2 / s2"}
    assert set(cube.cube.dispersion("vz").attrs) == {"long_name", "units"}


def test_hexagonal_density_uses_the_cell_area():
    rng = np.random.default_rng(2)
    ds = xr.Dataset({"X": ("star", rng.uniform(-1, 1, 5000)),
                     "Y": ("star", rng.uniform(-1, 1, 5000))})
    c = cubes.bin_catalog(ds, {"cell": A.hexagonal("X", "Y", spacing=0.4, radius=0.8)},
                          replicates=0)
    np.testing.assert_allclose(c.cube.density(), c["count"] / (np.sqrt(3) / 2 * 0.16))


def test_quantile_along_a_binned_value_dim(stars):
    c = cubes.bin_catalog(stars, {"R": AXES["R"], "feh": A.regular(-1.5, 1.0, 0.01)},
                          replicates=K)
    med = c.cube.quantile("feh", 0.5).sel(replicate=-1)
    feh, R = stars.feh.values, stars.R.values
    for i, (lo, hi) in enumerate(c.R_bounds.values):
        sel = (R >= lo) & (R < hi if i < 2 else R <= hi) & (feh >= -1.5) & (feh <= 1.0)
        assert abs(float(med[i]) - np.median(feh[sel])) < 0.01  # within one bin width
    q = c.cube.quantile("feh", [0.16, 0.84])
    assert q.dims == ("replicate", "R", "quantile")
    assert (q.sel(quantile=0.84) > q.sel(quantile=0.16)).all()


def test_binned_quantile_is_exact_for_a_uniform_bin():
    from cubes.kernels.quantile import binned_quantile

    out = binned_quantile(np.array([0, 4, 0, 0]), np.array([0.0, 1, 2, 3, 4]),
                          np.array([0.0, 0.25, 0.5, 1.0]))
    np.testing.assert_allclose(out, [1.0, 1.25, 1.5, 2.0])
    assert np.isnan(binned_quantile(np.zeros(3), np.arange(4.0), np.array([0.5]))).all()


def test_coarsen_and_marginalize_equal_a_direct_rebuild(stars, cube):
    coarse = cube.cube.coarsen({"z": 3})
    direct = cubes.bin_catalog(stars, {"R": AXES["R"], "z": A.symmetric(1.5, 0.75)}, ["vz"],
                               errors=True, replicates=K)
    np.testing.assert_array_equal(coarse["count"], direct["count"])
    np.testing.assert_allclose(coarse["sum_vz2"], direct["sum_vz2"], rtol=1e-9)
    np.testing.assert_allclose(coarse["z_bounds"], direct["z_bounds"])
    np.testing.assert_array_equal(coarse["z"], direct["z"])  # nominal labels survive
    np.testing.assert_array_equal(coarse["z_width"], direct["z_width"])
    np.testing.assert_allclose(coarse.cube.dispersion("vz"), direct.cube.dispersion("vz"),
                               rtol=1e-9)
    marg = cube.cube.sum("R")
    onlyz = cubes.bin_catalog(stars.where(stars.R <= 12), {"z": AXES["z"]}, ["vz"],
                              errors=True, replicates=K)
    np.testing.assert_array_equal(marg["count"], onlyz["count"])
    with pytest.raises(ValueError, match="must divide"):
        cube.cube.coarsen({"z": 5})
    with pytest.raises(ValueError, match="absent dims"):
        cube.cube.sum("phi")


def test_statistics_on_a_lazy_cube_trigger_no_compute(cube):
    lazy = cube.chunk({"R": 1})
    with raise_if_dask_computes():
        sig = lazy.cube.dispersion("vz")
        ns = lazy.cube.north_south(sig)
        est = lazy.cube.estimate(ns)
        fold = lazy.cube.fold("z")
        med = lazy.cube.density()
    assert isinstance(est[ns.name].data, type(sig.data))
    xr.testing.assert_allclose(est.compute(), cube.cube.estimate(
        cube.cube.north_south(cube.cube.dispersion("vz"))))
    assert fold.chunks and med.chunks


def test_statistics_say_what_is_missing(stars):
    c = cubes.bin_catalog(stars, {"z": AXES["z"]}, ["vz"], replicates=0)
    with pytest.raises(KeyError, match=r"no 'sum_feh'.*values=\['feh'\]"):
        c.cube.mean("feh")
    with pytest.raises(KeyError, match="errors="):
        c.cube.dispersion("vz", deconvolve=True)
    with pytest.raises(ValueError, match="replicates=K"):
        c.cube.estimate(c.cube.mean("vz"))
    # too few stars: NaN, not a number from nothing
    tiny = cubes.bin_catalog(stars.isel(star=slice(0, 3)), {"z": AXES["z"]}, ["vz"],
                             replicates=0)
    assert np.isnan(tiny.cube.dispersion("vz", deconvolve=False)).sum() >= 9
