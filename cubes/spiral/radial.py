"""The radial profile of the vertical-potential amplitude, A_Φ(R) = A_Φ,⊙ exp[−(R − R⊙)/h_R]
(Widmark+2025 Fig. 5, spec 004 §6.3).

:func:`exponential_fit` fits the map of A_Φ (one value per sample: hexagonal cell, velocity
cell, …) against the samples' radii, with

- ``norm="l1"`` (the paper's): minimise Σ |A_i − m(R_i)| / σ_i (exactly: for a fixed slope
  the best A_Φ,⊙ is a weighted median, and the profiled loss is minimised over the slope),
  where σ_i is the per-sample error, or ∝ 1/√N_i from the samples' star counts (the paper
  prints "σ ∝ √N", which would down-weight the richest samples; spec §6.3 and §9 item 4 read
  it as 1/√N). The errors of A_Φ,⊙ and h_R are delete-one jackknife errors over the samples;
- ``norm="l2"``: weighted least squares, errors from the covariance (JᵀWJ)⁻¹, scaled by the
  reduced χ² unless ``absolute_sigma`` (as ``scipy.optimize.curve_fit``).

The profile is parametrised by (A_Φ,⊙, k = 1/h_R) so that a flat profile (k = 0) is an ordinary
point; h_R and its error follow (σ_h = σ_k / k²). Any dims of the map other than the sample
dims (e.g. a ``replicate`` dim of jackknife refits) are fitted separately, by
``xr.apply_ufunc(vectorize=True)``.

Units: R and h_R in kpc; A_Φ dimensionless.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import xarray as xr
from scipy.optimize import least_squares

#: R⊙ of Widmark+2025 (GRAVITY 2019), kpc
R_SUN = 8.178
PARAMS = ("A_sun", "h_R", "A_sun_error", "h_R_error", "k", "k_error", "cov_A_k", "n_used",
          "loss")


def _model(p, R, R0):
    return p[0] * np.exp(-(R - R0) * p[1])


def _jac(p, R, R0):
    e = np.exp(-(R - R0) * p[1])
    return np.stack([e, -p[0] * (R - R0) * e], axis=1)


def _start(A, R, s, R0):
    """Weighted log-linear fit: ln A = ln A0 − k (R − R0) (positive A only)."""
    ok = A > 0
    if ok.sum() < 2:
        return np.array([max(np.median(A), 1e-3), 0.0])
    w = (A[ok] / s[ok]) ** 2  # σ(ln A) = σ_A / A
    X = np.stack([np.ones(ok.sum()), -(R[ok] - R0)], axis=1)
    coef = np.linalg.lstsq(X * np.sqrt(w)[:, None], np.log(A[ok]) * np.sqrt(w), rcond=None)[0]
    return np.array([np.exp(coef[0]), coef[1]])


def _fit_l2(A, R, s, R0, p0=None):
    p0 = _start(A, R, s, R0) if p0 is None else p0
    r = least_squares(lambda p: (_model(p, R, R0) - A) / s, p0,
                      jac=lambda p: _jac(p, R, R0) / s[:, None], method="lm", xtol=1e-14,
                      ftol=1e-14, gtol=1e-14)
    return r.x, float(np.sum(r.fun ** 2))


def _l1_loss(p, A, R, s, R0):
    return float(np.sum(np.abs(A - _model(p, R, R0)) / s))


def _profile_l1(k, A, R, s, R0):
    """For fixed slopes k (array), the best A0 and the L1 loss: Σ (e_i/σ_i) |A_i/e_i − A0| is
    minimised by the weighted median of A_i/e_i with weights e_i/σ_i (e_i = exp(−k(R_i − R0)))."""
    k = np.atleast_1d(k)
    e = np.exp(-np.outer(k, R - R0))
    x, w = A / e, e / s
    order = np.argsort(x, axis=1)
    xs = np.take_along_axis(x, order, 1)
    cw = np.cumsum(np.take_along_axis(w, order, 1), axis=1)
    i = np.argmax(cw >= 0.5 * cw[:, -1:], axis=1)
    a0 = xs[np.arange(k.size), i]
    loss = np.sum(w * np.abs(x - a0[:, None]), axis=1)
    return a0, loss


def _fit_l1(A, R, s, R0):
    """L1: the loss profiled over A0 (a weighted median) on a grid of k around the L2
    solution, then a bounded scalar refinement of k."""
    from scipy.optimize import minimize_scalar

    p, _ = _fit_l2(A, R, s, R0)
    k0 = p[1] if np.isfinite(p[1]) else 0.0
    grid = k0 + np.linspace(-1.0, 1.0, 401)
    _, loss = _profile_l1(grid, A, R, s, R0)
    j = int(np.argmin(loss))
    lo, hi = grid[max(j - 1, 0)], grid[min(j + 1, grid.size - 1)]
    r = minimize_scalar(lambda k: _profile_l1(k, A, R, s, R0)[1][0], bounds=(lo, hi),
                        method="bounded", options={"xatol": 1e-10})
    k = r.x if r.fun <= loss[j] else grid[j]
    a0, best = _profile_l1(k, A, R, s, R0)
    return np.array([a0[0], float(k)]), float(best[0])


def _fit_vector(A, R, s, use, *, R0, norm, absolute_sigma):
    out = np.full(len(PARAMS), np.nan)
    ok = use.astype(bool) & np.isfinite(A) & np.isfinite(R) & np.isfinite(s) & (s > 0)
    n = int(ok.sum())
    out[PARAMS.index("n_used")] = n
    if n < 3:
        return out
    A, R, s = A[ok], R[ok], s[ok]
    if norm == "l2":
        p, chi2 = _fit_l2(A, R, s, R0)
        J = _jac(p, R, R0) / s[:, None]
        try:
            cov = np.linalg.inv(J.T @ J)
        except np.linalg.LinAlgError:
            cov = np.full((2, 2), np.nan)
        if not absolute_sigma:
            cov = cov * chi2 / max(n - 2, 1)
        loss = chi2
    else:
        p, loss = _fit_l1(A, R, s, R0)
        reps = np.empty((n, 2))
        for i in range(n):  # delete-one jackknife over the samples
            keep = np.arange(n) != i
            reps[i] = _fit_l1(A[keep], R[keep], s[keep], R0)[0]
        d = reps - reps.mean(0)
        cov = (n - 1) / n * d.T @ d
    a, k = p
    ea, ek = np.sqrt(np.diag(cov))
    h = 1.0 / k if k != 0 else np.inf
    out[:] = [a, h, ea, ek / k**2 if k != 0 else np.inf, k, ek, cov[0, 1], n, loss]
    return out


def exponential_fit(
    A_phi: xr.DataArray,
    R: xr.DataArray | str = "R",
    *,
    sigma: xr.DataArray | None = None,
    n_stars: xr.DataArray | None = None,
    mask: xr.DataArray | None = None,
    dims: Sequence[Hashable] | None = None,
    R0: float = R_SUN,
    norm: str = "l1",
    absolute_sigma: bool = False,
) -> xr.Dataset:
    """Fit A_Φ(R) = A_Φ,⊙ exp[−(R − R0)/h_R] to a map of A_Φ (spec 004 §6.3, Fig. 5).

    Parameters
    ----------
    A_phi : DataArray
        A_Φ per sample (e.g. ``cubes.spiral.fit(hist)["A_phi"]``), NaN where not fitted.
    R : DataArray or str
        Galactocentric radius of each sample, kpc, or the name of a coordinate of ``A_phi``.
    sigma : DataArray, optional
        Per-sample error of A_Φ (e.g. a jackknife error). Default: ∝ 1/√``n_stars``.
    n_stars : DataArray, optional
        Stars per sample, for σ ∝ 1/√N when ``sigma`` is not given (the paper's weighting);
        without either, equal weights.
    mask : DataArray of bool, optional
        Samples to use (e.g. ``maps.quality == cubes.spiral.GOOD``); NaN samples are always
        left out.
    dims : sequence of hashable, optional
        The sample dims fitted over (default: all dims of ``R``); other dims of ``A_phi``
        (a replicate dim) get one fit each.
    R0 : float
        Reference radius, kpc (R⊙ = 8.178).
    norm : {"l1", "l2"}
        The paper's L1 norm (jackknife errors over samples) or weighted least squares.
    absolute_sigma : bool
        L2 only: take ``sigma`` as absolute errors (no rescaling by the reduced χ²).

    Returns
    -------
    xr.Dataset
        ``A_sun``, ``h_R`` (kpc), their errors ``A_sun_error``, ``h_R_error``, the slope
        ``k`` = 1/h_R (1/kpc) with ``k_error`` and ``cov_A_k``, ``n_used``, ``loss`` (the L1
        loss or χ²), and on the sample dims ``model`` (the fitted profile at each sample) and
        ``residual`` (A_Φ − model), ``used`` (the samples in the fit).
    """
    if norm not in ("l1", "l2"):
        raise ValueError(f"norm must be 'l1' or 'l2', got {norm!r}")
    if isinstance(R, str):
        if R not in A_phi.coords:
            raise KeyError(f"A_phi has no coordinate {R!r}; pass R as a DataArray")
        R = A_phi.coords[R]
    R = xr.DataArray(R) if not isinstance(R, xr.DataArray) else R
    dims = list(R.dims if dims is None else dims)
    if not dims:
        raise ValueError("exponential_fit needs at least one sample dim")
    for d in dims:
        if d not in A_phi.dims:
            raise ValueError(f"sample dim {d!r} is not a dim of A_phi {A_phi.dims}")
    weighting = ("sigma given" if sigma is not None else "sigma ~ 1/sqrt(N)"
                 if n_stars is not None else "equal")
    if sigma is None:
        sigma = (1.0 / np.sqrt(n_stars.where(n_stars > 0)) if n_stars is not None
                 else xr.ones_like(R, dtype=np.float64))
    use = xr.ones_like(R, dtype=bool) if mask is None else mask.astype(bool)
    R = R.drop_vars([c for c in R.coords if c not in R.dims], errors="ignore")
    A, R_b, s_b, u_b = xr.broadcast(A_phi.astype(np.float64), R.astype(np.float64),
                                    sigma.astype(np.float64), use)
    core = [dims] * 4
    res = xr.apply_ufunc(
        _fit_vector, A, R_b, s_b, u_b, input_core_dims=core, output_core_dims=[["param"]],
        vectorize=True, dask="parallelized", output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"param": len(PARAMS)}},
        kwargs={"R0": float(R0), "norm": norm, "absolute_sigma": absolute_sigma},
        keep_attrs=False)
    out = xr.Dataset({name: res.isel(param=i, drop=True) for i, name in enumerate(PARAMS)})
    out["n_used"] = out["n_used"].astype(np.int64)
    model = out["A_sun"] * np.exp(-(R_b - R0) * out["k"])
    out["model"] = model
    out["residual"] = A - model
    out["used"] = u_b & np.isfinite(A) & np.isfinite(s_b) & (s_b > 0) & np.isfinite(R_b)
    units = {"A_sun": "1", "h_R": "kpc", "A_sun_error": "1", "h_R_error": "kpc", "k": "1/kpc",
             "k_error": "1/kpc", "cov_A_k": "1/kpc", "model": "1", "residual": "1"}
    for name, u in units.items():
        out[name].attrs["units"] = u
    out["A_sun"].attrs["long_name"] = "A_Phi at R0 of the exponential profile"
    out["h_R"].attrs["long_name"] = "exponential scale length of A_Phi(R)"
    errors = ("delete-one jackknife over the samples" if norm == "l1" else
              "covariance (J^T W J)^-1" + ("" if absolute_sigma else " x reduced chi2"))
    out.attrs.update(model="A_phi(R) = A_sun exp(-(R - R0) / h_R)", R0_kpc=float(R0),
                     norm=norm, errors=errors,
                     weights=weighting,
                     spec="Widmark+2025 (spec 004) section 6.3, Fig. 5")
    return out
