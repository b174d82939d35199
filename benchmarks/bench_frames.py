"""cubes.galactocentric against astropy's Galactocentric transform, on the same stars, one run.

Both produce Galactocentric Cartesian positions and velocities for the same frame (Lin+2023
preset); cubes is timed for the same six outputs and for all 17 (adding R, phi, vR, vphi, Lz and
heliocentric X..W). Both are warmed up on 100 stars, then timed best of N on the full catalog
(3 for astropy, 7 for cubes), with the median and the slowest run printed as the spread.
astropy's first full-size call is printed too: it is 2-3× slower than its next ones (a fresh
process first touching its memory), and earlier versions of this script timed only that call.
Target: cubes ≥ 30× astropy.

Usage: python benchmarks/bench_frames.py [--n 2000000]
"""

from __future__ import annotations

import argparse
import time

import astropy.coordinates as coord
import astropy.units as u
import numpy as np
import xarray as xr

import cubes


def make(n: int, seed: int = 3) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    return xr.Dataset({
        "ra": ("star", rng.uniform(0, 360, n)),
        "dec": ("star", np.degrees(np.arcsin(rng.uniform(-1, 1, n)))),
        "parallax": ("star", rng.uniform(0.2, 5.0, n)),
        "pmra": ("star", rng.normal(0, 10, n)), "pmdec": ("star", rng.normal(0, 10, n)),
        "radial_velocity": ("star", rng.normal(0, 40, n)),
    })


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2_000_000)
    n = p.parse_args(argv).n
    ds = make(n)
    frame = cubes.Frame.preset("lin2023")

    def with_astropy(ds=ds):
        c = coord.SkyCoord(ra=ds.ra.values * u.deg, dec=ds.dec.values * u.deg,
                           distance=(1 / ds.parallax.values) * u.kpc,
                           pm_ra_cosdec=ds.pmra.values * u.mas / u.yr,
                           pm_dec=ds.pmdec.values * u.mas / u.yr,
                           radial_velocity=ds.radial_velocity.values * u.km / u.s)
        g = c.transform_to(frame.to_astropy())
        return g.cartesian.xyz.value, g.velocity.d_xyz.value

    def with_cubes(ds=ds):
        return cubes.galactocentric(ds, frame, outputs=("x", "y", "z", "vx", "vy", "vz"))

    def with_cubes_all(ds=ds):
        return cubes.galactocentric(ds, frame)

    small = ds.isel(star=slice(0, 100))
    for func in (with_astropy, with_cubes, with_cubes_all):  # numba compiles, astropy caches
        func(small)

    runs = {}
    # best of N against the noise of a shared machine (other jobs, memory-bound kernels)
    for name, func, repeat in (("astropy", with_astropy, 3), ("cubes", with_cubes, 7),
                               ("cubes, all 17 outputs", with_cubes_all, 7)):
        runs[name] = []
        for _ in range(repeat):
            t = time.perf_counter()
            func()
            runs[name].append(time.perf_counter() - t)
    times = {name: min(r) for name, r in runs.items()}
    print(f"{n:,} stars, frame {frame.name}")
    for name, r in runs.items():
        print(f"{name:22s} {min(r):8.3f} s  {n / min(r) / 1e6:8.2f} Mstar/s  "
              f"(median {np.median(r):.3f} s, slowest {max(r):.3f} s of {len(r)})")
    print(f"astropy's first call   {runs['astropy'][0]:8.3f} s")
    print(f"cubes / astropy speed, same outputs (x y z vx vy vz): "
          f"{times['astropy'] / times['cubes']:.1f}x (target >= 30x); with all 17 outputs "
          f"(R phi vR vphi Lz X..W too): {times['astropy'] / times['cubes, all 17 outputs']:.1f}x")


if __name__ == "__main__":
    main()
