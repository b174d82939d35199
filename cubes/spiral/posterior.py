"""An emcee posterior of step 2's parameters for one sample (issue 5, "uncertainties on request").

    maps = cubes.spiral.fit(hist)
    post = cubes.spiral.posterior(hist.isel(sample=3), maps.isel(sample=3), seed=1)
    post["omega"].sel(stat=["p16", "median", "p84"])

The log-probability is minus the fit's own loss (:func:`cubes.kernels.spiral.joint_loss`, or
:func:`~cubes.kernels.spiral.spiral_loss` with W⊙ fixed): the log cosh of Poisson deviance
residuals, ≈ ½ Σ x² = −log L + const where the residuals are small, so it is the fit's
likelihood, with the same row-conditional (or paper) normalisation and the same rebinned
histogram. Sampled: (A_Φ, ω, φ₆₀₀, α, β, W⊙) — W⊙ only when the fit had it free — with the
background's shape fixed at the fit's final background (``bg_weight``, ``bg_sigma_z``,
``bg_sigma_w``: step 1, refitted once under the spiral in the default fit). Priors are flat
within the fit's bounds: A_Φ and ω in ``A_bounds`` and ``omega_bounds``, α, β ≥ 0,
α + β ≤ ``s_max`` (< 1), W⊙ within the histogram's w range, φ₆₀₀ free on the circle (summaries
are taken on the circle, centred on the maximum-likelihood φ₆₀₀, and wrapped to [0, 2π)).

The uncertainties are conditional on the background; the loss is robust (linear beyond
|x| ≈ 1), so in bins with outliers the posterior is a little wider than a Poisson one.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..kernels import spiral as ks
from . import fitting as fm
from . import maps as mp
from ._threads import single_threaded_blas
from .tables import SpiralTables, default_tables

PARAMS = ("A_phi", "omega", "phi600", "alpha", "beta", "W_sun")
_STATS = ("median", "p16", "p84", "ml")


def _options(fit_result: xr.Dataset, options: fm.FitOptions | None, overrides) -> fm.FitOptions:
    """The fit's options, from ``options`` or from the attrs :func:`cubes.spiral.fit` writes."""
    if options is None:
        at = fit_result.attrs
        ws = at.get("w_sun", "free")
        kw = dict(method=at.get("method", "row"), z_sun=float(at.get("z_sun_pc", 0.0)),
                  w_sun=None if isinstance(ws, str) else float(ws),
                  rebin=int(at.get("rebin", 2)))
        options = fm.FitOptions(**kw)
    if overrides:
        kw = dict(options.__dict__)
        kw.update(overrides)
        options = fm.FitOptions(**kw)
    return options


class _LogProb:
    """−loss of the fit at θ = (A_Φ, ω, φ₆₀₀, α, β[, W⊙]), −inf outside the flat prior."""

    def __init__(self, p: fm._Prepared, bg, w_sun, free_w: bool, opts: fm.FitOptions,
                 tab: SpiralTables):
        self.p, self.bg, self.free_w, self.opts = p, bg, free_w, opts
        self.tab_args = tab.kernel_args()
        self.w_sun = w_sun
        self.B = None if free_w else ks.background(p.z, p.w, p.dz, p.dw, *bg, w_sun)
        self.w_range = (float(p.w[0]), float(p.w[-1]))
        self.gb, self.gs = np.empty(3 * fm.K + 1), np.empty(5)

    def inside(self, x) -> bool:
        o = self.opts
        A, om, _, al, be = x[:5]
        ok = (o.A_bounds[0] <= A <= o.A_bounds[1] and o.omega_bounds[0] <= om
              <= o.omega_bounds[1] and al >= 0.0 and be >= 0.0 and al + be <= o.s_max)
        if self.free_w:
            ok = ok and self.w_range[0] <= x[5] <= self.w_range[1]
        return bool(ok)

    def loss(self, x) -> float:
        p = self.p
        if self.free_w:
            a, sz, sw = self.bg
            return ks.joint_loss(p.z, p.zphi, p.w, p.dz, p.dw, p.data, p.row, p.mode, a, sz,
                                 sw, x[5], *x[:5], *self.tab_args, self.gb, self.gs)
        return ks.spiral_loss(p.z, p.zphi, p.w + self.w_sun, self.B, p.data, p.row, p.mode,
                              *x[:5], *self.tab_args, self.gs)

    def __call__(self, x) -> float:
        if not self.inside(x):
            return -np.inf
        v = self.loss(x)
        return -v if np.isfinite(v) else -np.inf


def _scalar(ds: xr.Dataset, name: str) -> float:
    v = ds[name]
    if v.size != 1:
        raise ValueError(f"fit_result must be the fit of one sample ({name} has shape "
                         f"{v.shape}): select it, e.g. maps.isel(sample=k)")
    return float(v.values.ravel()[0])


def posterior(
    hist: xr.Dataset | xr.DataArray,
    fit_result: xr.Dataset,
    *,
    walkers: int = 24,
    steps: int = 600,
    burn: int | None = None,
    seed: int | None = 0,
    return_chain: bool = False,
    sigma_w: float | None = None,
    options: fm.FitOptions | None = None,
    tables: SpiralTables | None = None,
    **option_overrides,
) -> xr.Dataset:
    """emcee posterior of (A_Φ, ω, φ₆₀₀, α, β, W⊙) for one sample, around the ML fit.

    Parameters
    ----------
    hist : Dataset or DataArray
        The histogram of one sample (dims z, w only), as given to :func:`cubes.spiral.fit`.
    fit_result : Dataset
        :func:`cubes.spiral.fit` of that sample (scalars; its attrs give the fit's method,
        z_sun, w_sun and rebin unless ``options`` is given).
    walkers, steps, burn : int
        emcee walkers, steps per walker and steps discarded (default steps // 3).
    seed : int, optional
        Seed of the walkers' start (a ball of relative size 1e-3 about the ML point) and of
        the moves.
    return_chain : bool
        Also return the flattened post-burn chain (``chain`` on dims draw, param) and its
        log-probability.
    sigma_w : float, optional
        σ_w (km/s) when ``hist`` has a normalised w axis but no ``sigma_w``.
    options : FitOptions, optional
        The fit's options if not those recorded in ``fit_result.attrs``; keyword overrides
        are applied on top.

    Returns
    -------
    xr.Dataset
        One variable per parameter (A_phi, omega, phi600, alpha, beta, W_sun,
        alpha_plus_beta) on a ``stat`` dim (median, p16, p84, ml: the maximum-likelihood
        value of the fit), plus ``sigma`` = (p84 − p16)/2 per parameter on the same names
        with suffix ``_sigma``; attrs: acceptance fraction, autocorrelation time estimate
        (steps), walkers, steps, burn, sampled parameters. W_sun is the ML value with zero
        spread when the fit had it fixed.
    """
    import emcee

    opts = _options(fit_result, options, option_overrides)
    tab = tables or default_tables()
    bits = int(_scalar(fit_result, "reason_bits"))
    if bits & fm.BAD_INPUT or not np.isfinite(_scalar(fit_result, "A_phi")):
        raise ValueError(f"the sample was not fitted ({fm.reason_of(bits)}): no posterior")
    counts, sig, centre = mp._counts_and_sigma(hist, sigma_w)
    if set(counts.dims) != {"z", "w"}:
        raise ValueError(f"hist must be one sample with dims (z, w), got {counts.dims}")
    counts = counts.transpose("z", "w")
    z_pc = mp._z_in_pc(counts)
    w = mp._w_kms(counts["w"].values, float(sig), centre)
    p = fm._prepare(*fm._rebin(counts.values.astype(np.float64), z_pc, w, opts.rebin), opts,
                    tab)
    bg = tuple(np.asarray(fit_result[v].values, dtype=np.float64).ravel()
               for v in ("bg_weight", "bg_sigma_z", "bg_sigma_w"))
    free_w = opts.w_sun is None
    ml = np.array([_scalar(fit_result, n) for n in PARAMS])
    logp = _LogProb(p, bg, ml[5], free_w, opts, tab)
    ndim = 6 if free_w else 5
    x_ml = ml[:ndim].copy()
    # keep the start strictly inside the prior (α or β may sit at 0)
    x_ml[3:5] = np.maximum(x_ml[3:5], 1e-4)
    if x_ml[3] + x_ml[4] > opts.s_max:
        x_ml[3:5] *= (opts.s_max - 1e-4) / (x_ml[3] + x_ml[4])
    x_ml[0] = np.clip(x_ml[0], opts.A_bounds[0] * 1.001, opts.A_bounds[1] * 0.999)
    x_ml[1] = np.clip(x_ml[1], opts.omega_bounds[0] + 1e-4, opts.omega_bounds[1] - 1e-4)
    rng = np.random.default_rng(seed)
    scale = np.array([1e-3 * x_ml[0], 1e-3, 1e-3, 1e-4, 1e-4, 1e-3][:ndim])
    start = []
    while len(start) < walkers:
        x = x_ml + scale * rng.standard_normal(ndim)
        if np.isfinite(logp(x)):
            start.append(x)
    burn = steps // 3 if burn is None else int(burn)
    with single_threaded_blas():
        sampler = emcee.EnsembleSampler(walkers, ndim, logp)
        if seed is not None:
            sampler.random_state = np.random.RandomState(seed).get_state()
        sampler.run_mcmc(np.array(start), steps, progress=False)
    flat = sampler.get_chain(discard=burn, flat=True)
    lp = sampler.get_log_prob(discard=burn, flat=True)
    if not free_w:
        flat = np.column_stack([flat, np.full(len(flat), ml[5])])
    # φ₆₀₀ on the circle, centred on the ML value
    flat[:, 2] = ml[2] + np.angle(np.exp(1j * (flat[:, 2] - ml[2])))
    samples = {n: flat[:, k] for k, n in enumerate(PARAMS)}
    samples["alpha_plus_beta"] = flat[:, 3] + flat[:, 4]
    ml_all = dict(zip(PARAMS, ml, strict=True))
    ml_all["alpha_plus_beta"] = ml[3] + ml[4]
    out = xr.Dataset(coords={"stat": list(_STATS)})
    for name, v in samples.items():
        q16, q50, q84 = np.percentile(v, [16, 50, 84])
        vals = np.array([q50, q16, q84, ml_all[name]])
        if name == "phi600":
            vals = np.mod(vals, 2 * np.pi)
        out[name] = ("stat", vals)
        out[f"{name}_sigma"] = 0.5 * (q84 - q16)
    try:
        tau = float(np.max(sampler.get_autocorr_time(discard=burn, tol=0)))
    except Exception:  # noqa: BLE001 - a too short chain: no estimate
        tau = float("nan")
    out.attrs.update(acceptance=float(np.mean(sampler.acceptance_fraction)),
                     autocorr_steps=tau, walkers=walkers, steps=steps, burn=burn,
                     sampled=" ".join(PARAMS[:ndim]), method=opts.method,
                     likelihood="minus the fit's log-cosh loss (cubes.kernels.spiral)",
                     background="fixed at the fit's final background")
    for name in ("A_phi", "alpha", "beta", "alpha_plus_beta"):
        out[name].attrs["units"] = "1"
    for name in ("omega", "phi600"):
        out[name].attrs["units"] = "rad"
    out["W_sun"].attrs["units"] = "km/s"
    if return_chain:
        out["chain"] = (("draw", "param"), flat)
        out["log_prob"] = ("draw", lp)
        out = out.assign_coords(param=list(PARAMS))
    return out
