"""Wang et al. 2025: a North–South metallicity asymmetry in the outer disk (spec 001).

``cubes recipe wang2025_ns_metallicity [--catalog FILE --survey lamost|apogee_dr17] [--out DIR]``

Methods (spec ../shared/specs/001_wang2025_ns_metallicity.md, paper §2–3):

1. Catalog (§1.1): a LAMOST or APOGEE red-clump file, or by default a Gaia-like mock of
   spectroscopic giants (red clump + RGB) in the paper's frame with [Fe/H] raised by
   ``--feh-offset`` dex North of the plane beyond R = 11 kpc (docs/mocks.md).
2. Red clump (§1.2): the catalog's ``is_rc`` flag; on the mock, a box in the observed log g and
   Teff around the mock's red clump (2.2–2.6 dex, 4500–4900 K), which keeps some RGB stars.
3. Quality cuts (§1.3): τ ≤ 14 Gyr, σ[M/H] ≤ 0.15, σ[α/M] ≤ 0.15 and (LAMOST) SNR_g ≥ 30 where
   the file has the columns; |Z| ≤ 5 kpc and −35° ≤ Φ < 35° after step 4. The LAMOST ↔ APOGEE
   age homogenisation (§1.5) needs both surveys and is not done (one catalog per run).
4. Frame (§2): R⊙ = 8.34 kpc, Z⊙ = 25 pc (preset "wang2025"; astropy's frame, A8), Φ = 0 at the
   Sun, increasing with rotation. Distances: the file's RC distance column (§1.4) or, on the
   mock, 1/ϖ with σ_ϖ/ϖ < 0.2 (a stand-in for the 5–10 % RC distances).
5. Cubes (§3): (Φ [6 bins], τ [6 bins], R [0.6 kpc, 6–15], Z [0.3 kpc, |Z| < 2.1]) with [Fe/H]
   sums; and for R > 11 kpc, (Φ or τ, Z, Δ[Fe/H]) with Δ[Fe/H] = [Fe/H] − μ_R finely binned
   (0.01 dex) for medians; 16 jackknife groups; written to Zarr.
6. Statistics (§4): offset maps ⟨[Fe/H]⟩ − μ_R per Φ bin and per age bin (N ≥ 3), the N − S
   difference maps, median Δ[Fe/H](Z) for R > 11 kpc, the asymmetry index A(|Z|) (Eq. 1, mode
   "linear", and the plain N − S difference); jackknife errors (the paper gives no method).
7. Figures 3, 4, 5, 6 of the paper and a table of headline numbers with errors (and, on the mock,
   the injected truth).
"""

from __future__ import annotations

from pathlib import Path

import dask
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.colors import TwoSlopeNorm

import cubes
from cubes import axes, mock, stats
from cubes.mock.gaia_like import STELLAR_TYPES
from cubes.stats import asymmetry, maps

try:  # run as a module (cubes recipe …) or as a script (python recipes/…)
    from . import _common
except ImportError:  # pragma: no cover
    import _common

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


# -- 1. catalog ---------------------------------------------------------------------------------
def default_mock(n: int, seed: int, feh_offset: float = FEH_OFFSET) -> xr.Dataset:
    """Giants within D_MAX of the Sun in the Wang+2025 frame, N − S [Fe/H] offset beyond 11 kpc."""
    signal = mock.NorthSouth(R_min=R_OUTER, sigma_vz_ratio=1.0, feh_offset=feh_offset)
    stars = mock.disk(n, seed=seed, frame=FRAME, signals=[signal], d_max=D_MAX, types=GIANTS)
    # the injected offset of each star (truth): binned like [Fe/H], it gives the sample's truth
    shift = xr.apply_ufunc(lambda R, z: feh_offset * signal.applies(R, z), stars.R_true,
                           stars.z_true, dask="parallelized", output_dtypes=[np.float64])
    return stars.assign(feh_signal_true=shift.assign_attrs(units="dex"))


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


def quality_cuts(stars: xr.Dataset, survey: str) -> tuple[xr.Dataset, list[str]]:
    """§1.3: τ ≤ 14 Gyr, σ[M/H] ≤ 0.15, σ[α/M] ≤ 0.15, LAMOST SNR_g ≥ 30 (A5) — each where the
    catalog has the column; returns the cuts that could not be applied."""
    cuts, skipped = ["age <= 14", "feh_error <= 0.15"], []
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


def final_sample(stars: xr.Dataset, survey: str) -> tuple[xr.Dataset, dict, list[str]]:
    """Steps 2–4 in one pass over the catalog: the selected stars in memory and the cut flow."""
    stars = spectroscopy(stars, survey)
    flow = {"catalog": xr.ones_like(stars.ra, dtype=bool)}
    stars = red_clump(stars)
    flow["red clump"] = stars.selected
    stars, skipped = quality_cuts(stars, survey)
    flow["+ quality cuts (§1.3)"] = stars.selected
    stars = cubes.select(positions(stars), "abs(z) <= 5", "phi >= -35", "phi < 35")
    flow["+ |Z| ≤ 5 kpc, −35° ≤ Φ < 35° (final)"] = stars.selected
    keep = [v for v in ("source_id", "R", "phi", "z", "feh", "age", "feh_signal_true", "R_true",
                        "z_true") if v in stars.variables]
    mask = stars.selected.data
    cols = {v: stars[v].data[mask] for v in keep}
    counts = {k: m.data.sum() for k, m in flow.items()}
    cols, counts = dask.compute(cols, counts)
    out = xr.Dataset({v: ("star", np.asarray(a), stars[v].attrs) for v, a in cols.items()},
                     attrs={**stars.attrs, "id_column": stars.attrs.get("id_column",
                                                                        "source_id")})
    return out, {k: int(c) for k, c in counts.items()}, skipped


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
def figure_maps(off: xr.Dataset, dim: str, edges, title: str, limit: float = 0.3):
    """Figs 3 and 5: mean [Fe/H] offset on R–Z, one panel per Φ or age bin, white where N < 3."""
    est = cubes.estimate(off.offset_feh)
    fig, axs = plt.subplots(2, 3, figsize=(15, 7.8), sharex=True, sharey=True,
                            constrained_layout=True)
    norm = TwoSlopeNorm(0.0, -limit, limit)
    re, ze = R_AXIS.edges, Z_AXIS.edges
    for i, ax in enumerate(axs.ravel()):
        v = est.offset_feh.isel({dim: i}).transpose("z", "R")
        mesh = ax.pcolormesh(re, ze, v, cmap="RdBu_r", norm=norm)
        ax.axhline(0, color="k", lw=0.6)
        ax.axvline(R_OUTER, color="k", ls="--", lw=0.8)
        ax.set_facecolor("white")
        lo, hi = edges[i], edges[i + 1]
        label = (f"({'abcdef'[i]}) {lo:g}° < Φ < {hi:g}°" if dim == "phi"
                 else f"({'abcdef'[i]}) {lo:g} < τ < {hi:g} Gyr")
        ax.set_title(label, fontsize=11)
        if i >= 3:
            ax.set_xlabel("R (kpc)")
        if i % 3 == 0:
            ax.set_ylabel("Z (kpc)")
    fig.colorbar(mesh, ax=axs, shrink=0.8, extend="both",
                 label="mean [Fe/H] − mean of the R bin (dex)")
    fig.suptitle(title, fontsize=12)
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


# -- the run ------------------------------------------------------------------------------------
def run(catalog: str | None = None, survey: str = "gaia_dr3", n: int = 2_000_000,
        seed: int = 1, out: str | Path = f"cubes-{NAME}", progress: bool = True,
        feh_offset: float = FEH_OFFSET) -> dict:
    clock = _common.Clock()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    is_mock = catalog is None
    stars = _common.catalog(catalog, survey, lambda: default_mock(n, seed, feh_offset))
    stars, flow, skipped = final_sample(stars, survey)
    if is_mock:
        skipped = [*skipped, "age homogenisation LAMOST ↔ APOGEE (§1.5)"]

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
    figs = {
        "fig3_phi_maps": figure_maps(
            phi_off, "phi", PHI_EDGES, f"Wang+2025 Fig. 3: metallicity-offset maps per Φ bin "
            f"({sample}; white: N < {MIN_STARS}; dashed: R = 11 kpc)"),
        "fig5_age_maps": figure_maps(
            age_off, "age", AGE_EDGES, f"Wang+2025 Fig. 5: metallicity-offset maps per age "
            f"bin, −5° < Φ < 15° ({sample}; white: N < {MIN_STARS})"),
        "fig4_phi_profiles": figure_phi_profiles(prof_phi, prof_groups, truth),
        "fig6_age_profiles": figure_age_profiles(prof_age, truth),
        "difference_maps": figure_difference_maps(phi_off),
    }
    _common.save_figures(figs, out, "wang2025")

    table = _common.Table(f"Wang et al. 2025 (spec 001): headline numbers, {sample}")
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
            "profiles": {"phi": prof_phi, "age": prof_age, **prof_groups}, "pooled": pools,
            "inner": inner, "flow": flow, "out": str(out), "seconds": clock()}


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(NAME, __doc__.splitlines()[0], n_default=2_000_000)
    p.add_argument("--feh-offset", type=float, default=FEH_OFFSET,
                   help="dex: the default mock's N − S [Fe/H] offset beyond R = 11 kpc")
    a = p.parse_args(argv)
    run(a.catalog, a.survey, a.n, a.seed, a.out, not a.no_progress, a.feh_offset)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
