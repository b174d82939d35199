"""Widmark+2025 sample schemes (cubes.spiral.samples) against per-star numpy references."""

from __future__ import annotations

import numpy as np
import pytest

import cubes
from cubes import mock
from cubes.spiral.samples import longitudinal_velocity, phase_space_samples, spatial_samples
from tests.test_binning import _hex_reference
from tests.test_clipping import _clip_reference


def _cells(ds, axis):
    """Nearest-centre cell of each star; −1 where its coordinates are not finite."""
    ok = np.isfinite(ds[axis.x].values) & np.isfinite(ds[axis.y].values)
    out = np.full(ds.sizes["star"], -1)
    out[ok] = _hex_reference(ds.isel(star=np.flatnonzero(ok)), axis)
    return out


OUT = ("X", "Y", "Z", "U", "V", "W", "Lz", "vR", "vphi", "z", "vz", "R", "phi")


@pytest.fixture(scope="module")
def stars():
    s = mock.disk(60_000, seed=9, d_max=4.5, frame="widmark2025").compute()
    return cubes.galactocentric(s, "widmark2025", outputs=OUT, rv_fallback=True)


def test_longitudinal_velocity_is_the_proper_motion_projection(stars):
    import astropy.coordinates as coord
    import astropy.units as u

    s = stars.isel(star=slice(0, 2000))
    c = coord.SkyCoord(ra=s.ra.values * u.deg, dec=s.dec.values * u.deg,
                       distance=(1 / s.parallax.values) * u.kpc,
                       pm_ra_cosdec=s.pmra.values * u.mas / u.yr,
                       pm_dec=s.pmdec.values * u.mas / u.yr).galactic
    k = (1 * u.mas / u.yr * u.kpc).to(u.km / u.s, u.dimensionless_angles()).value
    ref = k * c.pm_l_cosb.to_value(u.mas / u.yr) * c.distance.to_value(u.kpc)
    np.testing.assert_allclose(longitudinal_velocity(s).values, ref, rtol=1e-7, atol=1e-6)


def test_spatial_samples_nearby_cells_need_an_rv_and_clip_on_lz(stars):
    out, axes = spatial_samples(stars)
    hexa = axes["cell"]
    assert hexa.size == 367
    cell = _cells(stars, hexa)
    cx, cy = hexa.centers()
    near = np.hypot(cx, cy)[np.maximum(cell, 0)] <= 1.6
    has_rv = np.isfinite(stars.radial_velocity.values) & ~stars.rv_assumed.values
    sel = out.selected.values
    assert not sel[near & ~has_rv].any()
    v_l = out.v_l.values
    ref_near = _clip_reference(np.where(near & has_rv & (cell >= 0), cell, -1),
                               stars.Lz.values, (5.0, 1.0))
    ref_far = _clip_reference(np.where(~near & (cell >= 0), cell, -1), v_l, (5.0, 1.0))
    np.testing.assert_array_equal(sel, ref_near | ref_far)
    assert 0.4 < sel.sum() / (cell >= 0).sum() < 0.8  # a 1σ clip keeps ~60–70 %
    assert "spatial_samples" in out.attrs["selections"][-1]


def test_phase_space_samples_offsets_and_acceptance():
    s = mock.disk(40_000, seed=10, d_max=1.3, frame="widmark2025").compute()
    stars = cubes.galactocentric(s, "widmark2025", outputs=OUT, rv_fallback=True)
    out, axes, accepted = phase_space_samples(stars, min_stars=100)
    assert axes["cell"].size == 19
    sel = out.selected.values
    cell = _cells(out, axes["cell"])
    has_rv = np.isfinite(stars.radial_velocity.values) & ~stars.rv_assumed.values
    np.testing.assert_array_equal(sel, has_rv)
    for c in range(19):
        m = sel & (cell == c)
        assert abs(out.dvR.values[m].mean()) < 1e-9 and abs(out.dvphi.values[m].mean()) < 1e-9
    vcell = _cells(out, axes["vcell"])
    ok = sel & (cell >= 0) & (vcell >= 0)
    counts = np.zeros(accepted.shape, int)
    np.add.at(counts, (cell[ok], vcell[ok]), 1)
    np.testing.assert_array_equal(accepted.values, counts > 100)
    assert accepted.values.sum() >= 3


def test_schemes_name_missing_columns():
    s = mock.disk(1000, seed=1).compute()
    with pytest.raises(KeyError, match="spatial_samples needs columns"):
        spatial_samples(s)
