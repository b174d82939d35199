"""Observing a mock: Galactocentric phase space → Gaia astrometry with Gaia DR3 errors.

:func:`astrometry` is the inverse of :func:`cubes.galactocentric` with the same astropy matrices
(:func:`cubes.frames.frame_matrices`): r_ICRS = Aᵀ(r − offset), v_ICRS = Aᵀ(v − v_sun), then
spherical (ra, dec, distance) and their rates (pmra = μ_α* , pmdec, radial_velocity).

:func:`gaia_dr3_errors` takes the uncertainties from pygaia's Gaia (E)DR3 performance model:
sky-averaged parallax and proper-motion errors as functions of G, and the radial-velocity error
of Katz et al. 2022 as a function of G_RVS, Teff and logg (NaN where DR3 has no RV: G_RVS > 14
or σ_RV > 20 km/s). pmra and pmdec errors are taken uncorrelated (pmra_pmdec_corr = 0).

Units: kpc, km/s, deg, mas, mas/yr, mag.
"""

from __future__ import annotations

import numpy as np

from ..frames import Frame, frame_matrices


def astrometry(x, y, z, vx, vy, vz, frame: Frame) -> dict[str, np.ndarray]:
    """ra, dec (deg), distance (kpc), parallax (mas), pmra, pmdec (mas/yr), radial_velocity (km/s)
    of stars at Galactocentric (x, y, z) kpc moving with (vx, vy, vz) km/s in ``frame``."""
    m = frame_matrices(frame)
    At = m["A"].T  # A is a rotation: its inverse is its transpose
    r = np.stack([np.asarray(c, dtype=np.float64) for c in (x, y, z)]) - m["offset"][:, None]
    v = np.stack([np.asarray(c, dtype=np.float64) for c in (vx, vy, vz)]) - m["vsun"][:, None]
    rx, ry, rz = At @ r
    ux, uy, uz = At @ v
    rho2 = rx * rx + ry * ry
    rho = np.sqrt(rho2)
    d = np.sqrt(rho2 + rz * rz)
    ra = np.degrees(np.arctan2(ry, rx)) % 360.0
    dec = np.degrees(np.arctan2(rz, rho))
    rv = (rx * ux + ry * uy + rz * uz) / d
    k = m["k"]  # km/s per (mas/yr kpc)
    pmra = (rx * uy - ry * ux) / rho / d / k  # μ_α cos δ
    pmdec = (uz * rho2 - rz * (rx * ux + ry * uy)) / rho / (d * d) / k
    return {"ra": ra, "dec": dec, "distance": d, "parallax": 1.0 / d, "pmra": pmra,
            "pmdec": pmdec, "radial_velocity": rv}


def g_minus_grvs(teff) -> np.ndarray:
    """A simple colour term G − G_RVS (mag) as a function of Teff (K): 0.76 at 5000 K, 1.16 at
    4000 K, 0.39 at 6500 K, 0 for hot stars (≥ 9300 K). A mock's approximation, not a fit."""
    teff = np.asarray(teff, dtype=np.float64)
    return np.clip(0.2 + 1.6 * (5000.0 / teff - 0.65), 0.0, 1.5)


def gaia_dr3_errors(g, teff, logg) -> dict[str, np.ndarray]:
    """Gaia DR3 uncertainties from pygaia: parallax_error (mas), pmra_error, pmdec_error (mas/yr)
    from G; radial_velocity_error (km/s) from G_RVS = G − :func:`g_minus_grvs`, Teff and logg
    (NaN where DR3 has no RV)."""
    from pygaia.errors.astrometric import parallax_uncertainty, proper_motion_uncertainty
    from pygaia.errors.spectroscopic import radial_velocity_uncertainty

    g = np.asarray(g, dtype=np.float64)
    s_plx = parallax_uncertainty(g, release="dr3") / 1000.0  # µas → mas
    s_pmra, s_pmdec = (s / 1000.0 for s in proper_motion_uncertainty(g, release="dr3"))
    grvs = g - g_minus_grvs(teff)
    # pygaia's RV model is defined on 3100 ≤ Teff ≤ 14500 K and 1 ≤ logg ≤ 5.5 (NaN outside)
    s_rv = radial_velocity_uncertainty(grvs, np.clip(teff, 3100.0, 14500.0),
                                       np.clip(logg, 1.0, 5.5), release="dr3")
    return {"parallax_error": s_plx, "pmra_error": np.asarray(s_pmra),
            "pmdec_error": np.asarray(s_pmdec), "radial_velocity_error": np.asarray(s_rv)}


def add_noise(rng: np.random.Generator, true: dict[str, np.ndarray],
              errors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Observed values: true + N(0, σ) for each ``<name>_error`` in ``errors``; NaN where σ is
    NaN (no measurement)."""
    out = {}
    for name, sigma in errors.items():
        value = name.removesuffix("_error")
        out[value] = true[value] + rng.standard_normal(sigma.shape) * sigma
    return out
