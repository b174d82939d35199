"""North–South asymmetries: the asymmetry index, and density / median differences in a |v_z| strip.

- :func:`asymmetry` — A(|z|) = (N − S)/(N + S) of Wang et al. 2025 (Eq. 1) in the four modes
  their spec discusses (ambiguity A1), or the plain N − S (:func:`cubes.stats.north_south`),
  from any statistic with a z dim (folded with :func:`cubes.stats.fold`) or from a North and a
  South statistic.
- :func:`in_strip`, :func:`strip_mean` — the stars, or the mean of a statistic, in the phase-space
  stripe |v_z| < 10 km/s of Lin et al. 2023 §3.3 (their spec §4.4).
- :func:`density_north_south` — North − South of the star density in that stripe.
- :func:`median_north_south` — Δ[Fe/H](|z|) = median North − median South (Lin et al. 2023
  §3.3, spec §4.5; Wang et al. 2025 Eq. 1 with ``mode=``), from a finely binned [Fe/H] axis.

Every function keeps the ``replicate`` dim of its input, so :func:`cubes.estimate` gives the
jackknife error at the end; lazy inputs stay lazy.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import conventions as cv
from ..jackknife import samples
from ..reduce import marginalize
from ..units import inverse, product
from .hemispheres import HEMISPHERE, _widths, fold, north_south
from .moments import density
from .quantiles import quantile

MODES = ("literal", "linear", "abs_denominator", "difference")
_LN10 = float(np.log(10.0))


def _pair(north, south, dim: str, what: str):
    """North and South halves of a statistic (folded if needed), aligned exactly."""
    if south is None:
        if not isinstance(north, xr.DataArray):
            raise TypeError(f"{what} needs a statistic (xr.DataArray), got "
                            f"{type(north).__name__}")
        f = north if HEMISPHERE in north.dims else fold(north, dim)
        n, s = f.sel({HEMISPHERE: "north"}, drop=True), f.sel({HEMISPHERE: "south"}, drop=True)
        return n, s
    try:
        return xr.align(north, south, join="exact")
    except ValueError as err:
        raise ValueError(f"{what}: the North and South statistics have different coordinates "
                         f"({err})") from None


def asymmetry(north: xr.DataArray, south: xr.DataArray | None = None, *, dim: str = "z",
              mode: str = "linear") -> xr.DataArray:
    """North–South asymmetry index A(|z|) (Wang et al. 2025, Eq. 1; spec 001 §4.5, A1).

    Parameters
    ----------
    north : DataArray
        A statistic with a foldable ``dim`` (e.g. median [Fe/H] on a symmetric z axis; folded
        with :func:`cubes.stats.fold`), or an already folded one (with a ``hemisphere`` dim),
        or — with ``south`` — the North statistic.
    south : DataArray, optional
        The South statistic on the same coordinates (|z| bins) as ``north``.
    dim : str
        The signed dim to fold (default ``"z"``; z > 0 is North).
    mode : {"linear", "literal", "abs_denominator", "difference"}
        - ``"literal"``: (N − S)/(N + S), Eq. 1 as printed. On [Fe/H] in dex (negative in the
          outer disk) its sign is the opposite of the paper's claim "N more metal-rich → A > 0",
          and it is unstable where N + S crosses 0.
        - ``"linear"`` (default): the index of the linear abundances Z/Z⊙ = 10^[Fe/H],
          (10^N − 10^S)/(10^N + 10^S) = tanh(ln 10 · (N − S)/2), computed in the tanh form.
          The one reading of Eq. 1 on dex values that has the paper's sign and is defined for
          any N, S; the spec's recommended default for checks (with ``"difference"``). It
          needs values in dex (``units`` "dex" or none); e.g. N − S = 0.10 dex gives 0.115.
        - ``"abs_denominator"``: (N − S)/|N + S|: the paper's sign with the printed formula.
          The natural index of positive quantities (counts, densities, σ) is ``"literal"``.
        - ``"difference"``: N − S in the statistic's units (:func:`cubes.stats.north_south`);
          the quantity the paper's text quotes (0.0–0.15 dex).

    Returns
    -------
    DataArray on ``abs_<dim>`` (dimensionless, or in the statistic's units for
    ``"difference"``), NaN where the denominator is 0 or either side is NaN; the replicate dim
    is kept.
    """
    if mode not in MODES:
        raise ValueError(f"asymmetry mode must be one of {MODES!r}, got {mode!r}")
    if mode == "difference" and south is None and isinstance(north, xr.DataArray) \
            and HEMISPHERE not in north.dims:
        return north_south(north, dim)
    n, s = _pair(north, south, dim, "asymmetry")
    units = n.attrs.get("units") or s.attrs.get("units")
    label = north.attrs.get("long_name", north.name)
    if mode == "difference":
        out = n - s
        out.attrs = {"long_name": f"North − South of {label}", **({"units": units} if units
                                                                 else {})}
    else:
        if mode == "linear":
            if units not in (None, "", "dex"):
                raise ValueError(
                    f"asymmetry(mode='linear') reads the values as logarithmic abundances "
                    f"(10**value, dex), but they are in {units!r}; use mode='literal' for a "
                    "positive quantity or mode='difference'")
            out = np.tanh(0.5 * _LN10 * (n - s))
        else:
            den = n + s
            if mode == "abs_denominator":
                den = abs(den)
            out = (n - s) / den.where(den != 0)
        out.attrs = {"long_name": f"North–South asymmetry index of {label} ({mode})",
                     "units": "", "asymmetry_mode": mode}
    base = north.name if north.name is not None else "statistic"
    return out.rename(f"{base}_asymmetry" if mode != "difference"
                      else f"{base}_north_minus_south")


def _strip_cells(obj, dim: str, half_width: float) -> np.ndarray:
    """Indices of the ``dim`` cells that tile |dim| < half_width exactly (else ValueError)."""
    if dim not in obj.dims:
        raise ValueError(f"a |{dim}| strip needs a {dim!r} axis; the dims are "
                         f"{list(obj.dims)!r}")
    if not half_width > 0:
        raise ValueError(f"the strip half-width must be > 0, got {half_width!r}")
    c = np.asarray(obj[dim].values, dtype=np.float64)
    w = _widths(obj, dim, c)
    if w is None:
        raise ValueError(f"the {dim!r} axis has no bin widths: it is not a binned axis")
    lo, hi = c - w / 2, c + w / 2
    tol = 1e-6 * float(np.min(w))
    idx = np.flatnonzero((lo >= -half_width - tol) & (hi <= half_width + tol))
    tiles = (idx.size > 0 and abs(lo[idx[0]] + half_width) <= tol
             and abs(hi[idx[-1]] - half_width) <= tol and np.all(np.diff(idx) == 1))
    if not tiles:
        raise ValueError(
            f"the {dim!r} bins do not tile the strip |{dim}| < {half_width}: it needs bin edges "
            f"at ±{half_width} (e.g. cubes.axes.symmetric(half_width, 2.0) for 2 km/s cells); "
            f"the edges run {float(lo[0])} … {float(hi[-1])} in steps of {float(w[0])}")
    return idx


def in_strip(cube: xr.Dataset, dim: str = "vz", half_width: float = 10.0) -> xr.Dataset:
    """The cube of the stars with |``dim``| < ``half_width``: its strip cells summed (exact).

    Lin et al. 2023 §3.3 use the stripe |v_z| < 10 km/s (spec 000 §4.4). The ``dim`` edges
    must include ±``half_width`` (else ValueError).
    """
    idx = _strip_cells(cube, dim, half_width)
    out = marginalize(cube.isel({dim: idx}), dim)
    out.attrs["strip"] = f"|{dim}| < {half_width}"
    return out


def strip_mean(stat: xr.DataArray, dim: str = "vz", half_width: float = 10.0) -> xr.DataArray:
    """Mean of a statistic over the cells of the strip |``dim``| < ``half_width``.

    The unweighted mean over cells (spec 000 §4.4 [CHOICE]: δρ_stripe(z) is the mean of the 2-D
    δρ over the v_z cells with |v_z| < 10 km/s). A NaN cell makes the mean NaN.
    """
    idx = _strip_cells(stat, dim, half_width)
    out = stat.isel({dim: idx}).mean(dim, skipna=False)
    out.attrs = {**stat.attrs, "strip": f"|{dim}| < {half_width}"}
    return out


def density_north_south(cube: xr.Dataset, *, z: str = "z", vz: str | None = "vz",
                        vz_max: float | None = 10.0, mode: str = "difference") -> xr.DataArray:
    """North − South star density in the stripe |v_z| < ``vz_max`` (Lin et al. 2023 §3.3).

    The density is :func:`cubes.stats.density` of :func:`in_strip` (count per unit volume of
    every remaining axis, z included) divided by the strip width 2·vz_max: stars per
    (kpc · km/s · …) in the phase-space stripe. ``vz_max=None`` uses all stars (summing a
    ``vz`` axis if there is one). ``mode`` as :func:`asymmetry`; ``"literal"`` gives the
    number-count asymmetry (n_N − n_S)/(n_N + n_S), independent of the normalisation.
    (Lin et al. 2023 difference the density *contrast*: :func:`cubes.stats.contrast.
    contrast_north_south`.)
    """
    if vz_max is not None:
        sub = in_strip(cube, vz, vz_max)
    elif vz is not None and vz in cube.dims:
        sub = marginalize(cube, vz)
    else:
        sub = cube
    if z not in sub.dims:
        raise ValueError(f"density_north_south needs a {z!r} axis to fold; the cube has "
                         f"{list(cube.dims)!r}")
    d = density(sub)
    if vz_max is not None:
        vunits = cube[vz].attrs.get("units")
        d = (d / (2.0 * vz_max)).assign_attrs(
            units=product(d.attrs.get("units"), inverse(vunits)))
    d = d.rename("density").assign_attrs(
        long_name="star density" + (f" with |{vz}| < {vz_max}" if vz_max is not None else ""))
    return asymmetry(d, dim=z, mode=mode)


def median_north_south(cube: xr.Dataset, value: str = "feh", *, z: str = "z",
                       vz: str = "vz", vz_max: float | None = None, q: float = 0.5,
                       min_count: int = 3, mode: str = "difference") -> xr.DataArray:
    """Δ median(|z|) = median North − median South of ``value`` (Lin et al. 2023 §3.3).

    Spec 000 §4.5: Δ[Fe/H](|z|) on the |z| bins of the Δσ_vz profiles. The medians are read off
    the cumulative counts along the finely binned ``value`` axis (:func:`cubes.stats.quantile`,
    exact to one bin width); stars outside that axis's range are not in the cube.

    Parameters
    ----------
    value : str
        The value axis (e.g. ``"feh"`` binned with ``cubes.axes.regular(-1.5, 1.0, 0.01)``).
    vz_max : float, optional
        Use only the stripe |v_z| < vz_max. Default None: all stars (a ``vz`` axis, if any, is
        summed) — the spec's [CHOICE] for §4.5 (§7 item 14).
    q : float
        The quantile (0.5: median).
    min_count : int
        Bins with fewer stars (in a given jackknife sample) are NaN before differencing: Wang
        et al. 2025 discard bins with fewer than three stars, per hemisphere.
    mode : str
        ``"difference"`` (N − S, dex) or an asymmetry index (:func:`asymmetry`); Wang et al.
        2025's A(|Z|) is ``mode="linear"`` (or the other index modes) of the medians.
    """
    if value not in cube.dims:
        if cv.sum_name(value) in cube.data_vars:
            raise ValueError(
                f"a median of {value!r} needs {value!r} as a finely binned axis of the cube, but "
                f"it is only a summed value ({cv.sum_name(value)!r}); bin the catalog with "
                f"axes={{..., {value!r}: cubes.axes.regular(lo, hi, 0.01)}}, or use mean()")
        raise ValueError(f"a median of {value!r} needs a {value!r} axis; the cube has dims "
                         f"{list(cube.dims)!r}")
    if z not in cube.dims:
        raise ValueError(f"median_north_south needs a {z!r} axis to fold; the cube has "
                         f"{list(cube.dims)!r}")
    if vz_max is not None:
        cube = in_strip(cube, vz, vz_max)
    elif vz in cube.dims and vz != value:
        cube = marginalize(cube, vz)
    med = quantile(cube, value, q)
    n = samples(cube)[cv.COUNT].sum(value)  # stars, also in a weighted cube
    med = med.where(n >= min_count).drop_vars("quantile", errors="ignore")
    med = med.rename(f"median_{value}" if q == 0.5 else f"quantile_{value}")
    med.attrs["long_name"] = f"{'median' if q == 0.5 else f'quantile {q}'} of {value}"
    return asymmetry(med, dim=z, mode=mode)
