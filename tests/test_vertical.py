"""Vertical periods and angles: the Widmark+2025 reference numbers, orbit integrations (scipy,
and galpy in its own 1-D vertical potential for galpy models)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from cubes.vertical import (
    GalpyVerticalPotential,
    SolarVerticalPotential,
    VerticalOrbits,
    anharmonicity,
    myr_per_pc_per_kms,
    phase_shape,
)


def test_reference_numbers_of_the_spec():
    orbits = VerticalOrbits()
    np.testing.assert_allclose(orbits.potential([300.0, 600.0, 800.0]),
                               [186.585, 583.985, 908.557], atol=1e-3)
    table = {50: 85.26, 100: 87.46, 200: 93.52, 300: 99.63, 400: 105.31, 500: 110.67,
             600: 115.83, 700: 120.79, 800: 125.56, 900: 130.12, 1000: 134.45}
    np.testing.assert_allclose(orbits.period(np.array(list(table), float)),
                               list(table.values()), atol=0.006)
    paper = VerticalOrbits(SolarVerticalPotential(G="widmark2025"))
    p300, p800 = paper.period(np.array([300.0, 800.0]))
    assert round(p300, 1) == 99.7 and round(p800, 1) == 125.7  # the paper's quoted periods
    assert anharmonicity(orbits) == pytest.approx(0.260, abs=5e-4)
    np.testing.assert_allclose(phase_shape(orbits, [100.0, 300.0, 600.0, 800.0, 1000.0]),
                               [1.3515, 0.6771, 0.0, -0.3229, -0.5771], atol=2e-4)


def test_scaling_with_the_amplitude():
    base, scaled = VerticalOrbits(), VerticalOrbits(amplitude=1.7)
    # P_A(z_max) = P(z_max) / sqrt(A) at fixed z_max; theta depends on (z, w / sqrt(A)) only
    np.testing.assert_allclose(scaled.period([300.0, 900.0]),
                               base.period([300.0, 900.0]) / np.sqrt(1.7), rtol=1e-10)
    z, w = np.array([-250.0, 40.0, 600.0]), np.array([12.0, -30.0, 5.0])
    np.testing.assert_allclose(scaled.angle(z, w * np.sqrt(1.7)), base.angle(z, w), atol=1e-9)


def test_angle_advances_uniformly_along_an_integrated_orbit():
    """θ_z(t) = θ_z(0) + 2π t / P on an orbit integrated independently (scipy)."""
    orbits = VerticalOrbits()
    kms = 1.0 / myr_per_pc_per_kms()  # pc/Myr per km/s

    def rhs(t, y):  # z in pc, w in km/s, t in Myr
        return [y[1] * kms, -orbits.shape.force(y[0]) * kms]

    for z0, w0 in ((0.0, 35.0), (420.0, -8.0), (-150.0, 21.0)):
        zmax = orbits.zmax(orbits.energy(z0, w0))
        period = float(orbits.period(zmax))
        t = np.linspace(0.0, 1.5 * period, 40)
        sol = solve_ivp(rhs, (0, t[-1]), [z0, w0], t_eval=t, rtol=1e-11, atol=1e-9)
        theta = orbits.angle(sol.y[0], sol.y[1])
        expected = np.mod(theta[0] + 2 * np.pi * t / period, 2 * np.pi)
        diff = np.angle(np.exp(1j * (theta - expected)))
        np.testing.assert_allclose(diff, 0.0, atol=1e-6)


def test_angle_conventions():
    orbits = VerticalOrbits()
    zm = 500.0
    w0 = np.sqrt(2 * orbits.potential(zm))
    theta = orbits.angle(np.array([0.0, zm, 0.0, -zm]), np.array([w0, 0.0, -w0, 0.0]))
    np.testing.assert_allclose(theta, [0.0, np.pi / 2, np.pi, 3 * np.pi / 2], atol=1e-9)
    with pytest.raises(ValueError, match="unknown G choice"):
        VerticalOrbits(SolarVerticalPotential(G="newton"))


# -- the vertical potential of a galpy model -------------------------------------------------

RO, VO, R_STAR = 8.178, 234.0, 8.5


@pytest.fixture(scope="module")
def galpy_shape():
    return GalpyVerticalPotential("MWPotential2014", R=R_STAR, ro=RO, vo=VO)


def test_galpy_vertical_potential_is_galpys_phi_difference(galpy_shape):
    from galpy.potential import MWPotential2014, evaluatePotentials, evaluatezforces

    z = np.array([30.0, 120.0, 300.0, 1000.0, 4000.0, 9000.0])  # pc
    r = np.full_like(z, R_STAR / RO)
    ref = (evaluatePotentials(MWPotential2014, r, z / 1e3 / RO)
           - evaluatePotentials(MWPotential2014, r, 0 * z)) * VO**2
    np.testing.assert_allclose(galpy_shape(z), ref, rtol=1e-9)
    np.testing.assert_allclose(galpy_shape(-z), ref, rtol=1e-9)
    force = -evaluatezforces(MWPotential2014, r, z / 1e3 / RO) * VO**2 / RO / 1e3
    np.testing.assert_allclose(galpy_shape.force(z), force, rtol=1e-9)
    np.testing.assert_allclose(galpy_shape.force(-z), -force, rtol=1e-9)
    # near the plane Φ ≈ ν² z²/2, without the cancellation of Φ(R, z) − Φ(R, 0)
    zs = np.array([1e-3, 1e-2, 0.1])
    ratio = galpy_shape(zs) / zs**2
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-6)
    assert np.isnan(galpy_shape(2e4))


def test_period_and_angle_agree_with_a_galpy_1d_orbit(galpy_shape):
    """P(z_max) against the zero crossings of an orbit galpy integrates in its own 1-D
    ``toVerticalPotential``; θ_z advances as 2πt/P along it (measured: 1e-12 and 1e-9)."""
    from galpy.orbit import Orbit
    from galpy.potential import MWPotential2014, toVerticalPotential
    from galpy.util.conversion import time_in_Gyr

    orbits = VerticalOrbits(galpy_shape)
    vertical = toVerticalPotential(MWPotential2014, R_STAR / RO)
    myr = time_in_Gyr(VO, RO) * 1e3  # Myr per natural time unit
    for zmax in (150.0, 600.0, 2500.0):
        w0 = float(np.sqrt(2 * orbits.potential(zmax)))
        period = float(orbits.period(zmax))
        o = Orbit([0.0, w0 / VO])
        ts = np.linspace(0, 2.3 * period / myr, 4001)
        o.integrate(ts, vertical, method="dop853_c", progressbar=False)
        z = o.x(ts)
        i = np.flatnonzero((z[:-1] < 0) & (z[1:] >= 0))  # upward crossings
        crossings = ts[i] - z[i] * (ts[i + 1] - ts[i]) / (z[i + 1] - z[i])
        assert len(crossings) == 2
        assert (crossings[1] - crossings[0]) * myr == pytest.approx(period, rel=1e-6)
        assert np.abs(z).max() * RO * 1e3 == pytest.approx(zmax, rel=1e-5)
        theta = orbits.angle(z * RO * 1e3, o.vx(ts) * VO)
        diff = np.angle(np.exp(1j * (theta - 2 * np.pi * ts * myr / period)))
        np.testing.assert_allclose(diff, 0.0, atol=1e-6)
