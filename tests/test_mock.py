"""The Gaia-like mock (cubes.mock.disk): its observation against astropy and pygaia, its truth
against the engine's statistics of the truth columns, and its injected signals."""

from __future__ import annotations

import astropy.coordinates as coord
import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from pygaia.errors.astrometric import parallax_uncertainty

import cubes
from cubes import axes as A
from cubes import mock
from cubes.mock.equilibrium import DiskModel
from cubes.vertical import VerticalOrbits, phase_shape

K = 16


@pytest.fixture(scope="module")
def stars():
    return mock.disk(400_000, seed=11, chunk_rows=150_000).compute()


def test_catalog_has_gaia_columns_units_and_truth(stars):
    for c in ("source_id", "ra", "dec", "parallax", "parallax_error", "pmra", "pmra_error",
              "pmdec", "pmdec_error", "pmra_pmdec_corr", "radial_velocity",
              "radial_velocity_error", "phot_g_mean_mag", "ruwe", "teff", "logg", "feh",
              "feh_error", "age"):
        assert c in stars, c
    assert stars.sizes["star"] == 400_000
    assert stars["pmra"].attrs["units"] == "mas / yr"
    assert np.unique(stars.source_id.values).size == stars.sizes["star"]
    g = stars.phot_g_mean_mag.values
    assert g.min() >= 3.0 and g.max() <= 17.0
    assert stars.distance_true.values.max() <= 5.0
    model = DiskModel.from_describe(stars.attrs["truth"]["disk"])
    assert model == DiskModel(R0=cubes.Frame.preset("widmark2025").R0, vc=234.0)


def test_same_seed_same_catalog_and_other_seed_differs():
    a = mock.disk(3000, seed=5, chunk_rows=1000).compute()
    b = mock.disk(3000, seed=5, chunk_rows=1000).compute()
    c = mock.disk(3000, seed=6, chunk_rows=1000).compute()
    xr.testing.assert_identical(a, b)
    assert not np.allclose(a.ra.values, c.ra.values)


def test_true_astrometry_is_the_astropy_image_of_the_true_phase_space(stars):
    s = stars.isel(star=slice(0, 5000))
    frame = cubes.Frame.preset("widmark2025")
    c = coord.SkyCoord(ra=s.ra.values * u.deg, dec=s.dec.values * u.deg,
                       distance=s.distance_true.values * u.kpc,
                       pm_ra_cosdec=s.pmra_true.values * u.mas / u.yr,
                       pm_dec=s.pmdec_true.values * u.mas / u.yr,
                       radial_velocity=s.radial_velocity_true.values * u.km / u.s)
    g = c.transform_to(frame.to_astropy())
    for name, ref in zip(("x", "y", "z"), g.cartesian.xyz.to_value(u.kpc), strict=True):
        np.testing.assert_allclose(s[f"{name}_true"].values, ref, rtol=0, atol=1e-9)
    for name, ref in zip(("vx", "vy", "vz"), g.velocity.d_xyz.to_value(u.km / u.s),
                         strict=True):
        np.testing.assert_allclose(s[f"{name}_true"].values, ref, rtol=0, atol=1e-7)


def test_true_cylindrical_columns_follow_the_library_convention(stars):
    s = stars.isel(star=slice(0, 20000))
    t = xr.Dataset({"ra": s.ra, "dec": s.dec, "distance": s.distance_true, "pmra": s.pmra_true,
                    "pmdec": s.pmdec_true, "radial_velocity": s.radial_velocity_true})
    g = cubes.galactocentric(t, "widmark2025")
    for name in ("R", "phi", "z", "vR", "vphi", "vz"):
        np.testing.assert_allclose(g[name].values, s[f"{name}_true"].values, rtol=0,
                                   atol=1e-7, err_msg=name)


def test_errors_are_pygaias_and_noise_matches_them(stars):
    g = stars.phot_g_mean_mag.values
    np.testing.assert_allclose(stars.parallax_error.values,
                               parallax_uncertainty(g, release="dr3") / 1000.0, rtol=1e-12)
    for name in ("parallax", "pmra", "pmdec", "radial_velocity"):
        e = stars[f"{name}_error"].values
        pull = (stars[name].values - stars[f"{name}_true"].values) / e
        ok = np.isfinite(pull)
        assert abs(pull[ok].std() - 1.0) < 0.01, name
        assert abs(pull[ok].mean()) < 0.01, name
    # DR3 gives an RV only down to G_RVS = 14 (pygaia): faint stars have none
    has_rv = np.isfinite(stars.radial_velocity.values)
    grvs = g - mock.observe.g_minus_grvs(stars.teff_true.values)
    assert not has_rv[grvs > 14.0].any()
    cool = stars.teff_true.values < 7000  # hot stars' RVs are often too poor (> 20 km/s)
    assert has_rv[(grvs < 12.0) & cool].all()
    assert 0.2 < has_rv.mean() < 0.9


def _truth_cube(stars, model, extra=None):
    """Cube over true (R, z) with the truth's σ² and ⟨[Fe/H]⟩ per star beside the values."""
    R, z = stars.R_true.values, stars.z_true.values
    cat = xr.Dataset({
        "R": ("star", R), "z": ("star", z), "vz": ("star", stars.vz_true.values),
        "feh": ("star", stars.feh_true.values),
        "truth_s2": ("star", model.sigma_vz(R, z) ** 2),
        "truth_feh": ("star", model.mean_feh(R, z) + (0 if extra is None else extra)),
        "source_id": stars.source_id,
    }, attrs={"id_column": "source_id"})
    return cubes.bin_catalog(cat, {"R": A.regular(5, 12, 1.0), "z": A.symmetric(1.5, 0.25)},
                             ["vz", "feh", "truth_s2", "truth_feh"], replicates=K,
                             progress=False)


def _chi2(stat, truth, min_count, count):
    est = cubes.estimate(stat).compute()
    name = stat.name
    ok = (count >= min_count).values & np.isfinite(est[f"{name}_error"].values)
    pull = ((est[name] - truth) / est[f"{name}_error"]).values[ok]
    return float(np.sum(pull**2)), int(ok.sum())


def test_sigma_vz_and_mean_feh_truth_are_what_the_engine_measures(stars):
    model = DiskModel.from_describe(stars.attrs["truth"]["disk"])
    cube = _truth_cube(stars, model)
    n = cube.cube.count().sel(replicate=-1)
    sigma = cube.cube.std("vz", ddof=1).rename("sigma_vz")
    truth = np.sqrt(cube.cube.mean("truth_s2").sel(replicate=-1))
    chi2, dof = _chi2(sigma, truth, 200, n)
    assert dof > 40 and chi2 / dof < 1.6, (chi2, dof)
    wrong, _ = _chi2(sigma, 1.03 * truth, 200, n)  # a 3 % wrong truth is caught
    assert wrong / dof > 3.0, wrong / dof
    feh = cube.cube.mean("feh").rename("feh")
    chi2, dof = _chi2(feh, cube.cube.mean("truth_feh").sel(replicate=-1), 200, n)
    assert chi2 / dof < 1.6, (chi2, dof)


def test_vertical_profiles_are_isothermal_equilibria():
    """Jeans: d(n σ²)/dz = −n dΦ/dz for each population, at R0 and elsewhere."""
    model = DiskModel()
    z = np.linspace(-2.0, 2.0, 4001)
    n = model.vertical_density(z)
    for R in (model.R0, 11.0):
        for k, p in enumerate(model.populations):
            s2 = (p.sigma_z * model.sigma_scale(R)) ** 2
            nk = n[k] * np.exp(0.0)  # the profile is the same at all R (constant scale height)
            lhs = np.gradient(nk * s2, z)
            rhs = -nk * np.gradient(model.potential(R, z), z)
            np.testing.assert_allclose(lhs[5:-5], rhs[5:-5], atol=2e-3 * np.abs(rhs).max())


def test_north_south_signal_has_the_injected_size():
    ns = mock.NorthSouth(R_min=9.0, sigma_vz_ratio=1.15, feh_offset=0.08)
    s = mock.disk(300_000, seed=3, signals=[ns]).compute()
    assert s.attrs["truth"]["north_south_symmetric"] is False
    R, z, vz, feh = (s[c].values for c in ("R_true", "z_true", "vz_true", "feh_true"))
    model = DiskModel.from_describe(s.attrs["truth"]["disk"])
    feh_resid = feh - model.mean_feh(R, z)
    v_norm = vz / model.sigma_vz(R, z)  # unit variance wherever the disk is untouched
    for outer, ratio, dfeh in ((R > 9.0, 1.15, 0.08), (R < 9.0, 1.0, 0.0)):
        north, south = outer & (z > 0), outer & (z < 0)
        r = v_norm[north].std() / v_norm[south].std()
        err = r * np.sqrt(0.5 / north.sum() + 0.5 / south.sum()) * 1.3  # kurtosis of mixture
        assert abs(r - ratio) < 3 * err, (r, ratio, err)
        d = feh_resid[north].mean() - feh_resid[south].mean()
        assert abs(d - dfeh) < 3 * np.hypot(feh_resid[north].std() / np.sqrt(north.sum()),
                                            feh_resid[south].std() / np.sqrt(south.sum()))


def test_arm_metallicity_excess_follows_the_arms():
    arms = mock.ArmMetallicity(amplitude=0.1)
    s = mock.disk(200_000, seed=4, signals=[arms]).compute()
    model = DiskModel.from_describe(s.attrs["truth"]["disk"])
    resid = s.feh_true.values - model.mean_feh(s.R_true.values, s.z_true.values)
    excess = arms.excess(s.x_true.values, s.y_true.values)
    on, off = excess > 0.08, excess < 0.01
    scatter = resid.std()
    assert abs(resid[on].mean() - excess[on].mean()) < 4 * scatter / np.sqrt(on.sum())
    assert abs(resid[off].mean() - excess[off].mean()) < 4 * scatter / np.sqrt(off.sum())
    slope = np.polyfit(excess, resid, 1)[0]
    assert abs(slope - 1.0) < 0.05, slope


@pytest.mark.parametrize("alpha, beta", [(0.3, 0.15), (0.0, 0.0)])
def test_phase_spiral_is_sampled_from_the_widmark_model(alpha, beta):
    """In the equilibrium θ_z is uniform at fixed E_z; the spiral makes ⟨cos(θ − φ)⟩ = Mα/2 and
    ⟨cos 2(θ − φ)⟩ = Mβ/2 (spec 004 Eqs. 18–24) — recovered from the true phase space."""
    sp = mock.PhaseSpiral(alpha=alpha, beta=beta, omega=4.0, phi600=1.0, R_min=7.0, R_max=9.5)
    s = mock.disk(150_000, seed=8, signals=[sp], d_max=2.0).compute()
    model = DiskModel.from_describe(s.attrs["truth"]["disk"])
    R = s.R_true.values
    inside = (R > 7.0) & (R < 9.5)
    amp = model.amplitude(R[inside])
    z_pc = 1000 * s.z_true.values[inside]
    w = s.vz_true.values[inside] / np.sqrt(amp)
    orbits = VerticalOrbits()
    zmax = orbits.zmax(orbits.energy(z_pc, w))
    theta = orbits.angle(z_pc, w)
    phase = 1.0 + 4.0 * phase_shape(orbits, zmax)
    core = (zmax > 420) & (zmax < 680)  # mask ≈ 1
    c1 = np.cos(theta - phase)[core]
    c2 = np.cos(2 * (theta - phase))[core]
    err = 1.0 / np.sqrt(2 * core.sum())
    assert abs(2 * c1.mean() - alpha) < 4 * 2 * err, (2 * c1.mean(), alpha)
    assert abs(2 * c2.mean() - beta) < 4 * 2 * err, (2 * c2.mean(), beta)
    outside = (zmax < 200) | (zmax > 900)  # the mask switches the spiral off there
    assert abs(2 * np.cos(theta - phase)[outside].mean()) < 4 * 2 / np.sqrt(2 * outside.sum())


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "n >= 1"), ({"n": 10, "g_min": 18.0}, "g_min < g_max"),
    ({"n": 10, "d_max": -1.0}, "d_max > 0"), ({"n": 10, "frame": "nope"}, "unknown frame"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mock.disk(**kwargs)


def test_bad_signals_are_named():
    with pytest.raises(TypeError, match="unknown signals"):
        mock.disk(10, signals=["spiral"])
    with pytest.raises(ValueError, match="alpha \\+ beta < 1"):
        mock.PhaseSpiral(alpha=0.7, beta=0.4)


def test_arm_offset_is_the_distance_to_the_drawn_arm():
    """(R − R_arm) cos ψ against the distance to a densely drawn centre line (a polyline)."""
    from cubes import spiral_arms as sa

    rng = np.random.default_rng(2)
    for a in sa.REID2014:
        line = sa.arm_locus(a, n=50_000)
        j = rng.integers(5000, 45_000, 300)
        # points displaced across the arm by up to ±1 kpc
        ang = np.radians(line["beta"][j])
        step = rng.uniform(-1.0, 1.0, j.size)
        x = line["x"][j] - step * np.cos(ang)
        y = line["y"][j] + step * np.sin(ang)
        off = sa.arm_offset(x, y, a)
        dense = np.min(np.hypot(x[:, None] - line["x"][None, ::5],
                                y[:, None] - line["y"][None, ::5]), axis=1)
        ok = np.isfinite(off)
        assert ok.mean() > 0.9
        np.testing.assert_allclose(np.abs(off[ok]), dense[ok], rtol=0.02, atol=0.01,
                                   err_msg=a.name)


def test_sigma_vz_truth_survives_the_whole_chain():
    """Noisy astrometry → parallax cut → galactocentric (with error propagation) → cube →
    deconvolved σ_vz, against the truth of the very stars in each bin: ⟨σ²(R_true, z_true)⟩."""
    stars = mock.disk(500_000, seed=3)
    stars = stars.assign(parallax_over_error=stars.parallax / stars.parallax_error)
    stars = cubes.select(stars, "parallax_over_error > 10")
    g = cubes.galactocentric(stars, "widmark2025", outputs=("R", "z", "vz"))
    model = DiskModel.from_describe(stars.attrs["truth"]["disk"])
    g = g.assign(truth_s2=("star", model.sigma_vz(g.R_true.data, g.z_true.data) ** 2))
    cube = cubes.bin_catalog(g, {"R": A.regular(6, 11, 1.0), "z": A.symmetric(1.0, 0.2)},
                             ["vz", "truth_s2"], errors={"vz": "vz_error"}, replicates=32,
                             progress=False)  # 32 groups: the jackknife error is itself noisy
    a = cube.attrs
    assert a["stars_read"] == a["stars_used"] + a["stars_outside"] + a["stars_invalid"] + a[
        "stars_deselected"]
    assert a["stars_invalid_by_column"]["vz"] > 0  # stars without an RV: counted, not used
    sigma = cube.cube.dispersion("vz").rename("sigma_vz")
    truth = np.sqrt(cube.cube.mean("truth_s2").sel(replicate=-1))
    n = cube.cube.count().sel(replicate=-1)
    chi2, dof = _chi2(sigma, truth, 100, n)
    assert dof >= 40 and chi2 / dof < 1.6, (chi2, dof)
    wrong, _ = _chi2(sigma, 1.02 * truth, 100, n)  # a 2 % error in the chain would show
    assert wrong > 2 * chi2, (wrong, chi2)


def test_a_survey_that_keeps_no_star_says_so():
    with pytest.raises(ValueError, match="kept no star"):
        mock.disk(10, seed=1, d_max=0.001, g_min=3.0, g_max=3.1).compute()
