"""Wang et al. 2025: a North–South metallicity asymmetry in the outer disk (spec 001).

``cubes recipe wang2025_ns_metallicity [--catalog LAMOST_FILE --survey lamost
[--apogee APOGEE_RC_FILE]] [--out DIR]``

Methods (spec ../shared/specs/001_wang2025_ns_metallicity.md, paper §2–3):

1. Catalogs (§1.1): a LAMOST red-clump file (the reference) and optionally an APOGEE DR17
   red-clump file (``--apogee``, with Anders+2023 ages joined: ``_wang2025_apogee``); by
   default a Gaia-like mock of spectroscopic giants (red clump + RGB) in the paper's frame with
   [Fe/H] raised by ``--feh-offset`` dex North of the plane beyond R = 11 kpc (docs/mocks.md),
   whose stars are split by a hash of their id into LAMOST only, APOGEE only and both, the
   APOGEE ones with their own errors and ages distorted by +0.5 → +2 Gyr above 8 Gyr, written
   in the APOGEE RC layout and read back.
2. Red clump (§1.2): the catalog's ``is_rc`` flag (every APOGEE RC-catalogue row is one); on the
   mock LAMOST, a box in the observed log g and Teff around the mock's red clump (2.2–2.6 dex,
   4500–4900 K), which keeps some RGB stars.
3. Quality cuts (§1.3): τ ≤ 14 Gyr, σ[M/H] ≤ 0.15, σ[α/M] ≤ 0.15 and (LAMOST) SNR_g ≥ 30 where
   the file has the columns; |Z| ≤ 5 kpc and −35° ≤ Φ < 35° after step 4. For APOGEE the age
   cut comes after step 3b.
3b. Age homogenisation (§1.5, A7's default; ``cubes.stats.homogenise``): common stars by Gaia
   source_id, Δτ = τ_APOGEE − τ_LAMOST, 10/50/90 % regression-quantile curves on a quadratic
   B-spline basis (knots by SIC), P5 fitted to the median, τ_APOGEE,corr = τ_APOGEE −
   P5(τ_APOGEE), then τ_corr ≤ 14 Gyr; the two samples merged, one entry per star with APOGEE
   kept for the common ones (A4).
4. Frame (§2): R⊙ = 8.34 kpc, Z⊙ = 25 pc (preset "wang2025"; astropy's frame, A8), Φ = 0 at the
   Sun, increasing with rotation. Distances: the file's RC distance column (§1.4) or, on the
   mock LAMOST, 1/ϖ with σ_ϖ/ϖ < 0.2 (a stand-in for the 5–10 % RC distances).
5. Cubes (§3): (Φ [6 bins], τ [6 bins], R [0.6 kpc, 6–15], Z [0.3 kpc, |Z| < 2.1]) with [Fe/H]
   sums; and for R > 11 kpc, (Φ or τ, Z, Δ[Fe/H]) with Δ[Fe/H] = [Fe/H] − μ_R finely binned
   (0.01 dex) for medians; 16 jackknife groups; written to Zarr.
6. Statistics (§4): raw mean maps and R-bin means (§4.1–4.2), offset maps ⟨[Fe/H]⟩ − μ_R per Φ
   bin and per age bin (N ≥ 3), the N − S difference maps, median Δ[Fe/H](Z) for R > 11 kpc,
   the asymmetry index A(|Z|) (Eq. 1, mode "linear", and the plain N − S difference);
   jackknife errors (the paper gives no method).
7. Figures 2–8 of the paper (Fig. 1 excepted) and a table of headline numbers with errors
   (and, on the mock, the injected truth).
"""

from __future__ import annotations

from pathlib import Path

import dask
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.colors import LogNorm, TwoSlopeNorm

import cubes
from cubes import axes, mock, stats
from cubes.kernels.binning import replicate_groups
from cubes.mock.gaia_like import STELLAR_TYPES
from cubes.stats import asymmetry, homogenise, maps

try:  # run as a module (cubes recipe …) or as a script (python recipes/…)
    from . import _common
    from . import _wang2025_apogee as apo
except ImportError:  # pragma: no cover
    import _common
    import _wang2025_apogee as apo

NAME = "wang2025_ns_metallicity"
FRAME = cubes.Frame.preset("wang2025")
K = 16                                              # jackknife groups
MIN_STARS = 3                                       # per map cell (§3)
MIN_PROFILE = 20    # per hemisphere |Z| bin: a jackknife median needs stars in most groups
R_OUTER = 11.0                                      # kpc, the outer disk is R > 11 (§3)
PHI_EDGES = [-35.0, -15.0, -5.0, 0.0, 5.0, 15.0, 35.0]   # deg, Fig. 3 a–f
AC = (-5.0, 15.0)                                   # the anticentre range of Figs 4b, 5, 6
AGE_EDGES = [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 14.0]   # Gyr, Fig. 5
YOUNG, OLD = (0.0, 6.0), (6.0, 14.0)                # Fig. 6b / 6c (A10: 6–8 Gyr counted old)
R_AXIS = axes.regular(6.0, 15.0, 0.6)               # kpc (A6)
Z_AXIS = axes.symmetric(2.1, 0.3)                   # kpc, an edge at Z = 0 (A14)
DFEH_AXIS = axes.regular(-1.5, 1.5, 0.01)           # dex, [Fe/H] − μ_R for medians
HEADLINE_Z = (0.15, 0.45, 0.75)                     # |Z| bin centres of the table, kpc
RC_BOX = ("logg >= 2.2", "logg <= 2.6", "teff >= 4500", "teff <= 4900")
FEH_OFFSET = 0.08                                   # dex, the default mock's N − S offset
D_MAX = 6.0                                         # kpc, the mock survey's radius
#: the mock's luminosity function: spectroscopic giants only (red clump and RGB)
GIANTS = tuple(t for t in STELLAR_TYPES if t.name in ("red clump", "red giant branch"))
#: survey metallicity columns (A1: LAMOST VAC [Fe/H], APOGEE ASPCAP [M/H])
METALLICITY = {"apogee_dr17": ("mh", "mh_error")}
DISTANCES = ("distance", "dist", "rc_dist", "rc_dist_h")  # kpc (§1.4)
AGE_MAX = 14.0                                      # Gyr, the §1.3 cut (APOGEE: after §1.5)
CHECK_AGES = (4.0, 8.0, 10.0, 12.0)                 # Gyr, τ_APOGEE of the correction's table rows
MC_REDRAWS = 40     # mock: noise redraws of the common stars for the method's target (§1.5)
NO_GAIA_ID = (0, -1, -9999)                         # "no Gaia match" in the archives


# -- 1. catalog ---------------------------------------------------------------------------------
def default_mock(n: int, seed: int, feh_offset: float = FEH_OFFSET,
                 surveys: bool = True) -> xr.Dataset:
    """Giants within D_MAX of the Sun in the Wang+2025 frame, N − S [Fe/H] offset beyond 11 kpc;
    with ``surveys``, each star's LAMOST and APOGEE membership (``in_lamost``, ``in_apogee``:
    a hash of its id, :func:`_wang2025_apogee.membership`)."""
    signal = mock.NorthSouth(R_min=R_OUTER, sigma_vz_ratio=1.0, feh_offset=feh_offset)
    stars = mock.disk(n, seed=seed, frame=FRAME, signals=[signal], d_max=D_MAX, types=GIANTS)
    # the injected offset of each star (truth): binned like [Fe/H], it gives the sample's truth
    shift = xr.apply_ufunc(lambda R, z: feh_offset * signal.applies(R, z), stars.R_true,
                           stars.z_true, dask="parallelized", output_dtypes=[np.float64])
    stars = stars.assign(feh_signal_true=shift.assign_attrs(units="dex"))
    if surveys:
        for i, name in enumerate(("in_lamost", "in_apogee")):
            flag = xr.apply_ufunc(lambda s, i=i: apo.membership(s)[i].astype(np.int8),
                                  stars.source_id, dask="parallelized",
                                  output_dtypes=[np.int8])
            stars = stars.assign({name: flag})
    return stars


#: the mock columns the APOGEE-like sample is drawn from (_wang2025_apogee.mock_apogee_columns)
MOCK_APOGEE_COLUMNS = ("source_id", "ra", "dec", "teff", "logg", "distance_true", "feh_true",
                       "age_true", "feh_signal_true", "R_true", "z_true")


def mock_apogee_stars(stars: xr.Dataset) -> dict:
    """The mock's APOGEE stars (lazy): members of APOGEE that are truly red-clump stars (the
    APOGEE RC catalogue's purer selection), the columns their observations are drawn from."""
    rc = [t.name for t in GIANTS].index("red clump")
    mask = ((stars.in_apogee == 1) & (stars.stellar_type == rc)).data
    return {v: stars[v].data[mask] for v in MOCK_APOGEE_COLUMNS}


def spectroscopy(stars: xr.Dataset, survey: str) -> xr.Dataset:
    """Canonical ``feh``, ``feh_error`` and ``distance`` (kpc) whatever the survey (A1, §1.4)."""
    col, err = METALLICITY.get(survey, ("feh", "feh_error"))
    if col in stars.variables and col != "feh":
        stars = stars.assign(feh=stars[col], feh_error=stars[err])
    dist = next((c for c in DISTANCES if c in stars.variables), None)
    if dist is not None and dist != "distance":
        stars = stars.assign(distance=stars[dist].assign_attrs(units="kpc"))
    _common.need(stars, ["ra", "dec", "feh", "feh_error", "age"], "the Wang+2025 sample")
    if "distance" not in stars.variables:
        _common.need(stars, ["parallax", "parallax_error"], "distances (no RC distance column)")
    return stars


# -- 2–3. red clump and quality cuts ------------------------------------------------------------
def red_clump(stars: xr.Dataset) -> xr.Dataset:
    """§1.2: the catalog's RC flag, or (mock) the log g–Teff box around its red clump."""
    if "is_rc" in stars.variables:
        return cubes.select(stars, "is_rc == 1")
    _common.need(stars, ["logg", "teff"], "the red-clump selection (no is_rc column)")
    return cubes.select(stars, *RC_BOX)


def quality_cuts(stars: xr.Dataset, survey: str,
                 age_cut: bool = True) -> tuple[xr.Dataset, list[str]]:
    """§1.3: τ ≤ 14 Gyr (unless ``age_cut`` is False: APOGEE's comes after §1.5), σ[M/H] ≤
    0.15, σ[α/M] ≤ 0.15, LAMOST SNR_g ≥ 30 (A5) — each where the catalog has the column;
    returns the cuts that could not be applied."""
    cuts, skipped = (["age <= 14"] if age_cut else []) + ["feh_error <= 0.15"], []
    for col, cut, why in (("alpha_m_error", "alpha_m_error <= 0.15", "σ[α/M] ≤ 0.15"),
                          ("snr_g", "snr_g >= 30", "LAMOST SNR ≥ 30")):
        if col == "snr_g" and survey != "lamost":
            continue
        (cuts.append(cut) if col in stars.variables else skipped.append(why))
    if "distance" not in stars.variables:  # mock / parallax distances: precise ones only
        cuts += ["parallax > 0", "parallax_error / parallax < 0.2"]
    return cubes.select(stars, *cuts), skipped


def positions(stars: xr.Dataset) -> xr.Dataset:
    """§2: Galactocentric R, Φ, Z in the paper's frame (velocities play no part: a file without
    them is given zeros for the transform)."""
    need = {c: xr.zeros_like(stars.ra) for c in ("pmra", "pmdec", "radial_velocity")
            if c not in stars.variables}
    xyz = cubes.galactocentric(stars.assign(need), FRAME, errors=False,
                               outputs=("R", "phi", "z"))
    return stars.assign(R=xyz.R, phi=xyz.phi, z=xyz.z)


def final_sample(stars: xr.Dataset, survey: str, *, rc_catalog: bool = False,
                 age_cut: bool = True, also: dict | None = None):
    """Steps 2–4 in one pass over the catalog: the selected stars in memory, the cut flow, the
    cuts that could not be applied and ``also`` (lazy arrays of the same catalog, computed in
    the same pass: the mock's APOGEE stars). ``rc_catalog``: every row is a red-clump star
    (the APOGEE RC catalogue); ``age_cut=False`` leaves τ ≤ 14 Gyr to the caller (§1.5)."""
    stars = spectroscopy(stars, survey)
    flow = {"catalog": xr.ones_like(stars.ra, dtype=bool)}
    if "in_lamost" in stars.variables:      # the mock's LAMOST footprint
        stars = cubes.select(stars, "in_lamost == 1")
        flow[f"in LAMOST (mock: {1 - apo.APOGEE_ONLY:.0%} of the stars)"] = stars.selected
    if not rc_catalog:
        stars = red_clump(stars)
        flow["red clump"] = stars.selected
    stars, skipped = quality_cuts(stars, survey, age_cut)
    flow["+ quality cuts (§1.3)" if age_cut else "+ quality cuts (§1.3; τ after §1.5)"] = \
        stars.selected
    stars = cubes.select(positions(stars), "abs(z) <= 5", "phi >= -35", "phi < 35")
    flow["+ |Z| ≤ 5 kpc, −35° ≤ Φ < 35°" + (" (final)" if age_cut else "")] = stars.selected
    id_col = stars.attrs.get("id_column") or "source_id"
    keep = [v for v in dict.fromkeys((id_col, "source_id", "R", "phi", "z", "feh", "age",
                                      "age_error", "age_true", "feh_signal_true", "R_true",
                                      "z_true")) if v in stars.variables]
    mask = stars.selected.data
    cols = {v: stars[v].data[mask] for v in keep}
    counts = {k: m.data.sum() for k, m in flow.items()}
    cols, counts, also = dask.compute(cols, counts, also or {})
    out = xr.Dataset({v: ("star", np.asarray(a), stars[v].attrs) for v, a in cols.items()},
                     attrs={**stars.attrs, "id_column": id_col if id_col in cols else None})
    return out, {k: int(c) for k, c in counts.items()}, skipped, also


# -- 3b. age homogenisation and the merged sample ------------------------------------------------
def _jackknife_median(x: np.ndarray, groups: np.ndarray) -> tuple[float, float]:
    """Median of x and its delete-a-group jackknife error over the K groups."""
    reps = np.array([np.median(x[groups != g]) for g in range(K)])
    return float(np.median(x)), float(np.sqrt((K - 1) / K * ((reps - reps.mean()) ** 2).sum()))


def _first_only(ids: np.ndarray) -> np.ndarray:
    """Ids with every repeat after a star's first entry set to −1 ("no Gaia id"), so that a
    catalog listing a star twice matches it once."""
    ids = np.asarray(ids).astype(np.int64)
    _, first = np.unique(ids, return_index=True)
    out = np.full(ids.size, -1, np.int64)
    out[first] = ids[first]
    return out


def method_target(t: np.ndarray, sigma_lamost: np.ndarray, seed: int) -> np.ndarray:
    """Mock only: median(Δτ | τ_A) at CHECK_AGES — what the §1.5 regression estimates with
    APOGEE's own age errors — from MC_REDRAWS fresh noise draws of the common stars' true ages
    t (the mock's error models: LAMOST σ, APOGEE 17 % on the distorted scale), as exact sample
    medians in ±0.25 Gyr windows (an independent route)."""
    rng = np.random.default_rng([seed, 2025, 99])
    tt, sl = np.repeat(t, MC_REDRAWS), np.repeat(sigma_lamost, MC_REDRAWS)
    tl = tt + sl * rng.standard_normal(tt.size)
    ta = (tt + apo.age_distortion(tt)) * (1.0 + apo.AGE_ERROR * rng.standard_normal(tt.size))
    dt = ta - tl
    return np.array([np.median(dt[np.abs(ta - c) < 0.25]) for c in CHECK_AGES])


def homogenise_ages(lamost: xr.Dataset, apogee: xr.Dataset, seed: int) -> dict:
    """§1.5 (A7's default): the common stars by Gaia source_id, the quantile curves of
    Δτ = τ_APOGEE − τ_LAMOST on τ_APOGEE, P5 on the median curve, with jackknife errors of
    P5(CHECK_AGES) over the K id-hash groups of the common stars (the cubes' groups); APOGEE's
    corrected ages. On a mock also the injected correction, the method's target and the same
    fit with APOGEE's age errors switched off (a check of the estimator)."""
    il, ia = homogenise.match_ids(_first_only(lamost.source_id.values),
                                  _first_only(apogee.source_id.values), invalid=NO_GAIA_ID)
    tl, ta = lamost.age.values[il], apogee.age.values[ia]
    ok = np.isfinite(tl) & np.isfinite(ta)
    il, ia, tl, ta = il[ok], ia[ok], tl[ok], ta[ok]
    if il.size < 100:
        raise ValueError(f"the age homogenisation (§1.5) needs LAMOST–APOGEE common stars; "
                         f"only {il.size} share a Gaia source_id")
    groups = replicate_groups(apogee.source_id.values[ia].astype(np.int64), 0, ia.size, K)
    cal = homogenise.calibrate(tl, ta)
    at = np.array(CHECK_AGES)
    err, _ = homogenise.jackknife_correction(tl, ta, groups, at, k=K,
                                             n_interior=cal.median.n_interior)
    res = {"cal": cal, "at": at, "value": cal.correction(at), "error": err,
           "curve": cal.median(at),
           "tau_lamost": tl, "tau_apogee": ta, "groups": groups,
           "after": _jackknife_median(cal.apply(ta) - tl, groups),
           "before": _jackknife_median(ta - tl, groups)}
    if "age_true" in apogee.variables:  # the mock's truth
        t = apogee.age_true.values[ia]
        res["injected"] = apo.injected_correction(at)
        sig = (lamost.age_error.values[il] if "age_error" in lamost.variables
               else 0.2 * t)
        res["target"] = method_target(t, sig, seed)
        exact = t + apo.age_distortion(t)          # APOGEE's ages without their errors
        cal_x = homogenise.calibrate(tl, exact, quantiles=(0.5,))
        err_x, _ = homogenise.jackknife_correction(tl, exact, groups, at, k=K,
                                                   n_interior=cal_x.median.n_interior)
        res["exact"] = {"cal": cal_x, "value": cal_x.correction(at), "error": err_x}
    return res


def merge_samples(lamost: xr.Dataset, apogee: xr.Dataset) -> tuple[xr.Dataset, dict]:
    """A4's default: one entry per star, APOGEE kept for the stars in both final samples
    (matched by Gaia source_id); the columns both have. Stars without a Gaia id get unique
    negative ids (the jackknife groups hash the id)."""
    a_ids = apogee.source_id.values.astype(np.int64)
    l_ids = lamost.source_id.values.astype(np.int64)
    dup = np.isin(l_ids, a_ids[~np.isin(a_ids, NO_GAIA_ID)]) & ~np.isin(l_ids, NO_GAIA_ID)
    keep = lamost.isel(star=np.flatnonzero(~dup))
    names = [v for v in keep.data_vars if v in apogee.data_vars]
    merged = xr.concat([keep[names], apogee[names]], dim="star", join="override")
    ids = merged.source_id.values.astype(np.int64)
    bad = np.isin(ids, NO_GAIA_ID)
    ids[bad] = -(2**40) - np.flatnonzero(bad)
    merged = merged.assign(source_id=("star", ids, lamost.source_id.attrs),
                           survey=("star", np.r_[np.zeros(keep.sizes["star"], np.int8),
                                                 np.ones(apogee.sizes["star"], np.int8)],
                                   {"long_name": "0 = LAMOST, 1 = APOGEE"}))
    merged.attrs = {**lamost.attrs, "id_column": "source_id"}
    flow = {"LAMOST, without the stars kept from APOGEE (A4)": keep.sizes["star"],
            "+ APOGEE (final)": apogee.sizes["star"],
            "merged sample (one entry per star)": merged.sizes["star"]}
    return merged, flow


# -- 5. cubes -----------------------------------------------------------------------------------
def _truth(stars):
    return ["feh_signal_true"] if "feh_signal_true" in stars.variables else []


def map_cube(stars: xr.Dataset, progress: bool) -> xr.Dataset:
    """§3: (Φ, τ, R, Z) cube of [Fe/H] sums — every map of Figs 3, 5, 7, 8 is a sum of it."""
    return cubes.bin_catalog(
        stars, {"phi": axes.edges(PHI_EDGES), "age": axes.edges(AGE_EDGES), "R": R_AXIS,
                "z": Z_AXIS}, values=["feh", *_truth(stars)], replicates=K, progress=progress)


def phi_maps(cube: xr.Dataset) -> xr.Dataset:
    """§4.1–4.3, Fig. 3: offsets per Φ bin (μ_R per Φ bin over all ages)."""
    return maps.offset_map(cube.cube.sum("age"), "feh", min_count=MIN_STARS)


def anticentre(cube: xr.Dataset) -> xr.Dataset:
    """The stars with −5° ≤ Φ < 15° (Φ bins c, d, e summed: exact)."""
    return cube.sel(phi=slice(*AC)).cube.sum("phi")


def age_maps(cube: xr.Dataset) -> xr.Dataset:
    """§4.1–4.3, Fig. 5: offsets per age bin within −5° ≤ Φ < 15° (μ_R per age bin)."""
    return maps.offset_map(anticentre(cube), "feh", min_count=MIN_STARS)


def _lookup(table: xr.DataArray, stars: xr.Dataset, dims: dict) -> np.ndarray:
    """Per star, ``table``'s value in the star's bins (``dims``: dim → (column, edges))."""
    idx = {}
    ok = np.ones(stars.sizes["star"], dtype=bool)
    for dim, (col, edges) in dims.items():
        i = np.searchsorted(edges, stars[col].values, side="right") - 1
        ok &= (i >= 0) & (i < len(edges) - 1)
        idx[dim] = np.clip(i, 0, len(edges) - 2)
    v = table.transpose(*dims).values[tuple(idx[d] for d in dims)]
    return np.where(ok, v, np.nan)


def outer_cubes(stars: xr.Dataset, phi_off: xr.Dataset, age_off: xr.Dataset,
                progress: bool) -> dict[str, xr.Dataset]:
    """§4.4: R > 11 kpc, Δ[Fe/H] = [Fe/H] − μ_R of the star's own population (its Φ bin, or
    its age bin within the anticentre range; A1b: offsets, not raw [Fe/H]) binned finely on
    (Φ, Z) and (τ, Z) for the medians. μ_R is the full sample's (held fixed in the jackknife)."""
    r_edges = R_AXIS.edges
    mu_phi = phi_off.radial_mean_feh.sel(replicate=-1)
    mu_age = age_off.radial_mean_feh.sel(replicate=-1)
    outer = stars.isel(star=np.flatnonzero(stars.R.values > R_OUTER))
    d_phi = outer.feh.values - _lookup(mu_phi, outer, {"phi": ("phi", np.array(PHI_EDGES)),
                                                        "R": ("R", r_edges)})
    d_age = outer.feh.values - _lookup(mu_age, outer, {"age": ("age", np.array(AGE_EDGES)),
                                                        "R": ("R", r_edges)})
    outer = outer.assign(dfeh=("star", d_phi, {"units": "dex"}),
                         dfeh_age=("star", d_age, {"units": "dex"}))
    truth = _truth(stars)
    by_phi = cubes.bin_catalog(outer, {"phi": axes.edges(PHI_EDGES), "z": Z_AXIS,
                                       "dfeh": DFEH_AXIS},
                               values=["dfeh", *truth], replicates=K, progress=progress)
    ac = cubes.select(outer, f"phi >= {AC[0]}", f"phi < {AC[1]}")
    by_age = cubes.bin_catalog(ac.drop_vars("dfeh").rename(dfeh_age="dfeh"),
                               {"age": axes.edges(AGE_EDGES), "z": Z_AXIS, "dfeh": DFEH_AXIS},
                               values=["dfeh", *truth], replicates=K, progress=progress)
    return {"outer_phi": by_phi, "outer_age": by_age}


# -- 6. statistics ------------------------------------------------------------------------------
def profiles(cube: xr.Dataset) -> xr.Dataset:
    """§4.4–4.5 for every population of ``cube`` (R > 11 kpc): median Δ[Fe/H] North and South
    per |Z| bin, N − S, and A(|Z|) in mode "linear" (tanh(ln10 ΔNS/2);
    A1: the reading of Eq. 1 with the paper's sign) — as value ± jackknife error. Bins with
    fewer than MIN_PROFILE = 20 stars per hemisphere are NaN (with the paper's N ≥ 3 most
    jackknife groups of a bin would be empty)."""
    med = cube.cube.quantile("dfeh", 0.5).drop_vars("quantile", errors="ignore")
    n = cube.cube.samples()["count"].sum("dfeh")
    med = med.where(n >= MIN_PROFILE).rename("median_dfeh")
    med.attrs.update(units="dex", long_name="median [Fe/H] − μ_R")
    est = cubes.estimate(xr.Dataset({
        "median": stats.fold(med, "z"),
        "difference": asymmetry.median_north_south(cube, "dfeh", min_count=MIN_PROFILE),
        "A": asymmetry.median_north_south(cube, "dfeh", min_count=MIN_PROFILE, mode="linear"),
    })).compute()
    for v in ("median", "difference", "A"):  # a bin short of stars in a jackknife sample
        est[v] = est[v].where(est[f"{v}_error"].notnull())
    return est


def profile_mean(cube: xr.Dataset, zmax: float = 1.5) -> xr.Dataset:
    """ΔNS(|Z|) of the medians averaged over the |Z| bins below ``zmax``, weighted by
    N_N N_S / (N_N + N_S) (a difference of medians' inverse variance for equal spreads; the
    full sample's counts, the same weights in every jackknife sample) → value ± error."""
    d = asymmetry.median_north_south(cube, "dfeh", min_count=MIN_PROFILE)
    d = d.sel(abs_z=slice(0, zmax))
    n = stats.fold(cube["count"].sum(["dfeh", "replicate"]), "z").sel(abs_z=slice(0, zmax))
    nn, ns = n.sel(hemisphere="north", drop=True), n.sel(hemisphere="south", drop=True)
    w = (nn * ns / (nn + ns)).where(d.notnull().all("replicate"), 0.0)
    return cubes.estimate(((d.fillna(0.0) * w).sum("abs_z") / w.sum("abs_z")).rename("d"))


def pooled(cube: xr.Dataset, zmax: float = 2.1) -> xr.Dataset:
    """N − S over all |Z| < zmax of a cube without other dims: of the mean Δ[Fe/H] (exact from
    the sums; with its mock truth, the mean injected offset of the same stars) and of the
    median; and A (linear) of the medians. Value ± jackknife error."""
    half = {"north": cube.sel(z=slice(0, zmax)), "south": cube.sel(z=slice(-zmax, 0))}
    out = {}
    for h, c in half.items():
        c = c.cube.sum("z")
        out[f"median_{h}"] = c.cube.quantile("dfeh", 0.5).drop_vars("quantile",
                                                                    errors="ignore")
        c = c.cube.sum("dfeh")
        out[f"mean_{h}"] = c.cube.mean("dfeh")
        if "sum_feh_signal_true" in c:
            out[f"truth_{h}"] = c.cube.mean("feh_signal_true")
    res = xr.Dataset({"mean_difference": out["mean_north"] - out["mean_south"],
                      "median_difference": out["median_north"] - out["median_south"]})
    res["A"] = np.tanh(0.5 * np.log(10.0) * res.median_difference)
    if "truth_north" in out:
        res["truth"] = out["truth_north"] - out["truth_south"]
    return cubes.estimate(res).compute()


def inner_disk(cube: xr.Dataset) -> xr.Dataset:
    """The null test of §3.1 (R < 11 kpc: mirror-symmetric): N − S of the mean [Fe/H] offset
    over 6 ≤ R < 10.8 kpc (whole R bins), −5° ≤ Φ < 15°, |Z| < 2.1 kpc, per star."""
    c = anticentre(cube.cube.sum("age")).sel(R=slice(None, 10.8))
    off = maps.offset_map(c, "feh", min_count=0)
    n = off["count"]
    out = {}
    for h, sl in (("north", slice(0, None)), ("south", slice(None, 0))):
        s = off.sel(z=sl)
        out[h] = (s.offset_feh.fillna(0) * s["count"]).sum(["R", "z"]) / n.sel(z=sl).sum(
            ["R", "z"])
        if "sum_feh_signal_true" in c:
            out[f"t{h}"] = c.sel(z=sl).cube.sum(["R", "z"]).cube.mean("feh_signal_true")
    res = xr.Dataset({"mean_difference": out["north"] - out["south"]})
    if "tnorth" in out:
        res["truth"] = out["tnorth"] - out["tsouth"]
    return cubes.estimate(res).compute()


# -- 7. figures ---------------------------------------------------------------------------------
def map_panels(off: xr.Dataset) -> xr.Dataset:
    """What Figs 3/5 and 7/8 draw (full sample): ``offset`` (§4.3), ``raw`` (the cell's mean
    [Fe/H], §4.1) and ``radial`` (μ_R of its R bin along every Z, §4.2), all NaN where N < 3."""
    full = off.sel(replicate=-1, drop=True)
    raw = full.mean_feh.transpose(..., "z", "R")
    radial = full.radial_mean_feh.broadcast_like(raw).where(raw.notnull())
    return xr.Dataset({"offset": full.offset_feh.transpose(..., "z", "R"), "raw": raw,
                       "radial": radial.transpose(*raw.dims)})


def _bin_label(dim: str, edges, i: int) -> str:
    lo, hi = edges[i], edges[i + 1]
    return (f"({'abcdef'[i]}) {lo:g}° < Φ < {hi:g}°" if dim == "phi"
            else f"({'abcdef'[i]}) {lo:g} < τ < {hi:g} Gyr")


def figure_maps(offset: xr.DataArray, dim: str, edges, title: str, limit: float = 0.3):
    """Figs 3 and 5: mean [Fe/H] offset on R–Z, one panel per Φ or age bin, white where N < 3."""
    fig, axs = plt.subplots(2, 3, figsize=(15, 7.8), sharex=True, sharey=True,
                            constrained_layout=True)
    norm = TwoSlopeNorm(0.0, -limit, limit)
    re, ze = R_AXIS.edges, Z_AXIS.edges
    for i, ax in enumerate(axs.ravel()):
        v = offset.isel({dim: i}).transpose("z", "R")
        mesh = ax.pcolormesh(re, ze, v, cmap="RdBu_r", norm=norm)
        ax.axhline(0, color="k", lw=0.6)
        ax.axvline(R_OUTER, color="k", ls="--", lw=0.8)
        ax.set_facecolor("white")
        ax.set_title(_bin_label(dim, edges, i), fontsize=11)
        if i >= 3:
            ax.set_xlabel("R (kpc)")
        if i % 3 == 0:
            ax.set_ylabel("Z (kpc)")
    fig.colorbar(mesh, ax=axs, shrink=0.8, extend="both",
                 label="mean [Fe/H] − mean of the R bin (dex)")
    fig.suptitle(title, fontsize=12)
    return fig


def figure_raw_maps(panels: xr.Dataset, dim: str, edges, title: str):
    """Figs 7 and 8 (appendix): per Φ or age bin, the raw mean [Fe/H] map (rows 1 and 3) and
    the subtracted R-bin mean μ_R (rows 2 and 4, constant along Z), on one colour scale; white
    where N < 3."""
    raw, radial = panels.raw, panels.radial
    lo, hi = (np.floor(np.nanpercentile(raw, 2) * 20) / 20,
              np.ceil(np.nanpercentile(raw, 98) * 20) / 20)
    fig, axs = plt.subplots(4, 3, figsize=(14, 13.5), sharex=True, sharey=True,
                            constrained_layout=True)
    re, ze = R_AXIS.edges, Z_AXIS.edges
    for i in range(6):
        for j, (what, arr) in enumerate((("mean [Fe/H]", raw), ("μ_R, mean of the R bin",
                                                                radial))):
            ax = axs[2 * (i // 3) + j, i % 3]
            mesh = ax.pcolormesh(re, ze, arr.isel({dim: i}).transpose("z", "R"),
                                 cmap="viridis", vmin=lo, vmax=hi)
            ax.axhline(0, color="k", lw=0.6)
            ax.axvline(R_OUTER, color="w", ls="--", lw=0.8)
            ax.set_title(f"{_bin_label(dim, edges, i)}: {what}", fontsize=10)
            if ax in axs[-1]:
                ax.set_xlabel("R (kpc)")
            if i % 3 == 0:
                ax.set_ylabel("Z (kpc)")
    fig.colorbar(mesh, ax=axs, shrink=0.6, extend="both", label="[Fe/H] (dex)")
    fig.suptitle(title, fontsize=11)
    return fig


def figure_age_calibration(h: dict):
    """Fig. 2: (left) Δτ = τ_APOGEE − τ_LAMOST of the common stars against τ_APOGEE with the
    10/50/90 % regression-quantile curves and P5 (and, on a mock, the injected correction and
    the method's target); (right) corrected APOGEE ages against LAMOST's, with the 1:1 line
    and running medians both ways."""
    cal, tl, ta = h["cal"], h["tau_lamost"], h["tau_apogee"]
    tc = h["corrected_common"]
    fig, ax = plt.subplots(1, 2, figsize=(15, 6.2), constrained_layout=True)
    edges = np.arange(0.0, 18.01, 0.25)
    dedges = np.arange(-8.0, 8.01, 0.25)
    hist, _, _ = np.histogram2d(ta, ta - tl, [edges, dedges])
    m = ax[0].pcolormesh(edges, dedges, np.where(hist > 0, hist, np.nan).T, cmap="Greys",
                         norm=LogNorm(vmin=1))
    fig.colorbar(m, ax=ax[0], label="common stars per 0.25 × 0.25 Gyr cell")
    g = np.linspace(*cal.domain, 300)
    for q, curve in cal.curves.items():
        ax[0].plot(g, curve(g), color="tab:blue", lw=2, ls="-" if q == 0.5 else "--",
                   label=f"{q:.0%} regression quantile (B-splines, "
                         f"{curve.n_interior} knots)" if q != 0.9 else "90 %")
    ax[0].plot(g, cal.correction(g), color="tab:red", ls="--", lw=2.2,
               label="P5: degree-5 polynomial fit to the median")
    ax[0].errorbar(h["at"], h["value"], h["error"], fmt="o", color="tab:red", ms=5, capsize=3,
                   label="P5 at 4, 8, 10, 12 Gyr ± jackknife")
    if "injected" in h:
        ax[0].plot(g, apo.injected_correction(g), color="tab:green", lw=2,
                   label="mock: injected τ_A − D⁻¹(τ_A) (APOGEE ages without errors)")
        ax[0].plot(h["at"], h["target"], "D", color="tab:orange", ms=7, mec="k",
                   label="mock: median(Δτ | τ_A) with APOGEE's 17 % errors (target)")
    ax[0].axhline(0, color="0.4", lw=0.8)
    ax[0].set(xlim=(0, 16), ylim=(-6, 8), xlabel="τ_APOGEE (Gyr)",
              ylabel="Δτ = τ_APOGEE − τ_LAMOST (Gyr)",
              title=f"(left) {tl.size:,} common stars (Gaia source_id)")
    ax[0].legend(fontsize=8, loc="upper left")

    hist, _, _ = np.histogram2d(tl, tc, [edges, edges])
    m = ax[1].pcolormesh(edges, edges, np.where(hist > 0, hist, np.nan).T, cmap="Greys",
                         norm=LogNorm(vmin=1))
    fig.colorbar(m, ax=ax[1], label="common stars per 0.25 × 0.25 Gyr cell")
    ax[1].plot([0, 18], [0, 18], color="darkviolet", ls="-.", lw=2, label="1:1")
    b = np.arange(1.0, 15.01, 1.0)
    centre = 0.5 * (b[1:] + b[:-1])

    def running(x, y):
        i = np.digitize(x, b) - 1
        return np.array([np.median(y[i == k]) if (i == k).sum() >= 20 else np.nan
                         for k in range(centre.size)])

    ax[1].plot(centre, running(tl, tc), "o-", color="tab:orange",
               label="median τ_APOGEE,corr at fixed τ_LAMOST")
    ax[1].plot(running(tc, tl), centre, "s-", color="tab:cyan",
               label="median τ_LAMOST at fixed τ_APOGEE,corr")
    ax[1].set(xlim=(0, 16), ylim=(0, 16), xlabel="τ_LAMOST (Gyr)",
              ylabel="τ_APOGEE,corr = τ_APOGEE − P5(τ_APOGEE) (Gyr)",
              title="(right) corrected APOGEE ages vs LAMOST ages")
    ax[1].set_aspect("equal")
    ax[1].legend(fontsize=8, loc="upper left")
    fig.suptitle("Wang+2025 Fig. 2: LAMOST ↔ APOGEE age homogenisation (spec §1.5; LAMOST the "
                 "reference)", fontsize=12)
    return fig


def _profile(ax, prof, sel, label, color, shift=0.0):
    """median Δ[Fe/H] vs Z (North at Z > 0, South at Z < 0) with jackknife errors."""
    p = prof.sel(sel)
    z = p.abs_z.values
    for h, sgn in (("north", 1), ("south", -1)):
        ax.errorbar(sgn * z + shift, p["median"].sel(hemisphere=h), p["median_error"].sel(
            hemisphere=h), fmt="o-", color=color, ms=4, capsize=2, lw=1,
            label=label if h == "north" else None)


def _asym(ax, prof, sel, label, color, shift=0.0):
    p = prof.sel(sel)
    ax.errorbar(p.abs_z + shift, p.A, p.A_error, fmt="o-", color=color, ms=5, capsize=3,
                label=label)


def _finish_asym(ax, title, truth):
    ax.axhline(0, color="0.5", lw=0.8)
    if truth is not None:
        ax.axhline(truth, color="tab:green", ls="--", lw=1.5,
                   label=f"mock: injected A = tanh(ln10·{truth_offset(truth):.2f}/2)")
    ax.set(xlabel="|Z| (kpc)", ylabel="A(|Z|) = (10^N − 10^S)/(10^N + 10^S)", title=title)
    ax.legend(fontsize=8)


def truth_offset(a):
    return 2.0 * np.arctanh(a) / np.log(10.0)


def figure_phi_profiles(prof_phi: xr.Dataset, prof_groups: dict, truth: float | None):
    """Fig. 4: (a) median Δ[Fe/H] vs Z per Φ bin, (b) A(|Z|) for −5° < Φ < 15°, (c) A(|Z|) for
    −35° < Φ < −5° and 15° < Φ < 35°; R > 11 kpc."""
    fig, ax = plt.subplots(1, 3, figsize=(17, 5.2), constrained_layout=True)
    colors = plt.cm.viridis(np.linspace(0, 0.9, 6))
    for i, phi in enumerate(prof_phi.phi.values):
        lo, hi = PHI_EDGES[i], PHI_EDGES[i + 1]
        _profile(ax[0], prof_phi, {"phi": phi}, f"{lo:g}° < Φ < {hi:g}°", colors[i],
                 shift=(i - 2.5) * 0.02)
    ax[0].axvline(0, color="0.5", lw=0.8)
    ax[0].axhline(0, color="0.5", lw=0.8)
    ax[0].set(xlabel="Z (kpc)", ylabel="median [Fe/H] − mean of the R bin (dex)",
              title="(a) median [Fe/H] offset, R > 11 kpc")
    ax[0].legend(fontsize=8, ncol=2)
    a_true = None if truth is None else float(np.tanh(0.5 * np.log(10) * truth))
    _asym(ax[1], prof_groups["AC"], {}, "−5° < Φ < 15°", "k")
    _finish_asym(ax[1], "(b) asymmetry, −5° < Φ < 15°", a_true)
    for j, (key, lab, c) in enumerate((("west", "−35° < Φ < −5°", "tab:blue"),
                                       ("east", "15° < Φ < 35°", "tab:red"))):
        _asym(ax[2], prof_groups[key], {}, lab, c, shift=(j - 0.5) * 0.03)
    _finish_asym(ax[2], "(c) asymmetry, −35° < Φ < −5° and 15° < Φ < 35°", a_true)
    fig.suptitle("Wang+2025 Fig. 4: North–South metallicity asymmetry in the outer disk "
                 "(R > 11 kpc; jackknife errors)", fontsize=12)
    return fig


def figure_age_profiles(prof_age: xr.Dataset, truth: float | None):
    """Fig. 6: (a) median Δ[Fe/H] vs Z per age bin, (b) A(|Z|) young, (c) old; R > 11 kpc,
    −5° < Φ < 15°."""
    fig, ax = plt.subplots(1, 3, figsize=(17, 5.2), constrained_layout=True)
    colors = plt.cm.plasma(np.linspace(0, 0.85, 6))
    a_true = None if truth is None else float(np.tanh(0.5 * np.log(10) * truth))
    for i, age in enumerate(prof_age.age.values):
        lo, hi = AGE_EDGES[i], AGE_EDGES[i + 1]
        lab = f"{lo:g} < τ < {hi:g} Gyr"
        _profile(ax[0], prof_age, {"age": age}, lab, colors[i], shift=(i - 2.5) * 0.02)
        panel = ax[1] if hi <= YOUNG[1] else ax[2]
        _asym(panel, prof_age, {"age": age}, lab, colors[i], shift=(i % 3 - 1) * 0.03)
    ax[0].axvline(0, color="0.5", lw=0.8)
    ax[0].axhline(0, color="0.5", lw=0.8)
    ax[0].set(xlabel="Z (kpc)", ylabel="median [Fe/H] − mean of the R bin (dex)",
              title="(a) median [Fe/H] offset per age bin")
    ax[0].legend(fontsize=8, ncol=2)
    _finish_asym(ax[1], f"(b) asymmetry, young (τ < {YOUNG[1]:g} Gyr)", a_true)
    _finish_asym(ax[2], f"(c) asymmetry, old (τ > {OLD[0]:g} Gyr)", a_true)
    fig.suptitle("Wang+2025 Fig. 6: the asymmetry per age, R > 11 kpc, −5° < Φ < 15° "
                 "(jackknife errors)", fontsize=12)
    return fig


def figure_difference_maps(phi_off: xr.Dataset, limit: float = 0.2):
    """The N − S difference of the offset maps, D(R, |Z|) (spec §4.3 [I]), for −5° < Φ < 15°
    (all ages) and per Φ bin: the quantity the paper reads by eye (0.0–0.15 dex at R > 11)."""
    d = cubes.estimate(stats.north_south(phi_off.offset_feh, "z")).compute()
    name = [v for v in d.data_vars if not v.endswith("_error")][0]
    fig, axs = plt.subplots(2, 3, figsize=(15, 6.5), sharex=True, sharey=True,
                            constrained_layout=True)
    re, ze = R_AXIS.edges, Z_AXIS.edges[Z_AXIS.edges >= -1e-9]
    norm = TwoSlopeNorm(0.0, -limit, limit)
    for i, ax in enumerate(axs.ravel()):
        m = ax.pcolormesh(re, ze, d[name].isel(phi=i).transpose("abs_z", "R"), cmap="RdBu_r",
                          norm=norm)
        ax.axvline(R_OUTER, color="k", ls="--", lw=0.8)
        ax.set_title(f"({'abcdef'[i]}) {PHI_EDGES[i]:g}° < Φ < {PHI_EDGES[i + 1]:g}°")
        if i >= 3:
            ax.set_xlabel("R (kpc)")
        if i % 3 == 0:
            ax.set_ylabel("|Z| (kpc)")
    fig.colorbar(m, ax=axs, shrink=0.8, extend="both",
                 label="offset North − offset South (dex)")
    fig.suptitle("North − South difference of the Fig. 3 maps, D(R, |Z|) (cells with N ≥ 3 "
                 "in both hemispheres)", fontsize=12)
    return fig


def add_homogenisation_rows(table: _common.Table, h: dict) -> None:
    """The §1.5 rows: common stars, knots, P5 at CHECK_AGES ± jackknife (on a mock: against
    the injected correction, the method's target and the error-free-APOGEE check)."""
    cal = h["cal"]
    table.add("age homogenisation: common stars (Gaia source_id)", cal.n_common)
    table.add("age homogenisation: interior knots of the B-spline curves (SIC)",
              cal.median.n_interior, None, "",
              "P5 coefficients (τ in Gyr, lowest first): "
              + ", ".join(f"{c:.3g}" for c in cal.poly.convert().coef))
    mock_ = "injected" in h
    for i, c in enumerate(h["at"]):
        note = ""
        if mock_:
            note = (f"mock: injected {h['injected'][i]:+.2f} Gyr (τ_A − D⁻¹(τ_A)); the method's "
                    f"target median(Δτ | τ_A) with APOGEE's 17 % age errors "
                    f"{h['target'][i]:+.2f} Gyr")
        table.add(f"age correction P5(τ_APOGEE = {c:g} Gyr)", h["value"][i], h["error"][i],
                  "Gyr", note)
    for key, when in (("before", "before"), ("after", "after")):
        v, e = h[key]
        table.add(f"median Δτ of the common stars, {when} the correction", v, e, "Gyr",
                  "τ_APOGEE(,corr) − τ_LAMOST")
    if mock_:
        x = h["exact"]
        for i, c in enumerate(h["at"]):
            table.add(f"mock check: P5(τ_APOGEE = {c:g} Gyr) fitted with APOGEE's age errors "
                      "off", x["value"][i], x["error"][i], "Gyr",
                      f"injected {h['injected'][i]:+.2f} Gyr")


# -- the run ------------------------------------------------------------------------------------
def run(catalog: str | None = None, survey: str = "gaia_dr3", n: int = 2_000_000,
        seed: int = 1, out: str | Path = f"cubes-{NAME}", progress: bool = True,
        feh_offset: float = FEH_OFFSET, apogee: str | None = None,
        apogee_age_column: str = "AGE", with_apogee: bool = True) -> dict:
    """The recipe. ``catalog`` (LAMOST, the reference) and ``apogee`` (an APOGEE DR17 RC file,
    ages in ``apogee_age_column``), or by default the mock split into both surveys
    (``with_apogee=False``: LAMOST only, no homogenisation)."""
    clock = _common.Clock()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    is_mock = catalog is None
    if is_mock and apogee is not None:
        raise ValueError("--apogee needs --catalog: the LAMOST file it is homogenised to and "
                         "merged with (the default mock draws its own APOGEE sample)")
    split = is_mock and with_apogee
    stars = _common.catalog(catalog, survey,
                            lambda: default_mock(n, seed, feh_offset, surveys=split))
    two = split or apogee is not None       # the §1.5 calibration sees ages before any cut
    stars, flow, skipped, mock_apogee = final_sample(
        stars, survey, age_cut=not two, also=mock_apogee_stars(stars) if split else None)
    h = a_flow = m_flow = None
    if split:  # the mock's APOGEE stars, in the RC catalogue's layout, read back as a file
        apogee = out / f"{NAME}_mock_apogee_rc.fits"
        apo.write_apogee_rc(apogee, apo.mock_apogee_columns(
            {k: np.asarray(v) for k, v in mock_apogee.items()}, seed))
    if apogee is not None:
        a_stars, a_flow, a_skipped, _ = final_sample(
            apo.read_apogee_rc(apogee, apogee_age_column), "apogee_dr17", rc_catalog=True,
            age_cut=False)
        skipped += [f"{c} (APOGEE)" for c in a_skipped]
        h = homogenise_ages(stars, a_stars, seed)
        corrected = h["cal"].apply(a_stars.age.values)
        a_stars = a_stars.assign(age_uncorrected=a_stars.age, age=("star", corrected,
                                                                  {"units": "Gyr"}))
        a_stars = a_stars.isel(star=np.flatnonzero(corrected <= AGE_MAX))
        a_flow["+ τ_corr ≤ 14 Gyr (after the §1.5 correction, final)"] = a_stars.sizes["star"]
        stars = stars.isel(star=np.flatnonzero(stars.age.values <= AGE_MAX))
        flow["+ τ ≤ 14 Gyr (after the §1.5 calibration, final)"] = stars.sizes["star"]
        h["corrected_common"] = h["cal"].apply(h["tau_apogee"])
        stars, m_flow = merge_samples(stars, a_stars)
    elif is_mock:
        skipped = [*skipped, "age homogenisation LAMOST ↔ APOGEE (§1.5; --no-apogee)"]

    cube = map_cube(stars, progress)
    cubes.write_cube(cube, out / f"{NAME}_maps.zarr", overwrite=True)
    phi_off, age_off = phi_maps(cube).compute(), age_maps(cube).compute()
    outer = outer_cubes(stars, phi_off, age_off, progress)
    for name, c in outer.items():
        cubes.write_cube(c, out / f"{NAME}_{name}.zarr", overwrite=True)
    op, oa = outer["outer_phi"], outer["outer_age"]
    groups = {"AC": anticentre(op),
              "west": op.sel(phi=slice(PHI_EDGES[0], AC[0])).cube.sum("phi"),
              "east": op.sel(phi=slice(AC[1], PHI_EDGES[-1])).cube.sum("phi")}
    prof_phi, prof_age = profiles(op), profiles(oa)
    prof_groups = {k: profiles(c) for k, c in groups.items()}
    young = oa.sel(age=slice(*YOUNG)).cube.sum("age")
    old = oa.sel(age=slice(*OLD)).cube.sum("age")
    pools = {k: pooled(c) for k, c in {**groups, "young": young, "old": old}.items()}
    inner = inner_disk(cube)

    truth = None
    if is_mock:
        sig = [s for s in stars.attrs["truth"]["signals"] if s["kind"] == "north_south"]
        truth = sig[0]["feh_offset"] if sig else 0.0
    sample = "mock giants" if is_mock else f"{survey} red clump"
    if h is not None:
        sample = f"{sample} + APOGEE{'-like mock' if is_mock else ''} red clump, merged"
    panels = {"phi": map_panels(phi_off), "age": map_panels(age_off)}
    figs = {
        "fig3_phi_maps": figure_maps(
            panels["phi"].offset, "phi", PHI_EDGES, f"Wang+2025 Fig. 3: metallicity-offset "
            f"maps per Φ bin ({sample}; white: N < {MIN_STARS}; dashed: R = 11 kpc)"),
        "fig5_age_maps": figure_maps(
            panels["age"].offset, "age", AGE_EDGES, f"Wang+2025 Fig. 5: metallicity-offset "
            f"maps per age bin, −5° < Φ < 15° ({sample}; white: N < {MIN_STARS})"),
        "fig4_phi_profiles": figure_phi_profiles(prof_phi, prof_groups, truth),
        "fig6_age_profiles": figure_age_profiles(prof_age, truth),
        "difference_maps": figure_difference_maps(phi_off),
        "fig7_phi_raw_maps": figure_raw_maps(
            panels["phi"], "phi", PHI_EDGES, f"Wang+2025 Fig. 7: mean [Fe/H] per cell (rows 1, "
            f"3) and the mean of its R bin, μ_R (rows 2, 4), per Φ bin; Fig. 3 = raw − μ_R\n"
            f"({sample}; white: N < {MIN_STARS}; dashed: R = 11 kpc)"),
        "fig8_age_raw_maps": figure_raw_maps(
            panels["age"], "age", AGE_EDGES, f"Wang+2025 Fig. 8: mean [Fe/H] per cell (rows 1, "
            f"3) and μ_R (rows 2, 4) per age bin, −5° < Φ < 15°; Fig. 5 = raw − μ_R\n"
            f"({sample}; white: N < {MIN_STARS}; dashed: R = 11 kpc)"),
    }
    if h is not None:
        figs["fig2_age_calibration"] = figure_age_calibration(h)
    _common.save_figures(figs, out, "wang2025")

    table = _common.Table(f"Wang et al. 2025 (spec 001): headline numbers, {sample}")
    if h is not None:
        for stage, count in flow.items():
            table.add(f"stars (LAMOST): {stage}", count)
        for stage, count in a_flow.items():
            table.add(f"stars (APOGEE RC): {stage}", count)
        for stage, count in m_flow.items():
            table.add(f"stars: {stage}", count)
        add_homogenisation_rows(table, h)
    else:
        _common.add_cut_flow(table, flow)
    table.add(f"stars with R > {R_OUTER:g} kpc, |Z| < 2.1 kpc, −5° < Φ < 15°",
              int(groups["AC"]["count"].sum()))
    if truth is not None:
        table.add("mock: injected N − S [Fe/H] offset beyond R_min = 11 kpc (true R, z)", truth,
                  None, "dex", "attrs['truth']['signals']")
    labels = {"AC": "−5° < Φ < 15°", "west": "−35° < Φ < −5°", "east": "15° < Φ < 35°",
              "young": f"−5° < Φ < 15°, τ < {YOUNG[1]:g} Gyr",
              "old": f"−5° < Φ < 15°, τ > {OLD[0]:g} Gyr"}
    for key, lab in labels.items():
        p = pools[key]
        note = ("stars pooled over |Z| < 2.1 kpc"
                + (f"; mock truth (same stars): {float(p.truth):.4f} dex" if "truth" in p
                   else ""))
        table.add(f"N − S mean [Fe/H] offset, R > 11 kpc, {lab}", p.mean_difference,
                  p.mean_difference_error, "dex", note)
        table.add(f"N − S median [Fe/H] offset, R > 11 kpc, {lab}", p.median_difference,
                  p.median_difference_error, "dex", "stars pooled over |Z| < 2.1 kpc")
        if key == "AC":
            m = profile_mean(groups["AC"])
            table.add(f"N − S median [Fe/H], R > 11 kpc, {lab}, mean over |Z| < 1.5 kpc", m.d,
                      m.d_error, "dex", "ΔNS(|Z|) of 0.3 kpc bins, weights N_N N_S/(N_N + N_S)")
            table.add(f"A (linear), R > 11 kpc, {lab}, pooled |Z| < 2.1 kpc", p.A, p.A_error,
                      "", "tanh(ln10 ΔNS/2) of the pooled medians"
                      + (f"; injected {np.tanh(0.5 * np.log(10) * truth):.3f}"
                         if truth is not None else ""))
            for zc in HEADLINE_Z:
                q = prof_groups["AC"].sel(abs_z=zc, method="nearest")
                table.add(f"A(|Z| = {zc - 0.15:.1f}–{zc + 0.15:.1f} kpc), R > 11 kpc, {lab}",
                          q.A, q.A_error, "", f"ΔNS = {float(q.difference):.3f} ± "
                          f"{float(q.difference_error):.3f} dex (medians)")
    table.add("N − S mean [Fe/H] offset, inner disk 6 ≤ R < 10.8 kpc, −5° < Φ < 15°",
              inner.mean_difference, inner.mean_difference_error, "dex",
              "paper: mirror-symmetric (0)" + (f"; mock truth (same stars): "
                                               f"{float(inner.truth):.4f} dex"
                                               if "truth" in inner else ""))
    if skipped:
        table.add("cuts not applicable to this catalog", None, None, "", "; ".join(skipped))
    table.add("wall time", clock(), None, "s")
    csv_path, md_path = table.write(out, f"{NAME}_table")
    print(md_path.read_text())
    return {"table": table.rows, "phi_maps": phi_off, "age_maps": age_off,
            "panels": panels, "homogenisation": h,
            "profiles": {"phi": prof_phi, "age": prof_age, **prof_groups}, "pooled": pools,
            "inner": inner, "flow": flow, "apogee_flow": a_flow, "merge_flow": m_flow,
            "out": str(out), "seconds": clock()}


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(NAME, __doc__.splitlines()[0], n_default=2_000_000)
    p.add_argument("--feh-offset", type=float, default=FEH_OFFSET,
                   help="dex: the default mock's N − S [Fe/H] offset beyond R = 11 kpc")
    p.add_argument("--apogee", help="APOGEE DR17 red-clump file (with ages) to homogenise to "
                   "--catalog (LAMOST) and merge with it (spec §1.5, A4)")
    p.add_argument("--apogee-age-column", default="AGE",
                   help="the --apogee file's age column, Gyr (Anders+2023 ages joined)")
    p.add_argument("--no-apogee", action="store_true",
                   help="default mock: LAMOST only (no second survey, no homogenisation)")
    a = p.parse_args(argv)
    run(a.catalog, a.survey, a.n, a.seed, a.out, not a.no_progress, a.feh_offset,
        apogee=a.apogee, apogee_age_column=a.apogee_age_column, with_apogee=not a.no_apogee)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
