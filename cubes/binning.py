"""``bin_catalog``: a catalog in, an additive moment cube out (one pass, Dask map-reduce).

Each catalog chunk becomes a partial cube in the numba kernel (:mod:`cubes.kernels.binning`);
Dask tree-sums the partials. Because the cube holds sums, the result does not depend on the
chunking or on the number of workers, and a star's jackknife group is a hash of its id, not of
its position in a chunk.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from . import conventions as cv
from .axes import Axis, as_axis
from .kernels import binning as kb
from .units import power, product

#: rows used to choose each value's shift (the first rows, so the shift never depends on chunks).
SHIFT_ROWS = 10_000
_PAD = 4  # tuples passed to numba are padded to a multiple of this to limit recompilations


@dataclass(frozen=True)
class _Plan:
    """Everything the per-block function needs, fixed before the pass."""

    axes: tuple[Axis, ...]
    axis_columns: tuple[str, ...]
    values: tuple[str, ...]
    powers: tuple[int, ...]
    errors: tuple[tuple[str, str], ...]  # (value, error column)
    cross: tuple[tuple[str, str], ...]
    weights: str | None
    selected: str | None
    id_column: str | None
    replicates: int
    shifts: tuple[float, ...]
    ai: np.ndarray
    af: np.ndarray
    edges: np.ndarray
    tables: np.ndarray
    strides: np.ndarray
    nbins: int
    shape: tuple[int, ...]

    @property
    def n_moments(self) -> int:
        return len(self.moment_names())

    @property
    def acc_size(self) -> int:
        return max(self.replicates, 1) * self.nbins * self.n_moments

    @property
    def checked_columns(self) -> tuple[str, ...]:
        return (self.axis_columns + self.values + tuple(e for _, e in self.errors)
                + ((self.weights,) if self.weights else ()))

    @property
    def out_size(self) -> int:
        return self.acc_size + kb.N_COUNTERS + len(self.checked_columns)

    def moment_names(self) -> list[tuple[str, dict[str, Any]]]:
        """(variable name, attrs) of each moment, in kernel order."""
        out = [(cv.COUNT, {"long_name": "number of stars", "moment": "n"})]
        if self.weights:
            out += [(cv.SUM_W, {"moment": "sum(w)", "power": 1}),
                    (cv.SUM_W2, {"moment": "sum(w**2)", "power": 2})]
        for v, p_max, c in zip(self.values, self.powers, self.shifts, strict=True):
            for p in range(1, p_max + 1):
                out.append((cv.sum_name(v, p), {
                    "moment": f"sum(w*({v} - shift)**{p})", "value": v, "power": p,
                    "shift": c}))
        for v, e in self.errors:
            out.append((cv.err2_name(v), {"moment": f"sum(w*{e}**2)", "value": v,
                                          "error_column": e, "power": 2}))
        sh = dict(zip(self.values, self.shifts, strict=True))
        for a, b in self.cross:
            out.append((cv.cross_name(a, b), {
                "moment": f"sum(w*({a} - shift_a)*({b} - shift_b))", "value": [a, b],
                "power": 1, "shift": [sh[a], sh[b]]}))
        return out


def _pad(arrays: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    n = max(_PAD, _PAD * math.ceil(len(arrays) / _PAD))
    return tuple(arrays) + (_as_f64(np.empty(0)),) * (n - len(arrays))


def _as_f64(block: np.ndarray) -> np.ndarray:
    """A C-contiguous float64 read-only view (one numba type for every source: Parquet
    columns arrive read-only, in-memory ones writable; the kernel never writes them)."""
    view = np.ascontiguousarray(block, dtype=np.float64).view()
    view.flags.writeable = False
    return view


def _ids_to_int(block: np.ndarray) -> np.ndarray:
    """Star ids as int64 keys for the group hash (strings are FNV-1a hashed)."""
    block = np.asarray(block)
    if block.dtype.kind in "iu":
        return np.ascontiguousarray(block).astype(np.int64, copy=False)
    if block.dtype.kind == "f":
        if not np.all(np.isfinite(block)):
            raise ValueError("the star id column contains NaN or inf; ids must be finite")
        return block.astype(np.int64)
    as_bytes = np.char.encode(block.astype(str), "utf-8")
    mat = as_bytes.view(np.uint8).reshape(len(as_bytes), -1)
    return kb.fnv1a_rows(np.ascontiguousarray(mat)).view(np.int64)


def _partial_cube(row0: np.ndarray, *blocks: np.ndarray, plan: _Plan) -> np.ndarray:
    """Kernel call on one block; returns a (1, out_size) partial: moments then counters."""
    it = iter(blocks)
    axis_cols: list[np.ndarray] = []
    for ax in plan.axes:
        axis_cols.extend(_as_f64(ax.precode(next(it))) for _ in ax.columns)
    vcols = [_as_f64(next(it)) for _ in plan.values]
    ecols = [_as_f64(next(it)) for _ in plan.errors]
    weights = _as_f64(next(it)) if plan.weights else np.empty(0, np.float64)
    selected = (np.ascontiguousarray(next(it), dtype=np.uint8) if plan.selected
                else np.empty(0, np.uint8))
    ids = (_ids_to_int(next(it)) if plan.replicates > 0 and plan.id_column
           else np.empty(0, np.int64))
    out = np.zeros(plan.out_size, np.float64)
    acc = out[: plan.acc_size]
    counters = np.zeros(kb.N_COUNTERS, np.int64)
    col_invalid = np.zeros(len(plan.checked_columns), np.int64)
    cross = np.array([[plan.values.index(a), plan.values.index(b)] for a, b in plan.cross],
                     dtype=np.int64).reshape(-1, 2)
    kb.fill(_pad(axis_cols), len(axis_cols), plan.ai, plan.af, plan.edges, plan.tables,
            plan.strides, plan.nbins, _pad(vcols), np.asarray(plan.shifts, np.float64),
            np.asarray(plan.powers, np.int64), _pad(ecols), len(ecols), cross,
            weights, selected, ids, int(np.asarray(row0).ravel()[0]), max(plan.replicates, 1),
            acc, counters, col_invalid)
    out[plan.acc_size:plan.acc_size + kb.N_COUNTERS] = counters
    out[plan.acc_size + kb.N_COUNTERS:] = col_invalid
    return out[None, :]


def _axis_tables(axes: Sequence[Axis], column_index: Mapping[str, int]):
    ai = np.zeros((len(axes), kb.N_AI), np.int64)
    af = np.zeros((len(axes), kb.N_AF), np.float64)
    edges: list[np.ndarray] = []
    tables: list[np.ndarray] = []
    n_edges = n_tables = 0
    for a, ax in enumerate(axes):
        p = ax.kernel_params()
        ai[a, kb.AI_KIND] = p["kind"]
        ai[a, kb.AI_N] = p["n"]
        ai[a, kb.AI_COL] = column_index[ax.columns[0]]
        if "edges" in p:
            ai[a, kb.AI_EDGE0] = n_edges
            edges.append(p["edges"])
            n_edges += len(p["edges"])
        if p["kind"] == kb.REGULAR:
            af[a, kb.AF_LO], af[a, kb.AF_HI], af[a, kb.AF_SCALE] = p["lo"], p["hi"], p["scale"]
            af[a, kb.AF_ORIGIN], ai[a, kb.AI_OFFSET] = p["origin"], p["offset"]
        if p["kind"] == kb.HEX:
            ai[a, kb.AI_COL2] = column_index[ax.columns[1]]
            ai[a, kb.AI_TABLE0] = n_tables
            ai[a, kb.AI_QMIN], ai[a, kb.AI_RMIN] = p["qmin"], p["rmin"]
            ai[a, kb.AI_NQ], ai[a, kb.AI_NR], ai[a, kb.AI_SWAP] = p["nq"], p["nr"], p["swap"]
            af[a, kb.AF_SCALE], af[a, kb.AF_X0], af[a, kb.AF_Y0] = p["scale"], p["x0"], p["y0"]
            tables.append(p["table"])
            n_tables += len(p["table"])
    return ai, af, _concat(edges, np.float64), _concat(tables, np.int64)


def _concat(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(1, dtype)


def _missing(stars: xr.Dataset, names: Sequence[str], role: str) -> None:
    missing = [n for n in names if n not in stars.variables]
    if missing:
        raise KeyError(
            f"bin_catalog: {role} column(s) {missing!r} not in the catalog; it has "
            f"{sorted(map(str, stars.data_vars))!r}"
        )


def _resolve_errors(stars: xr.Dataset, values: Sequence[str],
                    errors: bool | Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    if not errors:
        return ()
    if errors is True:
        found = []
        for v in values:
            for cand in (f"{v}_error", f"{v}_err"):
                if cand in stars.variables:
                    found.append((v, cand))
                    break
        if not found:
            raise KeyError(
                f"errors=True but no error column '<value>_error' or '<value>_err' exists for "
                f"any of {list(values)!r}; pass errors={{value: column}}"
            )
        return tuple(found)
    unknown = [v for v in errors if v not in values]
    if unknown:
        raise ValueError(f"errors given for {unknown!r}, which are not in values={list(values)!r}")
    return tuple((v, e) for v, e in errors.items())


def _choose_shifts(stars: xr.Dataset, values: Sequence[str],
                   shifts: Mapping[str, float] | None) -> tuple[float, ...]:
    """Per-value shift c_v: given, or the mean of the first finite rows rounded to 3 digits."""
    shifts = dict(shifts or {})
    todo = [v for v in values if v not in shifts]
    if todo:
        n = min(SHIFT_ROWS, stars.sizes[cv.STAR_DIM])
        heads = [stars[v].data[:n] for v in todo]
        if any(isinstance(h, da.Array) for h in heads):
            # a tiny local read: keeps these keys off a distributed scheduler, where the main
            # pass would resubmit overlapping keys with a different task spec
            heads = dask.compute(*heads, scheduler="threads")
        for v, h in zip(todo, heads, strict=True):
            h = np.asarray(h, dtype=np.float64)
            h = h[np.isfinite(h)]
            m = float(h.mean()) if h.size else 0.0
            shifts[v] = float(f"{m:.3g}") if m != 0 else 0.0
    return tuple(float(shifts[v]) for v in values)


def _block_arrays(stars: xr.Dataset, names: Sequence[str], chunk_rows: int | None,
                  partial_bytes: int) -> list:
    """The catalog columns as dask arrays sharing one chunking along ``star``."""
    arrays = []
    for name in names:
        var = stars[name]
        if var.dims != (cv.STAR_DIM,):
            raise ValueError(f"column {name!r} must have dims ('star',), got {var.dims!r}")
        arrays.append(var.data)
    ref = next((a for a in arrays if isinstance(a, da.Array)), None)
    if ref is None:
        n = stars.sizes[cv.STAR_DIM]
        rows = chunk_rows
        if rows is None:
            # in-memory columns are sliced as views (free), but each block fills its own
            # partial cube: few large blocks, two per core for balance, one per core when the
            # partial cube is large (allocating and adding it then costs more than balance)
            cores = os.cpu_count() or 1
            per_round = cores if partial_bytes > 8 * 2**20 else 2 * cores
            blocks = per_round * math.ceil(n / (per_round * 10_000_000))
            rows = math.ceil(n / min(blocks, math.ceil(n / 250_000)))
        return [_views_as_dask(np.asarray(a), max(rows, 1)) for a in arrays]
    chunks = ref.chunks if chunk_rows is None else ((chunk_rows,),)
    out = []
    for a in arrays:
        a = a if isinstance(a, da.Array) else _views_as_dask(np.asarray(a), chunks[0][0])
        if chunk_rows is not None or a.chunks != ref.chunks:
            a = a.rechunk(chunks if chunk_rows is None else chunk_rows)
        out.append(a)
    return out


def _views_as_dask(x: np.ndarray, rows: int) -> da.Array:
    """A dask array over views of an in-memory column: no copy, no hashing of the data.

    (``da.from_array`` copies and sha1-hashes numpy input: 0.1 s per 5 M values each.)
    """
    import uuid

    name = f"column-{uuid.uuid4().hex}"
    starts = range(0, max(len(x), 1), rows)
    graph = {(name, i): x[s:s + rows] for i, s in enumerate(starts)}
    sizes = tuple(len(v) for v in graph.values())
    return da.Array(graph, name, chunks=(sizes,), dtype=x.dtype)


def _add_partials(*parts: np.ndarray) -> np.ndarray:
    """Sum of partial cubes (pairwise adds: no concatenation, no reduction along a short axis)."""
    out = parts[0] + parts[1] if len(parts) > 1 else parts[0].copy()
    for p in parts[2:]:
        out += p
    return out


def _tree_sum(blocks: list, fan_in: int = 8):
    """A dask tree of :func:`_add_partials` over the partial cubes of all blocks.

    (``dask.array.sum(axis=0)`` concatenates the partials and reduces along the short axis:
    0.46 s for two 51 MB partial cubes, against 0.02 s for one ``np.add``.)
    """
    level = blocks
    while len(level) > 1 or level is blocks:
        level = [dask.delayed(_add_partials)(*level[i:i + fan_in])
                 for i in range(0, len(level), fan_in)]
    return level[0]


def _compute(total, progress: bool) -> np.ndarray:
    try:
        from distributed import default_client

        client = default_client()
    except (ImportError, ValueError):
        client = None
    if client is not None:
        future = client.compute(total)
        if progress:
            from distributed import progress as dprogress

            dprogress(future)
        return np.asarray(future.result())
    if progress:
        from dask.diagnostics import ProgressBar

        with ProgressBar():
            return np.asarray(total.compute())
    return np.asarray(total.compute())


def bin_catalog(
    stars: xr.Dataset,
    axes: Mapping[Hashable, Axis | Sequence[float] | np.ndarray],
    values: Sequence[str] = (),
    *,
    moments: int | Mapping[str, int] = 2,
    errors: bool | Mapping[str, str] | None = None,
    cross: Sequence[tuple[str, str]] = (),
    weights: str | None = None,
    replicates: int = 16,
    id: str | None = None,
    shifts: Mapping[str, float] | None = None,
    chunk_rows: int | None = None,
    progress: bool | None = None,
) -> xr.Dataset:
    """Bin a catalog into an additive moment cube.

    Parameters
    ----------
    stars : xr.Dataset
        Catalog with dim ``star`` (numpy- or dask-backed), e.g. from :func:`cubes.open_catalog`.
        A boolean ``selected`` variable (from :func:`cubes.select`) excludes stars; they are
        counted in ``attrs["stars_deselected"]``.
    axes : mapping of dim name to axis
        Edges arrays or :mod:`cubes.axes` axes; an edges axis reads the column of its name, a
        hexagonal axis its two columns. The cube's dims follow this order.
    values : sequence of str
        Value columns; for each, Σ(v − c), Σ(v − c)² (``moments`` up to 4) are accumulated about
        a shift c (recorded in each variable's attrs) that guards the variance against
        cancellation.
    moments : int or mapping
        Highest power of each value (1–4), for all values or per value.
    errors : True or mapping, optional
        Per-star measurement errors σ_v (same units as v): Σσ_v² is accumulated so that
        dispersions can be deconvolved (σ² = var − ⟨σ_v²⟩). True uses ``<v>_error`` (or
        ``<v>_err``) for each value that has one; the pairs used are in each
        ``sum_<v>_err2``'s ``attrs["error_column"]``.
    cross : sequence of (a, b)
        Cross moments Σ(a − c_a)(b − c_b) between two of ``values`` (exact gradients).
    weights : str, optional
        Per-star weight column; sums become weighted, and Σw, Σw² are added. ``count`` stays
        the number of stars.
    replicates : int
        K jackknife groups on a leading ``replicate`` dim (0 disables it). A star's group is
        a hash of its id (:func:`cubes.kernels.binning.group_of`), with id the catalog's
        ``id_column`` (or ``id=``), else the row number, so the cube never depends on chunking.
    id : str, optional
        Star id column (default ``stars.attrs["id_column"]`` when present).
    shifts : mapping, optional
        Explicit shift per value (default: mean of its first 10 000 finite rows, 3 digits).
    chunk_rows : int, optional
        Rows per block (default: the catalog's dask chunks; for numpy catalogs, two blocks
        per core of at most 10 M stars).
    progress : bool, optional
        Show a progress bar (default: when the catalog has more than one block).

    Returns
    -------
    xr.Dataset
        In memory (the cube is the reduction of the catalog: small), with ``count`` and the
        sums as variables, axis coordinates with CF bounds, and ``attrs`` recording the axes,
        selections, source and the star accounting
        ``stars_read = stars_used + stars_outside + stars_invalid + stars_deselected``.
    """
    if not isinstance(stars, xr.Dataset) or cv.STAR_DIM not in stars.dims:
        raise TypeError("bin_catalog expects an xr.Dataset with a 'star' dim (a catalog from "
                        "cubes.open_catalog or cubes.mock)")
    if not axes:
        raise ValueError("bin_catalog needs at least one axis, e.g. axes={'R': edges}")
    if not isinstance(replicates, (int, np.integer)) or replicates < 0 or replicates == 1:
        raise ValueError(f"replicates must be 0 (none) or an integer >= 2, got {replicates!r}")
    values = tuple(values)
    if len(set(values)) != len(values):
        raise ValueError(f"values contain duplicates: {values!r}")
    ax = tuple(as_axis(str(dim), spec) for dim, spec in axes.items())
    dims = [a.dim for a in ax]
    if cv.REPLICATE_DIM in dims:
        raise ValueError("'replicate' is reserved for the jackknife dim; rename that axis")
    axis_columns = tuple(c for a in ax for c in a.columns)
    if len(set(axis_columns)) != len(axis_columns):
        raise ValueError(f"each catalog column can feed one axis only, got {axis_columns!r}")
    _missing(stars, axis_columns, "axis")
    _missing(stars, values, "value")
    powers = tuple(int(moments.get(v, 2) if isinstance(moments, Mapping) else moments)
                   for v in values)
    if any(not 1 <= p <= 4 for p in powers):
        raise ValueError(f"moments must be between 1 and 4, got {moments!r}")
    err = _resolve_errors(stars, values, errors)
    _missing(stars, [e for _, e in err], "error")
    cross = tuple((str(a), str(b)) for a, b in cross)
    bad = [p for p in cross if p[0] not in values or p[1] not in values]
    if bad:
        raise ValueError(f"cross moments {bad!r} need both columns in values={list(values)!r}")
    if weights is not None:
        _missing(stars, [weights], "weight")
    id_column = id if id is not None else stars.attrs.get("id_column")
    if id is not None:
        _missing(stars, [id], "id")
    if id_column is not None and id_column not in stars.variables:
        id_column = None
    selected = cv.SELECTED if cv.SELECTED in stars.variables else None

    column_index = {c: i for i, c in enumerate(axis_columns)}
    ai, af, edges, tables = _axis_tables(ax, column_index)
    shape = tuple(a.size for a in ax)
    strides = np.array([int(np.prod(shape[i + 1:])) for i in range(len(shape))], np.int64)
    plan = _Plan(ax, axis_columns, values, powers, err, cross, weights, selected,
                 id_column, int(replicates), _choose_shifts(stars, values, shifts),
                 ai, af, edges, tables, strides, int(np.prod(shape)), shape)
    names = [n for n, _ in plan.moment_names()]
    clash = {n for n in names if names.count(n) > 1} | (set(names) & set(dims))
    if clash:
        raise ValueError(f"moment variable names {sorted(clash)!r} collide; rename the value "
                         "columns (e.g. a value 'v' with powers and a value 'v2')")

    # one column per argument, in the order _partial_cube consumes them
    order: list[str] = []
    for a in ax:
        order.extend(a.columns)
    order += list(values) + [e for _, e in err]
    order += [weights] if weights else []
    order += [selected] if selected else []
    order += [id_column] if (replicates and id_column) else []
    arrays = _block_arrays(stars, order, chunk_rows, 8 * plan.out_size)
    starts = np.concatenate([[0], np.cumsum(arrays[0].chunks[0])[:-1]]).astype(np.int64)
    row0 = da.from_array(starts, chunks=1)
    partials = da.blockwise(
        _partial_cube, "ij", row0, "i", *[x for arr in arrays for x in (arr, "i")],
        new_axes={"j": plan.out_size}, adjust_chunks={"i": 1}, dtype=np.float64,
        meta=np.empty((0, 0), np.float64), align_arrays=False, plan=plan,
    )
    total = _tree_sum(list(partials.to_delayed().ravel()))
    if progress is None:
        progress = arrays[0].numblocks[0] > 1
    out = _compute(total, progress).ravel()
    return _assemble(plan, out, stars, order)


def _assemble(plan: _Plan, out: np.ndarray, stars: xr.Dataset, order: Sequence[str]) -> xr.Dataset:
    k1 = max(plan.replicates, 1)
    acc = np.moveaxis(out[: plan.acc_size].reshape((*plan.shape, k1, plan.n_moments)), -2, 0)
    counters = out[plan.acc_size:plan.acc_size + kb.N_COUNTERS].astype(np.int64)
    col_invalid = out[plan.acc_size + kb.N_COUNTERS:].astype(np.int64)
    dims = tuple(a.dim for a in plan.axes)
    lead: tuple[str, ...] = (cv.REPLICATE_DIM,) if plan.replicates else ()
    units = {name: stars[name].attrs.get("units") for name in stars.variables}
    data_vars = {}
    for m, (name, attrs) in enumerate(plan.moment_names()):
        arr = acc[..., m] if plan.replicates else acc[0, ..., m]
        attrs = dict(attrs)
        if name == cv.COUNT:
            arr = np.rint(arr).astype(np.int64)
        u = _moment_units(attrs, units, plan.weights)
        if u:
            attrs["units"] = u
        data_vars[name] = (lead + dims, arr, attrs)
    coords: dict[str, Any] = {}
    for a in plan.axes:
        coords.update(a.coords(units))
    if plan.replicates:
        coords[cv.REPLICATE_DIM] = (cv.REPLICATE_DIM, np.arange(plan.replicates), {
            "long_name": "jackknife group",
            "description": f"star group = hash of the star id into {plan.replicates} groups "
                           "(cubes.kernels.binning.group_of); statistics "
                           "replace it by leave-one-group-out samples (cubes.jackknife)"})
    from . import __version__

    sel_attrs = stars.attrs.get("selections", [])
    attrs = {
        "cubes_kind": cv.CUBE_KIND,
        "cubes_version": __version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "source": str(stars.attrs.get("source", "")),
        "survey": str(stars.attrs.get("survey", "")),
        "selections": [str(s) for s in sel_attrs],
        "axes": {a.dim: a.describe() for a in plan.axes},
        "values": list(plan.values),
        "shifts": dict(zip(plan.values, plan.shifts, strict=True)),
        "weights": plan.weights or "",
        "replicates": plan.replicates,
        "id_column": plan.id_column or "",
        "replicate_hash": ("(splitmix64(id) >> 32) * K >> 32" if plan.id_column
                           else "(splitmix64(row number) >> 32) * K >> 32"),
        "stars_read": int(counters[kb.C_READ]),
        "stars_used": int(counters[kb.C_USED]),
        "stars_outside": int(counters[kb.C_OUTSIDE]),
        "stars_invalid": int(counters[kb.C_INVALID]),
        "stars_deselected": int(counters[kb.C_DESELECTED]),
        "stars_invalid_by_column": {c: int(n) for c, n in zip(
            plan.checked_columns, col_invalid, strict=True)},
    }
    for key in ("frame", "truth"):  # provenance that statistics and recipes read back
        if key in stars.attrs:
            attrs[key] = stars.attrs[key]
    return xr.Dataset(data_vars, coords, attrs)


def _moment_units(attrs: Mapping[str, Any], units: Mapping[str, str | None],
                  weights: str | None) -> str | None:
    """Units of a sum (weights count as dimensionless unless their column has units)."""
    value = attrs.get("value")
    if value is None:
        base = None
    elif "error_column" in attrs:
        base = power(units.get(value), 2)
    elif isinstance(value, list):
        base = product(*(units.get(v) for v in value))
    else:
        base = power(units.get(value), attrs["power"])
    wu = units.get(weights) if weights else None
    if wu and attrs.get("moment", "n") != "n":
        w = power(wu, 2 if attrs.get("moment") == "sum(w**2)" else 1)
        return product(w, base) if base else w
    return base


def _locate_block(*blocks: np.ndarray, axes: tuple[Axis, ...], ai, af, edges, tables,
                  strides) -> np.ndarray:
    it = iter(blocks)
    cols = [_as_f64(ax.precode(next(it))) for ax in axes for _ in ax.columns]
    out = np.empty(cols[0].shape[0], np.int64)
    kb.locate(_pad(cols), len(cols), ai, af, edges, tables, strides, out)
    return out


def locate(stars: xr.Dataset, axes: Mapping[Hashable, Axis | Sequence[float] | np.ndarray]
           ) -> xr.DataArray:
    """The bin of every star on ``axes`` (the same rules as :func:`bin_catalog`), lazily.

    Returns an int64 DataArray on dim ``star``: the flat C-order index into the cube's axis
    dims (``np.unravel_index`` with the axes' sizes gives per-axis indices), −1 for a star
    outside the axes or with a non-finite axis column. ``attrs["shape"]`` and
    ``attrs["dims"]`` give the cube's axis shape and dims. Use it to carry a per-bin statistic
    back to the stars (:func:`lookup`): a per-cell σ-clip, a per-cell normalisation.
    """
    if not axes:
        raise ValueError("locate needs at least one axis")
    ax = tuple(as_axis(str(dim), spec) for dim, spec in axes.items())
    columns = tuple(c for a in ax for c in a.columns)
    _missing(stars, columns, "axis")
    ai, af, edges, tables = _axis_tables(ax, {c: i for i, c in enumerate(columns)})
    shape = tuple(a.size for a in ax)
    strides = np.array([int(np.prod(shape[i + 1:])) for i in range(len(shape))], np.int64)
    data = [stars[c].data for c in columns]
    kw = dict(axes=ax, ai=ai, af=af, edges=edges, tables=tables, strides=strides)
    if any(isinstance(d, da.Array) for d in data):
        ref = next(d for d in data if isinstance(d, da.Array))
        data = [d if isinstance(d, da.Array) else da.from_array(d, chunks=ref.chunks)
                for d in data]
        index = da.map_blocks(_locate_block, *data, dtype=np.int64, **kw)
    else:
        index = _locate_block(*[np.asarray(d) for d in data], **kw)
    return xr.DataArray(index, dims=(cv.STAR_DIM,), name="bin",
                        attrs={"long_name": "flat bin index (-1: outside or invalid)",
                               "dims": [a.dim for a in ax], "shape": list(shape)})


def lookup(stat: xr.DataArray, index: xr.DataArray) -> xr.DataArray:
    """Per-star values of a per-bin statistic: ``stat`` at each star's bin (NaN for −1).

    ``stat`` must have exactly the axis dims of ``index`` (``index.attrs["dims"]``, in any
    order; select or reduce the replicate dim first), e.g. a cell's mean L_z for every star.
    """
    dims = list(index.attrs["dims"])
    if set(stat.dims) != set(dims):
        raise ValueError(f"lookup needs a statistic on dims {dims!r} (the located axes), got "
                         f"{list(stat.dims)!r}; select or reduce the other dims first")
    table = np.asarray(stat.transpose(*dims).values, dtype=np.float64).ravel()
    table = np.append(table, np.nan)  # index −1 → the NaN at the end

    def take(i):
        return table[i]

    out = xr.apply_ufunc(take, index, dask="parallelized", output_dtypes=[np.float64])
    return out.rename(stat.name).assign_attrs(stat.attrs)
