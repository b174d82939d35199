"""Figures: labelled axes with units, error bars, readable at a glance.

Functions take statistics (Datasets from :func:`cubes.estimate`), never cubes or files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

NORTH_COLOR, SOUTH_COLOR = "tab:blue", "tab:red"


def _units(da: xr.DataArray) -> str:
    u = da.attrs.get("units")
    return f" [{u}]" if u else ""


def north_south_profiles(folded: xr.Dataset, difference: xr.Dataset, name: str, *,
                         panel_dim: str | None = None,
                         truth: Callable[[np.ndarray], np.ndarray] | xr.DataArray | None = None,
                         title: str = "") -> plt.Figure:
    """σ(|z|) North and South with jackknife error bars, and North − South below.

    Parameters
    ----------
    folded : Dataset
        ``estimate`` of a statistic folded with :func:`cubes.stats.fold` (dims hemisphere,
        abs_z and optionally ``panel_dim``), with ``name`` and ``name_error``.
    difference : Dataset
        ``estimate`` of :func:`cubes.stats.north_south` of the same statistic.
    panel_dim : str, optional
        A dim drawn as one column of panels per bin (e.g. R).
    truth : callable or DataArray, optional
        Known truth (mocks), drawn as dashed lines: a function σ(|z|), or values on the same
        dims as ``folded`` (``abs_*``, and ``panel_dim`` and ``hemisphere`` when present; one
        line per hemisphere in its colour).
    """
    abs_dim = next(d for d in folded[name].dims if str(d).startswith("abs_"))
    panels = [None] if panel_dim is None else list(folded[panel_dim].values)
    fig, axes = plt.subplots(2, len(panels), figsize=(4.2 * len(panels) + 0.6, 6.2),
                             sharex=True, sharey="row", squeeze=False,
                             gridspec_kw={"height_ratios": [2.2, 1]})
    zunits = _units(folded[abs_dim])
    label = folded[name].attrs.get("long_name", name)
    for j, p in enumerate(panels):
        sel = {} if p is None else {panel_dim: p}
        top, bottom = axes[0, j], axes[1, j]
        for hemi, color, marker in (("north", NORTH_COLOR, "o"), ("south", SOUTH_COLOR, "s")):
            f = folded.sel(hemisphere=hemi, **sel)
            f = f.where(np.isfinite(f[f"{name}_error"]))  # no error bar: not drawn
            sign = ">" if hemi == "north" else "<"
            top.errorbar(f[abs_dim], f[name], yerr=f[f"{name}_error"], fmt=marker, ms=3.5,
                         color=color, capsize=2, lw=1, label=f"{hemi.capitalize()} (z {sign} 0)")
        if isinstance(truth, xr.DataArray):
            t = truth.sel({k: v for k, v in sel.items() if k in truth.dims})
            for hemi, color in (("north", NORTH_COLOR), ("south", SOUTH_COLOR)):
                th = t.sel(hemisphere=hemi) if "hemisphere" in t.dims else t
                top.plot(th[abs_dim], th, color=color, lw=1.0, ls="--", alpha=0.8,
                         label=f"truth, {hemi} (mock)" if "hemisphere" in t.dims else None)
                if "hemisphere" not in t.dims:
                    top.lines[-1].set(color="k", label="truth (mock)")
                    break
        elif truth is not None:
            zz = np.linspace(0, float(folded[abs_dim].max()), 200)
            top.plot(zz, truth(zz), color="k", lw=1.2, ls="--", label="truth (mock)")
        dname = next(v for v in difference.data_vars if not str(v).endswith("_error"))
        d = difference.sel(**sel)
        d = d.where(np.isfinite(d[f"{dname}_error"]))
        bottom.errorbar(d[abs_dim], d[dname], yerr=d[f"{dname}_error"], fmt="o", ms=3.5,
                        color="k", capsize=2, lw=1)
        bottom.axhline(0, color="0.5", lw=0.8)
        if p is not None:
            top.set_title(_range_label(folded, panel_dim, p))
        bottom.set_xlabel(f"|{abs_dim[4:]}|{zunits}")
        top.grid(alpha=0.3)
        bottom.grid(alpha=0.3)
    axes[0, 0].set_ylabel(f"{label}{_units(folded[name])}")
    axes[1, 0].set_ylabel(f"North − South{_units(folded[name])}")
    axes[0, 0].legend(loc="upper left", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _range_label(ds: xr.Dataset, dim: str, value) -> str:
    """'R: 8–9 kpc' for a binned dim's bin centred at ``value`` (from its width coordinate;
    'R: 8.5 kpc' without one)."""
    w = ds.coords.get(f"{dim}_width")
    units = ds[dim].attrs.get("units", "")
    if w is None:
        return f"{dim}: {value:g} {units}".strip()
    half = float(w.sel({dim: value})) / 2
    return f"{dim}: {value - half:g}–{value + half:g} {units}".strip()


def difference_profiles(rows: Mapping[str, xr.Dataset], name: str, *,
                        hue_dim: str | Mapping[str, str] | None = None,
                        col_dim: str | Mapping[str, str] | None = None,
                        title: str = "") -> plt.Figure:
    """North − South profiles (``name`` ± ``name_error`` along an ``abs_*`` dim).

    One row of panels per entry of ``rows``; within a row, one column per bin of ``col_dim``
    and one coloured line per bin of ``hue_dim`` (either may differ per row: pass a mapping
    row label → dim).
    """
    def dim_of(spec, label):
        return spec.get(label) if isinstance(spec, Mapping) else spec

    labels = list(rows)
    ncol = max(1 if dim_of(col_dim, lab) is None else rows[lab].sizes[dim_of(col_dim, lab)]
               for lab in labels)
    fig, axes = plt.subplots(len(labels), ncol,
                             figsize=(max(4.4 * ncol + 0.6, 7.0), 3.0 * len(labels)),
                             sharex=True, sharey="row", squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, lab in enumerate(labels):
        ds, cdim, hdim = rows[lab], dim_of(col_dim, lab), dim_of(hue_dim, lab)
        abs_dim = next(d for d in ds[name].dims if str(d).startswith("abs_"))
        cols = [None] if cdim is None else list(ds[cdim].values)
        for j, c in enumerate(cols):
            ax = axes[i, j]
            sub = ds if c is None else ds.sel({cdim: c})
            hues = [None] if hdim is None else list(sub[hdim].values)
            for k, h in enumerate(hues):
                s = sub if h is None else sub.sel({hdim: h})
                s = s.where(np.isfinite(s[f"{name}_error"]))  # no error bar: not drawn
                ax.errorbar(s[abs_dim], s[name], yerr=s[f"{name}_error"], fmt="o-", ms=3,
                            lw=0.9, capsize=2, color=colors[k % len(colors)],
                            label=None if h is None else _range_label(sub, hdim, h))
            ax.axhline(0, color="0.5", lw=0.8)
            ax.grid(alpha=0.3)
            head = lab if c is None else f"{lab} — {_range_label(ds, cdim, c)}"
            ax.set_title(head, fontsize=9)
            if hdim is not None and j == 0:
                ax.legend(fontsize=7, loc="best")
            if i == len(labels) - 1:
                ax.set_xlabel(f"|{abs_dim[4:]}|{_units(ds[abs_dim])}")
        axes[i, 0].set_ylabel(f"North − South{_units(ds[name])}")
        for j in range(len(cols), ncol):
            axes[i, j].set_visible(False)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def phase_maps(est: xr.Dataset, name: str, *, panel_dim: str, x: str = "z", y: str = "vz",
               limit: float | None = None, title: str = "") -> plt.Figure:
    """Maps of a phase-space statistic (e.g. δρ) on (``x``, ``y``), one panel per bin of
    ``panel_dim``, on a symmetric diverging colour scale with a colour bar."""
    panels = list(est[panel_dim].values)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.0 * len(panels) + 1.2, 3.8),
                             sharey=True, squeeze=False, constrained_layout=True)
    v = est[name]
    if limit is None:
        finite = np.abs(v.values[np.isfinite(v.values)])
        limit = float(np.percentile(finite, 99)) if finite.size else 1.0
    mesh = None
    for j, p in enumerate(panels):
        ax = axes[0, j]
        m = v.sel({panel_dim: p}).transpose(y, x)
        mesh = ax.pcolormesh(est[x], est[y], m, cmap="RdBu_r", vmin=-limit, vmax=limit,
                             shading="nearest")
        ax.set_title(_range_label(est, panel_dim, p), fontsize=10)
        ax.set_xlabel(f"{x}{_units(est[x])}")
    axes[0, 0].set_ylabel(f"{y}{_units(est[y])}")
    label = v.attrs.get("long_name", name)
    fig.colorbar(mesh, ax=axes[0, :].tolist(), label=f"{label}{_units(v)}", shrink=0.9)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
