"""Dynamics against galpy: guiding radii (rl), epicycle and Stäckel actions, z_max by orbit
integration and by a root find in galpy's potential (the independent references)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from galpy.actionAngle import estimateDeltaStaeckel
from galpy.orbit import Orbit
from galpy.potential import MWPotential2014, epifreq, evaluatePotentials, rl, vcirc
from scipy.optimize import brentq

from cubes.dynamics import (
    epicycle_frequency,
    guiding_radius,
    guiding_radius_linear,
    radial_action,
    radial_action_angle,
    radial_angle,
    vertical_energy,
    zmax_energy,
    zmax_orbit,
)
from tests.utils import raise_if_dask_computes


def test_guiding_radius_matches_galpy_rl():
    ro, vo = 8.34, 238.0
    rng = np.random.default_rng(0)
    lz = np.concatenate([rng.uniform(50, 4000, 300), [1.0, 10.0, 8.34 * 238.0, 2e4]])
    got = guiding_radius(lz, ro=ro, vo=vo)
    ref = np.array([rl(MWPotential2014, x / (ro * vo)) * ro for x in lz])
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    assert np.isnan(guiding_radius(np.array([-5.0, 0.0, np.nan]), ro=ro, vo=vo)).all()


def test_guiding_radius_on_a_lazy_catalog():
    lz = xr.DataArray(np.linspace(100, 3000, 1000), dims="star").chunk(300)
    with raise_if_dask_computes():
        rg = guiding_radius(lz, ro=8.178, vo=234.0)
    assert rg.attrs["units"] == "kpc"
    np.testing.assert_allclose(rg.values, guiding_radius(lz.values, ro=8.178, vo=234.0))


def test_linear_rotation_curve_closed_form():
    lz = np.array([500.0, 1900.0, 3000.0])
    flat = guiding_radius_linear(lz, vc0=234.0, R0=8.178)
    np.testing.assert_allclose(flat, lz / 234.0)
    rg = guiding_radius_linear(lz, vc0=234.0, R0=8.178, slope=-1.7)
    vc = 234.0 - 1.7 * (rg - 8.178)
    np.testing.assert_allclose(rg * vc, lz, rtol=1e-12)  # R_g v_c(R_g) = L_z
    tiny = guiding_radius_linear(lz, vc0=234.0, R0=8.178, slope=1e-9)
    np.testing.assert_allclose(tiny, lz / (234.0 - 1e-9 * 8.178), rtol=1e-8)


# -- radial action and angle -----------------------------------------------------------------

RO, VO = 8.178, 234.0


def _cool_planar(rng, n, s):
    """Planar stars at 6–10 kpc on orbits of amplitude ~ s km/s about circular motion."""
    R = rng.uniform(6, 10, n)
    vphi = vcirc(MWPotential2014, R / RO) * VO + rng.normal(0, s, n)
    return R, rng.normal(0, s, n), R * vphi


def test_epicycle_frequency_matches_galpy_epifreq():
    R = np.random.default_rng(3).uniform(0.5, 40, 200)
    ref = epifreq(MWPotential2014, R / RO) * VO / RO
    np.testing.assert_allclose(epicycle_frequency(R, ro=RO, vo=VO), ref, rtol=1e-7)
    assert np.isnan(epicycle_frequency(np.array([-1.0, 5e3]), ro=RO, vo=VO)).all()


def test_epicycle_tends_to_galpys_exact_planar_action_as_the_amplitude_shrinks():
    """In the plane galpy's Stäckel J_R is exact (1e-6 against a direct quadrature of v_R dR);
    the epicycle is first order in the amplitude, so its error must shrink like it."""
    rng = np.random.default_rng(4)
    errs, dths = [], []
    for s in (0.3, 3.0, 30.0):
        R, vR, Lz = _cool_planar(rng, 60, s)
        jr, th = radial_action_angle(R, vR, Lz, ro=RO, vo=VO)
        zero = np.zeros_like(R)
        js, ths = radial_action_angle(R, vR, Lz, z=zero, vz=zero, method="staeckel",
                                      ro=RO, vo=VO)
        errs.append(np.median(np.abs(jr / js - 1)))
        dths.append(np.median(np.abs(np.angle(np.exp(1j * (th - ths))))))
    # measured: J_R 0.14 %, 0.6 %, 11 %; θ_R 0.0014, 0.015, 0.16 rad
    assert errs[0] < 3e-3 and errs[1] < 1.5e-2 and 0.03 < errs[2] < 0.3
    assert dths[0] < 3e-3 and dths[1] < 3e-2 and dths[2] < 0.4
    assert errs[0] < errs[1] < errs[2] and dths[0] < dths[1] < dths[2]


def test_epicycle_phase_zero_at_pericentre_and_advancing_at_kappa():
    """On a galpy-integrated low-amplitude orbit θ_R(t) = θ_R(0) + κ(R_g) t."""
    R0_ = 8.0
    vphi0 = vcirc(MWPotential2014, R0_ / RO) * VO + 1.0  # ~ 50 pc epicycles
    o = Orbit([R0_ / RO, 1.0 / VO, vphi0 / VO, 0.0, 0.0, 0.0], ro=RO, vo=VO)
    ts = np.linspace(0, 0.5, 200)  # Gyr
    o.integrate(ts * u.Gyr, MWPotential2014, method="dop853_c", progressbar=False)
    R, vR = o.R(ts * u.Gyr), o.vR(ts * u.Gyr)
    Lz = R * o.vT(ts * u.Gyr)
    jr, th = radial_action_angle(R, vR, Lz, ro=RO, vo=VO)
    kappa = epicycle_frequency(guiding_radius(Lz[:1], ro=RO, vo=VO), ro=RO, vo=VO)[0]
    kappa *= (1 * u.km / u.s / u.kpc).to_value(1 / u.Gyr)  # rad / Gyr
    unwrapped = np.unwrap(th)
    slope, offset = np.polyfit(ts, unwrapped, 1)
    assert slope == pytest.approx(kappa, rel=2e-3)  # increasing with time, at κ
    np.testing.assert_allclose(unwrapped - (offset + slope * ts), 0.0, atol=0.03)
    assert np.ptp(jr) / jr.mean() < 0.03  # conserved
    i = np.argmin(R[:120])  # a pericentre: θ_R ≈ 0 (mod 2π)
    assert abs(np.angle(np.exp(1j * th[i]))) < 0.05


def test_staeckel_option_matches_galpys_own_physical_units_orbit_actions():
    rng = np.random.default_rng(5)
    n = 20
    R, z = rng.uniform(6, 11, n), rng.normal(0, 0.3, n)
    vR, vphi, vz = rng.normal(0, 30, n), rng.normal(220, 20, n), rng.normal(0, 20, n)
    jr, th = radial_action_angle(R, vR, R * vphi, z=z, vz=vz, method="staeckel", ro=RO, vo=VO)
    o = Orbit(np.stack([R / RO, vR / VO, vphi / VO, z / RO, vz / VO, np.zeros(n)], -1),
              ro=RO, vo=VO)  # natural-unit input, physical output
    delta = estimateDeltaStaeckel(MWPotential2014, R / RO, z / RO, no_median=True)
    ref = o.jr(pot=MWPotential2014, type="staeckel", delta=delta)  # kpc km/s
    np.testing.assert_allclose(jr, ref, rtol=1e-6)
    ref_th = o.wr(pot=MWPotential2014, type="staeckel", delta=delta)
    np.testing.assert_allclose(np.angle(np.exp(1j * (th - ref_th))), 0.0, atol=1e-6)
    only = radial_action(R, vR, R * vphi, z=z, vz=vz, method="staeckel", ro=RO, vo=VO)
    np.testing.assert_allclose(only, jr, rtol=1e-10)
    with pytest.raises(ValueError, match="needs z and vz"):
        radial_action(R, vR, R * vphi, method="staeckel")
    with pytest.raises(ValueError, match="unknown method"):
        radial_action(R, vR, R * vphi, method="adiabatic")


def test_radial_actions_on_a_lazy_catalog():
    rng = np.random.default_rng(6)
    n = 1000
    ds = xr.Dataset({"R": ("star", rng.uniform(5, 12, n)), "vR": ("star", rng.normal(0, 30, n)),
                     "vphi": ("star", rng.normal(220, 25, n))}).chunk(250)
    lz = ds.R * ds.vphi
    with raise_if_dask_computes():
        jr, th = radial_action_angle(ds.R, ds.vR, lz, ro=RO, vo=VO)
        only = radial_angle(ds.R, ds.vR, lz, ro=RO, vo=VO)
    assert jr.attrs["units"] == "kpc km / s" and th.attrs["units"] == "rad"
    assert jr.name == "JR" and th.chunks == ds.R.chunks
    ref = radial_action_angle(ds.R.values, ds.vR.values, lz.values, ro=RO, vo=VO)
    np.testing.assert_array_equal(jr.values, ref[0])
    np.testing.assert_array_equal(only.values, ref[1])
    bad = radial_action(np.array([8.0, 8.0, np.nan]), np.array([0.0, 0.0, 0.0]),
                        np.array([-100.0, 0.0, 1800.0]))
    assert np.isnan(bad).all()


# -- z_max -----------------------------------------------------------------------------------


def test_zmax_energy_table_matches_a_root_find_in_galpys_potential():
    rng = np.random.default_rng(7)
    n = 200
    R, z, vz = rng.uniform(0.5, 30, n), rng.uniform(-2, 2, n), rng.normal(0, 40, n)

    def dphi(r, zz):
        return (evaluatePotentials(MWPotential2014, r / RO, zz / RO)
                - evaluatePotentials(MWPotential2014, r / RO, 0.0)) * VO**2

    ez_ref = dphi(R, z) + vz**2 / 2
    zm_ref = np.array([brentq(lambda x, r=r, e=e: dphi(r, x) - e, 0.0, 10.0)
                       if dphi(r, 10.0) > e else np.nan for r, e in zip(R, ez_ref, strict=True)])
    np.testing.assert_allclose(vertical_energy(R, z, vz, ro=RO, vo=VO), ez_ref, rtol=1e-7)
    zm = zmax_energy(R, z, vz, ro=RO, vo=VO)
    np.testing.assert_array_equal(np.isnan(zm), np.isnan(zm_ref))
    np.testing.assert_allclose(zm, zm_ref, rtol=1e-7)
    # in the plane with no vertical velocity, z_max = 0; the tiny orbits are resolved
    np.testing.assert_allclose(zmax_energy([8.0, 8.0], [0.0, -1e-4], [0.0, 0.0], ro=RO, vo=VO),
                               [0.0, 1e-4], rtol=1e-6, atol=0)
    assert np.isnan(zmax_energy([100.0, 8.0, 8.0], [0.0, 11.0, np.nan], [1.0, 0.0, 0.0])).all()
    lazy = [xr.DataArray(a, dims="star").chunk(50) for a in (R, z, vz)]
    with raise_if_dask_computes():
        zl, el = zmax_energy(*lazy, ro=RO, vo=VO), vertical_energy(*lazy, ro=RO, vo=VO)
    assert zl.attrs["units"] == "kpc" and el.attrs["units"] == "km2 / s2"
    np.testing.assert_array_equal(zl.values, zm)


def test_zmax_energy_against_orbit_integration_and_where_it_degrades():
    """Agrees with galpy orbits for cool, low orbits; the error grows with the radial
    amplitude (E_z is taken at the star's R) and with height (non-separability)."""
    rng = np.random.default_rng(8)
    n = 12

    def compare(s_r, s_z):
        R = rng.uniform(7, 9, n)
        vphi = vcirc(MWPotential2014, R / RO) * VO + rng.normal(0, s_r, n)
        vR, z, vz = rng.normal(0, s_r, n), rng.normal(0, 0.05, n), rng.normal(0, s_z, n)
        zo = zmax_orbit(R, z, vR, vphi, vz, ro=RO, vo=VO, time=2.0, n_steps=2001)
        assert np.all(zo >= np.abs(z))
        return np.median(np.abs(zmax_energy(R, z, vz, ro=RO, vo=VO) / zo - 1))

    cool, hot, high = compare(1.0, 5.0), compare(40.0, 5.0), compare(1.0, 60.0)
    # measured: 0.3 %, 8 %, 2 % (median |relative difference|)
    assert cool < 0.01
    assert hot > 0.03 and hot > 5 * cool
    assert high < 0.05 and high > cool


def test_zmax_orbit_sampling_and_lazy_catalog():
    rng = np.random.default_rng(9)
    n = 6
    ds = xr.Dataset({"R": ("star", rng.uniform(7, 9, n)), "z": ("star", rng.normal(0, 0.1, n)),
                     "vR": ("star", rng.normal(0, 20, n)), "vphi": ("star", rng.normal(225, 15, n)),
                     "vz": ("star", rng.normal(0, 20, n))}).chunk(3)
    with raise_if_dask_computes():
        lazy = zmax_orbit(ds.R, ds.z, ds.vR, ds.vphi, ds.vz, ro=RO, vo=VO, time=2.0,
                          n_steps=4001)
    assert lazy.attrs["units"] == "kpc" and lazy.chunks == ds.R.chunks
    dense = lazy.values
    o = Orbit(np.stack([ds.R / RO, ds.vR / VO, ds.vphi / VO, ds.z / RO, ds.vz / VO,
                        np.zeros(n)], -1), ro=RO, vo=VO)
    ts = np.linspace(0, 2.0, 4001) * u.Gyr
    o.integrate(ts, MWPotential2014, method="dop853_c", progressbar=False)
    np.testing.assert_allclose(dense, np.abs(o.z(ts)).max(axis=1), rtol=1e-8)
    # 101 samples over the same time (the Long+2025 setting) can only miss peaks
    sparse = zmax_orbit(ds.R.values, ds.z.values, ds.vR.values, ds.vphi.values, ds.vz.values,
                        ro=RO, vo=VO, time=2.0, n_steps=101)
    assert np.all(sparse <= dense * (1 + 1e-9)) and np.any(sparse < 0.99 * dense)
    assert np.isnan(zmax_orbit([np.nan], [0.0], [0.0], [220.0], [0.0]))[0]


# -- models defined in physical units (galpy's mwpotentials) -------------------------------
# McMillan17 (Long+2025's potential) and Irrgang13I (the intruder mock's) carry their own
# ro, vo and galpy's physical output is on for them. The references below go through galpy's
# own physical-units interface (astropy Quantities in, Quantities out), independent of how
# cubes scales natural units.


def test_physical_unit_models_by_name_and_their_units():
    import galpy.potential as gp
    from galpy.potential.mwpotentials import Irrgang13I

    from cubes.dynamics import natural_units
    from cubes.dynamics._support import galpy_potential

    assert galpy_potential("Irrgang13I")[0].__class__ is Irrgang13I[0].__class__
    assert natural_units("Irrgang13I", None, None) == (8.4, 242.0)
    assert natural_units("MWPotential2014", None, None) == (8.0, 220.0)
    assert natural_units("MWPotential2014", 8.34, 238.0) == (8.34, 238.0)
    with pytest.raises(ValueError, match="Irrgang13I is defined in physical units"):
        guiding_radius([1900.0], potential="Irrgang13I", ro=8.34, vo=238.0)
    with pytest.raises(ValueError, match="unknown galpy potential 'NoSuchModel'"):
        guiding_radius([1900.0], potential="NoSuchModel")
    assert gp.evaluatePotentials(Irrgang13I, 1.0, 0.0) < -1e4  # galpy's object still physical


def test_irrgang13_dynamics_match_galpy_in_physical_units():
    from galpy.potential.mwpotentials import Irrgang13I as pot

    kms, kpc = u.km / u.s, u.kpc
    lz = np.array([800.0, 1900.0, 2600.0])
    ref = [rl(pot, L * kpc * kms, quantity=True).to_value(kpc) for L in lz]
    np.testing.assert_allclose(guiding_radius(lz, potential="Irrgang13I"), ref, rtol=1e-6)
    R = np.array([4.0, 8.4, 12.0])
    kref = [epifreq(pot, r * kpc, quantity=True).to_value(kms / kpc) for r in R]
    np.testing.assert_allclose(epicycle_frequency(R, potential="Irrgang13I"), kref, rtol=1e-8)
    z, vz = np.array([0.1, 0.5, 1.2]), np.array([20.0, 40.0, 10.0])
    eref = [(evaluatePotentials(pot, r * kpc, zz * kpc, quantity=True)
             - evaluatePotentials(pot, r * kpc, 0 * kpc, quantity=True)).to_value(kms**2)
            + 0.5 * w**2 for r, zz, w in zip(R, z, vz, strict=True)]
    np.testing.assert_allclose(vertical_energy(R, z, vz, potential="Irrgang13I"), eref,
                               rtol=1e-7)
    # Stäckel J_R and z_max from galpy Orbits in the model's physical units, the same Δ
    vR, vphi = np.array([20.0, -30.0, 10.0]), np.array([200.0, 240.0, 230.0])
    o = Orbit([[r * kpc, v * kms, p * kms, zz * kpc, w * kms, 0 * u.deg]
               for r, v, p, zz, w in zip(R, vR, vphi, z, vz, strict=True)], ro=8.4, vo=242.0)
    delta = 0.45
    jr = radial_action(R, vR, R * vphi, z=z, vz=vz, method="staeckel", potential="Irrgang13I",
                       delta=delta)
    np.testing.assert_allclose(jr, o.jr(pot=pot, type="staeckel", delta=delta * kpc), rtol=1e-6)
    ts = np.linspace(0, 1.0, 2001) * u.Gyr
    o.integrate(ts, pot, method="dop853_c", progressbar=False)
    zref = np.abs(o.z(ts)).max(axis=1)  # kpc: the orbit has physical output on
    got = zmax_orbit(R, z, vR, vphi, vz, potential="Irrgang13I", time=1.0, n_steps=2001)
    np.testing.assert_allclose(got, zref, rtol=1e-7)


def test_mcmillan17_guiding_radius_and_vertical_energy_match_galpy_in_physical_units():
    """Long+2025's potential: its E_z table builds in seconds through galpy's C code (the
    Python evaluation took hours)."""
    import types

    import galpy.potential as gp
    from galpy.potential.mwpotentials import McMillan17 as pot

    # loading it makes galpy.potential.McMillan17 the *module* of that name: the name must
    # still find the potential
    assert isinstance(getattr(gp, "McMillan17", None), types.ModuleType)
    kms, kpc = u.km / u.s, u.kpc
    lz = np.array([1000.0, 1900.0, 2500.0])
    ref = [rl(pot, L * kpc * kms, quantity=True).to_value(kpc) for L in lz]
    np.testing.assert_allclose(guiding_radius(lz, potential="McMillan17"), ref, rtol=1e-6)
    R, z, vz = np.array([4.0, 8.21, 12.0]), np.array([0.1, 0.5, 1.0]), np.array([20., 40., 10.])
    eref = np.array([(evaluatePotentials(pot, r * kpc, zz * kpc, quantity=True)
                      - evaluatePotentials(pot, r * kpc, 0 * kpc, quantity=True)).to_value(kms**2)
                     + 0.5 * w**2 for r, zz, w in zip(R, z, vz, strict=True)])
    np.testing.assert_allclose(vertical_energy(R, z, vz, potential="McMillan17"), eref,
                               rtol=1e-7)
    # z_max where Φ(R, z_max) − Φ(R, 0) = E_z, by a root find in galpy's physical units
    zm = zmax_energy(R, z, vz, potential="McMillan17")
    for r, e, got in zip(R, eref, zm, strict=True):
        def f(zz, r=r, e=e):
            return (evaluatePotentials(pot, r * kpc, zz * kpc, quantity=True)
                    - evaluatePotentials(pot, r * kpc, 0 * kpc, quantity=True)).to_value(
                        kms**2) - e
        np.testing.assert_allclose(got, brentq(f, 1e-6, 9.0, xtol=1e-12), rtol=1e-6)
