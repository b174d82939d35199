"""North and South: fold a symmetric axis onto its absolute value.

``fold`` maps bins at +|z| and −|z| onto one ``abs_z`` dim with a ``hemisphere`` dim
("north": z > 0, "south": z < 0); ``north_south`` is North − South (Lin et al. 2023 §4:
Δσ_vz(|z|) = σ_N − σ_S). Folding a cube (sums) and then summing over ``hemisphere`` gives the
exact cube on |z|; folding a statistic pairs its values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .. import conventions as cv

HEMISPHERE = "hemisphere"


def _widths(obj, dim: str, centres: np.ndarray) -> np.ndarray | None:
    """Bin widths along ``dim`` without computing anything lazy.

    From the axis edges recorded on the centre coordinate (``attrs["edges"]``, which survive
    slicing because each centre is looked up in them), else from an in-memory width coordinate.
    """
    edges = obj[dim].attrs.get("edges")
    if edges is not None:
        e = np.asarray(edges, dtype=np.float64)
        i = np.clip(np.searchsorted(e, centres, side="right") - 1, 0, e.size - 2)
        return e[i + 1] - e[i]
    wname = cv.width_name(dim)
    if wname in obj.coords and isinstance(obj[wname].data, np.ndarray):
        return np.asarray(obj[wname].data)
    return None


def _check_foldable(obj: xr.Dataset | xr.DataArray, dim: str) -> int:
    if dim not in obj.dims:
        raise ValueError(f"cannot fold: no {dim!r} dim to fold (dims: {list(obj.dims)!r})")
    if dim not in obj.coords:
        raise ValueError(f"cannot fold {dim!r}: it has no bin-centre coordinate")
    c = np.asarray(obj[dim].values, dtype=np.float64)
    n = c.size
    scale = np.abs(c).max() if n else 1.0
    tol = 1e-9 * scale
    widths = _widths(obj, dim, c)
    why = None
    if n % 2:
        why = f"it has an odd number of bins ({n}), so one bin straddles 0"
    elif np.any(np.diff(c) <= 0):
        why = "its bin centres are not increasing"
    elif not np.allclose(c, -c[::-1], rtol=0, atol=tol):
        why = f"its bin centres are not mirror-symmetric about 0 ({c!r})"
    elif widths is not None and not np.allclose(widths, widths[::-1], rtol=0, atol=tol):
        why = "its bin widths are not mirror-symmetric about 0"
    if why:
        raise ValueError(f"cannot fold {dim!r} onto |{dim}|: {why}; bin it with "
                         f"cubes.axes.symmetric(half_width, step)")
    return n // 2


def fold(obj: xr.Dataset | xr.DataArray, dim: str = "z") -> xr.Dataset | xr.DataArray:
    """Fold ``dim`` onto ``abs_<dim>`` with a ``hemisphere`` dim ("north", "south").

    Coordinates along ``dim`` (``z_bounds``, ``z_width`` …) become those of the North half
    (``abs_z_bounds`` …), which are the |z| bins. Lazy inputs stay lazy.
    """
    half = _check_foldable(obj, dim)
    new = f"abs_{dim}"
    along = [str(n) for n, v in obj.coords.items() if dim in v.dims]
    north = obj.isel({dim: slice(half, None)})
    south = obj.isel({dim: slice(half - 1, None, -1)}).drop_vars(along)
    coords = {}
    for n in along:
        v = north[n].variable
        attrs = dict(v.attrs)
        if n == dim:
            attrs["long_name"] = f"|{dim}|"
            if "edges" in attrs:
                attrs["edges"] = [e for e in attrs["edges"] if e >= 0]
        if "bounds" in attrs:
            attrs["bounds"] = cv.bounds_name(new)
        name = new + n[len(dim):] if n.startswith(dim) else n
        coords[name] = xr.Variable(tuple(new if d == dim else d for d in v.dims), v.data, attrs)
    north = north.drop_vars(along)
    out = xr.concat([north, south], dim=pd.Index(["north", "south"], name=HEMISPHERE),
                    coords="minimal", compat="override", combine_attrs="override")
    out = out.rename({dim: new}).assign_coords(coords)
    out[HEMISPHERE].attrs = {"long_name": "hemisphere", "description": f"north: {dim} > 0"}
    return out


def north_south(stat: xr.DataArray | xr.Dataset, dim: str = "z") -> xr.DataArray | xr.Dataset:
    """North − South of a statistic on a symmetric ``dim``, as a function of ``abs_<dim>``."""
    f = fold(stat, dim)
    out = f.sel({HEMISPHERE: "north"}, drop=True) - f.sel({HEMISPHERE: "south"}, drop=True)
    if isinstance(out, xr.DataArray):
        name = f"{stat.name}_north_minus_south" if stat.name else "north_minus_south"
        out = out.rename(name)
        out.attrs = {"long_name": f"North − South of {stat.attrs.get('long_name', stat.name)}",
                     **{k: v for k, v in stat.attrs.items() if k == "units"}}
    return out
