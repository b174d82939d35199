"""Young disk tracers with known truth: open clusters and classical Cepheids.

The validation samples of Long et al. 2025 (spec 003 §1.5–1.6): a few hundred objects, each
with a position, a velocity, an age and a metallicity. :func:`tracers` draws them from the same
:class:`~cubes.mock.equilibrium.DiskModel` as :func:`cubes.mock.disk` — its vertical potential
A(R) Φ⊙(z), surface density, radial [Fe/H] gradient g_R and intrinsic scatter, circular speed and
σ_R/σ_z — but with a continuous age τ in place of the three populations:

- τ log-uniform in [age_min, age_max] (Gyr);
- an age–velocity relation σ_z(τ)² = σ_young² + (σ_1² − σ_young²) τ/τ_1 (diffusive heating),
  anchored at the model's first population (τ_1 = 2 Gyr, σ_1 = 14 km/s by default); each object
  is vertically isothermal with its σ_z(τ) in A(R) Φ⊙ (z from exp(−A₀Φ⊙(z)/σ_z²), the same
  profile at every R since σ_z ∝ √A(R), as in the disk);
- an age–metallicity relation [Fe/H]₀(τ) through the model's first two populations
  ((2 Gyr, +0.05), (6 Gyr, −0.15): −0.05 dex/Gyr), so that
  ⟨[Fe/H]⟩(τ, R) = [Fe/H]₀(τ) + g_R (R − R0), with the model's intrinsic scatter.

At a fixed age there is **no vertical gradient** (the paper's mono-age limit). A sample that
mixes ages has one: older objects are both hotter (higher) and more metal-poor. The truth of
every object is in ``feh_mean_true`` (its model mean [Fe/H] at its true age and radius); a
least-squares slope of observed [Fe/H] on any function of the observed positions has, given
the objects drawn, the expectation of the same fit to ``feh_mean_true`` (the fit is linear in
[Fe/H] and the [Fe/H] noise is independent of everything else).

Observation: in-plane heliocentric distance ≤ ``d_max`` (no magnitude limit, no extinction); true
astrometry from the frame's inverse transform (:func:`cubes.mock.observe.astrometry`); lognormal
distance errors, Gaussian proper-motion, RV and [Fe/H] errors, lognormal age errors; a fraction
of the objects without an RV (NaN). Presets: :data:`CLUSTERS` (Zhong+2020-like: τ < 3 Gyr,
d ≤ 4 kpc, cluster-mean RVs and [Fe/H]) and :data:`CEPHEIDS` (Drimmel+2023-like: 30–300 Myr,
d ≤ 8 kpc, period–Wesenheit distances, Gaia RVS [Fe/H]).

Units: kpc, km/s, deg, mas, mas/yr, Gyr, dex.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import xarray as xr

from .. import conventions as cv
from ..frames import Frame
from .equilibrium import _Z, DiskModel, isothermal_profiles
from .observe import astrometry


@dataclass(frozen=True)
class TracerKind:
    """How one kind of tracer is drawn and observed.

    Parameters
    ----------
    name : str
        What the objects are ("open clusters").
    age_min, age_max : float
        Ages are log-uniform in [age_min, age_max], Gyr.
    sigma_young : float
        σ_z at τ = 0 and R = R0, km/s (the age–velocity relation of the module docstring).
    d_max : float
        Largest heliocentric distance in the plane, kpc.
    distance_error : float
        Fractional (lognormal) distance error.
    pm_error : float
        Proper-motion error, mas/yr (each component).
    rv_error : (float, float)
        RV errors are uniform in this range, km/s.
    rv_fraction : float
        Fraction of the objects with an RV (the others have NaN).
    feh_error : (float, float)
        [Fe/H] errors are uniform in this range, dex.
    log_age_error : float
        Age error, dex (lognormal).
    """

    name: str
    age_min: float
    age_max: float
    sigma_young: float = 5.0
    d_max: float = 4.0
    distance_error: float = 0.05
    pm_error: float = 0.03
    rv_error: tuple[float, float] = (1.0, 5.0)
    rv_fraction: float = 1.0
    feh_error: tuple[float, float] = (0.02, 0.10)
    log_age_error: float = 0.15


#: Zhong et al. 2020-like open clusters: LAMOST cluster means, Cantat-Gaudin+2018 astrometry
CLUSTERS = TracerKind("open clusters", age_min=0.01, age_max=3.0, d_max=4.0,
                      distance_error=0.05, pm_error=0.03, rv_error=(1.0, 5.0), rv_fraction=1.0,
                      feh_error=(0.02, 0.10), log_age_error=0.15)
#: Drimmel et al. 2023-like classical Cepheids: PW distances (e_mu ≈ 0.1 mag), Gaia RVS [Fe/H]
CEPHEIDS = TracerKind("classical Cepheids", age_min=0.03, age_max=0.3, d_max=8.0,
                      distance_error=0.046, pm_error=0.03, rv_error=(1.0, 4.0), rv_fraction=0.8,
                      feh_error=(0.05, 0.25), log_age_error=0.1)
KINDS = {"clusters": CLUSTERS, "cepheids": CEPHEIDS}

_UNITS = {
    "ra": "deg", "dec": "deg", "l": "deg", "b": "deg", "distance": "kpc",
    "distance_error": "kpc", "pmra": "mas / yr", "pmdec": "mas / yr",
    "pmra_error": "mas / yr", "pmdec_error": "mas / yr", "radial_velocity": "km / s",
    "radial_velocity_error": "km / s", "feh": "dex", "feh_error": "dex", "age": "Gyr",
    "log_age_error": "dex", "x_true": "kpc", "y_true": "kpc", "z_true": "kpc", "R_true": "kpc",
    "phi_true": "deg", "vx_true": "km / s", "vy_true": "km / s", "vz_true": "km / s",
    "vR_true": "km / s", "vphi_true": "km / s", "distance_true": "kpc", "age_true": "Gyr",
    "sigma_z_true": "km / s", "feh_true": "dex", "feh_mean_true": "dex",
}


@dataclass(frozen=True)
class AgeRelations:
    """σ_z(τ) and [Fe/H]₀(τ) at R0 (module docstring), from a :class:`DiskModel`."""

    sigma_young: float
    sigma_ref: float
    age_ref: float
    feh_ref: float
    feh_slope: float

    @classmethod
    def from_model(cls, model: DiskModel, sigma_young: float = 5.0) -> AgeRelations:
        p = model.populations
        if len(p) < 2:
            raise ValueError("the age–metallicity relation needs a model with >= 2 populations")
        slope = (p[1].feh0 - p[0].feh0) / (p[1].age - p[0].age)
        return cls(sigma_young, p[0].sigma_z, p[0].age, p[0].feh0, slope)

    def sigma_z(self, age) -> np.ndarray:
        """σ_z at R0, km/s."""
        a = np.asarray(age, dtype=np.float64)
        return np.sqrt(self.sigma_young**2
                       + (self.sigma_ref**2 - self.sigma_young**2) * a / self.age_ref)

    def feh0(self, age) -> np.ndarray:
        """Mean [Fe/H] at R0, dex."""
        return self.feh_ref + self.feh_slope * (np.asarray(age, dtype=np.float64)
                                                - self.age_ref)


def _heights(rng, model: DiskModel, sigma0: np.ndarray, block: int = 256) -> np.ndarray:
    """One height (kpc) per object from its isothermal profile exp(−A₀Φ⊙(z)/σ²)."""
    z = np.empty(sigma0.size)
    u = rng.random(sigma0.size)
    for i in range(0, sigma0.size, block):
        _, cdf = isothermal_profiles(_Z, model.A0, sigma0[i:i + block], model.shape)
        z[i:i + block] = [np.interp(uu, c, _Z) for uu, c in zip(u[i:i + block], cdf,
                                                                 strict=True)]
    return z


def tracers(n: int, seed: int = 0, *, kind: TracerKind | str = "clusters",
            model: DiskModel | None = None, frame: Frame | str = "long2025") -> xr.Dataset:
    """``n`` young tracers of ``kind`` drawn from ``model`` and observed from ``frame``.

    Parameters
    ----------
    n : int
        Number of objects (all within ``kind.d_max`` of the Sun, in the plane).
    seed : int
        Random seed.
    kind : TracerKind or "clusters" / "cepheids"
        Ages, σ_z of the youngest, survey depth and errors (:data:`CLUSTERS`, :data:`CEPHEIDS`).
    model : DiskModel
        The disk (default ``DiskModel(R0=frame.R0, vc=frame.vc)``, as :func:`cubes.mock.disk`).
    frame : Frame or preset name
        The Sun's position and motion (default Long+2025's).

    Returns
    -------
    xr.Dataset
        In memory, dim ``star``: observed ``ra, dec, l, b`` (deg), ``distance`` (kpc),
        ``distance_error``, ``pmra, pmdec`` (mas/yr) and errors, ``radial_velocity`` (km/s, NaN
        without RV) and error, ``feh, feh_error`` (dex), ``age`` (Gyr), ``log_age_error``; the
        truth ``*_true`` (Galactocentric, library convention), ``age_true``, ``sigma_z_true``,
        ``feh_true`` and ``feh_mean_true`` (the model mean [Fe/H] of each object);
        ``attrs["truth"]`` records the model, the age relations, the kind and the frame.
    """
    if not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"tracers() needs an integer n >= 1, got {n!r}")
    kind = KINDS[kind] if isinstance(kind, str) else kind
    frame = Frame.preset(frame) if isinstance(frame, str) else frame
    model = DiskModel(R0=frame.R0, vc=frame.vc) if model is None else model
    rel = AgeRelations.from_model(model, kind.sigma_young)
    rng = np.random.default_rng([seed, 2025])
    from ..frames import frame_matrices

    sun = frame_matrices(frame)["offset"]
    R0 = float(np.hypot(sun[0], sun[1]))
    span = 180.0 if kind.d_max >= R0 else np.degrees(np.arcsin(kind.d_max / R0)) + 1.0
    parts, have = [], 0
    while have < n:
        m = max(4 * (n - have), 64)
        R = model.sample_radius(rng, m, R0 - kind.d_max, R0 + kind.d_max)
        phi = rng.uniform(-span, span, m)
        rad = np.radians(phi)
        x, y = -R * np.cos(rad), R * np.sin(rad)
        near = np.hypot(x - sun[0], y - sun[1]) <= kind.d_max  # in-plane distance
        parts.append((R[near], phi[near], x[near], y[near]))
        have += int(near.sum())
    R, phi, x, y = (np.concatenate([p[i] for p in parts])[:n] for i in range(4))
    rad = np.radians(phi)
    age = np.exp(rng.uniform(np.log(kind.age_min), np.log(kind.age_max), n))
    sigma0 = rel.sigma_z(age)
    z = _heights(rng, model, sigma0)
    sz = sigma0 * model.sigma_scale(R)
    sr = model.sigma_R_ratio * sz
    vz = rng.normal(0.0, sz)
    vR = rng.normal(0.0, sr)
    vphi = model.vc - sr**2 / 80.0 + rng.normal(0.0, 0.7 * sr)
    vx = -vR * np.cos(rad) + vphi * np.sin(rad)
    vy = vR * np.sin(rad) + vphi * np.cos(rad)
    true = astrometry(x, y, z, vx, vy, vz, frame)
    mean = rel.feh0(age) + model.feh_gradient * (R - model.R0)
    feh_true = mean + rng.normal(0.0, model.feh_scatter, n)
    feh_error = rng.uniform(*kind.feh_error, n)
    rv_error = rng.uniform(*kind.rv_error, n)
    rv = true["radial_velocity"] + rng.normal(0.0, rv_error)
    no_rv = rng.random(n) >= kind.rv_fraction
    rv[no_rv], rv_error[no_rv] = np.nan, np.nan
    dist = true["distance"] * np.exp(rng.normal(0.0, kind.distance_error, n))
    lon, lat = _galactic(true["ra"], true["dec"])
    cols = {
        "ra": true["ra"], "dec": true["dec"], "l": lon, "b": lat, "distance": dist,
        "distance_error": kind.distance_error * dist,
        "pmra": true["pmra"] + rng.normal(0.0, kind.pm_error, n),
        "pmdec": true["pmdec"] + rng.normal(0.0, kind.pm_error, n),
        "pmra_error": np.full(n, kind.pm_error), "pmdec_error": np.full(n, kind.pm_error),
        "radial_velocity": rv, "radial_velocity_error": rv_error,
        "feh": feh_true + rng.normal(0.0, feh_error), "feh_error": feh_error,
        "age": age * 10.0 ** rng.normal(0.0, kind.log_age_error, n),
        "log_age_error": np.full(n, kind.log_age_error),
        "x_true": x, "y_true": y, "z_true": z, "R_true": R, "phi_true": phi,
        "vx_true": vx, "vy_true": vy, "vz_true": vz, "vR_true": vR, "vphi_true": vphi,
        "distance_true": true["distance"], "age_true": age, "sigma_z_true": sz,
        "feh_true": feh_true, "feh_mean_true": mean,
    }
    data = {k: (cv.STAR_DIM, np.asarray(v, dtype=np.float64), {"units": _UNITS[k]})
            for k, v in cols.items()}
    truth = {"model": "young tracers in A(R) Phi_sun(z) (cubes.mock.tracers)",
             "disk": model.describe(), "age_relations": asdict(rel), "kind": asdict(kind),
             "frame": frame.describe(),
             "vertical_gradient_at_fixed_age": 0.0}
    return xr.Dataset(data, attrs={"source": f"cubes.mock.tracers(n={n}, seed={seed}, "
                                             f"kind={kind.name!r})",
                                   "survey": "mock", "selections": [], "truth": truth})


def _galactic(ra, dec) -> tuple[np.ndarray, np.ndarray]:
    """Galactic (l, b) in deg of ICRS (ra, dec) in deg (astropy)."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    g = SkyCoord(ra=np.asarray(ra) * u.deg, dec=np.asarray(dec) * u.deg, frame="icrs").galactic
    return g.l.deg, g.b.deg


__all__ = ["CEPHEIDS", "CLUSTERS", "KINDS", "AgeRelations", "TracerKind", "tracers"]
