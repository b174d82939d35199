"""A streamed build from Parquet: 100 M stars, peak memory of the building process.

1. Writes the kinematic mock disk (``cubes.mock.kinematic_disk``) to a directory of Parquet
   parts, chunk by chunk
   (skipped when the directory already holds the requested number of stars).
2. In a fresh subprocess, opens it lazily with ``cubes.open_catalog`` and builds a cube
   R × z × [Fe/H] with vz (moments, errors) and 16 jackknife groups, then prints throughput and
   the subprocess's peak resident memory (``ru_maxrss``), which must stay under 2 GB.

Usage: python benchmarks/bench_stream_parquet.py [--n 100000000] [--dir /tmp/cubes-stream]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

PART_ROWS = 2_000_000


def write_parts(n: int, out: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cubes.mock import kinematic as mock

    marker = out / "_n_stars.json"
    if marker.exists() and json.loads(marker.read_text())["n"] == n:
        print(f"reusing {out} ({n:,} stars)")
        return
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("part-*.parquet"):
        old.unlink()
    t = time.perf_counter()
    columns = ["source_id", "R", "z", "vz", "vz_error", "feh"]
    for i, start in enumerate(range(0, n, PART_ROWS)):
        rows = min(PART_ROWS, n - start)
        part = mock._chunk(7, i, rows, start, mock.DEFAULT_POPULATIONS, 20.0)
        table = pa.table({c: part[c] for c in columns})
        pq.write_table(table, out / f"part-{i:04d}.parquet", row_group_size=500_000)
        print(f"\rwriting parts: {start + rows:,} / {n:,} stars", end="", flush=True)
    marker.write_text(json.dumps({"n": n}))
    print(f"\nwrote {n:,} stars in {time.perf_counter() - t:.0f} s")


BUILD = r"""
import resource, sys, time
import cubes
from cubes import axes
path = sys.argv[1]
t = time.perf_counter()
stars = cubes.open_catalog(path, chunk_size=1_000_000)
cube = cubes.bin_catalog(
    stars,
    axes={"R": axes.regular(4, 14, 0.5), "z": axes.symmetric(3, 0.1),
          "feh": axes.regular(-1.5, 0.7, 0.1)},
    values=["vz"], errors={"vz": "vz_error"}, replicates=16, progress=True)
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
n = cube.attrs["stars_read"]
print(f"stars read {n:,}, used {cube.attrs['stars_used']:,}; cube {dict(cube.sizes)}")
print(f"streamed build: {dt:.1f} s, {n / dt / 1e6:.2f} Mstar/s, "
      f"peak resident memory {peak:.2f} GB (target < 2 GB)")
"""


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100_000_000)
    p.add_argument("--dir", default="/tmp/cubes-stream")
    args = p.parse_args(argv)
    out = Path(args.dir)
    write_parts(args.n, out)
    subprocess.run([sys.executable, "-c", BUILD, str(out)], check=True)


if __name__ == "__main__":
    main()
