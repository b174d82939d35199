"""Density contrast, its North–South stripe profile and the phase-spiral shape vs numpy/scipy."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import ndimage

import cubes
from cubes import axes as A
from cubes.kernels.binning import replicate_groups
from cubes.stats import contrast as C
from tests.utils import raise_if_dask_computes

K = 8
Z_SCALE, VZ_SCALE, WIND = 1.0, 55.0, 2 * np.pi  # the spiral: peaks where theta - WIND r = 2 pi m


def spiral_stars(n, seed, amplitude=2.0, width=0.35):
    """Stars in a Gaussian (z, vz) disk plus a thin one-armed spiral ridge: the density is
    × 1 + a exp(−(1 − cos(θ − k r)) / w²) in the scaled plane (z / 1 kpc, vz / 55 km/s), so the
    ridge is at θ − k r = 2π m; R uniform in two bins."""
    rng = np.random.default_rng(seed)
    out = []
    while sum(len(o[0]) for o in out) < n:
        z = rng.normal(0, 0.6, 2 * n)
        vz = rng.normal(0, 0.6 * VZ_SCALE, 2 * n)
        x, y = z / Z_SCALE, vz / VZ_SCALE
        phase = np.arctan2(y, x) - WIND * np.hypot(x, y)
        f = 1 + amplitude * np.exp(-(1 - np.cos(phase)) / width**2)
        keep = rng.random(2 * n) * (1 + amplitude) < f
        out.append((z[keep], vz[keep]))
    z, vz = (np.concatenate([o[i] for o in out])[:n] for i in range(2))
    return xr.Dataset({"z": ("star", z, {"units": "kpc"}),
                       "vz": ("star", vz, {"units": "km / s"}),
                       "R": ("star", rng.uniform(8, 10, n), {"units": "kpc"}),
                       "id": ("star", np.arange(n))}, attrs={"id_column": "id"})


GRID = {"R": A.regular(8, 10, 1.0), "z": A.symmetric(2.0, 0.04), "vz": A.symmetric(110, 2.0)}


@pytest.fixture(scope="module")
def stars():
    return spiral_stars(400_000, seed=4)


@pytest.fixture(scope="module")
def cube(stars):
    return cubes.bin_catalog(stars, GRID, replicates=K, progress=False)


def numpy_contrast(stars, cube, mask=None, mode="reflect"):
    """δρ per R bin by numpy.histogram2d + scipy.ndimage.gaussian_filter (the paper's recipe)."""
    ze = np.r_[cube.z_bounds[:, 0], cube.z_bounds[-1, 1]]
    ve = np.r_[cube.vz_bounds[:, 0], cube.vz_bounds[-1, 1]]
    R, z, vz = stars.R.values, stars.z.values, stars.vz.values
    out = []
    for lo in (8.0, 9.0):
        sel = (R >= lo) & (R < lo + 1) if lo < 9 else (R >= lo) & (R <= lo + 1)
        if mask is not None:
            sel &= mask
        n, _, _ = np.histogram2d(z[sel], vz[sel], bins=(ze, ve))
        ng = ndimage.gaussian_filter(n, 3, mode=mode)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.where(ng > 0, n / ng - 1, np.nan))
    return np.stack(out)


def test_density_contrast_is_histogram2d_over_its_gaussian_filter(stars, cube):
    d = C.density_contrast(cube)
    assert d.dims == ("replicate", "R", "z", "vz")
    np.testing.assert_allclose(d.sel(replicate=-1), numpy_contrast(stars, cube), rtol=1e-10,
                               atol=1e-12)
    groups = replicate_groups(stars.id.values.astype(np.int64), 0, stars.sizes["star"], K)
    np.testing.assert_allclose(d.sel(replicate=5), numpy_contrast(stars, cube, groups != 5),
                               rtol=1e-10, atol=1e-12)
    const = C.density_contrast(cube, mode="constant")
    np.testing.assert_allclose(const.sel(replicate=-1),
                               numpy_contrast(stars, cube, mode="constant"), rtol=1e-10,
                               atol=1e-12)
    assert d.attrs["boundary_mode"] == "reflect" and d.attrs["smoothing_sigma_cells"] == [3, 3]


def test_empty_smoothed_cells_are_nan_not_a_crash(stars):
    few = stars.isel(star=slice(0, 3))
    c = cubes.bin_catalog(few, GRID, replicates=0, progress=False)
    d = C.density_contrast(c)
    ng = ndimage.gaussian_filter(c["count"].values.astype(float), (0, 3, 3))
    assert np.array_equal(np.isnan(d.values), ng == 0)
    assert np.isnan(d.values).mean() > 0.9 and np.nanmin(d.values) >= -1


def test_contrast_north_south_is_the_stripe_mean_difference(stars, cube):
    ref = numpy_contrast(stars, cube)
    vz = cube.vz.values
    stripe = ref[:, :, np.abs(vz) < 10].mean(-1)  # 10 cells of 2 km/s
    half = stripe.shape[1] // 2
    want = stripe[:, half:] - stripe[:, :half][:, ::-1]
    got = C.contrast_north_south(cube)
    assert got.dims == ("replicate", "R", "abs_z")
    np.testing.assert_allclose(got.sel(replicate=-1), want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got.abs_z[:3], [0.02, 0.06, 0.1])


def reference_spiral_shape(d, z, vz, sectors=20, r_min=0.25, r_width=0.04, r_max=None):
    """The §4.7 algorithm with explicit loops over sectors and radial bins."""
    zz, vv = np.meshgrid(z / Z_SCALE, vz / VZ_SCALE, indexing="ij")
    r = np.hypot(zz, vv)
    th = np.mod(np.arctan2(vv, zz) - np.pi / 2, 2 * np.pi)
    top = r.max() if r_max is None else r_max
    nr = int(np.ceil((top - r_min) / r_width - 1e-9))
    peaks = np.full(sectors, np.nan)
    for s in range(sectors):
        best = -np.inf
        for j in range(nr):
            cell = ((th >= s * 2 * np.pi / sectors) & (th < (s + 1) * 2 * np.pi / sectors)
                    & (r >= r_min + j * r_width) & (r < r_min + (j + 1) * r_width)
                    & np.isfinite(d))
            if cell.any() and d[cell].mean() > best:
                best, peaks[s] = d[cell].mean(), r_min + (j + 0.5) * r_width
    return peaks


def test_spiral_shape_matches_the_sector_loops_and_finds_the_injected_spiral(stars, cube):
    d = C.density_contrast(cube)
    shape = C.spiral_shape(d, r_max=1.3)
    assert shape["r"].dims == ("replicate", "R", "theta")
    np.testing.assert_allclose(shape.theta, 99 + 18 * np.arange(20))
    full = d.sel(replicate=-1, R=8.5).values
    ref = reference_spiral_shape(full, cube.z.values, cube.vz.values, r_max=1.3)
    np.testing.assert_allclose(shape["r"].sel(replicate=-1, R=8.5), ref, rtol=1e-12)
    th = np.deg2rad(shape.theta)
    np.testing.assert_allclose(shape["z"], shape["r"] * np.cos(th) * Z_SCALE, rtol=1e-12)
    np.testing.assert_allclose(shape["vz"], shape["r"] * np.sin(th) * VZ_SCALE, rtol=1e-12)
    # recovery: the density peak of the injected spiral is at r = theta / k (one winding)
    truth = th / WIND
    inner = (truth > 0.35) & (truth < 1.15)
    err = (cubes.estimate(shape["r"])["r"] - truth).where(inner)
    assert float(np.abs(err).max()) <= 0.04  # r bins of 0.04 (measured max 0.035, mean 0.014)
    assert float(np.abs(err).mean()) < 0.02


def test_z_intersections_of_a_known_profile_and_of_the_injected_spiral(cube):
    z = np.arange(-1.975, 2.0, 0.05)
    bumps = {0.56: 1.0, 1.04: 0.6, -0.44: 0.8, -0.96: 0.5, -1.61: 0.3}
    prof = sum(a * np.exp(-0.5 * ((z - c) / 0.12) ** 2) for c, a in bumps.items())
    prof = xr.DataArray(np.stack([prof, -prof]), dims=("sample", "z"),
                        coords={"z": ("z", z, {"units": "kpc"})})
    zi = C.z_intersections(prof, n=2)
    assert zi.dims == ("sample", "hemisphere", "peak") and zi.attrs["units"] == "kpc"
    np.testing.assert_allclose(zi.sel(sample=0, hemisphere="north"), [0.56, 1.04], atol=0.004)
    np.testing.assert_allclose(zi.sel(sample=0, hemisphere="south"), [-0.44, -0.96], atol=0.004)
    cells = C.z_intersections(prof, n=3, refine=False).sel(sample=0)
    np.testing.assert_allclose(cells.sel(hemisphere="south"), [-0.425, -0.975, -1.625])
    np.testing.assert_allclose(cells.sel(hemisphere="north"), [0.575, 1.025, np.nan])
    assert np.isnan(zi.sel(sample=1)).all()  # the negated profile has no overdense maximum
    # the injected ridge starts at the origin and crosses vz = 0 at z = +1 (theta = 2 pi) and
    # z = -0.5, -1.5 (theta = pi); measured 0.076 and 0.98-1.0, -0.49, -1.50
    got = C.z_intersections(cube, n=2, min_contrast=0.3).sel(replicate=-1)
    np.testing.assert_allclose(got.sel(hemisphere="north", peak=1), [1.0, 1.0], atol=0.03)
    assert (got.sel(hemisphere="north", peak=0) < 0.1).all()
    np.testing.assert_allclose(got.sel(hemisphere="south"), [[-0.5, -1.5]] * 2, atol=0.03)
    # z_min: the maximum near the origin is no candidate, the next ones move up
    far = C.z_intersections(cube, n=2, min_contrast=0.3, z_min=0.15).sel(replicate=-1)
    np.testing.assert_allclose(far.sel(hemisphere="north", peak=0), [1.0, 1.0], atol=0.03)
    np.testing.assert_allclose(far.sel(hemisphere="south"), got.sel(hemisphere="south"))
    cut = C.z_intersections(prof, n=3, refine=False, z_min=0.5).sel(sample=0)
    np.testing.assert_allclose(cut.sel(hemisphere="south"), [-0.975, -1.625, np.nan])
    np.testing.assert_allclose(cut.sel(hemisphere="north"), [0.575, 1.025, np.nan])


def test_smoothed_counts_are_the_gaussian_filter_of_the_histogram(stars, cube):
    ze = np.r_[cube.z_bounds[:, 0], cube.z_bounds[-1, 1]]
    ve = np.r_[cube.vz_bounds[:, 0], cube.vz_bounds[-1, 1]]
    sel = (stars.R.values >= 8.0) & (stars.R.values < 9.0)
    n, _, _ = np.histogram2d(stars.z.values[sel], stars.vz.values[sel], bins=(ze, ve))
    ng = C.smoothed_counts(cube, sigma={"z": 2.0, "vz": 3.0}).sel(replicate=-1).isel(R=0)
    np.testing.assert_allclose(ng, ndimage.gaussian_filter(n, (2.0, 3.0)), rtol=1e-10,
                               atol=1e-9)
    d = C.density_contrast(cube, sigma={"z": 2.0, "vz": 3.0}).sel(replicate=-1).isel(R=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.testing.assert_allclose(d, np.where(ng > 0, n / ng - 1, np.nan), rtol=1e-10)


def test_spiral_shape_of_a_selection_that_left_a_theta_coordinate(cube):
    d = C.density_contrast(cube).sel(replicate=-1)
    tagged = d.assign_coords(theta=12.5)  # e.g. an azimuth column called theta, .sel'ed
    np.testing.assert_array_equal(C.spiral_shape(tagged, r_max=1.3)["r"],
                                  C.spiral_shape(d, r_max=1.3)["r"])


def test_lazy_cube_stays_lazy(cube):
    lazy = cube.chunk({"R": 1, "z": 25}).assign_coords(cube.coords)  # as open_cube: coords loaded
    with raise_if_dask_computes():
        d = C.density_contrast(lazy)
        ns = C.contrast_north_south(d)
        shape = C.spiral_shape(d)
        zi = C.z_intersections(d)
    assert d.chunks and ns.chunks and shape["r"].chunks and zi.chunks
    d0 = C.density_contrast(cube)
    xr.testing.assert_allclose(d.compute(), d0)
    xr.testing.assert_allclose(shape.compute(), C.spiral_shape(d0))
    xr.testing.assert_allclose(zi.compute(), C.z_intersections(d0))


def test_bad_input_says_what_is_missing(cube, stars):
    with pytest.raises(ValueError, match=r"phase-space dims \('z', 'vz'\).*\['vz'\] missing"):
        C.density_contrast(cube.cube.sum("vz"))
    uneven = cubes.bin_catalog(stars, {"z": A.symmetric(2.0, 0.04),
                                       "vz": A.edges([-100, -10, 0, 5, 10, 100])},
                               replicates=0, progress=False)
    with pytest.raises(ValueError, match="equal-width 'vz' bins"):
        C.density_contrast(uneven)
    with pytest.raises(ValueError, match=r"do not tile the strip \|vz\| < 7"):
        C.contrast_north_south(cube, vz_max=7.0)
    with pytest.raises(ValueError, match="cannot fold 'z'"):
        C.contrast_north_south(cubes.bin_catalog(stars, {"z": A.regular(-1.9, 2.1, 0.04),
                                                         "vz": GRID["vz"]}, replicates=0,
                                                 progress=False))
