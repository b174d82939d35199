"""Building the Gaia-like mock (cubes.mock.disk): 10 M stars, target < 2 minutes on 2 cores.

Times, in one run:
1. ``cubes.mock.disk(n).compute()``: all 44 columns in memory (dask threads, one chunk per task);
2. the same catalog streamed straight into a cube (galactocentric from the noisy astrometry →
   bin_catalog over R, z with 16 jackknife groups), never held whole;
3. reference for the dominant step: astropy's ICRS ← Galactocentric transform of 1 M of the
   same stars' true phase space, against the mock's own inverse transform (numpy on astropy's
   matrices).

Usage: python benchmarks/bench_mock.py [--n 10000000]
"""

from __future__ import annotations

import argparse
import time

import astropy.coordinates as coord
import astropy.units as u
import numpy as np

import cubes
from cubes import axes, mock
from cubes.mock.observe import astrometry


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000_000)
    n = p.parse_args(argv).n
    mock.disk(10_000, seed=0).compute()  # imports and table set-up outside the timing

    t = time.perf_counter()
    stars = mock.disk(n, seed=1).compute()
    t_mem = time.perf_counter() - t
    nbytes = stars.nbytes

    t = time.perf_counter()
    lazy = cubes.galactocentric(mock.disk(n, seed=1), "widmark2025", outputs=("R", "z", "vz"))
    cube = cubes.bin_catalog(lazy, {"R": axes.regular(4, 13, 1.0), "z": axes.symmetric(2, 0.1)},
                             values=["vz"], errors={"vz": "vz_error"}, replicates=16,
                             progress=True)
    t_cube = time.perf_counter() - t

    m = min(n, 1_000_000)
    s = stars.isel(star=slice(0, m))
    frame = cubes.Frame.preset("widmark2025")
    cols = [s[f"{c}_true"].values for c in ("x", "y", "z", "vx", "vy", "vz")]
    t = time.perf_counter()
    vel = coord.CartesianDifferential(*(c * u.km / u.s for c in cols[3:]))
    g = frame.to_astropy().realize_frame(
        coord.CartesianRepresentation(*(c * u.kpc for c in cols[:3]), differentials=vel))
    icrs = g.transform_to(coord.ICRS())
    _ = icrs.pm_ra_cosdec, icrs.pm_dec, icrs.radial_velocity
    t_astropy = time.perf_counter() - t
    t = time.perf_counter()
    ours = astrometry(*cols, frame)
    t_ours = time.perf_counter() - t
    dra = np.abs(((ours["ra"] - icrs.ra.deg + 180) % 360) - 180).max()

    print(f"mock.disk, {n:,} stars, {len(stars.data_vars)} columns ({nbytes / 1e9:.1f} GB)")
    print(f"  in memory (.compute())            {t_mem:7.1f} s  {n / t_mem / 1e6:6.2f} Mstar/s"
          f"   (target: < 120 s for 10 M)")
    print(f"  streamed into a cube              {t_cube:7.1f} s  {n / t_cube / 1e6:6.2f} Mstar/s"
          f"   ({int(cube.attrs['stars_used']):,} stars used)")
    print(f"inverse transform, {m:,} stars: astropy {t_astropy:.3f} s, cubes.mock "
          f"{t_ours:.3f} s ({t_astropy / t_ours:.1f}x); max |Δra| {dra * 3.6e6:.2e} mas")


if __name__ == "__main__":
    main()
