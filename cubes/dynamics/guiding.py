"""Guiding radius R_g of stars in a galpy potential or a linear rotation curve.

The guiding radius R_g of a star with angular momentum L_z is the radius of the circular orbit
with the same L_z: R_g v_c(R_g) = L_z (galpy's ``rl``; Lin et al. 2023 §2.3 with
MWPotential2014). galpy solves it star by star with a root finder; here L_c(R) = R v_c(R) is
tabulated once per potential on a fine logarithmic grid and inverted by interpolation
(vectorised: millions of stars per second, within 1e-7 of ``rl``). Widmark et al. 2025 (§1.6)
use a linear rotation curve instead, which has a closed form (:func:`guiding_radius_linear`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import xarray as xr

from ._support import evaluate, galpy_potential, natural_units

#: the tabulation grid: radii from 1e-3 to 1e3 kpc (log-spaced), 60 001 points
_GRID = np.geomspace(1e-3, 1e3, 60_001)


@lru_cache(maxsize=16)
def _lc_table(potential: str, ro: float, vo: float) -> tuple[np.ndarray, np.ndarray]:
    """(L_c, R) of circular orbits in a galpy potential (kpc km/s, kpc): v_c² = −R F_R(R, 0),
    galpy's ``vcirc``."""
    pot = galpy_potential(potential)
    vc = np.sqrt(-_GRID / ro * evaluate(pot, "Rforce", _GRID / ro, 0.0)) * vo
    lc = _GRID * vc
    if np.any(np.diff(lc) <= 0):
        raise ValueError(f"L_c(R) of {potential} is not increasing on the grid: the guiding "
                         "radius is not unique")
    return lc, _GRID


def guiding_radius(Lz, *, potential: str = "MWPotential2014", ro: float | None = None,
                   vo: float | None = None):
    """Guiding radius R_g (kpc) from L_z (kpc km/s) in a galpy potential.

    Parameters
    ----------
    Lz : array-like or xr.DataArray (numpy or dask)
        Angular momentum, kpc km/s (positive along rotation, as from
        :func:`cubes.galactocentric`).
    potential : str
        A galpy potential by name (``galpy.potential`` or ``galpy.potential.mwpotentials``;
        default MWPotential2014, as Lin+2023).
    ro, vo : float, optional
        galpy's natural units, kpc and km/s, for a potential in natural units
        (MWPotential2014; default 8 kpc, 220 km/s). Use the frame's R0 and vc so that R_g is
        consistent with the velocities (Lin+2023 spec §2.3: otherwise R_g is biased by the
        ratio of the two circular speeds). A model defined in physical units (McMillan17,
        Irrgang13I) uses its own; giving others raises ValueError
        (:func:`cubes.dynamics.natural_units`).

    Returns
    -------
    Same type as ``Lz``: NaN where L_z ≤ 0 or outside the tabulated 1e-3–1e3 kpc range.
    """
    ro, vo = natural_units(potential, ro, vo)
    lc, radius = _lc_table(potential, ro, vo)

    def invert(lz):
        lz = np.asarray(lz, dtype=np.float64)
        # interpolate ln R against ln L_c: the curve is smooth there, so the grid is ample
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.exp(np.interp(np.log(lz), np.log(lc), np.log(radius),
                                   left=np.nan, right=np.nan))
        return np.where(lz > 0, out, np.nan)

    if isinstance(Lz, xr.DataArray):
        out = xr.apply_ufunc(invert, Lz, dask="parallelized", output_dtypes=[np.float64])
        return out.rename("Rg").assign_attrs(
            units="kpc", long_name=f"guiding radius in {potential} (ro={ro}, vo={vo})")
    return invert(Lz)


def guiding_radius_linear(Lz, *, vc0: float, R0: float, slope: float = 0.0):
    """Guiding radius (kpc) for the linear rotation curve v_c(R) = vc0 + slope (R − R0).

    Widmark et al. 2025 Eq. 14: R_g solves slope R² + b0 R − L_z = 0 with b0 = vc0 − slope R0;
    it reduces to L_z / vc0 for a flat curve. Units: L_z in kpc km/s, vc0 in km/s, R0 in kpc,
    slope in km/s/kpc.
    """
    b0 = vc0 - slope * R0
    lz = np.asarray(Lz, dtype=np.float64) if not isinstance(Lz, xr.DataArray) else Lz
    if slope == 0.0:
        return lz / vc0
    # the root that tends to Lz/b0 as slope → 0, written to avoid cancellation
    return 2.0 * lz / (b0 + np.sqrt(b0 * b0 + 4.0 * slope * lz))
