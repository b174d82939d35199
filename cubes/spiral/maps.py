"""Phase-spiral parameter maps: every sample of a histogram cube fitted by ``xr.apply_ufunc``.

:func:`fit` runs :func:`cubes.spiral.fitting.fit_histogram` on each (z, w) histogram of the
cube, vectorised over all other dims (hex cells, velocity cells, replicates, …) and in parallel
over the dask chunks of those dims (``dask="parallelized"``: chunk the sample dims, e.g.
``hist.chunk({"cell": 16})``, and pick a scheduler). A sample that cannot be fitted gets NaN
parameters, a quality flag and a reason: bad input never stops the map.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import xarray as xr

from ..stats._chunks import core_whole
from ..vertical import SolarVerticalPotential, VerticalOrbits
from . import fitting as fm

#: Eq. 28 of Widmark+2025: t_ω = ω exp[(R − R⊙)/2.6 kpc] × 71.9 Myr/rad
EQ28_MYR_PER_RAD, EQ28_SCALE_KPC, R_SUN_KPC = 71.9, 2.6, 8.178

_UNITS = {"A_phi": "1", "omega": "rad", "phi600": "rad", "alpha": "1", "beta": "1",
          "W_sun": "km/s", "loss_background": "1", "loss_spiral": "1", "n_stars": "1",
          "t_omega": "Myr", "t_omega_model": "Myr"}
_LONG = {
    "A_phi": "vertical potential amplitude A_Phi (Phi = A_Phi Phi_sun)",
    "omega": "spiral winding between z_max = 300 and 800 pc",
    "phi600": "spiral phase at z_max = 600 pc, in [0, 2 pi)",
    "alpha": "one-armed relative amplitude", "beta": "two-armed relative amplitude",
    "W_sun": "solar vertical velocity W_sun of the model w = W + W_sun",
    "loss_background": "log-cosh loss of the background alone (step 1 model)",
    "loss_spiral": "log-cosh loss of background x (1 + M S) (step 2)",
    "fit_excess": "final loss / expected loss of a perfect model (Poisson noise)",
    "start_spread": "loss difference of the two best step-1 starts",
    "region_stars": "stars on orbits with mask M > 0.5 (z_max 300-800 pc)",
}


def _w_kms(u, sigma, centre):
    return np.asarray(u, dtype=np.float64) * sigma + centre


def _fit_one(counts, sigma_w, *, z_pc, u, w_centre, options):
    w = _w_kms(u, float(sigma_w), w_centre)
    if not (np.isfinite(sigma_w) and sigma_w > 0):  # σ_w of an empty or one-star sample
        out = np.full(len(fm.OUTPUTS), np.nan)
        n = float(np.nansum(counts))
        out[fm.OUTPUTS.index("n_stars")] = n
        out[fm.OUTPUTS.index("reason_bits")] = fm.TOO_FEW if n < options.min_stars \
            else fm.INVALID
        return out
    return fm.fit_histogram(counts, z_pc, w, options=options)


def _fit_many(counts, sigma_w, *, z_pc, u, w_centre, options):
    """:func:`_fit_one` over the leading (sample) axes of ``counts`` (…, z, w): the loop
    ``np.vectorize`` would run, but also on size-0 sample axes (an empty map), where
    ``np.vectorize`` with a new output dim raises."""
    counts = np.asarray(counts, dtype=np.float64)
    lead = counts.shape[:-2]
    sig = np.broadcast_to(np.asarray(sigma_w, dtype=np.float64), lead)
    out = np.empty(lead + (len(fm.OUTPUTS),))
    for i in np.ndindex(*lead):
        out[i] = _fit_one(counts[i], sig[i], z_pc=z_pc, u=u, w_centre=w_centre,
                          options=options)
    return out


def _counts_and_sigma(hist, sigma_w):
    if isinstance(hist, xr.Dataset):
        if "count" not in hist:
            raise KeyError("a histogram Dataset needs a 'count' variable (cubes.spiral.histogram)")
        counts = hist["count"]
        if sigma_w is None and "sigma_w" in hist:
            sigma_w = hist["sigma_w"]
        centre = float(hist.attrs.get("w_centre", 0.0))
    else:
        counts = hist
        centre = float(hist.attrs.get("w_centre", 0.0))
    for d in ("z", "w"):
        if d not in counts.dims:
            raise ValueError(f"the histogram needs dims 'z' and 'w', got {counts.dims}")
    if sigma_w is None:  # the w coordinate is in km/s
        sigma_w = xr.DataArray(1.0)
        if counts["w"].attrs.get("units") in ("1", "sigma_w"):
            raise ValueError("the w axis is in units of sigma_w: pass sigma_w= (km/s) or a "
                             "Dataset with a sigma_w variable")
    elif not isinstance(sigma_w, xr.DataArray):
        sigma_w = xr.DataArray(sigma_w)
    return counts, sigma_w, centre


def _z_in_pc(counts) -> np.ndarray:
    z = np.asarray(counts["z"].values, dtype=np.float64)
    units = counts["z"].attrs.get("units", "kpc")
    if units == "pc":
        return z
    if units != "kpc":
        raise ValueError(f"z must be in kpc or pc, got {units!r}")
    return 1000.0 * z


def winding_time_eq28(omega, R) -> xr.DataArray:
    """t_ω = ω exp[(R − R⊙)/2.6 kpc] × 71.9 Myr/rad (Widmark+2025 Eq. 28, literal; R in kpc)."""
    return omega * np.exp((R - R_SUN_KPC) / EQ28_SCALE_KPC) * EQ28_MYR_PER_RAD


def winding_time_model(omega, A_phi, G: str = "codata") -> xr.DataArray:
    """t_ω = ω / {2π √A_Φ [ν(300) − ν(800)]}, ν = 1/P⊙(z_max) (spec 004 §5.5, §6.4 "model-
    consistent"): the time since an unwound spiral in the potential A_Φ Φ⊙, Myr."""
    p300, p800 = VerticalOrbits(SolarVerticalPotential(G=G)).period(np.array([300.0, 800.0]))
    return omega / (2.0 * np.pi * np.sqrt(A_phi) * (1.0 / p300 - 1.0 / p800))


def fit(
    hist: xr.Dataset | xr.DataArray,
    sigma_w=None,
    *,
    method: str = "row",
    w_sun: float | None = None,
    z_sun: float = 0.0,
    R: xr.DataArray | float | None = None,
    G: str = "codata",
    options: fm.FitOptions | None = None,
    **option_overrides,
) -> xr.Dataset:
    """Fit the Widmark+2025 phase-spiral model to every sample of a histogram cube.

    Parameters
    ----------
    hist : Dataset or DataArray
        Counts on dims (z, w) plus any sample dims: a Dataset from
        :func:`cubes.spiral.histogram` (``count``, ``sigma_w``; w in units of σ_w) or a
        DataArray whose w coordinate is in km/s (z in kpc, or pc by its ``units``).
    sigma_w : DataArray or float, optional
        σ_w per sample (km/s) when the w axis is normalised and ``hist`` does not carry it.
    method : {"row", "paper"}
        Row-conditional likelihood (default) or the paper's Eqs. 22–23 with the sech² η_i.
    w_sun : float, optional
        Fixed W⊙ (km/s; 7.25 for heliocentric W of phase-space samples); None fits it.
    z_sun : float
        Z⊙ added to the histogram's z (kpc): 0.020 for heliocentric Z (the paper), 0 for
        Galactic z.
    R : DataArray or float, optional
        Galactocentric radius of each sample (kpc) for Eq. 28; default the ``R`` coordinate of
        the histogram, else R⊙ = 8.178 kpc (recorded in the attrs).
    G : {"codata", "widmark2025"}
        Gravitational constant of the model-consistent t_ω.
    options : FitOptions, optional
        All the fit's choices (:class:`cubes.spiral.fitting.FitOptions`); keyword overrides
        (e.g. ``gain_min=40``) are applied on top.

    Returns
    -------
    xr.Dataset
        On the sample dims: A_phi, omega, phi600, alpha, beta, alpha_plus_beta,
        beta_fraction, W_sun, t_omega (Eq. 28), t_omega_model, loglike_gain (loss decrease
        of step 2 over step 1), gain_threshold (its detection threshold at the sample's
        n_stars, :meth:`FitOptions.gain_threshold`), quality (0 good, 1 dubious, 2 no
        spiral, 3 not fitted), reason, reason_bits, the diagnostics n_stars, n_empty_rows,
        region_stars, fit_excess, start_spread, and the step-1 background (bg_weight,
        bg_sigma_z in pc, bg_sigma_w in km/s, on a ``component`` dim).
    """
    base = options or fm.FitOptions()
    kw = dict(base.__dict__)
    kw.update(method=method, w_sun=w_sun, z_sun=1000.0 * z_sun)
    kw.update(option_overrides)
    opts = fm.FitOptions(**kw)
    counts, sig, centre = _counts_and_sigma(hist, sigma_w)
    z_pc = _z_in_pc(counts)
    u = np.asarray(counts["w"].values, dtype=np.float64)
    res = xr.apply_ufunc(
        _fit_many, core_whole(counts.astype(np.float64), ("z", "w")), sig.astype(np.float64),
        input_core_dims=[["z", "w"], []], output_core_dims=[["param"]],
        dask="parallelized", output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"param": len(fm.OUTPUTS)}},
        kwargs={"z_pc": z_pc, "u": u, "w_centre": centre, "options": opts},
    )
    res = res.compute() if hasattr(res.data, "dask") else res
    return _assemble(res, counts, opts, R, G)


def _assemble(res: xr.DataArray, counts: xr.DataArray, opts: fm.FitOptions, R, G) -> xr.Dataset:
    ix = {n: i for i, n in enumerate(fm.OUTPUTS)}
    take = {n: res.isel(param=i, drop=True) for n, i in ix.items()}
    out = xr.Dataset()
    for name in ("A_phi", "omega", "phi600", "alpha", "beta", "W_sun"):
        out[name] = take[name]
    out["alpha_plus_beta"] = out["alpha"] + out["beta"]
    out["beta_fraction"] = xr.where(out["alpha_plus_beta"] > 0,
                                    out["beta"] / out["alpha_plus_beta"], np.nan)
    r_attr = "R coordinate"
    if R is None:
        if "R" in counts.coords:
            R = counts["R"]
        else:
            R, r_attr = R_SUN_KPC, "R_sun = 8.178 kpc (no R given)"
    out["t_omega"] = winding_time_eq28(out["omega"], R)
    out["t_omega_model"] = winding_time_model(out["omega"], out["A_phi"], G)
    out["loglike_gain"] = take["loss_background"] - take["loss_spiral"]
    out["gain_threshold"] = take["gain_threshold"]
    bits = take["reason_bits"].fillna(fm.FAILED).astype(np.int64)
    out["quality"] = xr.apply_ufunc(fm.quality_of, bits)
    out["reason"] = xr.apply_ufunc(np.vectorize(fm.reason_of, otypes=[object]), bits).astype(str)
    out["reason_bits"] = bits
    for name in ("n_stars", "n_empty_rows", "region_stars", "fit_excess", "start_spread",
                 "loss_background", "loss_spiral"):
        out[name] = take[name]
    comp = {"component": np.arange(fm.K)}
    for var, prefix in (("bg_weight", "a_"), ("bg_sigma_z", "sigma_z_"),
                        ("bg_sigma_w", "sigma_w_")):
        parts = [take[f"{prefix}{k}"] for k in range(fm.K)]
        out[var] = xr.concat(parts, dim="component").assign_coords(comp)
    for name, units in _UNITS.items():
        if name in out:
            out[name].attrs["units"] = units
    for name, text in _LONG.items():
        if name in out:
            out[name].attrs["long_name"] = text
    out["t_omega"].attrs.update(long_name="winding time, Widmark+2025 Eq. 28 (literal)",
                                R=r_attr)
    out["t_omega_model"].attrs.update(long_name="winding time in A_Phi Phi_sun "
                                      "(omega / 2 pi sqrt(A) [1/P(300) - 1/P(800)])", G=G)
    out["loglike_gain"].attrs.update(long_name="log-likelihood gain of step 2 over step 1 "
                                     "(log-cosh loss decrease)")
    out["gain_threshold"].attrs.update(
        long_name="least loglike_gain of a detection for this sample's n_stars: "
        f"clip({opts.gain_min:g} n / {opts.gain_n_ref:g}, {opts.gain_floor:g}, {opts.gain_min:g})"
        f"; {opts.gain_min:g} for beta > alpha at omega < {opts.degenerate_omega:g}"
        if opts.gain_scaling else f"least loglike_gain of a detection (constant {opts.gain_min:g})")
    out["quality"].attrs.update(flag_values=np.array([0, 1, 2, 3], np.int8),
                                flag_meanings="good dubious no_spiral not_fitted",
                                long_name="quality flag (docs/spiral.md, Vetting)")
    out["reason_bits"].attrs.update(
        long_name="reasons as bits", flag_masks=np.array(list(fm.REASONS), np.int64),
        flag_meanings=" ".join(t.replace(" ", "_").replace("(", "").replace(")", "")
                               .replace("+", "_plus_").replace("<", "lt")
                               for t in fm.REASONS.values()))
    out["bg_sigma_z"].attrs["units"] = "pc"
    out["bg_sigma_w"].attrs["units"] = "km/s"
    out["bg_weight"].attrs["long_name"] = "background component weights (stars)"
    out = out.assign_coords({c: counts.coords[c] for c in counts.coords
                             if not set(counts.coords[c].dims) & {"z", "w"}})
    out.attrs.update(method=opts.method, z_sun_pc=opts.z_sun,
                     w_sun="free" if opts.w_sun is None else opts.w_sun,
                     gain_min=opts.gain_min, gain_floor=opts.gain_floor,
                     gain_n_ref=opts.gain_n_ref, gain_scaling=int(opts.gain_scaling),
                     amp_min=opts.amp_min, rebin=opts.rebin,
                     spec="Widmark+2025 (seeds 004), spec sections 4-6")
    return out


def sample_dims(hist: xr.Dataset | xr.DataArray) -> tuple[Hashable, ...]:
    """The dims of a histogram cube other than z and w (the dims of the maps)."""
    da = hist["count"] if isinstance(hist, xr.Dataset) else hist
    return tuple(d for d in da.dims if d not in ("z", "w"))
