"""The intruder simulation (Lin et al. 2023 §4, spec 000 §5) against independent references.

References: galpy's own potential, forces, guiding radius and orbit integrator; astropy's G and
units for the kick; the spec's hand-derived kick magnitudes; galpy-computed vertical frequencies
for the phase-spiral winding rate; exact symmetry and conservation laws.
"""

from __future__ import annotations

import importlib
import json
import math

import numpy as np
import pytest
from scipy import stats

from cubes.kernels import orbits as ko

# the module, by name: once cubes.mock exports the function ``intruder``, the attribute
# cubes.mock.intruder (and ``import cubes.mock.intruder as mi``) is the function, not the module
mi = importlib.import_module("cubes.mock.intruder")

galpy_potential = pytest.importorskip("galpy.potential")
from galpy.orbit import Orbit  # noqa: E402
from galpy.potential.mwpotentials import Irrgang13I  # noqa: E402

RO, VO = mi.RO, mi.VO

# the simulation shared by the physics tests: one integration, several snapshots
N_SIM = 100_000
TIMES = (0.0, 0.2, 0.3, 0.5)


@pytest.fixture(scope="module")
def sim():
    # 2 Myr steps (twice the default) keep the file fast; the physics tests do not need more
    return mi.intruder(N_SIM, seed=1, times_after_kick=TIMES, dt=2.0, progress=False)


def _galpy_phi(R, z):
    return galpy_potential.evaluatePotentials(Irrgang13I, np.asarray(R) / RO,
                                              np.asarray(z) / RO, use_physical=False) * VO**2


# ------------------------------------------------------------------------------------------------
# potential and orbits


def test_forces_and_potential_match_galpy():
    pot = mi.irrgang13i()
    rng = np.random.default_rng(0)
    R = rng.uniform(0.05, 60.0, 300)
    z = rng.uniform(-5.0, 5.0, 300)
    ph = rng.uniform(0.0, 2 * np.pi, 300)
    ax, ay, az = ko.accelerations(R * np.cos(ph), R * np.sin(ph), z, pot["p"], pot["q"])
    aR = ax * np.cos(ph) + ay * np.sin(ph)
    FR = galpy_potential.evaluateRforces(Irrgang13I, R / RO, z / RO,
                                         use_physical=False) * VO**2 / RO
    Fz = galpy_potential.evaluatezforces(Irrgang13I, R / RO, z / RO,
                                         use_physical=False) * VO**2 / RO
    assert np.max(np.abs(aR / FR - 1)) < 1e-6
    assert np.max(np.abs(az / Fz - 1)) < 1e-6
    assert np.max(np.abs(ax * np.sin(ph) - ay * np.cos(ph))) < 1e-12 * np.max(np.abs(aR))  # axisym.
    phi = mi.potential(R, z)
    assert np.max(np.abs(phi / _galpy_phi(R, z) - 1)) < 1e-7


def test_orbits_match_galpy_integrator():
    """Disk orbits for 1.1 Gyr: kernel (PEFRL, default 1 Myr step) vs galpy's dop853_c."""
    state = mi.initial_conditions(60, np.random.default_rng(3))
    x, y, z, vx, vy, vz = state.T
    R, ph = np.hypot(x, y), np.arctan2(y, x)
    vR = vx * np.cos(ph) + vy * np.sin(ph)
    vT = -vx * np.sin(ph) + vy * np.cos(ph)
    from galpy.util import conversion

    ts = np.linspace(0.0, 1.1 / conversion.time_in_Gyr(VO, RO), 12)  # every 100 Myr
    o = Orbit(np.stack([R / RO, vR / VO, vT / VO, z / RO, vz / VO, ph], 1))
    o.integrate(ts, Irrgang13I, method="dop853_c", progressbar=False)
    pot = mi.irrgang13i()
    E0 = 0.5 * (state[:, 3:] ** 2).sum(1) + _galpy_phi(R, z)
    worst_pos = worst_vel = 0.0
    dist = np.zeros(len(R))
    steps = int(round(100.0 / mi.DT))
    for t in ts[1:]:
        ko.integrate(state, mi.DT / mi.KPC_PER_KMS_MYR, steps, pot["p"], pot["q"])
        ref = np.stack([o.x(t, use_physical=False), o.y(t, use_physical=False),
                        o.z(t, use_physical=False)], 1) * RO
        vref = np.stack([o.vx(t, use_physical=False), o.vy(t, use_physical=False),
                         o.vz(t, use_physical=False)], 1) * VO
        dist = np.maximum(dist, np.linalg.norm(state[:, :3] - ref, axis=1))
        worst_pos = dist.max()
        worst_vel = max(worst_vel, np.max(np.linalg.norm(state[:, 3:] - vref, axis=1)))
    # kpc; on 2000 orbits: median 7e-6 (galpy's own error), 99.9 % < 5e-5, max 2e-4
    assert np.median(dist) < 2e-5
    assert worst_pos < 1e-3
    assert worst_vel < 1e-3  # km/s
    Rn = np.hypot(state[:, 0], state[:, 1])
    E1 = 0.5 * (state[:, 3:] ** 2).sum(1) + _galpy_phi(Rn, state[:, 2])  # galpy's Φ
    assert np.max(np.abs(E1 / E0 - 1)) < 1e-6


def test_energy_and_Lz_conserved_for_the_disk():
    rng = np.random.default_rng(5)
    state = mi.initial_conditions(4000, rng)
    pot = mi.irrgang13i()

    def energy(s):
        return 0.5 * (s[:, 3:] ** 2).sum(1) + ko.potential(
            s[:, 0].copy(), s[:, 1].copy(), s[:, 2].copy(), pot["p"], pot["phi_halo"])

    E0 = energy(state)
    L0 = state[:, 0] * state[:, 4] - state[:, 1] * state[:, 3]
    steps = int(round(1100.0 / mi.DT))  # 1.1 Gyr
    ko.integrate(state, mi.DT / mi.KPC_PER_KMS_MYR, steps, pot["p"], pot["q"])
    dE = np.abs(energy(state) / E0 - 1)
    dL = np.abs((state[:, 0] * state[:, 4] - state[:, 1] * state[:, 3]) / L0 - 1)
    assert np.median(dE) < 1e-8  # measured 1.3e-9
    assert np.percentile(dE, 99) < 1e-6  # 2e-8
    assert dE.max() < 1e-4  # 3e-6: the few orbits plunging into the 0.23 kpc bulge
    assert dL.max() < 1e-11  # exact for axisymmetric forces, up to round-off


def test_integration_is_time_reversible():
    state = mi.initial_conditions(200, np.random.default_rng(9))
    start = state.copy()
    pot = mi.irrgang13i()
    h = 2.0 / mi.KPC_PER_KMS_MYR
    ko.integrate(state, h, 300, pot["p"], pot["q"])
    assert np.max(np.abs(state - start)) > 1.0
    ko.integrate(state, -h, 300, pot["p"], pot["q"])
    assert np.max(np.abs(state[:, :3] - start[:, :3])) < 1e-8


def test_guiding_radius_matches_galpy_rl():
    Lz = np.array([800.0, 1500.0, 2000.0, 2400.0, 3300.0])
    ref = np.array([galpy_potential.rl(Irrgang13I, lz / (RO * VO), use_physical=False)
                    for lz in Lz]) * RO
    assert np.max(np.abs(mi.guiding_radius(Lz) / ref - 1)) < 1e-5
    assert np.isnan(mi.guiding_radius(np.array([-5.0, 0.0]))).all()


# ------------------------------------------------------------------------------------------------
# the kick


@pytest.mark.parametrize("R, theta, dv_par, dv_perp", [
    (9.5, -3 * np.pi / 4, 7.34, 12.5), (9.5, -np.pi / 2, 6.36, 12.7),
    (9.5, -np.pi / 4, 14.78, 25.2), (8.5, -np.pi / 2, 5.78, 11.6),
    (10.5, -np.pi / 2, 6.91, 13.8)])
def test_kick_reproduces_spec_reference_magnitudes(R, theta, dv_par, dv_perp):
    """Spec §5.3's point-mass values (derived by hand there, rounded to the printed digits)."""
    k = mi.kick(np.array([R * np.cos(theta)]), np.array([R * np.sin(theta)]), softening=0.0)
    assert abs(k["dv_par"][0] - dv_par) <= 0.006
    assert abs(k["dv_perp"][0] - dv_perp) <= 0.06
    # the default softening (1 kpc) changes the window's kicks by < 1 %
    ks = mi.kick(np.array([R * np.cos(theta)]), np.array([R * np.sin(theta)]))
    assert abs(ks["dv_par"][0] / k["dv_par"][0] - 1) < 1e-2


def test_kick_units_against_astropy():
    import astropy.units as u
    from astropy.constants import G

    x, y = np.array([3.0, -9.0]), np.array([-8.0, 2.0])
    k = mi.kick(x, y, softening=0.0)
    M = 2e10 * u.Msun
    xi = np.array([20.0, 0.0])
    pos = np.stack([x, y], 1)
    d = (xi - pos) * u.kpc
    a = G * M * d / (np.linalg.norm(d, axis=1, keepdims=True) ** 3)
    a0 = G * M * (xi * u.kpc) / (np.linalg.norm(xi) * u.kpc) ** 3
    dv = (66 * u.Myr * (a - a0)).to(u.km / u.s).value
    np.testing.assert_allclose(k["dvx"], dv[:, 0], rtol=1e-8)
    np.testing.assert_allclose(k["dvy"], dv[:, 1], rtol=1e-8)
    theta = np.arctan2(y, x)
    np.testing.assert_allclose(k["dv_perp"], np.hypot(*dv.T) * (1 - np.sin(theta)), rtol=1e-8)


def test_kick_applied_once_with_its_sign(sim):
    s0 = sim[0.0]
    th = s0.theta.values
    # δv_⊥ ∝ 1 − sin θ: none at θ = +90°, the most at θ = −90° (the window's centre), all ≥ 0
    kick = s0.dvz_kick.values
    assert kick.min() >= 0
    near_top = np.abs(th - 90) < 2
    near_bottom = (np.abs(th + 90) < 2) & (np.abs(s0.R.values - 9.5) < 0.2)
    assert kick[near_top].max() < 0.05 * np.median(kick)
    assert np.median(kick[near_bottom]) == pytest.approx(12.7, rel=0.03)
    down = mi.intruder(3000, seed=4, times_after_kick=0.0, kick_sign=-1, progress=False)
    up = mi.intruder(3000, seed=4, times_after_kick=0.0, progress=False)
    ctrl = mi.intruder(3000, seed=4, times_after_kick=0.0, mass=0.0, progress=False)
    np.testing.assert_allclose(up.vz - ctrl.vz, up.dvz_kick, atol=1e-9)
    np.testing.assert_allclose(down.vz - ctrl.vz, -up.dvz_kick, atol=1e-9)
    np.testing.assert_array_equal(up.z, ctrl.z)
    # no in-plane kick by default: L_z, hence R_g, untouched; with in_plane=True it moves
    np.testing.assert_allclose(up.Rg, up.Rg_initial, rtol=1e-9)
    inp = mi.intruder(3000, seed=4, times_after_kick=0.0, in_plane=True, progress=False)
    assert np.nanmax(np.abs(inp.Rg - inp.Rg_initial)) > 0.05


# ------------------------------------------------------------------------------------------------
# North-South symmetry before the kick, asymmetry after


def _ns_chi2(z, vz):
    """χ² (and dof) of North = South for counts and for σ_vz in 0.1 kpc |z| bins to 1.5 kpc."""
    edges = np.arange(0.0, 1.51, 0.1)
    pulls_n, pulls_s = [], []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        N = vz[(z > a) & (z <= b)]
        S = vz[(z < -a) & (z >= -b)]
        pulls_n.append((N.size - S.size) / math.sqrt(N.size + S.size))

        def var_s(v):  # variance of the sample std (any distribution): (m4 − s⁴) / (4 N s²)
            s2 = v.var()
            return (np.mean((v - v.mean()) ** 4) - s2**2) / (4 * v.size * s2)

        pulls_s.append((N.std() - S.std()) / math.sqrt(var_s(N) + var_s(S)))
    return float(np.sum(np.square(pulls_n))), float(np.sum(np.square(pulls_s))), len(pulls_n)


def _window(ds, rg=(8.0, 11.0)):
    th, Rg = ds.theta.values, ds.Rg.values
    lo, hi = mi.WINDOW_THETA
    return (th > lo) & (th < hi) & (Rg > rg[0]) & (Rg < rg[1])


def test_relaxed_disk_is_north_south_symmetric(sim):
    """Before the kick (vz − dvz_kick at t = 0): counts and σ_vz N vs S agree within errors."""
    s0 = sim[0.0]
    z = s0.z.values
    vz_pre = s0.vz.values - s0.dvz_kick.values
    R = s0.R.values
    for sel in (_window(s0), (R > 8) & (R < 9), (R > 9) & (R < 10), (R > 10) & (R < 11)):
        c_n, c_s, dof = _ns_chi2(z[sel], vz_pre[sel])
        assert stats.chi2.sf(c_n, dof) > 1e-3, (c_n, dof)
        assert stats.chi2.sf(c_s, dof) > 1e-3, (c_s, dof)
    # the same statistic sees the kick: it can fail
    s2 = sim[0.2]
    sel = _window(s2)
    c_n, c_s, dof = _ns_chi2(s2.z.values[sel], s2.vz.values[sel])
    assert stats.chi2.sf(c_n, dof) < 1e-10 and stats.chi2.sf(c_s, dof) < 1e-6


def test_initial_conditions_are_in_vertical_equilibrium(sim):
    """σ_vz and median |z| per R bin change little over the 0.6 Gyr relaxation.

    Measured (n = 1e5): σ_vz within 1–3 %, median |z| within 0.3–8 % in 6–13 kpc; the residue is
    radial mixing of the Gaussian (epicyclic) in-plane velocities, not a vertical mismatch.
    """
    ic = mi.intruder(N_SIM, seed=1, times_after_kick=0.0, relax=0.0, mass=0.0, dt=2.0,
                     progress=False)
    s0 = sim[0.0]
    vz_pre = s0.vz.values - s0.dvz_kick.values
    for lo in (6.0, 8.0, 10.0, 12.0):
        a = (ic.R.values > lo) & (ic.R.values < lo + 1)
        b = (s0.R.values > lo) & (s0.R.values < lo + 1)
        assert np.std(vz_pre[b]) / np.std(ic.vz.values[a]) == pytest.approx(1, abs=0.05)
        assert (np.median(np.abs(s0.z.values[b])) / np.median(np.abs(ic.z.values[a]))
                == pytest.approx(1, abs=0.10))
    # labels come from t = 0: the [Fe/H]–|z| relation holds exactly at t = 0 (ε shared)
    np.testing.assert_allclose(ic.feh - ic.feh_rg_only, -0.4 * np.abs(ic.z), atol=1e-12)
    np.testing.assert_allclose(s0.feh, ic.feh)


def _galpy_jz(R, z, vz):
    """Vertical actions (kpc km/s) at fixed R from galpy's Φ: (2/π) ∫ sqrt(2 (E − ΔΦ)) dz."""
    zg = np.linspace(0.0, 8.0, 1601)
    dphi = _galpy_phi(np.full_like(zg, R), zg) - _galpy_phi(R, 0.0)
    E = 0.5 * vz**2 + np.interp(np.abs(z), zg, dphi)
    zmax = np.interp(E, dphi, zg)
    u = np.linspace(0.0, np.pi / 2, 401)
    zz = zmax[:, None] * np.sin(u)[None]
    v = np.sqrt(np.clip(2 * (E[:, None] - np.interp(zz, zg, dphi)), 0, None))
    return (2 / np.pi) * zmax * np.trapezoid(v * np.cos(u)[None], u, axis=1)


def test_vertical_sampling_is_quasi_isothermal():
    """At fixed R, J_z (from galpy's Φ) is exponential with mean σ_z²/ν, σ_z = √2 ν H."""
    R = 9.5
    z, vz, proposals = mi._sample_vertical(np.random.default_rng(0), np.full(4000, R), 0.3,
                                           5.0, 15.0)
    assert 0.6 < 4000 / proposals < 0.8  # rejection from the isothermal proposal
    Rt, _, _, nut = mi._rotation_table()
    nu = np.interp(R, Rt, nut)
    nu_galpy = math.sqrt(galpy_potential.evaluatez2derivs(Irrgang13I, R / RO, 0.0,
                                                          use_physical=False)) * VO / RO
    assert nu == pytest.approx(nu_galpy, rel=1e-5)
    mean = (math.sqrt(2) * 0.3 * nu) ** 2 / nu
    J = _galpy_jz(R, z, vz)
    assert stats.kstest(J, "expon", args=(0, mean)).pvalue > 1e-3
    assert np.mean(z) == pytest.approx(0, abs=0.03) and np.mean(vz) == pytest.approx(0, abs=1.5)
    # the isothermal proposal itself is not quasi-isothermal: the test has power
    rng = np.random.default_rng(1)
    sig = math.sqrt(2) * 0.3 * nu
    zg = np.linspace(0.0, 8.0, 1601)
    dens = np.exp(-(_galpy_phi(np.full_like(zg, R), zg) - _galpy_phi(R, 0.0)) / sig**2)
    cdf = np.cumsum(dens) / dens.sum()
    ziso = np.interp(rng.random(4000), cdf, zg)
    Jiso = _galpy_jz(R, ziso, rng.normal(0, sig, 4000))
    assert stats.kstest(Jiso, "expon", args=(0, mean)).pvalue < 1e-6


def _pitch(ds, t, rg=(9.0, 10.0)):
    """Winding k (rad/kpc) of the m = 1 phase-space perturbation in (A, ψ).

    A = hypot(z, v_z/ν), ψ = atan2(−v_z/ν, z) − ν t (ν = midplane vertical frequency at R_g:
    de-rotated, so only the anharmonic winding remains); k maximises |⟨exp i(ψ + k A)⟩|.
    """
    Rt, _, _, nut = mi._rotation_table()
    Rg = ds.Rg.values
    sel = (Rg > rg[0]) & (Rg < rg[1])
    z, vz = ds.z.values[sel], ds.vz.values[sel]
    nu = np.interp(Rg[sel], Rt, nut)
    A = np.hypot(z, vz / nu)
    psi = np.arctan2(-vz / nu, z) - nu * t * 1e3 / mi.KPC_PER_KMS_MYR
    keep = (A > 0.1) & (A < 1.5)
    A, psi = A[keep], psi[keep]
    ks = np.linspace(-40.0, 40.0, 801)
    power = np.abs(np.exp(1j * (psi[None] + ks[:, None] * A[None])).mean(1)) * math.sqrt(A.size)
    return ks[np.argmax(power)], power.max()


def _predicted_pitch(t_gyr, R=9.5):
    """−t dΩ_z/dZ at R from galpy's potential (1-D vertical orbits of amplitude Z)."""
    u = np.linspace(0, np.pi / 2, 400)[1:-1]
    P0 = _galpy_phi(R, 0.0)
    Zs = np.linspace(0.1, 1.5, 15)
    om = []
    for Z in Zs:
        zz = Z * np.sin(u)
        E = _galpy_phi(R, Z) - P0
        period = 4 * np.trapezoid(Z * np.cos(u) / np.sqrt(2 * (E - (_galpy_phi(R, zz) - P0))), u)
        om.append(2 * np.pi / period)
    slope = np.polyfit(Zs, om, 1)[0]  # (km/s/kpc) per kpc
    return -slope * t_gyr * 1e3 / mi.KPC_PER_KMS_MYR


def test_phase_spiral_winds_at_the_rate_the_potential_sets(sim):
    k = {t: _pitch(sim[t], t) for t in TIMES}
    assert abs(k[0.0][0]) < 0.5  # just after the kick: an unwound shift in v_z
    for t in (0.2, 0.3):  # while the winding is linear, it is the anharmonic rate
        assert k[t][1] > 6  # a coherent signal, far above the noise level (~3.5)
        assert k[t][0] == pytest.approx(_predicted_pitch(t), rel=0.2)
    assert k[0.0][0] < k[0.2][0] < k[0.3][0] < k[0.5][0]


def test_north_south_asymmetry_in_the_window_changes_with_time(sim):
    prof = {}
    for t in (0.2, 0.5):
        ds = sim[t]
        sel = _window(ds)
        z, vz = ds.z.values[sel], ds.vz.values[sel]
        edges = np.arange(0, 1.51, 0.1)
        prof[t] = np.array([vz[(z > a) & (z <= b)].std() - vz[(z < -a) & (z >= -b)].std()
                            for a, b in zip(edges[:-1], edges[1:], strict=True)])
    assert np.max(np.abs(prof[0.2])) > 4  # km/s: a clear Δσ_vz wave
    assert np.max(np.abs(prof[0.2] - prof[0.5])) > 4  # and it evolves


# ------------------------------------------------------------------------------------------------
# the catalog


def test_catalog_columns_units_frame_and_truth(sim):
    ds = sim[0.5]
    for name in ("x", "y", "z", "vx", "vy", "vz", "R", "phi", "theta", "vR", "vphi", "Lz", "Rg",
                 "Rg_initial", "feh", "feh_rg_only", "source_id"):
        assert name in ds
        assert ds[name].dims == ("star",)
    assert ds.source_id.dtype == np.int64 and np.unique(ds.source_id).size == N_SIM
    assert ds.x.attrs["units"] == "kpc" and ds.vz.attrs["units"] == "km / s"
    assert ds.phi.attrs["units"] == "deg" and ds.feh.attrs["units"] == "dex"
    assert ds.attrs["survey"] == "mock" and ds.attrs["id_column"] == "source_id"
    assert ds.attrs["selections"] == []
    truth = json.loads(json.dumps(ds.attrs["truth"]))
    assert truth["time_after_kick_Gyr"] == 0.5 and truth["n"] == N_SIM
    assert truth["intruder"]["mass_Msun"] == 2e10 and truth["intruder"]["kick_sign"] == 1
    # the library frame: phi = atan2(y, −x), L_z = R v_phi = x v_y − y v_x with a sign flip
    x, y, vx, vy = ds.x.values, ds.y.values, ds.vx.values, ds.vy.values
    np.testing.assert_allclose(ds.phi, np.rad2deg(np.arctan2(y, -x)), atol=1e-9)
    np.testing.assert_allclose(ds.R, np.hypot(x, y), rtol=1e-12)
    rad = np.deg2rad(ds.phi.values)
    np.testing.assert_allclose(ds.vphi, vx * np.sin(rad) + vy * np.cos(rad), atol=1e-9)
    np.testing.assert_allclose(ds.Lz, ds.R * ds.vphi, rtol=1e-12)
    assert np.median(ds.vphi) > 150  # rotation is +phi
    dphi = (ds.theta.values - mi.SUN_THETA - ds.phi.values + 180) % 360 - 180
    assert np.max(np.abs(dphi)) < 1e-9
    np.testing.assert_allclose(ds.Rg, ds.Rg_initial, rtol=1e-8)  # no in-plane kick


def test_snapshots_from_one_integration(sim):
    assert list(sim) == list(TIMES)
    single = mi.intruder(2000, seed=2, times_after_kick=0.3, progress=False)
    several = mi.intruder(2000, seed=2, times_after_kick=(0.1, 0.3), progress=False)
    np.testing.assert_allclose(several[0.3].z, single.z, atol=1e-9)
    assert several[0.1 + 0.2] is several[0.3]  # float keys match to 1e-9 Gyr


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 0}, "n >= 1"), ({"n": -5}, "n >= 1"), ({"n": 2.5}, "n >= 1"),
    ({"times_after_kick": -0.1}, ">= 0"), ({"times_after_kick": (0.2, -0.4)}, ">= 0"),
    ({"times_after_kick": float("nan")}, "finite"), ({"times_after_kick": ()}, "1-D"),
    ({"relax": -0.6}, "relax"), ({"dt": 0.0}, "dt"), ({"mass": -1.0}, "mass"),
    ({"kick_sign": 0}, "kick_sign"), ({"R_range": (15, 5)}, "R_range"),
])
def test_bad_input_raises(kwargs, match):
    args = {"n": 10, **kwargs}
    with pytest.raises(ValueError, match=match):
        mi.intruder(progress=False, **args)


def test_time_not_integrated_raises():
    snaps = mi.intruder(50, seed=0, times_after_kick=(0.01, 0.02), progress=False)
    with pytest.raises(ValueError, match="not integrated"):
        snaps[0.5]
