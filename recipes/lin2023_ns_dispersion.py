"""Lin et al. 2023: North–South asymmetries in σ_vz of the thin disk (spec 000).

``cubes recipe lin2023_ns_dispersion [--catalog FILE --survey NAME] [--out DIR]``

Methods (spec ../shared/specs/000_lin2023_ns_dispersion.md, paper §2–3):

1. Catalog: a Gaia × LAMOST file, or by default a Gaia-like mock in the paper's frame with a
   known North–South σ_vz ratio and [Fe/H] offset beyond R = 10 kpc and a Widmark-model phase
   spiral (docs/mocks.md).
2. Quality cuts (§1.2): ϖ_err/ϖ < 0.2, μ_err/μ < 0.2, SNR_g > 20 (when the file has SNR_g);
   LAMOST RVs + 5.7 km/s (``--lamost-rv-offset``).
3. Frame (§2.1): R0 = 8.34 kpc, z⊙ = 27 pc, (U, V, W)⊙ = (9.58, 10.52, 7.01) km/s; velocities and
   their errors (first-order propagation, after Johnson & Soderblom 1987); R_g in
   MWPotential2014 with ro = R0, vo = v_c (§2.3).
4. Sample 0 (§1.3): [Fe/H] > −0.4 and |V − V_LSR| < 200 km/s; Samples 1 and 2 (§1.4):
   −10° < φ < 10° and 8 < R < 11 kpc (Sample 1) or 8 < R_g < 11 kpc (Sample 2).
5. Cubes (§3): R or R_g bins 8–9–10–11 kpc × [Fe/H] bins (−0.4, 0, 1) × z in 0.05 kpc bins
   symmetric about 0, with v_z's moments and errors and 16 jackknife groups; written to Zarr.
6. Statistics (§4.1–4.2): σ_vz(|z|) = √(var − ⟨σ_vz,err²⟩) North and South, Δσ_vz = σ_N − σ_S,
   per radial bin and per [Fe/H] bin; jackknife errors (the paper bootstraps).
7. Phase space (§4.3–4.5, Sample 2): δρ = n/n_G − 1 on (z, v_z) cells of 0.05 kpc × 2 km/s
   (σ_G = 3 cells; 0.05 kpc rather than the paper's 0.04 so that |z| bins pair with Δσ_vz,
   the spec's choice), δρ_(N−S)(|z|) in the strip |v_z| < 10 km/s, Δ median [Fe/H](|z|).
8. Table 1 (§4.6): Pearson r and p of δρ_(N−S) against Δσ_vz and Δ[Fe/H] over |z| ≤ 1 kpc,
   median and 16/84 percentiles over 50 random 60 % subsamples (of the 16 star groups: 10 of
   16 each, an exact sum of the cube).
9. Figures 3 (right column), 5, 6, 7 (left) and 8 of the paper, and a table of headline
   numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

import cubes
from cubes import axes, mock, resampling, stats
from cubes.dynamics import guiding_radius
from cubes.plot import difference_profiles, north_south_profiles, phase_maps
from cubes.stats import asymmetry, contrast, correlation

try:  # run as a module (cubes recipe …) or as a script (python recipes/…)
    from . import _common
except ImportError:  # pragma: no cover
    import _common

NAME = "lin2023_ns_dispersion"
FRAME = cubes.Frame.preset("lin2023")
RADIAL_EDGES = [8.0, 9.0, 10.0, 11.0]
FEH_EDGES = [-0.4, 0.0, 1.0]
DSIGMA = "sigma_vz_north_minus_south"
MIN_STARS = 20  # per (radius, [Fe/H], z) bin and jackknife sample (or subsample)
Z_AXIS = axes.symmetric(1.5, 0.05)  # kpc: the |z| bins of every North–South profile
SUBSAMPLES = {"n": 50, "fraction": 0.6, "seed": 2023}
#: the default mock's injected signals (their truth is in the catalog's attrs)
MOCK_SIGNALS = (mock.NorthSouth(R_min=10.0, sigma_vz_ratio=1.06, feh_offset=0.03),
                mock.PhaseSpiral(alpha=0.15, beta=0.10, omega=3.0, phi600=0.5))


def default_mock(n: int, seed: int) -> xr.Dataset:
    """The paper-like default catalog: Gaia-like mock in the Lin+2023 frame, with signals."""
    # d_max = 3 kpc: LAMOST's anticentre footprint; most stars then fall in Samples 1–2
    return mock.disk(n, seed=seed, frame=FRAME, signals=MOCK_SIGNALS, d_max=3.0)


def quality_cuts(stars: xr.Dataset) -> xr.Dataset:
    """§1.2: parallax and proper-motion fractional errors < 0.2, SNR_g > 20 when present."""
    _common.need(stars, ["parallax", "parallax_error", "pmra", "pmdec", "pmra_error",
                         "pmdec_error"], "the Lin+2023 quality cuts")
    pm = np.hypot(stars.pmra, stars.pmdec)
    # μ_err = √((μ_α* σ_α*)² + (μ_δ σ_δ)²)/μ (spec §1.2 recommended choice)
    stars = stars.assign(pm=pm, pm_error=np.hypot(stars.pmra * stars.pmra_error,
                                                  stars.pmdec * stars.pmdec_error) / pm)
    cuts = ["parallax_error / parallax < 0.2", "pm_error / pm < 0.2"]
    if "snrg" in stars.variables:
        cuts.append("snrg > 20")
    return cubes.select(stars, *cuts)


def phase_space(stars: xr.Dataset, lamost_rv_offset: float = 0.0) -> xr.Dataset:
    """§2: Galactocentric velocities with errors in the paper's frame, and R_g."""
    if lamost_rv_offset:
        stars = stars.assign(radial_velocity=stars.radial_velocity + lamost_rv_offset)
    stars = cubes.galactocentric(stars, FRAME, outputs=("R", "phi", "z", "vz", "vphi", "Lz",
                                                        "U", "V", "W"))
    rg = guiding_radius(stars.Lz, potential="MWPotential2014", ro=FRAME.R0, vo=FRAME.vc)
    return stars.assign(Rg=rg)


def samples_0(stars: xr.Dataset) -> xr.Dataset:
    """§1.3: thin disk [Fe/H] > −0.4 and |V − V_LSR| < 200 km/s (heliocentric U V W plus the
    Sun's peculiar motion), and |φ| < 10° (§1.4)."""
    U, V, W = (f"({c} + {s})" for c, s in zip("UVW", (FRAME.U, FRAME.V, FRAME.W), strict=True))
    return cubes.select(stars, "feh > -0.4", f"sqrt({U}**2 + {V}**2 + {W}**2) < 200",
                        "abs(phi) < 10")


def build_cube(stars: xr.Dataset, radius: str, progress: bool) -> xr.Dataset:
    """§3: (radius, [Fe/H], z) cube of v_z moments with errors; radius = "R" or "Rg"."""
    return cubes.bin_catalog(
        stars, {radius: axes.edges(RADIAL_EDGES, column=radius),
                "feh": axes.edges(FEH_EDGES), "z": Z_AXIS},
        values=["vz"], errors={"vz": "vz_error"}, replicates=16, progress=progress)


def masked_dispersion(cube: xr.Dataset) -> xr.DataArray:
    """σ_vz (§4.1), NaN in bins with fewer than MIN_STARS stars (per jackknife sample)."""
    return cube.cube.dispersion("vz").where(cube.cube.count() >= MIN_STARS)


def dispersions(cube: xr.Dataset) -> dict[str, dict[str, xr.Dataset]]:
    """§4.1–4.2: σ_vz North/South and Δσ_vz, for all [Fe/H] together ("all") and per [Fe/H]
    bin ("feh"), each as value ± jackknife error."""
    out = {}
    for label, c in (("all", cube.cube.sum("feh")), ("feh", cube)):
        sigma = masked_dispersion(c)
        out[label] = {"folded": cubes.estimate(stats.fold(sigma, "z")).compute(),
                      "diff": cubes.estimate(stats.north_south(sigma, "z")).compute()}
    return out


def phase_space_cubes(stars: xr.Dataset, progress: bool) -> tuple[xr.Dataset, xr.Dataset]:
    """§3.4–3.5 on Sample 2: (R_g, z, v_z) counts and (R_g, z, [Fe/H]) counts (fine [Fe/H]
    bins of 0.01 dex for medians)."""
    rg = axes.edges(RADIAL_EDGES, column="Rg")
    phase = cubes.bin_catalog(stars, {"Rg": rg, "z": Z_AXIS, "vz": axes.symmetric(60.0, 2.0)},
                              replicates=16, progress=progress)
    chem = cubes.bin_catalog(stars, {"Rg": rg, "z": Z_AXIS,
                                     "feh": axes.regular(-0.4, 1.0, 0.01)},
                             replicates=16, progress=progress)
    return phase, chem


def north_south_profiles_of(sigma_cube, phase, chem) -> dict[str, xr.DataArray]:
    """The three NS-difference profiles of Fig. 7 (per jackknife sample or subsample)."""
    return {"dsigma": stats.north_south(masked_dispersion(sigma_cube), "z"),
            "drho": contrast.contrast_north_south(phase, vz_max=10.0),
            "dfeh": asymmetry.median_north_south(chem, "feh", min_count=MIN_STARS)}


def correlations(profiles: dict[str, xr.DataArray]) -> xr.Dataset:
    """Pearson r, p of δρ_(N−S) against Δσ_vz and Δ[Fe/H], |z| ≤ 1 kpc (Table 1)."""
    out = {}
    for other in ("dsigma", "dfeh"):
        rp = correlation.pearson(profiles["drho"], profiles[other], "abs_z", within=(0, 1.0))
        out[f"r_drho_{other}"], out[f"p_drho_{other}"] = rp["r"], rp["p"]
    return xr.Dataset(out)


def run(catalog: str | None = None, survey: str = "gaia_dr3", n: int = 1_500_000,
        seed: int = 1, out: str | Path = f"cubes-{NAME}", progress: bool = True,
        lamost_rv_offset: float = 0.0) -> dict:
    clock = _common.Clock()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stars = _common.catalog(catalog, survey, lambda: default_mock(n, seed))
    stars = samples_0(phase_space(quality_cuts(stars), lamost_rv_offset))
    keep = [v for v in ("R", "Rg", "phi", "z", "vz", "vz_error", "feh", "source_id",
                        "selected") if v in stars.variables]
    stars = stars[keep].persist()  # one pass over the catalog for both cubes

    table = _common.Table("Lin et al. 2023 (spec 000): headline numbers")
    results, built = {}, {}
    for radius, sample in (("R", "Sample 1"), ("Rg", "Sample 2")):
        cube = built[radius] = build_cube(stars, radius, progress)
        cubes.write_cube(cube, out / f"{NAME}_{radius}.zarr", overwrite=True)
        res = dispersions(cube)
        results[radius] = res
        label = "R" if radius == "R" else "R_g"
        fig = north_south_profiles(
            res["all"]["folded"], res["all"]["diff"], "sigma_vz", panel_dim=radius,
            title=f"Lin+2023 Fig. 3 (right): σ_vz(|z|) North and South, {sample} "
                  f"({label} bins, −10° < φ < 10°)")
        fig.savefig(out / f"fig3_sigma_vz_{radius}.png", dpi=120)
        used = int(cube.attrs["stars_used"])
        table.add(f"{sample} stars (8 < {label} < 11 kpc, |z| < 1.5 kpc)", used)
        d = res["all"]["diff"]
        for r in d[radius].values:
            sel = d.sel({radius: r}).sel(abs_z=slice(0, 1.0))
            v, e = sel[DSIGMA], sel[f"{DSIGMA}_error"]
            ok = np.isfinite(v) & np.isfinite(e) & (e > 0)
            w = 1.0 / e.where(ok) ** 2
            mean = float((v * w).sum() / w.sum())
            table.add(f"mean Δσ_vz, |z| < 1 kpc, {sample}, {label} = {r - 0.5:g}–{r + 0.5:g}",
                      mean, float(1.0 / np.sqrt(w.sum())), "km/s", "inverse-variance mean")
    sigma2 = built["Rg"].cube.sum("feh")  # Sample 2, all [Fe/H]
    phase, chem = phase_space_cubes(stars, progress)
    cubes.write_cube(phase, out / f"{NAME}_phase_space.zarr", overwrite=True)
    profiles = cubes.estimate(xr.Dataset(north_south_profiles_of(sigma2, phase, chem))).compute()
    subs = [c.cube.subsamples(**SUBSAMPLES) for c in (sigma2, phase, chem)]
    table1 = resampling.percentiles(correlations(north_south_profiles_of(*subs))).compute()
    for pair, label in (("dsigma", "Δσ_vz"), ("dfeh", "Δ[Fe/H]")):
        for q in ("r", "p"):
            v = table1[f"{q}_drho_{pair}"]
            for rg in v.Rg.values:
                lo, mid, hi = (float(v.sel(Rg=rg, percentile=p)) for p in (16, 50, 84))
                table.add(f"Table 1: {q}(δρ_N−S, {label}), R_g = {rg - 0.5:g}–{rg + 0.5:g}",
                          mid, (hi - lo) / 2, "", f"16–84 %: {lo:.3g} to {hi:.3g}; 50 × 60 %")
    drho = cubes.estimate(phase.cube.density_contrast()).compute()
    # the map is shown where cells hold ≥ 10 stars: elsewhere δρ is Poisson noise
    drho = drho.where(phase["count"].sum("replicate") >= 10).sel(z=slice(-1.2, 1.2))
    fig = phase_maps(drho, "density_contrast", panel_dim="Rg", limit=0.3,
                     title="Lin+2023 Fig. 6: phase-space density contrast δρ, Sample 2 "
                           "(cells with ≥ 10 stars)")
    fig.savefig(out / "fig6_phase_space_contrast.png", dpi=120)
    fig = difference_profiles(
        {"Δσ_vz (σ_N − σ_S)": profiles[["dsigma", "dsigma_error"]].rename(
            dsigma="d", dsigma_error="d_error"),
         "δρ_N − δρ_S, |v_z| < 10 km/s": profiles[["drho", "drho_error"]].rename(
            drho="d", drho_error="d_error"),
         "Δ median [Fe/H]": profiles[["dfeh", "dfeh_error"]].rename(
            dfeh="d", dfeh_error="d_error")},
        "d", hue_dim="Rg", title="Lin+2023 Fig. 7 (left): North − South profiles, Sample 2")
    fig.savefig(out / "fig7_north_south_profiles.png", dpi=120)
    rows = {"Sample 1 (R bins)": ("R", results["R"]), "Sample 2 (R_g bins)": ("Rg", results["Rg"])}
    fig = difference_profiles(
        {lab: res["all"]["diff"] for lab, (_, res) in rows.items()}, DSIGMA,
        hue_dim={lab: r for lab, (r, _) in rows.items()},
        title="Lin+2023 Fig. 5: Δσ_vz(|z|) = σ_N − σ_S per radial bin (jackknife errors)")
    fig.savefig(out / "fig5_delta_sigma_vz.png", dpi=120)
    fig = difference_profiles(
        {lab: res["feh"]["diff"] for lab, (_, res) in rows.items()}, DSIGMA, hue_dim="feh",
        col_dim={lab: r for lab, (r, _) in rows.items()},
        title="Lin+2023 Fig. 8: Δσ_vz(|z|) per radial bin, split by [Fe/H]")
    fig.savefig(out / "fig8_delta_sigma_vz_feh.png", dpi=120)
    table.add("wall time", clock(), None, "s")
    csv_path, md_path = table.write(out, f"{NAME}_table")
    print(md_path.read_text())
    return {"table": table.rows, "results": results, "profiles": profiles, "table1": table1,
            "out": str(out), "seconds": clock()}


def main(argv: list[str] | None = None) -> int:
    p = _common.parser(NAME, __doc__.splitlines()[0], n_default=1_500_000)
    p.add_argument("--lamost-rv-offset", type=float, default=0.0,
                   help="km/s added to RVs (5.7 for LAMOST DR7, Tian et al. 2015)")
    a = p.parse_args(argv)
    run(a.catalog, a.survey, a.n, a.seed, a.out, not a.no_progress, a.lamost_rv_offset)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
