"""Metallicity maps from cubes against per-star numpy, and the arm signal of the mock."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import cubes
from cubes import axes as A
from cubes import mock, spiral_arms
from cubes.stats import gradients as G
from cubes.stats import maps as M
from tests.utils import raise_if_dask_computes

K = 8
RE, ZE, PE = np.arange(6, 15.01, 0.6), np.arange(-2.1, 2.11, 0.3), [-35, -15, -5, 0, 5, 15, 35]


@pytest.fixture(scope="module")
def stars():
    rng = np.random.default_rng(21)
    n = 40_000
    R = rng.uniform(6, 15, n)
    z = rng.normal(0, 0.8, n)
    phi = rng.uniform(-35, 35, n)
    feh = 0.5 - 0.07 * R - 0.1 * np.abs(z) + 0.05 * (z > 0) * (R > 11) + rng.normal(0, 0.15, n)
    return xr.Dataset({"R": ("star", R), "z": ("star", z), "phi": ("star", phi),
                       "feh": ("star", feh), "id": ("star", np.arange(n))},
                      attrs={"id_column": "id"})


@pytest.fixture(scope="module")
def wang(stars):
    return cubes.bin_catalog(stars, {"phi": A.edges(PE), "R": A.edges(RE), "z": A.edges(ZE),
                                     "feh": A.regular(-1.5, 1.0, 0.01)},
                             values=["feh"], replicates=K, progress=False)


def _index(v, e):
    return np.clip(np.searchsorted(e, v, side="right") - 1, 0, len(e) - 2)


def test_offset_maps_match_per_star_numpy(stars, wang):
    mean_map = M.offset_map(wang, "feh", statistic="mean").sel(replicate=-1)
    med_map = M.offset_map(wang, "feh", statistic="median").sel(replicate=-1)
    R, z, phi, feh = (stars[k].values for k in ("R", "z", "phi", "feh"))
    inside = (R <= RE[-1]) & (np.abs(z) <= 2.1) & (feh >= -1.5) & (feh <= 1.0)
    ip, iR, iz = _index(phi, np.array(PE)), _index(R, RE), _index(z, ZE)
    worst_mean = worst_med = 0.0
    masked = 0
    for p in (0, 3):
        for i in range(len(RE) - 1):
            col = inside & (ip == p) & (iR == i)
            mu = feh[col].mean()  # μ_R over the stars of the R bin, all Z (spec 001 A9)
            assert float(mean_map.radial_mean_feh[p, i]) == pytest.approx(mu, rel=1e-10)
            for j in range(len(ZE) - 1):
                s = col & (iz == j)
                if s.sum() < 3:
                    assert np.isnan(mean_map.offset_feh[p, i, j])
                    masked += 1
                    continue
                worst_mean = max(worst_mean, abs(float(mean_map.offset_feh[p, i, j])
                                                 - (feh[s].mean() - mu)))
                if s.sum() >= 50:
                    worst_med = max(worst_med, abs(float(med_map.offset_feh[p, i, j])
                                                   - np.median(feh[s] - mu)))
    assert worst_mean < 1e-12 and worst_med < 0.01 and masked > 0
    # spec 001 test 5: the count-weighted offsets of an R column sum to 0
    full = M.offset_map(wang, "feh", min_count=1).sel(replicate=-1)
    col = (full["count"] * full.offset_feh).sum("z")
    assert float(np.abs(col).max()) < 1e-9
    # North − South of the offsets: the injected +0.05 dex beyond 11 kpc
    ns = cubes.estimate(cubes.stats.north_south(M.offset_map(wang, "feh").offset_feh, "z"))
    outer = ns.sel(R=slice(11.5, 15)).mean(["phi", "R", "abs_z"])
    assert abs(float(outer["offset_feh_north_minus_south"]) - 0.05) < 0.01


def test_offset_map_is_lazy_and_masks_every_replicate_alike(wang):
    with raise_if_dask_computes():
        lazy = M.offset_map(wang.chunk({"phi": 2}), "feh", statistic="mean")
    eager = M.offset_map(wang, "feh", statistic="mean")
    xr.testing.assert_allclose(lazy.compute(), eager)
    nan = np.isnan(eager.offset_feh)
    assert (nan == nan.sel(replicate=-1)).all()


@pytest.fixture(scope="module")
def disk_xy():
    rng = np.random.default_rng(9)
    n = 50_000
    x, y = rng.uniform(-11, -6, n), rng.uniform(-2.5, 2.5, n)
    R = np.hypot(x, y)
    phi = np.degrees(np.arctan2(y, -x))
    feh = 0.4 - 0.07 * R + 0.04 * np.cos(np.radians(6 * phi)) + rng.normal(0, 0.12, n)
    return xr.Dataset({"x": ("star", x), "y": ("star", y), "R": ("star", R),
                       "phi": ("star", phi), "feh": ("star", feh),
                       "feh_error": ("star", np.full(n, 0.08)), "id": ("star", np.arange(n))},
                      attrs={"id_column": "id"})


def test_residual_map_is_median_minus_the_fitted_radial_model(disk_xy):
    st = disk_xy
    hexes = A.hexagonal("x", "y", spacing=0.5, radius=2.0, origin=(-8.5, 0.0))
    c = cubes.bin_catalog(st, {"cell": hexes, "feh": A.regular(-1.5, 1.0, 0.01)},
                          values=["feh", "R"], cross=[("feh", "R")],
                          errors={"feh": "feh_error"}, replicates=K, progress=False)
    fit = G.gradient(c.cube.sum("feh"), "feh", "cell", coordinate="R")
    out = M.residual_map(c, fit, radius="R").sel(replicate=-1)
    f = fit.sel(replicate=-1)
    # per-star reference: a star's hexagon is its nearest centre on the infinite lattice
    bx, by = A.hexagonal("x", "y", spacing=0.5, radius=3.0, origin=(-8.5, 0.0)).centers()
    near = np.argmin((st.x.values[:, None] - bx) ** 2 + (st.y.values[:, None] - by) ** 2, 1)
    cx, cy = c["x"].values, c["y"].values
    match = np.argmin(np.hypot(bx[:, None] - cx, by[:, None] - cy), 1)
    inner = np.hypot(bx - cx[match], by - cy[match]) < 1e-9
    cell = np.where(inner[near], match[near], -1)
    feh, R = st.feh.values, st.R.values
    m, b = np.polyfit(R[cell >= 0], feh[cell >= 0], 1)
    assert float(f.slope) == pytest.approx(m, rel=1e-10)
    worst = 0.0
    for k in range(c.sizes["cell"]):
        s = cell == k
        if s.sum() >= 50:
            ref = np.median(feh[s]) - (m * R[s].mean() + b)
            worst = max(worst, abs(float(out.residual_feh[k]) - ref))
    assert worst < 0.01
    np.testing.assert_allclose(out.significance, out.residual_feh / 0.08, rtol=1e-9)
    flip = M.residual_map(c, fit, radius="R", sign="pred-obs").sel(replicate=-1)
    np.testing.assert_allclose(flip.residual_feh, -out.residual_feh)
    centre = M.residual_map(c, (m, b)).sel(replicate=-1)  # model at the cell centres
    assert float(np.abs(centre.residual_feh - out.residual_feh).max()) < 0.01


def test_azimuthal_profile_matches_per_star_numpy(disk_xy):
    st = disk_xy
    c = cubes.bin_catalog(st, {"R": A.regular(7, 11, 0.2), "phi": A.regular(-15, 15, 3.0)},
                          values=["feh"], replicates=K, progress=False)
    prof = M.azimuthal_profile(c, "feh", ranges=(7, 9, 11)).sel(replicate=-1)
    R, phi, feh = st.R.values, st.phi.values, st.feh.values
    inside = (R >= 7) & (R <= 11) & (np.abs(phi) <= 15)
    ia, ip = _index(R, np.arange(7, 11.01, 0.2)), _index(phi, np.arange(-15, 15.01, 3.0))
    ann_mean = np.array([feh[inside & (ia == a)].mean() for a in range(20)])
    delta = feh - ann_mean[ia]
    for r, (lo, hi) in enumerate([(7, 9), (9, 11)]):
        for j in range(10):
            s = inside & (R >= lo) & (R < hi) & (ip == j)
            assert float(prof.mean_delta_feh[r, j]) == pytest.approx(delta[s].mean(), abs=1e-12)
            sem = delta[s].std(ddof=1) / np.sqrt(s.sum())
            assert float(prof.sem_delta_feh[r, j]) == pytest.approx(sem, rel=1e-8)
    # the injected 0.04 cos(6φ): over |φ| < 15° its δ runs from −0.024 to +0.016 dex
    est = cubes.estimate(M.azimuthal_profile(c, "feh").mean_delta_feh)
    c6 = 0.04 * np.cos(np.radians(6 * c.phi.values))
    pull = (est.mean_delta_feh - (c6 - c6.mean())) / est.mean_delta_feh_error
    assert float(np.abs(pull).max()) < 3.5 and float((pull**2).mean()) < 2


def test_mock_arm_metallicity_amplitude_is_recovered():
    """ArmMetallicity(0.1): ⟨δ[Fe/H]⟩(φ) is the injected excess' own δ(φ) times A = 1 ± 2σ."""
    amp = 0.1
    sig = mock.ArmMetallicity(amplitude=amp)
    st = mock.disk(300_000, seed=5, signals=[sig]).compute()
    cat = xr.Dataset({"R": st.R_true, "z": st.z_true, "phi": st.phi_true,
                      "feh": st.feh_true, "source_id": st.source_id},
                     attrs={"id_column": "source_id"})
    cat["excess"] = ("star", sig.excess(st.x_true.values, st.y_true.values))
    cat = cat.isel(star=np.abs(cat.z.values) < 0.3)  # spec 002 A15: |Z| < 0.3
    c = cubes.bin_catalog(cat, {"R": A.regular(7, 11, 0.2), "phi": A.regular(-30, 30, 3.0)},
                          values=["feh", "excess"], replicates=16, progress=False)
    obs = M.azimuthal_profile(c, "feh", min_count=20)
    tmpl = M.azimuthal_profile(c, "excess", min_count=20)["mean_delta_excess"]
    t = tmpl.sel(replicate=-1)
    w = (1 / obs.sem_delta_feh.sel(replicate=-1) ** 2).where(np.isfinite(t), 0.0)
    d, t = obs.mean_delta_feh.fillna(0.0), t.fillna(0.0)
    scale = (w * d * t).sum("phi") / (w * t * t).sum("phi")  # per jackknife sample
    est = cubes.estimate(scale.rename("A"))
    pull = (est.A - 1.0) / est.A_error
    assert float(np.abs(pull).max()) < 2, (est.A.values, est.A_error.values)
    assert float(est.A_error.max()) < 0.15
    assert float(amp * (t.max() - t.min())) > 0.0  # the arms make a φ pattern


def test_arm_overlay_and_distance_use_reid2014():
    ov = M.arm_overlay(n=50)
    assert list(ov.arm.values) == [a.name for a in spiral_arms.REID2014]
    loc = spiral_arms.arm_locus("Perseus", n=50)
    np.testing.assert_allclose(ov.x.sel(arm="Perseus"), loc["x"])
    for tag, sgn in (("inner", -1), ("outer", 1)):
        off = spiral_arms.arm_offset(ov[f"x_{tag}"].sel(arm="Local").values,
                                     ov[f"y_{tag}"].sel(arm="Local").values, "Local")
        np.testing.assert_allclose(off, sgn * spiral_arms.arm("Local").width, rtol=0.02)
    grid = xr.Dataset(coords={"x": np.linspace(-11, -6, 6), "y": np.linspace(-2, 2, 5)})
    d = M.arm_distance(grid)
    ref, _ = spiral_arms.nearest_arm(*np.meshgrid(grid.x, grid.y, indexing="ij"))
    np.testing.assert_allclose(d.arm_distance, ref)


def test_bad_map_input_says_what_is_missing(wang, disk_xy):
    nosum = wang.drop_vars(["sum_feh", "sum_feh2"])
    with pytest.raises(KeyError, match=r"no 'sum_feh'.*values=\['feh'\]"):
        M.offset_map(nosum, "feh")
    with pytest.raises(ValueError, match="no 'across' dim"):
        M.offset_map(wang, "feh", across="abs_z")
    plain = cubes.bin_catalog(disk_xy, {"R": A.regular(7, 11, 0.5)}, values=["feh"],
                              replicates=0, progress=False)
    with pytest.raises(ValueError, match="finely binned dim"):
        M.offset_map(plain, "feh", across="R", radius="R", statistic="median")
    with pytest.raises(ValueError, match="no radius/azimuth dim"):
        M.azimuthal_profile(plain, "feh")
    with pytest.raises(ValueError, match="too few stars"):
        M.offset_map(wang.isel(R=[0], z=[0]), "feh", min_count=10**6)
    with pytest.raises(ValueError, match="cell-centre coordinates"):
        M.residual_map(wang, (-0.07, 0.4))
