"""Putting one survey's ages on another's scale: Wang et al. 2025 §2.2 (spec 001 §1.5, A7).

The paper compares the LAMOST and APOGEE ages of the stars common to both surveys, describes
the trend of the age differences with "a fifth-order polynomial derived from constrained
B-splines (COBS) nonparametric regression quantiles" and subtracts it. With τ_ref the reference
survey's age (LAMOST, the larger sample) and τ the other's (APOGEE), all in Gyr:

1. common stars: :func:`match_ids` (a join on Gaia ``source_id``);
2. Δτ = τ − τ_ref;
3. regression-quantile curves of Δτ on τ, q = 0.1, 0.5, 0.9, on a B-spline basis
   (:func:`fit_quantile_curve`; the number of knots by an information criterion, as COBS does);
4. P5, a degree-5 polynomial fitted to the median (q = 0.5) curve (:func:`calibrate`);
5. τ_corr = τ − P5(τ) (:meth:`AgeCalibration.apply`).

This is A7's default reading (the spec's recommended implementation): the reference is LAMOST,
the polynomial is in the *other* survey's age, fitted to Δτ. The order of the τ ≤ 14 Gyr cut
(after the correction, by default) belongs to the caller.

**Why a linear programme.** A q-quantile regression minimises the check loss
Σ ρ_q(y_i − x_iᵀβ), ρ_q(r) = r (q − [r < 0]), a piecewise-linear convex function: it is exactly
a linear programme (Koenker & Bassett 1978). The libraries that wrap it (statsmodels'
``QuantReg``, scikit-learn's ``QuantileRegressor``, R's ``cobs``/``quantreg``) are not
dependencies of this project, and scipy's HiGHS solves the LP exactly — here in its dual form,
max yᵀa s.t. Xᵀa = (1 − q) Xᵀ1, 0 ≤ a ≤ 1, which has n bounded variables and only p equality
constraints (10⁴ stars: ~0.05 s), β being the constraints' multipliers.

**What is not COBS.** No shape constraints (the paper states none), no smoothing penalty λ, and
the knots are the interior quantiles of τ with their number chosen by SIC (or AIC) over a small
range, rather than COBS's stepwise knot deletion. Quadratic B-splines, COBS's default degree.

**A property to know** (it is the method's, not this code's): the regression is on τ, which has
its own errors, so the median curve is median(Δτ | τ) = τ − median(τ_ref | τ) — it includes
regression to the mean of the age distribution, and equals the injected scale difference only
when τ is error-free (the Wang+2025 recipe shows both on a mock).

Pure functions on numpy arrays; no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import BSpline
from scipy.optimize import linprog

__all__ = ["AgeCalibration", "QuantileCurve", "bspline_design", "calibrate", "check_loss",
           "fit_quantile_curve", "information_criterion", "jackknife_correction",
           "match_ids", "quantile_knots", "quantile_regression"]

QUANTILES = (0.1, 0.5, 0.9)          # Fig. 2 (left) of the paper: 10th, 50th, 90th percentiles
POLY_DEGREE = 5                       # "a fifth-order polynomial"
SPLINE_DEGREE = 2                     # quadratic B-splines (COBS's default degree)
KNOT_RANGE = tuple(range(1, 13))      # interior knots tried by the information criterion
DOMAIN_PERCENTILES = (0.5, 99.5)      # where the correction is fitted; clamped outside


def _finite_1d(name: str, a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    bad = ~np.isfinite(a)
    if bad.any():
        raise ValueError(f"{name} has {int(bad.sum())} NaN or infinite values (first at index "
                         f"{int(np.flatnonzero(bad)[0])}); drop those stars first")
    return a


def _paired_1d(name_a: str, a, name_b: str, b) -> tuple[np.ndarray, np.ndarray]:
    """Two finite 1-D arrays of one length (one value per star each)."""
    a, b = _finite_1d(name_a, a), _finite_1d(name_b, b)
    if a.size != b.size:
        raise ValueError(f"{name_a} and {name_b} differ in length: {a.size} and {b.size}")
    return a, b


def _check_q(q: float) -> float:
    q = float(q)
    if not 0.0 < q < 1.0:
        raise ValueError(f"a quantile must be in (0, 1), got {q}")
    return q


def check_loss(residuals, q: float) -> float:
    """Σ ρ_q(r) with ρ_q(r) = r (q − [r < 0]): the loss a q-quantile regression minimises
    (units of the residuals, here Gyr)."""
    r = np.asarray(residuals, dtype=np.float64)
    q = _check_q(q)
    return float(np.sum(r * (q - (r < 0))))


def quantile_regression(X, y, q: float) -> np.ndarray:
    """Coefficients β minimising Σ ρ_q(y − Xβ) (an exact LP optimum, HiGHS).

    Parameters
    ----------
    X : (n, p) array
        Design matrix (e.g. :func:`bspline_design`); full column rank.
    y : (n,) array
        Responses (here Δτ, Gyr).
    q : float
        Quantile in (0, 1).

    Returns
    -------
    (p,) array
        β, in the units of y per unit of X.

    Notes
    -----
    Solved as the dual LP (module docstring): max yᵀa s.t. Xᵀa = (1 − q) Xᵀ1, 0 ≤ a ≤ 1; β is
    minus the multipliers of its equality constraints (``linprog`` minimises −yᵀa).
    """
    X = np.asarray(X, dtype=np.float64)
    y = _finite_1d("y", y)
    q = _check_q(q)
    if X.ndim != 2 or X.shape[0] != y.size:
        raise ValueError(f"X must be (n, p) with n = len(y) = {y.size}; got {X.shape}")
    n, p = X.shape
    if n <= p:
        raise ValueError(f"a quantile regression with {p} coefficients needs more than {p} "
                         f"points; got {n}")
    if not np.isfinite(X).all():
        raise ValueError("X has NaN or infinite values")
    res = linprog(-y, A_eq=X.T, b_eq=(1.0 - q) * X.sum(axis=0), bounds=(0.0, 1.0),
                  method="highs")
    if res.status != 0:
        raise RuntimeError(f"the quantile-regression LP failed (q = {q}): {res.message}")
    return -np.asarray(res.eqlin.marginals, dtype=np.float64)


def quantile_knots(x, n_interior: int) -> np.ndarray:
    """``n_interior`` interior knots at the equally spaced quantiles of ``x`` (COBS's
    ``method="quantile"``), made strictly increasing (ties dropped)."""
    x = _finite_1d("x", x)
    if n_interior < 0:
        raise ValueError(f"n_interior must be >= 0, got {n_interior}")
    inner = np.quantile(x, np.linspace(0.0, 1.0, n_interior + 2)[1:-1])
    lo, hi = x.min(), x.max()
    return np.unique(inner[(inner > lo) & (inner < hi)])


def _knot_vector(interior: np.ndarray, lo: float, hi: float, degree: int) -> np.ndarray:
    return np.r_[[lo] * (degree + 1), interior, [hi] * (degree + 1)]


def bspline_design(x, knots, degree: int = SPLINE_DEGREE) -> np.ndarray:
    """B-spline basis of the full knot vector ``knots`` (boundary knots repeated degree + 1
    times) at ``x``, x clipped into the boundary knots: an (n, len(knots) − degree − 1) matrix
    whose rows sum to 1."""
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(knots, dtype=np.float64)
    xc = np.clip(x, t[degree], t[-degree - 1])
    return BSpline.design_matrix(xc, t, degree).toarray()


@dataclass(frozen=True)
class QuantileCurve:
    """A q-quantile regression curve y_q(x) = Σ β_j B_j(x) on a B-spline basis.

    ``knots`` is the full knot vector, ``coef`` β (units of y); x outside the boundary knots is
    evaluated at the nearest boundary (the curve is constant there)."""

    q: float
    knots: np.ndarray
    degree: int
    coef: np.ndarray
    criterion: float = float("nan")        # SIC or AIC of the fit (when knots were selected)

    @property
    def n_interior(self) -> int:
        return len(self.knots) - 2 * (self.degree + 1)

    def __call__(self, x) -> np.ndarray:
        return bspline_design(np.atleast_1d(x), self.knots, self.degree) @ self.coef


def information_criterion(residuals, q: float, n_coef: int, ic: str = "SIC") -> float:
    """COBS's knot-selection criteria (He & Ng 1999): log(mean ρ_q(r)) + penalty, with penalty
    p log(n)/(2n) for ``"SIC"`` (Schwarz) or 2p/n for ``"AIC"``; p = ``n_coef``."""
    r = np.asarray(residuals, dtype=np.float64)
    n = r.size
    fit = np.log(check_loss(r, q) / n)
    if ic == "SIC":
        return float(fit + 0.5 * n_coef * np.log(n) / n)
    if ic == "AIC":
        return float(fit + 2.0 * n_coef / n)
    raise ValueError(f"ic must be 'SIC' or 'AIC', got {ic!r}")


def fit_quantile_curve(x, y, q: float, *, n_interior: int | None = None,
                       degree: int = SPLINE_DEGREE, candidates: Sequence[int] = KNOT_RANGE,
                       ic: str = "SIC") -> QuantileCurve:
    """The q-quantile regression curve of y on x on a B-spline basis (a COBS substitute).

    Parameters
    ----------
    x, y : (n,) arrays
        Regressor and response (here τ_APOGEE and Δτ = τ_APOGEE − τ_LAMOST, Gyr).
    q : float
        Quantile in (0, 1).
    n_interior : int, optional
        Number of interior knots (at the quantiles of x); default: the one of ``candidates``
        with the smallest ``ic`` (SIC or AIC).
    degree : int
        B-spline degree (2: quadratic, as COBS).

    Returns
    -------
    QuantileCurve
    """
    x, y = _paired_1d("x", x, "y", y)
    lo, hi = float(x.min()), float(x.max())
    if not hi > lo:
        raise ValueError("x must take more than one value")
    tried = [n_interior] if n_interior is not None else list(candidates)
    best = None
    for k in tried:
        t = _knot_vector(quantile_knots(x, k), lo, hi, degree)
        X = bspline_design(x, t, degree)
        beta = quantile_regression(X, y, q)
        crit = information_criterion(y - X @ beta, q, X.shape[1], ic)
        if best is None or crit < best.criterion:
            best = QuantileCurve(q=_check_q(q), knots=t, degree=degree, coef=beta,
                                 criterion=crit)
    return best


@dataclass(frozen=True)
class AgeCalibration:
    """Regression-quantile curves of Δτ = τ − τ_ref on τ and the polynomial P5 fitted to the
    median one (Gyr). ``correction(τ)`` = P5(τ) with τ clamped into ``domain``;
    ``apply(τ)`` = τ − correction(τ), the age on the reference scale."""

    curves: dict
    poly: np.polynomial.Polynomial
    domain: tuple[float, float]
    n_common: int
    extra: dict = field(default_factory=dict)

    def correction(self, tau) -> np.ndarray:
        """P5(τ) in Gyr (τ clamped into the fitted domain: no polynomial extrapolation)."""
        t = np.clip(np.asarray(tau, dtype=np.float64), *self.domain)
        return self.poly(t)

    def apply(self, tau) -> np.ndarray:
        """τ − P5(τ): ages on the reference survey's scale, Gyr (NaN stays NaN)."""
        tau = np.asarray(tau, dtype=np.float64)
        return tau - self.correction(tau)

    @property
    def median(self) -> QuantileCurve:
        return self.curves[0.5]


def _poly_to_curve(curve: QuantileCurve, domain, degree: int, n_grid: int):
    g = np.linspace(domain[0], domain[1], n_grid)
    return np.polynomial.Polynomial.fit(g, curve(g), degree)


def calibrate(tau_ref, tau, *, quantiles: Sequence[float] = QUANTILES,
              poly_degree: int = POLY_DEGREE, n_interior: int | None = None,
              degree: int = SPLINE_DEGREE, candidates: Sequence[int] = KNOT_RANGE,
              ic: str = "SIC", domain_percentiles=DOMAIN_PERCENTILES,
              n_grid: int = 200) -> AgeCalibration:
    """Age calibration of ``tau`` onto ``tau_ref`` from the common stars (spec §1.5 steps 2–4).

    Parameters
    ----------
    tau_ref, tau : (n,) arrays
        Ages of the same stars, Gyr: the reference survey's (LAMOST) and the other's (APOGEE).
    quantiles : sequence of float
        Regression quantiles to fit (must include 0.5: P5 is fitted to the median curve).
    poly_degree : int
        Degree of the polynomial (5).
    n_interior, degree, candidates, ic :
        Of the B-spline curves (:func:`fit_quantile_curve`); the number of knots is chosen
        once, on the median, and used for every quantile.
    domain_percentiles : (float, float)
        The polynomial is fitted by least squares to the median curve on ``n_grid`` equally
        spaced τ between these percentiles of τ (where data constrain the curve); the
        correction is constant outside (the polynomial is not extrapolated).

    Returns
    -------
    AgeCalibration
    """
    tau_ref, tau = _paired_1d("tau_ref", tau_ref, "tau", tau)
    if 0.5 not in [float(q) for q in quantiles]:
        raise ValueError("quantiles must include 0.5 (P5 is fitted to the median curve)")
    dtau = tau - tau_ref
    median = fit_quantile_curve(tau, dtau, 0.5, n_interior=n_interior, degree=degree,
                                candidates=candidates, ic=ic)
    curves = {0.5: median}
    for q in quantiles:
        if float(q) != 0.5:
            curves[float(q)] = fit_quantile_curve(tau, dtau, q, n_interior=median.n_interior,
                                                  degree=degree)
    lo, hi = np.percentile(tau, domain_percentiles)
    poly = _poly_to_curve(median, (float(lo), float(hi)), poly_degree, n_grid)
    return AgeCalibration(curves=dict(sorted(curves.items())), poly=poly,
                          domain=(float(lo), float(hi)), n_common=int(tau.size),
                          extra={"ic": ic, "poly_degree": poly_degree, "degree": degree})


def jackknife_correction(tau_ref, tau, groups, at, *, n_interior: int, k: int | None = None,
                         degree: int = SPLINE_DEGREE, poly_degree: int = POLY_DEGREE,
                         domain_percentiles=DOMAIN_PERCENTILES, n_grid: int = 200):
    """Delete-a-group jackknife of the correction P5(``at``) (Gyr): the median curve and P5
    refitted without each group (knots: ``n_interior`` held fixed, e.g. the full sample's).

    Parameters
    ----------
    groups : (n,) int array
        Jackknife group of each common star, 0 … k − 1 (e.g. the cubes' hash of its id).
    at : array
        Ages (Gyr) at which to evaluate the correction.

    Returns
    -------
    (error, replicates)
        error: √((k − 1)/k Σ (θ_i − θ̄)²) per ``at``; replicates: (k, len(at)).
    """
    tau_ref, tau = _paired_1d("tau_ref", tau_ref, "tau", tau)
    groups = np.asarray(groups)
    k = int(groups.max()) + 1 if k is None else int(k)
    at = np.atleast_1d(np.asarray(at, dtype=np.float64))
    reps = np.empty((k, at.size))
    for g in range(k):
        keep = groups != g
        cal = calibrate(tau_ref[keep], tau[keep], quantiles=(0.5,), n_interior=n_interior,
                        degree=degree, poly_degree=poly_degree,
                        domain_percentiles=domain_percentiles, n_grid=n_grid)
        reps[g] = cal.correction(at)
    err = np.sqrt((k - 1) / k * ((reps - reps.mean(axis=0)) ** 2).sum(axis=0))
    return err, reps


def match_ids(ids_ref, ids, *, invalid: Sequence[int] = (0, -1, -9999)) -> tuple[np.ndarray,
                                                                                np.ndarray]:
    """Indices (i_ref, i) of the stars common to two catalogs by an integer id (Gaia DR3/EDR3
    ``source_id``: the same for a star in both), sorted by ``i_ref``.

    Ids in ``invalid`` (the archives' "no Gaia match": 0, −1, −9999) never match. An id twice in
    one catalog is an error (deduplicate first: which entry to keep is the caller's choice).

    A catalog without Gaia ids can be matched on the sky instead: astropy's
    ``SkyCoord.match_to_catalog_sky`` with a 1–3″ radius (spec §1.5 [I]); the id join is exact
    and avoids close-pair confusions, so it is the default.
    """
    a = np.asarray(ids_ref)
    b = np.asarray(ids)
    if a.dtype.kind not in "iu" or b.dtype.kind not in "iu":
        raise TypeError(f"ids must be integers (Gaia source_id), got {a.dtype} and {b.dtype}")
    a, b = a.astype(np.int64), b.astype(np.int64)
    bad = np.asarray(list(invalid), dtype=np.int64)
    ok_a, ok_b = ~np.isin(a, bad), ~np.isin(b, bad)
    for name, v, ok in (("ids_ref", a, ok_a), ("ids", b, ok_b)):
        u, c = np.unique(v[ok], return_counts=True)
        if (c > 1).any():
            raise ValueError(f"{name} has {int((c > 1).sum())} repeated ids (e.g. "
                             f"{int(u[c > 1][0])}); keep one entry per star before matching")
    ia, ib = np.flatnonzero(ok_a), np.flatnonzero(ok_b)
    _, pa, pb = np.intersect1d(a[ia], b[ib], assume_unique=True, return_indices=True)
    i_ref, i = ia[pa], ib[pb]
    order = np.argsort(i_ref, kind="stable")
    return i_ref[order], i[order]
