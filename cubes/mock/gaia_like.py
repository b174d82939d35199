"""``cubes.mock.disk``: a Gaia-like catalog of the equilibrium disk, with its truth.

Stars are drawn from :class:`~cubes.mock.equilibrium.DiskModel` (isothermal populations in
A(R) Φ⊙(z)), given a stellar type with an absolute magnitude, Teff and logg
(:data:`STELLAR_TYPES`, a simple luminosity function, not an isochrone: the type is independent
of the population, so the selection below does not bias any truth taken at fixed position),
selected by a documented survey function — heliocentric distance ≤ ``d_max`` and
``g_min`` ≤ G ≤ ``g_max`` with G = M_G + 5 log₁₀(d / 10 pc), no extinction — then observed:
true astrometry from the frame's inverse transform, Gaia DR3 errors from pygaia, Gaussian noise
(:mod:`cubes.mock.observe`). A star has a radial velocity where pygaia's DR3 model gives it
one (G_RVS ≤ 14), else NaN, as in Gaia DR3.

Columns (Gaia DR3 names where Gaia has them): source_id, ra, dec, parallax(_error), pmra(_error),
pmdec(_error), pmra_pmdec_corr, radial_velocity(_error), phot_g_mean_mag, ruwe, teff(_error),
logg(_error), feh(_error) (LAMOST-like spectroscopy), age(_error); and the truth: *_true
positions and velocities (Galactocentric, library convention), distance_true, astrometry
without noise, feh_true, abs_g_mag, population, stellar_type.

Since the selection depends on position and type only, σ_vz(R, z), ⟨[Fe/H]⟩(R, z) and the
gradients of :class:`DiskModel` are the truth of the selected catalog too.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import dask
import dask.array as da
import numpy as np
import xarray as xr

from .. import conventions as cv
from ..frames import Frame, frame_matrices
from .equilibrium import DiskModel
from .observe import add_noise, astrometry, gaia_dr3_errors
from .signals import ArmMetallicity, NorthSouth, PhaseSpiral


@dataclass(frozen=True)
class StellarType:
    """Stars with M_G uniform in [mg_bright, mg_faint]; Teff and logg linear in M_G between the
    values at the two ends."""

    name: str
    fraction: float
    mg_bright: float
    mg_faint: float
    teff_bright: float
    teff_faint: float
    logg_bright: float
    logg_faint: float


STELLAR_TYPES = (
    StellarType("OBA dwarf", 0.05, -1.5, 2.0, 15000.0, 7000.0, 3.9, 4.3),
    StellarType("FGK dwarf", 0.55, 2.0, 7.0, 7000.0, 4200.0, 4.0, 4.6),
    StellarType("red clump", 0.15, 0.3, 0.7, 4800.0, 4600.0, 2.5, 2.3),
    StellarType("red giant branch", 0.25, -1.5, 2.5, 4000.0, 5000.0, 1.2, 3.3),
)

_UNITS = {
    "ra": "deg", "dec": "deg", "parallax": "mas", "parallax_error": "mas", "pmra": "mas / yr",
    "pmra_error": "mas / yr", "pmdec": "mas / yr", "pmdec_error": "mas / yr",
    "pmra_pmdec_corr": "", "radial_velocity": "km / s", "radial_velocity_error": "km / s",
    "phot_g_mean_mag": "mag", "ruwe": "", "teff": "K", "teff_error": "K", "logg": "dex",
    "logg_error": "dex", "feh": "dex", "feh_error": "dex", "age": "Gyr", "age_error": "Gyr",
}
_TRUTH_UNITS = {
    "x_true": "kpc", "y_true": "kpc", "z_true": "kpc", "R_true": "kpc", "phi_true": "deg",
    "vx_true": "km / s", "vy_true": "km / s", "vz_true": "km / s", "vR_true": "km / s",
    "vphi_true": "km / s", "distance_true": "kpc", "parallax_true": "mas",
    "pmra_true": "mas / yr", "pmdec_true": "mas / yr", "radial_velocity_true": "km / s",
    "feh_true": "dex", "teff_true": "K", "logg_true": "dex", "age_true": "Gyr",
    "abs_g_mag": "mag", "population": "", "stellar_type": "",
}
_INT = ("source_id", "population", "stellar_type")


@dataclass(frozen=True)
class _Config:
    model: DiskModel
    frame: Frame
    types: tuple[StellarType, ...]
    g_min: float
    g_max: float
    d_max: float
    signals: tuple


def _positions(rng, cfg: _Config, m: int, sun: np.ndarray) -> dict:
    """m candidate stars: population, position, type, magnitude; the survey's cut applied."""
    model, pops = cfg.model, cfg.model.populations
    frac = np.array([p.fraction for p in pops])
    k = rng.choice(len(pops), size=m, p=frac / frac.sum())
    R0 = math.hypot(sun[0], sun[1])
    R = model.sample_radius(rng, m, R0 - cfg.d_max, R0 + cfg.d_max)
    span = 180.0 if cfg.d_max >= R0 else math.degrees(math.asin(cfg.d_max / R0)) + 1.0
    phi = rng.uniform(-span, span, m)
    z = np.empty(m)
    for i in range(len(pops)):
        sel = k == i
        z[sel] = model.sample_z(rng, i, int(sel.sum()))
    rad = np.radians(phi)
    x, y = -R * np.cos(rad), R * np.sin(rad)
    d = np.sqrt((x - sun[0]) ** 2 + (y - sun[1]) ** 2 + (z - sun[2]) ** 2)
    tfrac = np.array([t.fraction for t in cfg.types])
    t = rng.choice(len(cfg.types), size=m, p=tfrac / tfrac.sum())
    lo = np.array([s.mg_bright for s in cfg.types])[t]
    hi = np.array([s.mg_faint for s in cfg.types])[t]
    u = rng.random(m)
    mg = lo + u * (hi - lo)
    g = mg + 5.0 * np.log10(100.0 * d)  # d in kpc: 5 log10(d / 10 pc)
    keep = (d <= cfg.d_max) & (g >= cfg.g_min) & (g <= cfg.g_max)
    out = {"population": k, "R_true": R, "phi_true": phi, "z_true": z, "x_true": x,
           "y_true": y, "distance_true": d, "stellar_type": t, "abs_g_mag": mg,
           "phot_g_mean_mag": g, "_u": u}
    return {name: a[keep] for name, a in out.items()}


def _velocities(rng, cfg: _Config, s: dict) -> None:
    """Gaussian velocities of the selected candidates, in place (km/s)."""
    model = cfg.model
    sz = np.array([p.sigma_z for p in model.populations])[s["population"]]
    sz = sz * model.sigma_scale(s["R_true"])
    sr = model.sigma_R_ratio * sz
    s["vz_true"] = rng.normal(0.0, sz)
    s["vR_true"] = rng.normal(0.0, sr)
    s["vphi_true"] = model.vc - sr**2 / 80.0 + rng.normal(0.0, 0.7 * sr)


def _candidates(rng, cfg: _Config, m: int, sun: np.ndarray) -> dict:
    s = _positions(rng, cfg, m, sun)
    _velocities(rng, cfg, s)
    for sig in cfg.signals:
        if isinstance(sig, PhaseSpiral):
            keep = sig.accept(rng, s["R_true"], s["z_true"], s["vz_true"],
                              cfg.model.amplitude(s["R_true"]))
            s = {name: a[keep] for name, a in s.items()}
    return s


def _chunk(seed: int, index: int, size: int, row0: int, cfg: _Config) -> dict:
    """``size`` selected stars of chunk ``index`` (its own random stream: chunks are
    independent, so a catalog streams)."""
    rng = np.random.default_rng([seed, index])
    sun = frame_matrices(cfg.frame)["offset"]  # the Sun's Galactocentric position, kpc
    parts, have, rate, empty = [], 0, 0.3, 0
    while have < size:
        if empty >= 5:
            raise ValueError(f"the mock survey (g_min={cfg.g_min}, g_max={cfg.g_max}, "
                             f"d_max={cfg.d_max} kpc) kept no star in 5 draws of up to "
                             "4 M candidates: widen it")
        # candidates for the stars still missing, at the acceptance seen so far; at most 4 M
        # per draw, so a survey that keeps few candidates loops instead of exhausting memory
        m = min(4_000_000, max(2000, int(1.3 * (size - have) / rate)))
        s = _candidates(rng, cfg, m, sun)
        got = s["R_true"].size
        empty = empty + 1 if got == 0 else 0
        rate = max(got / m, 1e-4)
        parts.append(s)
        have += got
    s = {name: np.concatenate([p[name] for p in parts])[:size] for name in parts[0]}
    return _observe(rng, cfg, s, row0)


def _observe(rng, cfg: _Config, s: dict, row0: int) -> dict:
    """Metallicities, signals, astrometry and errors of the selected stars."""
    model, n = cfg.model, s["R_true"].size
    pops = model.populations
    feh0 = np.array([p.feh0 for p in pops])[s["population"]]
    s["feh_true"] = (feh0 + model.feh_gradient * (s["R_true"] - model.R0)
                     + rng.normal(0.0, model.feh_scatter, n))
    for sig in cfg.signals:
        if isinstance(sig, NorthSouth):
            north = sig.applies(s["R_true"], s["z_true"])
            s["vz_true"] = np.where(north, sig.sigma_vz_ratio * s["vz_true"], s["vz_true"])
            s["feh_true"] = s["feh_true"] + np.where(north, sig.feh_offset, 0.0)
        elif isinstance(sig, ArmMetallicity):
            s["feh_true"] = s["feh_true"] + sig.excess(s["x_true"], s["y_true"])
    rad = np.radians(s["phi_true"])
    vR, vphi = s["vR_true"], s["vphi_true"]
    # e_R = (−cos φ, sin φ), e_φ = (sin φ, cos φ) for φ = atan2(y, −x) (library convention)
    s["vx_true"] = -vR * np.cos(rad) + vphi * np.sin(rad)
    s["vy_true"] = vR * np.sin(rad) + vphi * np.cos(rad)
    true = astrometry(s["x_true"], s["y_true"], s["z_true"], s["vx_true"], s["vy_true"],
                      s["vz_true"], cfg.frame)
    t, u = s["stellar_type"], s.pop("_u")  # Teff and logg linear in M_G within the type

    def along(bright: str, faint: str) -> np.ndarray:
        b = np.array([getattr(x, bright) for x in cfg.types])[t]
        f = np.array([getattr(x, faint) for x in cfg.types])[t]
        return b + u * (f - b)

    s["teff_true"] = along("teff_bright", "teff_faint")
    s["logg_true"] = along("logg_bright", "logg_faint")
    age = np.array([p.age for p in pops])[s["population"]]
    s["age_true"] = np.clip(age * np.exp(rng.normal(0.0, 0.15, n)), 0.05, 13.5)
    errors = gaia_dr3_errors(s["phot_g_mean_mag"], s["teff_true"], s["logg_true"])
    observed = add_noise(rng, true, errors)
    feh_error = np.clip(0.03 + 0.02 * (s["phot_g_mean_mag"] - 10.0), 0.03, 0.2)  # LAMOST-like
    spectro = {"feh_error": feh_error, "teff_error": np.full(n, 100.0),
               "logg_error": np.full(n, 0.1), "age_error": 0.2 * s["age_true"]}
    spectro_obs = add_noise(rng, {"feh": s["feh_true"], "teff": s["teff_true"],
                                  "logg": s["logg_true"], "age": s["age_true"]}, spectro)
    for name in ("parallax", "pmra", "pmdec", "radial_velocity"):
        s[f"{name}_true"] = true[name]
    return {"source_id": (row0 + np.arange(n, dtype=np.int64)) * 1_000_003 + 17,
            "ra": true["ra"], "dec": true["dec"], **observed, **errors, **spectro_obs,
            **spectro, "pmra_pmdec_corr": np.zeros(n),
            "ruwe": np.exp(rng.normal(0.0, 0.15, n)), **s}


def disk(n: int, seed: int = 0, *, model: DiskModel | None = None,
         frame: Frame | str = "widmark2025", signals=(), g_min: float = 3.0,
         g_max: float = 17.0, d_max: float = 5.0, types=STELLAR_TYPES,
         chunk_rows: int = 500_000) -> xr.Dataset:
    """A Gaia-like mock catalog of an equilibrium disk with known truth (lazy, dim ``star``).

    Parameters
    ----------
    n : int
        Number of stars in the catalog (after the survey selection).
    seed : int
        Random seed; chunk i draws from ``default_rng([seed, i])``.
    model : DiskModel
        The disk (default: ``DiskModel(R0=frame.R0, vc=frame.vc)``).
    frame : Frame or preset name
        The Sun's position and motion used to observe the disk (default Widmark+2025).
    signals : sequence of NorthSouth, ArmMetallicity, PhaseSpiral
        Injected signals of known size (:mod:`cubes.mock.signals`).
    g_min, g_max : float
        Apparent G range of the survey, mag.
    d_max : float
        Largest heliocentric distance, kpc.
    types : sequence of StellarType
        The luminosity function.
    chunk_rows : int
        Stars per dask chunk.

    Returns
    -------
    xr.Dataset
        Observed columns in Gaia DR3 names and the ``*_true`` truth (module docstring);
        ``attrs["truth"]`` records the model, the frame, the survey cut and the signals
        (rebuild the model with ``DiskModel.from_describe(attrs["truth"]["disk"])``).
    """
    if not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"disk() needs an integer n >= 1 stars, got {n!r}")
    if not g_min < g_max:
        raise ValueError(f"disk() needs g_min < g_max, got {g_min} and {g_max}")
    if d_max <= 0:
        raise ValueError(f"disk() needs d_max > 0 kpc, got {d_max}")
    frame = Frame.preset(frame) if isinstance(frame, str) else frame
    model = DiskModel(R0=frame.R0, vc=frame.vc) if model is None else model
    signals = tuple(signals)
    bad = [s for s in signals if not isinstance(s, NorthSouth | ArmMetallicity | PhaseSpiral)]
    if bad:
        raise TypeError(f"unknown signals {bad!r}; use cubes.mock.NorthSouth, ArmMetallicity "
                        "or PhaseSpiral")
    cfg = _Config(model, frame, tuple(types), g_min, g_max, d_max, signals)
    sizes = [min(chunk_rows, n - s) for s in range(0, n, chunk_rows)]
    starts = np.cumsum([0, *sizes[:-1]])
    parts = [dask.delayed(_chunk, pure=True)(seed, i, s, int(r0), cfg)
             for i, (s, r0) in enumerate(zip(sizes, starts, strict=True))]
    data = {}
    for name, units in {"source_id": "", **_UNITS, **_TRUTH_UNITS}.items():
        dtype = np.int64 if name in _INT else np.float64
        arrays = [da.from_delayed(p[name], shape=(s,), dtype=dtype)
                  for p, s in zip(parts, sizes, strict=True)]
        data[name] = (cv.STAR_DIM, da.concatenate(arrays), {"units": units})
    truth = {
        "model": "isothermal populations in A(R) Phi_sun(z) (cubes.mock.equilibrium)",
        "disk": model.describe(), "frame": frame.describe(),
        "survey": {"g_min": g_min, "g_max": g_max, "d_max_kpc": d_max,
                   "extinction": "none", "errors": "pygaia Gaia DR3 model",
                   "stellar_types": [asdict(t) for t in types]},
        "signals": [s.describe() for s in signals],
        "north_south_symmetric": not any(
            isinstance(s, PhaseSpiral) or (isinstance(s, NorthSouth) and (
                s.sigma_vz_ratio != 1 or s.feh_offset != 0)) for s in signals),
    }
    return xr.Dataset(data, attrs={"source": f"cubes.mock.disk(n={n}, seed={seed})",
                                   "survey": "mock", "id_column": "source_id",
                                   "selections": [], "truth": truth})

