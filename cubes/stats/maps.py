"""Metallicity maps relative to radial trends: Wang+2025 offset maps, Hawkins 2023 residual maps
and azimuthal profiles, and Reid+2014 arm loci for overlays. Pure functions of moment cubes;
every result keeps the ``replicate`` dim (→ :func:`cubes.estimate`).

- :func:`offset_map` (spec 001 §4.1–4.3): mean (or median) [Fe/H] per (R, Z) cell minus the
  mean of its R bin over the stars, per φ and age bin (any other dims);
- :func:`residual_map` (spec 002 §4.5): median [Fe/H] per X–Y (or hex ``cell``) cell minus a
  fitted radial model;
- :func:`azimuthal_profile` (spec 002 §4.6): ⟨δ[Fe/H]⟩(φ) with δ = [Fe/H] − ⟨[Fe/H]⟩ of the
  star's annulus, and its standard error;
- :func:`arm_overlay`, :func:`arm_distance`: Reid et al. (2014) arms from
  :mod:`cubes.spiral_arms`.

**Masking.** A cell with fewer than ``min_count`` stars *in the full sample* is NaN in every
jackknife sample (so a statistic's samples always cover the same cells).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from .. import conventions as cv
from .. import spiral_arms
from ..jackknife import samples
from .gradients import _enough, _full, _is_cube, _relabel, membership
from .moments import _weight
from .quantiles import quantile


def _units(cube, value):
    var = cube.get(cv.sum_name(value))
    if var is not None and var.attrs.get("units"):
        return var.attrs["units"]
    return cube[value].attrs.get("units") if value in cube.coords else None


def _a(name, units, **more):
    return {"long_name": name, **({"units": units} if units else {}), **more}


def _value_sum(cube: xr.Dataset, value: str, what: str) -> tuple[xr.DataArray, float]:
    """Σw(v − c) (jackknife samples) and c, summed over a binned ``value`` dim if there is one."""
    name = cv.sum_name(value)
    if name not in cube.data_vars:
        have = sorted(str(n) for n in cube.data_vars)
        raise KeyError(f"{what}: the cube has no {name!r}: bin the catalog with "
                       f"values=[{value!r}] (the mean over stars needs the value's sums); it "
                       f"has {have!r}")
    return samples(cube)[name], float(cube[name].attrs.get("shift", 0.0))


def _dims(cube, dims, what, role):
    dims = [dims] if isinstance(dims, str) else list(dims)
    missing = [d for d in dims if d not in cube.dims]
    if missing:
        raise ValueError(f"{what}: no {role} dim {missing!r} in the cube (dims: "
                         f"{[d for d in cube.dims if d != cv.REPLICATE_DIM]!r})")
    return dims


def offset_map(cube: xr.Dataset, value: str = "feh", *, radius: str = "R",
               across: str | Sequence[str] = "z", statistic: str = "mean",
               min_count: int = 3) -> xr.Dataset:
    """Wang et al. (2025) metallicity-offset maps: each cell minus its R bin's mean (spec 001).

    μ_R = mean of ``value`` over *all the stars* of the R bin, across the ``across`` dims
    (the map's Z range; §4.2, A9 default: before masking, count-weighted = Σw v / Σw, exact from
    the sums), kept separate for every other dim (φ bin, age bin …). Then per cell
    (§4.1, §4.3):

        Off = F̄ − μ_R,  F̄ = mean of the cell (``statistic="mean"``), or
        Off = median(v − μ_R) = median of the cell − μ_R (``"median"``, §4.4; ``value`` must be
        a finely binned dim of the cube, its median read by :func:`cubes.stats.quantile`)

    Cells with fewer than ``min_count`` stars (full sample; the paper's N ≥ 3) are NaN. The
    mean needs ``values=[value]``; with ``statistic="median"`` the cube needs both the ``value``
    axis and the value's sums (an axis and a value may read the same column).

    Returns
    -------
    xr.Dataset
        ``<statistic>_<value>`` (F̄ or the median), ``radial_mean_<value>`` (μ_R),
        ``offset_<value>`` (dex), ``count``. The N − S difference map is
        ``cubes.stats.north_south(out["offset_feh"], "z")``.
    """
    what = f"offset_map({value!r}, statistic={statistic!r})"
    _is_cube(cube, what)
    if statistic not in ("mean", "median"):
        raise ValueError(f"{what}: statistic must be 'mean' or 'median'")
    across = _dims(cube, across, what, "'across'")
    _dims(cube, radius, what, "radius")
    s1, shift = _value_sum(cube, value, what)
    w = _weight(samples(cube)).astype(np.float64)
    binned = value in cube.dims
    if statistic == "median" and not binned:
        raise ValueError(f"{what}: a median needs {value!r} as a finely binned dim (axes="
                         f"{{..., {value!r}: axes.regular(-1.5, 1.0, 0.01)}}), beside "
                         f"values=[{value!r}]")
    cell_w = w.sum(value) if binned else w
    cell_s = s1.sum(value) if binned else s1
    rw = cell_w.sum(across)
    mu = shift + cell_s.sum(across) / rw.where(rw > 0)
    keep = _enough(_full(cell_w), min_count, what, "stars per cell")
    if statistic == "mean":
        cell = shift + cell_s / cell_w.where(cell_w > 0)
    else:
        cell = quantile(cube, value, 0.5).drop_vars("quantile", errors="ignore")
    cell = cell.where(keep)
    u = _units(cube, value)
    out = xr.Dataset({
        f"{statistic}_{value}": cell.pipe(_relabel, **_a(f"{statistic} {value} per cell", u)),
        f"radial_mean_{value}": mu.pipe(_relabel, **_a(f"mean {value} of the {radius} bin over "
                                                   f"{across}", u)),
        f"offset_{value}": (cell - mu).pipe(
            _relabel, **_a(f"{statistic} {value} − mean of its {radius} bin", u)),
        "count": cell_w.pipe(_relabel, long_name="stars per cell"),
    })
    return out.assign_attrs(min_count=min_count, statistic=statistic, across=across,
                            reference="Wang et al. 2025 §3 (spec 001 §4.1-4.3)")


def _fit_terms(fit):
    if isinstance(fit, xr.Dataset):
        return fit["slope"], fit["intercept"]
    slope, intercept = fit
    return slope, intercept


def cell_radius(cube: xr.Dataset, xy: tuple[str, str] = ("x", "y")) -> xr.DataArray:
    """Galactocentric radius √(x² + y²) of each cell centre (hex ``cell`` coordinates or
    rectangular x, y dims)."""
    missing = [c for c in xy if c not in cube.coords]
    if missing:
        raise ValueError(f"no cell-centre coordinates {missing!r} in the cube; pass xy= the "
                         f"names of the x, y columns of its hexagonal or rectangular axes")
    return np.hypot(cube[xy[0]].reset_coords(drop=True), cube[xy[1]].reset_coords(drop=True))


def residual_map(cube: xr.Dataset, fit, *, value: str = "feh", radius: str | None = None,
                 xy: tuple[str, str] = ("x", "y"), min_count: int = 5,
                 sign: str = "obs-pred") -> xr.Dataset:
    """Hawkins (2023) residual map: median [Fe/H] per X–Y cell minus a radial model (spec 002
    §4.5), e.g. from ``gradient(cube_|z|<0.3, "feh", "R")`` (A11: refit on |Z| < 0.3).

    model = slope · R_cell + intercept, with R_cell the mean R of the cell's stars when the
    cube has R binned as a value (``radius="R"``: exact, since the model is linear in R), else
    the radius of the cell centre (``xy`` coordinates). The residual is the cell's median
    minus the model (A12, ``sign="obs-pred"``; ``"pred-obs"`` is the caption's sign); as the
    model is taken constant in a cell, the median of per-star residuals and median − model
    coincide (A12b). ``value`` must be a finely binned dim of the cube. ``fit`` is a Dataset
    with ``slope`` and ``intercept`` (its replicates pair with the cube's) or a (slope,
    intercept) tuple. Cells with fewer than ``min_count`` stars (default 5, spec 002 §3) are NaN.

    Returns ``median_<value>``, ``model_<value>``, ``residual_<value>``, ``count`` and, when
    the cube has ``sum_<value>_err2``, ``significance`` = residual / rms σ of the cell's stars
    (the paper's residual / typical error).
    """
    what = f"residual_map({value!r})"
    _is_cube(cube, what)
    if sign not in ("obs-pred", "pred-obs"):
        raise ValueError(f"{what}: sign must be 'obs-pred' or 'pred-obs', got {sign!r}")
    if value not in cube.dims:
        raise ValueError(f"{what}: the median needs {value!r} as a finely binned dim of the "
                         f"cube (dims: {list(cube.dims)!r})")
    s = samples(cube)
    w = _weight(s).astype(np.float64)
    n = w.sum(value)
    if radius is not None:
        rs, rshift = _value_sum(cube, radius, what)
        r = rshift + rs.sum(value) / n.where(n > 0)
    else:
        r = cell_radius(cube, xy)
    slope, intercept = _fit_terms(fit)
    model = slope * r + intercept
    keep = _enough(_full(n), min_count, what, "stars per cell")
    med = quantile(cube, value, 0.5).drop_vars("quantile", errors="ignore").where(keep)
    resid = (med - model) if sign == "obs-pred" else (model - med)
    u = _units(cube, value)
    out = xr.Dataset({
        f"median_{value}": med.pipe(_relabel, **_a(f"median {value} per cell", u)),
        f"model_{value}": model.where(keep).pipe(_relabel, **_a("radial model m R + b", u)),
        f"residual_{value}": resid.pipe(_relabel, **_a(f"{sign} {value}", u)),
        "count": n.pipe(_relabel, long_name="stars per cell"),
    })
    e2 = cv.err2_name(value)
    if e2 in s.data_vars:
        rms = np.sqrt(s[e2].sum(value) / n.where(n > 0))
        out["significance"] = (resid / rms).assign_attrs(
            long_name="residual / rms [Fe/H] error of the cell's stars")
    return out.assign_attrs(min_count=min_count, sign=sign,
                            reference="Hawkins 2023 §3.3 (spec 002 §4.5)")


def azimuthal_profile(cube: xr.Dataset, value: str = "feh", *, radius: str = "R",
                      azimuth: str = "phi", ranges: Sequence[float] | None = (7, 9, 11),
                      min_count: int = 3) -> xr.Dataset:
    """Hawkins (2023) ⟨δ[Fe/H]⟩(φ), δ = [Fe/H] − ⟨[Fe/H](R)⟩_φ (spec 002 §4.6).

    The annulus mean is the mean over the stars of each ``radius`` bin across every ``azimuth``
    bin (bin R in 0.2 kpc annuli, A13), kept separate for every other dim. Per (annulus, φ)
    cell, δ's sums follow exactly from the cube's, with a = ⟨v⟩_annulus − c:
    Σδ = S1 − aW, Σδ² = S2 − 2aS1 + a²W. They are then pooled over the annuli of each
    ``ranges`` interval (edges, default the paper's 7–9 and 9–11 kpc; ``None``: per annulus),
    giving ⟨δ⟩ and its standard error √(var_ddof=1 / N) per φ bin. Bins with fewer than
    ``min_count`` stars (full sample) are NaN.

    Returns ``mean_delta_<value>``, ``sem_delta_<value>``, ``count``, with dims ``<radius>_bin``
    (or ``radius``), ``azimuth`` and the others.
    """
    what = f"azimuthal_profile({value!r})"
    _is_cube(cube, what)
    _dims(cube, [radius, azimuth], what, "radius/azimuth")
    if cv.sum_name(value, 2) not in cube.data_vars:
        raise KeyError(f"{what}: the cube has no {cv.sum_name(value, 2)!r}: bin the catalog "
                       f"with values=[{value!r}]")
    s1, _ = _value_sum(cube, value, what)
    s = samples(cube)
    s2 = s[cv.sum_name(value, 2)]
    w = _weight(s).astype(np.float64)
    if value in cube.dims:  # a value both binned and summed: pool its bins
        s1, s2, w = s1.sum(value), s2.sum(value), w.sum(value)
    wa = w.sum(azimuth)
    a = s1.sum(azimuth) / wa.where(wa > 0)
    sd = s1 - a * w
    sd2 = s2 - 2 * a * s1 + a * a * w
    if ranges is not None:
        m = membership(cube, radius, ranges)
        order = [f"{radius}_bin" if d == radius else d for d in w.dims]
        sd, sd2, w = (xr.dot(v.fillna(0.0), m, dim=radius).transpose(*order)
                      for v in (sd, sd2, w))
    wp = w.where(w > 0)
    mean_d = sd / wp
    var_d = (sd2 - sd * sd / wp).clip(min=0.0) / (w - 1).where(w > 1)
    keep = _enough(_full(w), max(min_count, 2), what, "stars per azimuth bin")
    u = _units(cube, value)
    out = xr.Dataset({
        f"mean_delta_{value}": mean_d.where(keep).pipe(
            _relabel, **_a(f"⟨{value} − annulus mean⟩", u)),
        f"sem_delta_{value}": np.sqrt(var_d / w).where(keep).pipe(
            _relabel, **_a("standard error of the mean δ", u)),
        "count": w.pipe(_relabel, long_name="stars per bin"),
    })
    return out.assign_attrs(min_count=min_count,
                            reference="Hawkins 2023 §3.4 (spec 002 §4.6)")


def arm_overlay(*, R0: float = spiral_arms.REID2014_R0, arms: Sequence[str] | None = None,
                n: int = 200) -> xr.Dataset:
    """Reid et al. (2014) arm centre lines and edges for map overlays (spec 002 §4.7).

    A Dataset on (``arm``, ``point``): ``x``, ``y``, ``R`` (kpc) and ``beta`` (deg) of each
    centre line (:func:`cubes.spiral_arms.arm_locus`, library frame: Sun at x = −R0), and
    ``x_inner``/``y_inner``, ``x_outer``/``y_outer``: the lines one arm width across (R ∓
    width / cos ψ, the dashed lines of Hawkins' figures, A16). ``R0`` rescales the arms from
    Reid's 8.34 kpc (default: as published).
    """
    names = [a.name for a in spiral_arms.REID2014] if arms is None else list(arms)
    rows = {k: [] for k in ("x", "y", "R", "beta", "x_inner", "y_inner", "x_outer", "y_outer")}
    for name in names:
        a = spiral_arms.arm(name)
        loc = spiral_arms.arm_locus(a, R0=R0, n=n)
        half = a.width / np.cos(np.radians(a.pitch)) * (R0 / spiral_arms.REID2014_R0)
        rad = np.radians(loc["beta"])
        for k in ("x", "y", "R", "beta"):
            rows[k].append(loc[k])
        for tag, sgn in (("inner", -1.0), ("outer", 1.0)):
            r = loc["R"] + sgn * half
            rows[f"x_{tag}"].append(-r * np.cos(rad))
            rows[f"y_{tag}"].append(r * np.sin(rad))
    units = {"beta": "deg"}
    return xr.Dataset(
        {k: (("arm", "point"), np.stack(v), {"units": units.get(k, "kpc")})
         for k, v in rows.items()},
        coords={"arm": names},
        attrs={"catalog": "Reid et al. 2014 Table 2", "R0": R0})


def arm_distance(cube: xr.Dataset, *, xy: tuple[str, str] = ("x", "y"),
                 arms: Sequence[str] | None = None,
                 R0: float = spiral_arms.REID2014_R0) -> xr.Dataset:
    """Distance (kpc) of each cell centre to the nearest Reid+2014 arm, and that arm's name
    (``""`` where no arm covers the azimuth), for residual-vs-arm statistics (an extension:
    Hawkins 2023 compares by eye, spec 002 §4.7)."""
    names = tuple(a.name for a in spiral_arms.REID2014) if arms is None else tuple(arms)
    x = cube[xy[0]].reset_coords(drop=True) if xy[0] in cube.coords else None
    y = cube[xy[1]].reset_coords(drop=True) if xy[1] in cube.coords else None
    if x is None or y is None:
        cell_radius(cube, xy)  # raises the explanatory error
    x, y = xr.broadcast(x, y)
    d, i = spiral_arms.nearest_arm(x.values, y.values, arms=names, R0=R0)
    label = np.array([*names, ""], dtype=object)[np.where(i < 0, len(names), i)]
    return xr.Dataset({"arm_distance": (x.dims, d, {"units": "kpc",
                                                    "long_name": "distance to nearest arm"}),
                       "nearest_arm": (x.dims, label.astype(str))}, coords=x.coords)
