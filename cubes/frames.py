"""The Galactocentric frame: the Sun's position and motion, and the transform of catalogs into it.

One convention for the whole library (DESIGN.md): right-handed Galactocentric Cartesian axes as
astropy's ``Galactocentric`` (Sun at x < 0, +y along Galactic rotation at the Sun, +z towards the
North Galactic Pole); cylindrical R, φ with **φ = 0 at the Sun's azimuth and increasing along
rotation** (φ = atan2(y, −x)), v_R > 0 outwards, v_φ > 0 along rotation, L_z = R v_φ.

Papers differ (see each spec §2): Lin+2023 and Widmark+2025 place the Sun at φ = 0 with the same
sense; Wang+2025 measure Φ from the anticentre line in the rotation sense (the same φ); Hawkins
2023 state X☉ = +8.27 with U☉ = −12.9 (a GC→Sun x axis) but plot astropy coordinates — the
preset reproduces their figures; Long+2025 leave φ's sense unstated. Presets hold each paper's
numbers; the conventions are always the library's.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache, partial
from typing import Any

import numpy as np
import xarray as xr

from . import conventions as cv
from .kernels.frames import ERROR_OUTPUTS, OUTPUTS, transform, velocity_errors


@dataclass(frozen=True)
class Frame:
    """The Sun in the Galaxy.

    Parameters
    ----------
    R0 : float
        In-plane distance of the Sun from the Galactic centre, kpc (astropy's ``galcen_distance``
        is the 3-D distance hypot(R0, z0)).
    z0 : float
        Height of the Sun above the plane, kpc.
    U, V, W : float
        Solar peculiar motion relative to the LSR, km/s (U towards the GC, V along rotation,
        W towards the NGP).
    vc : float
        Circular speed at the Sun, km/s; the Sun's Galactocentric velocity is (U, vc + V, W).
    name : str
        Preset name or a label.
    """

    R0: float = math.sqrt(8.122**2 - 0.0208**2)  # astropy v4.0 defaults: galcen_distance 8.122
    z0: float = 0.0208
    U: float = 12.9
    V: float = 245.6 - 233.0
    W: float = 7.78
    vc: float = 233.0
    name: str = "astropy-v4.0"

    @property
    def v_sun(self) -> tuple[float, float, float]:
        """The Sun's Galactocentric Cartesian velocity (km/s): (U, vc + V, W)."""
        return (self.U, self.vc + self.V, self.W)

    @classmethod
    def preset(cls, name: str) -> Frame:
        """A named paper's frame (see :data:`PRESETS`)."""
        try:
            return PRESETS[name]
        except KeyError:
            raise ValueError(f"unknown frame preset {name!r}; known presets: "
                             f"{sorted(PRESETS)!r}") from None

    def to_astropy(self):
        """The same frame as astropy's ``Galactocentric`` (roll 0, astropy's GC position)."""
        import astropy.coordinates as coord
        import astropy.units as u

        return coord.Galactocentric(
            galcen_distance=math.hypot(self.R0, self.z0) * u.kpc, z_sun=self.z0 * u.kpc,
            galcen_v_sun=coord.CartesianDifferential(list(self.v_sun) * u.km / u.s))

    @classmethod
    def from_astropy(cls, galcen, *, vc: float | None = None, name: str = "astropy") -> Frame:
        """The frame of an astropy ``Galactocentric``.

        astropy gives only the Sun's total velocity; it is split into vc + V with ``vc`` if
        given, else V = 0 (the whole y velocity counted as vc).
        """
        import astropy.units as u

        if float(galcen.roll.to_value(u.deg)) != 0.0:
            raise ValueError("Frame supports roll = 0 only (the Galactocentric default)")
        d = galcen.galcen_distance.to_value(u.kpc)
        z0 = galcen.z_sun.to_value(u.kpc)
        v = galcen.galcen_v_sun
        v = v.d_xyz if hasattr(v, "d_xyz") else v.xyz  # differential or representation
        vx, vy, vz = (float(c) for c in v.to_value(u.km / u.s))
        vc = vy if vc is None else vc
        return cls(R0=math.sqrt(d * d - z0 * z0), z0=z0, U=vx, V=vy - vc, W=vz, vc=vc,
                   name=name)

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable record for the ``attrs`` of catalogs and cubes."""
        return asdict(self)


#: The seed papers' frames (specs §2). Lin+2023 and Wang+2025 give no circular speed: 238 km/s
#: is a choice (recorded in the frame), not theirs. Long+2025: the spec's recommended Schönrich
#: solar motion and vc ≈ 233 km/s (McMillan 2017). Hawkins 2023: V☉ = 245 is the Sun's total
#: rotation (vc + V), stored as vc = 245, V = 0.
PRESETS: dict[str, Frame] = {
    "lin2023": Frame(R0=8.34, z0=0.027, U=9.58, V=10.52, W=7.01, vc=238.0, name="lin2023"),
    "wang2025": Frame(R0=8.34, z0=0.025, U=11.1, V=12.24, W=7.25, vc=238.0, name="wang2025"),
    "hawkins2023": Frame(R0=8.27, z0=0.029, U=12.9, V=0.0, W=7.78, vc=245.0,
                         name="hawkins2023"),
    "long2025": Frame(R0=8.178, z0=0.0, U=11.1, V=12.24, W=7.25, vc=233.0, name="long2025"),
    "widmark2025": Frame(R0=8.178, z0=0.020, U=11.1, V=12.24, W=7.25, vc=234.0,
                         name="widmark2025"),
}


def _k_kms() -> float:
    """km/s per (mas/yr × kpc), from astropy's units."""
    import astropy.units as u

    return float((1 * u.mas).to_value(u.rad) * u.kpc.to(u.km) / u.yr.to(u.s))


@lru_cache(maxsize=32)
def frame_matrices(frame: Frame) -> dict[str, np.ndarray]:
    """astropy's own constants for ``frame``: ICRS → Galactocentric matrix and offsets, and the
    ICRS → Galactic rotation (computed once per frame, outside the hot loop)."""
    import astropy.coordinates as coord
    import astropy.units as u
    from astropy.coordinates.builtin_frames.galactocentric import get_matrix_vectors

    A, offset = get_matrix_vectors(frame.to_astropy())
    unit = coord.ICRS(coord.CartesianRepresentation(np.eye(3) * u.kpc))
    G = unit.transform_to(coord.Galactic()).cartesian.xyz.to_value(u.kpc)  # columns = images
    return {"A": np.ascontiguousarray(A, dtype=np.float64),
            "offset": offset.xyz.to_value(u.kpc).astype(np.float64),
            "vsun": np.asarray(frame.v_sun, dtype=np.float64),
            "G": np.ascontiguousarray(G, dtype=np.float64), "k": _k_kms()}


UNITS = {"x": "kpc", "y": "kpc", "z": "kpc", "vx": "km / s", "vy": "km / s", "vz": "km / s",
         "R": "kpc", "phi": "deg", "vR": "km / s", "vphi": "km / s", "Lz": "kpc km / s",
         "X": "kpc", "Y": "kpc", "Z": "kpc", "U": "km / s", "V": "km / s", "W": "km / s"}
REQUIRED = ("ra", "dec", "pmra", "pmdec", "radial_velocity")


#: cores this process may run on: the threads of an in-memory transform
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _block(ra, dec, dist, pmra, pmdec, rv, *, m: Mapping[str, Any], rows: np.ndarray,
           parallax: bool, rv_fallback_vc: float | None, invalid: list | None = None,
           parallel: bool = False) -> np.ndarray:
    """The quantities ``rows`` (indices into OUTPUTS) of one block of stars, shape (len, n);
    ``dist`` holds parallaxes (mas) if ``parallax``, else distances (kpc). The kernel counts the
    invalid parallaxes on its way (a separate pass would cost 5 % of the transform): appended to
    ``invalid`` if given."""
    arrs = [np.ascontiguousarray(a, dtype=np.float64) for a in (ra, dec, dist, pmra, pmdec, rv)]
    out = np.empty((len(rows), arrs[0].shape[0]))  # one allocation; its rows are the columns
    outs = [None] * len(OUTPUTS)
    for i, q in enumerate(rows):
        outs[q] = out[i]
    # in memory: one thread per core, each writing (and page-faulting) its own part of the
    # columns; dask blocks: serial, dask's workers are the parallelism
    count = transform(*arrs, m["A"], m["offset"], m["vsun"], m["G"], m["k"], outs,
                      parallax=parallax, rv_fallback_vc=rv_fallback_vc,
                      threads=_CORES if parallel else 1)
    if invalid is not None:
        invalid.append(count)
    return out


def _error_block(ra, dec, dist, pmra, pmdec, rv, s_dist, s_pmra, s_pmdec, s_rv, corr, *,
                 m: Mapping[str, Any], parallel: bool = False) -> np.ndarray:
    """σ(vR, vphi, vz) of one block (``parallel`` is accepted for :func:`_apply`; serial)."""
    arrs = [np.ascontiguousarray(a, dtype=np.float64) for a in
            (ra, dec, dist, pmra, pmdec, rv, s_dist, s_pmra, s_pmdec, s_rv, corr)]
    out = np.empty((3, arrs[0].shape[0]))
    velocity_errors(*arrs, m["A"], m["offset"], m["vsun"], m["k"], out)
    return out


ERROR_COLUMNS = ("pmra_error", "pmdec_error", "radial_velocity_error")


def galactocentric(stars: xr.Dataset, frame: Frame | str | None = None, *,
                   errors: bool | None = None,
                   outputs: Sequence[str] | None = None,
                   rv_fallback: bool = False) -> xr.Dataset:
    """Add Galactocentric positions and velocities to a catalog (lazily).

    Needs ra, dec (deg), pmra, pmdec (mas/yr), radial_velocity (km/s) and either ``distance``
    (kpc) or ``parallax`` (mas, distance = 1/parallax). Adds x y z vx vy vz (kpc, km/s), R (kpc),
    phi (deg), vR, vphi (km/s), Lz (kpc km/s), and heliocentric Galactic X Y Z (kpc), U V W
    (km/s), in the convention of the module docstring. Stars with a non-positive or non-finite
    parallax (and no distance) get NaN, counted in ``attrs["frame_invalid_parallax"]`` when the
    catalog is in memory (a lazy catalog records the rule instead: computing the count would read
    it).

    The transform is a fused numba kernel using astropy's own matrices for the frame; it agrees
    with ``SkyCoord(...).transform_to(frame.to_astropy())`` to 1e-9 (tests/test_frames.py).

    ``outputs`` restricts the added quantities (default: all of them, listed in
    :data:`cubes.kernels.frames.OUTPUTS`); the others are never written, which saves memory on
    large catalogs (e.g. ``outputs=("R", "z", "vz")`` for a dispersion cube).

    ``rv_fallback=True``: a star without a radial velocity (NaN) gets the line-of-sight
    projection of circular rotation at the frame's vc, seen from the moving Sun (Widmark et al.
    2025 spec §2, the proper-motion-only fallback), and ``rv_assumed`` = True. Its v_z is then
    good where the line of sight is nearly in the plane (the RV enters v_z as sin b); its v_R and
    v_phi are those of the assumed field along the line of sight. Its velocity errors are NaN
    (the assumed RV has no error bar).

    With ``errors`` (default: when pmra_error, pmdec_error, radial_velocity_error and
    distance_error or parallax_error are present) it also adds vR_error, vphi_error, vz_error
    (km/s): first-order propagation of the distance (σ_d = σ_ϖ/ϖ² from parallaxes), proper
    motion (with pmra_pmdec_corr when present) and RV errors — the inputs of the deconvolved
    dispersions (Lin et al. 2023 §2, after Johnson & Soderblom 1987, with the distance's effect
    on the position angle included).
    """
    if frame is None:
        frame = Frame()
    elif isinstance(frame, str):
        frame = Frame.preset(frame)
    missing = [c for c in REQUIRED if c not in stars.variables]
    if "distance" not in stars.variables and "parallax" not in stars.variables:
        missing.append("parallax or distance")
    if missing:
        raise KeyError(f"galactocentric needs columns {missing!r}; the catalog has "
                       f"{sorted(map(str, stars.data_vars))!r}")
    names = tuple(OUTPUTS if outputs is None else outputs)
    unknown = [o for o in names if o not in OUTPUTS]
    if unknown or not names:
        raise ValueError(f"unknown outputs {unknown!r}; choose among {list(OUTPUTS)!r}")
    rows = np.array([OUTPUTS.index(o) for o in names], np.int64)
    m = frame_matrices(frame)
    parallax = "distance" not in stars.variables  # the kernel inverts parallaxes itself
    dist = stars["parallax" if parallax else "distance"]
    cols = [stars[c] for c in ("ra", "dec")] + [dist] + [stars[c] for c in REQUIRED[2:]]
    counts: list[int] = []  # invalid parallaxes of an in-memory catalog
    func = partial(_block, rows=rows, parallax=parallax,
                   rv_fallback_vc=frame.vc if rv_fallback else None,
                   invalid=None if _lazy(cols) else counts)
    out = _apply(cols, m, func, len(names))
    new = stars.assign({name: (cv.STAR_DIM, out[i], {"units": UNITS[name]})
                        for i, name in enumerate(names)})
    if rv_fallback:
        new["rv_assumed"] = (~np.isfinite(stars["radial_velocity"])).assign_attrs(
            long_name="radial velocity replaced by circular rotation projected on the line of "
                      f"sight (vc = {frame.vc} km/s)")
    dist_err = "parallax_error" if parallax else "distance_error"
    have_errors = all(c in stars.variables for c in (*ERROR_COLUMNS, dist_err))
    if errors is None:
        errors = have_errors
    if errors:
        if not have_errors:
            missing = [c for c in (*ERROR_COLUMNS, dist_err) if c not in stars.variables]
            raise KeyError(f"galactocentric(errors=True) needs columns {missing!r}")
        if parallax:
            plx = stars["parallax"]
            dist = xr.where(plx > 0, 1.0 / plx, np.nan)  # NaN parallax → NaN too
            s_dist = stars["parallax_error"] / plx**2
        else:
            s_dist = stars["distance_error"]
        corr = (stars["pmra_pmdec_corr"].fillna(0.0) if "pmra_pmdec_corr" in stars.variables
                else xr.zeros_like(stars["pmra"]))
        ecols = (cols[:2] + [dist] + cols[3:] + [s_dist] + [stars[c] for c in ERROR_COLUMNS]
                 + [corr])
        eout = _apply(ecols, m, _error_block, 3)
        new = new.assign({name: (cv.STAR_DIM, eout[i], {"units": "km / s"})
                          for i, name in enumerate(ERROR_OUTPUTS)})
    attrs = dict(stars.attrs)
    attrs["frame"] = frame.describe()
    if parallax:
        attrs["frame_invalid_parallax"] = (sum(counts) if counts
                                           else "NaN where parallax <= 0 or non-finite")
    return new.assign_attrs(attrs)


def _lazy(cols: list[xr.DataArray]) -> bool:
    """Whether any column is a dask array (then :func:`_apply` works block by block)."""
    import dask.array as da

    return any(isinstance(c.data, da.Array) for c in cols)


def _apply(cols: list[xr.DataArray], m: Mapping[str, Any], func, nout: int) -> list:
    """Run a kernel block by block (dask) or at once (numpy); one array per output."""
    import dask.array as da

    data = [c.data for c in cols]
    if _lazy(cols):
        ref = next(d for d in data if isinstance(d, da.Array))
        data = [d if isinstance(d, da.Array) else da.from_array(d, chunks=ref.chunks)
                for d in data]
        stacked = da.map_blocks(func, *data, m=m, dtype=np.float64, new_axis=0,
                                chunks=((nout,), ref.chunks[0]))
        return [stacked[i] for i in range(nout)]
    out = func(*data, m=m, parallel=True)  # one in-memory catalog: all cores
    return [out[i] for i in range(nout)]
