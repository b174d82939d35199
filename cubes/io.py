"""Open stellar catalogs (Parquet, FITS, CSV, HDF5; local or any fsspec URL) as lazy Datasets.

:func:`open_catalog` returns an ``xr.Dataset`` with one dim, ``"star"``, whose variables are dask
arrays with known chunk sizes. Opening reads metadata only; each chunk is read by its own task:

=========  ================================================================================
Parquet    one file or a directory of part files; chunks follow row groups (small row groups
           are merged up to ``chunk_size`` rows, larger ones are read whole and split); each
           task reads one column of its row groups.
FITS       the first binary-table HDU; each task slices a ``numpy.memmap`` of the table rows.
           Remote or gzipped files are first copied (and decompressed) to a local
           ``simplecache`` (fsspec), once per process, then memory-mapped.
CSV        ``,``-separated, one header line (leading ``#`` lines, e.g. an ECSV header, are
           skipped), one record per line. A CSV file has no row index: opening reads the
           whole file once to find the byte offset of every chunk, count its rows and infer
           column types. Remote or gzipped files are first copied to a local cache.
HDF5       either a group of equal-length 1-D datasets (one per column) or a 1-D
           compound-dtype dataset (one field per column); the first such table found
           (root first) is read.
=========  ================================================================================

Values are converted in the chunk function: big-endian to native byte order, FITS
``TSCAL``/``TZERO`` applied (unsigned integers kept as such), FITS logical to ``bool``, byte
strings decoded to numpy unicode (fixed width) or ``object`` (variable width; a missing string is
NaN, as xarray and pandas hold it), and a schema's
"missing" sentinels (e.g. LAMOST's ``-9999``) to NaN in floating-point columns. Integer Parquet
or CSV columns that contain nulls become float64 with NaN. Columns that cannot be one value per
star (FITS/HDF5 vector columns, Parquet lists and structs) are skipped with a warning.
"""

from __future__ import annotations

import contextlib
import io as _pyio
import os
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NoReturn
from urllib.parse import urlparse

import dask.array as da
import fsspec
import numpy as np
import xarray as xr
from dask.base import tokenize

from cubes.conventions import STAR_DIM
from cubes.schemas import (
    KNOWN_UNITS,
    SCHEMAS,
    Schema,
    UnknownColumnError,
    guess_id_column,
    resolve_schema,
)

__all__ = ["SUPPORTED_FORMATS", "open_catalog"]

#: Formats :func:`open_catalog` reads, with the file extensions that select them.
SUPPORTED_FORMATS: Mapping[str, tuple[str, ...]] = {
    "parquet": (".parquet", ".pq", ".parq"),
    "fits": (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz"),
    "csv": (".csv", ".ecsv", ".csv.gz", ".ecsv.gz"),
    "hdf5": (".h5", ".hdf5", ".hdf", ".he5"),
}
_FORMAT_ALIASES = {"pq": "parquet", "fit": "fits", "ecsv": "csv", "h5": "hdf5", "hdf": "hdf5"}
_GZIP_FORMATS = ("fits", "csv")


# --------------------------------------------------------------------------------------------
# public entry point
# --------------------------------------------------------------------------------------------


def open_catalog(
    source: str | os.PathLike,
    survey: str | Mapping[str, str] | Schema | None = None,
    *,
    columns: Sequence[str] | None = None,
    chunk_size: int = 1_000_000,
    storage_options: Mapping | None = None,
    format: str | None = None,
) -> xr.Dataset:
    """Open a stellar catalog lazily as an ``xr.Dataset`` with one dim, ``"star"``.

    Parameters
    ----------
    source : str or os.PathLike
        Local path, ``file://`` URL or any fsspec URL (``http(s)://``, ``s3://``, ...) of a
        Parquet file or directory of Parquet part files, a FITS binary table (``.fits``,
        ``.fit``, ``.fits.gz``), a CSV file (``.csv``, ``.csv.gz``) or an HDF5 file (``.h5``,
        ``.hdf5``).
    survey : str, Mapping, Schema or None
        Survey schema used to rename columns to canonical names and attach units: a name in
        :data:`cubes.schemas.SCHEMAS` (``"gaia_dr3"``, ``"lamost"``, ``"apogee_dr17"``), a
        mapping {archive column: canonical name}, a :class:`cubes.schemas.Schema`, or None
        (the file's own column names, unchanged).
    columns : sequence of str, optional
        Read only these columns (canonical or archive names). Default: all columns.
    chunk_size : int
        Largest number of rows in one dask chunk (rows).
    storage_options : Mapping, optional
        Passed to the fsspec filesystem (credentials, headers, ...).
    format : str, optional
        ``"parquet"``, ``"fits"``, ``"csv"`` or ``"hdf5"``; default: from the extension.

    Returns
    -------
    xr.Dataset
        Every data variable is a dask array along ``"star"`` with known chunk sizes of at most
        ``chunk_size`` rows; ``attrs["units"]`` (astropy string, when known) and
        ``attrs["archive_name"]`` on each variable; Dataset ``attrs``: ``source``, ``survey``
        (schema name, ``"custom"`` or ``"none"``), ``id_column`` (canonical star-id name or
        None), ``selections`` (``[]``) and ``format``.

    Raises
    ------
    ValueError
        Unknown survey or format, missing required columns, an empty table, bad arguments.
    FileNotFoundError, OSError
        The path or URL cannot be reached.
    UnknownColumnError
        A name in ``columns`` is not in the file.

    Notes
    -----
    Opening reads metadata only for Parquet, FITS and HDF5 (remote or gzipped FITS are copied
    to a local cache first so they can be memory-mapped). CSV has no row index, so opening a
    CSV file parses it once to count rows and infer types; values are parsed again, chunk by
    chunk, when computed.
    """
    if not isinstance(chunk_size, int | np.integer) or isinstance(chunk_size, bool) \
            or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive number of rows; got {chunk_size!r}")
    chunk_size = int(chunk_size)
    schema = resolve_schema(survey)
    src = os.fspath(source)
    fmt, compression = _detect_format(src, format)
    fs, path = _filesystem(src, storage_options)
    info = _reach(fs, path, src)
    if fmt is None:
        fmt = _format_of_directory(info, src)
    missing = schema.missing if schema is not None else ()

    table = _OPENERS[fmt](fs, path, info, compression, chunk_size, src)
    if sum(table.chunks) == 0:
        raise ValueError(
            f"{src!r} holds an empty table (0 rows); a catalog needs at least one star"
        )
    if not table.columns:
        raise ValueError(f"{src!r} holds a table without any readable column")

    names = _canonical_names(table.columns, schema, src)
    wanted = _resolve_columns(columns, names, table, src)
    arrays = table.arrays(wanted, missing)
    data_vars = {
        names[a].name: xr.Variable((STAR_DIM,), arrays[a], names[a].attrs) for a in wanted
    }
    present = [names[a].name for a in wanted]
    if schema is not None and schema.name != "custom":
        id_column = schema.id_column if schema.id_column in present else None
    else:
        id_column = guess_id_column(present)
    attrs = {
        "source": src,
        "survey": schema.name if schema is not None else "none",
        "id_column": id_column,
        "selections": [],
        "format": fmt,
    }
    return xr.Dataset(data_vars, attrs=attrs)


# --------------------------------------------------------------------------------------------
# where and what the file is
# --------------------------------------------------------------------------------------------


def _detect_format(src: str, format: str | None) -> tuple[str | None, str | None]:
    """(format, compression) from ``format=`` or the extension of ``src`` (None: no known
    extension, maybe a directory)."""
    name = urlparse(src).path if "://" in src else src
    name = name.rstrip("/").lower()
    gz = name.endswith(".gz")
    base = name[: -len(".gz")] if gz else name
    if format is not None:
        fmt = _FORMAT_ALIASES.get(format.lower(), format.lower())
        if fmt not in SUPPORTED_FORMATS:
            raise ValueError(
                f"unknown format {format!r}; supported formats are {sorted(SUPPORTED_FORMATS)!r}"
            )
    else:
        fmt = next(
            (f for f, exts in SUPPORTED_FORMATS.items() if base.endswith(exts)), None
        )
        if fmt is None and not gz:
            return None, None  # a directory of Parquet parts? decided once it is reached
        if fmt is None:
            _unknown_format(src)
    if gz and fmt not in _GZIP_FORMATS:
        raise ValueError(
            f"{src!r} is gzip-compressed; only {list(_GZIP_FORMATS)!r} files can be read "
            "compressed"
        )
    return fmt, ("gzip" if gz else None)


def _unknown_format(src: str) -> NoReturn:
    supported = ", ".join(e for exts in SUPPORTED_FORMATS.values() for e in exts)
    raise ValueError(
        f"cannot tell the format of {src!r} from its extension; supported extensions "
        f"are {supported} (or a directory of Parquet files); pass format= one of "
        f"{sorted(SUPPORTED_FORMATS)!r}"
    )


def _format_of_directory(info: Mapping, src: str) -> str:
    """"parquet" for a directory (of part files); an error for a file without extension."""
    if info.get("type") == "directory":
        return "parquet"
    _unknown_format(src)


def _filesystem(src: str, storage_options: Mapping | None) -> tuple[Any, str]:
    try:
        return fsspec.core.url_to_fs(src, **dict(storage_options or {}))
    except (ValueError, ImportError) as exc:
        raise ValueError(f"cannot open {src!r}: {exc}") from exc


def _reach(fs, path: str, src: str) -> dict:
    """``fs.info(path)``, with errors that name ``src``."""
    try:
        return fs.info(path)
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            f"cannot open catalog {src!r}: no such file or directory, or the server cannot be "
            f"reached ({type(exc).__name__}: {exc})"
        ) from exc
    except OSError as exc:
        raise OSError(f"cannot reach catalog {src!r}: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:  # aiohttp, botocore ... raise their own types
        raise OSError(f"cannot reach catalog {src!r}: {type(exc).__name__}: {exc}") from exc


def _is_local(fs) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocol or "local" in protocol


def _identity(info: Mapping) -> tuple:
    """What distinguishes two versions of a file (for dask key names)."""
    keys = ("name", "size", "mtime", "created", "ETag", "etag", "LastModified", "last_modified")
    return tuple((k, str(info[k])) for k in keys if k in info)


_LOCAL_COPIES: dict[tuple, str] = {}
_LOCAL_LOCK = threading.Lock()


def _local_file(fs, path: str, compression: str | None) -> str:
    """A local, uncompressed path for ``path``: itself, or a ``simplecache`` copy.

    Copies are made once per process (also on dask workers, which receive the URL).
    """
    if _is_local(fs) and compression is None:
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
class _Col:
    """One readable column of a table."""

    name: str  # as spelled in the file
    dtype: np.dtype  # dtype of every chunk
    units: str | None = None  # units written in the file, if any
    extra: Any = None  # format-specific reading info


@dataclass
class _Table:
    """A table that can build one dask array per column.

    ``read(spec, col) -> array`` reads column ``col`` of chunk ``spec`` (column-wise formats);
    ``read_block(spec, cols) -> pyarrow.Table`` reads all wanted columns of a chunk (CSV).
    """

    columns: dict[str, _Col]
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

    def _column_array(self, col: _Col, missing: tuple[float, ...]) -> da.Array:
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


def _chunk(read: Callable, spec, col: _Col, n: int, missing) -> np.ndarray:
    """Dask task: read one chunk of one column and convert it."""
    return _finish(read(spec, col), col, n, missing)


def _block_column(col: _Col, n: int, missing, block) -> np.ndarray:
    """Dask task: pick one column of an already-read block and convert it."""
    return _finish(_arrow_to_numpy(block.column(col.name), col), col, n, missing)


def _finish(values, col: _Col, n: int, missing: tuple[float, ...]) -> np.ndarray:
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
# names, units, columns=
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Name:
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


def _canonical_names(columns: Mapping[str, _Col], schema: Schema | None,
                     src: str) -> dict[str, _Name]:
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
    out: dict[str, _Name] = {}
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
        out[archive] = _Name(name, attrs)
    return out


def _resolve_columns(columns: Sequence[str] | None, names: Mapping[str, _Name], table: _Table,
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


def _warn_skipped(skipped: Mapping[str, str], src: str) -> None:
    if skipped:
        listed = ", ".join(f"{k} ({v})" for k, v in skipped.items())
        warnings.warn(
            f"{src!r}: {len(skipped)} column(s) are not one value per star and were skipped: "
            f"{listed}",
            stacklevel=4,
        )


# --------------------------------------------------------------------------------------------
# Arrow (Parquet and CSV)
# --------------------------------------------------------------------------------------------


def _arrow_dtype(typ, has_nulls: bool) -> np.dtype | None:
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


def _arrow_to_numpy(chunked, col: _Col) -> np.ndarray:
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
# Parquet
# --------------------------------------------------------------------------------------------


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
    exts = SUPPORTED_FORMATS["parquet"]
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
        if _is_local(fs):
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
    floats, False for integers whose statistics are absent: see _arrow_to_numpy)."""
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


def _open_parquet(fs, path, info, compression, chunk_size, src) -> _Table:
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
    columns: dict[str, _Col] = {}
    skipped: dict[str, str] = {}
    for f in schema:
        dtype = _arrow_dtype(f.type, nulls.get(f.name, False))
        if dtype is None:
            skipped[f.name] = f"Arrow type {f.type}"
            continue
        meta = f.metadata or {}
        units = meta.get(b"units", meta.get(b"unit"))
        columns[f.name] = _Col(f.name, dtype, units.decode() if units else None)
    _warn_skipped(skipped, src)
    specs, chunks = [], []
    for p, md in zip(paths, metas, strict=True):
        sizes = [md.row_group(r).num_rows for r in range(md.num_row_groups)]
        for rgs, start, stop in _row_group_chunks(sizes, chunk_size):
            specs.append(_ParquetSpec(fs, p, rgs, start, stop))
            chunks.append(stop - start)
    token = tokenize(src, [_identity(i) for _, i in files], chunk_size)
    return _Table(columns, tuple(chunks), specs, token, "parquet", read=_read_parquet,
                  skipped=skipped)


def _read_parquet(spec: _ParquetSpec, col: _Col) -> np.ndarray:
    """Read one column of one chunk (its row groups only)."""
    import pyarrow.parquet as pq

    def read(source):
        pf = pq.ParquetFile(source)
        return pf.read_row_groups(list(spec.row_groups), columns=[col.name], use_threads=False)

    if _is_local(spec.fs):
        table = read(spec.path)
    else:
        with spec.fs.open(spec.path, "rb") as f:
            table = read(f)
    chunked = table.column(0).slice(spec.start, spec.stop - spec.start)
    return _arrow_to_numpy(chunked, col)


# --------------------------------------------------------------------------------------------
# FITS
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FitsSpec:
    fs: Any
    path: str
    compression: str | None
    offset: int  # byte offset of the table data
    row_dtype: np.dtype  # big-endian record dtype of one row
    nrows: int
    start: int
    stop: int


_UNSIGNED_ZERO = {"I": (2**15, "u2"), "J": (2**31, "u4"), "K": (2**63, "u8"), "B": (-128, "i1")}


def _fits_column(col) -> tuple[np.dtype | None, str, Any]:
    """(output dtype, reason if skipped, conversion) for an astropy ``Column``."""
    code = col.format.format
    repeat = col.format.repeat
    dim = col.dim
    if code in ("P", "Q"):
        return None, "variable-length array", None
    if code == "X":
        return None, "bit array", None
    if code == "A":
        if dim is not None and len(_fits_dims(dim)) > 1:
            return None, f"string array TDIM={dim}", None
        return np.dtype(f"U{max(repeat, 1)}"), "", ("str",)
    if repeat != 1:
        return None, f"vector of {repeat} values", None
    if code == "L":
        return np.dtype(bool), "", ("bool",)
    scale = 1 if col.bscale in (None, "") else col.bscale
    zero = 0 if col.bzero in (None, "") else col.bzero
    raw = np.dtype(col.format.recformat)
    if scale == 1 and code in _UNSIGNED_ZERO and zero == _UNSIGNED_ZERO[code][0]:
        return np.dtype(_UNSIGNED_ZERO[code][1]), "", ("offset", zero)
    if scale != 1 or zero != 0:
        out = np.dtype("f4") if code == "E" else np.dtype("f8")
        return out, "", ("scale", scale, zero)
    return raw.newbyteorder("="), "", ("plain",)


def _fits_dims(dim: str) -> tuple[int, ...]:
    return tuple(int(d) for d in dim.strip("() ").split(",") if d.strip())


def _first_table_hdu(hdul, src: str):
    from astropy.io import fits

    for idx, hdu in enumerate(hdul):
        if isinstance(hdu, fits.BinTableHDU):
            return idx, hdu
    raise ValueError(f"{src!r} has no FITS binary-table HDU; a catalog must be a binary table")


def _open_fits(fs, path, info, compression, chunk_size, src) -> _Table:
    from astropy.io import fits

    local = _local_file(fs, path, compression)
    try:
        hdul = fits.open(local, memmap=True, lazy_load_hdus=True)
    except OSError as exc:
        raise OSError(f"{src!r} is not a readable FITS file: {exc}") from exc
    with hdul:
        idx, hdu = _first_table_hdu(hdul, src)
        header = hdu.header
        nrows, rowlen = int(header["NAXIS2"]), int(header["NAXIS1"])
        offset = int(hdul.fileinfo(idx)["datLoc"])
        coldefs = hdu.columns
        rec = coldefs.dtype
        row_dtype = np.dtype({
            "names": list(rec.names),
            "formats": [rec.fields[n][0].newbyteorder(">") for n in rec.names],
            "offsets": [rec.fields[n][1] for n in rec.names],
            "itemsize": rowlen,
        })
        columns: dict[str, _Col] = {}
        skipped: dict[str, str] = {}
        for name, col in zip(rec.names, coldefs, strict=True):
            dtype, why, conv = _fits_column(col)
            if dtype is None:
                skipped[col.name] = why
                continue
            columns[col.name] = _Col(col.name, dtype, col.unit, (name, conv))
    _warn_skipped(skipped, src)
    starts = range(0, nrows, chunk_size)
    specs = [
        _FitsSpec(fs, path, compression, offset, row_dtype, nrows, s, min(s + chunk_size, nrows))
        for s in starts
    ]
    chunks = tuple(s.stop - s.start for s in specs)
    token = tokenize(src, _identity(info), chunk_size, idx)
    return _Table(columns, chunks, specs, token, "fits", read=_read_fits, skipped=skipped)


def _read_fits(spec: _FitsSpec, col: _Col) -> np.ndarray:
    """Slice one column of one chunk from a memory map of the table rows."""
    local = _local_file(spec.fs, spec.path, spec.compression)
    rows = np.memmap(local, dtype=spec.row_dtype, mode="r", offset=spec.offset,
                     shape=(spec.nrows,))
    field, conv = col.extra
    raw = np.array(rows[spec.start:spec.stop][field])  # copy out of the map
    del rows
    kind = conv[0]
    if kind == "bool":
        return raw.view(np.uint8) == ord("T")
    if kind == "offset":  # FITS unsigned (or signed byte) integers stored with TZERO
        native = raw.astype(raw.dtype.newbyteorder("="))
        if col.dtype.kind == "u":
            return native.view(col.dtype) ^ col.dtype.type(conv[1])
        return (native.astype(np.int16) + conv[1]).astype(col.dtype)
    if kind == "scale":
        return raw.astype(col.dtype) * col.dtype.type(conv[1]) + col.dtype.type(conv[2])
    return raw


# --------------------------------------------------------------------------------------------
# HDF5
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Hdf5Spec:
    fs: Any
    path: str
    dataset: str  # the table dataset (compound) or the columns' group
    compound: bool
    start: int
    stop: int


@contextlib.contextmanager
def _h5_open(fs, path: str):
    """An open ``h5py.File`` (remote files through an fsspec file object, closed after)."""
    import h5py

    if _is_local(fs):
        with h5py.File(path, "r") as f:
            yield f
        return
    with fs.open(path, "rb") as raw, h5py.File(raw, "r") as f:
        yield f


@contextlib.contextmanager
def _h5_open_or_explain(fs, path: str, src: str):
    try:
        opened = _h5_open(fs, path)
        f = opened.__enter__()
    except OSError as exc:
        raise OSError(f"{src!r} is not a readable HDF5 file: {exc}") from exc
    with contextlib.ExitStack() as stack:
        stack.push(opened)
        yield f


def _hdf5_dtype(dt: np.dtype) -> tuple[np.dtype | None, str]:
    """Output dtype of an HDF5 (field) dtype, or (None, reason)."""
    import h5py

    info = h5py.check_string_dtype(dt)
    if info is not None:
        return (np.dtype(object) if info.length is None else np.dtype(f"U{info.length}")), ""
    base = h5py.check_enum_dtype(dt)
    if base is not None:
        return np.dtype(dt).newbyteorder("="), ""
    if dt.shape:
        return None, f"vector of shape {dt.shape}"
    if dt.kind in "biufcmM":
        return dt.newbyteorder("="), ""
    return None, f"HDF5 type {dt}"


def _hdf5_units(attrs) -> str | None:
    for key in ("units", "unit", "UNITS", "UNIT"):
        if key in attrs:
            v = attrs[key]
            v = v.decode() if isinstance(v, bytes) else v
            return str(v)
    return None


def _find_hdf5_table(f, src: str):
    """(path, is_compound) of the first table in an HDF5 file, root group first."""
    import h5py

    def columns_of(group) -> list:
        return [k for k, v in group.items() if isinstance(v, h5py.Dataset) and v.ndim == 1
                and v.dtype.names is None]

    def compound_of(group) -> list:
        return [k for k, v in group.items() if isinstance(v, h5py.Dataset) and v.ndim == 1
                and v.dtype.names is not None]

    groups = [f]
    f.visititems(lambda name, obj: groups.append(obj) if isinstance(obj, h5py.Group) else None)
    for group in groups:
        if columns_of(group):
            return group.name, False
        found = compound_of(group)
        if found:
            return group[found[0]].name, True
    raise ValueError(
        f"{src!r} holds no table: expected a group of 1-D datasets (one per column) or a 1-D "
        "compound-dtype dataset"
    )


def _open_hdf5(fs, path, info, compression, chunk_size, src) -> _Table:
    columns: dict[str, _Col] = {}
    skipped: dict[str, str] = {}
    with _h5_open_or_explain(fs, path, src) as f:
        where, compound = _find_hdf5_table(f, src)
        if compound:
            dset = f[where]
            nrows = dset.shape[0]
            for name in dset.dtype.names:
                dtype, why = _hdf5_dtype(dset.dtype.fields[name][0])
                if dtype is None:
                    skipped[name] = why
                else:
                    columns[name] = _Col(name, dtype, None)
        else:
            group = f[where]
            lengths = {k: v.shape[0] for k, v in group.items()
                       if hasattr(v, "shape") and len(v.shape) == 1 and v.dtype.names is None}
            values, counts = np.unique(list(lengths.values()), return_counts=True)
            nrows = int(values[np.argmax(counts)])
            for name, dset in group.items():
                if not hasattr(dset, "shape"):
                    continue
                if len(dset.shape) != 1 or dset.dtype.names is not None:
                    skipped[name] = f"dataset of shape {dset.shape}" if dset.shape else "scalar"
                    continue
                if dset.shape[0] != nrows:
                    skipped[name] = f"length {dset.shape[0]} while the table has {nrows} rows"
                    continue
                dtype, why = _hdf5_dtype(dset.dtype)
                if dtype is None:
                    skipped[name] = why
                else:
                    columns[name] = _Col(name, dtype, _hdf5_units(dset.attrs))
    _warn_skipped(skipped, src)
    specs = [_Hdf5Spec(fs, path, where, compound, s, min(s + chunk_size, nrows))
             for s in range(0, nrows, chunk_size)]
    chunks = tuple(s.stop - s.start for s in specs)
    token = tokenize(src, _identity(info), chunk_size, where)
    return _Table(columns, chunks, specs, token, "hdf5", read=_read_hdf5, skipped=skipped)


def _read_hdf5(spec: _Hdf5Spec, col: _Col) -> np.ndarray:
    with _h5_open(spec.fs, spec.path) as f:
        if spec.compound:
            return f[spec.dataset].fields(col.name)[spec.start:spec.stop]
        dset = f[spec.dataset][col.name]
        if col.dtype.kind == "O":
            return dset.asstr()[spec.start:spec.stop]
        return dset[spec.start:spec.stop]


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


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
        names = pacsv.read_csv(_pyio.BytesIO(line)).column_names
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


def _open_csv(fs, path, info, compression, chunk_size, src) -> _Table:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    local = _local_file(fs, path, compression)
    with open(local, "rb") as f:
        names, data_start = _csv_header(f, src)
        offsets = _csv_offsets(f, data_start, chunk_size)
        read_options = pacsv.ReadOptions(column_names=names, use_threads=True)
        types: dict[str, list] = {n: [] for n in names}
        nulls = dict.fromkeys(names, False)
        chunks: list[int] = []
        for start, stop in zip(offsets[:-1], offsets[1:], strict=True):
            f.seek(start)
            block = pacsv.read_csv(_pyio.BytesIO(f.read(stop - start)), read_options=read_options,
                                   convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
            chunks.append(block.num_rows)
            for n in names:
                column = block.column(n)
                types[n].append(column.type)
                nulls[n] = nulls[n] or column.null_count > 0
    arrow_types = {n: _unify_arrow(t) for n, t in types.items()}
    columns = {}
    for n in names:
        dtype = _arrow_dtype(arrow_types[n], nulls[n])
        if dtype is None:  # pragma: no cover - CSV inference only gives flat types
            dtype, arrow_types[n] = np.dtype(object), pa.string()
        columns[n] = _Col(n, dtype, None, arrow_types[n])
    specs = [_CsvSpec(fs, path, compression, tuple(names), a, b)
             for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
    keep = [i for i, n in enumerate(chunks) if n > 0]
    specs, chunks = [specs[i] for i in keep], [chunks[i] for i in keep]
    token = tokenize(src, _identity(info), chunk_size)
    return _Table(columns, tuple(chunks), specs, token, "csv", read_block=_read_csv_block)


def _read_csv_block(spec: _CsvSpec, cols: Sequence[_Col]):
    """Parse the wanted columns of one chunk of lines (a pyarrow Table)."""
    import pyarrow.csv as pacsv

    local = _local_file(spec.fs, spec.path, spec.compression)
    with open(local, "rb") as f:
        f.seek(spec.start)
        data = f.read(spec.stop - spec.start)
    return pacsv.read_csv(
        _pyio.BytesIO(data),
        read_options=pacsv.ReadOptions(column_names=list(spec.names), use_threads=False),
        convert_options=pacsv.ConvertOptions(
            column_types={c.name: c.extra for c in cols},
            include_columns=[c.name for c in cols],
            strings_can_be_null=True,
        ),
    )


_OPENERS: dict[str, Callable[..., _Table]] = {
    "parquet": _open_parquet,
    "fits": _open_fits,
    "csv": _open_csv,
    "hdf5": _open_hdf5,
}
