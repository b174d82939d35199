"""Direct (z, w) samples of the Widmark+2025 phase-spiral model, for tests and benchmarks.

f(z, w) = B(z, w) [1 + M(E_z) S(E_z, θ_z)]  (spec 004 Eq. 24), with

- B an equilibrium bulk in Φ = A_Φ Φ⊙: a mixture of isothermal populations,
  B_k ∝ exp(−E_z/σ_k²), E_z = A_Φ Φ⊙(z) + w²/2 (``kind="isothermal"``, the default; exact 1-D
  equilibria, like :mod:`cubes.mock.equilibrium`), or the fit's own 6-Gaussian form,
  B_k ∝ 𝒩(z; σ_z,k) 𝒩(w; σ_w,k) (``kind="gaussian"``, Eq. 17; not an equilibrium);
- M S the modulation of :meth:`cubes.mock.PhaseSpiral.modulation` (Eqs. 18–21), applied by
  rejection with acceptance (1 + M S)/(1 + α + β).

An optional selection s(z) ∈ [0, 1] thins the stars by height (spec §8 test 5: e.g. a
mid-plane incompleteness band); the spiral parameters stay those of the unselected density.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..vertical import SolarVerticalPotential
from .equilibrium import isothermal_profiles
from .signals import PhaseSpiral

#: isothermal populations (fraction, σ_w in km/s): a thin-to-thick solar-neighbourhood mix
ISOTHERMAL = ((0.30, 10.0), (0.30, 16.0), (0.25, 24.0), (0.15, 36.0))
#: 6-Gaussian bulk (fraction, σ_z in kpc, σ_w in km/s) of the fit's form (Eq. 17)
GAUSSIAN = ((0.20, 0.10, 8.0), (0.20, 0.18, 12.0), (0.20, 0.28, 17.0), (0.18, 0.40, 23.0),
            (0.14, 0.60, 30.0), (0.08, 0.90, 42.0))


def _isothermal_z(rng, amplitude, sigma, size, z_limit, shape):
    """Heights (kpc) from ρ(z) ∝ exp(−A Φ⊙(z)/σ²) on |z| ≤ z_limit (inverse CDF, 1 pc grid)."""
    z = np.linspace(-z_limit, z_limit, int(round(2000 * z_limit)) + 1)
    _, cdf = isothermal_profiles(z, amplitude, np.array([sigma]), shape)
    return np.interp(rng.random(size), cdf[0], z)


def _truncated_normal(rng, sigma, size, limit):
    out = rng.normal(0.0, sigma, size)
    bad = np.abs(out) > limit
    while bad.any():
        out[bad] = rng.normal(0.0, sigma, int(bad.sum()))
        bad = np.abs(out) > limit
    return out


def _bulk(rng, size, amplitude, kind, populations, z_limit, shape):
    """(z, w) of ``size`` stars from a mixture of populations, each drawn in turn."""
    if kind == "isothermal":
        pops = ISOTHERMAL if populations is None else populations

        def draw(pop, m):  # (fraction, σ): exp(−AΦ⊙/σ²) in z, the same σ in w
            return _isothermal_z(rng, amplitude, pop[1], m, z_limit, shape), pop[1]
    elif kind == "gaussian":
        pops = GAUSSIAN if populations is None else populations

        def draw(pop, m):  # (fraction, σ_z, σ_w)
            return _truncated_normal(rng, pop[1], m, z_limit), pop[2]
    else:
        raise ValueError(f"kind must be 'isothermal' or 'gaussian', got {kind!r}")
    frac = np.array([p[0] for p in pops], dtype=np.float64)
    k = rng.choice(len(pops), size=size, p=frac / frac.sum())
    z = np.empty(size)
    w = np.empty(size)
    for i, pop in enumerate(pops):
        sel = k == i
        m = int(sel.sum())
        z[sel], sigma_w = draw(pop, m)
        w[sel] = rng.normal(0.0, sigma_w, m)
    return z, w


def vertical_sample(
    n: int,
    *,
    amplitude: float = 1.0,
    spiral: PhaseSpiral | None = None,
    seed: int | np.random.Generator | None = None,
    kind: str = "isothermal",
    populations: Sequence[tuple[float, ...]] | None = None,
    selection: Callable[[np.ndarray], np.ndarray] | None = None,
    z_limit: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` stars (z, w) from B(z, w)[1 + M S] (spec 004 Eq. 24) in A_Φ Φ⊙.

    Parameters
    ----------
    n : int
        Number of stars returned.
    amplitude : float
        A_Φ, the potential is A_Φ Φ⊙ (Widmark+2025 Eqs. 7–8); the isothermal bulk is in
        equilibrium in it and the spiral is wound in it.
    spiral : PhaseSpiral or None
        The modulation (α, β, ω, φ₆₀₀; its R range is ignored); None for a pure bulk.
    seed : int or Generator, optional
    kind : {"isothermal", "gaussian"}
        Bulk: isothermal populations ``(fraction, σ_w km/s)`` (default :data:`ISOTHERMAL`) or
        Gaussians ``(fraction, σ_z kpc, σ_w km/s)`` (default :data:`GAUSSIAN`).
    populations : sequence of tuples, optional
        Overrides the default populations of ``kind``.
    selection : callable, optional
        s(z) ∈ [0, 1] of z in kpc: the probability that a star at height z is kept.
    z_limit : float
        Stars are drawn on |z| ≤ z_limit (kpc): by default, the histogram's range.

    Returns
    -------
    z, w : ndarray
        Heights (kpc, z > 0 North of the plane) and vertical velocities (km/s) in the
        Galactic rest frame (no solar offsets: add Z⊙, −W⊙ for heliocentric Z, W).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n!r}")
    if not amplitude > 0:
        raise ValueError(f"amplitude must be > 0, got {amplitude!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    shape = SolarVerticalPotential()
    zs, ws, have = [], [], 0
    lift = 1.0 if spiral is None else 1.0 + spiral.alpha + spiral.beta
    while have < n:
        m = int(1.1 * (n - have) * lift) + 64
        z, w = _bulk(rng, m, amplitude, kind, populations, z_limit, shape)
        keep = np.ones(m, dtype=bool)
        if selection is not None:
            keep &= rng.random(m) < np.asarray(selection(z), dtype=np.float64)
        if spiral is not None:
            keep[np.flatnonzero(keep)[~spiral.keep(rng, z[keep], w[keep], amplitude)]] = False
        zs.append(z[keep])
        ws.append(w[keep])
        have += int(keep.sum())
    return np.concatenate(zs)[:n], np.concatenate(ws)[:n]
