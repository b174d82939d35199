"""Throughput of cubes.bin_catalog against numpy, scipy and boost-histogram on the same stars.

One run, one data set (default 20 M stars held in memory), a 4-D cube
R × z × φ × [Fe/H] with 2 values (vz, vR) × (n, Σ, Σ²):

- numpy.histogramdd: the same cube, one call per moment (count, Σvz, Σvz², ΣvR, ΣvR²); with
  replicates the jackknife group is a 5th axis and the group hash is computed in numpy;
- scipy.stats.binned_statistic_dd: statistic="sum" over the 5 moment arrays at once;
- boost-histogram: storage Mean with 1 value (vz), regular axes (boost's Mean storage fills
  single-threaded: "Mean histograms do not support threaded filling");
- cubes: bin_catalog without replicates and with 16 jackknife groups (2 threads, Dask).

boost-histogram and cubes: best of 3 after 2 untimed full-size runs (the first large
allocations of a process are slower while the kernel assembles huge pages); numpy and scipy:
one run each (they take 15 s).

Usage: python benchmarks/bench_binning.py [--n 20000000] [--skip-slow]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import xarray as xr

import cubes
from cubes import axes as A
from cubes.kernels.binning import replicate_groups

AXES = {
    "R": A.regular(4.0, 14.0, 0.5),  # 20
    "z": A.symmetric(2.0, 0.1),  # 40
    "phi": A.regular(-20.0, 20.0, 4.0),  # 10
    "feh": A.regular(-1.0, 0.5, 0.15),  # 10
}


def make_stars(n: int, seed: int = 1) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    R = rng.gamma(2.0, 2.6, n) + 2.0
    z = rng.laplace(0.0, 0.35, n)
    return xr.Dataset(
        {
            "R": ("star", R), "z": ("star", z),
            "phi": ("star", rng.normal(0.0, 9.0, n)),
            "feh": ("star", rng.normal(-0.15, 0.25, n)),
            "vz": ("star", rng.normal(0.0, 18.0 + 10.0 * np.abs(z))),
            "vR": ("star", rng.normal(0.0, 35.0, n)),
            "source_id": ("star", rng.integers(0, 2**62, n)),
        },
        attrs={"id_column": "source_id"},
    )


def timed(func, repeat=1, warmup=0):
    """Best wall time of ``repeat`` calls after ``warmup`` untimed ones (same for every tool)."""
    for _ in range(warmup):
        func()
    best = np.inf
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = func()
        best = min(best, time.perf_counter() - t)
    return best, out


def edges(dim):
    return AXES[dim].bind(dim).edges


def numpy_cube(ds, k):
    sample = [ds[d].values for d in AXES]
    bins = [edges(d) for d in AXES]
    if k:
        g = replicate_groups(ds.source_id.values, 0, ds.sizes["star"], k)
        sample.append(g)
        bins.append(np.arange(k + 1) - 0.5)
    vz, vR = ds.vz.values, ds.vR.values
    return [np.histogramdd(sample, bins=bins, weights=w)[0]
            for w in (None, vz, vz * vz, vR, vR * vR)]


def scipy_cube(ds, k):
    from scipy.stats import binned_statistic_dd

    sample = [ds[d].values for d in AXES]
    bins = [edges(d) for d in AXES]
    if k:
        sample.append(replicate_groups(ds.source_id.values, 0, ds.sizes["star"], k))
        bins.append(np.arange(k + 1) - 0.5)
    vz, vR = ds.vz.values, ds.vR.values
    vals = [np.ones_like(vz), vz, vz * vz, vR, vR * vR]
    return binned_statistic_dd(sample, vals, "sum", bins=bins).statistic


def boost_mean(ds):
    import boost_histogram as bh

    h = bh.Histogram(*[bh.axis.Regular(AXES[d].size, edges(d)[0], edges(d)[-1]) for d in AXES],
                     storage=bh.storage.Mean())
    h.fill(*[ds[d].values for d in AXES], sample=ds.vz.values)
    return h


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20_000_000)
    p.add_argument("--skip-slow", action="store_true", help="skip numpy and scipy")
    args = p.parse_args(argv)
    n = args.n
    print(f"machine: {os.cpu_count()} cores; {n:,} stars; cube "
          f"{' x '.join(f'{d}:{a.size}' for d, a in AXES.items())} = "
          f"{int(np.prod([a.size for a in AXES.values()])):,} bins; values vz, vR x (n, S, S2)")
    ds = make_stars(n)
    # warm-up: compile the numba kernels outside the timings
    for k in (0, 16):
        cubes.bin_catalog(ds.isel(star=slice(0, 10_000)), AXES, ["vz", "vR"], replicates=k,
                          progress=False)
    rate = {}
    t, _ = timed(lambda: boost_mean(ds), repeat=3, warmup=2)
    rate["boost-histogram Mean (1 value, 1 thread)"] = n / t
    results = {}
    for k in (0, 16):
        t, results[k] = timed(lambda k=k: cubes.bin_catalog(ds, AXES, ["vz", "vR"],
                                                            replicates=k, progress=False),
                              repeat=3, warmup=2)
        rate[f"cubes K={k}"] = n / t
    if not args.skip_slow:
        for k in (0, 16):
            t, ref = timed(lambda k=k: numpy_cube(ds, k))
            rate[f"numpy.histogramdd K={k}"] = n / t
            cube = results[k]
            count = cube["count"].values
            ref_count = np.moveaxis(ref[0], -1, 0) if k else ref[0]
            assert np.array_equal(count, ref_count), "cubes and numpy disagree on counts"
            t, _ = timed(lambda k=k: scipy_cube(ds, k))
            rate[f"scipy.binned_statistic_dd K={k}"] = n / t
    print(f"{'tool':45s} {'Mstar/s':>10s}")
    for name, r in rate.items():
        print(f"{name:45s} {r / 1e6:10.2f}")
    boost = rate["boost-histogram Mean (1 value, 1 thread)"]
    for k in (0, 16):
        line = (f"cubes K={k:2d}: {rate[f'cubes K={k}'] / boost:5.2f}x boost-histogram")
        if not args.skip_slow:
            line += (f", {rate[f'cubes K={k}'] / rate[f'numpy.histogramdd K={k}']:6.1f}x numpy, "
                     f"{rate[f'cubes K={k}'] / rate[f'scipy.binned_statistic_dd K={k}']:6.1f}x"
                     " scipy")
        print(line)
    print("targets: K=0 >= 2x boost; K=16 >= 1x boost and >= 50x numpy")


if __name__ == "__main__":
    main()
