"""Every statistic of the ``.cube`` accessor (and the phase-spiral maps) on a cube opened lazily
from Zarr with dask chunks that split every dim, ``replicate`` included: it runs, stays lazy
where it is documented to, and equals the result on the same cube in memory."""

from __future__ import annotations

import dask
import numpy as np
import pytest
import xarray as xr

import cubes
from cubes import axes as A
from cubes import resampling
from cubes.spiral import maps as spiral_maps
from tests.utils import raise_if_dask_computes

K = 10  # jackknife groups: enough for 60 % subsamples without a warning
AXES = {"phi": A.regular(-10, 10, 10.0), "R": A.regular(8, 12, 1.0), "z": A.symmetric(0.8, 0.2),
        "vz": A.symmetric(24, 6.0), "feh": A.regular(-1.5, 1.0, 0.25)}
# every dim split in two uneven chunks (64 per variable)
CHUNKS = {"phi": 1, "R": 3, "z": 5, "vz": 5, "feh": 6, "replicate": 6}


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    rng = np.random.default_rng(7)
    n = 30_000
    R, z, phi = rng.uniform(8, 12, n), rng.normal(0, 0.35, n), rng.uniform(-10, 10, n)
    vz = rng.normal(0, 8 + 6 * np.abs(z), n)
    feh = 0.4 - 0.06 * R - 0.1 * np.abs(z) + 0.03 * (z > 0) + rng.normal(0, 0.2, n)
    stars = xr.Dataset({
        "R": ("star", R, {"units": "kpc"}), "z": ("star", z, {"units": "kpc"}),
        "phi": ("star", phi, {"units": "deg"}), "vz": ("star", vz, {"units": "km / s"}),
        "feh": ("star", feh, {"units": "dex"}),
        "vz_error": ("star", np.full(n, 2.0), {"units": "km / s"}),
        "feh_error": ("star", np.full(n, 0.05), {"units": "dex"}),
        "id": ("star", np.arange(n) * 7 + 3),
    }, attrs={"id_column": "id"})
    cube = cubes.bin_catalog(stars, AXES, values=["vz", "feh", "R"], cross=[("feh", "R")],
                             errors={"vz": "vz_error", "feh": "feh_error"}, replicates=K,
                             progress=False)
    p = tmp_path_factory.mktemp("chunked") / "cube.zarr"
    cubes.write_cube(cube, p, chunks=CHUNKS)
    return p


@pytest.fixture(scope="module", autouse=True)
def _synchronous():  # tiny chunks: threads cost more than they save
    with dask.config.set(scheduler="synchronous"):
        yield


@pytest.fixture(scope="module")
def lazy(path):
    return cubes.open_cube(path, chunks=CHUNKS)


@pytest.fixture(scope="module")
def eager(path):
    return cubes.open_cube(path).load()


def _fit(c):  # the radial line of the residual map: [Fe/H](R) per z slice
    return c.cube.sum(["vz", "feh", "phi"]).cube.gradient("feh", "R")


def _subsample_dispersion(c):
    return c.cube.subsamples(5).cube.dispersion("vz")


# The line fits maximise the likelihood with L-BFGS-B (its default ftol ~2e-9): inputs that
# differ in the last bit (sums over chunks) move the optimum, and the MCMC that starts there,
# by ~1e-9 of the slope.
RTOL = {"gradient-mle": 1e-7, "gradient-mcmc": 1e-7}

# name -> (statistic of a cube, documented to stay lazy)
STATISTICS = {
    "samples": (lambda c: c.cube.samples(), True),
    "count": (lambda c: c.cube.count(), True),
    "mean": (lambda c: c.cube.mean("feh"), True),
    "var": (lambda c: c.cube.var("vz", ddof=1), True),
    "std": (lambda c: c.cube.std("vz"), True),
    "dispersion": (lambda c: c.cube.dispersion("vz"), True),
    "density": (lambda c: c.cube.density(), True),
    "quantile": (lambda c: c.cube.quantile("feh", [0.16, 0.5, 0.84]), True),
    "sum": (lambda c: c.cube.sum(["feh", "vz"]), True),
    "coarsen": (lambda c: c.cube.coarsen({"R": 2, "z": 2, "feh": 2}), True),
    "fold": (lambda c: c.cube.fold("z"), True),
    "north_south": (lambda c: c.cube.north_south(c.cube.dispersion("vz"), "z"), True),
    "asymmetry": (lambda c: c.cube.asymmetry(c.cube.mean("feh"), mode="linear"), True),
    "median_north_south": (lambda c: c.cube.median_north_south("feh"), True),
    "density_north_south": (lambda c: c.cube.density_north_south(vz_max=12.0), True),
    "density_contrast": (lambda c: c.cube.density_contrast(sigma=1.0), True),
    "subsamples": (lambda c: c.cube.subsamples(5), True),
    "percentiles": (lambda c: resampling.percentiles(_subsample_dispersion(c)), True),
    "gradient-lsq": (lambda c: c.cube.sum(["vz", "feh"]).cube.gradient("feh", "R"), True),
    "gradient-wls": (lambda c: c.cube.sum("vz").cube.gradient("feh", "R", method="wls"),
                     True),
    "gradient-mle": (lambda c: c.cube.sum(["vz", "feh", "phi"]).cube.gradient(
        "feh", "R", method="mle", min_count=50), True),
    "gradient-mcmc": (lambda c: c.cube.sum(["vz", "feh", "phi", "z"]).cube.gradient(
        "feh", "R", method="mcmc", min_count=50, walkers=8, steps=40), True),
    "gradient-median": (lambda c: c.cube.sum("vz").cube.gradient(
        "feh", "z", method="median", radius_bins=[8, 10, 12], radial="median"), True),
    "offset_map": (lambda c: c.cube.sum("vz").cube.offset_map("feh", statistic="median"), True),
    "residual_map": (lambda c: c.cube.sum("vz").cube.residual_map(_fit(c), radius="R"), True),
    "azimuthal_profile": (lambda c: c.cube.sum(["vz", "feh"]).cube.azimuthal_profile(
        "feh", ranges=(8, 10, 12)), True),
    "estimate": (lambda c: c.cube.estimate(c.cube.dispersion("vz")), True),
    # the phase-spiral map fits each (z, w) histogram and computes (documented): not lazy
    "spiral.maps.fit": (lambda c: spiral_maps.fit(
        c["count"].sum(["phi", "feh", "replicate"]).rename(vz="w")), False),
    "spiral.maps.sample_dims": (lambda c: spiral_maps.sample_dims(
        c["count"].rename(vz="w")), False),
}


def _assert_close(got, want, rtol):
    """Element by element to ``rtol``, with an absolute floor of ``rtol`` × the variable's
    largest |value|: dask sums chunk by chunk, numpy pairwise, so sums differ in the last bit
    and a cell whose statistic cancels (a variance of two nearly equal stars, a North − South
    difference near 0) differs by more than ``rtol`` of itself, not of the variable's scale."""
    assert isinstance(got, type(want))
    xr.testing.assert_equal(got.coords.to_dataset(), want.coords.to_dataset())
    gv = got.data_vars if isinstance(got, xr.Dataset) else {got.name: got}
    wv = want.data_vars if isinstance(want, xr.Dataset) else {want.name: want}
    assert list(gv) == list(wv)
    for k, w in wv.items():
        g = gv[k]
        assert g.dims == w.dims and g.dtype == w.dtype, k
        if not np.issubdtype(w.dtype, np.inexact):
            np.testing.assert_array_equal(g.values, w.values, err_msg=str(k))
            continue
        finite = np.isfinite(w.values)
        scale = float(np.abs(w.values[finite]).max()) if finite.any() else 0.0
        np.testing.assert_allclose(g.values, w.values, rtol=rtol, atol=rtol * scale,
                                   equal_nan=True, err_msg=str(k))


def _is_lazy(obj) -> bool:
    arrays = obj.data_vars.values() if isinstance(obj, xr.Dataset) else [obj]
    return any(a.chunks is not None for a in arrays)


@pytest.mark.parametrize("name", list(STATISTICS))
def test_statistic_on_a_chunked_lazy_cube(name, lazy, eager):
    assert all(len(lazy.chunksizes[d]) > 1 for d in CHUNKS)  # every dim split
    stat, stays_lazy = STATISTICS[name]
    if stays_lazy:
        with raise_if_dask_computes():
            got = stat(lazy)
        assert _is_lazy(got), f"{name} computed its result"
        got = got.compute()
    else:
        got = stat(lazy)
    want = stat(eager)
    if isinstance(want, xr.Dataset | xr.DataArray):
        assert not _is_lazy(want)
        _assert_close(got, want, RTOL.get(name, 1e-12))
    else:
        assert got == want
