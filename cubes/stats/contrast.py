"""Phase-space density contrast δρ = n/n_G − 1 and the phase-spiral measurements of Lin et al. 2023.

- :func:`density_contrast` — δρ on the (z, v_z) grid (spec 000 §4.3), for every other cell
  (R or R_g, [Fe/H], jackknife sample) at once.
- :func:`contrast_north_south` — δρ_(N−S)(|z|) in the stripe |v_z| < 10 km/s (§4.4).
- :func:`spiral_shape` — the density peak of each of 20 angular sectors of the scaled z–v_z
  plane (§4.7, Fig. 9).
- :func:`z_intersections` — where the spiral crosses the z axis: local maxima of the stripe
  profile δρ_stripe(z), z > 0 and z < 0 separately (§4.8, the dashed lines of Figs. 6, 7).

All keep the ``replicate`` dim (error from :func:`cubes.estimate`) and work on a ``subsample``
dim from :func:`cubes.resampling.subsamples` alike (Lin et al.'s 50 × 70 % resamples of the
spiral shape: ``percentiles(spiral_shape(...), dim="subsample")``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from ..kernels import phase_space as kp
from ._chunks import core_whole
from .asymmetry import strip_mean
from .hemispheres import HEMISPHERE, _widths, north_south
from .moments import count

PHASE_DIMS = ("z", "vz")


def _check_dims(obj, dims, what):
    missing = [d for d in dims if d not in obj.dims]
    if missing:
        raise ValueError(f"{what} needs the phase-space dims {tuple(dims)!r} as axes; "
                         f"{missing!r} missing (dims: {list(obj.dims)!r})")


def _regular_step(obj, dim: str, what: str) -> float:
    c = np.asarray(obj[dim].values, dtype=np.float64)
    w = _widths(obj, dim, c)
    if w is None:
        w = np.diff(c) if c.size > 1 else np.ones(1)
    if not np.allclose(w, w[0], rtol=1e-6, atol=0):
        raise ValueError(f"{what} needs equal-width {dim!r} bins (a Gaussian kernel of a "
                         f"number of cells, or a uniform grid); the widths vary from "
                         f"{float(w.min())} to {float(w.max())}")
    return float(w[0])


def smoothed_counts(cube: xr.Dataset | xr.DataArray, dims: tuple[str, str] = PHASE_DIMS, *,
                    sigma: float | Mapping[str, float] = 3.0, mode: str = "reflect",
                    truncate: float = 4.0, cval: float = 0.0) -> xr.DataArray:
    """n_G: the counts per (z, v_z) cell smoothed by a Gaussian of ``sigma`` cells over the two
    phase-space dims only (``scipy.ndimage.gaussian_filter``), for every other cell at once;
    the denominator of :func:`density_contrast` (same parameters), e.g. to hide cells whose
    smoothed count is too small for δρ to mean anything. Returns ``smoothed_count`` (stars
    per cell)."""
    what = "smoothed_counts"
    n = count(cube) if isinstance(cube, xr.Dataset) else cube
    _check_dims(n, dims, what)
    for d in dims:
        _regular_step(n, d, what)
    sig = tuple(float(sigma[d]) if isinstance(sigma, Mapping) else float(sigma) for d in dims)
    n = core_whole(n.astype(np.float64), dims)
    ng = xr.apply_ufunc(kp.smooth, n, input_core_dims=[list(dims)],
                        output_core_dims=[list(dims)], dask="parallelized",
                        output_dtypes=[np.float64],
                        kwargs={"sigma": sig, "mode": mode, "truncate": truncate, "cval": cval})
    ng = ng.transpose(*n.dims)
    ng.attrs = {"long_name": "stars per cell, Gaussian-smoothed over the phase-space dims",
                "smoothing_sigma_cells": list(sig), "boundary_mode": mode}
    return ng.rename("smoothed_count")


def density_contrast(cube: xr.Dataset | xr.DataArray, dims: tuple[str, str] = PHASE_DIMS, *,
                     sigma: float | Mapping[str, float] = 3.0, mode: str = "reflect",
                     truncate: float = 4.0, cval: float = 0.0) -> xr.DataArray:
    """Phase-space density contrast δρ = n/n_G − 1 (Lin et al. 2023 §3.3; spec 000 §4.3).

    n is the number of stars per (z, v_z) cell (Lin et al.: Δz = 0.04 kpc, Δv_z = 2 km/s) and
    n_G is n smoothed by a Gaussian of σ_G = 3 cells (``scipy.ndimage.gaussian_filter`` over
    the two phase-space dims only, via ``xr.apply_ufunc(..., dask="parallelized")``), for
    every other cell (R or R_g, [Fe/H], replicate, subsample) at once. Smoothing is linear, so
    each jackknife sample's δρ is that of its own stars.

    Parameters
    ----------
    cube : Dataset or DataArray
        A moment cube with the two phase-space axes (its ``count`` is used), or counts.
    dims : (str, str)
        The phase-space dims (default ``("z", "vz")``); both must have equal-width bins.
    sigma : float or mapping
        Kernel σ in cells (one number for both dims, or ``{dim: cells}``).
    mode : str
        Boundary mode of ``gaussian_filter``. The paper does not say (spec §7 item 12);
        default ``"reflect"`` (scipy's default, what an unqualified ``gaussian_filter(n, 3)``
        does: the map is mirrored at its edge, so a density that is flat there has δρ ≈ 0
        rather than the spurious excess that zero padding, ``"constant"``, would give).
        Make the grid extend a few σ beyond the region analysed either way.
    truncate : float
        Kernel radius in σ (scipy's default 4).
    cval : float
        Fill value for ``mode="constant"``.

    Returns
    -------
    DataArray ``density_contrast`` (dimensionless), NaN where n_G = 0 (no star within the
    kernel's reach: δρ is undefined there). n_G itself: :func:`smoothed_counts`.
    """
    n = count(cube) if isinstance(cube, xr.Dataset) else cube
    ng = smoothed_counts(n, dims, sigma=sigma, mode=mode, truncate=truncate, cval=cval)
    out = n.astype(np.float64) / ng.where(ng > 0) - 1.0
    out.attrs = {"long_name": "phase-space density contrast n / n_G − 1",
                 "units": "", "smoothing_sigma_cells": ng.attrs["smoothing_sigma_cells"],
                 "boundary_mode": mode}
    return out.rename("density_contrast")


def _as_contrast(obj, z: str, vz: str) -> xr.DataArray:
    return density_contrast(obj, (z, vz)) if isinstance(obj, xr.Dataset) else obj


def contrast_north_south(contrast: xr.DataArray | xr.Dataset, *, z: str = "z",
                         vz: str = "vz", vz_max: float = 10.0) -> xr.DataArray:
    """δρ_(N−S)(|z|) = δρ_stripe(+|z|) − δρ_stripe(−|z|) (Lin et al. 2023 §3.3, Fig. 7).

    δρ_stripe(z) is the mean of the 2-D δρ over the v_z cells of |v_z| < ``vz_max`` (spec 000
    §4.4 [CHOICE]); its |z| bins are the z cells of the map, so build the cube with the
    Δσ_vz bins (Δz = 0.05 kpc, symmetric about 0) and Δv_z = 2 km/s to pair the two profiles
    (the spec's recommendation; the 0.04 kpc grid of Figs. 6, 9 does not fold onto 0.05 kpc
    bins). A cube is first turned into δρ with :func:`density_contrast`'s defaults.
    """
    c = _as_contrast(contrast, z, vz)
    stripe = strip_mean(c, vz, vz_max)
    return north_south(stripe.rename("density_contrast_stripe"), z)


def spiral_shape(contrast: xr.DataArray | xr.Dataset, *, z: str = "z", vz: str = "vz",
                 sectors: int = 20, z_scale: float = 1.0, vz_scale: float = 55.0,
                 r_width: float = 0.04, r_min: float = 0.25, r_max: float | None = None,
                 theta_start: float = 90.0) -> xr.Dataset:
    """Density peak per angular sector of the scaled z–v_z plane (Lin et al. 2023 §3.4, Fig. 9).

    Spec 000 §4.7: each (z, v_z) cell centre goes to polar coordinates of the scaled plane,
    r = √((z/z_scale)² + (v_z/vz_scale)²) and θ = atan2(v_z/vz_scale, z/z_scale) taken in
    [theta_start, theta_start + 360°) (default [90°, 450°), the paper's [π/2, 5π/2]); θ is cut
    into ``sectors`` equal sectors and r, from ``r_min``, into bins of ``r_width``. The mean δρ
    of the cells in each (sector, r bin) is formed (NaN cells skipped), and the r bin with the
    largest mean is the sector's peak. The peak is placed at the r-bin centre on the sector's
    central angle: z = r cos θ · z_scale, v_z = r sin θ · vz_scale.

    Choices (spec §7 item 15): θ measured from +z towards +v_z; the central region
    r < ``r_min`` = 0.25 is excluded (the spec suggests 0.2–0.3); ``r_max`` (default: the grid's
    largest r) bounds the search; cells are assigned by their centres.

    Returns
    -------
    Dataset on a ``theta`` dim (sector centres, degrees) with ``r`` (scaled, dimensionless),
    ``z`` (kpc), ``vz`` (km/s) of the peak and ``contrast`` (its mean δρ); NaN for a sector with
    no finite cell. Other dims (replicate, subsample, R_g, [Fe/H] …) are kept. The argmax is a
    step function of the data: its jackknife error is coarse (multiples of ``r_width``); Lin
    et al. use 50 × 70 % resamples (:func:`cubes.resampling.subsamples`).
    """
    c = _as_contrast(contrast, z, vz)
    _check_dims(c, (z, vz), "spiral_shape")
    if sectors < 1 or not r_width > 0 or r_min < 0:
        raise ValueError(f"spiral_shape needs sectors >= 1, r_width > 0 and r_min >= 0; got "
                         f"{sectors!r}, {r_width!r}, {r_min!r}")
    zz, vv = np.meshgrid(np.asarray(c[z].values, np.float64) / z_scale,
                         np.asarray(c[vz].values, np.float64) / vz_scale, indexing="ij")
    r = np.hypot(zz, vv).ravel()
    t0 = np.deg2rad(theta_start)
    theta = np.mod(np.arctan2(vv, zz).ravel() - t0, 2 * np.pi)
    dtheta = 2 * np.pi / sectors
    sector = np.minimum((theta // dtheta).astype(np.int64), sectors - 1)
    top = float(r.max()) if r_max is None else float(r_max)
    nr = max(int(np.ceil((top - r_min) / r_width - 1e-9)), 1)
    rbin = np.floor((r - r_min) / r_width).astype(np.int64)
    keep = (r >= r_min) & (rbin < nr)
    labels = np.where(keep, sector * nr + rbin, -1)
    stacked = core_whole(c, (z, vz)).stack(_cell=(z, vz))
    # a non-dim coordinate already called theta (e.g. a scalar azimuth left by .sel) would
    # collide with the output's sector dim: it is dropped
    stacked = stacked.drop_vars([n for n in ("_cell", z, vz, "theta") if n in stacked.coords])
    centres = np.rad2deg(t0 + dtheta * (np.arange(sectors) + 0.5))
    rb, peak = xr.apply_ufunc(
        kp.sector_peaks, stacked, input_core_dims=[["_cell"]],
        output_core_dims=[["theta"], ["theta"]], dask="parallelized",
        output_dtypes=[np.float64, np.float64],
        kwargs={"labels": labels, "nsector": sectors, "nr": nr},
        dask_gufunc_kwargs={"output_sizes": {"theta": sectors}})
    theta_c = xr.DataArray(centres, dims="theta")
    rr = r_min + (rb + 0.5) * r_width
    zu, vu = c[z].attrs.get("units"), c[vz].attrs.get("units")
    out = xr.Dataset({
        "r": rr.assign_attrs(long_name="r of the sector's density peak (scaled plane)",
                             units=""),
        "z": (rr * np.cos(np.deg2rad(theta_c)) * z_scale).assign_attrs(
            long_name=f"{z} of the sector's density peak", **({"units": zu} if zu else {})),
        "vz": (rr * np.sin(np.deg2rad(theta_c)) * vz_scale).assign_attrs(
            long_name=f"{vz} of the sector's density peak", **({"units": vu} if vu else {})),
        "contrast": peak.assign_attrs(long_name="mean density contrast at the peak", units=""),
    })
    out = out.assign_coords(theta=("theta", centres, {
        "long_name": "sector centre angle atan2(vz/vz_scale, z/z_scale)", "units": "deg"}))
    return out.assign_attrs(sectors=sectors, z_scale=z_scale, vz_scale=vz_scale,
                            r_width=r_width, r_min=r_min, r_max=top,
                            theta_start=theta_start)


def z_intersections(contrast: xr.DataArray | xr.Dataset, *, z: str = "z", vz: str = "vz",
                    vz_max: float = 10.0, n: int = 2, min_contrast: float = 0.0,
                    refine: bool = True, z_min: float = 0.0) -> xr.DataArray:
    """Heights where the phase spiral crosses the z axis (Lin et al. 2023 Figs. 6, 7; §4.8).

    The paper gives no algorithm; the spec's [CHOICE]: local maxima of the stripe profile
    δρ_stripe(z) (mean δρ over |v_z| < ``vz_max``), z > 0 and z < 0 separately. A maximum is a
    cell above both neighbours (a flat top once) with δρ_stripe > ``min_contrast`` (0: an
    overdensity); with ``refine`` it is placed at the vertex of the parabola through it and
    its neighbours (sub-cell, so its jackknife error is not stuck on the grid), else at the
    cell centre. The ``n`` maxima nearest the plane are kept in each hemisphere; cells with
    |z| < ``z_min`` are not candidates (e.g. the smoothing's peak at the origin of a strongly
    perturbed plane).

    ``contrast`` is δρ on (z, v_z) (or a cube, turned into it), or a stripe profile already
    without a ``vz`` dim.

    Returns
    -------
    DataArray ``z_intersection`` (z's units) with dims (…, hemisphere, peak): "north" holds
    z > 0 in increasing z, "south" z < 0 in decreasing z; NaN where fewer maxima exist.
    """
    c = _as_contrast(contrast, z, vz)
    stripe = strip_mean(c, vz, vz_max) if vz in c.dims else c
    if z not in stripe.dims:
        raise ValueError(f"z_intersections needs a {z!r} axis; dims: {list(stripe.dims)!r}")
    _regular_step(stripe, z, "z_intersections")
    if n < 1:
        raise ValueError(f"z_intersections needs n >= 1, got {n!r}")
    out = xr.apply_ufunc(
        kp.local_maxima, core_whole(stripe, (z,)), input_core_dims=[[z]],
        output_core_dims=[[HEMISPHERE, "peak"]], dask="parallelized",
        output_dtypes=[np.float64],
        kwargs={"coord": np.asarray(stripe[z].values, np.float64), "n": n,
                "min_value": min_contrast, "refine": refine, "min_abs_coord": float(z_min)},
        dask_gufunc_kwargs={"output_sizes": {HEMISPHERE: 2, "peak": n}})
    out = out.assign_coords({HEMISPHERE: ["north", "south"], "peak": np.arange(n)})
    zu = stripe[z].attrs.get("units")
    out.attrs = {"long_name": f"{z} of the spiral's crossings of the {z} axis "
                              f"(maxima of the |{vz}| < {vz_max} stripe)",
                 **({"units": zu} if zu else {})}
    return out.rename("z_intersection")
