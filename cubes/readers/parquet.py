"""Parquet reader: one file or a directory of part files, chunked along its row groups.

Opening reads the footers only (those of part files in parallel). Small row groups are merged into
chunks of up to ``chunk_size`` rows, larger ones split; each chunk task reads one column of its
row groups. Lists, structs and other nested columns are skipped with a warning.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from dask.base import tokenize

from cubes.readers.common import (
    Col,
    Table,
    arrow_dtype,
    arrow_to_numpy,
    identity,
    is_local,
    warn_skipped,
)

#: Extensions of Parquet files (and of the part files a directory is searched for).
EXTENSIONS = (".parquet", ".pq", ".parq")


@dataclass(frozen=True)
class _ParquetSpec:
    fs: Any
    path: str
    row_groups: tuple[int, ...]
    start: int
    stop: int


def _parquet_files(fs, path: str, info: Mapping, src: str) -> list[tuple[str, Mapping]]:
    """(path, info) of the Parquet files of a file or a directory, sorted by name."""
    if info.get("type") != "directory":
        return [(path, info)]
    exts = EXTENSIONS
    found = fs.find(path, detail=True)
    files = [
        (p, i) for p, i in sorted(found.items())
        if i.get("type", "file") == "file"
        and not os.path.basename(p).startswith(("_", "."))
        and p.lower().endswith(exts)
    ]
    if not files:
        raise ValueError(f"directory {src!r} contains no Parquet file (*{', *'.join(exts)})")
    return files


def _parquet_metadata(fs, path: str):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if is_local(fs):
            return pq.read_metadata(path)
        with fs.open(path, "rb") as f:
            return pq.read_metadata(f)
    except pa.ArrowException as exc:
        raise ValueError(
            f"{fs.unstrip_protocol(path)!r} is not a readable Parquet file: {exc}"
        ) from exc


def _row_group_chunks(sizes: Sequence[int], chunk_size: int) -> list[tuple[tuple[int, ...], int,
                                                                            int]]:
    """Group consecutive row groups into chunks of ≤ chunk_size rows.

    Returns (row groups, start, stop) with start/stop rows within the concatenated groups; a
    row group larger than chunk_size is split into several chunks.
    """
    out: list[tuple[tuple[int, ...], int, int]] = []
    current: list[int] = []
    rows = 0
    for rg, n in enumerate(sizes):
        if n == 0:
            continue
        if n > chunk_size or rows + n > chunk_size:
            if current:
                out.append((tuple(current), 0, rows))
            current, rows = [], 0
        if n > chunk_size:
            out.extend(((rg,), s, min(s + chunk_size, n)) for s in range(0, n, chunk_size))
            continue
        current.append(rg)
        rows += n
    if current:
        out.append((tuple(current), 0, rows))
    return out


def _parquet_null_counts(md) -> dict[str, bool]:
    """Column path → whether any row group may hold nulls (True if statistics are absent for
    floats, False for integers whose statistics are absent: see arrow_to_numpy)."""
    out: dict[str, bool] = {}
    for j in range(md.num_columns):
        path = md.schema.column(j).path
        nulls = False
        for r in range(md.num_row_groups):
            stats = md.row_group(r).column(j).statistics
            if stats is not None and stats.has_null_count and stats.null_count > 0:
                nulls = True
                break
        out[path] = nulls
    return out


def open_parquet(fs, path, info, compression, chunk_size, src, *, read: Callable) -> Table:
    """The Parquet file or directory of part files ``path`` as a :class:`Table`; ``read`` is
    the chunk reader its graph calls (:func:`read_parquet`)."""
    files = _parquet_files(fs, path, info, src)
    paths = [p for p, _ in files]
    if len(paths) > 1:
        with ThreadPoolExecutor(max_workers=min(16, len(paths))) as pool:
            metas = list(pool.map(partial(_parquet_metadata, fs), paths))
    else:
        metas = [_parquet_metadata(fs, paths[0])]
    schema = metas[0].schema.to_arrow_schema()
    nulls: dict[str, bool] = {}
    for p, md in zip(paths, metas, strict=True):
        other = md.schema.to_arrow_schema()
        if other.names != schema.names:
            raise ValueError(
                f"Parquet files of {src!r} have different columns: {paths[0]!r} has "
                f"{schema.names!r}, {p!r} has {other.names!r}"
            )
        for k, v in _parquet_null_counts(md).items():
            nulls[k] = nulls.get(k, False) or v
    columns: dict[str, Col] = {}
    skipped: dict[str, str] = {}
    for f in schema:
        dtype = arrow_dtype(f.type, nulls.get(f.name, False))
        if dtype is None:
            skipped[f.name] = f"Arrow type {f.type}"
            continue
        meta = f.metadata or {}
        units = meta.get(b"units", meta.get(b"unit"))
        columns[f.name] = Col(f.name, dtype, units.decode() if units else None)
    warn_skipped(skipped, src)
    specs, chunks = [], []
    for p, md in zip(paths, metas, strict=True):
        sizes = [md.row_group(r).num_rows for r in range(md.num_row_groups)]
        for rgs, start, stop in _row_group_chunks(sizes, chunk_size):
            specs.append(_ParquetSpec(fs, p, rgs, start, stop))
            chunks.append(stop - start)
    token = tokenize(src, [identity(i) for _, i in files], chunk_size)
    return Table(columns, tuple(chunks), specs, token, "parquet", read=read,
                  skipped=skipped)


def read_parquet(spec: _ParquetSpec, col: Col) -> np.ndarray:
    """Read one column of one chunk (its row groups only)."""
    import pyarrow.parquet as pq

    def read(source):
        pf = pq.ParquetFile(source)
        return pf.read_row_groups(list(spec.row_groups), columns=[col.name], use_threads=False)

    if is_local(spec.fs):
        table = read(spec.path)
    else:
        with spec.fs.open(spec.path, "rb") as f:
            table = read(f)
    chunked = table.column(0).slice(spec.start, spec.stop - spec.start)
    return arrow_to_numpy(chunked, col)
