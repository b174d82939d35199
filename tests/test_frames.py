"""cubes.galactocentric against astropy's Galactocentric transform (the independent reference)."""

from __future__ import annotations

import astropy.coordinates as coord
import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st

import cubes
from cubes.frames import PRESETS, Frame, frame_matrices
from tests.utils import raise_if_dask_computes


def catalog(ra, dec, dist, pmra, pmdec, rv):
    return xr.Dataset({k: ("star", np.atleast_1d(np.asarray(v, dtype=float))) for k, v in
                       dict(ra=ra, dec=dec, distance=dist, pmra=pmra, pmdec=pmdec,
                            radial_velocity=rv).items()})


def astropy_reference(ds, frame: Frame) -> dict[str, np.ndarray]:
    c = coord.SkyCoord(ra=ds.ra.values * u.deg, dec=ds.dec.values * u.deg,
                       distance=ds.distance.values * u.kpc,
                       pm_ra_cosdec=ds.pmra.values * u.mas / u.yr,
                       pm_dec=ds.pmdec.values * u.mas / u.yr,
                       radial_velocity=ds.radial_velocity.values * u.km / u.s)
    g = c.transform_to(frame.to_astropy())
    x, y, z = (g.cartesian.xyz.to_value(u.kpc))
    vx, vy, vz = g.velocity.d_xyz.to_value(u.km / u.s)
    gal = c.transform_to(coord.Galactic())
    X, Y, Z = gal.cartesian.xyz.to_value(u.kpc)
    U, V, W = gal.velocity.d_xyz.to_value(u.km / u.s)
    R = np.hypot(x, y)
    # library convention: phi = 0 at the Sun, increasing along rotation (+y at the Sun)
    phi = np.degrees(np.arctan2(y, -x))
    vR = (x * vx + y * vy) / R
    vphi = (y * vx - x * vy) / R
    return dict(x=x, y=y, z=z, vx=vx, vy=vy, vz=vz, R=R, phi=phi, vR=vR, vphi=vphi,
                Lz=R * vphi, X=X, Y=Y, Z=Z, U=U, V=V, W=W)


def assert_agrees(ds, frame, rtol=1e-9):
    got = cubes.galactocentric(ds, frame)
    ref = astropy_reference(ds, frame)
    scale = {"pos": np.hypot(np.abs(ref["x"]) + np.abs(ref["y"]) + np.abs(ref["z"]), 1.0),
             "vel": np.abs(ref["vx"]) + np.abs(ref["vy"]) + np.abs(ref["vz"]) + 1.0}
    for name, want in ref.items():
        have = got[name].values
        if name == "phi":  # an angle: compare on the circle, in radians × R
            diff = np.angle(np.exp(1j * np.radians(have - want))) * ref["R"]
            np.testing.assert_array_less(np.abs(diff), rtol * scale["pos"] + 1e-12, name)
            continue
        kind = "pos" if got[name].attrs["units"] == "kpc" else "vel"
        tol = rtol * scale[kind] * (ref["R"] + 1 if name == "Lz" else 1)
        np.testing.assert_array_less(np.abs(have - want), tol + 1e-300, err_msg=name)


@given(
    ra=st.floats(0, 360), dec=st.floats(-90, 90),
    logd=st.floats(-6, 6), pmra=st.floats(-1e3, 1e3), pmdec=st.floats(-1e3, 1e3),
    rv=st.floats(-1e3, 1e3), preset=st.sampled_from(sorted(PRESETS)),
)
def test_agrees_with_astropy_on_random_and_extreme_stars(ra, dec, logd, pmra, pmdec, rv, preset):
    assert_agrees(catalog(ra, dec, 10.0**logd, pmra, pmdec, rv), PRESETS[preset])


def test_edge_cases_poles_zero_motion_tiny_and_huge_distances():
    ra = [0, 0, 266.4051, 123.0, 45.0, 359.999, 180.0]
    dec = [90, -90, -28.936175, 0.0, 89.9999, -89.9999, 0.0]
    dist = [1e-6, 1e6, 8.3, 1.0, 1e-3, 50.0, 1e3]
    zero = np.zeros(7)
    for pm in (zero, zero + 5.0):
        assert_agrees(catalog(ra, dec, dist, pm, -pm, zero + 20.0), PRESETS["lin2023"])


def test_the_sun_and_the_conventions():
    frame = PRESETS["widmark2025"]
    # a star 1 pc from the Sun towards l = 180 (anticentre), at rest in the LSR
    g = coord.SkyCoord(l=180 * u.deg, b=0 * u.deg, distance=0.001 * u.kpc, frame="galactic")
    ds = catalog(g.icrs.ra.deg, g.icrs.dec.deg, 0.001, 0.0, 0.0, 0.0)
    out = cubes.galactocentric(ds, frame)
    assert abs(float(out.phi[0])) < 1e-6  # the Sun's azimuth is phi = 0
    np.testing.assert_allclose(out.R, frame.R0 + 0.001, rtol=1e-6)
    # the star shares the Sun's motion: vphi = vc + V, vR = −U (U points to the GC), vz = W
    np.testing.assert_allclose(out.vphi, frame.vc + frame.V, rtol=1e-6)
    np.testing.assert_allclose(out.vR, -frame.U, atol=1e-6)
    np.testing.assert_allclose(out.vz, frame.W, atol=1e-6)
    ahead = catalog(*_icrs(90.0, 0.0), 1.0, 0.0, 0.0, 0.0)  # l = 90: ahead along rotation
    assert float(cubes.galactocentric(ahead, frame).phi[0]) > 0


def _icrs(l, b):
    g = coord.SkyCoord(l=l * u.deg, b=b * u.deg, frame="galactic").icrs
    return g.ra.deg, g.dec.deg


def test_astropy_round_trip_and_presets():
    for frame in PRESETS.values():
        back = Frame.from_astropy(frame.to_astropy(), vc=frame.vc, name=frame.name)
        for key in ("R0", "z0", "U", "V", "W", "vc"):
            assert getattr(back, key) == pytest.approx(getattr(frame, key), abs=1e-12)
    assert PRESETS["lin2023"].v_sun == (9.58, 238.0 + 10.52, 7.01)
    with pytest.raises(ValueError, match="unknown frame preset 'nope'.*lin2023"):
        Frame.preset("nope")


def test_parallax_input_lazy_and_invalid_parallaxes():
    rng = np.random.default_rng(4)
    n = 2000
    ds = xr.Dataset({"ra": ("star", rng.uniform(0, 360, n)),
                     "dec": ("star", np.degrees(np.arcsin(rng.uniform(-1, 1, n)))),
                     "parallax": ("star", rng.uniform(-0.2, 3, n)),
                     "pmra": ("star", rng.normal(0, 5, n)), "pmdec": ("star", rng.normal(0, 5, n)),
                     "radial_velocity": ("star", rng.normal(0, 40, n))})
    eager = cubes.galactocentric(ds, "lin2023")
    bad = ~(ds.parallax.values > 0)
    assert eager.attrs["frame_invalid_parallax"] == bad.sum() > 0
    assert np.isnan(eager.R.values[bad]).all() and np.isfinite(eager.R.values[~bad]).all()
    ok = ds.isel(star=np.flatnonzero(~bad))
    assert_agrees(ok.assign(distance=1.0 / ok.parallax), PRESETS["lin2023"])
    with raise_if_dask_computes():
        lazy = cubes.galactocentric(ds.chunk({"star": 300}), "lin2023")
    xr.testing.assert_allclose(lazy.compute()[["R", "vz"]], eager[["R", "vz"]])
    assert eager.attrs["frame"]["name"] == "lin2023"


def test_missing_columns_are_named():
    ds = xr.Dataset({"ra": ("star", [1.0]), "dec": ("star", [2.0])})
    with pytest.raises(KeyError, match=r"'pmra', 'pmdec', 'radial_velocity', 'parallax or "):
        cubes.galactocentric(ds)


def test_linear_velocity_errors_match_a_monte_carlo_through_astropy():
    """σ(vR, vphi, vz) from first-order propagation vs the scatter of astropy-transformed draws."""
    frame = PRESETS["lin2023"]
    rng = np.random.default_rng(12)
    stars = xr.Dataset({
        "ra": ("star", [10.0, 150.0, 266.0, 300.0]), "dec": ("star", [40.0, -20.0, -29.0, 75.0]),
        "parallax": ("star", [2.0, 0.8, 0.5, 1.2]),
        "parallax_error": ("star", [0.02, 0.016, 0.01, 0.03]),
        "pmra": ("star", [12.0, -5.0, -3.0, 30.0]), "pmra_error": ("star", [0.05, 0.1, 0.2, 0.08]),
        "pmdec": ("star", [-7.0, 4.0, -6.0, 1.0]),
        "pmdec_error": ("star", [0.04, 0.1, 0.15, 0.09]),
        "pmra_pmdec_corr": ("star", [0.3, -0.5, 0.0, 0.6]),
        "radial_velocity": ("star", [-20.0, 35.0, 5.0, -60.0]),
        "radial_velocity_error": ("star", [1.5, 4.0, 2.0, 0.8]),
    })
    linear = cubes.galactocentric(stars, frame)
    ndraw = 100_000
    for i in range(stars.sizes["star"]):
        s = stars.isel(star=i)
        cov = float(s.pmra_pmdec_corr) * float(s.pmra_error) * float(s.pmdec_error)
        pm = rng.multivariate_normal([float(s.pmra), float(s.pmdec)],
                                     [[float(s.pmra_error) ** 2, cov],
                                      [cov, float(s.pmdec_error) ** 2]], ndraw)
        plx = rng.normal(float(s.parallax), float(s.parallax_error), ndraw)
        rv = rng.normal(float(s.radial_velocity), float(s.radial_velocity_error), ndraw)
        draws = catalog(np.full(ndraw, float(s.ra)), np.full(ndraw, float(s.dec)), 1 / plx,
                        pm[:, 0], pm[:, 1], rv)
        ref = astropy_reference(draws, frame)
        for name in ("vR", "vphi", "vz"):
            mc = np.std(ref[name])
            lin = float(linear[f"{name}_error"][i])
            # 1e5 draws: the MC σ itself scatters by 0.2 %; 2 % relative parallax errors
            # make the linear approximation good to ~1 %
            assert abs(lin / mc - 1) < 0.03, (i, name, lin, mc)
    assert linear["vz_error"].attrs["units"] == "km / s"


def test_polynomial_sincos_in_degrees_matches_numpy():
    from cubes.kernels.frames import sincos_deg

    rng = np.random.default_rng(2)
    angles = np.concatenate([rng.uniform(-720, 720, 20000), np.arange(-360, 361, 45.0),
                             [1e-300, -0.0, 89.99999999999, 1e6 + 0.1]])
    got = np.array([sincos_deg(a) for a in angles])
    rad = np.radians(np.fmod(angles, 360.0))  # fmod is exact: a fair reference for 1e6 deg
    np.testing.assert_allclose(got[:, 0], np.sin(rad), rtol=0, atol=2e-15)
    np.testing.assert_allclose(got[:, 1], np.cos(rad), rtol=0, atol=2e-15)


def test_polynomial_atan2_in_degrees_matches_numpy():
    from cubes.kernels.frames import atan2_deg

    rng = np.random.default_rng(3)
    y, x = rng.normal(size=(2, 20000)) * 10.0 ** rng.uniform(-8, 8, (2, 20000))
    axes = np.array([1.0, -1.0, 0.0, 1e-300, -1e-300, 3.0])
    y = np.concatenate([y, np.repeat(axes, 6), [0.66, 0.6600000001, 1.0, 2.0]])
    x = np.concatenate([x, np.tile(axes, 6), [1.0, 1.0, 1.0, 1.0]])
    got = np.array([atan2_deg(a, b) for a, b in zip(y, x, strict=True)])
    want = np.degrees(np.arctan2(y, x))
    both_zero = (x == 0) & (y == 0)
    np.testing.assert_allclose(got[~both_zero], want[~both_zero], rtol=0, atol=1e-13)
    assert (got[both_zero] == 0).all()
    nan = np.nan
    assert np.isnan([atan2_deg(nan, 1.0), atan2_deg(1.0, nan), atan2_deg(nan, nan)]).all()


def test_threads_and_dask_blocks_give_the_same_bits():
    from cubes.kernels.frames import OUTPUTS, transform

    rng = np.random.default_rng(9)
    n = 100_003  # several thread parts, a ragged end
    ds = xr.Dataset({"ra": ("star", rng.uniform(0, 360, n)),
                     "dec": ("star", rng.uniform(-90, 90, n)),
                     "parallax": ("star", rng.uniform(-0.1, 3, n)),
                     "pmra": ("star", rng.normal(0, 5, n)), "pmdec": ("star", rng.normal(0, 5, n)),
                     "radial_velocity": ("star", np.where(rng.uniform(size=n) < 0.3, np.nan,
                                                          rng.normal(0, 30, n)))})
    m = frame_matrices(PRESETS["lin2023"])
    cols = [ds[c].values for c in ("ra", "dec", "parallax", "pmra", "pmdec", "radial_velocity")]
    got = {}
    for threads in (1, 2, 3):
        out = np.empty((len(OUTPUTS), n))
        transform(*cols, m["A"], m["offset"], m["vsun"], m["G"], m["k"], list(out),
                  parallax=True, rv_fallback_vc=238.0, threads=threads)
        got[threads] = out
    np.testing.assert_array_equal(got[1], got[2])
    np.testing.assert_array_equal(got[1], got[3])
    lazy = cubes.galactocentric(ds.chunk({"star": 7000}), "lin2023", rv_fallback=True).compute()
    for q, name in enumerate(OUTPUTS):
        np.testing.assert_array_equal(lazy[name].values, got[1][q], err_msg=name)


def _transform_in_child(ds, queue):
    queue.put(cubes.galactocentric(ds, "lin2023", outputs=("vz",)).vz.values)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_a_forked_child_gets_threads_of_its_own():
    import multiprocessing

    rng = np.random.default_rng(1)
    n = 100_000  # large enough for the thread pool
    ds = catalog(rng.uniform(0, 360, n), rng.uniform(-90, 90, n), rng.uniform(0.1, 5, n),
                 rng.normal(0, 5, n), rng.normal(0, 5, n), rng.normal(0, 30, n))
    want = cubes.galactocentric(ds, "lin2023", outputs=("vz",)).vz.values  # parent's pool
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_transform_in_child, args=(ds, queue))
    child.start()
    got = queue.get(timeout=60)  # a pool inherited without its threads would hang here
    child.join(timeout=60)
    np.testing.assert_array_equal(got, want)


def test_a_subset_of_outputs_equals_the_full_transform():
    rng = np.random.default_rng(8)
    n = 10_000  # more than one scratch block
    ds = catalog(rng.uniform(0, 360, n), rng.uniform(-90, 90, n), rng.uniform(0.1, 5, n),
                 rng.normal(0, 5, n), rng.normal(0, 5, n), rng.normal(0, 30, n))
    full = cubes.galactocentric(ds, "widmark2025")
    some = cubes.galactocentric(ds, "widmark2025", outputs=("phi", "vz", "Lz"))
    assert {"phi", "vz", "Lz"} <= set(some.data_vars) and "x" not in some.data_vars
    for name in ("phi", "vz", "Lz"):
        np.testing.assert_array_equal(some[name], full[name])
    lazy = cubes.galactocentric(ds.chunk({"star": 3000}), "widmark2025", outputs=("R",))
    np.testing.assert_array_equal(lazy.R.values, full.R.values)
    with pytest.raises(ValueError, match="unknown outputs"):
        cubes.galactocentric(ds, outputs=("rho",))


def test_rv_fallback_recovers_stars_on_circular_orbits():
    """Stars moving exactly with the assumed field: without their RVs, vz = 0, vphi = vc."""
    frame = PRESETS["widmark2025"]
    rng = np.random.default_rng(5)
    n = 200
    R, phi = rng.uniform(6, 10, n), np.radians(rng.uniform(-15, 15, n))
    x, y, z = -R * np.cos(phi), R * np.sin(phi), np.zeros(n)
    vx, vy = frame.vc * y / R, -frame.vc * x / R  # circular rotation, library convention
    g = coord.SkyCoord(x=x * u.kpc, y=y * u.kpc, z=z * u.kpc, v_x=vx * u.km / u.s,
                       v_y=vy * u.km / u.s, v_z=np.zeros(n) * u.km / u.s,
                       frame=frame.to_astropy(), representation_type="cartesian").icrs
    ds = catalog(g.ra.deg, g.dec.deg, g.distance.kpc, g.pm_ra_cosdec.value, g.pm_dec.value,
                 np.where(np.arange(n) % 2 == 0, np.nan, g.radial_velocity.value))
    out = cubes.galactocentric(ds, frame, rv_fallback=True)
    assert out.rv_assumed.values.sum() == n // 2
    np.testing.assert_allclose(out.vz, 0.0, atol=1e-8)
    np.testing.assert_allclose(out.vphi, frame.vc, rtol=1e-10)
    np.testing.assert_allclose(out.vR, 0.0, atol=1e-8)
    plain = cubes.galactocentric(ds, frame)
    assert np.isnan(plain.vz.values[::2]).all()  # without the fallback: NaN, not a guess
