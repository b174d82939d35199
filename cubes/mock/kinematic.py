"""Mock catalogs with known truth.

:func:`disk` is an *equilibrium* disk made of vertically isothermal populations in one vertical
potential, so every feature in it is one that was put there. Each population k has a vertical
dispersion σ_k, independent of height, and in the potential

    Φ(z) = A ln cosh(z / z_s)

its density is exactly ρ_k(z) ∝ exp(−Φ/σ_k²) = sech(z/z_s)^(A/σ_k²) (isothermal equilibrium).
The mixture's dispersion profile is therefore known in closed form:

    σ_vz²(z) = Σ_k f_k n_k(z) σ_k² / Σ_k f_k n_k(z),
    n_k(z) = sech^{a_k}(z/z_s) / (z_s B(a_k/2, 1/2))

with a_k = A/σ_k² and f_k the population fractions. Radii follow an exponential disk, [Fe/H]
has a radial gradient and a per-population offset, and observed velocities carry Gaia-like
errors that grow with magnitude. Columns are Galactocentric (kpc, km/s, deg) in the library's
convention (DESIGN.md: z > 0 North, φ = 0 at the Sun, increasing with rotation).

This is the kinematic mock used by ``cubes demo``; the Gaia-observable mock (astrometry, pygaia
errors, injected N–S asymmetries and phase spirals) builds on it in the frames/mocks issue.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import dask
import dask.array as da
import numpy as np
import xarray as xr
from scipy.special import beta as beta_fn

from .. import conventions as cv


@dataclass(frozen=True)
class Population:
    """One isothermal population (fraction of stars, σ_z in km/s, mean [Fe/H] at R0, age Gyr)."""

    fraction: float
    sigma_z: float
    feh0: float
    age: float


DEFAULT_POPULATIONS = (
    Population(0.55, 14.0, 0.05, 2.0),
    Population(0.30, 24.0, -0.15, 6.0),
    Population(0.15, 42.0, -0.50, 10.0),
)
POTENTIAL_A = 35.0**2  # (km/s)^2
POTENTIAL_ZS = 0.6  # kpc
R0 = 8.2  # kpc, the Sun's radius used for the radial gradient's zero point
FEH_GRADIENT = -0.06  # dex/kpc


def _exponents(pops, a=POTENTIAL_A):
    return np.array([a / p.sigma_z**2 for p in pops])


def vertical_density(z: np.ndarray, pops=DEFAULT_POPULATIONS, a=POTENTIAL_A,
                     zs=POTENTIAL_ZS) -> np.ndarray:
    """Normalised vertical densities n_k(z) (kpc⁻¹), shape (len(pops), *z.shape)."""
    z = np.asarray(z, dtype=np.float64)
    ak = _exponents(pops, a).reshape((-1,) + (1,) * z.ndim)
    norm = zs * beta_fn(ak / 2, 0.5)
    return np.cosh(z / zs) ** (-ak) / norm


def sigma_vz_truth(z: np.ndarray, pops=DEFAULT_POPULATIONS, a=POTENTIAL_A,
                   zs=POTENTIAL_ZS) -> np.ndarray:
    """True σ_vz(z) (km/s) of the population mixture (closed form; see the module docstring)."""
    n = vertical_density(z, pops, a, zs)
    f = np.array([p.fraction for p in pops]).reshape((-1,) + (1,) * np.ndim(z))
    s2 = np.array([p.sigma_z**2 for p in pops]).reshape(f.shape)
    return np.sqrt((f * n * s2).sum(0) / (f * n).sum(0))


def _sample_z(rng, a_k: float, zs: float, size: int) -> np.ndarray:
    # inverse CDF of sech^a(z/zs), tabulated: exact to the grid's interpolation (~1e-6 kpc)
    u = np.linspace(-12.0, 12.0, 20001)
    pdf = np.cosh(u) ** (-a_k)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(u))])
    cdf /= cdf[-1]
    return zs * np.interp(rng.random(size), cdf, u)


def _sample_radius(rng, size, scale=2.6, rmin=4.0, rmax=14.0):
    out = np.empty(0)
    while out.size < size:  # Σ(R) R dR ∝ R exp(-R/h): a Gamma(2, h), truncated
        r = rng.gamma(2.0, scale, 2 * size)
        out = np.concatenate([out, r[(r >= rmin) & (r <= rmax)]])
    return out[:size]


def _chunk(seed: int, index: int, size: int, row0: int, pops, phi_max: float) -> dict:
    rng = np.random.default_rng([seed, index])
    frac = np.array([p.fraction for p in pops])
    k = rng.choice(len(pops), size=size, p=frac / frac.sum())
    a_k = _exponents(pops)
    z = np.empty(size)
    vz = np.empty(size)
    for i, p in enumerate(pops):
        sel = k == i
        z[sel] = _sample_z(rng, a_k[i], POTENTIAL_ZS, sel.sum())
        vz[sel] = rng.normal(0.0, p.sigma_z, sel.sum())
    sz = np.array([p.sigma_z for p in pops])[k]
    R = _sample_radius(rng, size)
    phi = rng.uniform(-phi_max, phi_max, size)
    vR = rng.normal(0.0, 1.8 * sz)
    vphi = 230.0 - (1.8 * sz) ** 2 / 80.0 + rng.normal(0.0, 1.3 * sz)
    G = rng.uniform(8.0, 17.5, size)  # a Gaia-like magnitude range
    vz_error = 0.4 + 2.5 * 10 ** (0.2 * (G - 15.0))  # grows with magnitude, ~3 km/s at G = 15
    feh0 = np.array([p.feh0 for p in pops])[k]
    feh = feh0 + FEH_GRADIENT * (R - R0) + rng.normal(0.0, 0.12, size)
    age = np.clip(np.array([p.age for p in pops])[k] + rng.normal(0.0, 1.0, size), 0.1, 13.5)
    rad = np.deg2rad(phi)
    return {
        "source_id": (row0 + np.arange(size, dtype=np.int64)) * 1_000_003 + 17,
        "R": R, "phi": phi, "z": z,
        "x": -R * np.cos(rad), "y": R * np.sin(rad),
        "vR": vR, "vphi": vphi, "vz_true": vz,
        "vz": vz + rng.normal(0.0, vz_error), "vz_error": vz_error,
        "phot_g_mean_mag": G, "feh": feh, "age": age, "population": k.astype(np.int64),
    }


UNITS = {"R": "kpc", "phi": "deg", "z": "kpc", "x": "kpc", "y": "kpc", "vR": "km / s",
         "vphi": "km / s", "vz_true": "km / s", "vz": "km / s", "vz_error": "km / s",
         "phot_g_mean_mag": "mag", "feh": "dex", "age": "Gyr", "source_id": "",
         "population": ""}


def disk(n: int, seed: int = 0, *, chunk_rows: int = 1_000_000,
         populations=DEFAULT_POPULATIONS, phi_max: float = 20.0) -> xr.Dataset:
    """A lazily generated equilibrium-disk catalog with known truth (dim ``star``).

    Parameters
    ----------
    n : int
        Number of stars.
    seed : int
        Random seed; chunk i is drawn from ``default_rng([seed, i])``, so a chunk never needs
        the others (streaming) and the same (n, seed, chunk_rows) gives the same catalog.
    chunk_rows : int
        Stars per dask chunk.
    populations : sequence of Population
        The isothermal populations (fractions, σ_z, [Fe/H] at R0, ages).
    phi_max : float
        Azimuth range ±phi_max (deg) around the Sun.

    Returns
    -------
    xr.Dataset
        Columns source_id, R, phi, z, x, y, vR, vphi, vz (observed), vz_true, vz_error,
        phot_g_mean_mag, feh, age, population; ``attrs["truth"]`` holds the model parameters
        (see :func:`sigma_vz_truth`).
    """
    if n < 1:
        raise ValueError(f"disk() needs n >= 1 stars, got {n!r}")
    sizes = [min(chunk_rows, n - s) for s in range(0, n, chunk_rows)]
    starts = np.cumsum([0, *sizes[:-1]])
    parts = [dask.delayed(_chunk)(seed, i, s, int(r0), tuple(populations), phi_max)
             for i, (s, r0) in enumerate(zip(sizes, starts, strict=True))]
    data = {}
    for name, units in UNITS.items():
        dtype = np.int64 if name in ("source_id", "population") else np.float64
        arrays = [da.from_delayed(p[name], shape=(s,), dtype=dtype)
                  for p, s in zip(parts, sizes, strict=True)]
        data[name] = (cv.STAR_DIM, da.concatenate(arrays), {"units": units} if units else {})
    truth = {
        "model": "isothermal populations in Phi(z) = A ln cosh(z/z_s)",
        "potential_A_km2_s2": POTENTIAL_A, "potential_zs_kpc": POTENTIAL_ZS,
        "populations": [asdict(p) for p in populations],
        "feh_gradient_dex_per_kpc": FEH_GRADIENT, "feh_gradient_R0_kpc": R0,
        "north_south_symmetric": True,
    }
    return xr.Dataset(data, attrs={"source": f"cubes.mock.disk(n={n}, seed={seed})",
                                   "survey": "mock", "id_column": "source_id",
                                   "selections": [], "truth": truth})
