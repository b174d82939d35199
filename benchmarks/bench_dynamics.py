"""Dynamics: cubes' tabulated kernels against galpy's per-star computations, in one run.

- guiding radius: cubes' tabulated inversion vs galpy's ``rl`` (a root find per star);
- radial action and angle: cubes' epicycle kernel vs galpy's ``actionAngleStaeckel`` (C, with
  ``estimateDeltaStaeckel`` per star, as ``radial_action_angle(method="staeckel")`` does);
- z_max: cubes' E_z table vs galpy orbit integration (10 Gyr, 10 001 samples, per orbit).

Target (issue 3): at least 1 Mstar/s for the tabulated labels. galpy is timed on a few
thousand stars (a few dozen orbits) and scaled per star.

``--mcmillan17`` also times building the E_z table in McMillan17 (Long+2025's potential; 601 ×
1001 points through galpy's C code) against galpy's Python ``evaluatePotentials`` and
``evaluatezforces`` on 200 of those points, scaled.

Usage: python benchmarks/bench_dynamics.py [--n 10000000] [--mcmillan17]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from galpy.potential import MWPotential2014, rl

from cubes.dynamics import guiding_radius, radial_action_angle, zmax_energy, zmax_orbit


def _timed(func, *args, **kwargs) -> float:
    t = time.perf_counter()
    func(*args, **kwargs)
    return time.perf_counter() - t


def _line(label: str, n: int, seconds: float, note: str = "") -> None:
    print(f"{label:32s} {seconds:11.3f} s {n / seconds / 1e6:9.4f} Mstar/s "
          f"{seconds / n * 1e9:12,.0f} ns/star {note}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000_000)
    p.add_argument("--mcmillan17", action="store_true")
    args = p.parse_args(argv)
    n = args.n
    ro, vo = 8.34, 238.0
    rng = np.random.default_rng(1)
    R = rng.uniform(4, 14, n)
    vR, vphi = rng.normal(0, 35, n), rng.normal(225, 30, n)
    z, vz = rng.normal(0, 0.3, n), rng.normal(0, 20, n)
    lz = R * vphi
    print(f"{n:,} stars, MWPotential2014 (ro={ro}, vo={vo}); galpy timed per star and scaled")

    # tables (once per potential and units) and numba compilation, outside the timings
    guiding_radius(lz[:10], ro=ro, vo=vo)
    radial_action_angle(R[:10], vR[:10], lz[:10], ro=ro, vo=vo)
    zmax_energy(R[:10], z[:10], vz[:10], ro=ro, vo=vo)

    t_rg = _timed(guiding_radius, lz, ro=ro, vo=vo)
    m = 2000
    t = time.perf_counter()
    for x in lz[:m]:
        rl(MWPotential2014, x / (ro * vo))
    t_rl = (time.perf_counter() - t) / m * n
    _line("cubes guiding_radius", n, t_rg)
    _line("galpy rl (per star)", n, t_rl, f"(timed on {m} stars)")

    t_epi = _timed(radial_action_angle, R, vR, lz, ro=ro, vo=vo)
    m = 2000
    sl = slice(0, m)
    t = time.perf_counter()
    radial_action_angle(R[sl], vR[sl], lz[sl], z=z[sl], vz=vz[sl], method="staeckel",
                        ro=ro, vo=vo)
    t_st = (time.perf_counter() - t) / m * n
    t = time.perf_counter()
    radial_action_angle(R[sl], vR[sl], lz[sl], z=z[sl], vz=vz[sl], method="staeckel",
                        ro=ro, vo=vo, delta=0.45)
    t_st_fixed = (time.perf_counter() - t) / m * n
    _line("cubes epicycle J_R, theta_R", n, t_epi)
    _line("galpy Staeckel (per-star delta)", n, t_st, f"(timed on {m} stars)")
    _line("galpy Staeckel (fixed delta)", n, t_st_fixed, f"(timed on {m} stars)")

    t_ze = _timed(zmax_energy, R, z, vz, ro=ro, vo=vo)
    m = 40
    t = time.perf_counter()
    zmax_orbit(R[:m], z[:m], vR[:m], vphi[:m], vz[:m], ro=ro, vo=vo)
    t_zo = (time.perf_counter() - t) / m * n
    _line("cubes zmax_energy", n, t_ze)
    _line("galpy orbits, 10 Gyr (per orbit)", n, t_zo, f"(timed on {m} orbits)")

    print(f"epicycle / Staeckel: {t_st / t_epi:,.0f}x; guiding radius / rl: "
          f"{t_rl / t_rg:,.0f}x; zmax_energy / orbits: {t_zo / t_ze:,.0f}x; "
          "target >= 1 Mstar/s")
    if args.mcmillan17:
        mcmillan17_table()


def mcmillan17_table() -> None:
    """The E_z table in McMillan17: cubes (galpy's C code) against galpy's Python path."""
    import galpy.potential as gp

    from cubes.dynamics import zmax as zm
    from cubes.dynamics._support import galpy_potential

    t = time.perf_counter()
    pot = galpy_potential("McMillan17")
    t_build = time.perf_counter() - t
    t_table = _timed(zmax_energy, [8.0], [0.1], [10.0], potential="McMillan17")
    points = zm._TABLE_R[2] * zm._TABLE_Z[1]
    m = 200
    R, z = np.linspace(0.01, 7.0, m), np.linspace(0.0, 1.2, m)
    t = time.perf_counter()
    gp.evaluatePotentials(pot, R, z)
    gp.evaluatezforces(pot, R, z)
    t_py = (time.perf_counter() - t) / m * points
    print(f"McMillan17: galpy builds the model in {t_build:.1f} s; the E_z table "
          f"({points:,} points) {t_table:.1f} s; galpy's Python Φ and F_z would take "
          f"{t_py:,.0f} s (timed on {m} points) = {t_py / t_table:,.0f}x")


if __name__ == "__main__":
    main()
