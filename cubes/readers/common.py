"""What the catalog readers share: file access, the column/table model and naming.

A reader opens a file into a :class:`Table`: its readable columns (:class:`Col`), its chunk
sizes, and one ``spec`` per chunk that a chunk reader turns into values. :meth:`Table.arrays`
builds one dask array per wanted column with one task per chunk, and every chunk goes through
the same conversion (native byte order, decoded strings, the column's dtype, a schema's
"missing" sentinels → NaN) whatever its format. Arrow types and arrays (Parquet, CSV) are
mapped to numpy here too. :func:`canonical_names` and :func:`resolve_columns` map the file's
column names to a schema's canonical names and units and pick the ``columns=`` asked for.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import dask.array as da
import fsspec
import numpy as np
from dask.base import tokenize

from cubes.schemas import KNOWN_UNITS, SCHEMAS, Schema, UnknownColumnError

# --------------------------------------------------------------------------------------------
# file access
# --------------------------------------------------------------------------------------------


def is_local(fs) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocol or "local" in protocol


def identity(info: Mapping) -> tuple:
    """What distinguishes two versions of a file (for dask key names)."""
    keys = ("name", "size", "mtime", "created", "ETag", "etag", "LastModified", "last_modified")
    return tuple((k, str(info[k])) for k in keys if k in info)


_LOCAL_COPIES: dict[tuple, str] = {}
_LOCAL_LOCK = threading.Lock()


def local_file(fs, path: str, compression: str | None) -> str:
    """A local, uncompressed path for ``path``: itself, or a ``simplecache`` copy.

    Copies are made once per process (also on dask workers, which receive the URL).
    """
    if is_local(fs) and compression is None:
        return path
    key = (type(fs).__name__, fs.unstrip_protocol(path), compression)
    with _LOCAL_LOCK:
        hit = _LOCAL_COPIES.get(key)
        if hit is not None and os.path.exists(hit):
            return hit
        cache = fsspec.filesystem("simplecache", fs=fs, compression=compression,
                                  skip_instance_cache=True)
        try:
            with cache.open(path, "rb") as f:
                local = f.name
        except Exception as exc:
            raise OSError(
                f"cannot copy {fs.unstrip_protocol(path)!r} to a local cache: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        _LOCAL_COPIES[key] = local
        return local


# --------------------------------------------------------------------------------------------
# tables: columns, chunks and the dask graph that reads them
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Col:
    """One readable column of a table."""

    name: str  # as spelled in the file
    dtype: np.dtype  # dtype of every chunk
    units: str | None = None  # units written in the file, if any
    extra: Any = None  # format-specific reading info


@dataclass
class Table:
    """A table that can build one dask array per column.

    ``read(spec, col) -> array`` reads column ``col`` of chunk ``spec`` (column-wise formats);
    ``read_block(spec, cols) -> pyarrow.Table`` reads all wanted columns of a chunk (CSV).
    """

    columns: dict[str, Col]
    chunks: tuple[int, ...]
    specs: list
    token: str
    kind: str
    read: Callable | None = None
    read_block: Callable | None = None
    skipped: dict[str, str] = field(default_factory=dict)

    def arrays(self, names: Sequence[str], missing: tuple[float, ...]) -> dict[str, da.Array]:
        if self.read_block is not None:
            return self._block_arrays(names, missing)
        return {n: self._column_array(self.columns[n], missing) for n in names}

    def _column_array(self, col: Col, missing: tuple[float, ...]) -> da.Array:
        name = f"read-{self.kind}-{tokenize(self.token, col.name, str(col.dtype), missing)}"
        dsk = {
            (name, i): (partial(_chunk, self.read, spec, col, n, missing),)
            for i, (spec, n) in enumerate(zip(self.specs, self.chunks, strict=True))
        }
        return da.Array(dsk, name, chunks=(self.chunks,), dtype=col.dtype,
                        meta=np.empty((0,), col.dtype))

    def _block_arrays(self, names: Sequence[str], missing) -> dict[str, da.Array]:
        cols = [self.columns[n] for n in names]
        block = f"read-{self.kind}-block-{tokenize(self.token, names)}"
        dsk: dict = {
            (block, i): (partial(self.read_block, spec, cols),)
            for i, spec in enumerate(self.specs)
        }
        out = {}
        for col in cols:
            name = f"read-{self.kind}-{tokenize(block, col.name, missing)}"
            graph = dict(dsk)
            graph.update({
                (name, i): (partial(_block_column, col, n, missing), (block, i))
                for i, n in enumerate(self.chunks)
            })
            out[col.name] = da.Array(graph, name, chunks=(self.chunks,), dtype=col.dtype,
                                     meta=np.empty((0,), col.dtype))
        return out


def _chunk(read: Callable, spec, col: Col, n: int, missing) -> np.ndarray:
    """Dask task: read one chunk of one column and convert it."""
    return _finish(read(spec, col), col, n, missing)


def _block_column(col: Col, n: int, missing, block) -> np.ndarray:
    """Dask task: pick one column of an already-read block and convert it."""
    return _finish(arrow_to_numpy(block.column(col.name), col), col, n, missing)


def _finish(values, col: Col, n: int, missing: tuple[float, ...]) -> np.ndarray:
    """Native byte order, decoded strings, the chunk's dtype, sentinels → NaN."""
    values = np.asarray(values)
    if values.shape != (n,):
        raise RuntimeError(
            f"column {col.name!r}: a chunk has shape {values.shape}, expected ({n},); "
            "did the file change after it was opened?"
        )
    dtype = col.dtype
    if dtype.kind == "U":
        if values.dtype.kind == "S":
            values = np.char.decode(values, "latin-1")
        values = np.char.rstrip(values.astype(dtype, copy=False)).astype(dtype, copy=False)
    elif dtype.kind == "O":
        values = _as_str_objects(values)
    else:
        values = values.astype(dtype, copy=False)
    if not values.dtype.isnative:
        values = values.astype(values.dtype.newbyteorder("="))
    if missing and dtype.kind == "f":
        values = np.array(values, copy=True) if not values.flags.writeable else values
        values[np.isin(values, np.asarray(missing, dtype=dtype))] = np.nan
    return values


def _as_str_objects(values: np.ndarray) -> np.ndarray:
    """An object array of ``str``, bytes decoded as UTF-8, missing values (None) as NaN.

    NaN, not None, because xarray (with pandas ≥ 3) turns None into NaN in object arrays it
    holds in memory: a lazy and a computed catalog then agree.
    """
    if values.dtype.kind == "S":
        return np.array([v.decode("utf-8", errors="replace") for v in values], dtype=object)
    values = values.astype(object, copy=False)
    if any(v is None or isinstance(v, bytes) for v in values):
        return np.array([_str_or_nan(v) for v in values], dtype=object)
    return values


def _str_or_nan(v):
    if v is None:
        return np.nan
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    return v


# --------------------------------------------------------------------------------------------
# Arrow (Parquet and CSV)
# --------------------------------------------------------------------------------------------


def arrow_dtype(typ, has_nulls: bool) -> np.dtype | None:
    """numpy dtype for an Arrow type (None: not one value per row)."""
    import pyarrow as pa

    if pa.types.is_dictionary(typ):
        typ = typ.value_type
    if pa.types.is_null(typ) or pa.types.is_decimal(typ):
        return np.dtype("f8")
    if pa.types.is_integer(typ) or pa.types.is_boolean(typ):
        return np.dtype("f8") if has_nulls else np.dtype(typ.to_pandas_dtype())
    if pa.types.is_floating(typ):
        return np.dtype(typ.to_pandas_dtype())
    if pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_binary(typ) \
            or pa.types.is_large_binary(typ):
        return np.dtype(object)
    if pa.types.is_timestamp(typ):
        return np.dtype(f"datetime64[{typ.unit}]")
    if pa.types.is_date(typ):
        return np.dtype("datetime64[D]")
    if pa.types.is_duration(typ):
        return np.dtype(f"timedelta64[{typ.unit}]")
    return None


def arrow_to_numpy(chunked, col: Col) -> np.ndarray:
    """An Arrow (chunked) array as numpy in ``col.dtype``, nulls → NaN / None."""
    import pyarrow as pa

    typ = chunked.type
    if pa.types.is_dictionary(typ):
        chunked = chunked.cast(typ.value_type)
        typ = typ.value_type
    if col.dtype.kind == "f" and not pa.types.is_floating(typ):
        chunked = chunked.cast(pa.float64())
    elif col.dtype.kind in "iub" and chunked.null_count:
        raise ValueError(
            f"column {col.name!r} has null values that its file metadata did not announce; "
            "cannot represent them in an integer column"
        )
    elif pa.types.is_timestamp(typ) and typ.tz is not None:
        chunked = chunked.cast(pa.timestamp(typ.unit))
    if pa.types.is_date(typ):
        chunked = chunked.cast(pa.timestamp("s"))
    return np.asarray(chunked.to_numpy(zero_copy_only=False))


# --------------------------------------------------------------------------------------------
# names, units, columns=
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Name:
    name: str
    attrs: dict


def _parse_units(units: str | None) -> str | None:
    """An astropy-parseable string for units written in a file, or None."""
    if units is None:
        return None
    units = units.strip()
    if not units:
        return None
    import astropy.units as u

    for fmt in (None, "fits", "cds"):
        try:
            return u.Unit(units, format=fmt).to_string()
        except (ValueError, TypeError):
            continue
    return None


def canonical_names(columns: Mapping[str, Col], schema: Schema | None,
                     src: str) -> dict[str, Name]:
    """Archive name → canonical name and attrs, after checking required columns."""
    if schema is not None:
        absent = schema.missing_required(columns)
        if absent:
            fits_other = [n for n, s in SCHEMAS.items() if not s.missing_required(columns)]
            hint = f" (it has the columns of survey={fits_other[0]!r})" if fits_other else ""
            raise ValueError(
                f"{src!r} does not look like a {schema.name!r} catalog: the schema needs "
                f"columns {list(schema.required)!r}, missing {absent!r}; the file has "
                f"{list(columns)!r}{hint}"
            )
        matched = schema.match(columns)
    else:
        matched = {}
    generic = schema is None or schema.name == "custom"
    out: dict[str, Name] = {}
    used = {canonical for canonical, _ in matched.values()}
    for archive, col in columns.items():
        if archive in matched:
            name, units = matched[archive]
            if units is None:
                units = _parse_units(col.units)
        else:
            # a survey's extra columns join its lower-case canonical names; without a survey
            # the file's own names are kept exactly (R, vR and vphi are not r, vr, vphi)
            tried = (archive,) if schema is None else (archive.lower(), archive)
            name = next((c for c in tried if c not in used), None)
            if name is None:
                warnings.warn(
                    f"{src!r}: column {archive!r} skipped, its name collides with another "
                    "column's canonical name",
                    stacklevel=3,
                )
                continue
            units = _parse_units(col.units)
            if units is None and generic:
                units = KNOWN_UNITS.get(name)
        used.add(name)
        attrs = {"archive_name": archive}
        if units is not None:
            attrs = {"units": units, "archive_name": archive}
        out[archive] = Name(name, attrs)
    return out


def resolve_columns(columns: Sequence[str] | None, names: Mapping[str, Name], table: Table,
                     src: str) -> list[str]:
    """Archive names to read, in the requested order."""
    if columns is None:
        return list(names)
    if isinstance(columns, str):
        columns = [columns]
    by_canonical = {n.name: a for a, n in names.items()}
    by_lower = {a.lower(): a for a in names}
    out: list[str] = []
    for c in columns:
        archive = by_canonical.get(c) or (c if c in names else None) or by_lower.get(c.lower())
        if archive is None:
            skipped = {k.lower(): v for k, v in table.skipped.items()}
            if c.lower() in skipped:
                raise ValueError(
                    f"column {c!r} of {src!r} cannot be read as one value per star "
                    f"({skipped[c.lower()]})"
                )
            raise UnknownColumnError(
                f"column {c!r} is not in {src!r}; available columns are "
                f"{sorted(by_canonical)!r}"
            )
        if archive not in out:
            out.append(archive)
    return out


def warn_skipped(skipped: Mapping[str, str], src: str) -> None:
    if skipped:
        listed = ", ".join(f"{k} ({v})" for k, v in skipped.items())
        warnings.warn(
            f"{src!r}: {len(skipped)} column(s) are not one value per star and were skipped: "
            f"{listed}",
            stacklevel=4,
        )
