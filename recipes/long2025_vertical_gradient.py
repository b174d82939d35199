"""Long et al. 2025: the vertical [Fe/H] gradient of mono-temperature populations (spec 003).

``cubes recipe long2025_vertical_gradient [--catalog FILE --survey lamost] [--out DIR]
[--clusters FILE] [--cepheids FILE --cepheids-gaia FILE]``

Methods (spec ../shared/specs/003_long2025_vertical_gradient.md, paper §2–3):

1. Catalog: a LAMOST × Gaia file, or by default a Gaia-like mock in the paper's frame whose
   luminosity function is mostly OBA and FGK dwarfs (so every T_eff group is populated), with
   LAMOST-like radial velocities and 10 % distances standing in for BJ21 (docs/mocks.md).
   **In the mock T_eff is not an age proxy**: the stellar type is drawn independently of the
   disk population, so every T_eff group has the same true vertical gradient.
2. Cuts (§1.1–1.2): OBA — S/N_g > 30 and χ² ratio < 1 (when the file has them), σ[Fe/H] < 0.2,
   the chemically-peculiar line [Fe/H] ≤ −1.1e-4 T_eff + 1.4, 7000 < T_eff < 15000 K,
   3.5 < log g < 5, −1.2 < [Fe/H] < 0.5, RUWE < 1.4; G dwarfs — 5500 < T_eff < 6000 K,
   log g > 4.1, RUWE < 1.4; both |Z| < 1 kpc and 7 < R ≤ 13 kpc (the analysis range).
3. Frame "long2025" (§2): R⊙ = 8.178 kpc, Z⊙ = 0; Z_max from the vertical energy at each
   star's R (``cubes.dynamics.zmax_energy``) in the paper's McMillan17 (galpy's, in its own
   units R0 = 8.21 kpc, v0 = 233.1 km/s; ``--potential MWPotential2014`` scales that one to
   the frame's R⊙ and v_c instead).
4. T_eff systematics (§1.4): a 6th-order polynomial of [Fe/H] in T_eff fitted to the OBA stars
   at 8.7 < R < 9.5 kpc, subtracted from every OBA star (the calibration median added back);
   the G dwarfs' Niu et al. 2023 calibration is not reproduced (identity).
5. Cubes (§3): (T_eff group, R in 0.25 kpc, |Z| or Z_max in 0.06 kpc, [Fe/H] in 0.01 dex) with
   16 jackknife groups, written to Zarr.
6. Statistics (§4.1–4.3): radial trend per group (OBA: binned median in R; G dwarfs: linear
   fit at |Z| < 0.2 kpc); median Δ[Fe/H] per (group, R bin, height bin), cells with ≥ 10 stars;
   unweighted OLS of the medians on the bin centres → d[Fe/H]/d|Z| and d[Fe/H]/dZ_max per
   group and R bin (7, 9], (9, 11], (11, 13] kpc, with and without the radial correction.
7. Figures 4 (profiles) and the gradient vs T_eff summary, and a table of headline numbers
   (on the mock with the truth: the model's median-[Fe/H] profile of the same selected stars).
8. The validation tracers (§1.5–1.6, Figs. 6–7; ``_long2025_tracers``): open clusters in the
   Zhong+2020 layout and Cepheids in the Drimmel+2023 table2 layout (+ Gaia DR3 kinematics),
   by default a mock of young tracers from the same disk (``cubes.mock.tracers``) written in
   those layouts and read back; positions in the long2025 frame, Z_max from galpy orbits in
   McMillan17 (in a thread, while 1–7 run); a linear radial trend removed, then per-object
   OLS of Δ[Fe/H] on |Z| and Z_max per age group (clusters) or R bin (Cepheids).
"""

from __future__ import annotations

import dataclasses
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import xarray as xr
from scipy.special import ndtr

import cubes
from cubes import axes, mock
from cubes.dynamics import own_units, zmax_energy
from cubes.stats import gradients

try:  # run as a module (cubes recipe …) or as a script (python recipes/…)
    from . import _common
    from . import _long2025_tracers as tracers
except ImportError:  # pragma: no cover
    import _common
    import _long2025_tracers as tracers

NAME = "long2025_vertical_gradient"
FRAME = cubes.Frame.preset("long2025")
#: §1.3 / §3.1: the five mono-temperature populations, [lo, hi) in K (spec A10)
GROUPS = {"G dwarfs": (5500.0, 6000.0), "OBA 7000–8000 K": (7000.0, 8000.0),
          "OBA 8000–9000 K": (8000.0, 9000.0), "OBA 9000–10500 K": (9000.0, 10500.0),
          "OBA 10500–15000 K": (10500.0, 15000.0)}
SHORT = ["Gdw", "7–8 kK", "8–9 kK", "9–10.5 kK", "10.5–15 kK"]
GDW, OBA = [0], [1, 2, 3, 4]
R_BINS = [7.0, 9.0, 11.0, 13.0]         # §3.2, right-closed (lo, hi]
R_FINE = axes.regular(7.0, 13.0, 0.25)  # radial-trend bins (spec A5)
HEIGHT = axes.regular(0.0, 1.02, 0.06)  # §3.3: 0.06 kpc |Z| and Z_max bins (A3)
FEH = axes.regular(-1.6, 1.0, 0.01)     # finely binned [Fe/H] for the medians
CALIBRATION_R = (8.7, 9.5)              # §1.4
GDW_TREND_Z = (0.0, 0.2)                # §4.2: |Z| < 0.2 kpc (the 0.06 kpc bins inside it)
MIN_STARS = 10                          # per (group, R bin, height bin) cell (spec A2)
REPLICATES = 16
FEH_RANGE = (-1.2, 0.5)
#: the default mock's luminosity function: the library's OBA and FGK dwarfs only
MOCK_TYPES = (dataclasses.replace(mock.STELLAR_TYPES[0], fraction=0.6),
              dataclasses.replace(mock.STELLAR_TYPES[1], fraction=0.4))
MOCK_RV_ERROR, MOCK_DISTANCE_ERROR = 5.0, 0.10  # km/s; fractional (lognormal)


# -- 1. catalog ----------------------------------------------------------------------------
def default_mock(n: int, seed: int) -> xr.Dataset:
    """Gaia-like mock in the Long+2025 frame, OBA and FGK dwarfs, d ≤ 5 kpc, G ≤ 17, with a
    LAMOST-like RV for every star (truth + 5 km/s noise; LAMOST measures one per spectrum) and
    a photo-geometric-like distance (truth × e^{N(0, 0.1)}) in place of BJ21."""
    stars = mock.disk(n, seed=seed, frame=FRAME, types=MOCK_TYPES, d_max=5.0)
    chunks = stars.radial_velocity_true.data.chunks
    rng = da.random.default_rng(seed + 2025)
    rv = stars.radial_velocity_true + xr.DataArray(
        rng.normal(0.0, MOCK_RV_ERROR, n, chunks=chunks), dims="star")
    dist = stars.distance_true * xr.DataArray(
        np.exp(rng.normal(0.0, MOCK_DISTANCE_ERROR, n, chunks=chunks)), dims="star")
    return stars.assign(radial_velocity=rv.assign_attrs(units="km / s"),
                        radial_velocity_error=xr.full_like(rv, MOCK_RV_ERROR),
                        distance=dist.assign_attrs(units="kpc"))


# -- 2. the paper's cuts -------------------------------------------------------------------
def cp_ceiling(teff):
    """§1.1 cut 4: chemically peculiar stars lie above [Fe/H] = −1.1e-4 T_eff + 1.4."""
    return -1.1e-4 * np.asarray(teff) + 1.4


def quality_cuts(stars: xr.Dataset) -> tuple[xr.Dataset, list[str]]:
    """§1.1 (OBA) and §1.2 (G dwarfs) cuts on the catalog's own columns, as one selection;
    returns the catalog and the cuts it could not apply (columns it lacks)."""
    _common.need(stars, ["teff", "logg", "feh"], "the Long+2025 cuts")
    oba = ["feh <= -1.1e-4 * teff + 1.4", "(teff > 7000) & (teff < 15000)",
           "(logg > 3.5) & (logg < 5)", f"(feh > {FEH_RANGE[0]}) & (feh < {FEH_RANGE[1]})"]
    gdw = ["(teff > 5500) & (teff < 6000)", "logg > 4.1"]
    skipped = []
    for column, cut, sample in (("snr_g", "snr_g > 30", oba), ("chi2ratio", "chi2ratio < 1", oba),
                                ("feh_error", "feh_error < 0.2", oba),
                                ("ruwe", "ruwe < 1.4", oba), ("ruwe", "ruwe < 1.4", gdw)):
        if column in stars.variables:
            sample.append(cut)
        elif cut not in skipped:
            skipped.append(cut)
    both = " | ".join("(" + " & ".join(f"({c})" for c in s) + ")" for s in (oba, gdw))
    return cubes.select(stars, both), skipped


# -- 3. frame and Z_max --------------------------------------------------------------------
def phase_space(stars: xr.Dataset, potential: str) -> xr.Dataset:
    """§2: R, φ, Z in the Long+2025 frame; Z_max from E_z at the star's R (NaN without RV);
    the analysis range |Z| < 1 kpc and 7 < R ≤ 13 kpc. Distances: ``distance`` (kpc), else
    Bailer-Jones et al. 2021's ``r_med_photogeo`` (pc, the paper's), else 1/parallax."""
    if "distance" not in stars.variables and "r_med_photogeo" in stars.variables:
        stars = stars.assign(distance=(stars.r_med_photogeo / 1000.0).assign_attrs(units="kpc"))
    stars = cubes.galactocentric(stars, FRAME, outputs=("R", "phi", "z", "vz"), errors=False)
    # a fitted model keeps its own units; one in natural units is scaled to the frame
    scale = {} if own_units(potential) else {"ro": FRAME.R0, "vo": FRAME.vc}
    zmax = zmax_energy(stars.R, stars.z, stars.vz, potential=potential, **scale)
    stars = stars.assign(zmax=zmax, abs_z=np.abs(stars.z))
    return cubes.select(stars, "abs_z < 1", f"(R > {R_BINS[0]}) & (R <= {R_BINS[-1]})")


def load(stars: xr.Dataset, columns) -> xr.Dataset:
    """The selected stars' ``columns`` in memory (one pass over the catalog)."""
    keep = stars.selected.data
    cols = [c for c in columns if c in stars.variables]
    arrays = dask.compute(*[stars[c].data[keep] for c in cols])
    out = xr.Dataset({c: ("star", np.asarray(a), stars[c].attrs) for c, a in
                      zip(cols, arrays, strict=True)}, attrs=dict(stars.attrs))
    out.attrs["stars_read"] = int(stars.sizes["star"])
    return out


# -- 4. T_eff groups and the T_eff-systematics correction ---------------------------------
def teff_groups(stars: xr.Dataset) -> xr.Dataset:
    """§1.3: the group index 0–4 of each star (half-open [lo, hi), spec A10)."""
    t = stars.teff.values
    g = np.full(t.shape, -1, np.int64)
    for i, (lo, hi) in enumerate(GROUPS.values()):
        g[(t >= lo) & (t < hi)] = i
    return stars.assign(teff_group=("star", g)).isel(star=g >= 0)


def teff_correction(stars: xr.Dataset, calibrate: bool = True):
    """§1.4: [Fe/H]_corr = [Fe/H] − (P6(T_eff) − median of the calibration stars), P6 a
    6th-order polynomial fitted to the OBA stars at 8.7 < R < 9.5 kpc (A7: on stars, domain
    scaled). G dwarfs: Niu et al. 2023 §3.2 is not in the paper (identity, A8)."""
    t, f, R = stars.teff.values, stars.feh.values, stars.R.values
    oba = stars.teff_group.values >= 1
    cal = oba & (R > CALIBRATION_R[0]) & (R < CALIBRATION_R[1])
    shift = np.zeros_like(f)
    poly = None
    if calibrate and cal.sum() > 50:
        poly = np.polynomial.Polynomial.fit(t[cal], f[cal], 6)
        shift[oba] = poly(t[oba]) - np.median(f[cal])
    return stars.assign(feh_raw=stars.feh, feh=("star", f - shift, stars.feh.attrs),
                        feh_shift=("star", shift)), poly, int(cal.sum())


# -- 5. cubes ------------------------------------------------------------------------------
def build_cubes(stars: xr.Dataset, out: Path, progress: bool,
                replicates: int = REPLICATES) -> dict[str, xr.Dataset]:
    """§3: (group, R, height, [Fe/H]) cubes for height = |Z| and Z_max, to Zarr. The |Z| cube
    also has R and [Fe/H] as values (the G dwarfs' least-squares radial trend)."""
    result = {}
    for dim in ("abs_z", "zmax"):
        kw = {"values": ["feh", "R"], "cross": [("feh", "R")]} if dim == "abs_z" else {}
        cube = cubes.bin_catalog(
            stars, {"teff_group": axes.categorical(list(range(len(GROUPS)))), "R": R_FINE,
                    dim: HEIGHT, "feh": FEH}, replicates=replicates, progress=progress, **kw)
        cube.attrs["teff_groups"] = [f"{k}: [{lo:g}, {hi:g}) K" for k, (lo, hi) in
                                     GROUPS.items()]
        # one stored chunk per jackknife sample: the medians need whole R and [Fe/H] rows
        whole = {d: -1 for d in cube.dims if d != "replicate"}
        cubes.write_cube(cube, out / f"{NAME}_{dim}.zarr", overwrite=True, chunks=whole)
        result[dim] = cubes.open_cube(out / f"{NAME}_{dim}.zarr").load()  # a few MB
    return result


# -- 6. statistics -------------------------------------------------------------------------
def radial_trends(cube: xr.Dataset) -> xr.DataArray:
    """§4.1 step 5 (OBA: median per 0.25 kpc R bin over all |Z|) and §4.2 step 4 (G dwarfs:
    a + bR fitted at |Z| < 0.2 kpc), per group, jackknife samples kept."""
    oba = gradients.radial_trend(cube.isel(teff_group=OBA), "feh", kind="median",
                                 exclude=["abs_z"])
    gdw = gradients.radial_trend(cube.isel(teff_group=GDW), "feh", kind="linear",
                                 exclude=["abs_z"], where={"abs_z": GDW_TREND_Z})
    return xr.concat([gdw, oba], "teff_group").transpose("teff_group", "R", ...).compute()


def vertical_gradients(cubes_: dict, trend: xr.DataArray) -> dict:
    """§4.1 steps 6–7, §4.3: the median-profile fits along |Z| and Z_max, with the radial
    correction ("corrected") and without ("raw").

    **Error choice:** ``slope_error`` is the larger of the jackknife error and the OLS formal
    error of the fit (the paper's, ``slope_stderr``). The jackknife of a median underestimates
    it in sparse cells (a median hardly moves when a few stars leave: Efron 1982), and the OLS
    error of 17 points is itself noisy; over 6 mock seeds × 60 slopes the jackknife alone gave
    pulls up to 6σ, the larger of the two an rms pull of 0.9 with 96 % within 2σ."""
    res = {}
    for dim, cube in cubes_.items():
        for mode, radial in (("corrected", trend), ("raw", None)):
            g = gradients.median_gradient(cube, "feh", dim, radius_bins=R_BINS, radial=radial,
                                          min_count=MIN_STARS)
            e = cubes.estimate(g[["slope", "slope_stderr", "intercept", "median_feh"]]).compute()
            e["count"] = g["count"].sel(replicate=-1, drop=True).compute()
            e["slope_jackknife_error"] = e.slope_error
            e["slope_error"] = np.fmax(e.slope_error, e.slope_stderr)
            res[dim, mode] = e.transpose("teff_group", dim, "R_bin")
    return res


# -- the mock's truth ----------------------------------------------------------------------
def _cell_median(cell, n_cells, w, mu, s, lo, hi, shift, iters=32):
    """Median per cell of Σ_i (1/P_i) p_i(x + shift_i), p_i the star's model [Fe/H] density
    (mixture Σ_k w_ik N(μ_ik, s_i)) truncated to its cut window [lo, hi_i], P_i its mass
    there: the selected stars' distribution, each star standing for the 1/P_i candidates at
    its position and T_eff (the cut depends on [Fe/H] only through the window)."""
    a = (lo - mu) / s[:, None]
    base = ndtr(a)
    P = (w * (ndtr((hi[:, None] - mu) / s[:, None]) - base)).sum(1)
    ok = (cell >= 0) & (P > 1e-12)
    cell, w, mu, s, hi, shift, base, P = (v[ok] for v in (cell, w, mu, s, hi, shift, base, P))
    half = 0.5 * np.bincount(cell, minlength=n_cells)
    left, right = np.full(n_cells, -3.0), np.full(n_cells, 3.0)
    for _ in range(iters):
        mid = 0.5 * (left + right)
        y = np.minimum(mid[cell] + shift, hi)
        F = (w * np.maximum(ndtr((y[:, None] - mu) / s[:, None]) - base, 0.0)).sum(1) / P
        below = np.bincount(cell, F, minlength=n_cells) < half
        left, right = np.where(below, mid, left), np.where(below, right, mid)
    med = 0.5 * (left + right)
    med[half == 0] = np.nan
    return med


def truth(stars: xr.Dataset, res: dict) -> dict:
    """The model's median-profile gradients of the same selected stars (mock only).

    Each star's [Fe/H] distribution given its true position is the model's population mix
    w_k ∝ f_k n_k(z) (for Z_max cells also × N(v_z; 0, σ_k(R)): the mix given (z, v_z)),
    N(feh0_k + g_R(R − R0), √(0.1² + σ_[Fe/H]²)), truncated by the star's cut window and
    shifted by the recipe's own T_eff correction; the radial trend is the model's median per
    0.25 kpc R bin (OBA) or the least-squares line of the model means at |Z| < 0.2 (G dwarfs).
    The medians of the cells are fitted exactly as the data (same cells, OLS at centres)."""
    model = mock.DiskModel.from_describe(stars.attrs["truth"]["disk"])
    pops = model.populations
    R, z, vz = (stars[c].values for c in ("R_true", "z_true", "vz_true"))
    frac = np.array([p.fraction for p in pops])
    nz = model.vertical_density(z).T * frac
    sig = np.array([p.sigma_z for p in pops]) * model.sigma_scale(R)[:, None]
    nzv = nz * np.exp(-0.5 * (vz[:, None] / sig) ** 2) / sig
    weights = {"abs_z": nz / nz.sum(1, keepdims=True), "zmax": nzv / nzv.sum(1, keepdims=True)}
    mu = np.array([p.feh0 for p in pops]) + model.feh_gradient * (R - model.R0)[:, None]
    s = np.hypot(model.feh_scatter, stars.feh_error.values)
    g = stars.teff_group.values
    oba = g >= 1
    hi = np.where(oba, np.minimum(FEH_RANGE[1], cp_ceiling(stars.teff.values)), np.inf)
    lo = np.where(oba, FEH_RANGE[0], -np.inf)[:, None]
    lo = np.broadcast_to(lo, mu.shape)
    c = stars.feh_shift.values
    # radial trend of the model (constant per 0.25 kpc bin, as the cube's)
    fine = np.clip(((stars.R.values - 7.0) / 0.25).astype(int), 0, 23)
    cells = np.where(oba, g * 24 + fine, -1)
    t_med = _cell_median(cells, 5 * 24, weights["abs_z"], mu, s, lo, hi, c)
    trend = np.where(oba, t_med[np.clip(cells, 0, None)], 0.0)
    gd = (g == 0) & (stars.abs_z.values < 0.18)
    if gd.sum() > 3:
        mean_gd = (weights["abs_z"] * mu).sum(1)
        b, a = np.polyfit(R[gd], mean_gd[gd], 1)
        rbar = np.array([stars.R.values[(g == 0) & (fine == k)].mean()
                         if np.any((g == 0) & (fine == k)) else np.nan for k in range(24)])
        trend = np.where(g == 0, a + b * rbar[fine], trend)
    rbin = np.digitize(stars.R.values, R_BINS[1:-1], right=True)
    out = {}
    for dim in ("abs_z", "zmax"):
        h = stars[dim].values
        hb = np.floor(h / 0.06).astype(int)
        inside = np.isfinite(h) & (hb >= 0) & (hb < 17)
        cell = np.where(inside, (g * 3 + rbin) * 17 + np.clip(hb, 0, 16), -1)
        for mode, shift in (("corrected", c + trend), ("raw", c)):
            med = _cell_median(cell, 5 * 3 * 17, weights[dim], mu, s, lo, hi, shift)
            med = med.reshape(5, 3, 17).transpose(0, 2, 1)  # (group, height, R_bin)
            meas = res[dim, mode]
            prof = xr.DataArray(med, dims=("teff_group", dim, "R_bin"),
                                coords={dim: meas[dim].values})
            prof = prof.where(np.isfinite(meas.median_feh.values))
            fit = gradients.profile_gradient(prof, dim)
            out[dim, mode] = {"slope": fit.slope.values, "median_feh": prof}
    # and the plain model ⟨[Fe/H]⟩(R, z) least-squares slope over the same stars, no cuts
    plain = np.full((5, 3), np.nan)
    zt = np.abs(z)
    for gi in range(5):
        for r in range(3):
            m = (g == gi) & (rbin == r)
            if m.sum() > 10:
                plain[gi, r] = np.polyfit(zt[m], model.mean_feh(R[m], z[m]), 1)[0]
    out["mean_lsq"] = plain
    return out


# -- 7. figures ----------------------------------------------------------------------------
def _rlabel(i: int) -> str:
    return f"{R_BINS[i]:g} < R ≤ {R_BINS[i + 1]:g} kpc"


def profiles_figure(res: dict, tru: dict | None, title: str):
    """Paper Fig. 4: median Δ[Fe/H] vs |Z| (black) and vs Z_max (red) per group and R bin,
    with the OLS lines and their slopes."""
    import matplotlib.pyplot as plt

    fig, axs = plt.subplots(5, 3, figsize=(13, 16), sharex=True, sharey=True)
    for gi in range(5):
        for r in range(3):
            ax = axs[gi, r]
            for dim, colour, lab in (("abs_z", "k", "|Z|"), ("zmax", "tab:red", "Z_max")):
                e = res[dim, "corrected"].isel(teff_group=gi, R_bin=r)
                x = e[dim].values
                y, dy = e.median_feh.values, e.median_feh_error.values
                ax.errorbar(x, y, dy, fmt="o", ms=3.5, color=colour, capsize=2, lw=1)
                b, a = float(e.slope), float(e.intercept)
                if np.isfinite(b):
                    ax.plot([0, 1.02], [a, a + 1.02 * b], "--", color=colour, lw=1.2)
                txt = (f"{lab}: {b:+.3f} ± {float(e.slope_error):.3f}" if np.isfinite(b)
                       else f"{lab}: —")
                if tru is not None:
                    t = tru[dim, "corrected"]
                    ax.plot(x, t["median_feh"].isel(teff_group=gi, R_bin=r), ":", lw=1.5,
                            color=colour, alpha=0.7)
                    if np.isfinite(t["slope"][gi, r]):
                        txt += f" (truth {t['slope'][gi, r]:+.3f})"
                ax.text(0.03, 0.06 if dim == "abs_z" else 0.17, txt, transform=ax.transAxes,
                        color=colour, fontsize=9)
            if gi == 0:
                ax.set_title(_rlabel(r), fontsize=11)
            if r == 0:
                ax.set_ylabel(f"{list(GROUPS)[gi]}\nmedian Δ[Fe/H] (dex)", fontsize=10)
            if gi == 4:
                ax.set_xlabel("|Z| (black) or Z_max (red) (kpc)")
            ax.grid(alpha=0.3)
    axs[0, 0].set_xlim(0, 1.02)
    note = " — dotted: truth (model medians of the same stars)" if tru is not None else ""
    fig.suptitle(title + "\nslopes in dex/kpc ± the larger of the jackknife and OLS errors; "
                 "points: jackknife errors" + note, fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.965))
    return fig


def gradient_figure(res: dict, tru: dict | None, title: str):
    """The paper's main result: d[Fe/H]/d|Z| (top) and d[Fe/H]/dZ_max (bottom) against the
    T_eff group (oldest → youngest), per R bin, with and without the radial correction."""
    import matplotlib.pyplot as plt

    fig, axs = plt.subplots(2, 3, figsize=(14, 8.5), sharex=True, sharey="row")
    x = np.arange(5)
    for row, (dim, lab) in enumerate((("abs_z", "d[Fe/H]/d|Z|"), ("zmax", "d[Fe/H]/dZ_max"))):
        for r in range(3):
            ax = axs[row, r]
            for k, (mode, mk, face, name) in enumerate(
                    (("corrected", "o", "tab:blue", "radial trend removed"),
                     ("raw", "s", "none", "no radial correction"))):
                e = res[dim, mode].isel(R_bin=r)
                ax.errorbar(x + (k - 0.5) * 0.18, e.slope, e.slope_error, fmt=mk, ms=6,
                            mfc=face, color="tab:blue", capsize=3, label=name)
                if tru is not None:
                    ax.plot(x + (k - 0.5) * 0.18, tru[dim, mode]["slope"][:, r], "x",
                            color="k" if k == 0 else "0.5", ms=8,
                            label="truth" + ("" if k == 0 else " (no correction)"))
            if tru is not None and dim == "abs_z":
                ax.plot(x, tru["mean_lsq"][:, r], "_", color="tab:green", ms=18, mew=2,
                        label="model ⟨[Fe/H]⟩ slope, before cuts")
            ax.axhline(0, color="0.6", lw=0.8)
            ax.grid(alpha=0.3)
            if row == 0:
                ax.set_title(_rlabel(r), fontsize=11)
            if r == 0:
                ax.set_ylabel(f"{lab} (dex/kpc)")
            if row == 1:
                ax.set_xticks(x, SHORT, rotation=20)
                ax.set_xlabel("T_eff group (the paper's age order: old, mixed → young)")
    handles, labels = axs[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9,
               frameon=False)
    fig.suptitle(title, fontsize=12)
    fig.tight_layout(rect=(0, 0.04, 1, 0.95))
    return fig


# -- the recipe ----------------------------------------------------------------------------
def run(catalog: str | None = None, survey: str = "lamost", n: int = 2_500_000, seed: int = 1,
        out: str | Path = f"cubes-{NAME}", progress: bool = True,
        potential: str = "McMillan17", calibrate: bool = True,
        replicates: int = REPLICATES, *, clusters: str | None = None,
        cepheids: str | None = None, cepheids_gaia: str | None = None,
        with_tracers: bool = True, tracers_only: bool = False,
        orbit_time: float = tracers.ORBIT_TIME, n_clusters: int = tracers.N_CLUSTERS,
        n_cepheids: int = tracers.N_CEPHEIDS, zmax_check: int = 2,
        cluster_columns: dict | None = None, cepheid_columns: dict | None = None) -> dict:
    clock = _common.Clock()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = _common.Table("Long et al. 2025 (spec 003): headline numbers")
    result = {"out": str(out)}
    job = None
    if with_tracers or tracers_only:
        # §1.5–1.6: read (or draw and write) the tracers now and integrate their orbits in a
        # thread while the LAMOST part runs (galpy's C integrator releases the GIL)
        inputs = tracers.prepare(FRAME, seed, out, clusters, cepheids, cepheids_gaia,
                                 n_clusters, n_cepheids, cluster_columns, cepheid_columns)
        pool = ThreadPoolExecutor(1, thread_name_prefix="long2025-orbits")
        job = pool.submit(tracers.add_zmax, inputs["samples"], potential, FRAME, orbit_time,
                          zmax_check)
        pool.shutdown(wait=False)
    if not tracers_only:
        result.update(_lamost(catalog, survey, n, seed, out, progress, potential, calibrate,
                              replicates, table))
    if job is not None:
        samples = job.result()
        result["tracers"] = _tracer_outputs(inputs, samples, out, table)
    table.add("wall time", clock(), None, "s")
    csv_path, md_path = table.write(out, f"{NAME}_table")
    print(md_path.read_text())
    result.update({"table": table.rows, "seconds": clock()})
    return result


def _lamost(catalog, survey, n, seed, out, progress, potential, calibrate, replicates,
            table) -> dict:
    """§1.1–1.4, §3–4: the LAMOST OBA and G-dwarf gradients, figures and table rows."""
    stars = _common.catalog(catalog, survey, lambda: default_mock(n, seed))
    is_mock = "truth" in stars.attrs
    if catalog is not None:
        warnings.warn("the G dwarfs' Niu et al. 2023 [Fe/H] calibration is not applied "
                      "(identity; spec 003 A8)", stacklevel=3)
    stars, skipped = quality_cuts(stars)
    stars = phase_space(stars, potential)
    columns = [stars.attrs.get("id_column", "source_id"), "R", "phi", "z", "abs_z", "zmax",
               "teff", "logg", "feh", "feh_error"]
    columns += ["R_true", "z_true", "vz_true"] if is_mock else []
    stars = load(stars, columns)
    stars = teff_groups(stars)
    stars, poly, n_cal = teff_correction(stars, calibrate)
    cube = build_cubes(stars, out, progress, replicates)
    trend = radial_trends(cube["abs_z"])
    res = vertical_gradients(cube, trend)
    tru = truth(stars, res) if is_mock else None

    what = "mock" if is_mock else Path(catalog).name
    fig = profiles_figure(res, tru, f"Long+2025 Fig. 4 ({what}): median Δ[Fe/H] vs |Z| and "
                                    f"Z_max (E_z at R in {potential}), radial trend removed")
    fig.savefig(out / "long2025_fig4_profiles.png", dpi=100)
    fig = gradient_figure(res, tru, f"Long+2025: vertical [Fe/H] gradient vs T_eff group "
                                    f"({what}; errors: larger of jackknife and OLS)")
    fig.savefig(out / "long2025_gradient_vs_teff.png", dpi=110)

    g = stars.teff_group.values
    for gi, name in enumerate(GROUPS):
        table.add(f"stars, {name} (|Z| < 1, 7 < R ≤ 13 kpc)", int((g == gi).sum()))
    table.add("stars with Z_max (an RV)", int(np.isfinite(stars.zmax.values).sum()))
    table.add("T_eff-correction calibration stars (8.7 < R < 9.5 kpc)", n_cal)
    if poly is not None:
        tt = np.linspace(7000, 15000, 81)
        amp = poly(tt) - poly(tt).mean()
        table.add("T_eff correction, range of P6 over 7000–15000 K", float(np.ptp(amp)), None,
                  "dex", "max − min of the fitted systematics")
    rows = []
    for dim, dl in (("abs_z", "d[Fe/H]/d|Z|"), ("zmax", "d[Fe/H]/dZ_max")):
        for mode in ("corrected", "raw"):
            e = res[dim, mode]
            for gi, name in enumerate(GROUPS):
                for r in range(3):
                    v = float(e.slope[gi, r])
                    err = float(e.slope_error[gi, r])
                    jack = float(e.slope_jackknife_error[gi, r])
                    ols = float(e.slope_stderr[gi, r])
                    t = float(tru[dim, mode]["slope"][gi, r]) if tru else np.nan
                    rows.append({"height": dim, "radial_correction": mode, "group": name,
                                 "R_lo": R_BINS[r], "R_hi": R_BINS[r + 1], "slope": v,
                                 "error": err, "jackknife_error": jack, "ols_error": ols,
                                 "truth": t,
                                 "pull": (v - t) / err if tru else np.nan})
                    if mode == "raw" and dim == "zmax":
                        continue  # in the CSV, not in the headline table
                    note = "radial trend removed" if mode == "corrected" else "no correction"
                    if tru:
                        note += f"; truth {t:+.3f}, pull {(v - t) / err:+.1f}"
                    table.add(f"{dl}, {name}, {_rlabel(r)}", v, err, "dex/kpc", note)
    if tru:
        for r in range(3):
            table.add(f"model ⟨[Fe/H]⟩ slope in |Z| before cuts, {_rlabel(r)}",
                      float(np.nanmean(tru["mean_lsq"][:, r])), None, "dex/kpc",
                      "the same for every T_eff group: T_eff is not an age proxy in the mock")
    if skipped:
        table.add("cuts not applied (columns missing)", len(skipped), None, "",
                  "; ".join(skipped))
    _write_rows(out / f"{NAME}_slopes.csv", rows)
    return {"slopes": rows, "results": res, "truth": tru}


def _tracer_outputs(inputs: dict, samples: dict, out: Path, table) -> dict:
    """§1.5–1.6, Figs. 6–7: the tracers' gradients, their figure, CSVs and table rows."""
    res = tracers.analyse(samples)
    orbit = samples["orbit"]
    what = {k: ("mock" if inputs["mock"][k] else Path(inputs["sources"][k]).name)
            for k in ("clusters", "cepheids")}
    fig = tracers.figure(samples, res, (
        f"Long+2025 Figs. 6–7: open clusters ({what['clusters']}) per age group and Cepheids "
        f"({what['cepheids']}) per R bin — Δ[Fe/H] after the radial line, against |Z| and "
        f"Z_max ({orbit['time']:g} Gyr orbits in {orbit['potential']})"))
    _common.save_figures({"fig6_7_tracers": fig}, out, "long2025", dpi=90)
    rows = tracers.rows(res)
    _write_rows(out / f"{NAME}_tracer_slopes.csv", rows)
    tracers.write_objects(samples, res, out / f"{NAME}_tracers.csv")
    label = {"clusters": "open clusters", "cepheids": "Cepheids"}
    for kind in ("clusters", "cepheids"):
        ds, r = samples[kind], res[kind]
        table.add(f"{label[kind]}: source", None, None, "", str(inputs["sources"][kind]))
        for stage, count in inputs["flows"][kind].items():
            table.add(f"{label[kind]}: {stage}", count)
        table.add(f"{label[kind]} with Z_max (an RV)", int(np.isfinite(ds.zmax.values).sum()))
        t = r["measured"]["trend"]
        note = "a + bR over the whole cut sample, subtracted first (spec A6)"
        if r["truth"]:
            note += (f"; truth {r['truth']['trend']['slope']:+.4f} (the model's g_R "
                     f"{inputs['g_R']:+.3f})")
        table.add(f"{label[kind]}: radial [Fe/H] gradient d[Fe/H]/dR", t["slope"], t["error"],
                  "dex/kpc", note)
        for (group, height, mode), f in r["measured"]["fits"].items():
            if mode == "weighted" or (mode == "raw" and (height == "zmax"
                                                         or kind == "cepheids")):
                continue  # in the tracer CSV
            dl = "d[Fe/H]/d|Z|" if height == "abs_z" else "d[Fe/H]/dZ_max"
            note = (f"N = {f['n']}; " + ("radial trend removed" if mode == "corrected"
                                         else "no radial correction (as Zhong+2020)"))
            if r["truth"]:
                tv = r["truth"]["fits"][group, height, mode]["slope"]
                note += f"; truth {tv:+.3f}, pull {(f['slope'] - tv) / f['error']:+.1f}"
            paper = (tracers.PAPER_OC if mode == "corrected" else tracers.ZHONG2020_OC)
            if kind == "clusters" and height == "abs_z" and group in paper:
                who = "paper" if mode == "corrected" else "Zhong+2020"
                note += f"; {who} {paper[group][0]:+.3f} ± {paper[group][1]:.3f}"
            if kind == "cepheids" and height == "abs_z" and mode == "corrected":
                note += "; paper: all R bins within {:+.3f} … {:+.3f}".format(
                    *tracers.PAPER_DCEP_RANGE)
            raw = "" if mode == "corrected" else " (no radial correction)"
            table.add(f"{dl}, {label[kind]}, {group}{raw}", f["slope"], f["error"],
                      "dex/kpc", note)
        for cut in inputs["skipped"][kind]:
            table.add(f"{label[kind]}: cut not applied", None, None, "", cut)
    check = samples["zmax_check"]
    steps = orbit["n_steps"]
    table.add("tracer Z_max: orbit integration", orbit["time"], None, "Gyr",
              f"galpy dop853_c in {orbit['potential']}, {steps} output times (1 per Myr); "
              "the paper: 10 Gyr, 101 times")
    if check:
        ratio = check["dense_10"] / check["run"]
        table.add(f"tracer Z_max: 10 Gyr / {orbit['time']:g} Gyr orbits, max |ratio − 1|",
                  float(np.max(np.abs(ratio - 1))), None, "",
                  f"the {check['n']} clusters with the highest Z_max, both sampled every Myr")
        paper = check["paper_10"] / check["dense_10"]
        table.add("tracer Z_max: the paper's 101 output times / every Myr, 10 Gyr, min",
                  float(np.min(paper)), None, "", "101 samples can only underestimate")
    return {"results": res, "rows": rows, "samples": samples}


def _write_rows(path: Path, rows: list[dict]) -> None:
    import csv

    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(NAME, __doc__.splitlines()[0], n_default=2_500_000)
    p.set_defaults(survey="lamost")
    p.add_argument("--potential", default="McMillan17",
                   help="galpy potential for Z_max (default: the paper's McMillan17)")
    p.add_argument("--no-teff-correction", action="store_true",
                   help="skip the §1.4 T_eff-systematics polynomial")
    p.add_argument("--replicates", type=int, default=REPLICATES, help="jackknife groups")
    t = p.add_argument_group("tracers (spec §1.5–1.6; default: the mock's, written in the "
                             "archives' layouts)")
    t.add_argument("--clusters", help="open clusters, Zhong+2020 layout (CSV/FITS/Parquet)")
    t.add_argument("--cepheids", help="Cepheids, Drimmel+2023 table2 layout")
    t.add_argument("--cepheids-gaia", help="Gaia DR3 gaia_source file with the Cepheids' "
                                           "pmra, pmdec, radial_velocity (joined by source_id)")
    t.add_argument("--orbit-time", type=float, default=tracers.ORBIT_TIME,
                   help="Gyr of orbit integration for the tracers' Z_max (paper: 10)")
    t.add_argument("--n-clusters", type=int, default=tracers.N_CLUSTERS,
                   help="mock open clusters")
    t.add_argument("--n-cepheids", type=int, default=tracers.N_CEPHEIDS,
                   help="mock Cepheids drawn (about a quarter pass 7 < R ≤ 13 kpc)")
    t.add_argument("--zmax-check", type=int, default=2,
                   help="clusters also integrated 10 Gyr to check --orbit-time (0: none)")
    t.add_argument("--no-tracers", action="store_true", help="skip the tracers")
    t.add_argument("--tracers-only", action="store_true", help="only the tracers")
    a = p.parse_args(argv)
    run(a.catalog, a.survey, a.n, a.seed, a.out, not a.no_progress, a.potential,
        not a.no_teff_correction, a.replicates, clusters=a.clusters, cepheids=a.cepheids,
        cepheids_gaia=a.cepheids_gaia, with_tracers=not a.no_tracers,
        tracers_only=a.tracers_only, orbit_time=a.orbit_time, n_clusters=a.n_clusters,
        n_cepheids=a.n_cepheids, zmax_check=a.zmax_check)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
