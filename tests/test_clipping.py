"""cubes.binning.locate / lookup and cubes.clipping.clip_per_bin against per-star references."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.stats import binned_statistic_dd

import cubes
from cubes import axes as A
from cubes.binning import locate, lookup
from cubes.clipping import clip_per_bin
from tests.test_binning import _hex_reference as nearest_cell


def _stars(n=40_000, seed=0, chunks=None):
    rng = np.random.default_rng(seed)
    ds = xr.Dataset({
        "X": ("star", rng.uniform(-2.5, 2.5, n)), "Y": ("star", rng.uniform(-2.5, 2.5, n)),
        "z": ("star", rng.normal(0, 0.8, n)), "R": ("star", rng.uniform(5, 12, n)),
        "Lz": ("star", rng.standard_t(3, n) * 80 + 1800),
    })
    ds["z"][::997] = np.nan
    return ds.chunk({"star": chunks}) if chunks else ds


@pytest.mark.parametrize("chunks", [None, 7001])
def test_locate_regular_axes_matches_scipy_binnumbers(chunks):
    ds = _stars(chunks=chunks)
    axes = {"R": A.regular(6, 11, 0.5), "z": A.symmetric(1.5, 0.1)}
    index = locate(ds, axes)
    assert isinstance(index.data, np.ndarray) == (chunks is None)
    R, z = ds.R.values, ds.z.values
    ok = np.isfinite(z)
    _, _, nb = binned_statistic_dd(np.c_[R[ok], z[ok]], None, "count",
                                      bins=[np.r_[6:11.01:0.5], np.r_[-1.5:1.51:0.1]],
                                      expand_binnumbers=True)
    ref = np.full(R.size, -1)
    i, j = nb[0] - 1, nb[1] - 1
    inside = (i >= 0) & (i < 10) & (j >= 0) & (j < 30)
    ref[np.flatnonzero(ok)[inside]] = i[inside] * 30 + j[inside]
    got = index.values
    # scipy's float edges may differ from the axis' exact thresholds by an ulp: compare away
    near = (np.abs(((R - 6) / 0.5) % 1) < 1e-9) | (np.abs(((z + 1.5) / 0.1) % 1) < 1e-9)
    np.testing.assert_array_equal(got[~near], ref[~near])
    assert index.attrs["shape"] == [10, 30]


def test_locate_hexagons_is_the_nearest_centre_and_agrees_with_the_cube_counts():
    ds = _stars()
    hexa = A.hexagonal("X", "Y", spacing=0.4, radius=2.0)
    index = locate(ds, {"cell": hexa}).values
    np.testing.assert_array_equal(index, nearest_cell(ds, hexa))
    cube = cubes.bin_catalog(ds, {"cell": hexa, "z": A.symmetric(2, 0.5)}, [], replicates=0,
                             progress=False)
    both = locate(ds, {"cell": hexa, "z": A.symmetric(2, 0.5)}).values
    counts = np.bincount(both[both >= 0], minlength=cube["count"].size)
    np.testing.assert_array_equal(counts, cube["count"].values.ravel())


def test_lookup_carries_a_bin_statistic_to_its_stars():
    ds = _stars()
    axes = {"R": A.regular(6, 11, 1.0)}
    cube = cubes.bin_catalog(ds, axes, ["Lz"], replicates=0, progress=False)
    per_star = lookup(cube.cube.mean("Lz"), locate(ds, axes)).values
    R, Lz = ds.R.values, ds.Lz.values
    for lo in range(6, 11):
        sel = (R >= lo) & (R < lo + 1)
        np.testing.assert_allclose(per_star[sel], Lz[sel].mean(), rtol=1e-12)
    assert np.isnan(per_star[(R < 6) | (R > 11)]).all()
    with pytest.raises(ValueError, match="dims"):
        lookup(cube.cube.mean("Lz").expand_dims(extra=2), locate(ds, axes))


def _clip_reference(cell, v, nsigma):
    keep = cell >= 0
    for n in nsigma:
        new = np.zeros_like(keep)
        for c in np.unique(cell[cell >= 0]):
            m = keep & (cell == c)
            mu, sd = v[m].mean(), v[m].std()
            new |= (cell == c) & (np.abs(v - mu) <= n * sd)
        keep = keep & new
    return keep


@pytest.mark.parametrize("chunks", [None, 9000])
def test_two_step_clip_matches_a_per_cell_numpy_loop(chunks):
    ds = _stars(chunks=chunks)
    hexa = A.hexagonal("X", "Y", spacing=0.4, radius=1.6)
    out = clip_per_bin(ds, "Lz", {"cell": hexa}, nsigma=(5.0, 1.0))
    ref = _clip_reference(nearest_cell(ds.compute(), hexa), ds.Lz.values, (5.0, 1.0))
    np.testing.assert_array_equal(out.selected.values, ref)
    assert 0.3 < ref.sum() / (nearest_cell(ds.compute(), hexa) >= 0).sum() < 0.8
    assert "clip_per_bin('Lz'" in out.attrs["selections"][-1]
    cube = cubes.bin_catalog(out, {"cell": hexa}, ["Lz"], replicates=0, progress=False)
    assert int(cube["count"].sum()) == int(ref.sum())  # the engine honours the clip


def test_clip_respects_an_existing_selection_and_names_bad_input():
    ds = cubes.select(_stars(), "R > 8")
    out = clip_per_bin(ds, "Lz", {"cell": A.hexagonal("X", "Y", spacing=0.4, radius=1.6)},
                       nsigma=(3.0,))
    assert not out.selected.values[ds.R.values <= 8].any()
    with pytest.raises(KeyError, match="no column 'Lzz'"):
        clip_per_bin(ds, "Lzz", {"R": A.regular(6, 11, 1.0)})
    with pytest.raises(ValueError, match="positive"):
        clip_per_bin(ds, "Lz", {"R": A.regular(6, 11, 1.0)}, nsigma=(0.0,))
