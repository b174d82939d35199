"""Long+2025 §1.5–1.6: the open-cluster and Cepheid validation (recipes/_long2025_tracers.py).

- reading the archives' layouts: Drimmel+2023 table2 (labels of its ReadMe) with Gaia DR3
  kinematics joined by source_id, and the Zhong+2020 VizieR cluster labels, in CSV and FITS
  (astroquery's spelling); units converted; a missing or implausible column is a clear error;
- Z_max by orbit for two mock tracers against galpy integrated directly from astropy's
  Galactocentric transform of their observables;
- the per-object gradients against the mock truth over several seeds (pulls), the mono-age
  groups flat and the pooled sample not, the radial line at the model's g_R.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from scipy import stats

import cubes
from cubes.dynamics import zmax_energy
from cubes.mock import tracers as mock_tracers
from cubes_recipes import _long2025_tracers as T

FRAME = cubes.Frame.preset("long2025")

# -- reading the archives' layouts -------------------------------------------------------------
TABLE2 = """GaiaDR3,GLON,GLAT,Dist,mu,e_mu,[Fe/H],e_[Fe/H],Flag,Ref,logAge,e_logAge
5862299960127967488,305.12345,-1.23456,3.21,12.533,0.080,0.12,0.15,0,Gaia_DR3,7.912,0.110
428538008741012352,120.50000,0.50000,1.05,10.106,0.050,-0.05,0.10,0,Gaia_DR3,8.104,0.090
2006347808563436544,98.76543,2.00000,8.40,14.621,0.120,-0.31,0.22,1,P21,7.700,0.150
4295806720,200.00000,-3.00000,5.50,13.702,0.100,-0.20,0.18,0,Inno,8.301,0.100
"""


def _gaia_extract(path, ids, missing_rv=None):
    """A gaia_source extract (Arrow types, nulls) with the Cepheids' kinematics, rows shuffled;
    the last id is absent."""
    rng = np.random.default_rng(1)
    ids = np.asarray(ids[:-1], np.int64)[::-1]
    rv = rng.normal(0, 30, ids.size)
    mask = np.zeros(ids.size, bool) if missing_rv is None else np.isin(ids, missing_rv)
    table = pa.table({"source_id": pa.array(ids), "ra": pa.array(rng.uniform(0, 360, ids.size)),
                      "dec": pa.array(rng.uniform(-30, 60, ids.size)),
                      "pmra": pa.array(rng.normal(0, 3, ids.size)),
                      "pmdec": pa.array(rng.normal(0, 3, ids.size)),
                      "radial_velocity": pa.array(rv.astype(np.float32), mask=mask),
                      "radial_velocity_error": pa.array(np.full(ids.size, 1.5, np.float32),
                                                        mask=mask)})
    pq.write_table(table, path)
    return table.to_pandas().set_index("source_id")


def test_reads_drimmel2023_table2_and_joins_gaia_kinematics(tmp_path):
    path = tmp_path / "table2.csv"
    path.write_text(TABLE2)
    ids = [5862299960127967488, 428538008741012352, 2006347808563436544, 4295806720]
    gaia = _gaia_extract(tmp_path / "gaia.parquet", ids, missing_rv=[428538008741012352])
    cep = T.read_cepheids(path, tmp_path / "gaia.parquet")
    np.testing.assert_array_equal(cep.source_id.values, ids)
    np.testing.assert_allclose(cep.distance.values, [3.21, 1.05, 8.40, 5.50])  # kpc as is
    np.testing.assert_allclose(cep.distance_error.values,
                               np.array([3.21, 1.05, 8.40, 5.50]) * np.log(10) / 5
                               * np.array([0.08, 0.05, 0.12, 0.10]))
    np.testing.assert_allclose(cep.age.values, 10 ** (np.array([7.912, 8.104, 7.7, 8.301])
                                                      - 9))  # Gyr
    np.testing.assert_array_equal(cep.flag.values, [0, 0, 1, 0])
    icrs = SkyCoord(l=[305.12345, 120.5, 98.76543, 200.0] * u.deg,
                    b=[-1.23456, 0.5, 2.0, -3.0] * u.deg, frame="galactic").icrs
    np.testing.assert_allclose(cep.ra.values, icrs.ra.deg, atol=1e-10)
    np.testing.assert_allclose(cep.dec.values, icrs.dec.deg, atol=1e-10)
    # joined by id whatever the row order; an id Gaia lacks and a null RV give NaN
    np.testing.assert_allclose(cep.pmra.values[:3], gaia.loc[ids[:3], "pmra"].values)
    assert np.isnan(cep.pmra.values[3]) and np.isnan(cep.radial_velocity.values[1])
    np.testing.assert_allclose(cep.radial_velocity.values[[0, 2]],
                               gaia.loc[[ids[0], ids[2]], "radial_velocity"].values, rtol=1e-6)
    # the Flag = 1 row (a gradient's [Fe/H]) and |Z|, R are cut as the paper does
    kept, flow, skipped = T.cuts(T.phase_space(cep, FRAME), "cepheids")
    assert flow["spectroscopic [Fe/H] (Flag = 0)"] == 3
    assert 2006347808563436544 not in kept.source_id.values
    assert skipped == ["(S/N)_g > 30 (no such column; spec A16)"]


def test_reads_the_astroquery_spelling_from_fits(tmp_path):
    """VizieR through astroquery names ``[Fe/H]`` ``__Fe_H_``: the same values come back."""
    rows = [line.split(",") for line in TABLE2.strip().splitlines()[1:]]
    cols = list(zip(*rows, strict=True))
    hdu = fits.BinTableHDU.from_columns([
        fits.Column("GaiaDR3", "K", array=np.array(cols[0], np.int64)),
        fits.Column("GLON", "D", array=np.array(cols[1], float), unit="deg"),
        fits.Column("GLAT", "D", array=np.array(cols[2], float), unit="deg"),
        fits.Column("Dist", "E", array=np.array(cols[3], np.float32), unit="kpc"),
        fits.Column("e_mu", "E", array=np.array(cols[5], np.float32), unit="mag"),
        fits.Column("__Fe_H_", "E", array=np.array(cols[6], np.float32)),
        fits.Column("e__Fe_H_", "E", array=np.array(cols[7], np.float32)),
        fits.Column("Flag", "B", array=np.array(cols[8], np.uint8)),
        fits.Column("logAge", "E", array=np.array(cols[10], np.float32)),
        fits.Column("pmra", "D", array=np.zeros(4)), fits.Column("pmdec", "D", array=np.ones(4)),
        fits.Column("radial_velocity", "D", array=np.full(4, 5.0))])
    hdu.writeto(tmp_path / "table2.fits")
    a = T.read_cepheids(tmp_path / "table2.fits")  # kinematics from the file itself
    np.testing.assert_allclose(a.feh.values, [0.12, -0.05, -0.31, -0.20], atol=1e-6)
    np.testing.assert_allclose(a.feh_error.values, [0.15, 0.10, 0.22, 0.18], atol=1e-6)
    np.testing.assert_allclose(a.distance.values, [3.21, 1.05, 8.40, 5.50], rtol=1e-6)
    assert a.attrs["columns"]["feh"] == "__Fe_H_"
    np.testing.assert_array_equal(a.radial_velocity.values, 5.0)


ZHONG = """Cluster,RAdeg,DEdeg,plx,dmode,pmRA,pmDE,RV,e_RV,[Fe/H],e_[Fe/H],logAge
NGC 2099,88.074,32.545,0.675,1432.1,1.924,-5.648,8.31,0.62,0.07,0.05,8.65
Melotte 22,56.601,24.114,7.364,135.8,20.084,-45.436,5.67,0.38,-0.02,0.04,7.89
Berkeley 32,104.53,6.44,0.28,3161.0,-0.56,-1.61,106.2,1.10,-0.28,0.07,9.69
"""


def test_reads_zhong2020_clusters_in_library_units(tmp_path):
    path = tmp_path / "zhong2020.csv"
    path.write_text(ZHONG)
    oc = T.read_clusters(path)
    assert list(oc.name.values) == ["NGC 2099", "Melotte 22", "Berkeley 32"]
    np.testing.assert_allclose(oc.distance.values, [1.4321, 0.1358, 3.161])  # dmode pc → kpc
    np.testing.assert_allclose(oc.age.values, 10 ** (np.array([8.65, 7.89, 9.69]) - 9))
    np.testing.assert_allclose(oc.radial_velocity.values, [8.31, 5.67, 106.2])
    np.testing.assert_allclose(oc.feh.values, [0.07, -0.02, -0.28])
    assert oc.distance.attrs["units"] == "kpc" and oc.age.attrs["units"] == "Gyr"
    # Galactic coordinates and a parallax (no dmode): the same positions
    alt = tmp_path / "zhong2020_lb.csv"
    c = SkyCoord(ra=oc.ra.values * u.deg, dec=oc.dec.values * u.deg).galactic
    lines = ["Cluster,GLON,GLAT,plx,pmRA,pmDE,RV,[Fe/H],logAge"]
    for i, line in enumerate(ZHONG.strip().splitlines()[1:]):
        f = line.split(",")
        lb = [repr(float(c.l.deg[i])), repr(float(c.b.deg[i]))]
        lines.append(",".join([f[0], *lb, f[3], f[5], f[6], f[7], f[9], f[11]]))
    alt.write_text("\n".join(lines) + "\n")
    oc2 = T.read_clusters(alt)
    np.testing.assert_allclose(oc2.ra.values, oc.ra.values, atol=1e-9)
    np.testing.assert_allclose(oc2.distance.values, 1 / np.array([0.675, 7.364, 0.28]))
    assert np.all(np.isnan(oc2.feh_error.values))


def test_wrong_columns_give_clear_errors(tmp_path):
    no_feh = tmp_path / "no_feh.csv"
    no_feh.write_text(ZHONG.replace("[Fe/H]", "metal"))
    with pytest.raises(T.LayoutError, match=r"feh \(\[Fe/H\], __Fe_H_"):
        T.read_clusters(no_feh)
    # ... which a column override fixes
    assert T.read_clusters(no_feh, {"feh": "metal"}).feh.values[0] == pytest.approx(0.07)
    with pytest.raises(T.LayoutError, match="'nope' .* is not in the file"):
        T.read_clusters(no_feh, {"feh": "nope"})
    with pytest.raises(T.LayoutError, match="unknown quantities"):
        T.read_clusters(no_feh, {"metallicity": "metal"})
    kpc = tmp_path / "dmode_kpc.csv"
    kpc.write_text(ZHONG.replace("1432.1", "1.4321").replace("135.8", "0.1358")
                   .replace("3161.0", "3.161"))
    with pytest.raises(T.LayoutError, match="expected in pc.*kpc"):
        T.read_clusters(kpc)
    gyr = tmp_path / "age_gyr.csv"
    gyr.write_text(ZHONG.replace(",8.65\n", ",45\n").replace(",7.89\n", ",30\n")
                   .replace(",9.69\n", ",60\n"))
    with pytest.raises(T.LayoutError, match="log-age column"):
        T.read_clusters(gyr)
    table2 = tmp_path / "table2.csv"
    table2.write_text(TABLE2)
    with pytest.raises(T.LayoutError, match="--cepheids-gaia"):
        T.read_cepheids(table2)  # table2 has no kinematics
    no_dist = tmp_path / "no_dist.csv"
    no_dist.write_text(TABLE2.replace("Dist", "Distance_modulus_only"))
    with pytest.raises(T.LayoutError, match=r"distance_kpc \(Dist"):
        T.read_cepheids(no_dist, tmp_path / "none.parquet")


# -- Z_max by orbit against galpy directly ---------------------------------------------------
@pytest.mark.filterwarnings("ignore:Using C implementation")
def test_tracer_zmax_by_orbit_matches_galpy_directly():
    """Two mock clusters: observables → the recipe's phase space and zmax_orbit, against
    astropy's Galactocentric transform of the same observables → galpy Orbit in McMillan17
    (its own units) integrated over the recipe's time with the same output times."""
    from galpy.orbit import Orbit
    from galpy.potential.mwpotentials import McMillan17

    ds = mock_tracers(40, seed=5, kind="clusters")
    pick = np.argsort(ds.age_true.values)[-2:]  # the two oldest: the highest orbits
    ds = ds.isel(star=pick)
    got = T.add_zmax({"clusters": T.phase_space(ds, FRAME),
                      "cepheids": T.phase_space(ds, FRAME)}, "McMillan17", FRAME,
                     check=0)["clusters"].zmax.values
    c = SkyCoord(ra=ds.ra.values * u.deg, dec=ds.dec.values * u.deg,
                 distance=ds.distance.values * u.kpc,
                 pm_ra_cosdec=ds.pmra.values * u.mas / u.yr,
                 pm_dec=ds.pmdec.values * u.mas / u.yr,
                 radial_velocity=ds.radial_velocity.values * u.km / u.s)
    g = c.transform_to(FRAME.to_astropy())
    x, y, z = (getattr(g, k).to_value(u.kpc) for k in ("x", "y", "z"))
    vx, vy, vz = (getattr(g, k).to_value(u.km / u.s) for k in ("v_x", "v_y", "v_z"))
    R = np.hypot(x, y)
    vR, vT = (x * vx + y * vy) / R, (y * vx - x * vy) / R  # astropy rotates towards −L_z
    kms = u.km / u.s
    o = Orbit([[R[i] * u.kpc, vR[i] * kms, vT[i] * kms, z[i] * u.kpc, vz[i] * kms,
                0.0 * u.rad] for i in range(2)], ro=8.21, vo=233.1)
    ts = np.linspace(0.0, T.ORBIT_TIME, int(T.STEPS_PER_GYR * T.ORBIT_TIME) + 1) * u.Gyr
    o.integrate(ts, McMillan17, method="dop853_c", progressbar=False)
    want = np.abs(o.z(ts)).max(axis=1)
    assert np.all(want > 0.1)
    np.testing.assert_allclose(got, want, rtol=1e-6)  # 5e-9 here


# -- gradients against the mock truth ---------------------------------------------------------
def _mock_sample(seed: int, kind: str):
    """A mock sample read through the archive layout (as the recipe does), with a cheap Z_max
    (the energy estimate: the estimator does not care how Z_max was made)."""
    ds = mock_tracers(T.N_CLUSTERS if kind == "clusters" else T.N_CEPHEIDS,
                             seed=seed, kind=kind)
    ps = T.phase_space(ds.assign(flag=("star", np.zeros(ds.sizes["star"]))), FRAME)
    ps, _, _ = T.cuts(ps, kind)
    zmax = zmax_energy(ps.R.values, ps.z.values, ps.vz.values, potential="MWPotential2014",
                       ro=FRAME.R0, vo=FRAME.vc)
    return ps.assign(zmax=("star", zmax))


def test_ols_is_scipy_linregress():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1, 40), rng.normal(0, 0.1, 40)
    f, ref = T.ols(x, y), stats.linregress(x, y)
    assert f["slope"] == pytest.approx(ref.slope) and f["error"] == pytest.approx(ref.stderr)
    assert f["intercept"] == pytest.approx(ref.intercept) and f["n"] == 40
    assert np.isnan(T.ols(x[:4], y[:4])["slope"])  # fewer than MIN_OBJECTS


def test_tracer_gradients_recover_the_mock_truth_over_seeds():
    """Over 24 seeds of the default-sized samples (295 clusters; 1000 Cepheids drawn, about a
    quarter kept): each fit of Δ[Fe/H] on |Z| and on Z_max against the same fit to the
    objects' model means — pulls centred on 0 with unit spread (|Z| and Z_max pulls are
    correlated: ~430 pulls are worth ~300); the fits without the radial correction have
    conservative errors (the radial trend inflates their residuals: pull spread < 1); the
    mono-age groups are flat, the pooled clusters are not."""
    pulls, raw, flat, pooled, trend = [], [], [], [], []
    for seed in range(24):
        res = T.analyse({kind: _mock_sample(seed, kind) for kind in ("clusters", "cepheids")})
        for kind in ("clusters", "cepheids"):
            m, t = res[kind]["measured"], res[kind]["truth"]
            trend.append((m["trend"]["slope"] - t["trend"]["slope"]) / m["trend"]["error"])
            for key, f in m["fits"].items():
                if key[2] == "weighted":
                    continue
                pull = (f["slope"] - t["fits"][key]["slope"]) / f["error"]
                (pulls if key[2] == "corrected" else raw).append(pull)
                if kind == "clusters" and key[1:] == ("abs_z", "corrected"):
                    (pooled if key[0] == "all < 3 Gyr" else flat).append(
                        t["fits"][key]["slope"])
    pulls, raw = np.array(pulls), np.array(raw)
    assert pulls.size == raw.size == 24 * (6 + 3) * 2
    assert abs(pulls.mean()) < 0.25, pulls.mean()  # 0.16 here; over 150 seeds 0.0 ± 0.08
    assert 0.8 < pulls.std() < 1.2, pulls.std()
    assert np.max(np.abs(pulls)) < 4.0
    assert abs(raw.mean()) < 0.3 and raw.std() < 1.1, (raw.mean(), raw.std())
    assert np.max(np.abs(trend)) < 3.5
    # at fixed age the model has no vertical gradient: narrow age groups are close to flat,
    # the pooled < 3 Gyr sample (older = hotter and more metal-poor) is clearly negative
    assert np.median(np.abs(flat)) < 0.05 and np.max(np.abs(flat)) < 0.2, flat
    assert np.max(pooled) < -0.08, pooled
    assert np.median(pooled) < -3 * np.median(np.abs(flat)), (pooled, flat)


def test_an_age_in_gyr_is_not_taken_for_a_log_age(tmp_path):
    """Exact spellings win over case-insensitive ones: ``age`` (Gyr) is not ``Age`` (log)."""
    path = tmp_path / "gyr.csv"
    path.write_text(ZHONG.replace("logAge", "age").replace(",8.65\n", ",0.45\n")
                    .replace(",7.89\n", ",0.08\n").replace(",9.69\n", ",4.9\n"))
    oc = T.read_clusters(path)
    assert oc.attrs["columns"]["age_gyr"] == "age" and "log_age" not in oc.attrs["columns"]
    np.testing.assert_allclose(oc.age.values, [0.45, 0.08, 4.9])
