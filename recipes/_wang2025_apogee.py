"""The APOGEE side of the Wang+2025 recipe: reading an APOGEE DR17 red-clump file, and the
default run's APOGEE-like mock sample written in that layout (spec 001 §1.1, §1.4, §1.5).

**The file** is the APOGEE DR17 red-clump catalogue (``apogee-rc-DR17.fits``, Bovy et al. 2014
selection: every row is a red-clump star) in its archive spelling, read through
``cubes.open_catalog(survey="apogee_dr17")``: ``GAIAEDR3_SOURCE_ID`` (the cross-match key),
``M_H`` and ``M_H_ERR`` (the metallicity, A1), ``ALPHA_M_ERR`` (a §1.3 cut, where present),
``RC_DIST`` (kpc, §1.4), ``RA``/``DEC``. ``RC_GALR``, ``RC_GALPHI`` and ``RC_GALZ`` are not used
(another frame; positions are recomputed from (RA, DEC, RC_DIST) in the paper's, §1.4 [I]).
The catalogue has no ages: the paper's are Anders et al. 2023's (XGBoost), a separate table
joined by ``APOGEE_ID``; the recipe expects them as a column ``AGE`` (Gyr; ``AGE_ERR`` optional)
or the column given by ``age_column``. A missing column or implausible units raise
:class:`ApogeeLayoutError` naming what was expected and what the file has.

**The mock** (default run): the APOGEE stars are drawn from the *same* mock as LAMOST — each
mock star is in LAMOST, in APOGEE, or in both according to a hash of its ``source_id`` — with
APOGEE's own observations: ages on a distorted scale, τ_A = D(τ)(1 + 0.17 ε) with
D(τ) = τ + 2 (τ/14)^2.5 Gyr (+0.5 Gyr at 8, +2 at 14: the paper's "0.5–2 Gyr older above 8"),
[M/H] = [Fe/H]_true + 0.03 ε, RC distances with 7 % errors, and only the mock's true red-clump
stars (a purer selection than LAMOST's log g–Teff box).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from astropy.io import fits

import cubes

#: mock survey membership (fractions of the mock's stars, by a hash of source_id)
APOGEE_ONLY = 0.20       # stars outside the LAMOST footprint, observed by APOGEE only
COMMON = 0.03            # of the LAMOST stars, the fraction APOGEE observed as well
AGE_ERROR = 0.17         # APOGEE (Anders+2023) typical relative age error (§1.1)
MH_ERROR = 0.03          # dex, ASPCAP [M/H] ("better than 0.1 dex", §1.1)
ALPHA_ERROR = 0.02       # dex
DIST_ERROR = 0.07        # relative, RC distances (5–10 %, §1.4)
RC_FRAME_R0 = 8.0        # kpc: the frame of the file's own RC_GALR/RC_GALPHI/RC_GALZ (unused)


class ApogeeLayoutError(KeyError, ValueError):
    """An APOGEE red-clump file without a column the analysis needs, or with implausible units."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


# -- the mock -------------------------------------------------------------------------------------
def age_distortion(t):
    """δ(τ) = 2 (τ / 14)^2.5 Gyr: the mock APOGEE ages' excess over the LAMOST scale at true
    age τ (Gyr); τ_A = τ + δ(τ) before APOGEE's own errors."""
    return 2.0 * (np.asarray(t, dtype=np.float64) / 14.0) ** 2.5


def injected_correction(tau_apogee):
    """The injected correction at an (error-free) APOGEE age τ_A: τ_A − D⁻¹(τ_A), Gyr — what
    P5(τ_A) should be if APOGEE's ages had no errors of their own."""
    grid = np.linspace(0.0, 20.0, 20001)
    tau = np.asarray(tau_apogee, dtype=np.float64)
    return tau - np.interp(tau, grid + age_distortion(grid), grid)


def _splitmix(ids: np.ndarray, salt: int) -> np.ndarray:
    """SplitMix64 of (id + salt) as a uniform number in [0, 1) (wrapping uint64 arithmetic)."""
    with np.errstate(over="ignore"):
        z = ids.astype(np.uint64) + np.uint64(salt) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(2**53)


def membership(source_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(in LAMOST, in APOGEE) of each mock star, from its id: a fraction APOGEE_ONLY is APOGEE
    only; of the rest (LAMOST), a fraction COMMON is also in APOGEE."""
    u = _splitmix(source_id, 0x5EED_2025)
    v = _splitmix(source_id, 0xA90_6EE)
    lamost = u >= APOGEE_ONLY
    return lamost, ~lamost | (v < COMMON)


def mock_apogee_columns(c: dict, seed: int) -> dict[str, np.ndarray]:
    """APOGEE DR17 RC-layout columns (archive spelling) of the mock's APOGEE stars.

    ``c``: the stars' mock columns (source_id, ra, dec, teff, logg, distance_true, feh_true,
    age_true and the truth columns feh_signal_true, R_true, z_true). Adds the truth the recipe
    compares with as extra columns (AGE_TRUE on the LAMOST scale, FEH_SIGNAL_TRUE, R_TRUE,
    Z_TRUE)."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    rng = np.random.default_rng([seed, 2025, 17])
    n = c["source_id"].size
    t = c["age_true"]
    scale = t + age_distortion(t)
    age = scale * (1.0 + AGE_ERROR * rng.standard_normal(n))
    mh = c["feh_true"] + MH_ERROR * rng.standard_normal(n)
    dist = c["distance_true"] * (1.0 + DIST_ERROR * rng.standard_normal(n))
    gal = SkyCoord(ra=c["ra"] * u.deg, dec=c["dec"] * u.deg).galactic
    glon, glat = gal.l.deg, gal.b.deg
    lr, br = np.radians(glon), np.radians(glat)
    x = RC_FRAME_R0 - dist * np.cos(br) * np.cos(lr)
    y = dist * np.cos(br) * np.sin(lr)
    ids = np.char.add("2M", np.char.zfill(c["source_id"].astype(str), 17))
    return {
        "APOGEE_ID": ids, "TELESCOPE": np.full(n, "apo25m"),
        "RA": c["ra"], "DEC": c["dec"], "GLON": glon, "GLAT": glat,
        "TEFF": c["teff"].astype(np.float32), "LOGG": c["logg"].astype(np.float32),
        "M_H": mh.astype(np.float32), "M_H_ERR": np.full(n, MH_ERROR, np.float32),
        "ALPHA_M": np.full(n, np.nan, np.float32),
        "ALPHA_M_ERR": np.full(n, ALPHA_ERROR, np.float32),
        "RC_DIST": dist, "RC_DM": 5.0 * np.log10(dist) + 10.0,
        "RC_GALR": np.hypot(x, y), "RC_GALPHI": np.arctan2(y, x),
        "RC_GALZ": dist * np.sin(br),
        "GAIAEDR3_SOURCE_ID": c["source_id"].astype(np.int64),
        "AGE": age.astype(np.float32), "AGE_ERR": (AGE_ERROR * age).astype(np.float32),
        "AGE_TRUE": t, "FEH_SIGNAL_TRUE": c["feh_signal_true"], "R_TRUE": c["R_true"],
        "Z_TRUE": c["z_true"],
    }


_FITS_FORMAT = {"f": {4: "E", 8: "D"}, "i": {2: "I", 4: "J", 8: "K"}}


def write_apogee_rc(path, columns: dict[str, np.ndarray]) -> None:
    """A FITS binary table (HDU 1) with these archive-spelled columns, as the catalogue is
    distributed."""
    cols = []
    for name, a in columns.items():
        a = np.asarray(a)
        if a.dtype.kind in "US":
            fmt = f"{max(1, int(np.char.str_len(a.astype(str)).max()))}A"
        else:
            fmt = _FITS_FORMAT[a.dtype.kind][a.dtype.itemsize]
        cols.append(fits.Column(name, fmt, array=a))
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols)]).writeto(
        path, overwrite=True)


# -- the reader -----------------------------------------------------------------------------------
#: canonical name (after cubes' apogee_dr17 schema) → (archive spelling, what it is for)
NEEDED = {
    "source_id": ("GAIAEDR3_SOURCE_ID", "the LAMOST cross-match and duplicates (§1.5, A4)"),
    "mh": ("M_H", "the metallicity ([M/H], A1)"),
    "mh_error": ("M_H_ERR", "the σ[M/H] ≤ 0.15 cut (§1.3)"),
    "rc_dist": ("RC_DIST", "the red-clump distance in kpc (§1.4)"),
}


def read_apogee_rc(path, age_column: str = "AGE",
                   age_error_column: str | None = "AGE_ERR") -> xr.Dataset:
    """An APOGEE DR17 red-clump file (lazy, dim ``star``) with canonical ``source_id``, ``feh``
    (= [M/H]), ``feh_error``, ``distance`` (kpc), ``age`` and ``age_error`` (Gyr),
    ``alpha_m_error`` where present, ``ra``/``dec``, and any truth columns of a mock.

    Raises
    ------
    ApogeeLayoutError
        A needed column is missing (the message names the archive spelling, its use and the
        file's columns), or RC_DIST / the age column have implausible units.
    ValueError
        The file is not an APOGEE catalogue at all (no APOGEE_ID / RA / DEC).
    """
    stars = cubes.open_catalog(path, survey="apogee_dr17")
    have = sorted(str(stars[v].attrs.get("archive_name", v)) for v in stars.data_vars)
    where = f"APOGEE red-clump file {str(path)!r}"
    for canon, (archive, why) in NEEDED.items():
        if canon not in stars.variables:
            raise ApogeeLayoutError(f"{where} has no column {archive!r} ({why}); it has "
                                    f"{have!r}")
    age_key = age_column.lower()
    if age_key not in stars.variables and age_column in stars.variables:
        age_key = age_column
    if age_key not in stars.variables:
        raise ApogeeLayoutError(
            f"{where} has no age column {age_column!r}: the DR17 red-clump catalogue carries "
            "no ages; join the Anders et al. 2023 (XGBoost) ages by APOGEE_ID and name their "
            f"column with --apogee-age-column (Gyr). The file has {have!r}")
    dist = stars["rc_dist"].data
    age = stars[age_key].data
    med_d, med_a = (float(np.nanmedian(np.asarray(x[:20000]))) for x in (dist, age))
    if not 0.05 <= med_d <= 50.0:
        raise ApogeeLayoutError(f"{where}: RC_DIST has median {med_d:.3g}, not a distance in "
                                "kpc (pc? a distance modulus?)")
    if not 0.1 <= med_a <= 20.0:
        raise ApogeeLayoutError(f"{where}: the age column {age_column!r} has median "
                                f"{med_a:.3g}, not an age in Gyr (log age? Myr?)")
    out = stars.assign(
        feh=stars.mh.assign_attrs(units="dex"), feh_error=stars.mh_error,
        distance=stars.rc_dist.assign_attrs(units="kpc"),
        age=stars[age_key].assign_attrs(units="Gyr"))
    err_key = None if age_error_column is None else age_error_column.lower()
    if err_key is not None and err_key in stars.variables:
        out = out.assign(age_error=stars[err_key].assign_attrs(units="Gyr"))
    if "r_true" in out.variables:  # a mock's truth: the reader lower-cases extra columns
        out = out.rename(r_true="R_true")
    return out.assign_attrs(id_column="source_id", survey="apogee_dr17_rc")
