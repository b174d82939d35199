"""Lin et al. 2023 §4: the intruder test-particle simulation (spec 000 §5; Figs 7 right, 9–12).

``cubes recipe lin2023_intruder_simulation [--n N] [--dt MYR] [--out DIR]``

Methods (spec ../shared/specs/000_lin2023_ns_dispersion.md §5, paper §4):

1. Simulation (§5.1–5.3, ``cubes.mock.intruder``): n test particles of an exponential disk
   (R_d = 3.7 kpc, 5 < R < 15 kpc) in vertical equilibrium (H = 0.3 kpc) in Irrgang13I,
   relaxed for 0.6 Gyr, kicked once by a 2×10¹⁰ M☉ intruder crossing the plane at
   (x, y) = (20, 0) kpc at 300 km/s (δv_⊥ = δv_∥ [1 − sin θ], T = 66 Myr), integrated on
   (2 Myr steps, ``--dt``); snapshots 0.4, 0.45 and 0.5 Gyr after the kick. The control,
   "t = 0", is the relaxed disk
   just before the kick (the t = 0 snapshot with the kick taken off v_z): it is
   North–South symmetric, so any asymmetry it shows is noise.
2. Kick (§5.3): δv_∥ and δv_⊥ at the spec's reference points (point mass), and the kick the
   window's particles got (1 kpc Plummer softening, the library's choice).
3. Catalog: the four snapshots stacked, time t a categorical axis; θ is the azimuth of the
   simulation frame (intruder at θ = 0, rotation towards +θ) wrapped to [−225°, 135°), so
   the paper's window θ ∈ (−3π/4, −π/4) is one of four 90° azimuth bins (Fig. 11's columns:
   our choice, the paper gives its bins only in the figure). R_g from L_z in Irrgang13I.
4. Cubes (§3): (t, R_g 8–9–10–11 kpc, θ, z 0.05 kpc) with v_z's moments; (t, R_g, θ, z 0.05
   kpc, v_z 2 km/s) and (t, R_g, θ, z 0.08 kpc, v_z 4 km/s) counts; (t, R_g, window, z,
   [Fe/H] 0.01 dex) counts; (t, 8 ≤ R ≤ 9 kpc, θ, R_g-only [Fe/H] bins, z) with v_z's
   moments (Fig. 12); 16 jackknife groups; written to Zarr.
5. σ_vz (§4.1, no error deconvolution: particles are exact), North and South on |z| bins of
   0.05 kpc, Δσ_vz = σ_N − σ_S (§4.2); median [Fe/H](z); δρ = n/n_G − 1 (σ_G = 3 cells,
   §4.3) and δρ_(N−S)(|z|) in |v_z| < 10 km/s (§4.4); Δ median [Fe/H] (§4.5); jackknife
   errors throughout. Maps on 0.08 kpc × 4 km/s cells (σ_G = 3 cells, the paper's rule): with
   the default 6×10⁵ of the paper's 1.5×10⁶ particles they hold 1.6 times as many particles
   as the paper's 0.04 kpc × 2 km/s cells did (``--paper-cells`` for those, with
   ``--n 1500000``).
6. Spirals: spiral–z-axis crossings (§4.8, maxima of the |v_z| < 10 km/s stripe), the spiral
   shape of Fig. 9 (§4.7, 20 sector peaks of δρ), and a detection per (t, R_g, θ) sample by
   the Widmark+2025 model fit (``cubes.spiral.fit``, its n-scaled vetting).
7. Figures 10, 11, 12, 7 (right, and its pre-kick control), the N/S σ_vz profiles per R_g,
   Fig. 9's spiral shape on the simulation, the kick; a table of checkable numbers.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

import cubes
import cubes.spiral as cs
from cubes import axes, stats
from cubes.binning import locate
from cubes.mock.intruder import intruder, kick
from cubes.plot import difference_profiles, north_south_profiles
from cubes.stats import asymmetry, contrast, correlation

try:  # run as a module (cubes recipe …) or as a script (python recipes/…)
    from . import _common
except ImportError:  # pragma: no cover
    import _common

NAME = "lin2023_intruder_simulation"
PREFIX = "lin2023_sim"
N_DEFAULT = 600_000
DT_DEFAULT = 2.0  # Myr: exact enough for R_g ≥ 7 kpc orbits (docs/intruder.md)
TIMES = (0.4, 0.45, 0.5)  # Gyr after the kick (Fig. 10); Figs 7, 9, 11, 12 use the last
PRE = 0.0  # the t = 0 snapshot without its kick: the relaxed disk before the kick
LAST = TIMES[-1]
RG_EDGES = [8.0, 9.0, 10.0, 11.0]
THETA_EDGES = [-225.0, -135.0, -45.0, 45.0, 135.0]  # deg, θ wrapped to [−225, 135)
WINDOW = (-135.0, -45.0)  # the paper's θ ∈ (−3π/4, −π/4)
WIN = -90.0  # its bin centre
FIG10_RG = 9.5  # 9 < R_g < 10 kpc
FEH12_EDGES = [-0.7, -0.1, 0.0, 0.7]  # dex, μ = −0.1 (R_g − 8) labels (Fig. 12; our bins)
Z_AXIS = axes.symmetric(1.5, 0.05)  # kpc: the |z| bins of every profile
MIN_PARTICLES = 20  # per bin and jackknife sample
ZMAX_STATS = 1.0  # kpc: |z| range of the correlations (the paper's Table 1 range)
ZMAX_PLOT = 1.2  # kpc: |z| range of the profile figures and of the asymmetry χ²
WAVE_RANGE = (0.1, ZMAX_PLOT)  # kpc: where the Δσ_vz wave's trough is looked for
Z_CORE = 0.15  # kpc: maxima of the δρ stripe nearer the plane are its core, not a crossing
SHAPE_R_MAX = 0.85  # spiral-shape search r < 0.85 (scaled): beyond, the map's edge ring
NG_MIN = 3.0  # maps show cells whose smoothed count n_G holds at least this many particles
MAP_LIMIT = 0.5  # colour scale of the δρ maps: ±0.5
COLUMNS = ("source_id", "z", "vz", "R", "Rg", "theta", "feh", "feh_rg_only")
#: spec §5.3: point-mass kicks (R kpc, θ rad) → (δv_∥, δv_⊥) km/s
SPEC_KICKS = {(9.5, -3 * math.pi / 4): (7.34, 12.5), (9.5, -math.pi / 2): (6.36, 12.7),
              (9.5, -math.pi / 4): (14.78, 25.2), (8.5, -math.pi / 2): (5.78, 11.6),
              (10.5, -math.pi / 2): (6.91, 13.8)}
#: Lin+2023 Table 1 (observed Sample 2): r(δρ_N−S, Δσ_vz) and r(δρ_N−S, Δ[Fe/H]) per R_g bin
OBSERVED_R = {"dsigma": (-0.647, -0.856, -0.759), "dfeh": (0.595, 0.594, 0.231)}


# ------------------------------------------------------------------------------------------
# §5.1–5.3: the simulation and the catalog


def simulate(n: int, seed: int, dt: float, relax: float, progress: bool):
    """The intruder simulation: snapshots at t = 0 (just after the kick) and at TIMES."""
    return intruder(n, seed, times_after_kick=(0.0, *TIMES), dt=dt, relax=relax,
                    progress=progress)


def stacked_catalog(snaps) -> xr.Dataset:
    """The snapshots as one catalog with a time column t (Gyr after the kick); t = 0 is the
    relaxed disk just before the kick (v_z − δv_⊥ of the t = 0 snapshot)."""
    parts = []
    for t in (PRE, *TIMES):
        ds = snaps[t]
        part = ds[list(COLUMNS)]
        if t == PRE:
            part = part.assign(vz=(ds.vz - ds.dvz_kick).assign_attrs(ds.vz.attrs))
        wrapped = (ds.theta + 225.0) % 360.0 - 225.0
        parts.append(part.assign(
            t=("star", np.full(ds.sizes["star"], t), {"units": "Gyr"}),
            theta_wrapped=wrapped.assign_attrs(units="deg")))
    cat = xr.concat(parts, "star")
    last = snaps[LAST]
    cat.attrs = {"source": last.attrs["source"], "survey": "mock", "id_column": "source_id",
                 "selections": [], "truth": dict(last.attrs["truth"],
                                                 time_after_kick_Gyr=[PRE, *TIMES])}
    return cat


def kick_rows(table: _common.Table, snaps) -> dict:
    """§5.3: the kick at the spec's reference points, and what the window's particles got."""
    out = {}
    for (R, th), (par, perp) in SPEC_KICKS.items():
        k = kick(np.array([R * math.cos(th)]), np.array([R * math.sin(th)]), softening=0.0)
        ks = kick(np.array([R * math.cos(th)]), np.array([R * math.sin(th)]))
        where = f"R = {R:g} kpc, θ = {math.degrees(th):g}°"
        table.add(f"kick δv_⊥ (point mass), {where}", float(k["dv_perp"][0]), None, "km/s",
                  f"spec §5.3: {perp}; δv_∥ = {float(k['dv_par'][0]):.2f} (spec {par}); "
                  f"1 kpc softening: δv_⊥ = {float(ks['dv_perp'][0]):.2f}")
    s0 = snaps[PRE]
    th, rg, dv = s0.theta.values, s0.Rg.values, s0.dvz_kick.values
    win = (th > WINDOW[0]) & (th < WINDOW[1])
    for lo in RG_EDGES[:-1]:
        sel = win & (rg > lo) & (rg < lo + 1)
        q = np.percentile(dv[sel], [16, 50, 84])
        out[lo] = q[1]
        table.add(f"kick δv_⊥ received, window, R_g = {lo:g}–{lo + 1:g} kpc (median)", q[1],
                  None, "km/s", f"16–84 %: {q[0]:.1f}–{q[2]:.1f}; {int(sel.sum()):,} particles")
    return out


# ------------------------------------------------------------------------------------------
# §3: cubes


def build_cubes(cat: xr.Dataset, paper_cells: bool,
                progress: bool = False) -> dict[str, xr.Dataset]:
    """The five cubes of the recipe (module docstring, step 4)."""
    t = axes.categorical((PRE, *TIMES))
    rg = axes.edges(RG_EDGES, column="Rg")
    theta = axes.edges(THETA_EDGES, column="theta_wrapped")
    window = axes.edges(list(WINDOW), column="theta_wrapped")
    dz, dv = (0.04, 2.0) if paper_cells else (0.08, 4.0)
    b = {"t": t, "Rg": rg, "theta": theta}
    kw = {"replicates": 16, "progress": progress}
    built = {
        "profiles": cubes.bin_catalog(cat, {**b, "z": Z_AXIS}, values=["vz"], **kw),
        "stripe": cubes.bin_catalog(cat, {**b, "z": Z_AXIS, "vz": axes.symmetric(60.0, 2.0)},
                                    **kw),
        "maps": cubes.bin_catalog(cat, {**b, "z": axes.symmetric(1.2, dz),
                                        "vz": axes.symmetric(60.0, dv)}, **kw),
        "feh": cubes.bin_catalog(cat, {"t": t, "Rg": rg, "theta": window, "z": Z_AXIS,
                                       "feh": axes.regular(-1.6, 0.8, 0.01)}, **kw),
        "fig12": cubes.bin_catalog(cat, {"t": t, "R": axes.edges([8.0, 9.0]), "theta": theta,
                                         "feh_rg_only": axes.edges(FEH12_EDGES),
                                         "z": Z_AXIS}, values=["vz"], **kw),
    }
    for c in built.values():
        c["t"].attrs.update(units="Gyr", long_name="time since the kick (0: the relaxed disk "
                                                   "just before it)")
        if "theta" in c.dims:
            c["theta"].attrs.update(units="deg", long_name="azimuth θ, simulation frame "
                                                           "(intruder at 0°)")
    return built


def dispersion(cube: xr.Dataset) -> xr.DataArray:
    """σ_vz (§4.1; no error term), NaN in bins with fewer than MIN_PARTICLES particles."""
    return cube.cube.dispersion("vz").where(cube.cube.count() >= MIN_PARTICLES)


def north_south_profiles_of(c: dict[str, xr.Dataset]) -> xr.Dataset:
    """Fig. 7's three NS-difference profiles in the window, per (t, R_g), with replicates."""
    win = {"theta": WIN}
    return xr.Dataset({
        "dsigma": stats.north_south(dispersion(c["profiles"].sel(win)), "z"),
        "drho": contrast.contrast_north_south(c["stripe"].sel(win), vz_max=10.0),
        "dfeh": asymmetry.median_north_south(c["feh"].sel(win), "feh",
                                             min_count=MIN_PARTICLES),
    })


def smoothed_count(cube: xr.Dataset) -> xr.DataArray:
    """n_G of the full sample (the denominator of δρ), to mask cells that are mostly noise."""
    return contrast.smoothed_counts(cube["count"].sum("replicate"))


def map_rms(drho: xr.DataArray, ng: xr.DataArray) -> xr.DataArray:
    """rms of δρ over the cells with n_G ≥ NG_MIN in the ring 0.25 < r < SHAPE_R_MAX of the
    scaled plane (r = √((z/1 kpc)² + (v_z/55 km/s)²)): Poisson noise and the smoothing's
    response to the bulk's curvature before the kick, plus the spiral after it."""
    r = np.hypot(drho.z / 1.0, drho.vz / 55.0)
    keep = (ng >= NG_MIN) & (r > 0.25) & (r < SHAPE_R_MAX)
    return np.sqrt((drho**2).where(keep).mean(["z", "vz"]))


# ------------------------------------------------------------------------------------------
# spirals: detection (Widmark+2025 model fit), crossings (§4.8), shape (§4.7)


def spiral_fits(cat: xr.Dataset, ref: xr.Dataset) -> xr.Dataset:
    """``cubes.spiral.fit`` of the z–v_z histogram of every (t, R_g, θ) sample."""
    bins = {"t": axes.categorical((PRE, *TIMES)), "Rg": axes.edges(RG_EDGES, column="Rg"),
            "theta": axes.edges(THETA_EDGES, column="theta_wrapped")}
    label = locate(cat, bins)
    shape = tuple(label.attrs["shape"])
    hist = cs.histogram(cat.z.values, cat.vz.values, sample=label.values,
                        n_samples=int(np.prod(shape)))
    dims = tuple(label.attrs["dims"])
    coords = {d: ref[d] for d in dims}
    nz, nw = hist.sizes["z"], hist.sizes["w"]
    h = xr.Dataset({"count": ((*dims, "z", "w"),
                              hist["count"].values.reshape(*shape, nz, nw)),
                    "sigma_w": (dims, hist["sigma_w"].values.reshape(shape),
                                hist["sigma_w"].attrs)},
                   coords={**coords, "z": hist["z"], "w": hist["w"]}, attrs=hist.attrs)
    return cs.fit(h, w_sun=0.0)  # Galactocentric v_z: no solar motion


def detected(fits: xr.Dataset) -> xr.DataArray:
    """A spiral: the fit's quality is good or dubious (a gain above the vetting threshold;
    dubious is mostly a spiral too strong for the model: α + β at its bound, a poor fit)."""
    return fits["quality"].isin([cs.GOOD, cs.DUBIOUS])


def verdict(fits: xr.Dataset, sep: str = " ", **sel) -> str:
    """The fit's verdict in words, e.g. "spiral, ω = 6.4 rad (dubious: poor fit)"."""
    f = fits.sel(sel)
    reason = str(f.reason.values).split(";")[0].split(" (")[0]
    if int(f.quality) == cs.GOOD:
        return f"spiral, ω = {float(f.omega):.1f} rad"
    if int(f.quality) == cs.DUBIOUS:
        return f"spiral, ω = {float(f.omega):.1f} rad{sep}(dubious: {reason})"
    return f"no spiral{sep}({reason})"


def spiral_shape(drho: xr.DataArray) -> xr.Dataset:
    """§4.7: the 20 sector peaks of δρ (Fig. 9) in 0.25 < r < SHAPE_R_MAX, jackknife errors."""
    shape = contrast.spiral_shape(drho, r_max=SHAPE_R_MAX)
    return cubes.estimate(shape).compute()


def crossings(stripe: xr.Dataset) -> xr.Dataset:
    """§4.8: the first spiral crossing of the z axis on each side, beyond the core.

    Maxima of the |v_z| < 10 km/s stripe of δρ (``contrast.z_intersections``), the nearest to
    the plane with |z| ≥ Z_CORE: the positive core of δρ at (0, 0) (the smoothing's response to
    the curvature of the bulk density) is no crossing.
    """
    est = cubes.estimate(contrast.z_intersections(stripe, n=1, z_min=Z_CORE)).compute()
    return est.isel(peak=0, drop=True)


# ------------------------------------------------------------------------------------------
# headline numbers


def chi2_zero(est: xr.Dataset, name: str) -> xr.DataArray:
    """χ²/dof of a profile against zero over |z| ≤ ZMAX_PLOT (jackknife errors)."""
    s = est.sel(abs_z=slice(0, ZMAX_PLOT))
    pull2 = (s[name] / s[f"{name}_error"]) ** 2
    return pull2.sum("abs_z") / np.isfinite(pull2).sum("abs_z")


def wave_heights(dsigma: xr.DataArray) -> xr.Dataset:
    """|z| of the Δσ_vz wave, "first a peak, then a trough" (spec §6.2), per replicate.

    The trough is the minimum in WAVE_RANGE, the peak the maximum nearer the plane than the
    trough (NaN if there is none). An argmax's jackknife error is coarse: 0 when every
    leave-one-out sample picks the same bin, large when one jumps to another extremum.
    """
    d = dsigma.sel(abs_z=slice(*WAVE_RANGE))
    trough = d.fillna(np.inf).idxmin("abs_z")
    below = d.where(d.abs_z < trough)
    peak = below.fillna(-np.inf).idxmax("abs_z").where(below.notnull().any("abs_z"))
    return cubes.estimate(xr.Dataset({"z_peak": peak, "z_trough": trough})).compute()


# ------------------------------------------------------------------------------------------
# figures


def _rg_label(rg: float) -> str:
    return f"{rg - 0.5:g} < R_g < {rg + 0.5:g} kpc"


def _theta_label(th: float) -> str:
    lo, hi = th - 45, th + 45
    tag = " (paper's window)" if th == WIN else ""
    return f"{lo:g}° < θ < {hi:g}°{tag}"


def _map(ax, drho: xr.DataArray, ng: xr.DataArray, limit: float):
    m = drho.where(ng >= NG_MIN).transpose("vz", "z")
    mesh = ax.pcolormesh(drho.z, drho.vz, m, cmap="RdBu_r", vmin=-limit, vmax=limit,
                         shading="nearest")
    ax.set_facecolor("0.85")
    return mesh


def fig10(drho, ng, sigma, feh_med, cross) -> plt.Figure:
    """Fig. 10: 9 < R_g < 10 kpc in the window at 0.4 / 0.45 / 0.5 Gyr: δρ, σ_vz(z), [Fe/H]."""
    fig, axs = plt.subplots(3, 3, figsize=(13.5, 11.5), sharex=True, sharey="row",
                            gridspec_kw={"height_ratios": [1.3, 1, 1]}, constrained_layout=True)
    sel = {"Rg": FIG10_RG, "theta": WIN}
    mesh = None
    for j, t in enumerate(TIMES):
        mesh = _map(axs[0, j], drho.sel(t=t, **sel), ng.sel(t=t, **sel), MAP_LIMIT)
        axs[0, j].set_title(f"{t:g} Gyr after the kick", fontsize=11)
        for i, (est, name) in enumerate(((sigma, "sigma_vz"), (feh_med, "median_feh")), 1):
            for tt, color, lab in ((PRE, "0.55", "before the kick (relaxed disk)"),
                                   (t, "tab:blue", "after the kick")):
                e = est.sel(t=tt, **sel)
                axs[i, j].errorbar(e.z, e[name], yerr=e[f"{name}_error"], fmt="o-", ms=2.5,
                                   lw=0.9, capsize=1.5, color=color, label=lab)
            axs[i, j].grid(alpha=0.3)
        for z in cross.sel(t=t, **sel).values.ravel():
            if np.isfinite(z):
                for ax in axs[:, j]:
                    ax.axvline(z, color="k", ls="--", lw=0.9, alpha=0.7)
        axs[2, j].set_xlabel("z [kpc]")
    axs[0, 0].set_xlim(-1.2, 1.2)
    axs[0, 0].set_ylabel("v_z [km/s]")
    axs[1, 0].set_ylabel("σ_vz [km/s]")
    axs[2, 0].set_ylabel("median [Fe/H] [dex]")
    axs[1, 0].legend(fontsize=8, loc="upper center")
    fig.colorbar(mesh, ax=axs[0, :].tolist(), label="δρ = n/n_G − 1", shrink=0.9, pad=0.01)
    fig.suptitle("Lin+2023 Fig. 10 (simulation): 9 < R_g < 10 kpc, −135° < θ < −45°: "
                 "δρ(z, v_z), σ_vz(z) and median [Fe/H](z) (jackknife errors)\n"
                 f"dashed: first spiral crossings of the z axis beyond |z| = {Z_CORE:g} kpc "
                 "(maxima of δρ in |v_z| < 10 km/s)", fontsize=11)
    return fig


def fig11(drho, ng, fits) -> plt.Figure:
    """Fig. 11: δρ at 0.5 Gyr, rows R_g bins, columns azimuth bins, with the fit's verdict."""
    rgs, ths = list(drho.Rg.values), list(drho.theta.values)
    fig, axs = plt.subplots(len(rgs), len(ths), figsize=(3.6 * len(ths) + 1.4,
                                                         3.3 * len(rgs) + 0.6),
                            sharex=True, sharey=True, squeeze=False, constrained_layout=True)
    mesh = None
    for i, rg in enumerate(rgs):
        for j, th in enumerate(ths):
            ax = axs[i, j]
            mesh = _map(ax, drho.sel(t=LAST, Rg=rg, theta=th), ng.sel(t=LAST, Rg=rg, theta=th),
                        MAP_LIMIT)
            n = int(fits["n_stars"].sel(t=LAST, Rg=rg, theta=th))
            ax.set_title(f"{_rg_label(rg)}\n{_theta_label(th)}", fontsize=8.5)
            text = verdict(fits, "\n", t=LAST, Rg=rg, theta=th)
            ax.text(0.03, 0.04, f"{text}\n{n:,} particles",
                    transform=ax.transAxes, fontsize=7.5, va="bottom",
                    bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
            if i == len(rgs) - 1:
                ax.set_xlabel("z [kpc]")
            if j == 0:
                ax.set_ylabel("v_z [km/s]")
    fig.colorbar(mesh, ax=axs.ravel().tolist(), label="density contrast δρ = n/n_G − 1",
                 shrink=0.6)
    fig.suptitle(f"Lin+2023 Fig. 11 (simulation): δρ phase spirals {LAST:g} Gyr after the "
                 "kick, per R_g (rows) and azimuth θ (columns; intruder at θ = 0°); "
                 "verdict: cubes.spiral.fit", fontsize=10)
    return fig


def fig9(drho, ng, shapes) -> plt.Figure:
    """Fig. 9 on the simulation: spiral shapes (20 sector peaks) per R_g bin, window, 0.5 Gyr."""
    rgs = list(drho.Rg.values)
    fig, axs = plt.subplots(1, len(rgs) + 1, figsize=(4.0 * (len(rgs) + 1) + 1.0, 4.2),
                            constrained_layout=True)
    colors = ("tab:green", "tab:blue", "k")
    mesh = None
    for j, rg in enumerate(rgs):
        ax = axs[j]
        mesh = _map(ax, drho.sel(t=LAST, Rg=rg, theta=WIN), ng.sel(t=LAST, Rg=rg, theta=WIN),
                    MAP_LIMIT)
        s = shapes.sel(Rg=rg)
        th = np.deg2rad(s.theta)
        ax.errorbar(s.z, s.vz, xerr=np.abs(np.cos(th)) * s.r_error,
                    yerr=55.0 * np.abs(np.sin(th)) * s.r_error, fmt="o-", ms=3, lw=1,
                    color=colors[j], mec="w", mew=0.5, capsize=1.5)
        ax.set_xlim(-1.2, 1.2)
        ax.set_ylim(-60, 60)
        ax.set_title(_rg_label(rg), fontsize=10)
        ax.set_xlabel("z [kpc]")
        ax.set_ylabel("v_z [km/s]")
        axs[-1].errorbar(s.z, s.vz, fmt="o-", ms=3, lw=1, color=colors[j], label=_rg_label(rg))
    axs[-1].set_xlim(axs[0].get_xlim())
    axs[-1].set_ylim(axs[0].get_ylim())
    axs[-1].set_xlabel("z [kpc]")
    axs[-1].set_ylabel("v_z [km/s]")
    axs[-1].set_title("the three spiral shapes", fontsize=10)
    axs[-1].legend(fontsize=8)
    axs[-1].grid(alpha=0.3)
    fig.colorbar(mesh, ax=axs[:-1].tolist(), label="δρ", shrink=0.85)
    fig.suptitle(f"Lin+2023 Fig. 9 method on the simulation, {LAST:g} Gyr after the kick, "
                 "−135° < θ < −45°: spiral shape = δρ peak of each of 20 sectors of the "
                 f"(z/1 kpc, v_z/55 km/s) plane, 0.25 < r < {SHAPE_R_MAX:g} "
                 "(jackknife errors)", fontsize=10)
    return fig


def fig_kick() -> plt.Figure:
    """The kick δv_⊥(θ) at three radii, the spec's reference points and the window."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2), constrained_layout=True)
    th = np.linspace(-math.pi, math.pi, 721)
    top = 0.0
    for R, color in ((8.5, "tab:green"), (9.5, "tab:blue"), (10.5, "k")):
        k = kick(R * np.cos(th), R * np.sin(th))
        top = max(top, float(k["dv_perp"].max()))
        ax.plot(np.rad2deg(th), k["dv_perp"], color=color, lw=1.2,
                label=f"R = {R:g} kpc (1 kpc softening)")
    pts = [(R, t, p) for (R, t), (_, p) in SPEC_KICKS.items()]
    ax.plot([math.degrees(t) for _, t, _ in pts], [p for *_, p in pts], "r*", ms=9,
            label="spec §5.3 (point mass)")
    ax.axvspan(*WINDOW, color="0.85", zorder=0, label="the paper's window")
    ax.set_xlabel("azimuth θ at the kick [deg] (intruder at 0°)")
    ax.set_ylabel("vertical kick δv_⊥ [km/s]")
    ax.set_xlim(-180, 180)
    ax.set_ylim(0, 1.05 * top)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("Lin+2023 §4.1 kick δv_⊥ = δv_∥ [1 − sin θ], 2×10¹⁰ M☉ at (20, 0) kpc, "
                 "T = 66 Myr", fontsize=10)
    return fig


def _rows(est: xr.Dataset, names: dict[str, str]) -> dict[str, xr.Dataset]:
    return {label: est[[k, f"{k}_error"]].rename({k: "d", f"{k}_error": "d_error"})
            .sel(abs_z=slice(0, ZMAX_PLOT)) for k, label in names.items()}


PROFILE_NAMES = {"dsigma": "Δσ_vz = σ_N − σ_S [km/s]",
                 "drho": "δρ_N − δρ_S, |v_z| < 10 km/s",
                 "dfeh": "Δ median [Fe/H] [dex]"}


# ------------------------------------------------------------------------------------------


def run(n: int = N_DEFAULT, seed: int = 1, out: str | Path = f"cubes-{NAME}",
        progress: bool = True, dt: float = DT_DEFAULT, relax: float = 0.6,
        paper_cells: bool = False) -> dict:
    clock = _common.Clock()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = _common.Table("Lin et al. 2023 §4 (spec 000 §5): the intruder simulation")
    snaps = simulate(n, seed, dt, relax, progress)
    t_sim = clock()
    table.add("particles (5 < R < 15 kpc initially)", n, None, "", "paper: ≈ 1.5 M")
    table.add("integration step", dt, None, "Myr", f"relaxation {relax:g} Gyr (paper 0.6); "
              f"simulation {t_sim:.0f} s")
    kicks = kick_rows(table, snaps)
    cat = stacked_catalog(snaps)
    del snaps

    # §3–4: cubes and statistics
    c = build_cubes(cat, paper_cells, progress)
    for name, cube in c.items():
        cubes.write_cube(cube, out / f"{NAME}_{name}.zarr", overwrite=True)
    win = {"theta": WIN}
    sigma = dispersion(c["profiles"])
    sigma_est = cubes.estimate(sigma).compute()
    folded = cubes.estimate(stats.fold(sigma.sel(win), "z")).compute()
    prof = north_south_profiles_of(c)
    prof_est = cubes.estimate(prof).compute()
    feh_med = cubes.estimate(stats.quantile(c["feh"], "feh", 0.5).where(
        c["feh"].cube.sum("feh").cube.count() >= MIN_PARTICLES).drop_vars(
        "quantile", errors="ignore").rename("median_feh")).compute()
    drho = c["maps"].cube.density_contrast()
    drho_est = cubes.estimate(drho).compute()["density_contrast"]
    ng = smoothed_count(c["maps"])
    cross = crossings(c["stripe"])
    fits = spiral_fits(cat, c["profiles"])
    shapes = spiral_shape(drho.sel(t=LAST, theta=WIN))

    for rg in RG_EDGES[:-1]:
        r = rg + 0.5
        table.add(f"particles in the window, R_g = {rg:g}–{rg + 1:g} kpc, {LAST:g} Gyr",
                  int(c["profiles"]["count"].sel(t=LAST, Rg=r, theta=WIN).sum()))

    # N–S asymmetry of σ_vz: absent before the kick, present after
    chi2 = chi2_zero(prof_est, "dsigma")
    nbins = int(prof_est.sizes["abs_z"] * ZMAX_PLOT / float(Z_AXIS.edges[-1]))
    for t in (PRE, *TIMES):
        tag = "before the kick (control)" if t == PRE else f"{t:g} Gyr"
        for r in chi2.Rg.values:
            table.add(f"χ²/dof of Δσ_vz = 0, |z| ≤ {ZMAX_PLOT:g} kpc, window, R_g = "
                      f"{r - 0.5:g}–{r + 0.5:g}, {tag}", float(chi2.sel(t=t, Rg=r)), None, "",
                      f"≈ 1 without asymmetry ({nbins} bins, jackknife errors)")
    d_last = prof_est.sel(t=LAST, abs_z=slice(0, ZMAX_PLOT))
    for r in d_last.Rg.values:
        d = d_last.sel(Rg=r)
        i = int(np.nanargmax(np.abs(d.dsigma.values)))
        table.add(f"largest |Δσ_vz|, |z| ≤ {ZMAX_PLOT:g} kpc, window, R_g = "
                  f"{r - 0.5:g}–{r + 0.5:g}, {LAST:g} Gyr", float(d.dsigma[i]),
                  float(d.dsigma_error[i]), "km/s",
                  f"at |z| = {float(d.abs_z[i]):.3f} kpc; paper: larger than observed (no "
                  "background particles)")
    heights = wave_heights(prof["dsigma"].sel(t=LAST))
    for r in heights.Rg.values:
        h = heights.sel(Rg=r)
        table.add(f"|z| of the Δσ_vz peak, R_g = {r - 0.5:g}–{r + 0.5:g}, {LAST:g} Gyr",
                  float(h.z_peak), float(h.z_peak_error), "kpc",
                  f"trough at {float(h.z_trough):.2f} ± {float(h.z_trough_error):.2f}; "
                  "paper: smaller R_g → larger |z|")

    # Table-1-like correlations, against the pre-kick (noise) control and the observed values
    for other, label in (("dsigma", "Δσ_vz"), ("dfeh", "Δ[Fe/H]")):
        rp = cubes.estimate(correlation.pearson(prof["drho"], prof[other], "abs_z",
                                                within=(0, ZMAX_STATS))).compute()
        for k, r in enumerate(rp.Rg.values):
            pre = rp.sel(t=PRE, Rg=r)
            v = rp.sel(t=LAST, Rg=r)
            table.add(f"r(δρ_N−S, {label}), window, R_g = {r - 0.5:g}–{r + 0.5:g}, "
                      f"{LAST:g} Gyr", float(v.r), float(v.r_error), "",
                      f"before the kick {float(pre.r):+.2f} ± {float(pre.r_error):.2f} "
                      f"(shared-particle noise); observed Table 1: {OBSERVED_R[other][k]}")

    # spirals
    det = detected(fits)
    for t in (PRE, *TIMES):
        for r in fits.Rg.values:
            f = fits.sel(t=t, Rg=r, theta=WIN)
            found = bool(det.sel(t=t, Rg=r, theta=WIN))
            tag = "before the kick" if t == PRE else f"{t:g} Gyr"
            table.add(f"spiral fit, window, R_g = {r - 0.5:g}–{r + 0.5:g}, {tag}: ω",
                      float(f.omega) if found else None, None, "rad",
                      f"{verdict(fits, t=t, Rg=r, theta=WIN)}: gain "
                      f"{float(f.loglike_gain):.0f} (threshold {float(f.gain_threshold):.0f}), "
                      f"{int(f.n_stars):,} particles")
    last = det.sel(t=LAST)
    table.add(f"Fig. 11 panels with a spiral ({LAST:g} Gyr)", int(last.sum()), None,
              f"of {last.size}", "paper: the spiral emerges only in specific azimuths; per "
              "θ bin: " + ", ".join(f"{th:g}°: {int(last.sel(theta=th).sum())}"
                                   for th in last.theta.values))
    table.add("spiral detections before the kick (control)", int(det.sel(t=PRE).sum()), None,
              f"of {det.sel(t=PRE).size}", "no kick, no spiral")
    om = fits.omega.where(det).sel(t=LAST, theta=WIN)
    table.add("ω(R_g 10–11) − ω(R_g 8–9), window, 0.5 Gyr",
              float(om.sel(Rg=10.5) - om.sel(Rg=8.5)), None, "rad",
              "paper: more loosely wound in 8–9 than in 10–11 kpc (> 0)")
    om_theta = fits.omega.where(det).sel(t=LAST)
    for r in om_theta.Rg.values:
        o = om_theta.sel(Rg=r)
        ok = np.isfinite(o.values)
        slope = (np.polyfit(o.theta.values[ok] / 90.0, o.values[ok], 1)[0]
                 if ok.sum() >= 2 else None)
        table.add(f"Fig. 11: dω/dθ, R_g = {r - 0.5:g}–{r + 0.5:g}, {LAST:g} Gyr", slope, None,
                  "rad per 90°", "ω at θ = " + ", ".join(
                      f"{th:g}°: {v:.1f}" if np.isfinite(v) else f"{th:g}°: none"
                      for th, v in zip(o.theta.values, o.values, strict=True))
                  + "; paper: tighter winding anticlockwise (> 0)")
    rms = map_rms(drho_est, ng).sel(theta=WIN)
    for t in (PRE, LAST):
        tag = "before the kick (control)" if t == PRE else f"{t:g} Gyr"
        for r in rms.Rg.values:
            table.add(f"rms δρ, 0.25 < r < {SHAPE_R_MAX:g}, window, R_g = {r - 0.5:g}–"
                      f"{r + 0.5:g}, {tag}", float(rms.sel(t=t, Rg=r)), None, "",
                      "noise and smoothing response" + ("" if t == PRE else " + the spiral"))
    for r in cross.Rg.values:
        z = cross.sel(t=LAST, Rg=r, theta=WIN)
        north, south = (z.sel(hemisphere=h) for h in ("north", "south"))
        table.add(f"first spiral crossing of z > 0 (|z| > {Z_CORE:g}), window, R_g = "
                  f"{r - 0.5:g}–{r + 0.5:g}, {LAST:g} Gyr", float(north.z_intersection),
                  float(north.z_intersection_error), "kpc",
                  f"z < 0: {float(south.z_intersection):.2f} ± "
                  f"{float(south.z_intersection_error):.2f}")

    # Fig. 12: [Fe/H] bins at 8 ≤ R ≤ 9 kpc
    s12 = dispersion(c["fig12"].isel(R=0))
    d12 = stats.north_south(s12, "z")
    est12 = cubes.estimate(d12).compute()
    h12 = wave_heights(d12.sel(t=LAST, theta=WIN))
    for f in h12.feh_rg_only.values:
        h = h12.sel(feh_rg_only=f)
        w = float(est12.feh_rg_only_width.sel(feh_rg_only=f))
        table.add(f"Fig. 12: |z| of the Δσ_vz peak, 8 ≤ R ≤ 9 kpc, window, [Fe/H]_Rg = "
                  f"{f - w / 2:.2f}–{f + w / 2:.2f}", float(h.z_peak), float(h.z_peak_error),
                  "kpc", f"trough {float(h.z_trough):.2f} ± {float(h.z_trough_error):.2f}; "
                  "paper: a small shift with [Fe/H]")
    chi12 = chi2_zero(est12, "sigma_vz_north_minus_south").mean("feh_rg_only")
    for th in chi12.theta.values:
        table.add(f"Fig. 12: χ²/dof of Δσ_vz = 0, 8 ≤ R ≤ 9 kpc, {_theta_label(th)}, "
                  f"{LAST:g} Gyr (mean of the [Fe/H] bins)", float(chi12.sel(t=LAST, theta=th)),
                  None, "", f"before the kick {float(chi12.sel(t=PRE, theta=th)):.2f}")

    # figures
    feh12 = est12.sel(abs_z=slice(0, ZMAX_PLOT)).rename(
        {"feh_rg_only": "[Fe/H]", "feh_rg_only_width": "[Fe/H]_width", "theta": "θ",
         "theta_width": "θ_width"})
    figs = {
        "fig10_evolution": fig10(drho_est, ng, sigma_est, feh_med, cross.z_intersection),
        "fig11_azimuth_spirals": fig11(drho_est, ng, fits),
        "fig12_delta_sigma_feh": difference_profiles(
            {f"{LAST:g} Gyr after the kick": feh12.sel(t=LAST),
             "before the kick (control)": feh12.sel(t=PRE)},
            "sigma_vz_north_minus_south", hue_dim="[Fe/H]", col_dim="θ",
            title="Lin+2023 Fig. 12 (simulation): Δσ_vz(|z|) = σ_N − σ_S of the particles at "
                  "8 ≤ R ≤ 9 kpc in bins of the label [Fe/H] ~ N(−0.1 (R_g − 8), 0.1), per "
                  "azimuth θ (the paper's window: −135° < θ < −45°)"),
        "fig7_north_south_profiles": difference_profiles(
            _rows(prof_est.sel(t=LAST), PROFILE_NAMES), "d", hue_dim="Rg",
            title=f"Lin+2023 Fig. 7 (right, simulation): North − South profiles,\n{LAST:g} "
                  "Gyr after the kick, −135° < θ < −45° (jackknife errors)"),
        "fig7_control_prekick": difference_profiles(
            _rows(prof_est.sel(t=PRE), PROFILE_NAMES), "d", hue_dim="Rg",
            title="Control for Fig. 7: the same profiles of the relaxed disk\njust before "
                  "the kick (North–South symmetric: noise only)"),
        "sigma_vz_north_south": north_south_profiles(
            folded.sel(t=LAST), prof_est[["dsigma", "dsigma_error"]].sel(t=LAST), "sigma_vz",
            panel_dim="Rg",
            title=f"Simulation, {LAST:g} Gyr after the kick, −135° < θ < −45°: σ_vz(|z|) "
                  "North and South per R_g bin (jackknife errors)"),
        "fig9_spiral_shape": fig9(drho_est, ng, shapes),
        "kick": fig_kick(),
    }
    for ax, ref in zip(figs["fig7_control_prekick"].axes,
                       figs["fig7_north_south_profiles"].axes, strict=True):
        ax.set_ylim(ref.get_ylim())  # the control on the scale of the kicked profiles
    _common.save_figures(figs, out, PREFIX)
    table.add("wall time", clock(), None, "s")
    csv_path, md_path = table.write(out, f"{NAME}_table")
    print(md_path.read_text())
    return {"table": table.rows, "profiles": prof_est, "fits": fits, "kicks": kicks,
            "out": str(out), "seconds": clock()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=f"cubes recipe {NAME}", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=N_DEFAULT,
                   help="test particles (the paper had ~1.5 M)")
    p.add_argument("--seed", type=int, default=1, help="seed of the initial conditions")
    p.add_argument("--dt", type=float, default=DT_DEFAULT, help="largest orbit step, Myr")
    p.add_argument("--relax", type=float, default=0.6, help="relaxation before the kick, Gyr")
    p.add_argument("--paper-cells", action="store_true",
                   help="δρ maps on the paper's 0.04 kpc × 2 km/s cells (for --n ≳ 1.5 M)")
    p.add_argument("--out", default=f"cubes-{NAME}", help="output directory")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    run(a.n, a.seed, a.out, not a.no_progress, a.dt, a.relax, a.paper_cells)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
