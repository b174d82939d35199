"""Moment cubes in Zarr stores: atomic writes, lazy opens, local or remote.

A cube is written as a Zarr format 3 group with consolidated metadata, so that opening it reads a
single ``zarr.json`` and a reader never lists a bucket. Every variable is chunked "along the axes"
(see :func:`chunk_policy`): a chunk holds all jackknife replicates of a compact block of bins, so a
slice such as ``cube.isel(R=0)`` reads few chunks and every statistic gets its replicates from the
same chunk.

Writes are atomic. A local store is written to a hidden sibling directory that is renamed into
place; a remote (fsspec) store is written under a hidden sibling prefix whose objects are then
copied into place with the root ``zarr.json`` last, so no reader ever sees root metadata before
the chunks it describes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import uuid
import warnings
from collections.abc import Hashable, Iterator, Mapping
from pathlib import Path
from typing import Any

import dask
import fsspec
import numpy as np
import xarray as xr

from .conventions import CUBE_KIND, REPLICATE_DIM

__all__ = ["CHUNK_BYTES", "chunk_policy", "open_cube", "write_cube"]

#: target size in bytes of one stored chunk (uncompressed).
CHUNK_BYTES = 2**20
#: HTTP timeouts (seconds) used unless ``storage_options["client_kwargs"]["timeout"]`` is given.
HTTP_CONNECT_TIMEOUT = 5.0
HTTP_READ_TIMEOUT = 20.0

_ROOT_META = "zarr.json"
_CONSOLIDATED_WARNING = "Consolidated metadata is currently not part"
_LOCAL_PROTOCOLS = ("file", "local")
_HTTP_PROTOCOLS = ("http", "https")


# --------------------------------------------------------------------------------------------
# chunking


def chunk_policy(
    dims: tuple[Hashable, ...],
    shape: tuple[int, ...],
    itemsize: int,
    *,
    overrides: Mapping[Hashable, int] | None = None,
    budget: int = CHUNK_BYTES,
) -> dict[Hashable, int]:
    """Stored chunk sizes of one variable, "along the axes".

    The ``replicate`` dim is never split. Then, from the outermost axis dim inward, each dim gets
    chunk 1 until the block of the remaining inner dims fits in ``budget`` bytes; the dim where
    the budget is reached gets the largest chunk that fits and the inner dims are whole.

    Parameters
    ----------
    dims, shape
        Dims and sizes of the variable, outermost first.
    itemsize
        Bytes per element.
    overrides
        Chunk sizes imposed on some dims (``-1`` for the whole dim); they count as fixed.
    budget
        Target bytes per chunk.

    Returns
    -------
    dict
        Chunk size of every dim (at least 1, at most the dim's size unless the size is 0).
    """
    overrides = overrides or {}
    chunks: dict[Hashable, int] = {}
    for dim, size in zip(dims, shape, strict=True):
        if dim in overrides:
            wanted = int(overrides[dim])
            chunks[dim] = size if wanted < 0 else min(wanted, size)
        elif dim == REPLICATE_DIM:
            chunks[dim] = size
    free = [(d, s) for d, s in zip(dims, shape, strict=True) if d not in chunks]
    fixed = itemsize * math.prod(chunks.values())
    for i, (dim, size) in enumerate(free):
        inner = fixed * math.prod(s for _, s in free[i + 1 :])
        if inner * size <= budget:
            chunks.update(free[i:])
            break
        chunks[dim] = max(1, budget // inner) if inner <= budget else 1
        if inner <= budget:
            chunks.update(free[i + 1 :])
            break
    return {d: max(1, chunks[d]) for d in dims}


def _prepare(cube: xr.Dataset, chunks: Mapping[str, int] | None) -> xr.Dataset:
    """A copy of ``cube`` with clean encodings, stored chunks set and dask data aligned to them."""
    overrides = dict(chunks or {})
    unknown = set(overrides) - set(cube.dims)
    if unknown:
        raise ValueError(f"chunks= names dims {sorted(map(str, unknown))} not in the cube")
    out = cube.drop_encoding()
    itemsize = max((v.dtype.itemsize for v in cube.data_vars.values()), default=8)
    coords: dict[Hashable, xr.Variable] = {}
    data: dict[Hashable, xr.Variable] = {}
    for name, var in out.variables.items():
        if name in out.indexes:  # dimension coordinates: one chunk, xarray loads them anyway
            continue
        size = itemsize if name in out.data_vars else var.dtype.itemsize
        policy = chunk_policy(var.dims, var.shape, size, overrides=overrides)
        stored = tuple(policy[d] for d in var.dims)
        if var.chunks is not None:  # dask-backed: align dask chunks to the stored ones
            var = var.chunk(policy)
        var.encoding["chunks"] = stored
        (data if name in out.data_vars else coords)[name] = var
    out = out.assign_coords(coords).assign(data)
    out.attrs = _jsonable(out.attrs, "attrs")
    for name, var in out.variables.items():
        var.attrs = _jsonable(var.attrs, f"{name}.attrs")
    return out


def _jsonable(obj: Any, where: str) -> Any:
    """``obj`` with numpy scalars/arrays turned into Python values; TypeError if not JSON."""
    if isinstance(obj, Mapping):
        return {k: _jsonable(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, np.generic | np.ndarray):
        return obj.tolist()
    try:
        json.dumps(obj)
    except (TypeError, ValueError) as err:
        raise TypeError(f"cube {where} = {obj!r} cannot be stored as JSON: {err}") from None
    return obj


# --------------------------------------------------------------------------------------------
# writing


def write_cube(
    cube: xr.Dataset,
    store: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    chunks: Mapping[str, int] | None = None,
    storage_options: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> str:
    """Write a moment cube to a Zarr format 3 store, atomically.

    Parameters
    ----------
    cube
        A moment cube (``attrs["cubes_kind"]`` set); numpy- or dask-backed. Dask variables are
        computed during the write.
    store
        Local path, ``file://`` URL or fsspec URL (``s3://``, ``memory://``, ...).
    overwrite
        Replace an existing store. Without it an existing target raises ``FileExistsError``.
    chunks
        Stored chunk size per dim (``-1`` = whole dim), overriding :func:`chunk_policy`.
    storage_options
        Passed to fsspec for remote stores (``endpoint_url``, ``key``, ``secret``, ...).
    progress
        Show dask's progress bar while computing and writing.

    Returns
    -------
    str
        The final path (local) or URL (remote) of the store.

    Raises
    ------
    FileExistsError
        If the target exists and ``overwrite`` is false.
    ValueError
        If ``cube`` is not a moment cube, ``chunks`` names unknown dims, the URL is read-only,
        or ``overwrite`` would replace something that is not a Zarr store.

    Notes
    -----
    A failed or killed write leaves the previous store (or none), never a half-written one. A
    killed local write may leave a hidden ``.<name>.tmp-*`` sibling behind; it is never read.
    """
    if not isinstance(cube, xr.Dataset) or "cubes_kind" not in cube.attrs:
        raise ValueError(
            "write_cube writes moment cubes (an xr.Dataset with attrs['cubes_kind'], as built "
            "by cubes.bin_catalog); got "
            + (type(cube).__name__ if not isinstance(cube, xr.Dataset) else "a Dataset without it")
        )
    ds = _prepare(cube, chunks)
    options = dict(storage_options or {})
    protocol, path = _split_url(store)
    if protocol in _HTTP_PROTOCOLS:
        raise ValueError(f"cannot write a cube to {store}: HTTP stores are read-only")
    if protocol is None:
        return _write_local(ds, Path(path), overwrite=overwrite, progress=progress)
    return _write_remote(ds, str(store), options, overwrite=overwrite, progress=progress)


def _to_zarr(
    ds: xr.Dataset, target: str, options: Mapping[str, Any] | None, progress: bool
) -> None:
    """Write ``ds`` to a new store at ``target`` (Zarr 3, consolidated)."""
    kwargs: dict[str, Any] = {"storage_options": dict(options)} if options else {}
    bar: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if progress:
        from dask.diagnostics import ProgressBar

        bar = ProgressBar()
    with _quiet(), bar:
        ds.to_zarr(target, mode="w-", zarr_format=3, consolidated=True, compute=True, **kwargs)


def _write_local(ds: xr.Dataset, target: Path, *, overwrite: bool, progress: bool) -> str:
    target = target.expanduser().absolute()
    if target.exists() or target.is_symlink():
        if not overwrite:
            raise FileExistsError(
                f"{target} already exists; pass overwrite=True to write_cube to replace it"
            )
        if not _is_zarr_local(target):
            raise ValueError(f"refusing to overwrite {target}: it exists and is not a Zarr store")
    target.parent.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:12]
    tmp = target.with_name(f".{target.name}.tmp-{tag}")
    old = target.with_name(f".{target.name}.old-{tag}")
    try:
        _to_zarr(ds, str(tmp), None, progress)
        if target.exists() or target.is_symlink():
            os.replace(target, old)
            try:
                os.replace(tmp, target)
            except BaseException:
                os.replace(old, target)
                raise
            _remove_local(old)
        else:
            os.replace(tmp, target)
    finally:
        _remove_local(tmp)
    return str(target)


def _is_zarr_local(path: Path) -> bool:
    if not path.is_dir():
        return False
    markers = (_ROOT_META, ".zgroup", ".zarray")
    return any((path / m).exists() for m in markers) or not any(path.iterdir())


def _remove_local(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


def _write_remote(
    ds: xr.Dataset, url: str, options: dict[str, Any], *, overwrite: bool, progress: bool
) -> str:
    url = url.rstrip("/")
    fs, final = fsspec.core.url_to_fs(url, **options)
    parent, _, name = url.rpartition("/")
    tmp_url = f"{parent}/.{name}.tmp-{uuid.uuid4().hex[:12]}"
    tmp = fs._strip_protocol(tmp_url)
    fs.invalidate_cache()
    if fs.exists(final):
        if not overwrite:
            raise FileExistsError(
                f"{url} already exists; pass overwrite=True to write_cube to replace it"
            )
        if not any(fs.exists(f"{final}/{m}") for m in (_ROOT_META, ".zgroup", ".zarray")):
            raise ValueError(f"refusing to overwrite {url}: it exists and is not a Zarr store")
    written: list[str] = []
    try:
        _to_zarr(ds, tmp_url, options, progress)
        fs.invalidate_cache()
        sources = sorted(fs.find(tmp))
        root_meta = f"{tmp}/{_ROOT_META}"
        if root_meta not in sources:
            raise OSError(f"writing {tmp_url} produced no root {_ROOT_META}")
        if fs.exists(final):  # root metadata first: readers see no store rather than a mixed one
            with contextlib.suppress(FileNotFoundError):
                fs.rm_file(f"{final}/{_ROOT_META}")
            fs.rm(final, recursive=True)
        body = [s for s in sources if s != root_meta]
        dests = [f"{final}/{s[len(tmp) + 1 :]}" for s in body]
        written = [f"{final}/{_ROOT_META}", *dests]  # what a failure must remove, root first
        if body:
            fs.copy(body, dests)
        fs.copy(root_meta, f"{final}/{_ROOT_META}")  # last: the store now exists
    except BaseException:
        for path in written:
            with contextlib.suppress(Exception):
                fs.rm_file(path)
        raise
    finally:
        with contextlib.suppress(Exception):
            fs.invalidate_cache()
            if fs.exists(tmp):
                fs.rm(tmp, recursive=True)
    fs.invalidate_cache()
    return url


# --------------------------------------------------------------------------------------------
# opening


def open_cube(
    url_or_path: str | os.PathLike[str],
    *,
    storage_options: Mapping[str, Any] | None = None,
    chunks: Mapping[str, int] | str | None = None,
) -> xr.Dataset:
    """Open a moment cube lazily (dask-backed), from its consolidated metadata and coordinates.

    Parameters
    ----------
    url_or_path
        Local path, ``file://``, ``http(s)://``, ``s3://`` or any fsspec URL of a store written
        by :func:`write_cube`.
    storage_options
        Passed to fsspec (``endpoint_url``, ``anon``, ``client_kwargs``, ...). HTTP gets short
        connect/read timeouts unless ``client_kwargs["timeout"]`` is given.
    chunks
        Dask chunks; ``None`` (default) uses the stored chunks, ``"auto"`` or a mapping are
        passed to :func:`xarray.open_zarr`.

    Returns
    -------
    xr.Dataset
        The cube. Data variables are dask arrays, read chunk by chunk when computed;
        coordinates (bin centres, widths, bounds, cell positions: small) are read at open.

    Raises
    ------
    FileNotFoundError
        If there is no store at ``url_or_path``.
    OSError
        If the URL cannot be reached.
    ValueError
        If the store is a Zarr store (or something else) but not a moment cube.
    """
    protocol, path = _split_url(url_or_path)
    options = dict(storage_options or {})
    if protocol in _HTTP_PROTOCOLS:
        client_kwargs = dict(options.get("client_kwargs", {}))
        client_kwargs.setdefault("timeout", _http_timeout())
        options["client_kwargs"] = client_kwargs
    if protocol is None:
        store: str = path
        shown = path
    else:
        store = shown = str(url_or_path).rstrip("/")
    meta = _root_metadata(store, shown, protocol, options)
    attrs = meta.get("attributes", {})
    if meta.get("node_type") != "group" or "cubes_kind" not in attrs:
        what = "a Zarr array" if meta.get("node_type") == "array" else "a Zarr store"
        raise ValueError(
            f"{shown} is {what} but not a cubes moment cube (attrs['cubes_kind'] missing); "
            "write cubes with cubes.write_cube"
        )
    if attrs["cubes_kind"] != CUBE_KIND:
        raise ValueError(
            f"{shown} holds cubes_kind={attrs['cubes_kind']!r}, expected {CUBE_KIND!r}"
        )
    kwargs: dict[str, Any] = {"storage_options": options} if protocol is not None else {}
    consolidated = "consolidated_metadata" in meta and meta["consolidated_metadata"] is not None
    with _quiet():
        try:
            cube = xr.open_zarr(
                store,
                chunks={} if chunks is None else chunks,
                consolidated=consolidated,
                zarr_format=3,
                **kwargs,
            )
            return _load_coords(cube)
        except FileNotFoundError as err:
            raise FileNotFoundError(f"cannot open the cube at {shown}: {err}") from err
        except (OSError, TimeoutError) as err:
            raise OSError(f"cannot read the cube at {shown}: {err!r}") from err


def _load_coords(cube: xr.Dataset) -> xr.Dataset:
    """Load the (small) non-index coordinates in one compute; data variables stay lazy.

    Lazy coordinates would be re-read at every compute and make xarray compute them whenever
    it compares coordinates of two operands.
    """
    lazy = [n for n in cube.coords if n not in cube.indexes and cube[n].chunks is not None]
    if not lazy:
        return cube
    # local threads: small reads, never shipped to a cluster, never counted as a user compute
    loaded = dask.compute(*(cube[n].variable for n in lazy), scheduler="threads")
    return cube.assign_coords(dict(zip(lazy, loaded, strict=True)))


def _root_metadata(
    store: str, shown: str, protocol: str | None, options: Mapping[str, Any]
) -> dict[str, Any]:
    """The root ``zarr.json`` of ``store`` as a dict, with clear errors when it is missing."""
    if protocol is None:
        root = Path(store)
        if not root.exists():
            raise FileNotFoundError(f"no cube at {shown}: the path does not exist")
        meta_path = root / _ROOT_META
        if not meta_path.is_file():
            zarr2 = (root / ".zgroup").exists() or (root / ".zarray").exists()
            kind = "a Zarr format 2 store" if zarr2 else "not a Zarr format 3 store"
            raise ValueError(
                f"{shown} is {kind} (no {_ROOT_META}), so not a cubes moment cube "
                "(attrs['cubes_kind'] missing); write cubes with cubes.write_cube"
            )
        raw = meta_path.read_bytes()
    else:
        meta_url = f"{store}/{_ROOT_META}"
        try:
            fs, meta_path_str = fsspec.core.url_to_fs(meta_url, **options)
            raw = fs.cat_file(meta_path_str)
        except FileNotFoundError as err:
            raise FileNotFoundError(
                f"no cube at {shown}: {meta_url} not found ({err or type(err).__name__})"
            ) from err
        except Exception as err:  # aiohttp/botocore errors do not all derive from OSError
            raise OSError(f"cannot reach {shown}: {type(err).__name__}: {err}") from err
    try:
        meta = json.loads(raw)
    except ValueError as err:
        raise ValueError(f"{shown}/{_ROOT_META} is not valid JSON: {err}") from err
    if not isinstance(meta, dict):
        raise ValueError(f"{shown}/{_ROOT_META} is not Zarr metadata")
    return meta


# --------------------------------------------------------------------------------------------
# helpers


def _split_url(store: str | os.PathLike[str]) -> tuple[str | None, str]:
    """``(protocol, path)``; protocol is None for local paths (``file://`` included)."""
    text = os.fspath(store)
    if "://" not in text:
        return None, text
    protocol, _, rest = text.partition("://")
    protocol = protocol.lower()
    if protocol in _LOCAL_PROTOCOLS:
        return None, fsspec.core.strip_protocol(text)
    return protocol, rest


def _http_timeout() -> Any:
    import aiohttp

    return aiohttp.ClientTimeout(
        total=None, sock_connect=HTTP_CONNECT_TIMEOUT, sock_read=HTTP_READ_TIMEOUT
    )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence zarr's warning that consolidated metadata is not part of the Zarr 3 spec."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_CONSOLIDATED_WARNING)
        yield
