"""HDF5 reader: a group of equal-length 1-D datasets or a 1-D compound-dtype dataset.

The first such table found (root group first) is read: one column per dataset or per field.
Opening reads metadata only; each chunk task reads one column's slice of rows (remote files
through an fsspec file object). Datasets of another length or shape are skipped with a warning.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from dask.base import tokenize

from cubes.readers.common import Col, Table, identity, is_local, warn_skipped


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

    if is_local(fs):
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


def open_hdf5(fs, path, info, compression, chunk_size, src, *, read: Callable) -> Table:
    """The first table of the HDF5 file ``path`` as a :class:`Table`; ``read`` is the chunk
    reader its graph calls (:func:`read_hdf5`)."""
    columns: dict[str, Col] = {}
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
                    columns[name] = Col(name, dtype, None)
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
                    columns[name] = Col(name, dtype, _hdf5_units(dset.attrs))
    warn_skipped(skipped, src)
    specs = [_Hdf5Spec(fs, path, where, compound, s, min(s + chunk_size, nrows))
             for s in range(0, nrows, chunk_size)]
    chunks = tuple(s.stop - s.start for s in specs)
    token = tokenize(src, identity(info), chunk_size, where)
    return Table(columns, chunks, specs, token, "hdf5", read=read, skipped=skipped)


def read_hdf5(spec: _Hdf5Spec, col: Col) -> np.ndarray:
    with _h5_open(spec.fs, spec.path) as f:
        if spec.compound:
            return f[spec.dataset].fields(col.name)[spec.start:spec.stop]
        dset = f[spec.dataset][col.name]
        if col.dtype.kind == "O":
            return dset.asstr()[spec.start:spec.stop]
        return dset[spec.start:spec.stop]
