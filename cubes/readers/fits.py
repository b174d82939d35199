"""FITS reader: the first binary-table HDU, read by slicing a memory map of its rows.

Opening reads the headers only; remote or gzipped files are first copied (and decompressed) to
a local ``simplecache`` once per process, then memory-mapped. Chunk tasks convert FITS logical
to ``bool`` and apply ``TSCAL``/``TZERO`` (unsigned integers kept as such); vector, bit and
variable-length columns are skipped with a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from dask.base import tokenize

from cubes.readers.common import Col, Table, identity, local_file, warn_skipped


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


def open_fits(fs, path, info, compression, chunk_size, src, *, read: Callable) -> Table:
    """The first binary-table HDU of ``path`` as a :class:`Table`; ``read`` is the chunk
    reader its graph calls (:func:`read_fits`)."""
    from astropy.io import fits

    local = local_file(fs, path, compression)
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
        columns: dict[str, Col] = {}
        skipped: dict[str, str] = {}
        for name, col in zip(rec.names, coldefs, strict=True):
            dtype, why, conv = _fits_column(col)
            if dtype is None:
                skipped[col.name] = why
                continue
            columns[col.name] = Col(col.name, dtype, col.unit, (name, conv))
    warn_skipped(skipped, src)
    starts = range(0, nrows, chunk_size)
    specs = [
        _FitsSpec(fs, path, compression, offset, row_dtype, nrows, s, min(s + chunk_size, nrows))
        for s in starts
    ]
    chunks = tuple(s.stop - s.start for s in specs)
    token = tokenize(src, identity(info), chunk_size, idx)
    return Table(columns, chunks, specs, token, "fits", read=read, skipped=skipped)


def read_fits(spec: _FitsSpec, col: Col) -> np.ndarray:
    """Slice one column of one chunk from a memory map of the table rows."""
    local = local_file(spec.fs, spec.path, spec.compression)
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
