"""The test-particle intruder simulation of Lin et al. (2023, §4; spec 000 §5).

A disk of test particles in the Irrgang et al. (2013) model I potential (galpy's ``Irrgang13I``,
ro = 8.40 kpc, vo = 242 km/s) is relaxed for 0.6 Gyr, kicked once by a 2×10¹⁰ M☉ intruder
crossing the plane at (x, y) = (20, 0) kpc at 300 km/s (the impulse approximation of Binney &
Schönrich 2018 as simplified by Lin+2023), and integrated on; snapshots are returned at the asked
times after the kick (0.4, 0.45, 0.5 Gyr in the paper). Nothing but the kick breaks the
North–South symmetry: the initial conditions are symmetric in (z, v_z) → (−z, −v_z) and so is
the potential, so every N–S asymmetry of a snapshot is one the kick put there (plus Poisson noise).

Choices (spec §7 items 20, 21, 24; docs/intruder.md discusses each):

- **Initial conditions** (the paper used AGAMA's quasi-isothermal DF, unavailable here): R from
  Σ(R) ∝ exp(−R/3.7 kpc) in 5 < R < 15 kpc, azimuth uniform; z from the isothermal vertical
  equilibrium in the true potential at the particle's radius, ρ(z | R) ∝ exp(−[Φ(R, z) − Φ(R, 0)]
  / σ_z²(R)), with σ_z(R) = √2 ν(R) H and H = 0.3 kpc (AGAMA's rule for ``Hdisk``: in the
  harmonic limit the rms height is √2 H, that of an exp(−|z|/H) profile); v_z ~ N(0, σ_z(R));
  v_R ~ N(0, σ_R(R)) with σ_R(R) = 35 km/s exp(−(R − R0)/(2 R_d)); v_φ ~ N(v̄_φ, σ_R κ/2Ω) with
  v̄_φ from the asymmetric-drift (Jeans) equation, v_c² − v̄_φ² = σ_R² [κ²/4Ω² − 1 + R/R_d
  + 2R/R_σ] (Binney & Tremaine 2008, Eq. 4.228). Not an exact equilibrium in R: the 0.6 Gyr
  relaxation of the paper phase-mixes what is left.
- **[Fe/H] labels** from the initial (t = 0) state: feh = −0.1 (R_g − 8) − 0.4 |z| + 0.1 ε and the
  R_g-only variant feh_rg_only = −0.1 (R_g − 8) + 0.1 ε (Lin+2023 §4.1 and Fig. 12), with the
  same standard-normal ε, so the two differ only by the |z| term.
- **Kick** (spec §5.3), at the end of the relaxation: Δa = a_I(x) − a_I(0), with the in-plane
  acceleration of a Plummer-softened point mass a_I(x) = G M (x_I − x) / (|x_I − x|² + ε²)^{3/2}
  (in-plane positions); δv_∥ = T |Δa|; δv_⊥ = α δv_∥ [1 − β sin(θ − θ_I)], α = β = 1, and
  v_z ← v_z + δv_⊥ (towards the North: the spec's reading of "v_z + δv_⊥"; ``kick_sign=-1``
  flips it). The in-plane vector T Δa is *not* added to (v_x, v_y) by default (the paper only
  "introduces the vertical velocity disturbance"; ``in_plane=True`` adds it). Softening
  ε = 1 kpc: in the analysis window (R < 11 kpc, −3π/4 < θ < −π/4, ≥ 14.5 kpc from the impact
  point) it changes the kick by < 1 %, so the spec's point-mass reference magnitudes hold; it
  only tames particles passing within ~1 kpc of (20, 0), which R < 15 kpc keeps rare.
  T = 66 Myr (the paper's value, ≈ 20 kpc / 300 km/s) scaled as 1/velocity if another velocity is
  asked.
- **Orbits**: the fourth-order symplectic PEFRL integrator of :mod:`cubes.kernels.orbits` with
  the potential's own Plummer and Miyamoto–Nagai parameters and its SCF halo tabulated in r;
  a fixed step of 1 Myr: after 1.1 Gyr, 2000 disk orbits agree with galpy's ``dop853_c`` to a
  median 7e-6 kpc (galpy's own error), 99.9 % within 5e-5 kpc, all within 2e-4 kpc; at 2 Myr
  (twice as fast) 2 % of them, inner-disk orbits with pericentres of 2–3 kpc, drift by
  1e-3 to 8e-2 kpc.

Frames. The simulation frame is galpy's: x_s = R cos θ, y_s = R sin θ, rotation towards +θ, z > 0
North; the intruder is at θ_I = 0 and the paper's analysis window is θ ∈ (−3π/4, −π/4). The
output columns are in the library's frame (:mod:`cubes.frames`: right-handed, Sun at x = −R0,
φ = 0 at the Sun, increasing along rotation), with the Sun placed at θ_☉ = ``sun_theta`` (default
−90°, the centre of the paper's window) and R0 = 8.4 kpc (the potential's ro), so that

    phi = theta − sun_theta   (deg, wrapped to (−180, 180]);  x = −R cos phi,  y = R sin phi.

With the default the paper's window is |phi| < 45°, i.e. ``theta`` in (−135°, −45°), and the
intruder's impact point is at phi = 90°, (x, y) = (0, 20) kpc.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from functools import lru_cache

import numpy as np
import xarray as xr

from .. import conventions as cv
from ..kernels import orbits as ko

#: G in kpc (km/s)² / M☉ (IAU 2015 nominal G M☉ and the IAU parsec; equals astropy's to 1e-9)
G = 4.300917270069976e-06
#: 1 kpc / (km/s) in Myr (Julian years)
KPC_PER_KMS_MYR = 977.7922216807891

RO, VO = 8.40, 242.0  # galpy's Irrgang13I natural units, kpc and km/s

# the paper's parameters (spec §5)
MASS = 2e10  # M☉
VELOCITY = 300.0  # km/s
IMPACT = (20.0, 0.0)  # kpc, simulation frame
PASSAGE_TIME = 66.0  # Myr at 300 km/s
RELAX = 0.6  # Gyr
TIMES = (0.4, 0.45, 0.5)  # Gyr after the kick
SCALE_LENGTH = 3.7  # kpc
SCALE_HEIGHT = 0.3  # kpc
R_RANGE = (5.0, 15.0)  # kpc
SIGMA_R0 = 35.0  # km/s at R0 (our choice; the paper does not give it)
SOFTENING = 1.0  # kpc (our choice)
SUN_THETA = -90.0  # deg (our choice: the centre of the paper's window)
DT = 1.0  # Myr
#: the paper's analysis window in theta (deg)
WINDOW_THETA = (-135.0, -45.0)

_HALO_GRID = (math.log(1e-3), math.log(1e3), 20_001)  # ln r (kpc): start, stop, nodes


# ------------------------------------------------------------------------------------------------
# the potential


@lru_cache(maxsize=1)
def irrgang13i() -> dict:
    """Kernel parameters of galpy's Irrgang13I in kpc, km/s (cached).

    Returns a dict with ``p`` (:func:`cubes.kernels.orbits.make_params`), ``q`` (the halo's
    G M(<r) table, kpc (km/s)²), ``phi_halo`` (its Φ(r), (km/s)²) and the grid. The Plummer and
    Miyamoto–Nagai parameters are read from galpy's objects; the halo is galpy's l = 0 SCF
    expansion (Hernquist & Ostriker 1992 basis) evaluated here in closed form, Φ(r) =
    −√(4π) amp Σ_n A_n C_n^{3/2}(ξ) / (r + a), ξ = (r − a)/(r + a), and tabulated in ln r.
    """
    from galpy.potential.mwpotentials import Irrgang13I
    from scipy.special import eval_gegenbauer

    bulge, disk, halo = Irrgang13I
    acos = np.asarray(halo._Acos)
    if acos.shape[1:] != (1, 1):
        raise RuntimeError("galpy's Irrgang13I halo is no longer spherical; the kernel's "
                           "1-D halo table does not apply")
    lnr = np.linspace(*_HALO_GRID)
    r = np.exp(lnr) / RO  # natural units
    a = float(halo._a)
    xi = (r - a) / (r + a)
    n = np.arange(acos.shape[0])[:, None]
    c = eval_gegenbauer(n, 1.5, xi[None])
    dc = np.where(n > 0, 3.0 * eval_gegenbauer(np.maximum(n - 1, 0), 2.5, xi[None]), 0.0)
    s = math.sqrt(4.0 * math.pi) * float(halo._amp)
    A = acos[:, 0, 0][:, None]
    phi = -s * (A * c).sum(0) / (r + a)
    dphi = -s * (A * (-c / (r + a) ** 2 + dc * 2.0 * a / (r + a) ** 3)).sum(0)
    gm = RO * VO**2  # natural mass unit times G, kpc (km/s)²
    p = ko.make_params(float(bulge._amp) * gm, float(bulge._b) * RO,
                       float(disk._amp) * gm, float(disk._a) * RO, float(disk._b) * RO,
                       float(lnr[0]), float(lnr[1] - lnr[0]))
    return {"p": p, "q": np.ascontiguousarray(gm * r**2 * dphi),
            "phi_halo": np.ascontiguousarray(VO**2 * phi), "lnr": lnr}


def _accel_R_z(R: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pot = irrgang13i()
    R = np.ascontiguousarray(R, dtype=np.float64)
    z = np.ascontiguousarray(z, dtype=np.float64)
    ax, _, az = ko.accelerations(R, np.zeros_like(R), z, pot["p"], pot["q"])
    return ax, az


def potential(R, z) -> np.ndarray:
    """Φ(R, z) of Irrgang13I, (km/s)², as the kernel sees it (R, z in kpc)."""
    pot = irrgang13i()
    R = np.ascontiguousarray(R, dtype=np.float64)
    z = np.ascontiguousarray(z, dtype=np.float64)
    return ko.potential(R, np.zeros_like(R), z, pot["p"], pot["phi_halo"])


@lru_cache(maxsize=1)
def _rotation_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(R, v_c, κ, ν) of Irrgang13I on a log grid from 0.01 to 500 kpc (kpc, km/s, km/s/kpc)."""
    R = np.geomspace(0.01, 500.0, 20_001)
    aR, _ = _accel_R_z(R, np.zeros_like(R))
    vc = np.sqrt(-aR * R)
    omega2 = vc**2 / R**2
    kappa2 = R * np.gradient(omega2, R) + 4.0 * omega2
    h = 1e-5
    _, az = _accel_R_z(R, np.full_like(R, h))
    nu = np.sqrt(-az / h)
    return R, vc, np.sqrt(kappa2), nu


def guiding_radius(Lz) -> np.ndarray:
    """Guiding radius (kpc) in Irrgang13I from L_z (kpc km/s): R_g v_c(R_g) = L_z.

    Same method as :func:`cubes.dynamics.guiding_radius` (a tabulated L_c(R), inverted by
    interpolation in ln–ln), on the kernel's own forces; NaN where L_z ≤ 0 or off the table.
    """
    R, vc, _, _ = _rotation_table()
    lc = R * vc
    lz = np.asarray(Lz, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.exp(np.interp(np.log(lz), np.log(lc), np.log(R), left=np.nan, right=np.nan))
    return np.where(lz > 0, out, np.nan)


# ------------------------------------------------------------------------------------------------
# the kick


def kick(x, y, *, mass: float = MASS, impact: tuple[float, float] = IMPACT,
         passage_time: float = PASSAGE_TIME, softening: float = SOFTENING, alpha: float = 1.0,
         beta: float = 1.0) -> dict[str, np.ndarray]:
    """The intruder's impulsive kick at in-plane positions (x, y) of the simulation frame.

    Lin et al. (2023) §4.1 (spec §5.3), after Binney & Schönrich (2018):
    Δa(x) = a_I(x) − a_I(0), a_I(x) = G M (x_I − x) / (|x_I − x|² + ε²)^{3/2};
    δv_∥ = T |Δa|;  δv_⊥ = α δv_∥ [1 − β sin(θ − θ_I)], θ = atan2(y, x), θ_I = atan2(y_I, x_I).

    Parameters
    ----------
    x, y : array-like
        Positions in the simulation frame, kpc (x = R cos θ, y = R sin θ).
    mass : float
        Intruder mass, M☉.
    impact : (float, float)
        Where the intruder crosses the plane, kpc.
    passage_time : float
        T, Myr.
    softening : float
        Plummer softening ε, kpc (0 = point mass).
    alpha, beta : float
        The vertical-kick parameters (1 and 1 in the paper).

    Returns
    -------
    dict of arrays (km/s): ``dvx``, ``dvy`` (the in-plane vector T Δa), ``dv_par`` (δv_∥) and
    ``dv_perp`` (δv_⊥, ≥ 0 for β ≤ 1).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    xi, yi = (float(c) for c in impact)
    e2 = float(softening) ** 2
    gm = G * float(mass)
    dx, dy = xi - x, yi - y
    f = gm / (dx * dx + dy * dy + e2) ** 1.5
    f0 = gm / (xi * xi + yi * yi + e2) ** 1.5
    t = float(passage_time) / KPC_PER_KMS_MYR
    dvx = t * (f * dx - f0 * xi)
    dvy = t * (f * dy - f0 * yi)
    dv_par = np.hypot(dvx, dvy)
    theta = np.arctan2(y, x)
    dv_perp = alpha * dv_par * (1.0 - beta * np.sin(theta - math.atan2(yi, xi)))
    return {"dvx": dvx, "dvy": dvy, "dv_par": dv_par, "dv_perp": dv_perp}


# ------------------------------------------------------------------------------------------------
# initial conditions


def _sample_radius(rng: np.random.Generator, n: int, rd: float, rmin: float,
                   rmax: float) -> np.ndarray:
    # Σ(R) R dR ∝ R exp(−R/R_d) on [rmin, rmax]: inverse of the tabulated CDF
    grid = np.linspace(rmin, rmax, 4001)
    pdf = grid * np.exp(-grid / rd)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(grid))])
    return np.interp(rng.random(n), cdf / cdf[-1], grid)


_ZGRID = np.linspace(0.0, 20.0, 8001)  # kpc, heights of the vertical tables
_XGRID = np.linspace(0.0, 20.0, 401)  # E_z / σ_z², energies of the action tables
_PSI, _PSI_W = np.polynomial.legendre.leggauss(32)  # Gauss–Legendre on ψ ∈ (0, π/2)
_PSI = 0.25 * np.pi * (_PSI + 1.0)
_PSI_W = 0.25 * np.pi * _PSI_W


@lru_cache(maxsize=4)
def _vertical_tables(scale_height: float, rmin: float, rmax: float) -> dict:
    """Per radial node (0.05 kpc apart): ΔΦ(z), the isothermal CDF of |z| and J_z(E_z).

    J_z(E) = (2/π) ∫_0^{z_max} sqrt(2 (E − ΔΦ(z))) dz with z = z_max sin ψ (no end-point
    singularity) and 32-point Gauss–Legendre in ψ; ΔΦ(z) = Φ(R, z) − Φ(R, 0).
    """
    nodes = np.linspace(rmin, rmax, int(round((rmax - rmin) / 0.05)) + 1)
    Rt, _, _, nut = _rotation_table()
    nu = np.interp(nodes, Rt, nut)
    sig2 = (math.sqrt(2.0) * scale_height * nu) ** 2
    RR, ZZ = np.meshgrid(nodes, _ZGRID, indexing="ij")
    dphi = (potential(RR.ravel(), ZZ.ravel()) - potential(RR.ravel(), 0.0 * ZZ.ravel()))
    dphi = dphi.reshape(RR.shape)
    if np.any(np.diff(dphi, axis=1) <= 0) or np.any(dphi[:, -1] < _XGRID[-1] * sig2):
        raise RuntimeError("vertical potential tables do not cover the disk's energies")
    dens = np.exp(-dphi / sig2[:, None])
    cdf = np.concatenate([np.zeros((nodes.size, 1)),
                          np.cumsum(0.5 * (dens[:, 1:] + dens[:, :-1]), axis=1)], axis=1)
    cdf /= cdf[:, -1:]
    J = np.zeros((nodes.size, _XGRID.size))
    for k in range(nodes.size):
        E = _XGRID[1:] * sig2[k]
        zmax = np.interp(E, dphi[k], _ZGRID)
        zz = zmax[:, None] * np.sin(_PSI)[None]
        arg = 2.0 * (E[:, None] - np.interp(zz, _ZGRID, dphi[k]))
        J[k, 1:] = (2.0 / np.pi) * zmax * (np.sqrt(np.clip(arg, 0.0, None))
                                           * np.cos(_PSI)[None] * _PSI_W[None]).sum(1)
    return {"nodes": nodes, "dphi": dphi, "cdf": cdf, "J": J, "sig2": sig2}


def _by_node(k: np.ndarray, nnodes: int) -> Iterator[tuple[int, np.ndarray]]:
    """(node, indices of the particles whose lower radial node it is)."""
    order = np.argsort(k, kind="stable")
    bounds = np.searchsorted(k[order], np.arange(nnodes + 1))
    for j in range(nnodes):
        idx = order[bounds[j]:bounds[j + 1]]
        if idx.size:
            yield j, idx


def _sample_vertical(rng: np.random.Generator, R: np.ndarray, scale_height: float,
                     rmin: float, rmax: float) -> tuple[np.ndarray, np.ndarray, int]:
    """(z, v_z) from f(z, v_z | R) ∝ exp(−ν J_z / σ_z²), σ_z = √2 ν H (quasi-isothermal).

    The vertical part of the quasi-isothermal DF (Binney & McMillan 2011, Eq. 4; AGAMA's rule
    σ_z = √2 ν H_disk) in the adiabatic approximation: J_z is the action of the 1-D motion in
    Φ(R, z) − Φ(R, 0) at the particle's R, ν(R) the midplane vertical frequency. Sampled by
    rejection from the isothermal f ∝ exp(−E_z/σ_z²) (z from its inverse CDF, v_z Gaussian):
    since the vertical frequency falls with amplitude, ν J_z ≥ E_z and the acceptance
    probability exp(−(ν J_z − E_z)/σ_z²) is ≤ 1 (about 0.7). Tables on radial nodes 0.05 kpc
    apart are interpolated linearly in R. Returns z, v_z and the number of proposals made.
    """
    tab = _vertical_tables(float(scale_height), rmin, rmax)
    nodes = tab["nodes"]
    h = nodes[1] - nodes[0]
    Rt, _, _, nut = _rotation_table()
    nu = np.interp(R, Rt, nut)
    sig = math.sqrt(2.0) * scale_height * nu
    k = np.clip(((R - rmin) / h).astype(np.int64), 0, nodes.size - 2)
    w = np.clip((R - nodes[k]) / h, 0.0, 1.0)
    z = np.empty(R.size)
    vz = np.empty(R.size)
    pending = np.arange(R.size)
    proposals = 0
    while pending.size:
        proposals += pending.size
        u = rng.random(pending.size)
        zp = np.empty(pending.size)
        for j, idx in _by_node(k[pending], nodes.size - 1):
            wi = w[pending[idx]]
            zp[idx] = ((1.0 - wi) * np.interp(u[idx], tab["cdf"][j], _ZGRID)
                       + wi * np.interp(u[idx], tab["cdf"][j + 1], _ZGRID))
        zp *= np.where(rng.random(pending.size) < 0.5, -1.0, 1.0)
        vp = rng.normal(0.0, 1.0, pending.size) * sig[pending]
        Rp = R[pending]
        E = 0.5 * vp**2 + potential(Rp, zp) - potential(Rp, 0.0 * zp)
        J = np.empty(pending.size)
        for j, idx in _by_node(k[pending], nodes.size - 1):
            wi = w[pending[idx]]
            x0 = E[idx] / tab["sig2"][j]
            x1 = E[idx] / tab["sig2"][j + 1]
            J[idx] = ((1.0 - wi) * np.interp(x0, _XGRID, tab["J"][j], right=np.inf)
                      + wi * np.interp(x1, _XGRID, tab["J"][j + 1], right=np.inf))
        s2 = sig[pending] ** 2
        accept = rng.random(pending.size) < np.exp(-(nu[pending] * J - E) / s2)
        z[pending[accept]] = zp[accept]
        vz[pending[accept]] = vp[accept]
        pending = pending[~accept]
    return z, vz, proposals


def initial_conditions(n: int, rng: np.random.Generator, *, scale_length: float = SCALE_LENGTH,
                       scale_height: float = SCALE_HEIGHT, R_range: tuple[float, float] = R_RANGE,
                       sigma_R0: float = SIGMA_R0, R0: float = RO) -> np.ndarray:
    """Initial (n, 6) state x_s, y_s, z, v_x, v_y, v_z (kpc, km/s) in the simulation frame.

    See the module docstring: exponential disk, isothermal vertical equilibrium with
    σ_z(R) = √2 ν(R) H, Gaussian in-plane velocities with asymmetric drift.
    """
    rmin, rmax = (float(v) for v in R_range)
    Rt, vct, kt, _ = _rotation_table()
    R = _sample_radius(rng, n, scale_length, rmin, rmax)
    theta = rng.uniform(-math.pi, math.pi, n)
    z, vz, _ = _sample_vertical(rng, R, scale_height, rmin, rmax)
    rsig = 2.0 * scale_length
    sR = sigma_R0 * np.exp(-(R - R0) / rsig)
    vc = np.interp(R, Rt, vct)
    kappa = np.interp(R, Rt, kt)
    omega = vc / R
    ratio2 = kappa**2 / (4.0 * omega**2)  # σ_φ² / σ_R² (epicyclic approximation)
    vbar2 = vc**2 - sR**2 * (ratio2 - 1.0 + R / scale_length + 2.0 * R / rsig)
    vphi = np.sqrt(np.clip(vbar2, 0.0, None)) + rng.normal(0.0, 1.0, n) * sR * np.sqrt(ratio2)
    vR = rng.normal(0.0, 1.0, n) * sR
    c, s = np.cos(theta), np.sin(theta)
    return np.ascontiguousarray(np.stack([R * c, R * s, z, vR * c - vphi * s,
                                          vR * s + vphi * c, vz], axis=1))


# ------------------------------------------------------------------------------------------------
# integration


def _nsteps(duration_myr: float, dt_myr: float) -> int:
    """Equal steps no longer than dt (Myr) that land exactly on the end of ``duration``."""
    if duration_myr <= 0.0:
        return 0
    return max(1, math.ceil(duration_myr / dt_myr - 1e-9))


def _advance(state: np.ndarray, duration_myr: float, dt_myr: float, bar) -> int:
    """Integrate ``duration`` (Myr) in equal steps no longer than dt; returns the step count."""
    nsteps = _nsteps(duration_myr, dt_myr)
    if nsteps == 0:
        return 0
    pot = irrgang13i()
    h = duration_myr / nsteps / KPC_PER_KMS_MYR
    chunk = 10
    done = 0
    while done < nsteps:
        k = min(chunk, nsteps - done)
        ko.integrate(state, h, k, pot["p"], pot["q"])
        done += k
        bar.update(k)
    return nsteps


class SnapshotError(KeyError, ValueError):
    """A snapshot time that was not integrated."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0])


class Snapshots(Mapping):
    """{time after the kick (Gyr): Dataset} from one integration; times match to 1e-9 Gyr."""

    def __init__(self, items: dict[float, xr.Dataset]):
        self._items = dict(items)

    def _key(self, t) -> float:
        for k in self._items:
            if abs(float(t) - k) <= 1e-9:
                return k
        raise SnapshotError(f"{t!r} Gyr after the kick was not integrated; the snapshots are at "
                            f"{sorted(self._items)} Gyr")

    def __getitem__(self, t) -> xr.Dataset:
        return self._items[self._key(t)]

    def __iter__(self) -> Iterator[float]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Snapshots(times={list(self._items)} Gyr after the kick)"


def _times(times_after_kick) -> tuple[bool, tuple[float, ...]]:
    """(whether a single time was given, the times) after validation."""
    scalar = np.ndim(times_after_kick) == 0
    t = np.atleast_1d(np.asarray(times_after_kick, dtype=np.float64))
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"times_after_kick must be a number or a 1-D sequence, got "
                         f"{times_after_kick!r}")
    if not np.all(np.isfinite(t)):
        raise ValueError(f"times_after_kick must be finite, got {times_after_kick!r}")
    if np.any(t < 0):
        raise ValueError(f"times_after_kick must be >= 0 Gyr (time since the kick), got "
                         f"{times_after_kick!r}")
    if len(set(t.tolist())) != t.size:
        raise ValueError(f"times_after_kick has repeated times: {times_after_kick!r}")
    return scalar, tuple(float(v) for v in t)


def _wrap_deg(a: np.ndarray) -> np.ndarray:
    return (a + 180.0) % 360.0 - 180.0


UNITS = {"x": "kpc", "y": "kpc", "z": "kpc", "vx": "km / s", "vy": "km / s", "vz": "km / s",
         "R": "kpc", "phi": "deg", "theta": "deg", "vR": "km / s", "vphi": "km / s",
         "Lz": "kpc km / s", "Rg": "kpc", "Rg_initial": "kpc", "feh": "dex",
         "feh_rg_only": "dex", "dvz_kick": "km / s"}

LONG_NAMES = {
    "theta": "azimuth in Lin+2023's simulation frame (intruder at 0, rotation towards +theta); "
             "phi = theta - sun_theta",
    "Rg": "guiding radius now, in Irrgang13I",
    "Rg_initial": "guiding radius at t = 0 (the [Fe/H] labels' R_g)",
    "feh": "label N(-0.1 (Rg_initial - 8) - 0.4 |z_initial|, 0.1)",
    "feh_rg_only": "label N(-0.1 (Rg_initial - 8), 0.1) (Lin+2023 Fig. 12)",
    "dvz_kick": "vertical velocity the kick added",
}


def _snapshot(state: np.ndarray, labels: dict, sun_theta: float, attrs: dict,
              t_after: float) -> xr.Dataset:
    xs, ys, z, vxs, vys, vz = (state[:, k] for k in range(6))
    R = np.hypot(xs, ys)
    th = np.arctan2(ys, xs)
    c, s = np.cos(th), np.sin(th)
    vR = vxs * c + vys * s
    vphi = -vxs * s + vys * c
    theta = np.rad2deg(th)
    phi = _wrap_deg(theta - sun_theta)
    pr = np.deg2rad(phi)
    cp, sp = np.cos(pr), np.sin(pr)
    Lz = R * vphi
    cols = {
        "x": -R * cp, "y": R * sp, "z": z.copy(),
        "vx": -vR * cp + vphi * sp, "vy": vR * sp + vphi * cp, "vz": vz.copy(),
        "R": R, "phi": phi, "theta": theta, "vR": vR, "vphi": vphi, "Lz": Lz,
        "Rg": guiding_radius(Lz), **labels,
    }
    data = {"source_id": (cv.STAR_DIM, np.arange(state.shape[0], dtype=np.int64))}
    for name, v in cols.items():
        a = {"units": UNITS[name]}
        if name in LONG_NAMES:
            a["long_name"] = LONG_NAMES[name]
        data[name] = (cv.STAR_DIM, np.asarray(v, dtype=np.float64), a)
    truth = dict(attrs["truth"], time_after_kick_Gyr=t_after)
    return xr.Dataset(data, attrs={**attrs, "truth": truth})


def intruder(n: int = 200_000, seed: int = 0, *, times_after_kick=0.5, relax: float = RELAX,
             mass: float = MASS, velocity: float = VELOCITY,
             impact: tuple[float, float] = IMPACT, passage_time: float | None = None,
             softening: float = SOFTENING, alpha: float = 1.0, beta: float = 1.0,
             kick_sign: int = 1, in_plane: bool = False, scale_length: float = SCALE_LENGTH,
             scale_height: float = SCALE_HEIGHT, R_range: tuple[float, float] = R_RANGE,
             sigma_R0: float = SIGMA_R0, sun_theta: float = SUN_THETA, dt: float = DT,
             progress: bool | None = None) -> xr.Dataset | Snapshots:
    """Lin et al. (2023) §4: a test-particle disk kicked by an intruder (spec 000 §5).

    Parameters
    ----------
    n : int
        Number of particles (the paper had ~1.5 million; 200 000 take ~20 s on 2 cores).
    seed : int
        Random seed of the initial conditions and labels (``numpy.random.default_rng(seed)``).
    times_after_kick : float or sequence of float
        Snapshot time(s) after the kick, Gyr, ≥ 0 (0 = just after the kick). A sequence gives a
        :class:`Snapshots` mapping {time: Dataset} from one integration.
    relax : float
        Relaxation before the kick, Gyr (0.6 in the paper).
    mass : float
        Intruder mass, M☉ (2e10); 0 gives the unperturbed control disk.
    velocity : float
        Intruder velocity, km/s (300); it enters only through T (below).
    impact : (float, float)
        Impact point in the simulation frame, kpc ((20, 0): θ_I = 0).
    passage_time : float or None
        T, Myr; None = 66 Myr × 300 km/s / velocity (the paper's 66 Myr at 300 km/s).
    softening : float
        Plummer softening of the intruder, kpc (our choice, 1 kpc; 0 = point mass).
    alpha, beta : float
        δv_⊥ = α δv_∥ [1 − β sin(θ − θ_I)] (1 and 1 in the paper).
    kick_sign : {+1, −1}
        +1 adds δv_⊥ to v_z (towards the North), −1 subtracts it.
    in_plane : bool
        Also add the in-plane kick T Δa to (v_x, v_y) (not done in the paper's wording).
    scale_length, scale_height : float
        Disk scale length and height, kpc (3.7, 0.3).
    R_range : (float, float)
        Initial radii, kpc ((5, 15)).
    sigma_R0 : float
        σ_R at R = 8.4 kpc, km/s (35; the paper does not give it).
    sun_theta : float
        Azimuth of the Sun in the simulation frame, deg: phi = theta − sun_theta (−90 puts the
        paper's window at |phi| < 45°).
    dt : float
        Largest integration step, Myr (1).
    progress : bool or None
        Show a tqdm bar; None = only on a terminal.

    Returns
    -------
    xr.Dataset (one time) or Snapshots (several)
        dim ``star``: source_id, x, y, z, vx, vy, vz, R, phi, theta, vR, vphi, Lz, Rg,
        Rg_initial, feh, feh_rg_only, dvz_kick (library frame, kpc, km/s, deg; ``units`` attrs);
        ``attrs["truth"]`` holds every parameter (JSON-serialisable).

    Select the paper's window with ``(ds.theta > -135) & (ds.theta < -45)`` (θ ∈ (−3π/4, −π/4)),
    e.g. with 9 < Rg < 10 for its Fig. 10.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"intruder() needs an integer number of particles n >= 1, got {n!r}")
    scalar, times = _times(times_after_kick)
    checks = {"relax": (relax, 0.0), "dt": (dt, None), "velocity": (velocity, None),
              "mass": (mass, 0.0), "softening": (softening, 0.0)}
    for name, (value, floor) in checks.items():
        v = float(value)
        ok = math.isfinite(v) and (v >= floor if floor is not None else v > 0)
        if not ok:
            need = f">= {floor}" if floor is not None else "> 0"
            raise ValueError(f"intruder() needs {name} {need}, got {value!r}")
    if not math.isfinite(float(sun_theta)):
        raise ValueError(f"sun_theta must be a finite angle in degrees, got {sun_theta!r}")
    if kick_sign not in (1, -1):
        raise ValueError(f"kick_sign must be +1 or -1, got {kick_sign!r}")
    rmin, rmax = (float(v) for v in R_range)
    if not (0 < rmin < rmax):
        raise ValueError(f"R_range must be (Rmin, Rmax) with 0 < Rmin < Rmax, got {R_range!r}")
    T = PASSAGE_TIME * VELOCITY / float(velocity) if passage_time is None else float(passage_time)
    if not (math.isfinite(T) and T >= 0):
        raise ValueError(f"passage_time must be >= 0 Myr, got {passage_time!r}")

    from tqdm.auto import tqdm

    rng = np.random.default_rng(seed)
    state = initial_conditions(n, rng, scale_length=scale_length, scale_height=scale_height,
                               R_range=(rmin, rmax), sigma_R0=sigma_R0)
    Lz_init = state[:, 0] * state[:, 4] - state[:, 1] * state[:, 3]
    Rg_init = guiding_radius(Lz_init)
    eps = rng.normal(0.0, 1.0, n)
    mu_rg = -0.1 * (Rg_init - 8.0)
    labels = {"Rg_initial": Rg_init, "feh": mu_rg - 0.4 * np.abs(state[:, 2]) + 0.1 * eps,
              "feh_rg_only": mu_rg + 0.1 * eps}

    ends = [0.0, *sorted(times)]
    total_steps = _nsteps(relax * 1e3, dt) + sum(
        _nsteps((b - a) * 1e3, dt) for a, b in zip(ends[:-1], ends[1:], strict=True))
    truth = {
        "model": "Lin et al. 2023 sec. 4 test-particle intruder simulation (spec 000 sec. 5)",
        "potential": "galpy.potential.mwpotentials.Irrgang13I", "ro_kpc": RO, "vo_km_s": VO,
        "n": int(n), "seed": int(seed),
        "initial_conditions": {
            "surface_density": "exp(-R/scale_length)", "scale_length_kpc": float(scale_length),
            "vertical": "isothermal in Irrgang13I, sigma_z(R) = sqrt(2) nu(R) scale_height",
            "scale_height_kpc": float(scale_height), "R_range_kpc": [rmin, rmax],
            "sigma_R": "sigma_R0 exp(-(R - 8.4)/(2 scale_length))",
            "sigma_R0_km_s": float(sigma_R0),
            "vphi": "Gaussian, asymmetric drift, sigma_phi = sigma_R kappa / (2 Omega)",
        },
        "feh_labels": {"feh": "N(-0.1 (Rg - 8) - 0.4 |z|, 0.1) at t = 0",
                       "feh_rg_only": "N(-0.1 (Rg - 8), 0.1) at t = 0, same deviate"},
        "relax_Gyr": float(relax),
        "intruder": {"mass_Msun": float(mass), "velocity_km_s": float(velocity),
                     "impact_kpc": [float(impact[0]), float(impact[1])],
                     "impact_angle_deg": 90.0, "passage_time_Myr": T,
                     "softening_kpc": float(softening), "alpha": float(alpha),
                     "beta": float(beta), "kick_sign": int(kick_sign),
                     "in_plane_kick": bool(in_plane),
                     "vertical_kick": "dv_perp = alpha dv_par [1 - beta sin(theta - theta_I)]"},
        "times_after_kick_Gyr": list(times),
        "integrator": "PEFRL 4th-order symplectic (cubes.kernels.orbits)",
        "max_step_Myr": float(dt),
        "frame": {"R0_kpc": RO, "sun_theta_deg": float(sun_theta),
                  "phi": "phi = theta - sun_theta; x = -R cos phi, y = R sin phi",
                  "impact_phi_deg": float(_wrap_deg(
                      np.rad2deg(math.atan2(float(impact[1]), float(impact[0]))) - sun_theta)),
                  "paper_window_theta_deg": list(WINDOW_THETA)},
    }
    json.dumps(truth)  # the promise: serialisable
    attrs = {"source": f"cubes.mock.intruder(n={n}, seed={seed})", "survey": "mock",
             "id_column": "source_id", "selections": [], "truth": truth}

    out: dict[float, xr.Dataset] = {}
    with tqdm(total=total_steps, disable=(None if progress is None else not progress),
              desc="intruder orbits", unit="step") as bar:
        _advance(state, relax * 1e3, dt, bar)
        dv = kick(state[:, 0], state[:, 1], mass=mass, impact=impact, passage_time=T,
                  softening=softening, alpha=alpha, beta=beta)
        state[:, 5] += kick_sign * dv["dv_perp"]
        if in_plane:
            state[:, 3] += dv["dvx"]
            state[:, 4] += dv["dvy"]
        labels["dvz_kick"] = kick_sign * dv["dv_perp"]
        prev = 0.0
        for t in sorted(times):
            _advance(state, (t - prev) * 1e3, dt, bar)
            prev = t
            out[t] = _snapshot(state, labels, float(sun_theta), attrs, t)
    if scalar:
        return out[times[0]]
    return Snapshots({t: out[t] for t in times})


__all__ = ["Snapshots", "SnapshotError", "guiding_radius", "initial_conditions", "intruder",
           "irrgang13i", "kick", "potential"]
