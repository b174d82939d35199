"""The Wang+2025 recipe end to end on small default mocks: files, figures, table, truth; the
LAMOST ↔ APOGEE age homogenisation against its injected distortion; the Appendix maps'
consistency with Figs 3 and 5; the APOGEE red-clump layout (and its errors); a run on files."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from astropy.io import fits

from cubes import cli
from cubes_recipes import _wang2025_apogee as apo
from cubes_recipes import wang2025_ns_metallicity as w

NAME = "wang2025_ns_metallicity"
FIGURES = ("fig2_age_calibration", "fig3_phi_maps", "fig4_phi_profiles", "fig5_age_maps",
           "fig6_age_profiles", "fig7_phi_raw_maps", "fig8_age_raw_maps", "difference_maps")
OUTER = "N − S mean [Fe/H] offset, R > 11 kpc, −5° < Φ < 15°"
MEDIAN = "N − S median [Fe/H], R > 11 kpc, −5° < Φ < 15°, mean over |Z| < 1.5 kpc"
INNER = "N − S mean [Fe/H] offset, inner disk 6 ≤ R < 10.8 kpc, −5° < Φ < 15°"
INJECTED = "mock: injected N − S [Fe/H] offset beyond R_min = 11 kpc (true R, z)"
COMMON = "age homogenisation: common stars (Gaia source_id)"
MERGED = "stars: merged sample (one entry per star)"
N = 250_000


def _table(out):
    rows = list(csv.DictReader((out / f"{NAME}_table.csv").open()))
    return {r["quantity"]: r for r in rows}


def _run(out, *extra):
    assert cli.main(["recipe", NAME, "--n", str(N), "--seed", "1", "--out", str(out),
                     "--no-progress", *extra]) == 0
    return _table(out)


def _ve(row):
    return float(row["value"]), float(row["error"])


@pytest.fixture(scope="module")
def signal(tmp_path_factory):
    out = tmp_path_factory.mktemp("signal")
    return w.run(n=N, seed=1, out=out, progress=False), out


def test_merged_sample_recovers_the_injected_offset(signal):
    result, out = signal
    by = _table(out)
    for stem in FIGURES:
        assert (out / f"wang2025_{stem}.png").stat().st_size > 20_000, stem
    for cube in ("maps", "outer_phi", "outer_age"):
        assert (out / f"{NAME}_{cube}.zarr").is_dir(), cube
    assert (out / f"{NAME}_table.md").read_text().startswith("# Wang et al. 2025")
    assert int(float(by["stars with R > 11 kpc, |Z| < 2.1 kpc, −5° < Φ < 15°"]["value"])) > 1000

    # the merged sample: one entry per star, LAMOST's duplicates of APOGEE stars dropped (A4)
    mf, af = result["merge_flow"], result["apogee_flow"]
    lamost_final = list(result["flow"].values())[-1]
    apogee_final = list(af.values())[-1]
    kept = mf["LAMOST, without the stars kept from APOGEE (A4)"]
    assert mf["+ APOGEE (final)"] == apogee_final
    assert int(float(by[MERGED]["value"])) == kept + apogee_final
    common = int(float(by[COMMON]["value"]))
    assert 0 < lamost_final - kept <= common

    # beyond R_min = 11 kpc: the injected offset (attrs["truth"]), detected and within 2σ
    injected = float(by[INJECTED]["value"])
    assert injected == 0.08
    for name in (OUTER, MEDIAN):
        value, error = _ve(by[name])
        assert 0 < error < 0.03, (name, error)
        assert value > 3 * error, (name, value, error)
        assert abs(value - injected) < 2 * error, (name, value, error, injected)
    # and none inside it, where none was injected
    value, error = _ve(by[INNER])
    assert 0 < error and abs(value) < 2 * error, (value, error)


def test_age_correction_against_the_injected_distortion(signal):
    """With APOGEE's age errors off, P5 is the injected correction within its jackknife noise
    (+ 0.05 Gyr for the spline/polynomial approximation); with them, P5 is the regression
    median(Δτ | τ_A), which at 12 Gyr exceeds the injected correction (regression dilution:
    docs), and matches the method's Monte-Carlo target there."""
    h = signal[0]["homogenisation"]
    assert h["cal"].n_common > 800
    inj = apo.injected_correction(h["at"])
    np.testing.assert_allclose(inj, [0.083, 0.430, 0.716, 1.076], atol=2e-3)
    x = h["exact"]
    assert np.all(x["error"] > 0)
    assert np.all(np.abs(x["value"] - inj) < 3 * x["error"] + 0.05), (x["value"], inj,
                                                                      x["error"])
    v, e = h["value"][-1], h["error"][-1]                # τ_APOGEE = 12 Gyr
    assert v > 3 * e and v - inj[-1] > 2 * e, (v, e, inj[-1])
    assert abs(v - h["target"][-1]) < 3 * e + 0.1, (v, e, h["target"][-1])
    # the correction applied with its sign: old common stars' corrected APOGEE ages agree with
    # LAMOST's in the median (the regression's defining property), the raw ones do not
    tl, ta, tc = h["tau_lamost"], h["tau_apogee"], h["corrected_common"]
    old = (ta > 9) & (ta < 14)
    assert old.sum() > 100
    assert np.median(ta[old] - tl[old]) > 0.8
    assert abs(np.median(tc[old] - tl[old])) < 0.4
    # APOGEE's corrected ages: the §1.5 cut after the correction
    assert list(signal[0]["apogee_flow"])[-1].startswith("+ τ_corr ≤ 14 Gyr")


def test_appendix_maps_are_consistent_with_figs_3_and_5(signal):
    """Fig. 3 = Fig. 7 raw − Fig. 7 radial mean, Fig. 5 = Fig. 8 raw − radial mean, cell by cell
    (the same N < 3 mask); the radial mean is constant along Z."""
    result, _ = signal
    for key in ("phi", "age"):
        p = result["panels"][key]
        assert p.offset.dims == p.raw.dims == p.radial.dims
        np.testing.assert_array_equal(np.isnan(p.offset), np.isnan(p.raw))
        np.testing.assert_array_equal(np.isnan(p.radial), np.isnan(p.raw))
        np.testing.assert_allclose(p.offset, p.raw - p.radial, atol=1e-12, equal_nan=True)
        assert float((p.radial.max("z") - p.radial.min("z")).max()) < 1e-12


def test_without_the_signal_no_offset(tmp_path):
    null = _run(tmp_path / "null", "--feh-offset", "0")
    assert float(null[INJECTED]["value"]) == 0.0
    for name in (OUTER, MEDIAN, INNER):
        value, error = _ve(null[name])
        assert 0 < error and abs(value) < 2 * error, (name, value, error)


def _rewrite(src, dst, drop=(), rename=None, scale=None):
    with fits.open(src) as hdul:
        cols = []
        for c in hdul[1].columns:
            if c.name in drop:
                continue
            a = hdul[1].data[c.name]
            if scale and c.name in scale:
                a = a * scale[c.name]
            cols.append(fits.Column((rename or {}).get(c.name, c.name), c.format, array=a))
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols)]).writeto(dst)


def test_apogee_layout_errors_are_clear(signal, tmp_path):
    src = signal[1] / f"{NAME}_mock_apogee_rc.fits"
    ok = apo.read_apogee_rc(src)
    assert {"source_id", "feh", "feh_error", "distance", "age", "age_error"} <= set(ok)
    assert ok.distance.attrs["units"] == "kpc" and ok.age.attrs["units"] == "Gyr"

    bad = tmp_path / "no_dist.fits"
    _rewrite(src, bad, drop=("RC_DIST",))
    with pytest.raises(apo.ApogeeLayoutError, match="RC_DIST"):
        apo.read_apogee_rc(bad)
    bad = tmp_path / "no_gaia.fits"
    _rewrite(src, bad, rename={"GAIAEDR3_SOURCE_ID": "GAIA_ID"})
    with pytest.raises(apo.ApogeeLayoutError, match="GAIAEDR3_SOURCE_ID"):
        apo.read_apogee_rc(bad)
    renamed = tmp_path / "age_xgb.fits"
    _rewrite(src, renamed, rename={"AGE": "AGE_XGB"})
    with pytest.raises(apo.ApogeeLayoutError, match="apogee-age-column"):
        apo.read_apogee_rc(renamed)
    assert "age" in apo.read_apogee_rc(renamed, age_column="AGE_XGB")
    pc = tmp_path / "dist_pc.fits"
    _rewrite(src, pc, scale={"RC_DIST": 1000.0})
    with pytest.raises(apo.ApogeeLayoutError, match="kpc"):
        apo.read_apogee_rc(pc)
    with pytest.raises(ValueError, match="apogee_dr17"):           # not an APOGEE file at all
        _rewrite(src, tmp_path / "no_id.fits", drop=("APOGEE_ID",))
        apo.read_apogee_rc(tmp_path / "no_id.fits")
    # through the command line: --apogee with a broken file, and without --catalog
    _write_lamost(tmp_path / "lamost.fits", 40_000)
    with pytest.raises(apo.ApogeeLayoutError, match="RC_DIST"):
        cli.main(["recipe", NAME, "--catalog", str(tmp_path / "lamost.fits"), "--survey",
                  "lamost", "--apogee", str(tmp_path / "no_dist.fits"), "--out",
                  str(tmp_path / "x"), "--no-progress"])
    with pytest.raises(ValueError, match="--catalog"):
        w.run(apogee=str(src), out=tmp_path / "y", progress=False)


def _write_lamost(path, n, seed=3):
    """The mock's LAMOST stars as a LAMOST-layout FITS file with the Wang+2023 value-added
    columns (age, age_err, dist in kpc, is_rc) and the truth as extra columns; returns the mock
    (computed) for the APOGEE file."""
    stars = w.default_mock(n, seed).compute()
    lam = stars.isel(star=np.flatnonzero(stars.in_lamost.values == 1))
    rng = np.random.default_rng(seed)
    m = lam.sizes["star"]
    rc = ((lam.logg >= 2.2) & (lam.logg <= 2.6) & (lam.teff >= 4500) & (lam.teff <= 4900)).values
    f4 = np.float32
    cols = [
        fits.Column("obsid", "K", array=np.arange(m, dtype=np.int64) + 100_000_000),
        fits.Column("ra", "D", array=lam.ra.values), fits.Column("dec", "D",
                                                                 array=lam.dec.values),
        fits.Column("snrg", "E", array=np.full(m, 80.0, f4)),
        fits.Column("teff", "E", array=lam.teff.values.astype(f4)),
        fits.Column("logg", "E", array=lam.logg.values.astype(f4)),
        fits.Column("feh", "E", array=lam.feh.values.astype(f4)),
        fits.Column("feh_err", "E", array=lam.feh_error.values.astype(f4)),
        fits.Column("alpha_m_err", "E", array=np.full(m, 0.03, f4)),
        fits.Column("gaia_source_id", "K", array=lam.source_id.values.astype(np.int64)),
        fits.Column("age", "E", array=lam.age.values.astype(f4)),
        fits.Column("age_err", "E", array=lam.age_error.values.astype(f4)),
        fits.Column("dist", "D",
                    array=lam.distance_true.values * (1 + 0.06 * rng.standard_normal(m))),
        fits.Column("is_rc", "I", array=rc.astype(np.int16)),
        fits.Column("feh_signal_true", "D", array=lam.feh_signal_true.values),
    ]
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols)]).writeto(path)
    return stars


def test_a_run_on_lamost_and_apogee_files(tmp_path):
    stars = _write_lamost(tmp_path / "lamost.fits", 150_000)
    rc = [t.name for t in w.GIANTS].index("red clump")
    sel = np.flatnonzero((stars.in_apogee.values == 1) & (stars.stellar_type.values == rc))
    a = stars.isel(star=sel)
    apo.write_apogee_rc(tmp_path / "apogee.fits", apo.mock_apogee_columns(
        {k: a[k].values for k in w.MOCK_APOGEE_COLUMNS}, 3))
    by = _run_files(tmp_path)
    assert int(float(by[COMMON]["value"])) > 300
    assert "stars (APOGEE RC): + τ_corr ≤ 14 Gyr (after the §1.5 correction, final)" in by
    value, error = _ve(by[OUTER])
    truth = float(by[OUTER]["note"].split("same stars): ")[1].split()[0])
    assert value > 3 * error and abs(value - truth) < 3 * error, (value, error, truth)


def _run_files(tmp_path):
    out = tmp_path / "files"
    assert cli.main(["recipe", NAME, "--catalog", str(tmp_path / "lamost.fits"), "--survey",
                     "lamost", "--apogee", str(tmp_path / "apogee.fits"), "--out", str(out),
                     "--no-progress"]) == 0
    return _table(out)
