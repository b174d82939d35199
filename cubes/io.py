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

This module detects the format and builds the Dataset; each format's reader is a module of
:mod:`cubes.readers`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn
from urllib.parse import urlparse

import fsspec
import numpy as np
import xarray as xr

from cubes.conventions import STAR_DIM
from cubes.readers.common import Table, canonical_names, resolve_columns
from cubes.readers.csv import open_csv
from cubes.readers.csv import read_csv_block as _read_csv_block
from cubes.readers.fits import open_fits
from cubes.readers.fits import read_fits as _read_fits
from cubes.readers.hdf5 import open_hdf5
from cubes.readers.hdf5 import read_hdf5 as _read_hdf5
from cubes.readers.parquet import EXTENSIONS as PARQUET_EXTENSIONS
from cubes.readers.parquet import open_parquet
from cubes.readers.parquet import read_parquet as _read_parquet
from cubes.schemas import Schema, guess_id_column, resolve_schema

__all__ = ["SUPPORTED_FORMATS", "open_catalog"]

#: Formats :func:`open_catalog` reads, with the file extensions that select them.
SUPPORTED_FORMATS: Mapping[str, tuple[str, ...]] = {
    "parquet": PARQUET_EXTENSIONS,
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

    table = _OPENERS[fmt](fs, path, info, compression, chunk_size, src, read=_chunk_reader(fmt))
    if sum(table.chunks) == 0:
        raise ValueError(
            f"{src!r} holds an empty table (0 rows); a catalog needs at least one star"
        )
    if not table.columns:
        raise ValueError(f"{src!r} holds a table without any readable column")

    names = canonical_names(table.columns, schema, src)
    wanted = resolve_columns(columns, names, table, src)
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


# --------------------------------------------------------------------------------------------
# the readers (cubes.readers)
# --------------------------------------------------------------------------------------------


_OPENERS: dict[str, Callable[..., Table]] = {
    "parquet": open_parquet,
    "fits": open_fits,
    "csv": open_csv,
    "hdf5": open_hdf5,
}


def _chunk_reader(fmt: str) -> Callable:
    """The chunk reader the opener of ``fmt`` puts in its graph, looked up here at each call
    (so replacing ``cubes.io._read_parquet``, as a test does, reaches new catalogs)."""
    return {"parquet": _read_parquet, "fits": _read_fits, "csv": _read_csv_block,
            "hdf5": _read_hdf5}[fmt]
