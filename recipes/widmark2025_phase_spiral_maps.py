"""Widmark et al. 2025: maps of phase-spiral parameters across the disk (spec 004).

``cubes recipe widmark2025_phase_spiral_maps [--catalog FILE --survey NAME] [--out DIR]``

Methods (spec ../shared/specs/004_widmark2025_phase_spiral_maps.md):

1. Catalog: a Gaia DR3 file, or by default a Gaia-like mock in the paper's frame with a
   Widmark-model phase spiral of known (ω, φ₆₀₀, α, β) in the disk's own potential
   A(R) Φ⊙, A(R) = exp(−(R − R⊙)/3 kpc) (docs/mocks.md): 10⁷ stars within 2 kpc of the
   Sun, so that ~110 spatial cells and ~130 phase-space samples pass the paper's 4000 stars.
2. Quality cuts (§2.4): ϖ/σ_ϖ > 10 and RUWE < 1.4 (no XP parallaxes, BNN RVs or cluster
   membership: §2.2, §2.3 and cut 3 need catalogs this recipe does not read).
3. Frame (§1): R⊙ = 8.178 kpc, Z⊙ = 20 pc, (U, V, W)⊙ = (11.1, 12.24, 7.25) km/s,
   v_c = 234 km/s; RV-less stars get the line-of-sight projection of circular rotation
   (``rv_fallback``, the spec's proper-motion-only stand-in for the BNN RVs, §2.5).
4. Scheme A (§3.1): Sun-centred 400 pc hexagons to 4 kpc; ≤ 1.6 kpc: RV required and the
   two-step (5σ, 1σ) L_z clip; beyond: the clip on v_l. Cells with more than ``--min-stars``
   (4000) stars are fitted; the map shows those.
5. Scheme B (§3.2): the 19 hexagons within 1 kpc, RV required, split by 25 km/s hexagons in
   (v_R, v_φ) around each cell's mean; samples with more than ``--ps-min-stars`` stars
   (4000, the paper's).
6. Histograms (§4): 120 × 120 in heliocentric Z ∈ [−1, 1] kpc and W ∈ ±3σ_w.
7. Fit (§5, ``cubes.spiral.fit``, row-conditional likelihood): Z⊙ = 20 pc; W⊙ free for the
   spatial cells, fixed at 7.25 km/s for the phase-space samples.
8. Derived (§6): A_Φ(R) = A_Φ,⊙ exp[−(R − R⊙)/h_R] with the L1 norm and σ ∝ 1/√N
   (``cubes.spiral.radial``); t_ω by Eq. 28 (spatial) and the §6.4 epicycle procedure
   (phase-space); back-propagation of the phase-space samples to −100 … −400 Myr in the
   planar potential of Eq. 13–15 (``cubes.spiral.orbits``).
9. Figures 1–10 and 12–16 of the paper (Fig. 3 the model's response to each parameter,
   Fig. 8 the §6.5 idealised model, ``cubes.spiral.idealised``, Fig. 10 the Eq. A1 density),
   a z–w residual panel (data − model) for a few samples, and a table of headline numbers
   with the mock's truth and the spec's checkable numbers (§7, §5.2, §6.5).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

import cubes
import cubes.spiral as cs
from cubes import mock
from cubes.binning import locate
from cubes.spiral.orbits import PAPER_TIMES, PlanarPotential, back_propagate
from cubes.spiral.radial import exponential_fit
from cubes.spiral.samples import phase_space_samples, spatial_samples
from cubes.vertical import VerticalOrbits

try:  # run as a module (cubes recipe …) or as a script (python recipes/…)
    from . import _common
except ImportError:  # pragma: no cover
    import _common

NAME = "widmark2025_phase_spiral_maps"
FRAME = cubes.Frame.preset("widmark2025")
OUTPUTS = ("X", "Y", "Z", "U", "V", "W", "Lz", "vR", "vphi", "R", "phi")
Z_SUN = 0.020  # kpc, fixed (Table 1)
W_SUN_PHASE_SPACE = 7.25  # km/s, fixed for the phase-space samples (Table 1)
MIN_STARS = 4000  # the paper's acceptance (§3.2), also used for the spatial map
#: the default mock: its phase spiral (truth) and survey volume
MOCK_SPIRAL = mock.PhaseSpiral(alpha=0.25, beta=0.10, omega=3.5, phi600=1.0)
MOCK_D_MAX = 2.0  # kpc
N_DEFAULT = 10_000_000
POTENTIAL = PlanarPotential(vc0=FRAME.vc, R0=FRAME.R0, slope=-2.0)  # Eq. 13, s = −2 km/s/kpc
QUALITY_NAMES = {0: "good", 1: "dubious", 2: "no spiral", 3: "not fitted"}


def default_mock(n: int, seed: int) -> xr.Dataset:
    """Gaia-like mock in the Widmark+2025 frame with a known phase spiral, d ≤ 2 kpc."""
    return mock.disk(n, seed=seed, frame=FRAME, signals=[MOCK_SPIRAL], d_max=MOCK_D_MAX)


def quality_cuts(stars: xr.Dataset) -> xr.Dataset:
    """§2.4: ϖ/σ_ϖ > 10 and RUWE < 1.4 (RUWE when the catalog has it)."""
    _common.need(stars, ["parallax", "parallax_error"], "the Widmark+2025 quality cuts")
    cuts = ["parallax / parallax_error > 10"]
    if "ruwe" in stars.variables:
        cuts.append("ruwe < 1.4")
    return cubes.select(stars, *cuts)


#: the catalog columns the recipe reads (the rest of a wide catalog is never loaded)
COLUMNS = ("source_id", "ra", "dec", "parallax", "parallax_error", "pmra", "pmdec",
           "radial_velocity", "ruwe", "selected")


def phase_space(stars: xr.Dataset) -> xr.Dataset:
    """§1–§2.5: heliocentric (X, Y, Z, U, V, W) and Galactocentric (R, φ, v_R, v_φ, L_z) in the
    paper's frame; RV-less stars get the rotation-projection fallback (``rv_assumed``). No
    velocity errors: the fit models the observed (error-convolved) phase space."""
    stars = stars[[c for c in COLUMNS if c in stars.variables]]
    return cubes.galactocentric(stars, FRAME, outputs=OUTPUTS, rv_fallback=True, errors=False)


def _columns(stars: xr.Dataset, names) -> dict[str, np.ndarray]:
    keep = [c for c in names if c in stars.variables]
    ds = stars[keep].compute()
    return {c: np.asarray(ds[c].values) for c in keep}


def _per_sample_mean(label: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    ok = label >= 0
    cnt = np.bincount(label[ok], minlength=n)
    s = np.bincount(label[ok], weights=values[ok], minlength=n)
    return np.where(cnt > 0, s / np.maximum(cnt, 1), np.nan)


def _cell_geometry(axis) -> dict[str, np.ndarray]:
    """Cell centres in heliocentric (X, Y) and Galactocentric (R, φ) (§1.4, Eqs. 4–5)."""
    cx, cy = axis.centers()
    R = np.hypot(FRAME.R0 - cx, cy)
    return {"X": cx, "Y": cy, "R": R, "phi": np.degrees(np.arctan2(cy, FRAME.R0 - cx)),
            "distance": np.hypot(cx, cy)}


def _has_rv(stars: xr.Dataset) -> xr.DataArray:
    """A measured line-of-sight velocity (not one assumed by ``rv_fallback``)."""
    has = np.isfinite(stars["radial_velocity"])
    if "rv_assumed" in stars.variables:
        has = has & ~stars["rv_assumed"].astype(bool)
    return has


def spatial_histograms(stars: xr.Dataset, min_stars: int = MIN_STARS
                       ) -> tuple[xr.Dataset, object, xr.Dataset]:
    """Scheme A (§3.1) and its z–w histograms (§4): one sample per hexagonal cell with more
    than ``min_stars`` stars. Returns the histogram cube (dim ``cell``; coords X, Y, R, φ of
    the cell centre), the hexagonal axis and the census of every cell (Fig. 1): stars after
    the quality cuts, those with a measured RV, and those in the cell's sample."""
    quality = stars["selected"]
    stars, axes = spatial_samples(stars)
    axis = axes["cell"]
    index = locate(stars, axes)
    cols = _columns(stars.assign(cell_index=index, quality_selected=quality,
                                 has_rv=_has_rv(stars)),
                    ["cell_index", "selected", "quality_selected", "has_rv", "Z", "W"])
    inside = cols["cell_index"] >= 0
    label = np.where(cols["selected"] & inside, cols["cell_index"], -1)
    hist = cs.histogram(cols["Z"], cols["W"], sample=label, n_samples=axis.size,
                        sample_dim="cell")
    geo = _cell_geometry(axis)
    n_cell = np.bincount(label[label >= 0], minlength=axis.size)
    geo_coords = {k: ("cell", v, {"units": "deg" if k == "phi" else "kpc"})
                  for k, v in geo.items()}
    hist = hist.assign_coords(cell=np.arange(axis.size), **geo_coords)
    hist["n_cell"] = ("cell", n_cell, {"long_name": "stars in the cell's sample"})
    q = cols["quality_selected"] & inside
    census = xr.Dataset(
        {"n_quality": ("cell", np.bincount(cols["cell_index"][q], minlength=axis.size),
                       {"long_name": "stars after the quality cuts"}),
         "n_rv": ("cell", np.bincount(cols["cell_index"][q & cols["has_rv"]],
                                      minlength=axis.size),
                  {"long_name": "of which with a measured line-of-sight velocity"}),
         "n_sample": ("cell", n_cell, {"long_name": "stars in the cell's sample (after the "
                                                    "RV requirement and kinematic clip)"})},
        coords={"cell": np.arange(axis.size), **geo_coords})
    keep = np.flatnonzero(hist["n_stars"].values > min_stars)
    return hist.isel(cell=keep), axis, census


def phase_space_histograms(stars: xr.Dataset, min_stars: int = MIN_STARS
                           ) -> tuple[xr.Dataset, dict, xr.DataArray]:
    """Scheme B (§3.2) and its histograms: accepted (cell, velocity hexagon) samples on a
    ``sample`` dim with the sample means of R, φ, v_R, v_φ, L_z and R_g (Eq. 14 root); the
    axes; and the star counts of every (cell, vcell) bin."""
    stars, axes, accepted = phase_space_samples(stars, min_stars=min_stars)
    index = locate(stars, axes)
    cols = _columns(stars.assign(flat=index), ["flat", "selected", "Z", "W", "R", "phi", "vR",
                                               "vphi", "Lz"])
    flat_ok = np.flatnonzero(accepted.transpose("cell", "vcell").values.ravel())
    to_sample = np.full(accepted.size + 1, -1)
    to_sample[flat_ok] = np.arange(flat_ok.size)
    flat = np.where(cols["selected"] & (cols["flat"] >= 0), cols["flat"], -1)
    label = to_sample[flat]  # flat −1 → the last entry, −1
    n = flat_ok.size
    counts = xr.DataArray(  # every (cell, velocity hexagon) bin, for Fig. 2
        np.bincount(flat[flat >= 0], minlength=accepted.size).reshape(
            axes["cell"].size, axes["vcell"].size),
        dims=("cell", "vcell"), name="count",
        attrs={"long_name": "stars per (cell, velocity hexagon)"})
    hist = cs.histogram(cols["Z"], cols["W"], sample=label, n_samples=n, sample_dim="sample")
    nv = axes["vcell"].size
    cell, vcell = flat_ok // nv, flat_ok % nv
    geo = _cell_geometry(axes["cell"])
    vx, vy = axes["vcell"].centers()
    coords = {"cell": ("sample", cell), "vcell": ("sample", vcell),
              "X": ("sample", geo["X"][cell], {"units": "kpc"}),
              "Y": ("sample", geo["Y"][cell], {"units": "kpc"}),
              "dvR_centre": ("sample", vx[vcell], {"units": "km/s"}),
              "dvphi_centre": ("sample", vy[vcell], {"units": "km/s"})}
    for c, u in (("R", "kpc"), ("phi", "deg"), ("vR", "km/s"), ("vphi", "km/s"),
                 ("Lz", "kpc km/s")):
        coords[c] = ("sample", _per_sample_mean(label, cols[c], n), {"units": u})
    coords["Rg"] = ("sample", POTENTIAL.guiding_radius(coords["Lz"][1]), {"units": "kpc"})
    hist = hist.assign_coords(sample=np.arange(n), **coords)
    return hist, axes, counts


def fit_maps(hist: xr.Dataset, dim: str, workers: int, **kwargs) -> xr.Dataset:
    """``cubes.spiral.fit`` over the sample dim, in parallel on ``workers`` threads (the fit's
    numba kernels release the GIL; a process pool costs ~25 s of start-up per run here)."""
    import dask

    if workers <= 1:
        return cs.fit(hist, **kwargs)
    chunk = max(1, int(np.ceil(hist.sizes[dim] / (4 * workers))))
    with dask.config.set(scheduler="threads", num_workers=workers):
        return cs.fit(hist.chunk({dim: chunk}), **kwargs)


def winding_time_epicycle(omega, R, Rg, profile: xr.Dataset):
    """§6.4 for the phase-space samples: anchor energies E = A(R) Φ⊙(300, 800 pc) at the
    present radius, periods in A(R_g) Φ⊙ at the guiding radius (E_z conserved along the
    epicycle), A(·) from the exponential fit; t_ω = ω / [2π (1/P_A − 1/P_B)], Myr."""
    orbits = VerticalOrbits()
    A_R = profile["A_sun"] * np.exp(-(R - FRAME.R0) * profile["k"])
    A_g = profile["A_sun"] * np.exp(-(Rg - FRAME.R0) * profile["k"])
    ref = orbits.potential(np.array([300.0, 800.0]))  # Φ⊙ at the anchors, (km/s)²

    def period(E, A):  # P in A Φ⊙ at energy E: P⊙(z_max(E/A)) / √A
        eps = np.asarray(E / A, dtype=np.float64)
        return orbits.period(orbits.zmax(eps.ravel())).reshape(eps.shape) / np.sqrt(A)

    p_a = period((A_R * ref[0]).values, A_g.values)
    p_b = period((A_R * ref[1]).values, A_g.values)
    t = omega / (2 * np.pi * (1.0 / p_a - 1.0 / p_b))
    return t.assign_attrs(units="Myr", long_name="winding time, spec 004 section 6.4")


def model_histogram(hist: xr.Dataset, maps: xr.Dataset, rebin: int = 2) -> xr.Dataset:
    """The fitted model of one sample on its histogram summed over ``rebin`` × ``rebin`` bins
    (the fit's own resolution): data N, model μ = B (1 + M S) normalised row by row to the
    data (the row-conditional likelihood), and (N − μ)/√μ. The background is integrated over
    the bins (erf), M S is ``cubes.mock.PhaseSpiral.modulation`` at the bin centres."""
    from scipy.special import erf

    c = hist["count"].values.astype(np.float64)
    nz, nw = c.shape
    c = c.reshape(nz // rebin, rebin, nw // rebin, rebin).sum(axis=(1, 3))
    ze = np.linspace(-1.0, 1.0, nz // rebin + 1) + Z_SUN  # model z, kpc
    sig = float(hist["sigma_w"])
    we = np.linspace(-3.0, 3.0, nw // rebin + 1) * sig + float(hist.attrs.get("w_centre", 0.0))
    w_sun = float(maps["W_sun"])
    we_model = we + w_sun

    def cdf(edges, s):
        return 0.5 * (1 + erf(edges[:, None] / (np.sqrt(2.0) * s[None, :])))

    a = maps["bg_weight"].values
    gz = np.diff(cdf(1000.0 * ze, maps["bg_sigma_z"].values), axis=0)
    gw = np.diff(cdf(we_model, maps["bg_sigma_w"].values), axis=0)
    B = (gz * a) @ gw.T
    zc, wc = 0.5 * (ze[1:] + ze[:-1]), 0.5 * (we_model[1:] + we_model[:-1])
    s = float(maps["alpha"]) + float(maps["beta"])
    if np.isfinite(s) and s > 0:
        spiral = mock.PhaseSpiral(alpha=float(maps["alpha"]), beta=float(maps["beta"]),
                                  omega=float(maps["omega"]), phi600=float(maps["phi600"]))
        Z, W = np.meshgrid(zc, wc, indexing="ij")
        F = B * (1.0 + spiral.modulation(Z, W, np.full(Z.shape, float(maps["A_phi"]))))
    else:
        F = B
    rows = c.sum(1)

    def row_normalised(M):
        return M * np.where(M.sum(1) > 0, rows / np.maximum(M.sum(1), 1e-300), 0.0)[:, None]

    mu, bg = row_normalised(F), row_normalised(B)
    resid = np.where(mu > 0, (c - mu) / np.sqrt(np.maximum(mu, 1e-12)), 0.0)
    coords = {"z": ("z", zc - Z_SUN, {"units": "kpc", "long_name": "heliocentric Z"}),
              "w": ("w", wc, {"units": "km/s", "long_name": "w = W + W_sun"})}
    return xr.Dataset({"data": (("z", "w"), c), "model": (("z", "w"), mu),
                       "background": (("z", "w"), bg), "residual": (("z", "w"), resid)},
                      coords=coords)


# -- figures --------------------------------------------------------------------------------

def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _sun_and_circles(ax, extent, radii=range(3, 15)):
    """Circles of constant R (dotted, labelled where they cross the top edge) and the Sun."""
    t = np.linspace(0, 2 * np.pi, 721)
    x0, x1, y0, y1 = extent
    y_lab = y1 - 0.06 * (y1 - y0)
    for r in radii:
        ax.plot(FRAME.R0 + r * np.cos(t), r * np.sin(t), ls=":", lw=0.8, color="0.3")
        if r > abs(y_lab):
            x = FRAME.R0 - np.sqrt(r * r - y_lab * y_lab)
            if x0 < x < x1:
                ax.text(x, y_lab, f"{r}", fontsize=7, color="0.2", ha="center", va="center",
                        bbox={"fc": "white", "ec": "none", "pad": 0.5, "alpha": 0.8})
    ax.plot(0, 0, "o", color="k", ms=5, zorder=5)


def hex_map(ax, axis, cells, values, *, cmap, vmin, vmax, quality=None, label="",
            extent=None, truth=None):
    """Filled hexagons (the axis's vertices) for ``cells``; quality 1 → a cross, 2 → hatched
    grey (no spiral), 3 → empty outline (not fitted)."""
    from matplotlib.collections import PolyCollection

    plt = _plt()
    vx, vy = axis.vertices()
    polys = np.stack([vx[cells], vy[cells]], axis=-1)
    q = np.zeros(len(cells), int) if quality is None else np.asarray(quality, int)
    vals = np.asarray(values, dtype=np.float64)
    show = (q <= 1) & np.isfinite(vals)
    pc = PolyCollection(polys[show], array=vals[show], cmap=cmap, edgecolors="0.4",
                        linewidths=0.3)
    pc.set_clim(vmin, vmax)
    ax.add_collection(pc)
    if (q == 2).any():
        ax.add_collection(PolyCollection(polys[q == 2], facecolors="0.85", edgecolors="0.5",
                                         hatch="///", linewidths=0.3))
    if (q == 3).any():
        ax.add_collection(PolyCollection(polys[q == 3], facecolors="none", edgecolors="0.6",
                                         linewidths=0.3))
    cx, cy = axis.centers()
    if (q == 1).any():
        ax.plot(cx[cells][q == 1], cy[cells][q == 1], "x", color="k", ms=5, mew=1.0)
    if extent is None:
        r = np.max(np.hypot(cx[cells], cy[cells])) + axis.spacing
        extent = (-r, r, -r, r)
    _sun_and_circles(ax, extent)
    t = np.linspace(0, 2 * np.pi, 361)
    ax.plot(1.6 * np.cos(t), 1.6 * np.sin(t), color="k", lw=1.8)  # RV required inside (§3.1)
    ax.plot(1.0 * np.cos(t), 1.0 * np.sin(t), color="w", lw=1.2, ls="--")  # scheme B cells
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    ax.set_xlabel("X [kpc] (towards the Galactic centre)")
    ax.set_ylabel("Y [kpc] (direction of rotation)")
    cb = plt.colorbar(pc, ax=ax, shrink=0.85)
    cb.set_label(label)
    if truth is not None and np.isfinite(truth):
        cb.ax.axhline(truth, color="tab:green", lw=2.5)
        cb.ax.text(1.05, truth, "truth", transform=cb.ax.get_yaxis_transform(), fontsize=7,
                   color="tab:green", va="bottom", ha="left", rotation=90)
    return pc


def _legend_note(fig, text) -> float:
    """A wrapped note under the panels; returns the figure fraction it takes."""
    import textwrap

    width = int(fig.get_figwidth() * 15)
    lines = textwrap.wrap(" ".join(text.split()), width)
    fig.text(0.5, 0.008, "\n".join(lines), ha="center", va="bottom", fontsize=8, color="0.25")
    return (0.25 + 0.16 * len(lines)) / fig.get_figheight()


def _save_with_note(fig, path, note: str, *, top: float) -> None:
    """Lay the panels out above the wrapped ``note`` and below the title, write, close."""
    plt = _plt()
    fig.tight_layout(rect=(0, _legend_note(fig, note), 1, top))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure_spatial(axis, hist, maps, panels, title, path, truth=None):
    """Hex maps of ``panels`` = (variable, label, colour map, limits); ``truth`` {variable:
    value} marks the mock's truth on the colour bars."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(5.4 * len(panels), 5.2), squeeze=False)
    cells = hist["cell"].values
    for ax, (name, label, cmap, lims) in zip(axes[0], panels, strict=True):
        hex_map(ax, axis, cells, maps[name].values, cmap=cmap, vmin=lims[0], vmax=lims[1],
                quality=maps["quality"].values, label=label,
                truth=(truth or {}).get(name))
        ax.set_title(label.split(" [")[0])
    fig.suptitle(title, fontsize=11)
    _save_with_note(fig, path, "black dot: the Sun; dotted: circles of constant "
                    "Galactocentric R (kpc, labelled at the top); thick black: cell "
                    "centres within 1.6 kpc need an RV; white dashed: 1 kpc (phase-space "
                    "cells); ×: dubious fit; hatched grey: no spiral found; outline: not "
                    "fitted", top=0.95)


def figure_radial(hist, maps, profile, truth_model, path):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    R = hist["R"].values
    q = maps["quality"].values
    A = maps["A_phi"].values
    sc = ax.scatter(R[q == 0], A[q == 0], c=hist["phi"].values[q == 0], cmap="coolwarm",
                    s=22, edgecolors="k", linewidths=0.3, label="good fits")
    if (q == 1).any():
        ax.scatter(R[q == 1], A[q == 1], marker="x", color="0.3", s=22, label="dubious")
    r = np.linspace(np.nanmin(R) - 0.3, np.nanmax(R) + 0.3, 100)
    a0, h, ea, eh = (float(profile[k]) for k in ("A_sun", "h_R", "A_sun_error", "h_R_error"))
    ax.plot(r, a0 * np.exp(-(r - FRAME.R0) / h), "k--",
            label=f"fit: A_Φ,⊙ = {a0:.3f} ± {ea:.3f}, h_R = {h:.2f} ± {eh:.2f} kpc (L1)")
    if truth_model is not None:
        ax.plot(r, truth_model.amplitude(r), color="tab:green", lw=1.5,
                label=f"mock truth: A(R) = {truth_model.A0:g} exp(−(R − R⊙)/{truth_model.h_A:g}"
                      " kpc)")
    ax.set_xlabel("R [kpc] (cell centre)")
    ax.set_ylabel("A_Φ (vertical potential amplitude)")
    cb = plt.colorbar(sc, ax=ax)
    cb.set_label("φ (Galactocentric azimuth) [deg]")
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("Widmark+2025 Fig. 5: A_Φ against R (spatial samples)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _jitter(hist, seed=2025):
    rng = np.random.default_rng(seed)  # Fig. 6's display jitter: 20 pc, 4 km/s (cosmetic)
    n = hist.sizes["sample"]
    return (hist["Rg"].values + rng.normal(0, 0.02, n),
            hist["vR"].values + rng.normal(0, 4.0, n))


def figure_phase_space(hist, maps, path):
    plt = _plt()
    panels = (("alpha_plus_beta", "α + β", "viridis", (0.0, 0.6)),
              ("omega", "ω [rad]", "magma", (0.0, 2 * np.pi)),
              ("phi600", "φ₆₀₀ [rad]", "twilight", (0.0, 2 * np.pi)),
              ("A_phi", "A_Φ", "cividis", (0.6, 1.6)),
              ("beta_fraction", "β / (α + β)", "plasma", (0.0, 1.0)))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.3 * len(panels), 4.2))
    x, y = _jitter(hist)
    q = maps["quality"].values
    for ax, (name, label, cmap, lims) in zip(axes, panels, strict=True):
        ok = q <= 1
        faint = q == 2  # fitted, but below the detection threshold: drawn faint
        if faint.any():
            ax.scatter(x[faint], y[faint], c=maps[name].values[faint], cmap=cmap,
                       vmin=lims[0], vmax=lims[1], s=10, alpha=0.45, marker="s",
                       label="no spiral found (fit shown faint)")
        sc = ax.scatter(x[ok], y[ok], c=maps[name].values[ok], cmap=cmap, vmin=lims[0],
                        vmax=lims[1], s=40, edgecolors="k", linewidths=0.6, label="good fit")
        if (q == 1).any():
            ax.plot(x[q == 1], y[q == 1], "x", color="k", ms=5)
        if (q == 3).any():
            ax.plot(x[q == 3], y[q == 3], ".", color="0.5", ms=3, label="not fitted")
        ax.legend(fontsize=6.5, loc="lower left")
        ax.set_xlabel("R_g [kpc]")
        ax.set_ylabel("v_R [km/s] (sample mean)")
        ax.set_title(label.split(" [")[0])
        plt.colorbar(sc, ax=ax).set_label(label)
    fig.suptitle("Widmark+2025 Figs. 6 and 13: phase-space samples in (R_g, v_R), with the "
                 "paper's display jitter of 20 pc and 4 km/s", fontsize=11)
    _save_with_note(fig, path, "large circles: good fits; ×: dubious; faint squares: fitted "
                    "but no spiral detected (likelihood gain < gain_min); grey dots: not "
                    "fitted", top=0.93)


def figure_back_propagated(orbits_ds, maps, path, name="alpha_plus_beta", label="α + β",
                           cmap="viridis", lims=(0.0, 0.6), fig_name="Fig. 7", truth=None):
    """The phase-space samples today and back-propagated to ``orbits_ds["time"]`` (Eq. 15),
    coloured by ``maps[name]``; grey: no spiral detected."""
    plt = _plt()
    times = [0.0, *orbits_ds["time"].values]
    fig, axes = plt.subplots(1, len(times), figsize=(3.9 * len(times), 4.3), sharey=True)
    q = maps["quality"].values
    ok = q <= 1
    vals = maps[name].values
    sc = None
    for ax, t in zip(axes, times, strict=True):
        if t == 0.0:
            X, Y = orbits_ds["X0"].values, orbits_ds["Y0"].values
        else:
            X, Y = (orbits_ds[c].sel(time=t).values for c in ("X", "Y"))
        ax.plot(X[~ok], Y[~ok], ".", color="0.7", ms=3)
        sc = ax.scatter(X[ok], Y[ok], c=vals[ok], cmap=cmap, vmin=lims[0], vmax=lims[1], s=16,
                        edgecolors="k", linewidths=0.2)
        tt = np.linspace(0, 2 * np.pi, 400)
        for r in range(2, 16, 2):  # grid lines every 2 kpc in R and 45° in azimuth
            ax.plot(FRAME.R0 + r * np.cos(tt), r * np.sin(tt), ":", lw=0.6, color="0.5")
        for a in np.radians(np.arange(0, 360, 45)):
            ax.plot([FRAME.R0, FRAME.R0 - 16 * np.cos(a)], [0, 16 * np.sin(a)], ":", lw=0.6,
                    color="0.5")
        ax.plot(0, 0, "o", color="k", ms=4)
        ax.plot(FRAME.R0, 0, "+", color="k", ms=8)
        ax.set_xlim(FRAME.R0 - 12, FRAME.R0 + 12)
        ax.set_ylim(-12, 12)
        ax.set_aspect("equal")
        ax.set_title(f"t = {t:g} Myr")
        ax.set_xlabel("X [kpc]")
    axes[0].set_ylabel("Y [kpc]")
    cb = fig.colorbar(sc, ax=list(axes), shrink=0.8)
    cb.set_label(label)
    if truth is not None and np.isfinite(truth):
        cb.ax.axhline(truth, color="tab:green", lw=2.5)
        cb.ax.text(-0.15, truth, "truth", transform=cb.ax.get_yaxis_transform(), fontsize=7,
                   color="tab:green", va="center", ha="right")
    fig.suptitle(f"Widmark+2025 {fig_name} (mock): phase-space samples back-propagated in the "
                 f"planar potential (Eq. 15), coloured by {label.split(' [')[0]} (grey: no "
                 "spiral)\ndot: the Sun today, +: the Galactic centre; grid every 2 kpc in R "
                 "and 45° in azimuth", fontsize=10.5, y=0.99)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def figure_winding(hist_s, maps_s, hist_p, maps_p, t_p, truth, path):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    qs = maps_s["quality"].values
    ax.plot(hist_s["R"].values[qs == 0], maps_s["t_omega"].values[qs == 0], "o", ms=5,
            mfc="tab:blue", mec="k", mew=0.4, label="spatial samples vs R (Eq. 28, literal)")
    ax.plot(hist_s["R"].values[qs == 0], maps_s["t_omega_model"].values[qs == 0], "o", ms=5,
            mfc="none", mec="tab:blue", mew=0.8,
            label="spatial samples vs R (model-consistent, own A_Φ)")
    if maps_p is not None:
        qp = maps_p["quality"].values
        ax.plot(hist_p["Rg"].values[qp == 0], t_p.values[qp == 0], "D", ms=5,
                mfc="tab:orange", mec="k", mew=0.4,
                label="phase-space samples vs R_g (§6.4, epicycle)")
    if truth is not None:
        r, t_true = truth
        ax.plot(r, t_true, color="tab:green",
                label="mock truth ω / 2π√A(R) [1/P(300) − 1/P(800)]")
    ax.set_xlabel("R or R_g [kpc]")
    ax.set_ylabel("t_ω (winding time) [Myr]")
    ax.legend(fontsize=8)
    ax.set_title("Widmark+2025 Fig. 9: winding time against radius (good fits)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _smooth(x, sigma=1.0):
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(x, sigma, mode="nearest")


def figure_residuals(panels, path, min_model=3.0):
    """Per sample (rows): the data relative to the fitted background (the spiral as seen in
    the data), the fitted model relative to the same background, and (data − model)/√model.
    Bins with fewer than ``min_model`` expected stars are blank; the first and last columns
    are smoothed by a Gaussian of one bin for display."""
    plt = _plt()
    fig, axes = plt.subplots(len(panels), 3, figsize=(13.0, 3.4 * len(panels)), squeeze=False)
    for row, (label, m) in enumerate(panels):
        bg = m["background"].values
        ok = m["model"].values >= min_model
        with np.errstate(divide="ignore", invalid="ignore"):
            rel_data = _smooth(m["data"].values) / _smooth(bg) - 1.0
            rel_model = m["model"].values / bg - 1.0
        # a Gaussian of one bin averages ~4π bins: × √(4π) keeps unit variance for pure noise
        resid = _smooth(m["residual"].values) * np.sqrt(4 * np.pi)
        for col, (field, cmap, lim, cl, what) in enumerate((
                (rel_data, "RdBu_r", 0.5, "data / background − 1", "data"),
                (rel_model, "RdBu_r", 0.5, "model / background − 1", "fitted spiral"),
                (resid, "PuOr_r", 3.0, "(data − model) / √model, smoothed ×√(4π)",
                 "residual"))):
            ax = axes[row, col]
            pm = ax.pcolormesh(m["w"], m["z"], np.where(ok, field, np.nan), cmap=cmap,
                               vmin=-lim, vmax=lim, shading="nearest")
            fig.colorbar(pm, ax=ax).set_label(cl, fontsize=8)
            ax.set_xlabel("w = W + W⊙ [km/s]")
            ax.set_ylabel("Z [kpc]")
            ax.set_title(f"{label}\n{what}", fontsize=8.5)
    fig.suptitle("z–w phase space of a few samples: data and fitted model relative to the "
                 "step-1 background, and the residual (row-normalised model, 60 × 60 bins)",
                 fontsize=10.5)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=100)
    plt.close(fig)


# -- the figures added to the first set: 1, 2, 3, 8, 10, 14 (15, 16: figure_back_propagated)

def figure_census(axis, census, path):
    """Fig. 1: stars per spatial cell after the quality, RV and kinematic cuts; the fraction of
    the quality-cut stars with a measured line-of-sight velocity, on the map and against the
    cell centre's distance."""
    plt = _plt()
    cells = np.flatnonzero(census["n_quality"].values > 0)
    fig, axes = plt.subplots(1, 3, figsize=(16.5, 5.2),
                             gridspec_kw={"width_ratios": [1, 1, 0.9]})
    n = census["n_sample"].values.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = census["n_rv"].values / census["n_quality"].values
        logn = np.where(n > 0, np.log10(n), np.nan)
    hi = np.nanmax(logn[cells])
    hex_map(axes[0], axis, cells, logn[cells], cmap="viridis", vmin=max(hi - 3, 0), vmax=hi,
            label="log₁₀ N (stars in the cell's sample)")
    axes[0].set_title("number counts (after quality, RV and kinematic cuts)", fontsize=10)
    hex_map(axes[1], axis, cells, frac[cells], cmap="RdYlBu", vmin=0.0, vmax=1.0,
            label="fraction of stars with a measured v_los")
    axes[1].set_title("fraction with a line-of-sight velocity (after quality cuts)",
                      fontsize=10)
    ax = axes[2]
    d = census["distance"].values[cells]
    sc = ax.scatter(d, frac[cells], c=logn[cells], cmap="viridis", vmin=max(hi - 3, 0),
                    vmax=hi, s=18, edgecolors="k", linewidths=0.3)
    plt.colorbar(sc, ax=ax, shrink=0.85).set_label("log₁₀ N (stars in the cell's sample)")
    for r, style, txt in ((1.0, "--", "1 kpc: phase-space cells"),
                          (1.6, "-", "1.6 kpc: RV required inside")):
        ax.axvline(r, color="k", ls=style, lw=1.0)
        ax.text(r + 0.03, 0.03, txt, rotation=90, fontsize=7.5, va="bottom",
                transform=ax.get_xaxis_transform())
    ax.set_xlabel("distance of the cell centre from the Sun [kpc]")
    ax.set_ylabel("fraction of stars with a measured v_los")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title("v_los fraction against distance", fontsize=10)
    fig.suptitle(f"Widmark+2025 Fig. 1 (mock): the {cells.size} spatial cells (400 pc hexagons) "
                 "that hold stars; GC to the right, rotation up", fontsize=11)
    _save_with_note(fig, path, "black dot: the Sun; dotted: circles of constant Galactocentric "
                    "R (kpc, labelled at the top); thick black: 1.6 kpc, cells inside "
                    "keep only stars with a measured v_los (L_z clip), beyond all stars "
                    "(v_l clip); white dashed: 1 kpc, the phase-space-binning region", top=0.95)


def figure_phase_space_samples(axes_p, counts, min_stars, path):
    """Fig. 2: the phase-space samples, each a 25 km/s (v_R, v_φ) hexagon drawn inside its
    400 pc spatial cell at (X, Y) = centre + s (−Δv_R, +Δv_φ) (outward v_R points away from
    the Galactic centre, −X, near the Sun), coloured by its number of stars."""
    from matplotlib.collections import PolyCollection

    plt = _plt()
    cell_ax, v_ax = axes_p["cell"], axes_p["vcell"]
    cx, cy = cell_ax.centers()
    hx, hy = cell_ax.vertices()
    vx, vy = v_ax.vertices()
    c = counts.transpose("cell", "vcell").values
    acc = c > min_stars
    used = acc.any(axis=0)
    extent = np.max(np.hypot(vx[used], vy[used])) if used.any() else v_ax.spacing
    s = 0.92 * 0.5 * cell_ax.spacing / extent  # kpc per km/s: the used hexagons fit the cell
    inside = np.hypot(vx, vy).max(axis=1) <= extent * (1 + 1e-9)  # drawn within the cell
    ci, vi = np.nonzero((c > 0) & inside[None, :])
    polys = np.stack([cx[ci, None] - s * vx[vi], cy[ci, None] + s * vy[vi]], axis=-1)
    fig, ax = plt.subplots(figsize=(8.6, 7.6))
    low = ~acc[ci, vi]
    ax.add_collection(PolyCollection(polys[low], facecolors="0.92", edgecolors="0.8",
                                     linewidths=0.2))
    pc = PolyCollection(polys[~low], array=c[ci, vi][~low], cmap="viridis",
                        edgecolors="0.3", linewidths=0.3)
    ax.add_collection(pc)
    ax.add_collection(PolyCollection(np.stack([hx, hy], axis=-1), facecolors="none",
                                     edgecolors="k", linewidths=1.6))
    plt.colorbar(pc, ax=ax, shrink=0.85).set_label("N stars in the sample (v_los required)")
    t = np.linspace(0, 2 * np.pi, 361)
    ax.plot(np.cos(t), np.sin(t), color="0.4", ls="--", lw=1.0)
    ax.plot(0, 0, "o", color="k", mec="w", ms=4, zorder=5)
    r = np.max(np.hypot(cx, cy)) + cell_ax.spacing * 0.75
    x0, y0 = -r + 0.08, -r + 0.12  # arrows: the velocity directions and a 50 km/s scale
    for dx, dy, txt in ((-1, 0, "+v_R"), (0, 1, "+v_φ")):
        ax.annotate("", xy=(x0 + 0.3 + dx * 50 * s, y0 + dy * 50 * s), xytext=(x0 + 0.3, y0),
                    arrowprops={"arrowstyle": "->", "lw": 1.4})
        ax.text(x0 + 0.3 + dx * 50 * s * 1.15 - (0.02 if dx else 0),
                y0 + dy * 50 * s * 1.12, txt, fontsize=9,
                ha="right" if dx else "center", va="center" if dx else "bottom")
    ax.text(x0 + 0.3, y0 - 0.04, "arrows: 50 km/s", fontsize=8, ha="center", va="top")
    ax.set_xlim(-r, r)
    ax.set_ylim(-r, r)
    ax.set_aspect("equal")
    ax.set_xlabel("X [kpc] (towards the Galactic centre)")
    ax.set_ylabel("Y [kpc] (direction of rotation)")
    ax.set_title(f"Widmark+2025 Fig. 2 (mock): {int(acc.sum())} phase-space samples with > "
                 f"{min_stars} stars\n(25 km/s hexagons in (v_R, v_φ) about each 400 pc "
                 "cell's mean; grey: fewer stars; dashed: 1 kpc; dot: the Sun)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


SCHEMATIC_BASE = {"A_phi": 1.0, "omega": 3.5, "phi600": 1.0, "alpha": 0.25, "beta": 0.10}
SCHEMATIC_VARY = (("A_phi", "A_Φ", (0.6, 1.0, 1.6)), ("omega", "ω", (1.5, 3.5, 6.0)),
                  ("phi600", "φ₆₀₀", (1.0 - np.pi / 2, 1.0, 1.0 + np.pi / 2)),
                  ("alpha", "α", (0.0, 0.25, 0.5)), ("beta", "β", (0.0, 0.10, 0.30)))


def figure_schematic(path):
    """Fig. 3: the model's relative density M(E_z) S(E_z, θ_z) in (z, w) (Eqs. 18–21), each
    row varying one parameter about the mock's spiral (SCHEMATIC_BASE). Dashed: the orbits
    with z_max = 300, 600 and 800 pc in A_Φ Φ⊙ (the mask and the anchors of ω and φ₆₀₀)."""
    plt = _plt()
    z = np.linspace(-1.2, 1.2, 241)  # kpc (model z, mid-plane at 0)
    w = np.linspace(-75.0, 75.0, 241)  # km/s
    Z, W = np.meshgrid(z, w, indexing="xy")
    fig, axes = plt.subplots(len(SCHEMATIC_VARY), 3, figsize=(10.5, 14.5), sharex=True,
                             sharey=True)
    pm = None
    for row, (name, sym, values) in enumerate(SCHEMATIC_VARY):
        for col, v in enumerate(values):
            p = {**SCHEMATIC_BASE, name: v}
            spiral = mock.PhaseSpiral(alpha=p["alpha"], beta=p["beta"], omega=p["omega"],
                                      phi600=np.mod(p["phi600"], 2 * np.pi))
            ms = spiral.modulation(Z, W, p["A_phi"])
            ax = axes[row, col]
            pm = ax.pcolormesh(z, w, ms, cmap="RdBu_r", vmin=-0.5, vmax=0.5, shading="nearest",
                               rasterized=True)
            orbits = VerticalOrbits(amplitude=p["A_phi"])
            zmax = orbits.zmax(orbits.energy(1000.0 * Z, W))
            ax.contour(z, w, zmax, levels=[300, 600, 800], colors="0.25", linewidths=0.6,
                       linestyles="--")
            ax.set_title(f"{sym} = {v:.2f}" + ("  (mock's value)" if col == 1 else ""),
                         fontsize=9.5, color="k" if col == 1 else "tab:red")
            if row == len(SCHEMATIC_VARY) - 1:
                ax.set_xlabel("z [kpc]")
            if col == 0:
                ax.set_ylabel("w [km/s]")
    fig.subplots_adjust(top=0.93, hspace=0.25)
    cb = fig.colorbar(pm, ax=axes, shrink=0.5, pad=0.02)
    cb.set_label("relative density M S = f / B − 1")
    fig.suptitle("Widmark+2025 Fig. 3 (model, schematic): the phase-spiral perturbation, one "
                 "parameter varied per row\nabout the mock's spiral (A_Φ = 1, ω = 3.5, "
                 "φ₆₀₀ = 1.0, α = 0.25, β = 0.10); dashed: z_max = 300, 600, 800 pc",
                 fontsize=10.5, y=0.975)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


#: the idealised models of Fig. 8 drawn: (label, scaling, h_R, line style)
IDEALISED = (("linear ν ∝ Σ, h_R = 2.9 kpc (spec §6.5)", "linear", 2.9, ("k", "-")),
             ("linear ν ∝ Σ, h_R = 2.6 kpc (Eq. 28's)", "linear", 2.6, ("k", "--")),
             ("√A: ν ∝ √Σ, h_R = 2.9 kpc (model-consistent)", "sqrt", 2.9, ("0.55", "-")))


def _sawtooth(ax, R, phi, wraps, style, **kw):
    """φ mod 2π as a line broken at the wraps, with open circles at both ends of each jump."""
    y = phi.copy()
    y[1:][np.abs(np.diff(phi)) > np.pi] = np.nan
    color, ls = style
    ax.plot(R, y, color=color, ls=ls, **kw)
    ax.plot(np.repeat(wraps, 2), np.tile([0.0, 2 * np.pi], wraps.size), "o", mfc="white",
            mec=color, ms=5, mew=1.0, zorder=4)


def figure_idealised(hist_s, maps_s, phi_init, R_range, path, truth=None):
    """Fig. 8: ω and φ₆₀₀ of the spatial samples against R, coloured by azimuth, with the
    §6.5 idealised models (t = 300 Myr everywhere, Σ ∝ exp(−R/h_R)) as lines; φ₆₀₀ of the
    model is anchored at ``phi_init`` (φ_init of Eq. 19) and wrapped (circles)."""
    from cubes.spiral.idealised import idealised_profiles, phase_wrap_radii

    plt = _plt()
    R = np.linspace(*R_range, 1201)
    fig, axes = plt.subplots(1, 2, figsize=(13.5, 5.0))
    q = maps_s["quality"].values
    Rs, az = hist_s["R"].values, hist_s["phi"].values
    sc = None
    for ax, name, lab in ((axes[0], "omega", "ω [rad]"), (axes[1], "phi600", "φ₆₀₀ [rad]")):
        for k, (label, scaling, h, style) in enumerate(IDEALISED):
            m = idealised_profiles(R, h_R=h, scaling=scaling, phi_init=phi_init, R0=FRAME.R0)
            if name == "omega":
                ax.plot(R, m["omega"], color=style[0], ls=style[1], lw=1.4,
                        label=f"idealised: {label}")
            elif k != 1:  # φ₆₀₀: two models (three sawtooths are unreadable)
                wraps = phase_wrap_radii(*R_range, h_R=h, scaling=scaling, phi_init=phi_init,
                                         R0=FRAME.R0)
                _sawtooth(ax, R, m["phi600"].values, wraps, style, lw=1.2)
        sc = ax.scatter(Rs[q == 0], maps_s[name].values[q == 0], c=az[q == 0], cmap="coolwarm",
                        s=22, edgecolors="k", linewidths=0.3, zorder=3, label="mock: good fits")
        if (q == 1).any():
            ax.scatter(Rs[q == 1], maps_s[name].values[q == 1], marker="x", color="0.3", s=22,
                       zorder=3, label="mock: dubious")
        if truth and name in truth:
            ax.axhline(truth[name], color="tab:green", lw=1.5, label="mock truth")
        ax.set_xlabel("R [kpc] (cell centre)")
        ax.set_ylabel(lab)
        ax.set_xlim(*R_range)
        ax.grid(alpha=0.3)
    axes[0].set_ylim(0, 10)
    axes[0].legend(fontsize=7.5, loc="upper right")
    axes[1].set_ylim(-0.1, 2 * np.pi + 0.1)
    axes[1].set_yticks(np.arange(0, 2 * np.pi + 0.01, np.pi / 2),
                       ["0", "π/2", "π", "3π/2", "2π"])
    axes[0].set_title("winding ω", fontsize=10)
    axes[1].set_title("phase φ₆₀₀ mod 2π (black: linear h_R = 2.9; grey: √A; ○: wraps)\n"
                      f"φ_init = {phi_init:.2f} rad puts the models on the cells' mean at R⊙",
                      fontsize=9)
    fig.colorbar(sc, ax=list(axes), shrink=0.9, pad=0.01).set_label(
        "φ (Galactocentric azimuth) [deg]")
    fig.suptitle("Widmark+2025 Fig. 8 (mock): ω and φ₆₀₀ of the spatial samples against R, and "
                 "the idealised model of §6.5 (one perturbation 300 Myr ago at every R)",
                 fontsize=10.5, y=1.03)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def figure_A_phase_space(hist_p, maps_p, profile, truth_model, path):
    """Fig. 14: A_Φ of the phase-space samples against their present mean R, coloured by the
    epicyclic displacement R − R_g, with the Fig. 5 exponential fit (dashed)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.4, 5.4))
    q = maps_p["quality"].values
    R, A = hist_p["R"].values, maps_p["A_phi"].values
    dR = R - hist_p["Rg"].values
    lim = max(float(np.nanpercentile(np.abs(dR[q <= 1]), 98)), 0.1) if (q <= 1).any() else 1.0
    sc = ax.scatter(R[q == 0], A[q == 0], c=dR[q == 0], cmap="RdBu_r", vmin=-lim, vmax=lim,
                    s=26, edgecolors="k", linewidths=0.3, label="good fits")
    if (q == 1).any():
        ax.scatter(R[q == 1], A[q == 1], c=dR[q == 1], cmap="RdBu_r", vmin=-lim, vmax=lim,
                   marker="X", s=40, edgecolors="k", linewidths=0.3, label="dubious")
    r = np.linspace(np.nanmin(R) - 0.1, np.nanmax(R) + 0.1, 100)
    a0, h = float(profile["A_sun"]), float(profile["h_R"])
    ax.plot(r, a0 * np.exp(-(r - FRAME.R0) / h), "k--",
            label=f"Fig. 5 fit (spatial samples): A_Φ,⊙ = {a0:.3f}, h_R = {h:.2f} kpc")
    if truth_model is not None:
        ax.plot(r, truth_model.amplitude(r), color="tab:green", lw=1.5, label="mock truth A(R)")
    ax.set_xlabel("R [kpc] (present mean radius of the sample)")
    ax.set_ylabel("A_Φ (vertical potential amplitude)")
    plt.colorbar(sc, ax=ax).set_label("R − R_g [kpc] (epicyclic displacement)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    ax.grid(alpha=0.3)
    ax.set_title("Widmark+2025 Fig. 14 (mock): A_Φ of the phase-space samples against R",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure_density(path):
    """Fig. 10: the solar-neighbourhood density ρ⊙(z) of Eq. A1 (DM + two sech² terms, the
    form fitted to the Schutz et al. 2018 inventory), its potential Φ⊙ and the vertical
    period P⊙(z_max) with the anchors 300, 600, 800 pc."""
    from cubes.vertical import SolarVerticalPotential

    plt = _plt()
    pot = SolarVerticalPotential()
    z = np.linspace(0.0, 1500.0, 751)  # pc
    terms = (("dark matter, ρ_DM = 0.01", np.full(z.shape, pot.rho_dm), "tab:purple"),
             (f"sech²(z/{pot.h1:g} pc), ρ₁ = {pot.rho1:g}",
              pot.rho1 / np.cosh(z / pot.h1) ** 2, "tab:blue"),
             (f"sech²(z/{pot.h2:g} pc), ρ₂ = {pot.rho2:g}",
              pot.rho2 / np.cosh(z / pot.h2) ** 2, "tab:orange"))
    total = sum(t[1] for t in terms)
    fig, axes = plt.subplots(1, 2, figsize=(12.5, 4.6))
    ax = axes[0]
    for label, rho, color in terms:
        ax.plot(z, rho, color=color, lw=1.4, label=label)
    ax.plot(z, total, "k", lw=2.0, label="total ρ⊙(z) (Eq. A1)")
    ax.set_yscale("log")
    ax.set_ylim(1e-3, 0.15)
    ax.set_xlabel("|z| [pc]")
    ax.set_ylabel("ρ [M⊙ / pc³]")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    ax.set_title("density: the fitted sech² form and its terms", fontsize=10)
    ax = axes[1]
    orbits = VerticalOrbits(pot)
    zm = np.linspace(20.0, 1500.0, 149)
    ax.plot(zm, orbits.period(zm), "k", lw=1.8)
    ax.set_xlabel("z_max [pc]")
    ax.set_ylabel("vertical period P⊙(z_max) [Myr]", color="k")
    for a in (300.0, 600.0, 800.0):
        p = float(orbits.period(np.array([a]))[0])
        ax.plot(a, p, "o", color="tab:red", ms=6)
        ax.annotate(f"P({a:.0f} pc) = {p:.1f} Myr", (a, p), textcoords="offset points",
                    xytext=(6, -12), fontsize=8, color="tab:red")
    tw = ax.twinx()
    tw.plot(z, pot(z), color="tab:blue", lw=1.2, ls="--")
    tw.set_ylabel("Φ⊙(z) [(km/s)²] (dashed)", color="tab:blue")
    ax.grid(alpha=0.3)
    ax.set_title("vertical period (solid) and potential Φ⊙ (dashed), A_Φ = 1", fontsize=10)
    fig.suptitle("Widmark+2025 Fig. 10 (model, not the mock): the solar-neighbourhood density "
                 "of Eq. A1 and its orbits (CODATA G)", fontsize=10.5)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- numbers --------------------------------------------------------------------------------

def _circ(phi: np.ndarray) -> tuple[float, float]:
    """Circular mean in [0, 2π) and circular standard deviation √(−2 ln R̄)."""
    phi = phi[np.isfinite(phi)]
    if not phi.size:
        return np.nan, np.nan
    z = np.mean(np.exp(1j * phi))
    return float(np.mod(np.angle(z), 2 * np.pi)), float(np.sqrt(-2 * np.log(abs(z))))


def _median_err(x: np.ndarray) -> tuple[float, float, float]:
    """Median, half the 16–84 % spread, and the error of the median (1.2533 σ/√n)."""
    x = x[np.isfinite(x)]
    if not x.size:
        return np.nan, np.nan, np.nan
    lo, mid, hi = np.percentile(x, [16, 50, 84])
    return float(mid), float((hi - lo) / 2), float(1.2533 * (hi - lo) / 2 / np.sqrt(x.size))


def summarise(table, label, maps, truth_A=None):
    q = maps["quality"].values
    for k, name in QUALITY_NAMES.items():
        table.add(f"{label}: samples {name}", int((q == k).sum()))
    good = q == 0
    out = {}
    if truth_A is not None:
        ratio = maps["A_phi"].values[good] / truth_A[good]
        mid, spread, err = _median_err(ratio)
        table.add(f"{label}: median A_Φ / A_Φ,true (good)", mid, err, "",
                  f"16–84 % half-spread {spread:.3f}")
        out["A_ratio"] = mid
    for name, units in (("A_phi", ""), ("omega", "rad"), ("alpha", ""), ("beta", ""),
                        ("alpha_plus_beta", ""), ("W_sun", "km/s")):
        mid, spread, err = _median_err(maps[name].values[good])
        table.add(f"{label}: median {name} (good)", mid, err, units,
                  f"16–84 % half-spread {spread:.3f}")
        out[name] = mid
    mean, sd = _circ(maps["phi600"].values[good])
    n = max(int(good.sum()), 1)
    table.add(f"{label}: circular mean phi600 (good)", mean, sd / np.sqrt(n), "rad",
              f"circular s.d. {sd:.3f}")
    out["phi600"] = mean
    return out


def _ring_rows(table, census):
    """Fig. 1 numbers: the scheme's hexagon counts (spec §8 item 6) and the v_los fraction of
    the quality-cut stars in rings of cell-centre distance."""
    d = census["distance"].values
    for r, spec in ((1.0, "19"), (1.6, "61"), (4.0, "367 (the paper reports 365)")):
        table.add(f"Fig. 1: hexagons with centres within {r:g} kpc", int((d <= r + 1e-9).sum()),
                  None, "", f"spec section 8 item 6: {spec}")
    nq, nr = census["n_quality"].values, census["n_rv"].values
    out = {}
    for lo, hi in RV_RINGS:
        ring = (d > lo + 1e-9 if lo > 0 else d >= 0) & (d <= hi + 1e-9)
        n = int(nq[ring].sum())
        if n == 0:
            continue
        f = nr[ring].sum() / n
        table.add(f"Fig. 1: fraction with a measured v_los, cells at {lo:g}-{hi:g} kpc", f,
                  np.sqrt(f * (1 - f) / n), "", f"{n} stars after the quality cuts; paper "
                  "(Gaia DR3): falls out to ~2 kpc, then rises")
        out[(lo, hi)] = f
    return out


#: distance rings of the Fig. 1 v_los fraction (kpc, cell centres; upper bounds inclusive)
RV_RINGS = ((0.0, 0.5), (0.5, 1.0), (1.0, 1.6), (1.6, 2.0), (2.0, 4.0))


def _idealised_rows(table, hist_s, maps_s):
    """Fig. 8 numbers: the idealised model's ω ratio and φ₆₀₀ turns (spec §6.4, §6.5) and
    the same contrasts on the mock's good spatial cells. Returns φ_init for the figure: the
    models pass through the cells' circular mean φ₆₀₀ at R⊙."""
    from cubes.spiral.idealised import idealised_profiles

    spec = {("linear", 2.9): "paper: > 6 (Fig. 8); spec: 5.6 with h_R = 2.9",
            ("linear", 2.6): "spec: 6.84 (the Fig. 8 claim holds with h = 2.6 only)",
            ("sqrt", 2.9): "spec: 2.4 (model-consistent scaling)"}
    for _, scaling, h, _style in IDEALISED:
        m = idealised_profiles([6.0, 11.0, FRAME.R0], h_R=h, scaling=scaling, R0=FRAME.R0)
        table.add(f"Fig. 8 idealised ({scaling}, h_R = {h:g} kpc): omega(6 kpc) / "
                  "omega(11 kpc)", float(m.omega[0] / m.omega[1]), None, "",
                  spec[(scaling, h)])
        if scaling == "linear" and h == 2.9:
            table.add("Fig. 8 idealised: omega(R_sun), t = 300 Myr", float(m.omega[2]), None,
                      "rad", "spec section 6.5: 3.91")
            table.add("Fig. 8 idealised (linear, h_R = 2.9 kpc): phi600 turns from 6 to 11 kpc",
                      float(m.delta_phi[0] - m.delta_phi[1]) / (2 * np.pi), None, "turns",
                      "spec: (34.5 - 6.2) rad / 2 pi = 4.5, 'several full turns'")
    q = maps_s["quality"].values
    R, om, ph = (hist_s["R"].values[q == 0], maps_s["omega"].values[q == 0],
                 maps_s["phi600"].values[q == 0])
    mean_phi, _ = _circ(ph)
    dphi0 = float(idealised_profiles([FRAME.R0], R0=FRAME.R0).delta_phi[0])
    phi_init = float(np.mod(mean_phi - dphi0, 2 * np.pi)) if np.isfinite(mean_phi) else 0.0
    if R.size >= 10:
        lo, hi = np.percentile(R, [20, 80])
        inner, outer = R <= lo, R >= hi
        r_in, r_out = float(np.median(R[inner])), float(np.median(R[outer]))
        m_in, _, e_in = _median_err(om[inner])
        m_out, _, e_out = _median_err(om[outer])
        ratio = m_in / m_out
        table.add(f"Fig. 8 mock: omega ratio, inner / outer fifth of good cells (median R "
                  f"{r_in:.2f} / {r_out:.2f} kpc)", ratio, ratio * np.hypot(e_in / m_in,
                                                                            e_out / m_out),
                  "", "the mock's truth: 1 (omega the same at all R)")
        m = idealised_profiles([r_in, r_out], h_R=2.9, R0=FRAME.R0)
        table.add("Fig. 8 idealised (linear, h_R = 2.9 kpc): the same ratio",
                  float(m.omega[0] / m.omega[1]), None, "", "the model's steep omega(R)")
        c_in, c_out = _circ(ph[inner])[0], _circ(ph[outer])[0]
        table.add("Fig. 8 mock: phi600 inner - outer fifth (circular)",
                  float(np.angle(np.exp(1j * (c_in - c_out)))), None, "rad",
                  "the mock's truth: 0")
        table.add("Fig. 8 idealised (linear, h_R = 2.9 kpc): phi600 inner - outer, unwrapped",
                  float(m.delta_phi[0] - m.delta_phi[1]), None, "rad", "")
    return phi_init


def _density_rows(table):
    """Fig. 10 / Appendix A numbers of Φ⊙ (spec §5.2, §5.3, §6.1)."""
    from cubes.vertical import SolarVerticalPotential, anharmonicity

    pot = SolarVerticalPotential()
    orbits = VerticalOrbits(pot)
    table.add("Fig. 10: anharmonicity Gamma = P(800)/P(300) - 1", anharmonicity(orbits), None,
              "", "paper: 0.260")
    p = VerticalOrbits(SolarVerticalPotential(G="widmark2025")).period(np.array([300., 800.]))
    table.add("Fig. 10: P(z_max = 300 pc), the paper's G", float(p[0]), None, "Myr",
              "paper: 99.7")
    table.add("Fig. 10: P(z_max = 800 pc), the paper's G", float(p[1]), None, "Myr",
              "paper: 125.7")
    sigma = 2 * (pot.rho_dm * 1100.0 + pot.rho1 * pot.h1 * np.tanh(1100.0 / pot.h1)
                 + pot.rho2 * pot.h2 * np.tanh(1100.0 / pot.h2))
    table.add("Fig. 10: surface density within |z| < 1.1 kpc", sigma, None, "Msun/pc^2",
              "spec section 5.2: 70.6")
    table.add("Fig. 10: small-oscillation period (z_max = 1 pc)",
              float(orbits.period(np.array([1.0]))[0]), None, "Myr", "spec section 5.2: 84.4")


def added_figures(table, out, *, axis, census, axes_p, counts_p, ps_min_stars, hist_s, maps_s,
                  hist_p, maps_p, profile, orbits_ds, disk, marks):
    """Figs. 1, 2, 3, 8, 10, 14, 15 and 16 and their checkable numbers (spec §7), from what
    the run already computed (no second fit)."""
    rings = _ring_rows(table, census)
    figure_census(axis, census, out / "fig1_spatial_cells.png")
    if maps_p is not None:
        n_acc = (counts_p > ps_min_stars).sum("vcell").values
        table.add("Fig. 2: accepted velocity hexagons per spatial cell (median; min-max)",
                  float(np.median(n_acc)), None, "", f"{int(n_acc.min())}-{int(n_acc.max())}; "
                  "paper (Gaia DR3): 508 samples in 19 cells")
        figure_phase_space_samples(axes_p, counts_p, ps_min_stars,
                                   out / "fig2_phase_space_samples.png")
    figure_schematic(out / "fig3_schematic.png")
    R_lo = min(5.5, float(hist_s["R"].min()) - 0.3)
    R_hi = max(11.5, float(hist_s["R"].max()) + 0.3)
    phi_init = _idealised_rows(table, hist_s, maps_s)
    figure_idealised(hist_s, maps_s, phi_init, (R_lo, R_hi), out / "fig8_idealised.png", marks)
    _density_rows(table)
    figure_density(out / "fig10_density_model.png")
    if maps_p is None:
        return rings
    q = maps_p["quality"].values
    good = q == 0
    A_fit = profile["A_sun"].values * np.exp(-(hist_p["R"].values - FRAME.R0) / float(
        profile["h_R"]))
    ratio = maps_p["A_phi"].values / A_fit
    dR = np.abs(hist_p["R"].values - hist_p["Rg"].values)
    for label, sel in (("all", good), ("|R - R_g| < 0.2 kpc", good & (dR < 0.2)),
                       ("|R - R_g| >= 0.2 kpc", good & (dR >= 0.2))):
        mid, spread, err = _median_err(ratio[sel])
        table.add(f"Fig. 14: median A_phi / Fig. 5 fit at R, good phase-space samples, {label}",
                  mid, err, "", f"{int(sel.sum())} samples, 16-84 % half-spread {spread:.3f}; "
                  "paper: broadly consistent")
    figure_A_phase_space(hist_p, maps_p, profile, disk, out / "fig14_A_phi_phase_space.png")
    ok = q <= cs.DUBIOUS
    for t in (-300.0, -400.0):
        if ok.sum() >= 2 and t in orbits_ds["time"].values:
            x = orbits_ds["X"].sel(time=t).values[ok]
            y = orbits_ds["Y"].sel(time=t).values[ok]
            sep = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :]).max()
            table.add(f"Figs. 15-16: largest separation of the samples at t = {t:g} Myr", sep,
                      None, "kpc", "paper: ~16 kpc apart at the likely perturbation epoch")
    figure_back_propagated(orbits_ds, maps_p, out / "fig15_back_propagated_omega.png",
                           "omega", "ω [rad]", "magma", (0.0, 2 * np.pi), "Fig. 15",
                           marks.get("omega"))
    figure_back_propagated(orbits_ds, maps_p, out / "fig16_back_propagated_phi600.png",
                           "phi600", "φ₆₀₀ [rad]", "twilight", (0.0, 2 * np.pi), "Fig. 16",
                           marks.get("phi600"))
    return rings


def _log(progress: bool, text: str) -> None:
    if progress:
        print(text, flush=True)


def run(catalog: str | None = None, survey: str = "gaia_dr3", n: int = N_DEFAULT,
        seed: int = 1, out: str | Path = f"cubes-{NAME}", progress: bool = True,
        min_stars: int = MIN_STARS, ps_min_stars: int | None = None, workers: int = 2,
        residual_samples: int = 3) -> dict:
    clock = _common.Clock()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    is_mock = catalog is None
    if ps_min_stars is None:
        ps_min_stars = min_stars
    stars = _common.catalog(catalog, survey, lambda: default_mock(n, seed))
    truth = stars.attrs.get("truth") if is_mock else None
    n_read = int(stars.sizes["star"])
    stars = phase_space(quality_cuts(stars)).persist()  # the only pass over the catalog
    t_catalog = clock()
    _log(progress, f"{t_catalog:.1f} s: catalog, cuts and frame")
    disk = mock.DiskModel.from_describe(truth["disk"]) if truth else None
    table = _common.Table("Widmark et al. 2025 (spec 004): headline numbers")
    table.add("stars read", n_read)
    table.add("stars after the quality cuts (parallax/error > 10, RUWE < 1.4)",
              int(stars["selected"].sum()))

    # scheme A: spatial cells
    hist_s, axis, census = spatial_histograms(stars, min_stars)
    table.add(f"spatial cells with > {min_stars} stars (fitted and mapped)", hist_s.sizes["cell"],
              None, "", f"of {axis.size} hexagons of 400 pc within 4 kpc")
    _log(progress, f"{clock():.1f} s: spatial histograms, fitting {hist_s.sizes['cell']} cells")
    maps_s = fit_maps(hist_s, "cell", workers, z_sun=Z_SUN, min_stars=min_stars)
    t_spatial = clock()
    _log(progress, f"{t_spatial:.1f} s: spatial fits done")
    # scheme B: phase-space samples
    hist_p, axes_p, counts_p = phase_space_histograms(stars, ps_min_stars)
    table.add(f"phase-space samples with > {ps_min_stars} stars", hist_p.sizes["sample"], None,
              "", "19 cells within 1 kpc x 25 km/s hexagons in (v_R, v_phi)")
    _log(progress, f"{clock():.1f} s: phase-space histograms, fitting "
                   f"{hist_p.sizes['sample']} samples")
    maps_p = fit_maps(hist_p, "sample", workers, z_sun=Z_SUN, w_sun=W_SUN_PHASE_SPACE,
                      min_stars=min(ps_min_stars, min_stars))
    t_phase = clock()
    _log(progress, f"{t_phase:.1f} s: phase-space fits done")

    truth_s = disk.amplitude(hist_s["R"].values) if disk else None
    truth_p = disk.amplitude(hist_p["R"].values) if disk else None
    if truth:
        sp = next(s for s in truth["signals"] if s.get("kind") == "phase_spiral")
        table.add("truth: A_Φ,⊙ (disk model A0)", disk.A0)
        table.add("truth: h_A (A_Φ scale length)", disk.h_A, None, "kpc")
        for k, u in (("omega", "rad"), ("phi600", "rad"), ("alpha", ""), ("beta", "")):
            table.add(f"truth: {k}", sp[k], None, u, "the injected spiral, all R")
    rec_s = summarise(table, "spatial", maps_s, truth_s)
    rec_p = summarise(table, "phase-space", maps_p, truth_p) if maps_p is not None else {}

    # A_Φ(R) (Fig. 5): good and dubious spatial fits, L1, σ ∝ 1/√N
    use = maps_s["quality"] <= cs.DUBIOUS
    profile = exponential_fit(maps_s["A_phi"], hist_s["R"], n_stars=hist_s["n_stars"],
                              mask=use, norm="l1", R0=FRAME.R0)
    table.add("A_Φ(R) fit: A_Φ,⊙", profile["A_sun"], profile["A_sun_error"], "",
              f"L1, sigma ~ 1/sqrt(N), {int(profile['n_used'])} spatial samples (good + dubious)")
    table.add("A_Φ(R) fit: h_R", profile["h_R"], profile["h_R_error"], "kpc",
              "jackknife over samples")
    # winding times (Fig. 9)
    t_p = (winding_time_epicycle(maps_p["omega"], hist_p["R"], hist_p["Rg"], profile)
           if maps_p is not None else None)
    mid, spread, err = _median_err(maps_s["t_omega"].values[maps_s["quality"].values == 0])
    table.add("spatial: median t_omega, Eq. 28 (good)", mid, err, "Myr",
              f"16–84 % half-spread {spread:.0f}")
    mid, spread, err = _median_err(
        maps_s["t_omega_model"].values[maps_s["quality"].values == 0])
    table.add("spatial: median t_omega, model-consistent (good)", mid, err, "Myr",
              f"16–84 % half-spread {spread:.0f}")
    if t_p is not None:
        mid, spread, err = _median_err(t_p.values[maps_p["quality"].values == 0])
        table.add("phase-space: median t_omega, section 6.4 (good)", mid, err, "Myr",
                  f"16–84 % half-spread {spread:.0f}")

    # figures
    panels = [("A_phi", "A_Φ", "cividis", (0.5, 2.0)),
              ("omega", "ω [rad]", "magma", (0.0, 2 * np.pi)),
              ("phi600", "φ₆₀₀ [rad]", "twilight", (0.0, 2 * np.pi))]
    marks = {}
    if truth:
        maps_s["A_phi_over_truth"] = maps_s["A_phi"] / xr.DataArray(truth_s, dims="cell")
        panels.append(("A_phi_over_truth", "A_Φ / A_Φ,true (mock)", "RdBu_r", (0.8, 1.2)))
        marks = {"omega": sp["omega"], "phi600": sp["phi600"], "A_phi_over_truth": 1.0,
                 "alpha_plus_beta": sp["alpha"] + sp["beta"],
                 "beta_fraction": sp["beta"] / (sp["alpha"] + sp["beta"])}
    figure_spatial(axis, hist_s, maps_s, panels,
                   f"Widmark+2025 Fig. 4: spatial maps ({hist_s.sizes['cell']} cells with > "
                   f"{min_stars} stars; GC to the right, rotation up)",
                   out / "fig4_spatial_maps.png", marks)
    figure_spatial(axis, hist_s, maps_s, (
        ("alpha_plus_beta", "α + β", "viridis", (0.0, 0.6)),
        ("beta_fraction", "β / (α + β)", "plasma", (0.0, 1.0))),
        "Widmark+2025 Fig. 12: spatial amplitudes", out / "fig12_spatial_amplitudes.png", marks)
    figure_radial(hist_s, maps_s, profile, disk, out / "fig5_A_phi_R.png")
    orbits_ds = None
    if maps_p is not None:
        figure_phase_space(hist_p, maps_p, out / "fig6_phase_space_maps.png")
        orbits_ds = back_propagate(hist_p["R"], hist_p["phi"], hist_p["vR"], hist_p["Lz"],
                                   times=PAPER_TIMES, potential=POTENTIAL)
        rad = np.radians(hist_p["phi"].values)
        orbits_ds["X0"] = ("sample", FRAME.R0 - hist_p["R"].values * np.cos(rad),
                           {"units": "kpc"})
        orbits_ds["Y0"] = ("sample", hist_p["R"].values * np.sin(rad), {"units": "kpc"})
        figure_back_propagated(orbits_ds, maps_p, out / "fig7_back_propagated.png")
    r = np.linspace(float(hist_s["R"].min()) - 0.2, float(hist_s["R"].max()) + 0.2, 50)
    truth_curve = None
    if truth:
        truth_curve = (r, cs.winding_time_model(sp["omega"], disk.amplitude(r)))
    figure_winding(hist_s, maps_s, hist_p, maps_p, t_p, truth_curve,
                   out / "fig9_winding_time.png")
    panels = []
    good = np.flatnonzero(maps_s["quality"].values <= cs.DUBIOUS)
    if good.size:
        order = good[np.argsort(-maps_s["loglike_gain"].values[good])]
        picks = order[np.linspace(0, order.size - 1, min(residual_samples, order.size))
                      .round().astype(int)]
        for i in dict.fromkeys(picks):
            h, m = hist_s.isel(cell=i), maps_s.isel(cell=i)
            panels.append((f"cell {int(h.cell)} (X, Y = {float(h.X):.1f}, {float(h.Y):.1f} kpc;"
                           f" gain {float(m.loglike_gain):.0f})", model_histogram(h, m)))
    gp = np.flatnonzero(maps_p["quality"].values <= cs.DUBIOUS) if maps_p is not None \
        else []
    if len(gp):
        i = gp[np.argmax(maps_p["loglike_gain"].values[gp])]
        h, m = hist_p.isel(sample=i), maps_p.isel(sample=i)
        panels.append((f"phase-space sample {i} (R_g {float(h.Rg):.2f} kpc, v_R "
                       f"{float(h.vR):.0f} km/s)", model_histogram(h, m)))
    if panels:
        figure_residuals(panels, out / "residuals_zw.png")
    t_figs = clock()
    # Fig. 9 numbers (spec section 7): Eq. 28 t_omega near R = 7 and 9 kpc
    qs = maps_s["quality"].values == 0
    for r0, paper in ((7.0, "~150"), (9.0, "~600")):
        near = qs & (np.abs(hist_s["R"].values - r0) < 0.3)
        if near.any():
            mid, spread, err = _median_err(maps_s["t_omega"].values[near])
            table.add(f"Fig. 9: median t_omega (Eq. 28) of good cells at |R - {r0:g}| < 0.3 kpc",
                      mid, err, "Myr", f"{int(near.sum())} cells; paper: {paper} Myr")
    added_figures(table, out, axis=axis, census=census, axes_p=axes_p, counts_p=counts_p,
                  ps_min_stars=ps_min_stars, hist_s=hist_s, maps_s=maps_s, hist_p=hist_p,
                  maps_p=maps_p, profile=profile, orbits_ds=orbits_ds, disk=disk, marks=marks)
    t_added = clock()

    maps_s.drop_vars("reason").assign(sigma_w=hist_s["sigma_w"].variable).to_netcdf(
        out / f"{NAME}_spatial_maps.nc")
    if maps_p is not None:
        maps_p.drop_vars("reason").assign(sigma_w=hist_p["sigma_w"].variable).to_netcdf(
            out / f"{NAME}_phase_space_maps.nc")
    table.add("time: catalog (mock draw), cuts and frame", t_catalog, None, "s")
    table.add("time: spatial scheme (samples, histograms, fits)", t_spatial - t_catalog, None,
              "s")
    table.add("time: phase-space scheme", t_phase - t_spatial, None, "s")
    table.add("time: Figs. 1-3, 8, 10, 14-16 and their numbers", t_added - t_figs, None, "s")
    table.add("wall time", clock(), None, "s")
    csv_path, md_path = table.write(out, f"{NAME}_table")
    print(md_path.read_text())
    return {"table": table.rows, "spatial": maps_s, "phase_space": maps_p, "hist_spatial": hist_s,
            "hist_phase_space": hist_p, "profile": profile, "orbits": orbits_ds,
            "census": census, "phase_space_counts": counts_p, "axis": axis,
            "axes_phase_space": axes_p, "truth": truth,
            "recovered": {"spatial": rec_s, "phase_space": rec_p}, "out": str(out),
            "seconds": clock()}


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(NAME, __doc__.splitlines()[0], n_default=N_DEFAULT)
    p.add_argument("--min-stars", type=int, default=MIN_STARS,
                   help="spatial cells with more stars than this are fitted")
    p.add_argument("--ps-min-stars", type=int, default=None,
                   help="phase-space samples with more stars than this are fitted (default: "
                        "--min-stars)")
    p.add_argument("--workers", type=int, default=2, help="threads for the fits")
    a = p.parse_args(argv)
    run(a.catalog, a.survey, a.n, a.seed, a.out, not a.no_progress, a.min_stars,
        a.ps_min_stars, a.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
