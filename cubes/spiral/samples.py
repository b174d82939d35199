"""The two sample schemes of Widmark et al. 2025 (spec 004 §3): which stars form each sample.

Both return the catalog with its ``selected`` mask narrowed (nothing is dropped; the engine
counts deselected stars) and the axes whose bins are the samples, ready for a z–w histogram
cube (``cubes.bin_catalog(stars, {**sample_axes, "z": ..., "w": ...})``).

- :func:`spatial_samples` (scheme A, §3.1): Sun-centred hexagons of 400 pc in heliocentric
  (X, Y) out to 4 kpc (367 cells; the paper reports 365). Cells whose centre is within 1.6 kpc
  ("nearby") keep only stars with a measured RV and clip on L_z; distant cells clip on the
  heliocentric longitudinal velocity v_l (needs no RV: l̂ ⊥ r̂). The clip is two-step: 5σ, then
  1σ about the recomputed mean (:func:`cubes.clipping.clip_per_bin`).
- :func:`phase_space_samples` (scheme B, §3.2): the hexagons within 1 kpc (19), RV required;
  in each, (v_R, v_φ) offsets from the cell's mean velocity binned in hexagons of 25 km/s
  (centred on the mean); samples with more than 4000 stars are kept. The L_z clip is not applied
  (the velocity hexagon replaces it: the spec's reading of the paper).

Units: kpc, km/s, kpc km/s.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from .. import conventions as cv
from ..axes import Hexagonal, hexagonal
from ..binning import bin_catalog, locate, lookup
from ..catalog import restrict
from ..clipping import clip_per_bin


def _need(stars: xr.Dataset, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in stars.variables]
    if missing:
        raise KeyError(f"{what} needs columns {missing!r} (from cubes.galactocentric, with "
                       "outputs including X, Y, U, V, Lz, vR, vphi); the catalog has "
                       f"{sorted(map(str, stars.data_vars))!r}")


def _has_rv(stars: xr.Dataset) -> xr.DataArray:
    """Stars with a measured RV (not one assumed by ``galactocentric(rv_fallback=True)``)."""
    has = np.isfinite(stars["radial_velocity"])
    if "rv_assumed" in stars.variables:
        has = has & ~stars["rv_assumed"].astype(bool)
    return has


def longitudinal_velocity(stars: xr.Dataset) -> xr.DataArray:
    """v_l = −U sin l + V cos l (km/s), heliocentric, with l = atan2(Y, X) (spec 004 §2.5)."""
    _need(stars, ["X", "Y", "U", "V"], "longitudinal_velocity")
    lon = np.arctan2(stars["Y"], stars["X"])
    return (-stars["U"] * np.sin(lon) + stars["V"] * np.cos(lon)).rename("v_l").assign_attrs(
        units="km / s", long_name="heliocentric longitudinal velocity")


def spatial_samples(stars: xr.Dataset, *, spacing: float = 0.4, radius: float = 4.0,
                    nearby: float = 1.6, nsigma: Sequence[float] = (5.0, 1.0)
                    ) -> tuple[xr.Dataset, dict[str, Hexagonal]]:
    """Scheme A (spec 004 §3.1): hexagonal spatial cells with the per-cell kinematic clip.

    Returns the catalog (``v_l`` added, ``selected`` narrowed, ``attrs["selections"]``
    extended) and ``{"cell": axis}``. Needs X, Y (heliocentric, kpc), U, V (km/s), Lz and
    radial_velocity; U and V of RV-less stars must be finite (``rv_fallback=True``): v_l does
    not depend on the assumed RV.
    """
    _need(stars, ["X", "Y", "U", "V", "Lz", "radial_velocity"], "spatial_samples")
    axis = hexagonal("X", "Y", spacing=spacing, radius=radius)
    cx, cy = axis.centers()
    near_cell = np.hypot(cx, cy) <= nearby * (1 + 1e-12)  # "equal to or smaller than"
    index = locate(stars, {"cell": axis})
    is_near = xr.apply_ufunc(lambda i: np.append(near_cell, False)[i], index,
                             dask="parallelized", output_dtypes=[bool])
    stars = stars.assign(v_l=longitudinal_velocity(stars))
    near = clip_per_bin(restrict(stars, is_near & _has_rv(stars)), "Lz", {"cell": axis},
                        nsigma=nsigma)
    far = clip_per_bin(restrict(stars, ~is_near & (index >= 0)), "v_l", {"cell": axis},
                       nsigma=nsigma)
    rule = (f"spatial_samples: hexagons {spacing} kpc to {radius} kpc; <= {nearby} kpc: RV "
            f"required, clip Lz {list(nsigma)}; beyond: clip v_l {list(nsigma)}")
    return restrict(stars, near[cv.SELECTED] | far[cv.SELECTED], [rule]), {"cell": axis}


def phase_space_samples(stars: xr.Dataset, *, spacing: float = 0.4, radius: float = 1.0,
                        velocity_spacing: float = 25.0, velocity_radius: float = 150.0,
                        min_stars: int = 4000
                        ) -> tuple[xr.Dataset, dict[str, Hexagonal], xr.DataArray]:
    """Scheme B (spec 004 §3.2): spatial cells within ``radius`` × velocity hexagons.

    Adds ``dvR``, ``dvphi`` (km/s: offsets from the star's cell mean) and returns the catalog
    (RV required), the axes ``{"cell": …, "vcell": …}`` and a boolean DataArray on
    (cell, vcell) marking the accepted samples (more than ``min_stars`` stars).
    """
    _need(stars, ["X", "Y", "vR", "vphi", "radial_velocity"], "phase_space_samples")
    cell = hexagonal("X", "Y", spacing=spacing, radius=radius)
    rule = (f"phase_space_samples: hexagons {spacing} kpc to {radius} kpc, RV required; "
            f"(vR, vphi) offsets in {velocity_spacing} km/s hexagons; > {min_stars} stars")
    stars = restrict(stars, _has_rv(stars), [rule])
    cell_index = locate(stars, {"cell": cell})
    means = bin_catalog(stars, {"cell": cell}, ["vR", "vphi"], replicates=0, progress=False)
    stars = stars.assign(
        dvR=stars["vR"] - lookup(means.cube.mean("vR"), cell_index),
        dvphi=stars["vphi"] - lookup(means.cube.mean("vphi"), cell_index))
    vcell = hexagonal("dvR", "dvphi", spacing=velocity_spacing, radius=velocity_radius)
    axes = {"cell": cell, "vcell": vcell}
    counts = bin_catalog(stars, axes, [], replicates=0, progress=False)["count"]
    accepted = (counts > min_stars).rename("accepted")
    accepted.attrs = {"long_name": f"sample has more than {min_stars} stars"}
    return stars, axes, accepted
