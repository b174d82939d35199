"""Benchmark: phase-spiral maps (issue 5) — 365 samples of 1e5 stars fitted by cubes.spiral.fit.

The samples are drawn from the Widmark+2025 model (cubes.mock.vertical_sample): a few parent
catalogs of 2e5 stars with known spirals (drawing is ~0.8 s per 1e5 stars, by
PhaseSpiral.modulation's tables) and bulk-only ones; each sample is a random 1e5-star
subset of one parent. Only the fit is timed: `cubes.spiral.fit` over a dask-chunked sample
dim with the processes scheduler (2 workers by default; --workers N).

    python benchmarks/bench_spiral.py [--samples 365] [--workers 2] [--scheduler processes]

It also prints the machine's load average (the cores are shared) and the time of one fit in
this process (median of 10), which bounds what the map can reach: samples × fit / workers.
"""

from __future__ import annotations

import argparse
import os
import time

import dask
import numpy as np

import cubes.spiral as cs
from cubes.mock.signals import PhaseSpiral
from cubes.mock.vertical_sample import vertical_sample

PARENTS = [(1.2, 3.0, 1.0, 0.2, 0.1), (0.8, 4.5, 2.0, 0.25, 0.05), (1.5, 3.5, 4.0, 0.1, 0.15),
           (1.0, 5.5, 5.0, 0.15, 0.1), None, None]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=365)
    ap.add_argument("--stars", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--scheduler", default="processes", choices=["processes", "threads"])
    args = ap.parse_args()
    t0 = time.perf_counter()
    parents = []
    for k, truth in enumerate(PARENTS):
        spiral = None if truth is None else PhaseSpiral(alpha=truth[3], beta=truth[4],
                                                        omega=truth[1], phi600=truth[2])
        amp = 1.0 if truth is None else truth[0]
        parents.append(vertical_sample(2 * args.stars, amplitude=amp, spiral=spiral, seed=k))
    rng = np.random.default_rng(0)
    zs, ws, lab, which = [], [], [], []
    for s in range(args.samples):
        k = s % len(PARENTS)
        pick = rng.choice(2 * args.stars, args.stars, replace=False)
        zs.append(parents[k][0][pick])
        ws.append(parents[k][1][pick])
        lab.append(np.full(args.stars, s))
        which.append(k)
    hist = cs.histogram(np.concatenate(zs), np.concatenate(ws), sample=np.concatenate(lab))
    print(f"mock: {args.samples} samples x {args.stars} stars drawn and binned in "
          f"{time.perf_counter() - t0:.1f} s")
    cs.fit(hist.isel(sample=[0, 4]))  # compile / load the numba cache, build the tables
    one = []
    for s in range(10):
        t1 = time.perf_counter()
        cs.fit(hist.isel(sample=[s]))
        one.append(time.perf_counter() - t1)
    print(f"one fit: {1000 * np.median(one):.0f} ms (median of 10, one process); "
          f"load average before the map {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    chunks = max(1, int(np.ceil(args.samples / (4 * args.workers))))
    with dask.config.set(scheduler=args.scheduler, num_workers=args.workers):
        t1 = time.perf_counter()
        maps = cs.fit(hist.chunk({"sample": chunks}))
        wall = time.perf_counter() - t1
    print(f"fit: {args.samples} samples in {wall:.1f} s wall on {args.workers} "
          f"{args.scheduler} ({wall / args.samples * args.workers * 1000:.0f} ms per fit per "
          f"worker; target < 60 s for 365 on 2 cores); load average after "
          f"{os.getloadavg()[0]:.1f}")
    which = np.array(which)
    for k, truth in enumerate(PARENTS):
        sel = maps.isel(sample=np.flatnonzero(which == k))
        q = np.bincount(sel["quality"].values.astype(int), minlength=4)
        label = "no spiral" if truth is None else "A,om,phi,a,b = " + ",".join(map(str, truth))
        print(f"  {label:34s} quality counts {q.tolist()}  A {float(sel.A_phi.median()):.3f}  "
              f"omega {float(sel.omega.median()):.3f} +- {float(sel.omega.std()):.3f}  "
              f"phi600 {float(sel.phi600.median()):.3f}")


if __name__ == "__main__":
    main()
