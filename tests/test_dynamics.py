"""Guiding radii against galpy's own root finder (the independent reference)."""

from __future__ import annotations

import numpy as np
import xarray as xr
from galpy.potential import MWPotential2014, rl

from cubes.dynamics import guiding_radius, guiding_radius_linear
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
