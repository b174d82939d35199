"""Hawkins (2023) line fit with intrinsic scatter and errors on both axes, on xarray objects.

The model and likelihood are in :mod:`cubes.kernels.linefit` (Hogg, Bovy & Lang 2010 §§7–8, in
Foreman-Mackey's form: spec 002 §4.1, Eq. 4). Here it is vectorized over every dim but the one
holding the points with ``xr.apply_ufunc(..., vectorize=True, dask="parallelized")``:

- :func:`fit_line` fits points (stars of a catalog slice, or the points of a binned profile)
  given as DataArrays along a ``dim``;
- :func:`fit_line_groups` fits groups of points given by their moments (a cube's bins: see
  :func:`cubes.stats.gradients.line_fit`).

Both return a Dataset ``slope``, ``intercept``, ``scatter`` (posterior medians) with
``<name>_p16`` / ``<name>_p84`` (16th / 84th percentiles) and ``n_points``; ``method="mle"``
returns the maximum-likelihood point instead (the spec's fast path, no percentiles).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from ..kernels import linefit as kl
from ._chunks import core_whole

_GROUP_FIELDS = ("n", "xbar", "ybar", "cxx", "cyy", "cxy", "sx2", "sy2", "sxy")
PARAM_DIM = "parameter"
STAT_DIM = "percentile"


def _check(method, scatter, priors, walkers, steps, burn):
    if method not in ("mcmc", "mle"):
        raise ValueError(f"method must be 'mcmc' (emcee) or 'mle', got {method!r}")
    if scatter not in kl.SCATTER_MODES:
        raise ValueError(f"scatter must be one of {kl.SCATTER_MODES!r}, got {scatter!r}")
    if priors is None:
        priors = kl.DEFAULT_PRIORS
    elif isinstance(priors, dict):
        bad = set(priors) - set(kl.PARAMETERS)
        if bad:
            raise ValueError(f"priors: unknown parameters {sorted(bad)!r}; use "
                             f"{list(kl.PARAMETERS)!r}")
        priors = tuple(tuple(priors.get(p, d)) for p, d in zip(kl.PARAMETERS,
                                                               kl.DEFAULT_PRIORS, strict=True))
    priors = tuple((float(lo), float(hi)) for lo, hi in priors)
    if len(priors) != 3 or any(lo >= hi for lo, hi in priors):
        raise ValueError(f"priors must be 3 increasing (lo, hi) ranges, got {priors!r}")
    if method == "mcmc":
        if walkers < 6 or steps < 2:
            raise ValueError(f"emcee needs walkers >= 6 (2 x 3 parameters) and steps >= 2, "
                             f"got walkers={walkers}, steps={steps}")
        if burn is not None and not 0 <= burn < steps:
            raise ValueError(f"burn must be in [0, steps), got {burn!r}")
    return priors


def _core(*arrays, method, quantiles, options):
    """One fit (the ufunc core): parameters × (percentiles … [, MLE])."""
    if method == "mle":
        return kl.line_mle(*arrays, scatter=options["scatter"], priors=options["priors"],
                           min_points=options["min_points"])[:, None]
    return kl.sample_line(*arrays, quantiles=quantiles, **options)


def fit_line_groups(groups: xr.Dataset, dim: str, *, method: str = "mcmc",
                    scatter: str = "perpendicular", priors=None, walkers: int = 10,
                    steps: int = 1000, burn: int | None = None, seed: int = 0,
                    min_points: int = 3, units: Sequence[str | None] = (None, None)
                    ) -> xr.Dataset:
    """Fit the line model to groups of points described by their moments along ``dim``.

    ``groups`` holds ``n`` (points per group), ``xbar``, ``ybar`` (means), ``cxx``, ``cyy``,
    ``cxy`` (centred second moments Σ(x − x̄)² …), ``sx2``, ``sy2``, ``sxy`` (mean squared
    errors and error covariance), all along ``dim`` (see :mod:`cubes.kernels.linefit`). Every
    other dim is fitted independently; ``units`` = (x units, y units) label the results.
    """
    priors = _check(method, scatter, priors, walkers, steps, burn)
    missing = [f for f in _GROUP_FIELDS if f not in groups]
    if missing:
        raise KeyError(f"fit_line_groups: missing group moments {missing!r}")
    if dim not in groups.dims:
        raise ValueError(f"fit_line_groups: no dim {dim!r} to fit along (dims: "
                         f"{list(groups.dims)!r})")
    quantiles = np.array([0.16, 0.5, 0.84])
    options = {"scatter": scatter, "priors": priors, "min_points": int(min_points)}
    if method == "mcmc":
        options.update(walkers=int(walkers), steps=int(steps), burn=burn, seed=int(seed))
    nstat = 1 if method == "mle" else quantiles.size
    arrays = [core_whole(groups[f].astype(np.float64), dim) for f in _GROUP_FIELDS]
    out = xr.apply_ufunc(
        _core, *arrays, input_core_dims=[[dim]] * len(arrays),
        output_core_dims=[[PARAM_DIM, STAT_DIM]], vectorize=True, dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {PARAM_DIM: 3, STAT_DIM: nstat}},
        kwargs={"method": method, "quantiles": quantiles, "options": options},
    )
    ux, uy = units
    from ..units import inverse, product

    param_units = {"slope": product(uy, inverse(ux)) if ux and uy else None,
                   "intercept": uy, "scatter": uy}
    where = "perpendicular to the line" if scatter == "perpendicular" else "along y"
    what = {"slope": "slope m", "intercept": "intercept b (y at x = 0)",
            "scatter": f"intrinsic scatter λ ({where})"}
    ds = xr.Dataset()
    mid = 0 if method == "mle" else 1
    for k, p in enumerate(kl.PARAMETERS):
        attrs = {"long_name": f"{what[p]}, posterior median" if method == "mcmc"
                 else f"{what[p]}, maximum likelihood"}
        if param_units[p]:
            attrs["units"] = param_units[p]
        ds[p] = out.isel({PARAM_DIM: k, STAT_DIM: mid}, drop=True).assign_attrs(attrs)
        if method == "mcmc":
            for j, tag in ((0, "p16"), (2, "p84")):
                ds[f"{p}_{tag}"] = out.isel({PARAM_DIM: k, STAT_DIM: j}, drop=True).assign_attrs(
                    {**attrs, "long_name": f"{what[p]}, posterior {tag[1:]}th percentile"})
    npts = groups["n"].where(groups["n"] > 0).sum(dim)
    npts.attrs = {"long_name": "number of points fitted"}
    ds["n_points"] = npts
    ds.attrs = {"model": "y = m x + b with intrinsic scatter λ and errors on both axes "
                         "(Hogg, Bovy & Lang 2010 §7-8; Hawkins 2023 Eq. 4)",
                "scatter": scatter, "priors": str(dict(zip(kl.PARAMETERS, priors,
                                                          strict=True))),
                "method": method}
    if method == "mcmc":
        ds.attrs.update(sampler=f"emcee, {walkers} walkers x {steps} steps, burn "
                                f"{steps // 2 if burn is None else burn}, seed {seed}")
    return ds


def fit_line(x: xr.DataArray, y: xr.DataArray, *, dim: str,
             x_error: xr.DataArray | float | None = None,
             y_error: xr.DataArray | float | None = None,
             xy_cov: xr.DataArray | float | None = None, method: str = "mcmc",
             scatter: str = "perpendicular", priors=None, walkers: int = 10,
             steps: int = 1000, burn: int | None = None, seed: int = 0,
             min_points: int = 3) -> xr.Dataset:
    """Hawkins (2023) line fit to points along ``dim``: y = m x + b with intrinsic scatter λ.

    Spec 002 §4.1 (Eq. 4): per-point covariance S_i = [[σ_x², σ_xy], [σ_xy, σ_y²]], scatter
    tensor λ² n̂n̂ᵀ perpendicular to the line (``scatter="vertical"``: λ along y, the paper's
    variant), unnormalised projection v = (−m, 1) (A3). Priors (A1): uniform m ∈ (−2, 2),
    b ∈ (−10, 10), λ ∈ (0, 2) — ``priors={"slope": (lo, hi), …}`` to change them. Sampler: emcee
    with the paper's 10 walkers × 1000 steps, started in a 1e-4 ball around the maximum
    likelihood, first half discarded (A2); reported: posterior median and 16/84 percentiles.

    Parameters
    ----------
    x, y : DataArray
        Coordinates and values of the points along ``dim`` (e.g. R in kpc and [Fe/H] in dex of
        the stars of one |Z| slice, or a binned profile); NaN points are ignored. Every other
        dim is a separate fit (``apply_ufunc(vectorize=True)``), so one call fits all slices.
    x_error, y_error, xy_cov : DataArray or float, optional
        σ_x, σ_y (same units as x, y) and σ_xy per point (default 0).
    method : "mcmc" or "mle"
        emcee posterior, or the maximum-likelihood point only (fast, deterministic).
    seed : int
        Seeds the walkers' start and emcee's moves: the same call gives the same numbers.

    Returns
    -------
    xr.Dataset
        ``slope`` (y units per x unit), ``intercept`` (y at x = 0), ``scatter`` (y units),
        with ``_p16`` and ``_p84`` for ``method="mcmc"``, and ``n_points``.
    """
    if dim not in x.dims or dim not in y.dims:
        raise ValueError(f"fit_line: x and y need the points dim {dim!r} (x: {x.dims!r}, "
                         f"y: {y.dims!r})")
    zero = xr.zeros_like(x, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)

    def err2(e):
        return zero if e is None else (zero + e) ** 2

    groups = xr.Dataset({
        "n": ok.astype(np.float64), "xbar": x.where(ok), "ybar": y.where(ok),
        "cxx": zero, "cyy": zero, "cxy": zero, "sx2": err2(x_error), "sy2": err2(y_error),
        "sxy": zero if xy_cov is None else zero + xy_cov,
    })
    return fit_line_groups(groups, dim, method=method, scatter=scatter, priors=priors,
                           walkers=walkers, steps=steps, burn=burn, seed=seed,
                           min_points=min_points,
                           units=(x.attrs.get("units"), y.attrs.get("units")))
