"""bin_catalog against independent references (scipy.stats.binned_statistic_dd, numpy)."""

from __future__ import annotations

import dask
import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial import cKDTree
from scipy.stats import binned_statistic_dd

import cubes
from cubes import axes as A
from cubes.kernels.binning import replicate_groups

RTOL = 1e-10


def catalog(n=20_000, seed=0, chunks=None, nan_frac=0.0):
    rng = np.random.default_rng(seed)
    R = rng.uniform(3.0, 15.0, n)
    z = rng.normal(0.0, 0.8, n)
    # put some stars exactly on edges, where index arithmetic and searchsorted could disagree
    m = min(200, n // 2)
    R[:m] = rng.choice(np.arange(4.0, 14.5, 0.5), m)
    z[m:2 * m] = rng.choice(np.round(np.arange(-2.0, 2.01, 0.1), 10), m)
    ds = xr.Dataset(
        {
            "R": ("star", R, {"units": "kpc"}),
            "z": ("star", z, {"units": "kpc"}),
            "X": ("star", rng.uniform(-3, 3, n), {"units": "kpc"}),
            "Y": ("star", rng.uniform(-3, 3, n), {"units": "kpc"}),
            "vz": ("star", rng.normal(1e3, 15.0, n), {"units": "km / s"}),
            "vz_error": ("star", rng.uniform(1, 4, n), {"units": "km / s"}),
            "feh": ("star", rng.normal(-0.2, 0.3, n), {"units": "dex"}),
            "pop": ("star", rng.choice(np.array(["thin", "thick", "halo", "other"]), n)),
            "source_id": ("star", rng.integers(0, 2**62, n)),
        },
        attrs={"id_column": "source_id"},
    )
    if nan_frac:
        for name in ("R", "vz"):
            bad = rng.random(n) < nan_frac
            ds[name].values[bad] = np.nan
    return ds.chunk({"star": chunks}) if chunks else ds


def reference(ds, columns, bins, value, statistic):
    sample = np.column_stack([np.asarray(ds[c]) for c in columns])
    return binned_statistic_dd(sample, np.asarray(ds[value]), statistic, bins=bins).statistic


def full(cube, name):
    return cube[name].sum("replicate").values if "replicate" in cube.dims else cube[name].values


def edges_of(cube, dim):
    b = cube[f"{dim}_bounds"].values
    return np.r_[b[:, 0], b[-1, 1]]


AXES = {
    "regular": {"R": A.regular(4.0, 14.0, 0.5), "z": A.symmetric(2.0, 0.1)},
    "edges": {"R": [3.5, 4.0, 5.5, 8.0, 8.3, 11.0, 14.5], "z": A.edges([-2, -1, -0.1, 0.3, 2])},
    "mixed": {"z": A.symmetric(1.5, 0.25), "R": np.linspace(4, 14, 7)},
}


@pytest.mark.parametrize("chunks", [None, 3001])
@pytest.mark.parametrize("kind", sorted(AXES))
def test_count_mean_std_match_binned_statistic_dd(kind, chunks):
    ds = catalog(chunks=chunks)
    axes = AXES[kind]
    cube = cubes.bin_catalog(ds, axes, ["vz"], replicates=16)
    cols = list(axes)
    bins = [edges_of(cube, d) for d in cols]
    count = reference(ds, cols, bins, "vz", "count")
    np.testing.assert_array_equal(full(cube, "count"), count)
    est = cubes.estimate(cube.cube.mean("vz"))
    np.testing.assert_allclose(est["mean_vz"], reference(ds, cols, bins, "vz", "mean"), rtol=RTOL)
    std = cube.cube.std("vz").sel(replicate=-1)
    np.testing.assert_allclose(std, reference(ds, cols, bins, "vz", "std"), rtol=RTOL, atol=0)
    # no replicates: same numbers
    plain = cubes.bin_catalog(ds, axes, ["vz"], replicates=0)
    assert "replicate" not in plain.dims
    np.testing.assert_array_equal(plain["count"].values, count)
    np.testing.assert_allclose(plain.cube.std("vz"), std, rtol=RTOL)


def _hex_reference(ds, axis: A.Hexagonal):
    """Cell of each star as the nearest lattice centre (Voronoi of a hexagonal lattice)."""
    big = A.hexagonal(axis.x, axis.y, spacing=axis.spacing, radius=axis.radius + 3 * axis.spacing,
                      origin=axis.origin, orientation=axis.orientation)
    bx, by = big.centers()
    _, nearest = cKDTree(np.c_[bx, by]).query(np.c_[ds[axis.x], ds[axis.y]])
    cx, cy = axis.centers()
    lookup = {(round(x, 9), round(y, 9)): i for i, (x, y) in enumerate(zip(cx, cy, strict=True))}
    return np.array([lookup.get((round(bx[j], 9), round(by[j], 9)), -1) for j in nearest])


@pytest.mark.parametrize("orientation", ["pointy", "flat"])
@pytest.mark.parametrize("chunks", [None, 4999])
def test_hexagonal_axis_matches_nearest_centre(orientation, chunks):
    ds = catalog(chunks=chunks)
    hexa = A.hexagonal("X", "Y", spacing=0.4, radius=2.0, origin=(0.1, -0.2),
                       orientation=orientation)
    cube = cubes.bin_catalog(ds, {"cell": hexa, "z": A.symmetric(2, 0.5)}, ["vz"], replicates=4)
    cell = _hex_reference(ds.compute(), hexa)
    sample = np.c_[cell, ds.z]
    bins = [np.arange(hexa.size + 1) - 0.5, edges_of(cube, "z")]
    ref = binned_statistic_dd(sample, ds.vz.values, "count", bins=bins).statistic
    np.testing.assert_array_equal(full(cube, "count"), ref)
    mean = binned_statistic_dd(sample, ds.vz.values, "mean", bins=bins).statistic
    np.testing.assert_allclose(cube.cube.mean("vz").sel(replicate=-1), mean, rtol=RTOL)
    # coordinates: centres, CF vertex bounds, area
    assert cube.sizes["cell"] == hexa.size
    assert cube["X"].dims == ("cell",) and cube["X_bounds"].dims == ("cell", "vertex")
    np.testing.assert_allclose(cube["cell_area"], np.sqrt(3) / 2 * 0.4**2)
    verts = np.hypot(cube["X_bounds"] - cube["X"], cube["Y_bounds"] - cube["Y"])
    np.testing.assert_allclose(verts, 0.4 / np.sqrt(3))


def test_hexagonal_cell_counts_of_widmark_lattice():
    """Sun-centred 400 pc lattice: 19 cells within 1 kpc, 61 within 1.6, 367 within 4 (spec)."""
    for radius, n in ((1.0, 19), (1.6, 61), (4.0, 367)):
        assert A.hexagonal("X", "Y", spacing=0.4, radius=radius).size == n


@pytest.mark.parametrize("chunks", [None, 2500])
def test_categorical_axis(chunks):
    ds = catalog(chunks=chunks)
    cats = ["thin", "thick", "halo"]  # "other" falls outside
    cube = cubes.bin_catalog(ds, {"pop": A.categorical(cats), "R": A.regular(4, 14, 2.0)},
                             ["feh"], replicates=0)
    pop = ds["pop"].values
    code = np.array([cats.index(p) if p in cats else -1 for p in pop])
    inside = code >= 0
    sample = np.c_[code[inside], ds.R.values[inside]]
    bins = [np.arange(4) - 0.5, edges_of(cube, "R")]
    ref = binned_statistic_dd(sample, ds.feh.values[inside], "mean", bins=bins).statistic
    np.testing.assert_allclose(cube.cube.mean("feh"), ref, rtol=RTOL)
    assert list(cube["pop"].values) == cats
    n_outside_r = np.sum(inside & ((ds.R.values < 4) | (ds.R.values > 14)))
    assert cube.attrs["stars_outside"] == np.sum(~inside) + n_outside_r


def test_higher_moments_errors_cross_and_weights_match_numpy():
    ds = catalog(n=5000)
    rng = np.random.default_rng(3)
    ds["w"] = ("star", rng.uniform(0.5, 2.0, ds.sizes["star"]))
    edges = [4.0, 8.0, 14.0]
    cube = cubes.bin_catalog(ds, {"R": edges}, ["vz", "feh"], moments={"vz": 4, "feh": 2},
                             errors=True, cross=[("vz", "feh")], weights="w", replicates=0)
    R, vz, feh, w, e = (ds[c].values for c in ("R", "vz", "feh", "w", "vz_error"))
    cz, cf = cube["sum_vz"].attrs["shift"], cube["sum_feh"].attrs["shift"]
    for i in range(2):
        m = (R >= edges[i]) & ((R < edges[i + 1]) if i == 0 else (R <= edges[i + 1]))
        assert cube["count"][i] == m.sum()
        np.testing.assert_allclose(cube["sum_w"][i], w[m].sum(), rtol=RTOL)
        np.testing.assert_allclose(cube["sum_w2"][i], (w[m] ** 2).sum(), rtol=RTOL)
        for p in (1, 2, 3, 4):
            name = "sum_vz" if p == 1 else f"sum_vz{p}"
            np.testing.assert_allclose(cube[name][i], (w[m] * (vz[m] - cz) ** p).sum(), rtol=1e-9)
        np.testing.assert_allclose(cube["sum_vz_err2"][i], (w[m] * e[m] ** 2).sum(), rtol=RTOL)
        np.testing.assert_allclose(cube["sum_vz_feh"][i],
                                   (w[m] * (vz[m] - cz) * (feh[m] - cf)).sum(), rtol=1e-9)
        mean = np.average(vz[m], weights=w[m])
        np.testing.assert_allclose(cube.cube.mean("vz")[i], mean, rtol=RTOL)
    assert cube["sum_vz2"].attrs["units"] == "km2 / s2"
    assert cube["sum_vz_feh"].attrs["units"] == "dex km / s"
    assert cube.attrs["weights"] == "w"


def test_variance_survives_a_large_offset():
    """Σv² − (Σv)²/n cancels catastrophically at v ~ 1e8 ± 1; shifted sums do not."""
    rng = np.random.default_rng(5)
    v = 1e8 + rng.normal(0, 1.0, 100_000)
    ds = xr.Dataset({"x": ("star", rng.uniform(0, 1, v.size)), "v": ("star", v)})
    cube = cubes.bin_catalog(ds, {"x": [0, 0.5, 1]}, ["v"], replicates=0)
    x = ds.x.values
    ref = [v[x < 0.5].std(), v[x >= 0.5].std()]
    np.testing.assert_allclose(cube.cube.std("v"), ref, rtol=1e-8)


def test_accounting_read_equals_used_outside_invalid_deselected():
    ds = catalog(n=10_000, nan_frac=0.05)
    ds["selected"] = ds["feh"] > -0.5
    cube = cubes.bin_catalog(ds, {"R": A.regular(4, 14, 1.0)}, ["vz"], replicates=8)
    a = cube.attrs
    R, vz, sel = ds.R.values, ds.vz.values, ds.selected.values
    valid = np.isfinite(R) & np.isfinite(vz)
    assert a["stars_read"] == 10_000
    assert a["stars_deselected"] == np.sum(~sel)
    assert a["stars_invalid"] == np.sum(sel & ~valid)
    assert a["stars_outside"] == np.sum(sel & valid & ((R < 4) | (R > 14)))
    assert a["stars_used"] == int(cube["count"].sum())
    assert a["stars_read"] == (a["stars_used"] + a["stars_outside"] + a["stars_invalid"]
                               + a["stars_deselected"])
    assert a["stars_invalid_by_column"]["R"] == np.sum(sel & ~np.isfinite(R))
    assert a["stars_invalid_by_column"]["vz"] == np.sum(sel & ~np.isfinite(vz))


@given(
    n=st.integers(1, 3000),
    chunk=st.integers(1, 3000),
    k=st.sampled_from([0, 2, 16]),
    use_ids=st.booleans(),
    seed=st.integers(0, 2**16),
    workers=st.integers(1, 4),
)
def test_cube_does_not_depend_on_chunking_or_workers(n, chunk, k, use_ids, seed, workers):
    ds = catalog(n=n, seed=seed, nan_frac=0.02)
    if not use_ids:
        ds.attrs = {}
    axes = {"R": A.regular(4, 14, 2.5), "z": A.symmetric(2, 0.5)}
    a = cubes.bin_catalog(ds, axes, ["vz"], replicates=k, progress=False)
    with dask.config.set(scheduler="threads", num_workers=workers):
        b = cubes.bin_catalog(ds.chunk({"star": chunk}), axes, ["vz"], replicates=k,
                              progress=False)
    np.testing.assert_array_equal(a["count"], b["count"])
    np.testing.assert_allclose(a["sum_vz"], b["sum_vz"], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(a["sum_vz2"], b["sum_vz2"], rtol=1e-12, atol=1e-9)
    for key in ("stars_read", "stars_used", "stars_outside", "stars_invalid"):
        assert a.attrs[key] == b.attrs[key]
    assert a.attrs["stars_read"] == n == (a.attrs["stars_used"] + a.attrs["stars_outside"]
                                          + a.attrs["stars_invalid"])


def test_replicate_groups_are_a_hash_of_the_id():
    ds = catalog(n=4000)
    cube = cubes.bin_catalog(ds, {"R": [0, 100]}, ["vz"], replicates=16)
    groups = replicate_groups(ds.source_id.values.astype(np.int64), 0, 4000, 16)
    inside = np.isfinite(ds.R.values)
    np.testing.assert_array_equal(cube["count"][:, 0], np.bincount(groups[inside], minlength=16))
    # shuffling the rows changes nothing: groups follow ids, not positions
    perm = np.random.default_rng(1).permutation(4000)
    shuffled = cubes.bin_catalog(ds.isel(star=perm), {"R": [0, 100]}, ["vz"], replicates=16)
    np.testing.assert_array_equal(cube["count"], shuffled["count"])


def test_string_ids_hash_stably():
    ds = catalog(n=500)
    ds["apogee_id"] = ("star", np.array([f"2M{i:08d}+1234567" for i in range(500)]))
    c1 = cubes.bin_catalog(ds, {"R": [0, 100]}, ["vz"], id="apogee_id", replicates=8)
    c2 = cubes.bin_catalog(ds.isel(star=slice(None, None, -1)), {"R": [0, 100]}, ["vz"],
                           id="apogee_id", replicates=8)
    np.testing.assert_array_equal(c1["count"], c2["count"])
    assert c1["count"].min() > 30  # spread over the groups


def test_jackknife_error_of_a_mean_matches_the_analytic_standard_error():
    rng = np.random.default_rng(11)
    n = 400_000
    ds = xr.Dataset({"x": ("star", rng.uniform(0, 1, n)), "v": ("star", rng.normal(5, 3, n)),
                     "id": ("star", np.arange(n))}, attrs={"id_column": "id"})
    cube = cubes.bin_catalog(ds, {"x": A.regular(0, 1, bins=50)}, ["v"], replicates=16)
    est = cube.cube.estimate(cube.cube.mean("v"))
    analytic = cube.cube.std("v", ddof=1).sel(replicate=-1) / np.sqrt(
        cube.cube.count().sel(replicate=-1))
    ratio = (est["mean_v_error"] / analytic).values
    # one bin's jackknife error with K=16 scatters by ~18 %; the mean over 50 bins by ~2.6 %
    assert abs(ratio.mean() - 1) < 0.10, ratio.mean()


def test_distributed_cluster_gives_the_threaded_result():
    distributed = pytest.importorskip("distributed")
    ds = catalog(n=30_000, chunks=7000)
    axes = {"R": A.regular(4, 14, 1.0), "z": A.symmetric(2, 0.2)}
    local = cubes.bin_catalog(ds, axes, ["vz"], errors=True, replicates=16)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = cubes.bin_catalog(ds, axes, ["vz"], errors=True, replicates=16)
        assert len(client.scheduler_info()["workers"]) == 2
    np.testing.assert_array_equal(local["count"], remote["count"])
    for name in ("sum_vz", "sum_vz2", "sum_vz_err2"):
        np.testing.assert_allclose(local[name], remote[name], rtol=1e-12)


@pytest.mark.parametrize(
    ("axes", "values", "match"),
    [
        ({"R": [1, 3, 2]}, ["vz"], "unsorted edges at positions 1 and 2"),
        ({"R": [1, 2, 2, 3]}, ["vz"], "duplicate edges at positions 1 and 2"),
        ({"R": [1.0]}, ["vz"], "at least 2 edges"),
        ({"Rg": [1, 2]}, ["vz"], r"axis column\(s\) \['Rg'\] not in the catalog"),
        ({"R": [1, 2]}, ["vphi"], r"value column\(s\) \['vphi'\]"),
        ({"R": [1, 2, float("nan")]}, ["vz"], "must be finite"),
    ],
)
def test_bad_input_names_the_problem(axes, values, match):
    with pytest.raises((ValueError, KeyError), match=match):
        cubes.bin_catalog(catalog(n=100), axes, values)


def test_bad_options_are_refused():
    ds = catalog(n=100)
    with pytest.raises(TypeError, match="number of bins"):
        cubes.bin_catalog(ds, {"R": 10}, ["vz"])
    with pytest.raises(ValueError, match="replicates"):
        cubes.bin_catalog(ds, {"R": [0, 20]}, ["vz"], replicates=1)
    with pytest.raises(ValueError, match="whole number"):
        A.regular(0, 1, 0.3)
    with pytest.raises(ValueError, match="cross moments"):
        cubes.bin_catalog(ds, {"R": [0, 20]}, ["vz"], cross=[("vz", "feh")])
    with pytest.raises(KeyError, match="errors=True"):
        cubes.bin_catalog(ds, {"R": [0, 20]}, ["feh"], errors=True)


def test_five_regular_axes_take_the_per_axis_path_and_agree():
    ds = catalog(n=8000)
    axes = {"R": A.regular(4, 14, 1.0), "z": A.symmetric(2, 0.25), "X": A.regular(-3, 3, 0.5),
            "Y": A.regular(-3, 3, 1.5), "feh": A.regular(-1, 0.6, 0.2)}
    cube = cubes.bin_catalog(ds, axes, ["vz"], replicates=0)
    cols = list(axes)
    bins = [edges_of(cube, d) for d in cols]
    np.testing.assert_array_equal(cube["count"].values, reference(ds, cols, bins, "vz", "count"))
    np.testing.assert_allclose(cube.cube.mean("vz"), reference(ds, cols, bins, "vz", "mean"),
                               rtol=RTOL)


def test_regular_axes_label_bins_by_nominal_centres():
    ds = catalog(n=2000)
    cube = cubes.bin_catalog(ds, {"z": A.symmetric(1.0, 0.25)}, ["vz"], replicates=0)
    np.testing.assert_array_equal(cube["z"], [-0.875, -0.625, -0.375, -0.125,
                                              0.125, 0.375, 0.625, 0.875])
    assert float(cube["count"].sel(z=0.375)) >= 0  # selectable by its nominal centre
    assert cube["z_bounds"].values[4, 0] == 0.0  # 0 is an exact edge, so z folds cleanly
    np.testing.assert_allclose(cube["z_bounds"], np.c_[np.arange(-1, 1, 0.25),
                                                       np.arange(-0.75, 1.01, 0.25)],
                               rtol=0, atol=1e-15)


@pytest.mark.parametrize("axes", [
    {"R": A.regular(4, 14, 1.0), "z": A.symmetric(2, 0.5)},  # fused regular pass
    {"R": [4.0, 6.0, 9.0, 14.0], "z": A.symmetric(2, 0.5)},  # per-axis pass
])
def test_two_values_with_nans_are_counted_per_column(axes):
    ds = catalog(n=12_000, nan_frac=0.05)
    rng = np.random.default_rng(9)
    ds["feh"].values[rng.random(12_000) < 0.03] = np.inf
    ds["selected"] = ("star", rng.random(12_000) < 0.8)
    cube = cubes.bin_catalog(ds, axes, ["vz", "feh"], replicates=4)
    R, z, vz, feh, sel = (ds[c].values for c in ("R", "z", "vz", "feh", "selected"))
    valid = np.isfinite(R) & np.isfinite(z) & np.isfinite(vz) & np.isfinite(feh)
    inside = (R >= 4) & (R <= 14) & (np.abs(z) <= 2)
    a = cube.attrs
    assert a["stars_deselected"] == np.sum(~sel)
    assert a["stars_invalid"] == np.sum(sel & ~valid)
    assert a["stars_used"] == np.sum(sel & valid & inside) == int(cube["count"].sum())
    assert a["stars_invalid_by_column"]["vz"] == np.sum(sel & ~np.isfinite(vz))
    assert a["stars_invalid_by_column"]["feh"] == np.sum(sel & ~np.isfinite(feh))
    assert a["stars_invalid_by_column"]["R"] == np.sum(sel & ~np.isfinite(R))
    use = sel & valid & inside
    total = float(cube["sum_feh"].sum() + cube["count"].sum() * cube["sum_feh"].attrs["shift"])
    np.testing.assert_allclose(total, feh[use].sum(), rtol=1e-10)
