"""The two-step maximum-likelihood fit of one z–w histogram (Widmark+2025, spec 004 §5.4–5.6).

Step 1, the bulk (Eq. 17 with the loss of Eq. 22): B = Σ_k a_k 𝒩(z; σ_z,k) 𝒩(w; σ_w,k) with a
positive, ordered parametrisation (log a_k; σ_z,k = Σ_{l≤k} e^{u_l}, increasing; log σ_w,k) and
W⊙ free (spatial samples) or fixed. Several starts span σ_z ≈ 80 pc–1 kpc and σ_w ≈ 5–50 km/s
(isothermal-like, anti-correlated, data-scaled, mixed pairings); each runs L-BFGS-B on the
histogram coarsened 2 × 2, and the best is polished on the full histogram. A single start can
settle with all components at one σ_z, and such a background is then absorbed by a spurious
spiral (issue 5); the spread of the starts' losses is returned as a diagnostic.

Step 2, the spiral (Eqs. 18–24, loss Eq. 23) with the background and W⊙ fixed: for fixed
(A_Φ, ω) the spiral is linear in (α cos φ₆₀₀, α sin φ₆₀₀, β cos 2φ₆₀₀, β sin 2φ₆₀₀), so a coarse
grid over (A_Φ, ω) with a linear solve, profiled over φ₆₀₀ with α, β ≥ 0
(:func:`cubes.kernels.spiral.spiral_grid`), finds the global basin; the best few distinct
basins are refined by L-BFGS-B on the exact loss with analytic gradients, in (A_Φ, ω, φ₆₀₀,
s = α + β, r = β/(α + β)) with box bounds (so α, β ≥ 0 and α + β ≤ 0.98 < 1).

Likelihood modes: ``"row"`` (default), the model normalised row by row to the data's row totals
(the fit conditional on the rows: the spiral's own contribution to each row's total is then not
divided out of the data but not of the model, the bias issue 5 reports); ``"paper"``, Eqs. 22–23
as printed, with the sech²(z/300 pc) row weights η_i.

Three choices of the default (``"row"``) fit remove the biases measured on mocks (docs/spiral.md,
"Recovery"); ``method="paper"`` keeps the paper's literal procedure:

- the residual inside log cosh is Poisson's deviance residual, not (f − N)/√f (Pearson's, whose
  minimum lies at f = √(μ² + μ) > μ: at 120 × 120 bins it moved A_Φ by +50 % and ω by −1.6 rad
  with the true background given);
- W⊙ is refitted with the spiral (a fifth linear coefficient of the grid, then a free
  parameter of the refinement): step 1 alone absorbs the w-odd part of the α term into W⊙
  (−1.4 to +0.7 km/s on mocks with W⊙ = 0), and the spiral then fits that error (ω +0.5 to
  +1.5 rad);
- the background is refitted once under the step-2 spiral, then the spiral once more
  (``alternate``): step 1 absorbs the part of the β term symmetric in z and w.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.optimize import minimize

from ..kernels import spiral as ks
from ._threads import single_threaded_blas
from .tables import SpiralTables, default_tables

K = 6  # Gaussians in the bulk

# reason bits of a sample (see docs/spiral.md, "Vetting")
TOO_FEW = 1 << 0  # fewer than min_stars stars in the histogram
INVALID = 1 << 1  # NaN, infinite or negative counts, or a bad axis
EMPTY_ROWS = 1 << 2  # some z rows have no star (they get zero weight)
MOSTLY_EMPTY = 1 << 3  # more than max_empty_rows of the rows are empty
NO_REGION = 1 << 4  # too few stars on the 300–800 pc orbits of the spiral region
SMALL_GAIN = 1 << 5  # step 2 improves the loss by less than gain_threshold(n): no spiral
WEAK = 1 << 6  # α + β below amp_min
AT_BOUND = 1 << 7  # A_Φ, ω or α + β at a bound of the fit
AMBIGUOUS = 1 << 8  # another basin fits almost as well with a different ω or φ₆₀₀
NOT_CONVERGED = 1 << 9  # the optimiser stopped without converging
POOR_FIT = 1 << 10  # residuals of the final model far above Poisson noise
FAILED = 1 << 11  # an exception inside the fit (caught)

REASONS = {
    TOO_FEW: "too few stars", INVALID: "invalid histogram", EMPTY_ROWS: "empty rows",
    MOSTLY_EMPTY: "mostly empty rows", NO_REGION: "no spiral region",
    SMALL_GAIN: "small likelihood gain (no spiral)", WEAK: "weak spiral (alpha+beta < amp_min)",
    AT_BOUND: "parameter at a bound", AMBIGUOUS: "multi-start disagreement",
    NOT_CONVERGED: "optimiser not converged", POOR_FIT: "poor fit (residuals above Poisson noise)",
    FAILED: "fit failed",
}
#: quality flags: 0 good, 1 dubious, 2 no spiral, 3 not fitted (bad input)
GOOD, DUBIOUS, NO_SPIRAL, NOT_FITTED = 0, 1, 2, 3
BAD_INPUT = TOO_FEW | INVALID | MOSTLY_EMPTY | NO_REGION | FAILED
NONE_FOUND = SMALL_GAIN
DUBIOUS_BITS = WEAK | AT_BOUND | AMBIGUOUS | NOT_CONVERGED | POOR_FIT


@dataclass(frozen=True)
class FitOptions:
    """Choices of the fit (units: pc, km/s; losses in log-likelihood units).

    Attributes
    ----------
    method : {"row", "paper"}
        Row-conditional likelihood (default) or the paper's Eqs. 22–23 with η_i.
    w_sun : float or None
        W⊙ (km/s) fixed (phase-space samples: 7.25 for heliocentric W), or None: free in step 1.
    z_sun : float
        Added to the histogram's z to get the model height (pc): 20 for heliocentric Z
        (the paper's Z⊙), 0 for Galactic z.
    A_bounds, omega_bounds : (float, float)
        Box of A_Φ and ω (rad) in step 2 (spec §5.6).
    s_max : float
        Largest α + β (< 1 keeps f > 0).
    A_grid, omega_grid, n_phi : arrays, int
        The coarse grid of step 2 (φ₆₀₀ profiled on n_phi values).
    n_refine : int
        Distinct grid basins refined by L-BFGS-B.
    min_stars, max_empty_rows, min_region_stars : int, float, int
        Input checks: stars in the histogram; fraction of empty rows; stars on orbits with
        mask M > 0.5 at A_Φ = 1.
    gain_min, amp_min : float
        Vetting: least loss decrease of step 2 over step 1 for a detection in a sample of
        ``gain_n_ref`` = 10⁵ stars or more; least α + β of a convincing spiral (the paper's
        Fig. 6 shows α + β ≥ 0.14).
    gain_floor, gain_n_ref, gain_scaling : float, float, bool
        The detection threshold scales with the stars n in the histogram (see
        :meth:`gain_threshold` and docs/spiral.md, "Vetting"): gain_min × n / gain_n_ref,
        clipped to [gain_floor, gain_min]. gain_floor = 12 is 1.3 × the 99 % quantile (9.2)
        of the gain on 92 bulk-only mocks of 4500–10⁵ stars. ``gain_scaling=False``: the
        constant gain_min at every n (the behaviour before).
    degenerate_omega : float
        A two-armed (β > α) solution with ω below this (rad) is a symmetric deformation of the
        bulk, degenerate with a background misfit (the never-kicked intruder disk gives
        β ≈ 0.14 at ω ≈ 0.1 with gain 14.5 at 17 000 stars): it needs the unscaled gain_min.
    starts, start_iterations, polish_iterations : int
        Starts of step 1 (at most 4) and their iteration limit; polish_iterations for the
        best start on the fit's histogram.
    rebin, explore_rebin : int
        The fit runs on the histogram summed over rebin × rebin blocks (2: 60 × 60 bins of
        33 pc × σ_w/10; 1 for the full 120 × 120), the step-1 starts on explore_rebin blocks.
        The Gaussians are integrated over the bins, so a coarser histogram is an exact
        model at its own resolution.
    ambiguity : float
        Another refined basin within this loss of the best, with |Δω| or |Δφ₆₀₀| > 0.5 rad,
        makes the fit ambiguous.
    refine_margin : float
        Grid basins whose gain is more than this below the best one's are not refined.
    residual : {"deviance", "pearson"} or None
        The residual x inside log cosh: Poisson's deviance residual sign(μ − N)√(2[μ − N +
        N log(N/μ)]) or Pearson's (μ − N)/√μ (Eqs. 22–23 as printed). None: deviance for
        ``method="row"``, pearson for ``"paper"``.
    refit_w_sun : bool or None
        With W⊙ free, refit it in step 2 with the spiral (None: True for "row", False for
        "paper", where W⊙ stays at its step-1 value as in the paper).
    alternate, alternate_iterations : int or None, int
        Rounds of (background and W⊙ refitted under the fixed spiral, then the spiral refined)
        after step 2, and the iteration limit of each background refit (None: 1 round for
        "row", 0 for "paper").
    poor_fit : float
        The final loss above this multiple of a perfect model's expected loss (Poisson noise
        about the fitted model) flags the fit.
    """

    method: str = "row"
    w_sun: float | None = None
    z_sun: float = 0.0
    A_bounds: tuple[float, float] = (0.1, 5.0)
    omega_bounds: tuple[float, float] = (0.0, 6.0 * np.pi)
    s_max: float = 0.98
    A_grid: tuple[float, ...] = tuple(np.geomspace(0.3, 3.3, 11))
    omega_grid: tuple[float, ...] = tuple(np.arange(0.0, 6.0 * np.pi, 0.35))
    n_phi: int = 24
    n_refine: int = 3
    min_stars: int = 4000
    max_empty_rows: float = 0.5
    min_region_stars: int = 400
    gain_min: float = 30.0
    gain_floor: float = 12.0
    gain_n_ref: float = 1e5
    gain_scaling: bool = True
    degenerate_omega: float = 0.5
    amp_min: float = 0.05
    ambiguity: float = 3.0
    poor_fit: float = 1.3
    starts: int = 4
    start_iterations: int = 40
    polish_iterations: int = 250
    rebin: int = 2
    explore_rebin: int = 4
    refine_margin: float = 20.0
    residual: str | None = None
    refit_w_sun: bool | None = None
    alternate: int | None = None
    alternate_iterations: int = 40
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.method not in ("row", "paper"):
            raise ValueError(f"method must be 'row' or 'paper', got {self.method!r}")
        if self.residual not in (None, "deviance", "pearson"):
            raise ValueError(f"residual must be 'deviance' or 'pearson', got {self.residual!r}")

    def gain_threshold(self, n_stars):
        """Least log-likelihood gain of a detection for a histogram of ``n_stars`` stars:
        min(gain_min, max(gain_floor, gain_min · n / gain_n_ref)), or gain_min without
        ``gain_scaling``.

        On bulk-only mocks the gain is a likelihood-ratio statistic whose null distribution
        does not depend on n (medians 4.6–5.0, 99 % quantile 9.2 at n = 4500–10⁵, row
        likelihood), so small samples need only the floor; a real spiral's gain grows ∝ n α²,
        and the linear part keeps the least detectable α + β near 0.12 up to n_ref, where the
        threshold is the gain_min calibrated on 10⁵-star samples.
        """
        n = np.asarray(n_stars, dtype=np.float64)
        if not self.gain_scaling:
            return np.full_like(n, self.gain_min)[()]
        lo = min(self.gain_floor, self.gain_min)
        return np.clip(self.gain_min * n / self.gain_n_ref, lo, self.gain_min)[()]

    @property
    def deviance(self) -> bool:
        """Whether the residual is Poisson's deviance residual (see ``residual``)."""
        return (self.residual or ("deviance" if self.method == "row" else "pearson")) \
            == "deviance"

    @property
    def refits_w_sun(self) -> bool:
        """Whether W⊙ is refitted in step 2 (free W⊙ only; see ``refit_w_sun``)."""
        if self.w_sun is not None:
            return False
        return self.method == "row" if self.refit_w_sun is None else bool(self.refit_w_sun)

    @property
    def rounds(self) -> int:
        """Rounds of background-then-spiral refits after step 2 (see ``alternate``)."""
        return (1 if self.method == "row" else 0) if self.alternate is None \
            else max(0, int(self.alternate))


#: order of the numbers :func:`fit_histogram` returns (the ``param`` axis of the maps)
OUTPUTS = ("A_phi", "omega", "phi600", "alpha", "beta", "W_sun", "loss_background",
           "loss_spiral", "n_stars", "n_empty_rows", "region_stars", "fit_excess",
           "start_spread", "reason_bits",
           *[f"a_{k}" for k in range(K)], *[f"sigma_z_{k}" for k in range(K)],
           *[f"sigma_w_{k}" for k in range(K)], "gain_threshold")


@dataclass
class _Prepared:
    z: np.ndarray  # model z, pc
    zphi: np.ndarray  # Φ⊙(z)
    w: np.ndarray  # histogram W, km/s (model w = W + W⊙)
    dz: float
    dw: float
    counts: np.ndarray
    data: np.ndarray
    row: np.ndarray
    mode: int


def _prepare(counts, z_pc, w_kms, opts: FitOptions, tab: SpiralTables) -> _Prepared:
    counts = np.asarray(counts, dtype=np.float64)
    dz = float(np.mean(np.diff(z_pc)))
    dw = float(np.mean(np.diff(w_kms)))
    z = np.asarray(z_pc, dtype=np.float64) + opts.z_sun
    rows = counts.sum(1)
    dev = ks.DEVIANCE if opts.deviance else 0
    if opts.method == "row":
        return _Prepared(z, tab.potential(z), np.asarray(w_kms, float), dz, dw, counts, counts,
                         rows, ks.ROW | dev)
    target = 1.0 / np.cosh(z / 300.0) ** 2
    raw = np.where(rows > 0, target / np.where(rows > 0, rows, 1.0), 0.0)
    eta = raw * rows.sum() / max((raw * rows).sum(), 1e-300)
    return _Prepared(z, tab.potential(z), np.asarray(w_kms, float), dz, dw, counts,
                     counts * eta[:, None], eta, dev)


def _rebin(counts, z, w, f: int):
    """Sum f × f blocks of bins (f must divide both sizes, else the histogram is kept)."""
    nz, nw = counts.shape
    if f <= 1 or nz % f or nw % f:
        return counts, z, w
    c = counts.reshape(nz // f, f, nw // f, f).sum(axis=(1, 3))
    return c, z.reshape(-1, f).mean(1), w.reshape(-1, f).mean(1)


# -- step 1 -------------------------------------------------------------------------------

def _unpack_bg(x, w_sun):
    a = np.exp(x[:K])
    sz = np.cumsum(np.exp(x[K:2 * K]))
    sw = np.exp(x[2 * K:3 * K])
    ws = x[3 * K] if w_sun is None else w_sun
    return a, sz, sw, ws


def _pack_bg(a, sz, sw, ws, w_sun):
    inc = np.diff(np.concatenate([[0.0], sz]))
    x = np.concatenate([np.log(a), np.log(np.maximum(inc, 0.5)), np.log(sw)])
    return np.concatenate([x, [ws]]) if w_sun is None else x


def _bg_objective(x, p: _Prepared, w_sun, total, factor=None):
    a, sz, sw, ws = _unpack_bg(x, w_sun)
    grad = np.empty(3 * K + 1)
    if factor is None:
        loss = ks.background_loss(p.z, p.w, p.dz, p.dw, p.data, p.row, p.mode, a, sz, sw, ws,
                                  grad)
    else:
        loss = ks.background_loss_modulated(p.z, p.w, p.dz, p.dw, p.data, p.row, p.mode, a, sz,
                                            sw, ws, factor, grad)
    g = np.empty_like(x)
    g[:K] = grad[:K] * a
    # σ_z,k = Σ_{l≤k} e^{u_l}: ∂/∂u_l = e^{u_l} Σ_{k≥l} ∂/∂σ_z,k
    g[K:2 * K] = np.cumsum(grad[K:2 * K][::-1])[::-1] * np.exp(x[K:2 * K])
    g[2 * K:3 * K] = grad[2 * K:3 * K] * sw
    if w_sun is None:
        g[3 * K] = grad[3 * K]
    if p.mode & 1:  # the overall scale is free under row normalisation: pin Σa to N
        d = np.log(a.sum() / total)
        loss += 0.5 * d * d
        g[:K] += d * a / a.sum()
    if not (np.isfinite(loss) and np.all(np.isfinite(g))):
        return 1e30, np.zeros_like(x)  # the line search backs off
    return loss, g


def _bg_bounds(total, w_sun, w_range):
    lo_a, hi_a = np.log(total * 1e-7), np.log(total * 10.0)
    b = [(lo_a, hi_a)] * K
    b += [(np.log(20.0), np.log(3000.0))] + [(np.log(0.5), np.log(3000.0))] * (K - 1)
    b += [(np.log(1.0), np.log(300.0))] * K
    if w_sun is None:
        b += [w_range]
    return b


def _starts(sigma_data):
    sz = np.geomspace(80.0, 1000.0, K)
    up = np.geomspace(5.0, 50.0, K)
    scaled = np.clip(sigma_data * np.geomspace(0.35, 1.6, K), 3.0, 80.0)
    mixed = np.array([15.0, 5.0, 30.0, 10.0, 50.0, 20.0])
    return [(sz, up), (sz, up[::-1]), (sz, scaled), (sz, mixed)]


def fit_background(p: _Prepared, coarse: _Prepared, opts: FitOptions):
    """Step 1 (starts on ``coarse``, polish on ``p``): returns (a, σ_z, σ_w, W⊙, loss,
    spread of the starts' losses, converged)."""
    total = float(p.counts.sum())
    w_sun = opts.w_sun
    cnt_w = p.counts.sum(0)
    w_mean = float((cnt_w * p.w).sum() / max(cnt_w.sum(), 1.0))
    sig = float(np.sqrt(max((cnt_w * (p.w - w_mean) ** 2).sum() / max(cnt_w.sum(), 1.0), 1.0)))
    w_range = (float(p.w[0]), float(p.w[-1]))
    ws0 = -w_mean if w_sun is None else w_sun
    bounds = _bg_bounds(total, w_sun, w_range)
    results = []
    for sz, sw in _starts(sig)[:max(1, opts.starts)]:
        x0 = _pack_bg(np.full(K, total / K), sz, sw, ws0, w_sun)
        x0 = np.clip(x0, [b[0] for b in bounds], [b[1] for b in bounds])
        r = minimize(_bg_objective, x0, args=(coarse, w_sun, total), jac=True,
                     method="L-BFGS-B", bounds=bounds,
                     options={"maxiter": opts.start_iterations, "ftol": 1e-5})
        results.append(r)
    losses = np.array([r.fun for r in results])
    best = results[int(np.argmin(losses))]
    r = minimize(_bg_objective, best.x, args=(p, w_sun, total), jac=True, method="L-BFGS-B",
                 bounds=bounds, options={"maxiter": opts.polish_iterations, "ftol": 1e-6})
    a, sz, sw, ws = _unpack_bg(r.x, w_sun)
    spread = float(np.sort(losses)[1] - losses.min()) if losses.size > 1 else 0.0
    return a, sz, sw, float(ws), float(r.fun), spread, bool(r.success)


# -- step 2 -------------------------------------------------------------------------------

def _alpha_beta(s, r):
    return s * (1.0 - r), s * r


def _spiral_objective(x, p: _Prepared, B, wmod, tab_args):
    A, om, ph, s, r = x
    al, be = _alpha_beta(s, r)
    grad = np.empty(5)
    loss = ks.spiral_loss(p.z, p.zphi, wmod, B, p.data, p.row, p.mode, A, om, ph, al, be,
                          *tab_args, grad)
    if not (np.isfinite(loss) and np.all(np.isfinite(grad))):
        return 1e30, np.zeros(5)
    g = np.array([grad[0], grad[1], grad[2], grad[3] * (1 - r) + grad[4] * r,
                  s * (grad[4] - grad[3])])
    return loss, g


def _basins(gain: np.ndarray, n: int):
    """Indices of the n largest local maxima of gain over (A, ω) (3 × 3 neighbourhoods)."""
    padded = np.pad(gain, 1, constant_values=-np.inf)
    centre = padded[1:-1, 1:-1]
    is_max = np.ones_like(centre, dtype=bool)
    for da in (-1, 0, 1):
        for do in (-1, 0, 1):
            if da or do:
                is_max &= centre >= padded[1 + da:padded.shape[0] - 1 + da,
                                           1 + do:padded.shape[1] - 1 + do]
    cand = np.argwhere(is_max & (centre > 0))
    order = np.argsort(-centre[tuple(cand.T)])
    return [tuple(c) for c in cand[order][:n]]


def _wrap(x):
    return np.mod(x, 2.0 * np.pi)


def _spiral_w_objective(x, p: _Prepared, bg, tab_args):
    """Step-2 loss with W⊙ free and the background's shape fixed: x = (A, ω, φ, s, r, W⊙)."""
    A, om, ph, s, r, ws = x
    al, be = _alpha_beta(s, r)
    a, sz, sw = bg
    gb, gs = np.empty(3 * K + 1), np.empty(5)
    loss = ks.joint_loss(p.z, p.zphi, p.w, p.dz, p.dw, p.data, p.row, p.mode, a, sz, sw, ws,
                         A, om, ph, al, be, *tab_args, gb, gs)
    if not (np.isfinite(loss) and np.all(np.isfinite(gs)) and np.isfinite(gb[3 * K])):
        return 1e30, np.zeros(6)
    g = np.array([gs[0], gs[1], gs[2], gs[3] * (1 - r) + gs[4] * r, s * (gs[4] - gs[3]),
                  gb[3 * K]])
    return loss, g


@dataclass
class _Spiral:
    """Result of step 2 (and of the alternation after it)."""
    A: float
    omega: float
    phi: float
    alpha: float
    beta: float
    loss: float  # final loss
    loss0: float  # loss of the step-1 background alone
    bits: int
    w_sun: float
    bg: tuple  # (a, σ_z, σ_w) of the final background


def _refine(p, x0, bg, B, w_sun, free_w, bounds, tab_args):
    """L-BFGS-B on the exact loss from x0 = (A, ω, φ, s, r[, W⊙]); returns (x with W⊙, loss)."""
    if free_w:
        r = minimize(_spiral_w_objective, x0, args=(p, bg, tab_args), jac=True,
                     method="L-BFGS-B", bounds=bounds + [(p.w[0], p.w[-1])],
                     options={"maxiter": 300, "ftol": 1e-9})
        return r.x, float(r.fun)
    r = minimize(_spiral_objective, x0[:5], args=(p, B, p.w + w_sun, tab_args), jac=True,
                 method="L-BFGS-B", bounds=bounds, options={"maxiter": 300, "ftol": 1e-9})
    return np.append(r.x, w_sun), float(r.fun)


def fit_spiral(p: _Prepared, bg, w_sun: float, opts: FitOptions, tab: SpiralTables) -> _Spiral:
    """Step 2 on the step-1 background ``bg`` = (a, σ_z, σ_w) and W⊙, then ``opts.rounds``
    rounds of (background and W⊙ refitted under the spiral, spiral refined)."""
    tab_args = tab.kernel_args()
    free_w = opts.refits_w_sun
    B = ks.background(p.z, p.w, p.dz, p.dw, *bg, w_sun)
    g0 = np.empty(5)
    loss0 = ks.spiral_loss(p.z, p.zphi, p.w + w_sun, B, p.data, p.row, p.mode, 1.0, 0.0, 0.0,
                           0.0, 0.0, *tab_args, g0)
    A_grid = np.asarray(opts.A_grid, dtype=np.float64)
    om_grid = np.asarray(opts.omega_grid, dtype=np.float64)
    phis = np.linspace(0.0, 2 * np.pi, opts.n_phi, endpoint=False)
    dB = (ks.background_shift(p.z, p.w, p.dz, p.dw, *bg, w_sun) if free_w
          else np.zeros_like(B))
    grid = ks.spiral_grid(p.z, p.zphi, p.w + w_sun, B, dB, p.data, p.row, p.mode, A_grid,
                          om_grid, phis, opts.s_max, *tab_args)
    basins = _basins(grid[..., 0], opts.n_refine)
    if not basins:  # nothing improves on the background: report no spiral at A = 1
        return _Spiral(1.0, 0.0, 0.0, 0.0, 0.0, loss0, loss0, SMALL_GAIN, w_sun, bg)
    top = grid[basins[0]][0]
    basins = [b for b in basins if grid[b][0] >= top - opts.refine_margin]
    bounds = [opts.A_bounds, opts.omega_bounds, (None, None), (0.0, opts.s_max), (0.0, 1.0)]
    sols = []
    for ia, io in basins:
        _, ph, al, be, dws = grid[ia, io]
        s = max(al + be, 0.02)
        x0 = np.array([A_grid[ia], om_grid[io], ph, s, be / (al + be) if al + be > 0 else 0.5,
                       w_sun + dws])
        sols.append(_refine(p, x0, bg, B, w_sun, free_w, bounds, tab_args))
    order = np.argsort([fun for _, fun in sols])
    x, fun = sols[order[0]]
    bits = 0
    for k in order[1:]:
        xo, fo = sols[k]
        if fo - fun < opts.ambiguity:
            dph = abs(np.angle(np.exp(1j * (xo[2] - x[2]))))
            if abs(xo[1] - x[1]) > 0.5 or dph > 0.5:
                bits |= AMBIGUOUS
    total = float(p.counts.sum())
    wfix = None if free_w else w_sun
    bb = _bg_bounds(total, wfix, (float(p.w[0]), float(p.w[-1])))
    lo, hi = np.array([b[0] for b in bb]), np.array([b[1] for b in bb])
    for _ in range(opts.rounds):
        # the background (and W⊙) under the fixed spiral: f = B (1 + M S)
        factor = ks.spiral_model(p.z, p.zphi, p.w + x[5], np.ones_like(B), x[0], x[1], x[2],
                                 *_alpha_beta(x[3], x[4]), *tab_args)
        xb = np.clip(_pack_bg(*bg, x[5], wfix), lo, hi)
        rb = minimize(_bg_objective, xb, args=(p, wfix, total, factor), jac=True,
                      method="L-BFGS-B", bounds=bb,
                      options={"maxiter": opts.alternate_iterations, "ftol": 1e-8})
        a, sz, sw, ws = _unpack_bg(rb.x, wfix)
        bg = (a, sz, sw)
        B = ks.background(p.z, p.w, p.dz, p.dw, *bg, ws)
        x0 = x.copy()
        x0[5] = ws
        x, fun = _refine(p, x0, bg, B, ws, free_w, bounds, tab_args)
    # L-BFGS-B often ends 'abnormally' in the line search at the optimum (the bilinear
    # tables make the gradient piecewise): only a non-finite end counts as a failure
    if not (np.isfinite(fun) and fun < 1e29):
        bits |= NOT_CONVERGED
    al, be = _alpha_beta(x[3], x[4])
    return _Spiral(float(x[0]), float(x[1]), float(_wrap(x[2])), float(al), float(be),
                   float(fun), float(loss0), bits, float(x[5]), bg)


# -- one sample ----------------------------------------------------------------------------

@lru_cache(maxsize=2)
def _logcosh_expectation_table(deviance: bool = False):
    """E[log cosh x] for N ~ Poisson(μ) on log-spaced μ (1e-4 … 1e3), x Pearson's residual
    (μ − N)/√μ or the deviance residual √(2[μ − N + N log(N/μ)])."""
    from scipy.special import xlogy
    from scipy.stats import poisson

    mu = np.geomspace(1e-4, 1e3, 141)
    n = np.arange(0, 1400)[:, None]
    if deviance:
        x = np.sqrt(np.maximum(2.0 * (mu[None, :] - n + xlogy(n, n / mu[None, :])), 0.0))
    else:
        x = np.abs((mu[None, :] - n) / np.sqrt(mu[None, :]))
    lc = x + np.log1p(np.exp(-2 * x)) - np.log(2)
    return np.log(mu), (poisson.pmf(n, mu[None, :]) * lc).sum(0)


def expected_loss(mu, deviance: bool = False) -> float:
    """Σ_bins E[log cosh x], N ~ Poisson(μ), x the Pearson (or deviance) residual: the loss
    of a perfect model with expected counts μ (the reference of the ``fit_excess``
    diagnostic)."""
    lmu, e = _logcosh_expectation_table(bool(deviance))
    mu = np.maximum(np.asarray(mu, dtype=np.float64).ravel(), 1e-4)
    return float(np.interp(np.log(mu), lmu, e).sum())


def fit_histogram(counts, z, w, *, options: FitOptions | None = None,
                  tables: SpiralTables | None = None) -> np.ndarray:
    """Fit one z–w histogram (spec 004 §5.6); never raises on bad data.

    Parameters
    ----------
    counts : (n_z, n_w) array
        Stars per bin.
    z : (n_z,) array
        Bin centres in z, pc (histogram frame; the model adds ``options.z_sun``).
    w : (n_w,) array
        Bin centres in W, km/s (the model is evaluated at W + W⊙).
    options : FitOptions
    tables : SpiralTables, optional
        Default :func:`cubes.spiral.tables.default_tables`.

    Returns
    -------
    ndarray
        The numbers named by :data:`OUTPUTS` (NaN where not fitted; ``reason_bits`` as a float).
    """
    with single_threaded_blas():
        return _fit_histogram(counts, z, w, options or FitOptions(), tables or default_tables())


def _fit_histogram(counts, z, w, opts: FitOptions, tab: SpiralTables) -> np.ndarray:
    out = np.full(len(OUTPUTS), np.nan)
    ix = {n: i for i, n in enumerate(OUTPUTS)}
    bits = 0
    counts = np.asarray(counts, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    if (counts.ndim != 2 or counts.shape != (z.size, w.size) or not np.all(np.isfinite(counts))
            or np.any(counts < 0) or not np.all(np.isfinite(z)) or not np.all(np.isfinite(w))
            or z.size < 4 or w.size < 4 or np.any(np.diff(z) <= 0) or np.any(np.diff(w) <= 0)):
        out[ix["reason_bits"]] = INVALID
        return out
    n = float(counts.sum())
    rows = counts.sum(1)
    n_empty = int((rows == 0).sum())
    out[ix["n_stars"]] = n
    out[ix["n_empty_rows"]] = n_empty
    if n_empty:
        bits |= EMPTY_ROWS
    if n_empty > opts.max_empty_rows * rows.size:
        bits |= MOSTLY_EMPTY
    if n < opts.min_stars:
        bits |= TOO_FEW
    if bits & BAD_INPUT:
        out[ix["reason_bits"]] = bits
        return out
    try:
        p = _prepare(*_rebin(counts, z, w, opts.rebin), opts, tab)
        coarse = _prepare(*_rebin(counts, z, w, opts.explore_rebin), opts, tab)
        ws_guess = opts.w_sun if opts.w_sun is not None else -float(
            (counts.sum(0) * w).sum() / n)
        eps = tab.energy(p.z[:, None], (p.w + ws_guess)[None, :])
        region = float(p.counts[tab.mask_of_energy(eps) > 0.5].sum())
        out[ix["region_stars"]] = region
        if region < opts.min_region_stars:
            out[ix["reason_bits"]] = bits | NO_REGION
            return out
        a, sz, sw, w_sun, loss1, spread, _ = fit_background(p, coarse, opts)
        out[ix["start_spread"]] = spread
        sp = fit_spiral(p, (a, sz, sw), w_sun, opts, tab)
        A, om, ph, al, be, loss2, loss0, b2 = (sp.A, sp.omega, sp.phi, sp.alpha, sp.beta,
                                               sp.loss, sp.loss0, sp.bits)
        a, sz, sw = sp.bg  # the background of the final model (refitted under the spiral)
        w_sun = sp.w_sun
        out[ix["a_0"]:ix["a_0"] + K] = a
        out[ix["sigma_z_0"]:ix["sigma_z_0"] + K] = sz
        out[ix["sigma_w_0"]:ix["sigma_w_0"] + K] = sw
        out[ix["W_sun"]] = w_sun
        B = ks.background(p.z, p.w, p.dz, p.dw, a, sz, sw, w_sun)
        # residual level of the final model against a perfect model's Poisson expectation
        F = ks.spiral_model(p.z, p.zphi, p.w + w_sun, B, A, om, ph, al, be,
                            *tab.kernel_args())
        used = p.row > 0
        if p.mode & 1:
            srow = F.sum(1)
            mu = F * np.where(srow > 0, p.row / np.where(srow > 0, srow, 1.0), 0.0)[:, None]
        else:  # Var(η N) = η f: the scaled residual has the law of a Poisson(f/η) one
            mu = F / np.where(used, p.row, 1.0)[:, None]
        excess = loss2 / max(expected_loss(mu[used], opts.deviance), 1e-12)
        out[ix["fit_excess"]] = excess
        if excess > opts.poor_fit:
            bits |= POOR_FIT
        bits |= b2
        out[ix["A_phi"]], out[ix["omega"]], out[ix["phi600"]] = A, om, ph
        out[ix["alpha"]], out[ix["beta"]] = al, be
        out[ix["loss_background"]], out[ix["loss_spiral"]] = loss0, loss2
        gain = loss0 - loss2
        threshold = float(opts.gain_threshold(n))
        if om < opts.degenerate_omega and be > al:
            # an unwound two-armed spiral is a z- and w-symmetric deformation of the bulk,
            # degenerate with a background misfit (issue 5): the unscaled threshold
            threshold = max(threshold, opts.gain_min)
        out[ix["gain_threshold"]] = threshold
        if not gain >= threshold:
            bits |= SMALL_GAIN
        if al + be < opts.amp_min:
            bits |= WEAK
        lo, hi = opts.A_bounds
        if (A < lo * 1.01 or A > hi * 0.99 or om < opts.omega_bounds[0] + 1e-3
                or om > opts.omega_bounds[1] - 1e-3 or al + be > opts.s_max - 1e-3):
            bits |= AT_BOUND
    except Exception:  # noqa: BLE001 - a map never crashes on one sample
        bits |= FAILED
    out[ix["reason_bits"]] = bits
    return out


def quality_of(bits) -> np.ndarray:
    """Quality flag from reason bits: 3 not fitted, 2 no spiral, 1 dubious, 0 good."""
    b = np.asarray(bits).astype(np.int64)
    return np.where(b & BAD_INPUT, NOT_FITTED,
                    np.where(b & NONE_FOUND, NO_SPIRAL,
                             np.where(b & DUBIOUS_BITS, DUBIOUS, GOOD))).astype(np.int8)


def reason_of(bits: int) -> str:
    """The reasons named by reason bits, joined by "; " ("ok" for none)."""
    b = int(bits)
    names = [text for bit, text in REASONS.items() if b & bit]
    return "; ".join(names) if names else "ok"
