"""cubes.spiral.orbits: planar back-propagation (spec 004 §1.5, §6.7) against scipy's solve_ivp."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.integrate import solve_ivp

from cubes.dynamics import guiding_radius_linear
from cubes.spiral.orbits import KPC_PER_KMS_MYR, PlanarPotential, back_propagate, integrate

POT = PlanarPotential()


def _reference(R, phi_deg, vR, Lz, times):
    """Eq. 15 integrated independently: state (R, v_R, φ), DOP853, tight tolerances."""
    k = KPC_PER_KMS_MYR
    vc0, R0, s = 234.0, 8.178, -2.0

    def rhs(t, y):
        r, v, _ = y
        vc = vc0 + s * (r - R0)
        return [v * k, (Lz**2 / r**3 - vc**2 / r) * k, Lz / r**2 * k]

    out = []
    for t in times:
        sol = solve_ivp(rhs, (0.0, t), [R, vR, np.radians(phi_deg)], method="DOP853",
                        rtol=1e-12, atol=1e-12)
        out.append([sol.y[0, -1], np.degrees(sol.y[2, -1]), sol.y[1, -1]])
    return np.array(out)


def test_constants_and_guiding_radii_of_the_spec():
    assert KPC_PER_KMS_MYR == pytest.approx(1.02271e-3, rel=1e-5)  # 1 km/s = 1.02271 pc/Myr
    # spec §1.6: a star at the Sun with V = 0 (v_φ = 246.24 km/s), and v_φ = 200, 280 km/s
    rg = POT.guiding_radius(8.178 * np.array([246.24, 200.0, 280.0]))
    np.testing.assert_allclose(rg * 1000, [8640, 6915, 9935], atol=1.0)
    np.testing.assert_allclose(rg, guiding_radius_linear(8.178 * np.array([246.24, 200.0, 280.0]),
                                                         vc0=234.0, R0=8.178, slope=-2.0))
    assert abs(POT.force(rg, rg * POT.vc(rg))).max() < 1e-9  # circular orbits: F_eff = 0
    # dΦ_R/dR = v_c²/R
    R = np.linspace(5, 12, 8)
    dphi = (POT.potential(R + 1e-6) - POT.potential(R - 1e-6)) / 2e-6
    np.testing.assert_allclose(dphi, POT.vc(R) ** 2 / R, rtol=1e-7)


def test_orbits_match_solve_ivp_and_conserve_energy():
    rng = np.random.default_rng(4)
    n = 12
    R = rng.uniform(7.2, 9.2, n)
    phi = rng.uniform(-8.0, 8.0, n)
    vR = rng.normal(0.0, 40.0, n)
    Lz = R * rng.normal(235.0, 25.0, n)
    times = [-100.0, -200.0, -300.0, -400.0, 150.0]
    R_t, phi_t, vR_t = integrate(R, phi, vR, Lz, times)
    assert R_t.shape == (5, n)
    for i in range(n):
        ref = _reference(R[i], phi[i], vR[i], Lz[i], times)
        np.testing.assert_allclose(R_t[:, i], ref[:, 0], atol=1e-8)
        np.testing.assert_allclose(phi_t[:, i], ref[:, 1], atol=1e-6)
        np.testing.assert_allclose(vR_t[:, i], ref[:, 2], atol=1e-6)
    E0 = POT.energy(R, vR, Lz)
    np.testing.assert_allclose(POT.energy(R_t, vR_t, Lz), np.broadcast_to(E0, R_t.shape),
                               rtol=1e-9)
    # integrating back and forth returns to the start
    Rb, pb, vb = integrate(R_t[3], phi_t[3], vR_t[3], Lz, [400.0])
    np.testing.assert_allclose(Rb[0], R, atol=1e-9)
    np.testing.assert_allclose(pb[0], phi, atol=1e-7)


def test_circular_orbit_rotates_at_the_circular_frequency():
    rg = 8.5
    ds = back_propagate(rg, 0.0, 0.0, rg * POT.vc(rg), times=[-100.0])
    np.testing.assert_allclose(ds.R, rg, atol=1e-10)
    omega = POT.vc(rg) / rg * KPC_PER_KMS_MYR  # rad/Myr
    np.testing.assert_allclose(ds.phi, -np.degrees(omega * 100.0), rtol=1e-9)


def test_back_propagate_keeps_sample_dims_and_gives_heliocentric_positions():
    R = xr.DataArray([[8.0, 8.3], [8.1, 7.9]], dims=("cell", "vcell"),
                     coords={"cell": [0, 1], "vcell": [3, 4], "Rg": (("cell", "vcell"),
                                                                   np.ones((2, 2)))})
    ds = back_propagate(R, xr.zeros_like(R) + 2.0, xr.zeros_like(R) + 10.0, R * 240.0)
    assert ds.R.dims == ("time", "cell", "vcell") and list(ds.cell.values) == [0, 1]
    assert set(ds.data_vars) >= {"R", "phi", "vR", "vphi", "X", "Y", "Lz", "Rg", "energy"}
    # arguments that carry each other as coordinates (columns of one histogram cube)
    cube = xr.Dataset(coords={"R": R, "phi": xr.zeros_like(R), "vR": xr.zeros_like(R) + 5.0,
                              "Lz": R * 235.0})
    ds2 = back_propagate(cube["R"], cube["phi"], cube["vR"], cube["Lz"], times=[-50.0])
    assert ds2.R.dims == ("time", "cell", "vcell") and "R" in ds2.data_vars
    np.testing.assert_array_equal(ds.time, [-100.0, -200.0, -300.0, -400.0])
    np.testing.assert_allclose(ds.X, 8.178 - ds.R * np.cos(np.radians(ds.phi)))
    np.testing.assert_allclose(ds.Y, ds.R * np.sin(np.radians(ds.phi)))
    np.testing.assert_allclose(ds.Rg, POT.guiding_radius(R * 240.0))
    # at t = 0 a sample is where it is
    now = back_propagate(8.0, 2.0, 10.0, 1900.0, times=[0.0])
    np.testing.assert_allclose([now.R[0], now.phi[0]], [8.0, 2.0])
    np.testing.assert_allclose(now.X[0], 8.178 - 8.0 * np.cos(np.radians(2.0)))
    with pytest.raises(ValueError):
        integrate(8.0, 0.0, 0.0, 1900.0, [np.nan])
