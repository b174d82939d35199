"""CSV reader: one header line, one record per line, chunked by byte offsets.

A CSV file has no row index, so opening reads the whole file once (a local or cached copy;
remote or gzipped files are copied first) to find the byte offset of every chunk of
``chunk_size`` lines, count its rows and infer each column's type across chunks. Each chunk
task parses its lines again into a pyarrow Table of the wanted columns. Leading ``#`` lines
(e.g. an ECSV header) are skipped.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from dask.base import tokenize

from cubes.readers.common import Col, Table, arrow_dtype, identity, local_file


@dataclass(frozen=True)
class _CsvSpec:
    fs: Any
    path: str
    compression: str | None
    names: tuple[str, ...]
    start: int  # byte offsets
    stop: int


_SCAN_BLOCK = 1 << 24


def _csv_header(f, src: str) -> tuple[list[str], int]:
    """Column names and the byte offset of the first data line (skips ``#`` lines)."""
    import pyarrow.csv as pacsv

    pos = 0
    for line in iter(f.readline, b""):
        pos += len(line)
        if line.startswith(b"#") or not line.strip():
            continue
        names = pacsv.read_csv(io.BytesIO(line)).column_names
        return names, pos
    raise ValueError(f"{src!r} holds an empty table (no header line); a CSV catalog needs one")


def _csv_offsets(f, start: int, chunk_size: int) -> list[int]:
    """Byte offsets of the first line of every chunk of ``chunk_size`` lines, and of EOF."""
    offsets = [start]
    lines = 0
    pos = start
    f.seek(start)
    while True:
        buf = f.read(_SCAN_BLOCK)
        if not buf:
            break
        ends = np.flatnonzero(np.frombuffer(buf, np.uint8) == ord("\n"))
        number = lines + np.arange(1, ends.size + 1)
        offsets.extend((pos + ends[number % chunk_size == 0] + 1).tolist())
        lines += ends.size
        pos += len(buf)
    if offsets[-1] != pos:
        offsets.append(pos)
    return offsets


def _unify_arrow(types: list) -> Any:
    """One Arrow type for a CSV column from the types inferred chunk by chunk."""
    import pyarrow as pa

    kinds = {t for t in types if not pa.types.is_null(t)}
    if not kinds:
        return pa.float64()
    if len(kinds) == 1:
        return kinds.pop()
    if all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in kinds):
        return pa.float64()
    return pa.string()


def open_csv(fs, path, info, compression, chunk_size, src, *, read: Callable) -> Table:
    """The CSV file ``path`` as a :class:`Table` (scanned once for chunk offsets and column
    types); ``read`` is the block reader its graph calls (:func:`read_csv_block`)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    local = local_file(fs, path, compression)
    with open(local, "rb") as f:
        names, data_start = _csv_header(f, src)
        offsets = _csv_offsets(f, data_start, chunk_size)
        read_options = pacsv.ReadOptions(column_names=names, use_threads=True)
        types: dict[str, list] = {n: [] for n in names}
        nulls = dict.fromkeys(names, False)
        chunks: list[int] = []
        for start, stop in zip(offsets[:-1], offsets[1:], strict=True):
            f.seek(start)
            block = pacsv.read_csv(io.BytesIO(f.read(stop - start)), read_options=read_options,
                                   convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
            chunks.append(block.num_rows)
            for n in names:
                column = block.column(n)
                types[n].append(column.type)
                nulls[n] = nulls[n] or column.null_count > 0
    arrow_types = {n: _unify_arrow(t) for n, t in types.items()}
    columns = {}
    for n in names:
        dtype = arrow_dtype(arrow_types[n], nulls[n])
        if dtype is None:  # pragma: no cover - CSV inference only gives flat types
            dtype, arrow_types[n] = np.dtype(object), pa.string()
        columns[n] = Col(n, dtype, None, arrow_types[n])
    specs = [_CsvSpec(fs, path, compression, tuple(names), a, b)
             for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
    keep = [i for i, n in enumerate(chunks) if n > 0]
    specs, chunks = [specs[i] for i in keep], [chunks[i] for i in keep]
    token = tokenize(src, identity(info), chunk_size)
    return Table(columns, tuple(chunks), specs, token, "csv", read_block=read)


def read_csv_block(spec: _CsvSpec, cols: Sequence[Col]):
    """Parse the wanted columns of one chunk of lines (a pyarrow Table)."""
    import pyarrow.csv as pacsv

    local = local_file(spec.fs, spec.path, spec.compression)
    with open(local, "rb") as f:
        f.seek(spec.start)
        data = f.read(spec.stop - spec.start)
    return pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(column_names=list(spec.names), use_threads=False),
        convert_options=pacsv.ConvertOptions(
            column_types={c.name: c.extra for c in cols},
            include_columns=[c.name for c in cols],
            strings_can_be_null=True,
        ),
    )
