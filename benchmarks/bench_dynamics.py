"""Guiding radii: cubes' tabulated inversion against galpy's per-star root finder, one run.

Target (issue 3): at least 1 Mstar/s. galpy's ``rl`` is timed on 2 000 stars (it is a root
find per star) and compared per star.

Usage: python benchmarks/bench_dynamics.py [--n 10000000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from galpy.potential import MWPotential2014, rl

from cubes.dynamics import guiding_radius


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000_000)
    n = p.parse_args(argv).n
    ro, vo = 8.34, 238.0
    lz = np.random.default_rng(1).uniform(200, 3500, n)
    guiding_radius(lz[:10], ro=ro, vo=vo)  # builds the table (once per potential and units)
    t = time.perf_counter()
    guiding_radius(lz, ro=ro, vo=vo)
    t_cubes = time.perf_counter() - t
    m = 2000
    t = time.perf_counter()
    for x in lz[:m]:
        rl(MWPotential2014, x / (ro * vo))
    t_galpy = (time.perf_counter() - t) / m * n
    print(f"{n:,} stars, MWPotential2014 (ro={ro}, vo={vo})")
    print(f"cubes guiding_radius   {t_cubes:8.3f} s  {n / t_cubes / 1e6:8.2f} Mstar/s")
    print(f"galpy rl (per star)    {t_galpy:8.1f} s  {n / t_galpy / 1e6:8.4f} Mstar/s "
          f"(timed on {m} stars)")
    print(f"cubes / galpy: {t_galpy / t_cubes:.0f}x; target >= 1 Mstar/s")


if __name__ == "__main__":
    main()
