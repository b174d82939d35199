"""Metallicity gradients from moment cubes, vectorized over every other dim, replicates kept.

Four estimators, one entry point (:func:`gradient`):

- ``"lsq"`` :func:`lsq_gradient` — the exact least-squares line of a value against a coordinate
  *over the stars*, from their moments (Σy, Σy², Σx, Σx², Σxy, n): equal to ``np.polyfit`` on
  the stars of each slice.
- ``"wls"`` :func:`profile_gradient` — weighted least squares on a binned profile (the mean of
  the value per bin, with its standard error), closed-form normal equations.
- ``"mcmc"`` / ``"mle"`` :func:`line_fit` — Hawkins (2023)'s line with intrinsic scatter and
  errors on both axes (Hogg, Bovy & Lang 2010), sampled with emcee (spec 002 §4.1–4.3).
- ``"median"`` :func:`median_gradient` — Long et al. (2025)'s fit to median-[Fe/H] profiles in
  |Z| or Z_max, with or without the radial-trend correction (spec 003 §4.1, §4.3).

**Building a cube for gradients.** The coordinate of the fit must be binned as a *value* too,
with the cross moment of (value, coordinate), e.g. for d[Fe/H]/dR per |Z| bin::

    stars = stars.assign(abs_z=abs(stars.z))        # a |z| column, for vertical gradients
    cube = cubes.bin_catalog(stars, axes={"abs_z": axes.regular(0, 1.4, 0.2),
                                          "R": axes.regular(6, 12, 0.5)},
                             values=["feh", "R"], cross=[("feh", "R")],
                             errors={"feh": "feh_error"}, replicates=16)
    g = gradient(cube, "feh", dim="R")             # slope (dex/kpc), intercept per abs_z

The value ``R`` here is the column R again (an axis and a value may read the same column); its
sums give Σx, Σx², and ``sum_feh_R`` gives Σ(feh − c)(R − c'). A vertical gradient on |z| needs
the value ``abs_z`` (a folded cube's value sums are those of signed z).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from .. import conventions as cv
from ..jackknife import samples
from ..kernels.detrend import fill_gaps, shifted_quantile
from ..units import inverse, product
from ._chunks import core_whole
from .linefit import fit_line_groups
from .moments import _weight, mean, var
from .quantiles import axis_edges, quantile

METHODS = ("lsq", "wls", "mcmc", "mle", "median")
RADIAL_MODES = (None, "median", "linear")


# -- checks --------------------------------------------------------------------------------
def _is_cube(cube, what: str) -> None:
    if not isinstance(cube, xr.Dataset):
        raise TypeError(f"{what} needs a moment cube (xr.Dataset from cubes.bin_catalog or "
                        f"cubes.open_cube), got {type(cube).__name__}")


def _has_dim(obj, dim: str, what: str, hint: str = "") -> None:
    if dim not in obj.dims:
        raise ValueError(f"{what}: there is no dim {dim!r} to fit along; the dims are "
                         f"{[d for d in obj.dims if d != cv.REPLICATE_DIM]!r}{hint}")


def _recipe(value: str, coordinate: str, dim: str) -> str:
    return (f"bin the catalog with values=[{value!r}, {coordinate!r}], "
            f"cross=[({value!r}, {coordinate!r})] (the coordinate binned as a value too; axis "
            f"{dim!r} and value {coordinate!r} may read the same column)")


def _cross_name(cube: xr.Dataset, a: str, b: str) -> str | None:
    for name in (cv.cross_name(a, b), cv.cross_name(b, a)):
        if name in cube.data_vars and set(cube[name].attrs.get("value", [a, b])) == {a, b}:
            return name
    return None


def _pair_sums(cube: xr.Dataset, value: str, coordinate: str, dim: str, what: str) -> dict:
    """Per-bin sums of (y = value, x = coordinate) about their shifts, jackknife samples."""
    _is_cube(cube, what)
    fix = _recipe(value, coordinate, dim)
    for v in (value, coordinate):
        for p in (1, 2):
            if cv.sum_name(v, p) not in cube.data_vars:
                role = "value" if v == value else "coordinate"
                have = sorted(str(n) for n in cube.data_vars)
                raise KeyError(f"{what}: the cube has no {cv.sum_name(v, p)!r}, so no {role} "
                               f"{v!r} binned as a value ({fix}); it has {have!r}")
    cross = _cross_name(cube, value, coordinate)
    if cross is None:
        raise KeyError(f"{what}: the cube has no cross moment {cv.cross_name(value, coordinate)!r}"
                       f" = Σ({value} − c)({coordinate} − c'); {fix}")
    s = samples(cube)
    return {"W": _weight(s).astype(np.float64),
            "Sy": s[cv.sum_name(value)], "Syy": s[cv.sum_name(value, 2)],
            "Sx": s[cv.sum_name(coordinate)], "Sxx": s[cv.sum_name(coordinate, 2)],
            "Sxy": s[cross],
            "cy": float(cube[cv.sum_name(value)].attrs.get("shift", 0.0)),
            "cx": float(cube[cv.sum_name(coordinate)].attrs.get("shift", 0.0)),
            "uy": cube[cv.sum_name(value)].attrs.get("units"),
            "ux": cube[cv.sum_name(coordinate)].attrs.get("units")}


def _full(da: xr.DataArray) -> xr.DataArray:
    """The full-sample entry of a statistic (the whole array when it has no replicates)."""
    if cv.REPLICATE_DIM in da.dims and cv.REPLICATE_DIM in da.coords:
        return da.sel({cv.REPLICATE_DIM: cv.FULL_SAMPLE}, drop=True)
    return da


def _enough(count_full: xr.DataArray, min_count: float, what: str, unit: str = "stars"):
    """Mask (full-sample count >= min_count), refusing in-memory input with no slice enough."""
    ok = count_full >= min_count
    if isinstance(count_full.data, np.ndarray) and count_full.size and not bool(ok.any()):
        most = float(count_full.max())
        raise ValueError(f"{what}: too few {unit}: every slice has fewer than "
                         f"min_count={min_count} (the most is {most:g}); bin more stars, "
                         f"use wider bins or lower min_count")
    return ok


def _slope_units(uy, ux):
    return product(uy, inverse(ux)) if uy and ux else None


def _relabel(da: xr.DataArray, **attrs) -> xr.DataArray:
    """``da`` with exactly ``attrs`` (none inherited from the sums)."""
    da = da.copy(deep=False)
    da.attrs = attrs
    return da


def _attrs(name: str, units: str | None, **more) -> dict:
    return {"long_name": name, **({"units": units} if units else {}), **more}


# -- (a) exact least squares from the stars' moments ---------------------------------------
def lsq_gradient(cube: xr.Dataset, value: str, dim: str, *, coordinate: str | None = None,
                 pivot: float = 0.0, min_count: int = 3) -> xr.Dataset:
    """Exact least-squares line y = slope·x + intercept of the stars, per every other dim.

    Over all the stars of the bins along ``dim`` (they are summed), from the moments about the
    shifts c_y, c_x: with W = Σw and C_xy = Σ(x−c_x)(y−c_y) − Σ(x−c_x)Σ(y−c_y)/W (likewise C_xx,
    C_yy),

        slope = C_xy / C_xx,   intercept = ȳ + slope·(pivot − x̄),
        stderr(slope) = √[(C_yy − slope·C_xy) / (W − 2) / C_xx]   (OLS formal error)

    which is ``np.polyfit(x, y, 1)`` on the stars (with weights: ``np.polyfit(x, y, 1,
    w=√w)``). Restrict the range first with ``cube.isel``/``.sel`` on ``dim``.

    Parameters
    ----------
    cube : xr.Dataset
        A moment cube with ``value`` and ``coordinate`` binned as values and their cross moment
        (module docstring: ``values=[value, coordinate], cross=[(value, coordinate)]``).
    value : str
        The fitted quantity y (e.g. ``"feh"``, dex).
    dim : str
        The cube dim summed over (e.g. ``"R"`` for d[Fe/H]/dR per |z| slice).
    coordinate : str, optional
        The value holding x (default: ``dim``; e.g. ``"abs_z"`` for a ``z``-binned cube).
    pivot : float
        Where the intercept is given (default 0: [Fe/H] at R = 0, as Hawkins 2023 b_R).
    min_count : int
        Slices with fewer stars (full sample) are NaN in every jackknife sample.

    Returns
    -------
    xr.Dataset
        ``slope`` (value units / coordinate units), ``intercept``, ``slope_stderr``,
        ``intercept_stderr``, ``mean_<coordinate>``, ``mean_<value>``, ``count``; dims: the
        cube's other dims and ``replicate`` (→ :func:`cubes.estimate`).
    """
    coordinate = dim if coordinate is None else coordinate
    what = f"lsq_gradient({value!r}, dim={dim!r})"
    _is_cube(cube, what)
    _has_dim(cube, dim, what, f"; bin the catalog with an axis {dim!r}")
    p = _pair_sums(cube, value, coordinate, dim, what)
    W, Sx, Sy, Sxx, Syy, Sxy = (p[k].sum(dim) for k in ("W", "Sx", "Sy", "Sxx", "Syy", "Sxy"))
    ok = _enough(_full(W), max(min_count, 3), what)
    Wp = W.where(ok & (W > 0))
    cxx = Sxx - Sx * Sx / Wp
    cxy = Sxy - Sx * Sy / Wp
    cyy = Syy - Sy * Sy / Wp
    cxx = cxx.where(cxx > 0)
    slope = cxy / cxx
    xbar = p["cx"] + Sx / Wp
    ybar = p["cy"] + Sy / Wp
    s2 = (cyy - slope * cxy).clip(min=0.0) / (Wp - 2)
    su = _slope_units(p["uy"], p["ux"])
    out = xr.Dataset({
        "slope": slope.pipe(_relabel, **_attrs(f"d{value}/d{coordinate} (least squares over stars)",
                                           su)),
        "intercept": (ybar + slope * (pivot - xbar)).pipe(
            _relabel, **_attrs(f"{value} at {coordinate} = {pivot:g}", p["uy"])),
        "slope_stderr": np.sqrt(s2 / cxx).pipe(
            _relabel, **_attrs("OLS formal standard error of the slope", su)),
        "intercept_stderr": np.sqrt(s2 * (1 / Wp + (pivot - xbar) ** 2 / cxx)).pipe(
            _relabel, **_attrs("OLS formal standard error of the intercept", p["uy"])),
        f"mean_{coordinate}": xbar.pipe(_relabel, **_attrs(f"mean {coordinate}", p["ux"])),
        f"mean_{value}": ybar.pipe(_relabel, **_attrs(f"mean {value}", p["uy"])),
        "count": W.pipe(_relabel, long_name="stars (or Σw) in the fit"),
    })
    return out.assign_attrs(method="lsq", fitted_dim=dim, coordinate=coordinate, value=value,
                            pivot=pivot, min_count=min_count)


# -- (b) weighted least squares on a binned profile ----------------------------------------
def profile_gradient(profile: xr.DataArray, dim: str, *, error: xr.DataArray | None = None,
                     x: xr.DataArray | None = None, min_points: int = 3,
                     absolute_sigma: bool | None = None) -> xr.Dataset:
    """Weighted least-squares line through a binned profile along ``dim``, per other dims.

    Closed-form normal equations with weights w = 1/σ² (unweighted without ``error``), over the
    finite points: with x̄, ȳ the weighted means, S = Σw(x − x̄)²,

        slope = Σw(x − x̄)(y − ȳ)/S,   intercept = ȳ − slope·x̄ (y at x = 0),
        var(slope) = 1/S,  var(intercept) = 1/Σw + x̄²/S   (× χ²/(n − 2) unless absolute_sigma)

    ``absolute_sigma`` defaults to True with errors (σ are absolute, like
    ``scipy.optimize.curve_fit``) and False without them (then the errors are those of
    ``scipy.stats.linregress``/``np.polyfit(cov=True)``, dof = n − 2). The ``replicate`` dim,
    like any other, is kept: the jackknife error of the slope comes from :func:`cubes.estimate`.

    Parameters
    ----------
    profile : DataArray
        y per bin of ``dim`` (e.g. median [Fe/H] in |z| bins, dex).
    error : DataArray, optional
        σ_y per point (same units); points with non-finite or non-positive σ are left out.
    x : DataArray, optional
        Abscissa per point (default: the ``dim`` coordinate, i.e. bin centres).
    min_points : int
        Fits with fewer finite points are NaN.
    """
    what = f"profile_gradient(dim={dim!r})"
    if not isinstance(profile, xr.DataArray):
        raise TypeError(f"{what} needs a DataArray profile, got {type(profile).__name__}")
    _has_dim(profile, dim, what)
    if x is None:
        if dim not in profile.coords:
            raise ValueError(f"{what}: dim {dim!r} has no coordinate; pass x=")
        x = profile[dim].reset_coords(drop=True)
    x = x.astype(np.float64)
    y = profile.astype(np.float64)
    ok = np.isfinite(y) & np.isfinite(x)
    if error is not None:
        ok = ok & np.isfinite(error) & (error > 0)
        w = (1.0 / error**2).where(ok, 0.0)
    else:
        w = xr.ones_like(y).where(ok, 0.0)
    if absolute_sigma is None:
        absolute_sigma = error is not None
    n = ok.sum(dim)
    good = n >= max(min_points, 2)
    sw = w.sum(dim).where(good)
    xb = (w * x.where(ok, 0.0)).sum(dim) / sw
    yb = (w * y.where(ok, 0.0)).sum(dim) / sw
    dx = (x - xb).where(ok, 0.0)
    dy = (y - yb).where(ok, 0.0)
    sxx = (w * dx * dx).sum(dim)
    sxx = sxx.where(sxx > 0)
    slope = (w * dx * dy).sum(dim) / sxx
    intercept = yb - slope * xb
    chi2 = (w * (dy - slope * dx) ** 2).sum(dim).where(good)
    scale = 1.0 if absolute_sigma else chi2 / (n - 2).where(n > 2)
    uy = profile.attrs.get("units")
    su = _slope_units(uy, x.attrs.get("units") or (profile[dim].attrs.get("units")
                                                    if dim in profile.coords else None))
    out = xr.Dataset({
        "slope": slope.pipe(_relabel, **_attrs(f"d{profile.name or 'y'}/d{dim} (weighted least "
                                           "squares on the profile)", su)),
        "intercept": intercept.pipe(_relabel, **_attrs(f"{profile.name or 'y'} at {dim} = 0", uy)),
        "slope_stderr": np.sqrt(scale / sxx).pipe(
            _relabel, **_attrs("formal standard error of the slope", su)),
        "intercept_stderr": np.sqrt(scale * (1.0 / sw + xb**2 / sxx)).pipe(
            _relabel, **_attrs("formal standard error of the intercept", uy)),
        "chi2": chi2.pipe(_relabel, long_name="Σ w (y − fit)²"),
        "n_points": n.pipe(_relabel, long_name="points in the fit"),
    })
    return out.assign_attrs(method="wls" if error is not None else "ols", fitted_dim=dim,
                            absolute_sigma=int(absolute_sigma))


def mean_profile_gradient(cube: xr.Dataset, value: str, dim: str, *,
                          min_count: int = 3) -> xr.Dataset:
    """Weighted fit of the binned mean profile ⟨value⟩(dim) with its standard error.

    The mean and σ/√n of ``value`` per bin (``cubes.stats.mean``/``var``, ddof = 1) are fitted
    with :func:`profile_gradient` at the bin centres; bins with fewer than ``min_count`` stars
    (full sample, at least 2) are left out. Only the value's own sums are needed.
    """
    what = f"gradient({value!r}, dim={dim!r}, method='wls')"
    _is_cube(cube, what)
    _has_dim(cube, dim, what, f"; bin the catalog with an axis {dim!r}")
    m = mean(cube, value)
    v = var(cube, value, ddof=1)
    n = _weight(samples(cube))
    keep = _enough(_full(n), max(min_count, 2), what, "stars per bin")
    sem = np.sqrt(v / n).where(keep)
    return profile_gradient(m.where(keep), dim, error=sem).assign_attrs(min_count=min_count)


# -- (c) Hawkins 2023: line with intrinsic scatter, errors on both axes --------------------
def line_fit(cube: xr.Dataset, value: str, dim: str, *, coordinate: str | None = None,
             method: str = "mcmc", scatter: str = "perpendicular", priors=None,
             walkers: int = 10, steps: int = 1000, burn: int | None = None, seed: int = 0,
             min_count: int = 500) -> xr.Dataset:
    """Hawkins (2023) line fit (spec 002 §4.1–4.3) of the stars of each slice, from a cube.

    The likelihood (Eq. 4, :mod:`cubes.kernels.linefit`) is a sum over stars; for the stars of
    one bin along ``dim`` it needs only their moments (n, x̄, ȳ, C_xx, C_yy, C_xy) and their
    errors, which the cube holds as ⟨σ²⟩ = Σσ²/n (``errors=`` at binning). **Choice:** each
    star's σ_x², σ_y² is replaced by its bin's mean, so the fit is exact when errors are equal
    within a bin (finer bins along ``dim`` approach the per-star fit; with λ ≫ σ, as for
    [Fe/H] at 0.3 dex vs 0.08 dex, the difference is negligible). σ_xy = 0 (spec 002 A4);
    without ``sum_<v>_err2`` that axis has no error. ``min_count`` (default 500, spec 002 §3)
    masks slices with fewer stars. The fit runs once per jackknife sample (same seed, so their
    differences carry little sampler noise): ``cubes.estimate`` gives the jackknife error of
    the posterior median beside the posterior's 16/84 percentiles.

    See :func:`cubes.stats.linefit.fit_line` for the model, priors and sampler options.
    """
    coordinate = dim if coordinate is None else coordinate
    what = f"gradient({value!r}, dim={dim!r}, method={method!r})"
    _is_cube(cube, what)
    _has_dim(cube, dim, what, f"; bin the catalog with an axis {dim!r}")
    p = _pair_sums(cube, value, coordinate, dim, what)
    s = samples(cube)
    W = p["W"]
    total = W.sum(dim)
    ok = _enough(_full(total), min_count, what)
    Wp = W.where(W > 0)

    def err2(v):
        name = cv.err2_name(v)
        return (s[name] / Wp).fillna(0.0) if name in s.data_vars else xr.zeros_like(Wp)

    groups = xr.Dataset({
        "n": W.where(ok, 0.0), "xbar": p["cx"] + p["Sx"] / Wp, "ybar": p["cy"] + p["Sy"] / Wp,
        "cxx": p["Sxx"] - p["Sx"] ** 2 / Wp, "cyy": p["Syy"] - p["Sy"] ** 2 / Wp,
        "cxy": p["Sxy"] - p["Sx"] * p["Sy"] / Wp,
        "sx2": err2(coordinate), "sy2": err2(value), "sxy": xr.zeros_like(Wp),
    }).fillna(0.0)
    for c in [c for c in groups.coords if dim in groups[c].dims and c != dim]:
        groups = groups.drop_vars(c)
    out = fit_line_groups(groups, dim, method=method, scatter=scatter, priors=priors,
                          walkers=walkers, steps=steps, burn=burn, seed=seed, min_points=3,
                          units=(p["ux"], p["uy"]))
    out["count"] = total.pipe(_relabel, long_name="stars in the fit")
    return out.assign_attrs(fitted_dim=dim, coordinate=coordinate, value=value,
                            min_count=min_count,
                            errors="bin-mean σ² per bin (exact for equal errors in a bin)")


# -- (d) Long et al. 2025: medians in |Z| / Z_max, radial trend removed -------------------
def _bins_within(cube: xr.Dataset, dim: str, lo: float, hi: float) -> np.ndarray:
    e = axis_edges(cube, dim)
    tol = 1e-9 * max(1.0, np.abs(e).max())
    return np.flatnonzero((e[:-1] >= lo - tol) & (e[1:] <= hi + tol))


def _select(cube: xr.Dataset, where: Mapping[str, tuple[float, float]] | None, what: str):
    if not where:
        return cube
    for d, (lo, hi) in where.items():
        if d not in cube.dims:
            raise ValueError(f"{what}: trend_where names dim {d!r}, which the cube lacks "
                             f"(dims: {list(cube.dims)!r})")
        cube = cube.isel({d: _bins_within(cube, d, lo, hi)})
    return cube


def membership(cube: xr.Dataset, dim: str, edges: Sequence[float]) -> xr.DataArray:
    """(dim, ``<dim>_bin``) 0/1 matrix: which fine bins of ``dim`` make each coarse bin of
    ``edges`` (which must be edges of the cube's axis)."""
    fine = axis_edges(cube, dim)
    edges = np.asarray(edges, dtype=np.float64)
    tol = 1e-9 * max(1.0, np.abs(fine).max())
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"bins of {dim!r} must be increasing edges, got {edges!r}")
    off = [e for e in edges if not np.any(np.abs(fine - e) <= tol)]
    if off:
        raise ValueError(f"coarse {dim!r} edges {off!r} are not edges of the cube's {dim!r} "
                         f"axis ({fine.min():g} … {fine.max():g}); bin it finer or align them")
    lo, hi = fine[:-1], fine[1:]
    m = ((lo[:, None] >= edges[None, :-1] - tol) & (hi[:, None] <= edges[None, 1:] + tol))
    name = f"{dim}_bin"
    centres = 0.5 * (edges[1:] + edges[:-1])
    units = cube[dim].attrs.get("units")
    return xr.DataArray(m.astype(np.float64), dims=(dim, name), coords={
        dim: cube[dim].values,
        name: (name, centres, _attrs(f"{dim} bin", units, edges=edges.tolist()))})


def radial_trend(cube: xr.Dataset, value: str, *, radius: str = "R", kind: str = "median",
                 exclude: Sequence[str] = (), where: Mapping | None = None) -> xr.DataArray:
    """The radial [Fe/H] trend of Long et al. (2025) at each ``radius`` bin (spec 003 §4.1–4.2).

    - ``kind="median"`` (OBA stars, §4.1 step 5): the median of ``value`` (a finely binned dim)
      per radius bin, over every dim but those kept (``exclude`` lists the dims summed, e.g. the
      height); empty radius bins are filled linearly between neighbours, held constant beyond
      the ends (no extrapolation).
    - ``kind="linear"`` (G dwarfs, §4.2 step 4): the exact least-squares line a + b·R over the
      stars (:func:`lsq_gradient`; needs ``values=[value, radius], cross=[(value, radius)]``),
      evaluated at each bin's mean radius.

    ``where`` restricts the stars of the trend, e.g. ``{"abs_z": (0, 0.2)}`` (§4.2: |Z| < 0.2).
    """
    what = f"radial_trend({value!r}, kind={kind!r})"
    _has_dim(cube, radius, what, f"; bin the catalog with an axis {radius!r}")
    sub = _select(cube, where, what)
    summed = [d for d in exclude if d in sub.dims]
    sub = sub.sum(summed, keep_attrs=True) if summed else sub
    if kind == "median":
        t = quantile(sub, value, 0.5).drop_vars("quantile", errors="ignore")
        x = np.asarray(cube[radius].values, dtype=np.float64)
        t = xr.apply_ufunc(fill_gaps, core_whole(t, radius), input_core_dims=[[radius]],
                           output_core_dims=[[radius]], kwargs={"x": x}, vectorize=True,
                           dask="parallelized", output_dtypes=[np.float64])
    elif kind == "linear":
        flat = sub.sum(value, keep_attrs=True) if value in sub.dims else sub
        fit = lsq_gradient(flat, value, radius)
        whole = cube.sum([d for d in (*summed, value) if d in cube.dims], keep_attrs=True)
        rbar = mean(whole, radius)
        t = fit["intercept"] + fit["slope"] * rbar
    else:
        raise ValueError(f"radial trend kind must be 'median' or 'linear', got {kind!r}")
    return t.rename(f"radial_trend_{value}").assign_attrs(
        _attrs(f"radial trend of {value} ({kind})", cube[value].attrs.get("units")
               if value in cube.coords else None))


def median_gradient(cube: xr.Dataset, value: str, dim: str, *, radius: str = "R",
                    radius_bins: Sequence[float] | None = None, radial=None,
                    trend_where: Mapping | None = None, min_count: int = 10,
                    min_points: int = 3) -> xr.Dataset:
    """Long et al. (2025) vertical gradient: unweighted OLS of median-[Fe/H] profiles.

    Spec 003 §4.1 steps 5–7 and §4.3, per every other dim (T_eff group, R bin, replicate):

    1. radial-trend correction (``radial``): Δ = value − trend(R), the trend from
       :func:`radial_trend` per group (``"median"``: binned median per radius bin, OBA;
       ``"linear"``: least-squares a + bR, G dwarfs, with ``trend_where={"abs_z": (0, 0.2)}``),
       or a DataArray on ``radius``; ``None``: no correction (the switch test of §5);
    2. the median of Δ per ``dim`` bin (0.06 kpc |Z| or Z_max bins) and radius bin, pooled
       over the fine radius bins of each ``radius_bins`` interval (e.g. [7, 9, 11, 13]);
    3. cells with fewer than ``min_count`` stars (full sample; default 10, spec 003 A2) left out;
    4. unweighted OLS of the medians on the bin centres (A1, A4), slope error as
       ``scipy.stats.linregress`` (dof = n − 2); with ``replicate`` kept for the jackknife.

    **Choice:** the trend is constant within a fine radius bin (its value at that bin) where
    the paper interpolates it to each star's R: bin R finely (0.25 kpc, A5). The medians are
    exact for stars uniform within each ``value`` bin (:mod:`cubes.kernels.detrend`).

    Parameters
    ----------
    value : str
        A finely binned dim of the cube holding the value (``"feh"``: bin it as an axis).
    dim : str
        The height dim fitted along (``"abs_z"`` or ``"zmax"``).

    Returns
    -------
    xr.Dataset
        ``slope`` (dex/kpc), ``intercept``, ``slope_stderr``, ``intercept_stderr``, ``n_points``,
        and the profile: ``median_<value>`` and ``count`` along ``dim``.
    """
    what = f"gradient({value!r}, dim={dim!r}, method='median')"
    _is_cube(cube, what)
    _has_dim(cube, dim, what, f"; bin the catalog with an axis {dim!r}")
    if value not in cube.dims:
        raise ValueError(f"{what}: medians need {value!r} as a finely binned dim of the cube "
                         f"(axes={{..., {value!r}: axes.regular(-1.5, 1.0, 0.01)}}); dims are "
                         f"{list(cube.dims)!r}")
    if not isinstance(radial, xr.DataArray) and radial not in RADIAL_MODES:
        raise ValueError(f"radial must be one of {RADIAL_MODES!r} or a DataArray trend on "
                         f"{radius!r}, got {radial!r}")
    if (radial is not None or radius_bins is not None) and radius not in cube.dims:
        raise ValueError(f"{what}: the radial correction and radius_bins need a {radius!r} "
                         f"dim (dims: {list(cube.dims)!r})")
    s = samples(cube)
    w = _weight(s).astype(np.float64)
    if isinstance(radial, xr.DataArray):
        trend = radial
    elif radial is None:
        trend = xr.zeros_like(w.isel({value: 0}, drop=True).sum(dim))
    else:
        trend = radial_trend(cube, value, radius=radius, kind=radial, exclude=[dim],
                             where=trend_where)
    if radius in w.dims:
        member = (membership(cube, radius, radius_bins) if radius_bins is not None else
                  xr.DataArray(np.eye(cube.sizes[radius]), dims=(radius, f"{radius}_bin"),
                               coords={radius: cube[radius].values,
                                       f"{radius}_bin": cube[radius].values}))
        rows = [radius]
    else:  # one radius (or none): a single row
        member = xr.DataArray(np.ones((1, 1)), dims=("_row", "_grp"))
        w, trend, rows = w.expand_dims("_row"), trend.expand_dims("_row"), ["_row"]
    grp = [d for d in member.dims if d not in rows][0]
    edges = axis_edges(cube, value)
    med = xr.apply_ufunc(
        shifted_quantile, core_whole(w, [*rows, value]),
        core_whole(trend.astype(np.float64), rows), core_whole(member, [*rows, grp]),
        input_core_dims=[[*rows, value], rows, [*rows, grp]], output_core_dims=[[grp, "_q"]],
        kwargs={"edges": edges, "q": np.array([0.5])}, dask="parallelized",
        output_dtypes=[np.float64], dask_gufunc_kwargs={"output_sizes": {"_q": 1}},
    ).isel(_q=0, drop=True)
    count = xr.dot(w.sum(value), member, dim=rows)
    if grp == "_grp":
        med, count = med.isel(_grp=0, drop=True), count.isel(_grp=0, drop=True)
    keep = _enough(_full(count), min_count, what, "stars per cell")
    med = med.where(keep)
    units = cube[value].attrs.get("units")
    label = "Δ" + value if radial is not None else value
    med = med.pipe(_relabel, **_attrs(f"median {label} per {dim} bin", units))
    fit = profile_gradient(med.rename(f"median_{value}"), dim, min_points=min_points)
    su = _slope_units(units, cube[dim].attrs.get("units"))
    if su:
        fit["slope"].attrs["units"] = fit["slope_stderr"].attrs["units"] = su
    fit[f"median_{value}"] = med
    fit["count"] = count.pipe(_relabel, long_name="stars per cell")
    mode = radial if isinstance(radial, str) or radial is None else "given"
    return fit.assign_attrs(method="median", fitted_dim=dim, value=value,
                            radial_correction=str(mode), min_count=min_count,
                            fit="unweighted OLS of the medians at bin centres (Long+2025)")


# -- entry point ---------------------------------------------------------------------------
def gradient(cube: xr.Dataset, value: str, dim: str, *, method: str = "lsq",
             **kwargs) -> xr.Dataset:
    """Slope and intercept of ``value`` along ``dim``, per every other dim (replicates kept).

    ``method``:

    - ``"lsq"`` (default): exact least squares over the stars (:func:`lsq_gradient`; cube with
      ``values=[value, dim], cross=[(value, dim)]``);
    - ``"wls"``: weighted fit of the binned mean profile (:func:`mean_profile_gradient`);
    - ``"mcmc"`` / ``"mle"``: Hawkins (2023) line with intrinsic scatter (:func:`line_fit`);
    - ``"median"``: Long et al. (2025) fit of median profiles (:func:`median_gradient`;
      ``value`` a binned dim).

    Keyword arguments go to the chosen function. The result always has ``slope`` and
    ``intercept``; ``cubes.estimate(result)`` gives each with its jackknife error.
    """
    if method == "lsq":
        return lsq_gradient(cube, value, dim, **kwargs)
    if method == "wls":
        return mean_profile_gradient(cube, value, dim, **kwargs)
    if method in ("mcmc", "mle"):
        return line_fit(cube, value, dim, method=method, **kwargs)
    if method == "median":
        return median_gradient(cube, value, dim, **kwargs)
    raise ValueError(f"gradient: method must be one of {METHODS!r}, got {method!r}")
