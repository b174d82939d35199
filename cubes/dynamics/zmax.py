"""Maximum height z_max of orbits: by orbit integration, or from the vertical energy.

Long et al. 2025 (spec 003 §2) take Z_max = max |z(t)| of an orbit integrated for 10 Gyr with
AGAMA in McMillan17, sampled at 101 times ("numsteps=101"). :func:`zmax_orbit` does the same
with galpy (any galpy potential, McMillan17 included; time and sampling are parameters, with a
dense default: 101 samples over 10 Gyr, Δt ≈ 0.1 Gyr, miss the peaks of 50–100 Myr vertical
oscillations and underestimate Z_max). At ~0.04 s per 10 Gyr orbit in MWPotential2014 and
0.5–0.8 s in McMillan17 it suits clusters and Cepheids, not LAMOST.

For large samples :func:`zmax_energy` uses the vertical energy at the star's own radius,

    E_z = Φ(R, z) − Φ(R, 0) + v_z²/2,    Φ(R, z_max) − Φ(R, 0) = E_z,

i.e. it treats the vertical motion as separable and R as fixed (the 1-D picture of
Widmark et al. 2025 §5.3, and of :mod:`cubes.vertical`). This is exact for a star that stays
at R and is good for cool, low orbits; it degrades as the orbit moves in R (the vertical
restoring force changes along the epicycle) and as z_max grows (non-separability). Measured
against :func:`zmax_orbit` in tests/test_dynamics.py. The solve is a numba table look-up
(:func:`cubes.kernels.dynamics.zmax_from_energy`) on S(R, z) = √(2[Φ(R, z) − Φ(R, 0)]),
tabulated once per (potential, ro, vo) for 0.05 ≤ R ≤ 60 kpc and 0 ≤ z ≤ 10 kpc.

Units: kpc, km/s; E_z in (km/s)²; the integration time in Gyr.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..kernels.dynamics import zmax_from_energy
from ._support import Result, Values, apply, evaluate, flat_call, galpy_potential, natural_units

#: the E_z table: ln R uniform over [0.05, 60] kpc, z uniform over [0, 10] kpc
_TABLE_R = (0.05, 60.0, 601)
_TABLE_Z = (10.0, 1001)


@lru_cache(maxsize=8)
def _vertical_table(potential: str, ro: float, vo: float):
    """(ln R0, Δ ln R, Δz, S, ∂S/∂z): S = √(2[Φ(R, z) − Φ(R, 0)]) in km/s on the grid
    (600 000 evaluations of Φ and F_z: 1 s in MWPotential2014, ~15 s in McMillan17 through
    galpy's C code)."""
    pot = galpy_potential(potential)
    lnr = np.linspace(np.log(_TABLE_R[0]), np.log(_TABLE_R[1]), _TABLE_R[2])
    z = np.linspace(0.0, _TABLE_Z[0], _TABLE_Z[1])
    rr, zz = np.meshgrid(np.exp(lnr) / ro, z / ro, indexing="ij")
    phi = evaluate(pot, "potential", rr, zz)
    dphi = np.maximum(phi - phi[:, :1], 0.0) * vo**2
    force = -evaluate(pot, "zforce", rr, zz) * vo**2 / ro
    # ν² = ∂²Φ/∂z² in the plane as −F_z(h)/h, h = 1e-6 ro: off by O(h²/z_scale²) ~ 1e-9
    h = 1e-6
    nu = np.sqrt(-evaluate(pot, "zforce", rr[:, 0], h) / h) * vo / ro
    s = np.sqrt(2.0 * dphi)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = force / s
    d[:, 0] = nu  # S ≈ ν z near the plane
    if np.any(np.diff(s, axis=1) <= 0):
        raise ValueError(f"Φ(R, z) of {potential} does not increase with |z| everywhere on the "
                         "table: z_max is not unique")
    return float(lnr[0]), float(lnr[1] - lnr[0]), float(z[1]), s, d


def _energy_zmax(R, z, vz, *, potential, ro, vo):
    lnr0, dlnr, dz, s, d = _vertical_table(potential, float(ro), float(vo))

    def kern(r, zz, w):
        zmax, ez = np.empty_like(r), np.empty_like(r)
        zmax_from_energy(r, zz, w, lnr0, dlnr, dz, s, d, zmax, ez)
        return zmax, ez

    return flat_call(kern, R, z, vz)


def zmax_energy(R: Values, z: Values, vz: Values, *, potential: str = "MWPotential2014",
                ro: float | None = None, vo: float | None = None) -> Result:
    """z_max (kpc) from the vertical energy at the star's radius (module docstring).

    Parameters
    ----------
    R, z, vz : array-like or xr.DataArray (numpy or dask)
        Galactocentric radius (kpc), height (kpc, > 0 North) and vertical velocity (km/s).
    potential : str
        A galpy potential by name (default MWPotential2014).
    ro, vo : float, optional
        galpy's natural units, kpc and km/s, for a potential in natural units (default 8 kpc,
        220 km/s); a model in physical units (McMillan17) uses its own (as for
        :func:`cubes.dynamics.guiding_radius`).

    Returns
    -------
    Same type as the input; NaN outside 0.05 ≤ R ≤ 60 kpc, |z| ≤ 10 kpc, or where z_max
    would exceed 10 kpc. The table inversion is within 1e-7 of a direct root find in galpy's
    Φ (tests/test_dynamics.py).
    """
    ro, vo = natural_units(potential, ro, vo)

    def func(r, zz, w):
        return _energy_zmax(r, zz, w, potential=potential, ro=ro, vo=vo)[:1]

    return apply(func, R, z, vz, names=["zmax"],
                 attrs=[{"units": "kpc", "long_name": f"z_max from E_z at R in {potential} "
                         f"(ro={ro}, vo={vo})"}])


def vertical_energy(R: Values, z: Values, vz: Values, *, potential: str = "MWPotential2014",
                    ro: float | None = None, vo: float | None = None) -> Result:
    """E_z = Φ(R, z) − Φ(R, 0) + v_z²/2 in (km/s)² (same inputs and table as
    :func:`zmax_energy`)."""
    ro, vo = natural_units(potential, ro, vo)

    def func(r, zz, w):
        return _energy_zmax(r, zz, w, potential=potential, ro=ro, vo=vo)[1:]

    return apply(func, R, z, vz, names=["Ez"],
                 attrs=[{"units": "km2 / s2", "long_name": f"vertical energy at R in "
                         f"{potential} (ro={ro}, vo={vo})"}])


def _integrate_zmax(R, z, vR, vphi, vz, phi, *, potential, ro, vo, time, n_steps, method,
                    batch):
    from galpy.orbit import Orbit
    from galpy.util.conversion import time_in_Gyr

    arrs = np.broadcast_arrays(*[np.asarray(a, dtype=np.float64)
                                 for a in (R, z, vR, vphi, vz, phi)])
    R, z, vR, vphi, vz, phi = arrs
    out = np.full(R.shape, np.nan)
    ok = np.all([np.isfinite(a) for a in arrs], axis=0) & (R > 0)
    if not ok.any():
        return out
    vxvv = np.stack([R[ok] / ro, vR[ok] / vo, vphi[ok] / vo, z[ok] / ro, vz[ok] / vo,
                     np.deg2rad(phi[ok])], axis=-1)
    ts = np.linspace(0.0, time / time_in_Gyr(vo, ro), int(n_steps))
    pot = galpy_potential(potential)
    res = np.empty(len(vxvv))
    for i in range(0, len(vxvv), batch):
        o = Orbit(vxvv[i:i + batch])
        o.integrate(ts, pot, method=method, progressbar=False)
        res[i:i + batch] = np.abs(np.atleast_2d(o.z(ts))).max(axis=-1) * ro
    out[ok] = res
    return out


def zmax_orbit(R: Values, z: Values, vR: Values, vphi: Values, vz: Values, *,
               phi: Values = 0.0, potential: str = "MWPotential2014", ro: float | None = None,
               vo: float | None = None, time: float = 10.0, n_steps: int = 10001,
               method: str = "dop853_c") -> Result:
    """z_max = max |z(t)| (kpc) of orbits integrated by galpy (Long et al. 2025 §2).

    Parameters
    ----------
    R, z, vR, vphi, vz : array-like or xr.DataArray (numpy or dask)
        Galactocentric cylindrical phase space in the library's convention
        (:mod:`cubes.frames`): kpc, km/s; z > 0 North, v_R > 0 outwards, v_φ > 0 along
        rotation. galpy's (R, v_R, v_T, z, v_z, φ) has the same senses (v_T = v_φ).
    phi : float, array-like or xr.DataArray
        Azimuth, deg (0 at the Sun, increasing along rotation); irrelevant in axisymmetric
        potentials.
    potential : str
        A galpy potential by name (default MWPotential2014; spec 003 used McMillan17).
    ro, vo : float, optional
        galpy's natural units, kpc and km/s, for a potential in natural units (default 8 kpc,
        220 km/s); a model in physical units (McMillan17) uses its own (as for
        :func:`cubes.dynamics.guiding_radius`).
    time : float
        Integration time, Gyr (spec 003: 10).
    n_steps : int
        Number of output times on [0, time] at which |z| is sampled (spec 003: 101, which
        underestimates z_max; the default samples every Myr).
    method : str
        galpy integrator.

    Returns
    -------
    Same type as the inputs; NaN where an input is not finite.
    """
    ro, vo = natural_units(potential, ro, vo)
    batch = max(1, 1_000_000 // int(n_steps))  # galpy keeps 6 × n_steps floats per orbit

    def func(r, zz, v_r, v_phi, w, p):
        return (_integrate_zmax(r, zz, v_r, v_phi, w, p, potential=potential, ro=float(ro),
                                vo=float(vo), time=float(time), n_steps=n_steps,
                                method=method, batch=batch),)

    return apply(func, R, z, vR, vphi, vz, phi, names=["zmax"],
                 attrs=[{"units": "kpc", "long_name": f"max |z| over {time} Gyr in "
                         f"{potential} (ro={ro}, vo={vo}, galpy {method})"}])
