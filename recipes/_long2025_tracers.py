"""Long et al. 2025 §1.5–1.6, Figs. 6–7: the open-cluster and Cepheid validation (spec 003).

Used by ``recipes/long2025_vertical_gradient.py``; every step maps onto the spec:

1. Catalogs in their archives' column layouts, read with :func:`cubes.open_catalog` through a
   :class:`cubes.schemas.Schema` made from the file's own spelling of each column
   (:data:`CLUSTER_LAYOUT`, :data:`CEPHEID_LAYOUT`):
   - open clusters, Zhong et al. 2020 (J/A+A/640/A127: LAMOST DR5 cluster means on the
     Cantat-Gaudin et al. 2018 members) — the VizieR labels used by that family of tables
     (Cluster, RAdeg/DEdeg or GLON/GLAT, dmode in pc or plx in mas, pmRA, pmDE, RV, [Fe/H],
     e_[Fe/H], log age); spec §1.5;
   - classical Cepheids, Gaia Collaboration, Drimmel et al. 2023 (J/A+A/674/A37, table2.dat:
     GaiaDR3, GLON, GLAT, Dist in kpc, mu, e_mu, [Fe/H], e_[Fe/H], Flag, Ref, logAge,
     e_logAge), with proper motions and RVs joined from Gaia DR3 ``gaia_source`` by source_id
     (table2 has none); spec §1.6.
2. Positions and velocities recomputed in the long2025 frame (spec §2, A18) with
   :func:`cubes.galactocentric`; Z_max = max |z| of a galpy orbit in McMillan17
   (:func:`cubes.dynamics.zmax_orbit`, spec §2; time and sampling: :func:`add_zmax`). Objects
   without an RV get no Z_max (spec A11).
3. Cuts: clusters younger than 3 Gyr with [Fe/H] (spec §1.5; no R or |Z| cut is stated);
   Cepheids with a spectroscopic [Fe/H] (Flag = 0), |Z| < 1 kpc, 7 < R ≤ 13 kpc, and
   (S/N)_g > 30 only where the file has such a column (spec §1.6, A16).
4. Radial trend first: a least-squares line [Fe/H] = a + bR over each whole cut sample,
   subtracted (spec §1.5 step 1, A6).
5. Vertical gradients: unweighted OLS of Δ[Fe/H] on |Z| and on Z_max of the individual objects
   (spec §4.3, A15), OLS standard error (n − 2 dof); clusters per age group [0, 0.1), [0.1,
   0.5), [0.5, 1), [1, 2), [2, 3) Gyr (spec §3.4), Cepheids per R bin (7, 9], (9, 11],
   (11, 13] kpc (A17). Also: without the radial correction (Zhong+2020's way, the spec's switch
   test), the 1/σ²-weighted fit, and all clusters pooled.
6. Mock truth (:mod:`cubes.mock.tracers`): the same fits to each object's model mean [Fe/H]
   (``feh_mean_true``) — the expectation of the estimator given the objects drawn.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

import cubes
from cubes.dynamics import own_units, zmax_orbit
from cubes.mock import tracers as mock_tracers
from cubes.schemas import Schema

AGE_EDGES = [0.0, 0.1, 0.5, 1.0, 2.0, 3.0]   # spec §3.4, Gyr, [lo, hi)
R_BINS = [7.0, 9.0, 11.0, 13.0]              # spec A17, (lo, hi]
MIN_OBJECTS = 5                               # per fit (the OLS error needs n ≥ 3)
ORBIT_TIME = 1.0                              # Gyr (the paper's 10: --orbit-time 10)
STEPS_PER_GYR = 1000                          # output times: one per Myr
N_CLUSTERS, N_CEPHEIDS = 295, 1000            # default mock sizes (paper: 295 OCs)
CEPHEID_FLAG1 = 0.3                           # mock: extra Flag = 1 rows, per Flag = 0 row
#: the paper's numbers (spec §5): (group, slope, error) with the radial trend removed, and
#: Zhong+2020's without it
PAPER_OC = {"0.1–0.5 Gyr": (0.002, 0.131), "0.5–1 Gyr": (-0.089, 0.112)}
ZHONG2020_OC = {"0.1–0.5 Gyr": (-0.122, 0.150), "0.5–1 Gyr": (-0.338, 0.086)}
PAPER_DCEP_RANGE = (-0.079, 0.025)


# -- 1. the archives' layouts ----------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    """One quantity: its canonical name, the archive spellings it may have (first found wins;
    an exact spelling before a case-insensitive one) and their units."""

    name: str
    spellings: tuple[str, ...]
    units: str | None


#: Zhong et al. 2020 cluster table and its Cantat-Gaudin et al. 2018/2020 relatives: VizieR
#: labels, and the names astroquery gives them (``[Fe/H]`` → ``__Fe_H_``).
CLUSTER_LAYOUT = (
    Column("name", ("Cluster", "Name", "cluster", "name"), ""),
    Column("ra", ("RAdeg", "RA_ICRS", "_RA", "RA", "ra"), "deg"),
    Column("dec", ("DEdeg", "DE_ICRS", "_DE", "DEC", "Dec", "dec"), "deg"),
    Column("l", ("GLON", "_Glon", "l"), "deg"),
    Column("b", ("GLAT", "_Glat", "b"), "deg"),
    Column("distance_pc", ("dmode", "DistPc", "Dist", "dist_pc"), "pc"),
    Column("distance_kpc", ("dist_kpc", "distance"), "kpc"),
    Column("parallax", ("plx", "Plx", "parallax"), "mas"),
    Column("pmra", ("pmRA", "pmRA*", "pmRAs", "pmra"), "mas / yr"),
    Column("pmdec", ("pmDE", "pmdec"), "mas / yr"),
    Column("radial_velocity", ("RV", "HRV", "RVel", "rv", "radial_velocity"), "km / s"),
    Column("radial_velocity_error", ("e_RV", "e_HRV", "s_RV", "rv_error",
                                     "radial_velocity_error"), "km / s"),
    Column("feh", ("[Fe/H]", "__Fe_H_", "FeH", "Fe_H", "feh"), "dex"),
    Column("feh_error", ("e_[Fe/H]", "e__Fe_H_", "e_FeH", "s_[Fe/H]", "feh_error"), "dex"),
    Column("log_age", ("logAge", "AgeNN", "logt", "log(age)", "log_age_", "Age", "logage",
                       "log_age"), "dex(yr)"),
    Column("age_gyr", ("age_gyr", "Age_Gyr", "age"), "Gyr"),
)
#: Gaia Collaboration, Drimmel et al. 2023, J/A+A/674/A37 table2.dat (its ReadMe), plus Gaia
#: DR3 kinematics when the file already carries them
CEPHEID_LAYOUT = (
    Column("source_id", ("GaiaDR3", "Source", "source_id", "GaiaEDR3", "SOURCE_ID"), ""),
    Column("ra", ("RAdeg", "RA_ICRS", "ra"), "deg"),
    Column("dec", ("DEdeg", "DE_ICRS", "dec"), "deg"),
    Column("l", ("GLON", "_Glon", "l"), "deg"),
    Column("b", ("GLAT", "_Glat", "b"), "deg"),
    Column("distance_kpc", ("Dist", "dist", "distance"), "kpc"),
    Column("mu", ("mu", "DM"), "mag"),
    Column("mu_error", ("e_mu", "e_DM"), "mag"),
    Column("feh", ("[Fe/H]", "__Fe_H_", "FeH", "Fe_H", "feh"), "dex"),
    Column("feh_error", ("e_[Fe/H]", "e__Fe_H_", "e_FeH", "feh_error"), "dex"),
    Column("flag", ("Flag", "flag"), ""),
    Column("ref", ("Ref", "ref"), ""),
    Column("log_age", ("logAge", "log_age"), "dex(yr)"),
    Column("snr_g", ("snr_g", "snrg", "S/N", "SNR"), ""),
    Column("pmra", ("pmra", "pmRA"), "mas / yr"),
    Column("pmdec", ("pmdec", "pmDE"), "mas / yr"),
    Column("radial_velocity", ("radial_velocity", "RV"), "km / s"),
    Column("radial_velocity_error", ("radial_velocity_error", "e_RV"), "km / s"),
)
KINEMATICS = ("pmra", "pmdec", "radial_velocity", "radial_velocity_error")


class LayoutError(KeyError, ValueError):
    """A tracer file without a column the analysis needs, or with implausible units."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _match(path, layout, override: dict | None, what: str) -> tuple[Schema, dict]:
    """A Schema mapping the file's spelling of each known column to its canonical name."""
    have = [str(v) for v in cubes.open_catalog(path).data_vars]  # metadata (CSV: one parse)
    lower = {h.lower(): h for h in have}
    override = dict(override or {})
    unknown = sorted(set(override) - {c.name for c in layout})
    if unknown:
        raise LayoutError(f"{what}: unknown quantities {unknown!r} in the column override; "
                          f"known: {[c.name for c in layout]!r}")
    columns, found = {}, {}

    def claim(col: Column, name: str | None) -> None:
        if name is not None and name not in columns and col.name not in found:
            columns[name] = (col.name, col.units)
            found[col.name] = name

    for col in layout:  # overrides, then exact spellings, then case-insensitive ones (so
        if col.name in override:  # that an "age" in Gyr is never taken for a log "Age")
            if override[col.name] not in have:
                raise LayoutError(f"{what} {str(path)!r}: column {override[col.name]!r} (given "
                                  f"for {col.name!r}) is not in the file; it has {have!r}")
            claim(col, override[col.name])
    for col in layout:
        claim(col, next((s for s in col.spellings if s in have and s not in columns), None))
    for col in layout:
        claim(col, next((lower[s.lower()] for s in col.spellings
                         if s.lower() in lower and lower[s.lower()] not in columns), None))
    return Schema(name=what.replace(" ", "_"), columns=columns), found


def _need(found: dict, groups, path, layout, what: str) -> None:
    """A clear error naming the accepted spellings when no column of a group is present."""
    spell = {c.name: c.spellings for c in layout}
    for group in groups:
        if not any(g in found for g in group):
            options = " or ".join(f"{g} ({', '.join(spell[g])})" for g in group)
            raise LayoutError(f"{what} {str(path)!r} has no column for {options}; found "
                              f"{sorted(found.values())!r}. Pass a column override, e.g. "
                              f"{{{group[0]!r}: 'YOUR_COLUMN'}}")


def _load(path, schema: Schema) -> dict[str, np.ndarray]:
    cat = cubes.open_catalog(path, survey=schema).compute()
    return {str(k): np.asarray(v.values) for k, v in cat.data_vars.items()}


def _radec(cols: dict) -> tuple[np.ndarray, np.ndarray]:
    """ICRS (ra, dec) in deg from the file's ra/dec, or from its Galactic l/b (astropy)."""
    if "ra" in cols and "dec" in cols:
        return cols["ra"].astype(float), cols["dec"].astype(float)
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    c = SkyCoord(l=cols["l"].astype(float) * u.deg, b=cols["b"].astype(float) * u.deg,
                 frame="galactic").icrs
    return c.ra.deg, c.dec.deg


def _age_gyr(cols: dict, path, what: str) -> np.ndarray:
    if "log_age" in cols:
        la = cols["log_age"].astype(float)
        med = np.nanmedian(la)
        if 5.0 <= med <= 10.5:
            return 10.0 ** (la - 9.0)            # log10(age / yr)
        if -3.0 <= med <= 1.2:
            return 10.0**la                      # log10(age / Gyr)
        raise LayoutError(f"{what} {str(path)!r}: the log-age column has median {med:.3g}, "
                          "neither log10(yr) (5–10.5) nor log10(Gyr)")
    return cols["age_gyr"].astype(float)


def _distance_kpc(cols: dict, path, what: str) -> np.ndarray:
    if "distance_pc" in cols:
        d = cols["distance_pc"].astype(float)
        if np.nanmedian(d) < 30.0:
            raise LayoutError(f"{what} {str(path)!r}: the distance column (expected in pc) "
                              f"has median {np.nanmedian(d):.3g}: kpc? Pass "
                              "{'distance_kpc': NAME}")
        return d / 1000.0
    if "distance_kpc" in cols:
        d = cols["distance_kpc"].astype(float)
        if np.nanmedian(d) > 100.0:
            raise LayoutError(f"{what} {str(path)!r}: the distance column (expected in kpc) "
                              f"has median {np.nanmedian(d):.3g}: pc? Pass "
                              "{'distance_pc': NAME}")
        return d
    plx = cols["parallax"].astype(float)
    return np.where(plx > 0, 1.0 / plx, np.nan)


def _dataset(cols: dict, attrs: dict) -> xr.Dataset:
    units = {"ra": "deg", "dec": "deg", "distance": "kpc", "distance_error": "kpc",
             "pmra": "mas / yr", "pmdec": "mas / yr", "radial_velocity": "km / s",
             "radial_velocity_error": "km / s", "feh": "dex", "feh_error": "dex",
             "age": "Gyr"}
    return xr.Dataset({k: ("star", np.asarray(v), {"units": units.get(k, "")})
                       for k, v in cols.items()}, attrs=attrs)


def read_clusters(path, columns: dict | None = None) -> xr.Dataset:
    """Open clusters from a file in the Zhong+2020 (VizieR) layout: canonical columns in the
    library's units (distance kpc from dmode pc or 1/plx, age Gyr from a log age in yr).

    ``columns`` overrides the spelling of any quantity of :data:`CLUSTER_LAYOUT`, e.g.
    ``{"log_age": "logt", "distance_pc": "d"}``."""
    what = "open-cluster file"
    schema, found = _match(path, CLUSTER_LAYOUT, columns, what)
    _need(found, [("ra", "l"), ("distance_pc", "distance_kpc", "parallax"), ("pmra",),
                  ("pmdec",), ("feh",), ("log_age", "age_gyr")], path, CLUSTER_LAYOUT, what)
    if ("ra" in found) != ("dec" in found) and ("l" not in found or "b" not in found):
        raise LayoutError(f"{what} {str(path)!r}: needs both ra and dec, or both l and b")
    c = _load(path, schema)
    n = len(next(iter(c.values())))
    ra, dec = _radec(c)
    out = {"name": c["name"].astype(str) if "name" in c else np.array(
               [f"OC{i}" for i in range(n)]),
           "ra": ra, "dec": dec, "distance": _distance_kpc(c, path, what),
           "pmra": c["pmra"].astype(float), "pmdec": c["pmdec"].astype(float),
           "radial_velocity": c.get("radial_velocity", np.full(n, np.nan)).astype(float),
           "radial_velocity_error": c.get("radial_velocity_error",
                                          np.full(n, np.nan)).astype(float),
           "feh": c["feh"].astype(float),
           "feh_error": c.get("feh_error", np.full(n, np.nan)).astype(float),
           "age": _age_gyr(c, path, what)}
    return _dataset(out, {"source": str(path), "columns": found, "sample": "open clusters"})


def read_cepheids(path, gaia=None, columns: dict | None = None) -> xr.Dataset:
    """Classical Cepheids from a file in the Drimmel+2023 table2 layout (Dist kpc, e_mu mag →
    distance error, logAge → Gyr, Flag), with pmra, pmdec and radial_velocity from the file
    itself or joined by source_id from ``gaia`` (a Gaia DR3 ``gaia_source`` file)."""
    what = "Cepheid file"
    schema, found = _match(path, CEPHEID_LAYOUT, columns, what)
    _need(found, [("source_id",), ("ra", "l"), ("distance_kpc",), ("feh",)], path,
          CEPHEID_LAYOUT, what)
    c = _load(path, schema)
    n = c["source_id"].size
    ra, dec = _radec(c)
    dist = _distance_kpc(c, path, what)
    out = {"source_id": c["source_id"].astype(np.int64), "ra": ra, "dec": dec,
           "distance": dist,
           "distance_error": (dist * np.log(10.0) / 5.0 * c["mu_error"].astype(float)
                              if "mu_error" in c else np.full(n, np.nan)),
           "feh": c["feh"].astype(float),
           "feh_error": c.get("feh_error", np.full(n, np.nan)).astype(float),
           "flag": c.get("flag", np.zeros(n)).astype(float),
           "age": (_age_gyr(c, path, what) if "log_age" in c else np.full(n, np.nan))}
    if "snr_g" in c:
        out["snr_g"] = c["snr_g"].astype(float)
    kin = {k: c[k].astype(float) for k in KINEMATICS if k in c}
    if gaia is not None:
        kin = _join_gaia(out["source_id"], gaia)
    missing = [k for k in ("pmra", "pmdec", "radial_velocity") if k not in kin]
    if missing:
        raise LayoutError(f"{what} {str(path)!r} has no {missing!r} (Drimmel+2023 table2 "
                          "carries none): give a Gaia DR3 gaia_source file with them "
                          "(--cepheids-gaia), joined by source_id")
    out.update({k: kin.get(k, np.full(n, np.nan)) for k in KINEMATICS})
    return _dataset(out, {"source": str(path), "columns": found, "sample": "Cepheids",
                          "kinematics": str(gaia) if gaia is not None else str(path)})


def _join_gaia(source_id: np.ndarray, gaia) -> dict[str, np.ndarray]:
    """pmra, pmdec, radial_velocity (and its error) of ``source_id`` from a gaia_source file
    (NaN for ids it lacks)."""
    g = cubes.open_catalog(gaia, survey="gaia_dr3")
    need = [k for k in ("source_id", "pmra", "pmdec", "radial_velocity") if k not in g]
    if need:
        raise LayoutError(f"Gaia file {str(gaia)!r} lacks {need!r}")
    keep = [k for k in ("source_id", *KINEMATICS) if k in g]
    g = g[keep].compute()
    ids = g.source_id.values.astype(np.int64)
    order = np.argsort(ids)
    pos = np.clip(np.searchsorted(ids[order], source_id), 0, ids.size - 1)
    hit = ids[order][pos] == source_id
    rows = order[pos]
    return {k: np.where(hit, g[k].values.astype(float)[rows], np.nan)
            for k in KINEMATICS if k in g}


# -- the default mock, written in those layouts ----------------------------------------------
def write_mock_clusters(ds: xr.Dataset, path: Path) -> Path:
    """A mock cluster sample as a CSV in the Zhong+2020 VizieR layout (dmode pc, logAge)."""
    n = ds.sizes["star"]
    rows = {"Cluster": [f"Mock_OC_{i:04d}" for i in range(n)], "RAdeg": ds.ra.values,
            "DEdeg": ds.dec.values, "GLON": ds.l.values, "GLAT": ds.b.values,
            "plx": 1.0 / ds.distance.values, "dmode": 1000.0 * ds.distance.values,
            "pmRA": ds.pmra.values, "pmDE": ds.pmdec.values, "RV": ds.radial_velocity.values,
            "e_RV": ds.radial_velocity_error.values, "[Fe/H]": ds.feh.values,
            "e_[Fe/H]": ds.feh_error.values, "logAge": np.log10(ds.age.values) + 9.0}
    return _write_csv(path, rows)


def write_mock_cepheids(ds: xr.Dataset, flag1: xr.Dataset, path: Path,
                        gaia_path: Path) -> tuple[Path, Path]:
    """A mock Cepheid sample as Drimmel+2023 table2 (CSV) plus a Gaia DR3 gaia_source extract
    (CSV) with its kinematics. ``flag1`` are Cepheids whose [Fe/H] is the gradient's (Flag = 1
    in table2), which the analysis must drop."""
    both = xr.concat([ds, flag1], "star")
    n, n0 = both.sizes["star"], ds.sizes["star"]
    sid = 4_295_806_720 + np.arange(n, dtype=np.int64) * 1_000_003_117
    d = both.distance.values
    mu = 5.0 * np.log10(100.0 * d)
    e_mu = both.distance_error.values / d * 5.0 / np.log(10.0)
    feh = both.feh.values.copy()
    feh[n0:] = np.round(0.05 - 0.06 * (flag1.R_true.values - 8.178), 2)  # a gradient's value
    table2 = {"GaiaDR3": sid, "GLON": both.l.values, "GLAT": both.b.values, "Dist": d,
              "mu": mu, "e_mu": e_mu, "[Fe/H]": feh, "e_[Fe/H]": both.feh_error.values,
              "Flag": np.r_[np.zeros(n0, int), np.ones(n - n0, int)],
              "Ref": ["Gaia_DR3"] * n, "logAge": np.log10(both.age.values) + 9.0,
              "e_logAge": both.log_age_error.values}
    gaia = {"source_id": sid, "ra": both.ra.values, "dec": both.dec.values,
            "pmra": both.pmra.values, "pmra_error": both.pmra_error.values,
            "pmdec": both.pmdec.values, "pmdec_error": both.pmdec_error.values,
            "radial_velocity": both.radial_velocity.values,
            "radial_velocity_error": both.radial_velocity_error.values}
    return _write_csv(path, table2), _write_csv(gaia_path, gaia)


def _write_csv(path: Path, rows: dict) -> Path:
    names = list(rows)
    cols = [np.asarray(rows[k]) for k in names]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(names)
        for i in range(len(cols[0])):
            w.writerow(["" if (isinstance(c[i], float | np.floating) and not np.isfinite(c[i]))
                        else (repr(float(c[i])) if isinstance(c[i], float | np.floating)
                              else c[i]) for c in cols])
    return path


def mock_samples(seed: int, out: Path, n_clusters: int = N_CLUSTERS,
                 n_cepheids: int = N_CEPHEIDS) -> dict:
    """Draw the default mock tracers (:mod:`cubes.mock.tracers`, the recipe mock's disk in
    the long2025 frame), write them in the archives' layouts and return the paths and the
    truth (by cluster name / source id)."""
    cl = mock_tracers(n_clusters, seed=seed * 1000 + 6, kind="clusters")
    cep = mock_tracers(n_cepheids, seed=seed * 1000 + 7, kind="cepheids")
    extra = mock_tracers(max(1, int(CEPHEID_FLAG1 * n_cepheids)), seed=seed * 1000 + 8,
                                kind="cepheids")
    paths = {"clusters": write_mock_clusters(cl, out / "long2025_mock_clusters_zhong2020.csv")}
    paths["cepheids"], paths["cepheids_gaia"] = write_mock_cepheids(
        cep, extra, out / "long2025_mock_cepheids_drimmel2023_table2.csv",
        out / "long2025_mock_cepheids_gaia_dr3.csv")
    return {"paths": paths, "truth": {"clusters": cl, "cepheids": cep}}


# -- 2–3. phase space, cuts, Z_max ----------------------------------------------------------
def phase_space(ds: xr.Dataset, frame) -> xr.Dataset:
    """R, φ, Z and v_R, v_φ, v_z in ``frame`` (spec §2; positions also without velocities)."""
    g = cubes.galactocentric(ds, frame, errors=False,
                             outputs=("R", "phi", "z", "vR", "vphi", "vz"))
    return g.assign(abs_z=np.abs(g.z))


def cuts(ds: xr.Dataset, kind: str) -> tuple[xr.Dataset, dict, list]:
    """Spec §1.5 (clusters) and §1.6 (Cepheids) cuts: the kept objects, the count after each
    cut, and the cuts that could not be applied."""
    keep = np.isfinite(ds.feh.values) & np.isfinite(ds.R.values) & np.isfinite(ds.z.values)
    flow = {"read": int(ds.sizes["star"]), "with [Fe/H] and a position": int(keep.sum())}
    skipped = []
    if kind == "clusters":
        keep &= ds.age.values < AGE_EDGES[-1]
        flow["age < 3 Gyr"] = int(keep.sum())
    else:
        keep &= ds.flag.values == 0
        flow["spectroscopic [Fe/H] (Flag = 0)"] = int(keep.sum())
        if "snr_g" in ds:
            keep &= ds.snr_g.values > 30
            flow["(S/N)_g > 30"] = int(keep.sum())
        else:
            skipped.append("(S/N)_g > 30 (no such column; spec A16)")
        keep &= ds.abs_z.values < 1.0
        flow["|Z| < 1 kpc"] = int(keep.sum())
        keep &= (ds.R.values > R_BINS[0]) & (ds.R.values <= R_BINS[-1])
        flow["7 < R ≤ 13 kpc"] = int(keep.sum())
    return ds.isel(star=np.flatnonzero(keep)), flow, skipped


def orbit_units(potential: str, frame) -> dict:
    """A fitted model keeps its own units; one in natural units is scaled to the frame."""
    return {} if own_units(potential) else {"ro": frame.R0, "vo": frame.vc}


def add_zmax(samples: dict, potential: str, frame, time: float = ORBIT_TIME,
             check: int = 2) -> dict:
    """Z_max of every object with a velocity: max |z| of a galpy orbit integrated ``time`` Gyr
    in ``potential``, sampled every Myr (the paper's 10 Gyr at 101 output times undersamples
    50–100 Myr vertical periods and can only underestimate). With ``time`` < 10, ``check``
    clusters (those with the highest Z_max) are also integrated 10 Gyr, densely and at the
    paper's 101 output times, to measure both choices."""
    kw = orbit_units(potential, frame)
    steps = int(round(STEPS_PER_GYR * time)) + 1
    out = dict(samples)
    for key in ("clusters", "cepheids"):
        ds = samples[key]
        z = zmax_orbit(ds.R.values, ds.z.values, ds.vR.values, ds.vphi.values, ds.vz.values,
                       phi=ds.phi.values, potential=potential, time=time, n_steps=steps, **kw)
        out[key] = ds.assign(zmax=("star", z, {"units": "kpc", "long_name":
                                               f"max |z| over {time:g} Gyr in {potential}"}))
    out["zmax_check"] = None
    ds = out["clusters"]
    ok = np.flatnonzero(np.isfinite(ds.zmax.values))
    if check and time < 10 and ok.size:
        pick = ok[np.argsort(ds.zmax.values[ok])[::-1][:check]]
        a = [ds[c].values[pick] for c in ("R", "z", "vR", "vphi", "vz")]
        dense = zmax_orbit(*a, phi=ds.phi.values[pick], potential=potential, time=10.0,
                           n_steps=10001, **kw)
        paper = zmax_orbit(*a, phi=ds.phi.values[pick], potential=potential, time=10.0,
                           n_steps=101, **kw)
        out["zmax_check"] = {"n": int(pick.size), "run": ds.zmax.values[pick],
                             "dense_10": dense, "paper_10": paper}
    out["orbit"] = {"potential": potential, "time": time, "n_steps": steps}
    return out


# -- 4–5. radial trend and vertical gradients ------------------------------------------------
def ols(x, y, w=None) -> dict:
    """Least-squares line y = a + b x: slope, standard error (residual variance with n − 2
    dof), intercept, n. With ``w`` (1/σ²) the weighted fit, its error scaled by χ²/(n − 2)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    m = np.isfinite(x) & np.isfinite(y)
    w = np.ones_like(x) if w is None else np.asarray(w, float)
    m &= np.isfinite(w) & (w > 0)
    n = int(m.sum())
    if n < max(MIN_OBJECTS, 3):
        return {"slope": np.nan, "error": np.nan, "intercept": np.nan, "n": n}
    x, y, w = x[m], y[m], w[m]
    xb, yb = np.average(x, weights=w), np.average(y, weights=w)
    sxx = np.sum(w * (x - xb) ** 2)
    b = np.sum(w * (x - xb) * (y - yb)) / sxx
    a = yb - b * xb
    s2 = np.sum(w * (y - a - b * x) ** 2) / (n - 2)
    return {"slope": float(b), "error": float(np.sqrt(s2 / sxx)), "intercept": float(a),
            "n": n}


def _groups(ds: xr.Dataset, kind: str) -> list[tuple[str, np.ndarray]]:
    if kind == "clusters":
        age = ds.age.values
        out = [(_age_label(lo, hi), (age >= lo) & (age < hi))
               for lo, hi in zip(AGE_EDGES[:-1], AGE_EDGES[1:], strict=True)]
        return out + [("all < 3 Gyr", age < AGE_EDGES[-1])]
    R = ds.R.values
    return [(f"{lo:g} < R ≤ {hi:g} kpc", (R > lo) & (R <= hi))
            for lo, hi in zip(R_BINS[:-1], R_BINS[1:], strict=True)]


def _age_label(lo: float, hi: float) -> str:
    return f"< {hi:g} Gyr" if lo == 0 else f"{lo:g}–{hi:g} Gyr"


def gradients(ds: xr.Dataset, kind: str, feh: np.ndarray | None = None) -> dict:
    """Spec §1.5–1.6, §4.3: the radial line over the whole sample, then per group the OLS of
    Δ[Fe/H] (and of [Fe/H] without the correction) on |Z| and on Z_max. ``feh`` replaces the
    observed [Fe/H] (the mock truth: each object's model mean)."""
    y = ds.feh.values if feh is None else feh
    trend = ols(ds.R.values, y)
    delta = y - (trend["intercept"] + trend["slope"] * ds.R.values)
    w = 1.0 / ds.feh_error.values**2 if np.any(np.isfinite(ds.feh_error.values)) else None
    fits = {}
    for label, m in _groups(ds, kind):
        for height in ("abs_z", "zmax"):
            x = np.where(m, ds[height].values, np.nan)
            fits[label, height, "corrected"] = ols(x, delta)
            fits[label, height, "raw"] = ols(x, y)
            fits[label, height, "weighted"] = (ols(x, delta, w) if w is not None
                                               else ols(x, np.nan * delta))
    return {"trend": trend, "delta": delta, "fits": fits}


def analyse(samples: dict) -> dict:
    """Measured gradients of both samples and, for a mock sample, their truths."""
    res = {}
    for kind in ("clusters", "cepheids"):
        ds = samples[kind]
        res[kind] = {"measured": gradients(ds, kind), "truth": None}
        if "feh_mean_true" in ds:
            res[kind]["truth"] = gradients(ds, kind, ds.feh_mean_true.values)
    return res


def prepare(frame, seed: int, out: Path, clusters=None, cepheids=None, cepheids_gaia=None,
            n_clusters: int = N_CLUSTERS, n_cepheids: int = N_CEPHEIDS,
            cluster_columns: dict | None = None,
            cepheid_columns: dict | None = None) -> dict:
    """Read both samples (a sample without a file comes from the mock, written to ``out`` in
    its archive's layout and read back the same way), add phase space and apply the cuts."""
    mock = None
    if clusters is None or cepheids is None:
        mock = mock_samples(seed, out, n_clusters, n_cepheids)
    src = {"clusters": clusters if clusters is not None else mock["paths"]["clusters"],
           "cepheids": cepheids if cepheids is not None else mock["paths"]["cepheids"]}
    gaia = cepheids_gaia if cepheids is not None else mock["paths"]["cepheids_gaia"]
    raw = {"clusters": read_clusters(src["clusters"], cluster_columns),
           "cepheids": read_cepheids(src["cepheids"], gaia, cepheid_columns)}
    result = {"samples": {}, "flows": {}, "skipped": {}, "sources": src,
              "mock": {"clusters": clusters is None, "cepheids": cepheids is None},
              "g_R": (mock["truth"]["clusters"].attrs["truth"]["disk"]["feh_gradient"]
                      if mock else np.nan)}
    for kind in ("clusters", "cepheids"):
        ds = phase_space(raw[kind], frame)
        ds, result["flows"][kind], result["skipped"][kind] = cuts(ds, kind)
        if result["mock"][kind]:
            ds = attach_truth(ds, mock["truth"][kind], kind)
        result["samples"][kind] = ds
    return result


def attach_truth(ds: xr.Dataset, mock: xr.Dataset, kind: str) -> xr.Dataset:
    """The mock's per-object truth, matched to the objects read back from the files (by the
    cluster name / source id the writers gave them)."""
    if kind == "clusters":
        idx = np.array([int(s.rsplit("_", 1)[1]) for s in ds.name.values])
    else:
        idx = (ds.source_id.values - 4_295_806_720) // 1_000_003_117
    cols = ["feh_mean_true", "age_true", "R_true", "z_true"]
    return ds.assign({c: ("star", mock[c].values[idx], mock[c].attrs) for c in cols})


def rows(res: dict) -> list[dict]:
    """One row per fit (the tracer slopes CSV)."""
    out = []
    for kind, r in res.items():
        for (group, height, mode), f in r["measured"]["fits"].items():
            t = r["truth"]["fits"][group, height, mode] if r["truth"] else None
            tv = t["slope"] if t else np.nan
            out.append({"sample": kind, "group": group, "height": height,
                        "radial_correction": mode, "n": f["n"], "slope": f["slope"],
                        "error": f["error"], "intercept": f["intercept"], "truth": tv,
                        "pull": (f["slope"] - tv) / f["error"] if t else np.nan})
    return out


def write_objects(samples: dict, res: dict, path: Path) -> Path:
    """Per object: sample, id, R, Z, Z_max, age, [Fe/H], Δ[Fe/H]."""
    table = {k: [] for k in ("sample", "id", "R", "z", "zmax", "age", "feh", "delta_feh")}
    for kind in ("clusters", "cepheids"):
        ds = samples[kind]
        ids = ds.name.values if kind == "clusters" else ds.source_id.values
        for i in range(ds.sizes["star"]):
            for k, v in (("sample", kind), ("id", ids[i]), ("R", ds.R.values[i]),
                         ("z", ds.z.values[i]), ("zmax", ds.zmax.values[i]),
                         ("age", ds.age.values[i]), ("feh", ds.feh.values[i]),
                         ("delta_feh", res[kind]["measured"]["delta"][i])):
                table[k].append(v)
    return _write_csv(path, table)


# -- the figure: the paper's Figs. 6 and 7 ---------------------------------------------------
def figure(samples: dict, res: dict, title: str):
    """Top: clusters per age group (Fig. 6), Δ[Fe/H] against |Z| (black) and Z_max (red) with
    the OLS lines (dashed) and, on the mock, the truth (dotted). Bottom: Cepheids per R bin
    (Fig. 7); the slopes per age group and per R bin against the truth and the paper."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, axs = plt.subplots(2, 5, figsize=(21, 9.5))
    style = {"abs_z": ("k", "o", "|Z|"), "zmax": ("tab:red", "^", "Z_max")}
    for row, kind in ((0, "clusters"), (1, "cepheids")):
        ds, r = samples[kind], res[kind]
        labels = [g for g, _ in _groups(ds, kind)][:5 if kind == "clusters" else 3]
        for col, (label, m) in enumerate(g for g in _groups(ds, kind) if g[0] in labels):
            ax = axs[row, col]
            lines = []
            for height, (colour, marker, name) in style.items():
                x = ds[height].values[m]
                y = r["measured"]["delta"][m]
                ax.errorbar(x, y, ds.feh_error.values[m], fmt=marker, ms=4, color=colour,
                            alpha=0.5, lw=0.5, capsize=0, mfc="none" if height == "zmax"
                            else colour)
                f = r["measured"]["fits"][label, height, "corrected"]
                xx = np.array([0.0, np.nanmax(x) if np.any(np.isfinite(x)) else 1.0])
                txt = f"{name}: {f['slope']:+.3f} ± {f['error']:.3f}"
                if np.isfinite(f["slope"]):
                    ax.plot(xx, f["intercept"] + f["slope"] * xx, "--", color=colour, lw=1.6)
                if r["truth"] is not None:
                    t = r["truth"]["fits"][label, height, "corrected"]
                    if np.isfinite(t["slope"]):
                        ax.plot(xx, t["intercept"] + t["slope"] * xx, ":", color=colour,
                                lw=2)
                        txt += f" (truth {t['slope']:+.3f})"
                lines.append((txt, colour))
            for k, (txt, colour) in enumerate(lines):
                ax.text(0.03, 0.95 - 0.075 * k, txt, transform=ax.transAxes, color=colour,
                        fontsize=9.5, va="top",
                        bbox={"facecolor": "white", "alpha": 0.8, "lw": 0, "pad": 1.5})
            ax.text(0.97, 0.05, f"N = {int(m.sum())}", transform=ax.transAxes, ha="right",
                    fontsize=9.5)
            what = "open clusters" if kind == "clusters" else "Cepheids"
            ax.set_title(f"{what}, {label}", fontsize=11)
            ax.set_xlabel("|Z| (black) or Z_max (red) (kpc)")
            if col == 0:
                ax.set_ylabel("Δ[Fe/H] = [Fe/H] − (a + bR) (dex)")
            ax.set_ylim(-0.85, 0.85)
            ax.axhline(0, color="0.6", lw=0.8)
            ax.grid(alpha=0.3)
    _summary(axs[1, 3], res["clusters"], [g for g, _ in _groups(samples["clusters"],
                                                                 "clusters")],
             "open clusters: slope per age group", PAPER_OC)
    _summary(axs[1, 4], res["cepheids"], [g for g, _ in _groups(samples["cepheids"],
                                                                 "cepheids")],
             "Cepheids: slope per R bin", None)
    axs[1, 4].axhspan(*PAPER_DCEP_RANGE, color="tab:green", alpha=0.15)
    handles = [
        Line2D([], [], color="k", marker="o", ls="", label="Δ[Fe/H] vs |Z|"),
        Line2D([], [], color="tab:red", marker="^", mfc="none", ls="",
               label="Δ[Fe/H] vs Z_max"),
        Line2D([], [], color="0.3", ls="--", label="OLS fit (slope ± OLS error, dex/kpc)"),
        Line2D([], [], color="0.3", ls=":", lw=2, label="truth (mock: same fit to model means)"),
        Line2D([], [], color="0.4", marker="s", mfc="none", ls="",
               label="|Z| slope, no radial correction"),
        Line2D([], [], color="tab:green", marker="D", ls="",
               label="paper (OCs; band: its DCEP range)"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=6, fontsize=10, frameon=False)
    fig.suptitle(title, fontsize=13)
    fig.tight_layout(rect=(0, 0.04, 1, 0.95))
    return fig


def _summary(ax, r: dict, labels: list[str], title: str, paper: dict | None) -> None:
    x = np.arange(len(labels))
    for k, (height, mode, colour, marker, face) in enumerate((
            ("abs_z", "corrected", "k", "o", "k"), ("zmax", "corrected", "tab:red", "^", "none"),
            ("abs_z", "raw", "0.4", "s", "none"))):
        f = [r["measured"]["fits"][g, height, mode] for g in labels]
        ax.errorbar(x + (k - 1) * 0.18, [v["slope"] for v in f], [v["error"] for v in f],
                    fmt=marker, color=colour, mfc=face, ms=6, capsize=3)
        if r["truth"] is not None:
            t = [r["truth"]["fits"][g, height, mode]["slope"] for g in labels]
            ax.plot(x + (k - 1) * 0.18, t, "x", color=colour, ms=9, mew=1.5)
    if paper:
        for i, g in enumerate(labels):
            if g in paper:
                ax.errorbar(i + 0.3, paper[g][0], paper[g][1], fmt="D", color="tab:green",
                            ms=6, capsize=3)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xticks(x, [g.replace(" kpc", "").replace(" Gyr", "") for g in labels],
                  rotation=15, fontsize=9)
    ax.set_xlabel("age group (Gyr)" if "age" in title else "R bin (kpc)")
    ax.set_ylabel("vertical gradient (dex/kpc)")
    ax.set_title(title + " (× truth)", fontsize=11)
    ax.grid(alpha=0.3)
