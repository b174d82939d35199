"""Binning axes: how catalog columns map to cube dims.

Every axis maps one or two catalog columns to one cube dim and knows its coordinates:

- :func:`edges` — explicit, strictly increasing edges (bins ``[e_i, e_{i+1})``, the last closed);
- :func:`regular` — equal-width bins from ``start`` to ``stop`` (fast arithmetic indexing);
- :func:`symmetric` — regular edges mirrored around 0 (0 is an edge), so z folds onto |z|;
- :func:`hexagonal` — two columns (e.g. X, Y or vR, vphi) onto one ``cell`` dim of a hexagonal
  lattice (Widmark et al. 2025 §3: 400 pc hexes in X–Y, 25 km/s hexes in vR–vφ);
- :func:`categorical` — discrete labels (survey, population, Teff group ...).

Edges axes carry bin centres as the dim coordinate, a CF ``<dim>_bounds`` (dim, 2) variable and
a ``<dim>_width`` coordinate; hexagonal axes carry centre coordinates, CF vertex bounds and the
cell area. Units are copied from the catalog column into ``attrs``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from . import conventions as cv
from .kernels import binning as kb
from .units import product


def _label(column: str, units: str | None) -> dict[str, str]:
    attrs = {"long_name": column}
    if units:
        attrs["units"] = units
    return attrs


class Axis:
    """Base class: one cube dim computed from ``columns`` of the catalog."""

    dim: str | None
    columns: tuple[str, ...]

    @property
    def size(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def bind(self, dim: str) -> Axis:
        """Return this axis named ``dim`` (its column defaults to ``dim``)."""
        raise NotImplementedError  # pragma: no cover

    def kernel_params(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def coords(self, units: Mapping[str, str | None]) -> dict[str, xr.Variable]:
        raise NotImplementedError  # pragma: no cover

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable description stored in the cube's attrs."""
        raise NotImplementedError  # pragma: no cover

    def precode(self, block: np.ndarray) -> np.ndarray:
        """Turn a block of the column into what the kernel reads (identity for numeric axes)."""
        return block


@dataclass(frozen=True)
class Edges(Axis):
    """Bins between explicit edges: ``[e_i, e_{i+1})``, the last bin closed (numpy convention)."""

    edges: np.ndarray
    column: str | None = None
    dim: str | None = None
    kind: str = "edges"

    def __post_init__(self):
        e = np.asarray(self.edges, dtype=np.float64)
        name = self.dim or self.column or "axis"
        if e.ndim != 1 or e.size < 2:
            raise ValueError(f"edges of axis {name!r} must be a 1-D array of at least 2 edges, "
                             f"got shape {e.shape}")
        if not np.all(np.isfinite(e)):
            raise ValueError(f"edges of axis {name!r} must be finite, got {e!r}")
        steps = np.diff(e)
        if np.any(steps <= 0):
            i = int(np.argmax(steps <= 0))
            what = "duplicate" if steps[i] == 0 else "unsorted"
            raise ValueError(
                f"edges of axis {name!r} must be strictly increasing: {what} edges at positions "
                f"{i} and {i + 1} ({float(e[i])}, {float(e[i + 1])})"
            )
        object.__setattr__(self, "edges", e)

    @property
    def columns(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.column or self.dim,)

    @property
    def size(self) -> int:
        return self.edges.size - 1

    @property
    def centers(self) -> np.ndarray:
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    @property
    def bin_edges(self) -> np.ndarray:
        """The edges stars are binned by (the nominal ``edges`` for explicit edges)."""
        return self.edges

    def bind(self, dim: str) -> Edges:
        return type(self)(self.edges, column=self.column or dim, dim=dim)

    def kernel_params(self) -> dict[str, Any]:
        return {"kind": kb.EDGES, "n": self.size, "edges": self.edges}

    def coords(self, units: Mapping[str, str | None]) -> dict[str, xr.Variable]:
        """Nominal centres and widths (labels you can ``.sel``), CF bounds = the binning edges."""
        dim = self.dim
        attrs = _label(self.columns[0], units.get(self.columns[0]))
        be = self.bin_edges
        bounds = np.stack([be[:-1], be[1:]], axis=1)
        width_attrs = {"long_name": f"width of the {dim} bins", **(
            {"units": attrs["units"]} if "units" in attrs else {})}
        return {
            dim: xr.Variable(dim, self.centers, {**attrs, "bounds": cv.bounds_name(dim),
                                                 "edges": self.edges.tolist()}),
            cv.bounds_name(dim): xr.Variable((dim, cv.BOUNDS_DIM), bounds, {
                k: v for k, v in attrs.items() if k == "units"}),
            cv.width_name(dim): xr.Variable(dim, np.diff(self.edges), width_attrs),
        }

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "columns": list(self.columns), "n": self.size,
                "start": float(self.edges[0]), "stop": float(self.edges[-1])}


def arithmetic_edges(lo: float, hi: float, n: int, origin: float, offset: int) -> np.ndarray:
    """Edges of ``n`` equal bins that agree exactly with arithmetic indexing.

    The kernel bins a regular axis as ``floor((v - origin) * scale) + offset`` with ``scale =
    n / (hi - lo)`` (arithmetic like boost-histogram's: no search). ``origin`` is 0 when 0 is a
    nominal edge (so 0 stays an exact edge: z folds cleanly), else ``lo``. Each inner edge
    returned is the smallest double for which that formula gives its bin, so searching these
    edges (``numpy.searchsorted``, ``scipy.stats.binned_statistic_dd``) assigns every value,
    even one on an edge, to the same bin as the kernel. They differ from the nominal edges by
    at most a few units in the last place.
    """
    scale = n / (hi - lo)
    e = np.linspace(lo, hi, n + 1)
    width = (hi - lo) / n
    for b in range(1, n):
        k = b - offset
        if k == 0:
            e[b] = origin
            continue
        # bracket f(a) < k <= f(c) with f(v) = (v - origin) * scale, then bisect on doubles
        a, c = float(e[b]) - 0.5 * width, float(e[b]) + 0.5 * width
        while True:
            mid = 0.5 * (a + c)
            if mid in (a, c):
                break
            if (mid - origin) * scale >= k:
                c = mid
            else:
                a = mid
        e[b] = c
    return e


@dataclass(frozen=True)
class Regular(Edges):
    """Equal-width bins, indexed arithmetically like boost-histogram's regular axis.

    ``edges`` are the nominal edges (centres and widths are labelled by them, so
    ``cube.sel(z=0.375)`` works); stars are binned by ``bin_edges``, the exact thresholds of
    the arithmetic (:func:`arithmetic_edges`), which are also the CF bounds — so searching the
    bounds reproduces the binning exactly. The two differ by a few units in the last place.
    """

    kind: str = "regular"
    _bin_edges: np.ndarray = field(default=None, repr=False, compare=False)
    _origin: tuple = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        super().__post_init__()
        e = self.edges
        n = e.size - 1
        zero = np.flatnonzero(e == 0.0)
        origin, offset = (0.0, int(zero[0])) if zero.size else (float(e[0]), 0)
        object.__setattr__(self, "_bin_edges", arithmetic_edges(e[0], e[-1], n, origin, offset))
        object.__setattr__(self, "_origin", (origin, offset))

    @property
    def bin_edges(self) -> np.ndarray:
        return self._bin_edges

    def kernel_params(self) -> dict[str, Any]:
        lo, hi = self.edges[0], self.edges[-1]
        origin, offset = self._origin
        return {"kind": kb.REGULAR, "n": self.size, "edges": self.bin_edges,
                "lo": lo, "hi": hi, "scale": self.size / (hi - lo),
                "origin": origin, "offset": offset}


def edges(values: Sequence[float] | np.ndarray, *, column: str | None = None) -> Edges:
    """An axis with explicit, strictly increasing bin edges."""
    return Edges(np.asarray(values, dtype=np.float64), column=column)


def regular(start: float, stop: float, step: float | None = None, *, bins: int | None = None,
            column: str | None = None) -> Regular:
    """Equal-width bins from ``start`` to ``stop`` (in the column's units).

    Give either ``step`` (bin width; ``(stop - start) / step`` must be an integer) or ``bins``.
    """
    if (step is None) == (bins is None):
        raise TypeError("regular() needs exactly one of step= or bins=")
    if not stop > start:
        raise ValueError(f"regular() needs stop > start, got start={start!r}, stop={stop!r}")
    if bins is None:
        if not step > 0:
            raise ValueError(f"regular() needs step > 0, got {step!r}")
        nf = (stop - start) / step
        bins = round(nf)
        if bins < 1 or abs(nf - bins) > 1e-9 * max(1.0, nf):
            raise ValueError(
                f"(stop - start) / step = {nf!r} is not a whole number of bins; "
                "adjust stop or step, or pass bins="
            )
    if bins < 1:
        raise ValueError(f"regular() needs bins >= 1, got {bins!r}")
    return Regular(np.linspace(start, stop, bins + 1), column=column)


def symmetric(half_width: float, step: float, *, column: str | None = None) -> Regular:
    """Regular bins from ``-half_width`` to ``+half_width``, 0 an edge (foldable onto |z|)."""
    if not (half_width > 0 and step > 0):
        raise ValueError(f"symmetric() needs half_width > 0 and step > 0, got {half_width!r}, "
                         f"{step!r}")
    nf = half_width / step
    nhalf = round(nf)
    if nhalf < 1 or abs(nf - nhalf) > 1e-9 * max(1.0, nf):
        raise ValueError(f"half_width / step = {nf!r} must be a whole number of bins")
    half = np.linspace(0.0, half_width, nhalf + 1)
    return Regular(np.concatenate([-half[::-1], half[1:]]), column=column)


def _hex_centre(q: np.ndarray, r: np.ndarray, size: float) -> tuple[np.ndarray, np.ndarray]:
    """Pointy-top centre offsets of axial (q, r) for a hexagon circumradius ``size``."""
    return size * math.sqrt(3.0) * (q + r / 2.0), size * 1.5 * r


@dataclass(frozen=True)
class Hexagonal(Axis):
    """A hexagonal lattice over two columns, mapped to one ``cell`` dim.

    ``spacing`` is the centre-to-centre (flat-to-flat) distance; cells are the lattice centres
    within ``radius`` of ``origin`` (inclusive). ``orientation`` "pointy" has a vertex towards +y
    ("flat": towards +x). With spacing 0.4 kpc, radius 4 kpc around the Sun this gives 367 cells
    (Widmark et al. 2025 report 365; see their spec §3.1).
    """

    x: str
    y: str
    spacing: float
    radius: float
    origin: tuple[float, float] = (0.0, 0.0)
    orientation: str = "pointy"
    dim: str | None = None
    _cells: np.ndarray = field(default=None, repr=False, compare=False)  # (n, 2) axial q, r

    def __post_init__(self):
        if not (self.spacing > 0 and self.radius >= 0):
            raise ValueError(f"hexagonal() needs spacing > 0 and radius >= 0, got "
                             f"{self.spacing!r}, {self.radius!r}")
        if self.orientation not in ("pointy", "flat"):
            raise ValueError(f"orientation must be 'pointy' or 'flat', got {self.orientation!r}")
        size = self.spacing / math.sqrt(3.0)
        m = int(math.ceil(self.radius / self.spacing)) + 1
        q, r = np.meshgrid(np.arange(-m, m + 1), np.arange(-m, m + 1), indexing="ij")
        q, r = q.ravel(), r.ravel()
        dx, dy = _hex_centre(q, r, size)
        keep = np.hypot(dx, dy) <= self.radius * (1 + 1e-9) + 1e-12
        # order cells by distance from the origin, then by angle: cell 0 is the central hexagon
        ang = np.mod(np.arctan2(dy, dx), 2 * np.pi)
        order = np.lexsort((np.round(ang, 9), np.round(np.hypot(dx, dy), 9)))
        order = order[keep[order]]
        object.__setattr__(self, "_cells", np.stack([q[order], r[order]], axis=1))

    @property
    def columns(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.x, self.y)

    @property
    def size(self) -> int:
        return len(self._cells)

    @property
    def circumradius(self) -> float:
        return self.spacing / math.sqrt(3.0)

    def bind(self, dim: str) -> Hexagonal:
        return Hexagonal(self.x, self.y, self.spacing, self.radius, self.origin,
                         self.orientation, dim=dim)

    def centers(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell centres (x, y) in the columns' units."""
        dx, dy = _hex_centre(self._cells[:, 0], self._cells[:, 1], self.circumradius)
        if self.orientation == "flat":
            dx, dy = dy, dx
        return self.origin[0] + dx, self.origin[1] + dy

    def vertices(self) -> tuple[np.ndarray, np.ndarray]:
        """(n, 6) x and y of each cell's vertices, counter-clockwise."""
        cx, cy = self.centers()
        start = 30.0 if self.orientation == "pointy" else 0.0  # a vertex towards +y or +x
        ang = np.deg2rad(start + 60.0 * np.arange(6))
        return (cx[:, None] + self.circumradius * np.cos(ang),
                cy[:, None] + self.circumradius * np.sin(ang))

    def kernel_params(self) -> dict[str, Any]:
        q, r = self._cells[:, 0], self._cells[:, 1]
        qmin, rmin = int(q.min()), int(r.min())
        nq, nr = int(q.max()) - qmin + 1, int(r.max()) - rmin + 1
        table = np.full(nq * nr, -1, np.int64)
        table[(q - qmin) * nr + (r - rmin)] = np.arange(len(q))
        return {"kind": kb.HEX, "n": self.size, "table": table, "qmin": qmin, "rmin": rmin,
                "nq": nq, "nr": nr, "swap": int(self.orientation == "flat"),
                "scale": 1.0 / self.circumradius, "x0": self.origin[0], "y0": self.origin[1]}

    def coords(self, units: Mapping[str, str | None]) -> dict[str, xr.Variable]:
        dim = self.dim
        cx, cy = self.centers()
        vx, vy = self.vertices()
        ux, uy = units.get(self.x), units.get(self.y)
        area = 1.5 * math.sqrt(3.0) * self.circumradius**2
        area_attrs = {"long_name": "hexagon area"}
        if ux and uy:
            area_attrs["units"] = product(ux, uy)
        return {
            dim: xr.Variable(dim, np.arange(self.size), {"long_name": f"hexagon over "
                                                         f"({self.x}, {self.y})"}),
            self.x: xr.Variable(dim, cx, {**_label(self.x, ux), "bounds": cv.bounds_name(self.x)}),
            self.y: xr.Variable(dim, cy, {**_label(self.y, uy), "bounds": cv.bounds_name(self.y)}),
            cv.bounds_name(self.x): xr.Variable((dim, "vertex"), vx),
            cv.bounds_name(self.y): xr.Variable((dim, "vertex"), vy),
            "hex_q": xr.Variable(dim, self._cells[:, 0]),
            "hex_r": xr.Variable(dim, self._cells[:, 1]),
            f"{dim}_area": xr.Variable(dim, np.full(self.size, area), area_attrs),
        }

    def describe(self) -> dict[str, Any]:
        return {"kind": "hexagonal", "columns": [self.x, self.y], "n": self.size,
                "spacing": self.spacing, "radius": self.radius, "origin": list(self.origin),
                "orientation": self.orientation}


def hexagonal(x: str, y: str, *, spacing: float, radius: float,
              origin: tuple[float, float] = (0.0, 0.0), orientation: str = "pointy") -> Hexagonal:
    """A hexagonal axis over columns ``x`` and ``y`` (see :class:`Hexagonal`)."""
    return Hexagonal(x, y, float(spacing), float(radius), tuple(map(float, origin)), orientation)


@dataclass(frozen=True)
class Categorical(Axis):
    """Discrete labels; stars whose label is not listed fall outside the axis."""

    categories: tuple
    column: str | None = None
    dim: str | None = None

    def __post_init__(self):
        cats = tuple(self.categories)
        if len(cats) == 0:
            raise ValueError("categorical() needs at least one category")
        if len(set(cats)) != len(cats):
            raise ValueError(f"categories must be unique, got {cats!r}")
        object.__setattr__(self, "categories", cats)

    @property
    def columns(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.column or self.dim,)

    @property
    def size(self) -> int:
        return len(self.categories)

    def bind(self, dim: str) -> Categorical:
        return Categorical(self.categories, column=self.column or dim, dim=dim)

    def kernel_params(self) -> dict[str, Any]:
        return {"kind": kb.CODE, "n": self.size}

    def precode(self, block: np.ndarray) -> np.ndarray:
        """Category code of each star as float64: −1 not a category, NaN for a NaN label."""
        cats = np.asarray(self.categories)
        block = np.asarray(block)
        order = np.argsort(cats, kind="stable")
        sorted_cats = cats[order]
        pos = np.searchsorted(sorted_cats, block)
        pos_c = np.clip(pos, 0, len(cats) - 1)
        hit = sorted_cats[pos_c] == block
        codes = np.where(hit, order[pos_c], -1).astype(np.float64)
        if block.dtype.kind == "f":
            codes[np.isnan(block)] = np.nan
        return codes

    def coords(self, units: Mapping[str, str | None]) -> dict[str, xr.Variable]:
        return {self.dim: xr.Variable(self.dim, np.asarray(self.categories),
                                      _label(self.columns[0], units.get(self.columns[0])))}

    def describe(self) -> dict[str, Any]:
        cats = [c.item() if hasattr(c, "item") else c for c in self.categories]
        return {"kind": "categorical", "columns": list(self.columns), "categories": cats}


def categorical(categories: Sequence, *, column: str | None = None) -> Categorical:
    """An axis of discrete labels (numbers or strings)."""
    return Categorical(tuple(categories), column=column)


def as_axis(dim: str, spec: Axis | Sequence[float] | np.ndarray) -> Axis:
    """Normalise a user axis spec (an :class:`Axis` or an array of edges) and name it ``dim``."""
    if isinstance(spec, Axis):
        return spec.bind(dim)
    if isinstance(spec, (int, np.integer)):
        raise TypeError(
            f"axis {dim!r}: a number of bins ({spec!r}) would need the data range, which is not "
            "known without reading the catalog; give edges, e.g. cubes.axes.regular(start, stop, "
            "step=...)"
        )
    try:
        arr = np.asarray(spec, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"axis {dim!r}: expected an array of edges or a cubes.axes axis, got "
                        f"{type(spec).__name__}") from None
    return Edges(arr, column=dim, dim=dim)
