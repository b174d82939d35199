"""Intruder simulation: the PEFRL numba kernel against galpy's Orbit.integrate, in one run.

The same disk orbits (from :func:`cubes.mock.intruder.initial_conditions`) are integrated for
1.1 Gyr (relaxation + 0.5 Gyr after the kick) in galpy's Irrgang13I by
- cubes' kernel (PEFRL, 4th order symplectic, fixed steps, numba prange over particles);
- galpy's ``symplec4_c`` with the same fixed step (same order, same step count);
- galpy's adaptive ``dop853_c`` (what one would use for accuracy), outputs every 100 Myr.
Both galpy integrators run in C with ``numcores`` = the machine's cores. Throughput is printed
as particle-steps per second (steps of ``intruder``'s default, 1 Myr) and the agreement of the
final positions. Then the wall time of a default ``cubes.mock.intruder()`` call.

Usage: python benchmarks/bench_intruder.py [--n-galpy 200] [--n-kernel 200000] [--no-default]
"""

from __future__ import annotations

import argparse
import importlib
import os
import time
import warnings

import numpy as np

from cubes.kernels import orbits as ko

mi = importlib.import_module("cubes.mock.intruder")  # the module (its name is also the function's)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-galpy", type=int, default=200)
    p.add_argument("--n-kernel", type=int, default=200_000)
    p.add_argument("--no-default", action="store_true", help="skip the default intruder() call")
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    from galpy.orbit import Orbit
    from galpy.potential.mwpotentials import Irrgang13I
    from galpy.util import conversion

    cores = os.cpu_count() or 1
    T, dt = 1100.0, mi.DT  # Myr
    nsteps = int(round(T / dt))
    h = dt / mi.KPC_PER_KMS_MYR
    pot = mi.irrgang13i()
    state = mi.initial_conditions(max(args.n_kernel, args.n_galpy), np.random.default_rng(0))
    ko.integrate(state[:8].copy(), h, 2, pot["p"], pot["q"])  # compile outside the timings
    print(f"{T:.0f} Myr in Irrgang13I, {dt} Myr steps ({nsteps} steps), {cores} cores")

    big = state[:args.n_kernel].copy()
    t0 = time.perf_counter()
    ko.integrate(big, h, nsteps, pot["p"], pot["q"])
    t_kernel = time.perf_counter() - t0
    rate_kernel = args.n_kernel * nsteps / t_kernel

    m = args.n_galpy
    small = state[:m].copy()
    t0 = time.perf_counter()
    ko.integrate(small, h, nsteps, pot["p"], pot["q"])
    t_small = time.perf_counter() - t0

    x, y, z, vx, vy, vz = state[:m].T
    R, phi = np.hypot(x, y), np.arctan2(y, x)
    vR = vx * np.cos(phi) + vy * np.sin(phi)
    vT = -vx * np.sin(phi) + vy * np.cos(phi)
    ro, vo = mi.RO, mi.VO
    vxvv = np.stack([R / ro, vR / vo, vT / vo, z / ro, vz / vo, phi], 1)
    t_end = T / 1e3 / conversion.time_in_Gyr(vo, ro)
    results = {}
    for method, ts, kw in (
            ("symplec4_c", np.array([0.0, t_end]), {"dt": h / (ro / vo)}),
            ("dop853_c", np.linspace(0.0, t_end, 12), {})):
        o = Orbit(vxvv)
        t0 = time.perf_counter()
        o.integrate(ts, Irrgang13I, method=method, numcores=cores, progressbar=False, **kw)
        el = time.perf_counter() - t0
        end = np.stack([o.x(t_end, use_physical=False), o.y(t_end, use_physical=False),
                        o.z(t_end, use_physical=False)], 1) * ro
        results[method] = (el, np.max(np.linalg.norm(small[:, :3] - end, axis=1)))

    def line(label, n, seconds, note=""):
        print(f"{label:34s} {n:>8,d} orbits {seconds:9.3f} s "
              f"{n * nsteps / seconds / 1e6:9.3f} M particle-steps/s {note}")

    line("cubes kernel (PEFRL, numba)", args.n_kernel, t_kernel)
    line("cubes kernel, the galpy orbits", m, t_small)
    for method, (el, diff) in results.items():
        line(f"galpy {method}", m, el,
             f"(x{rate_kernel / (m * nsteps / el):,.0f} slower; final positions differ by "
             f"{diff:.1e} kpc)")
    print(f"kernel vs galpy symplec4_c per particle-step: "
          f"x{rate_kernel / (m * nsteps / results['symplec4_c'][0]):.0f}")

    if not args.no_default:
        t0 = time.perf_counter()
        mi.intruder(progress=False)
        el = time.perf_counter() - t0
        n_default = mi.intruder.__defaults__[0]
        print(f"default intruder() ({n_default:,} particles, {mi.RELAX} + 0.5 Gyr, {mi.DT} Myr "
              f"steps): {el:.1f} s wall")


if __name__ == "__main__":
    main()
