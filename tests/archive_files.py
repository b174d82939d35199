"""Small test files in each archive's real column layout.

Each ``write_*`` helper writes a file the way the archive distributes it (names, dtypes, null
conventions, byte order) and returns what it wrote, so tests can compare a catalog opened with
:func:`cubes.open_catalog` against independent readers (pyarrow, astropy, h5py, csv).

- Gaia DR3 ``gaia_source``: Parquet (nulls as Arrow nulls; one file or a directory of parts with
  several row groups) and CSV (the bulk-download layout: an ECSV ``#`` header, ``null`` for
  missing values, ``True``/``False`` booleans; optionally gzipped).
- LAMOST DR7–DR9 LRS stellar-parameter catalog: FITS binary table, ``-9999`` for missing values.
- SDSS DR17 APOGEE ``allStar``: FITS binary table with upper-case names, fixed-width strings, a
  vector column (``PARAM``), an unsigned bitmask (``APOGEE2_TARGET1``, written with ``TZERO``)
  and NaN for missing values.
- HDF5: Gaia columns as one group of 1-D datasets, and as one compound-dtype table dataset.
"""

from __future__ import annotations

import csv
import gzip
import os
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from astropy.io import fits

# --------------------------------------------------------------------------------------------
# Gaia DR3 gaia_source
# --------------------------------------------------------------------------------------------


def _masked(values: np.ndarray, mask: np.ndarray, typ: pa.DataType) -> pa.Array:
    return pa.array(values, type=typ, mask=mask)


def gaia_dr3_table(n: int = 50, seed: int = 0) -> pa.Table:
    """A ``gaia_source`` table with DR3 column names, Arrow types and nulls."""
    rng = np.random.default_rng(seed)
    source_id = np.sort(rng.integers(4_295_806_720, 6_917_528_997_577_384_320, n,
                                     dtype=np.int64))
    ra = rng.uniform(0, 360, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    parallax = rng.normal(0.5, 0.6, n)
    parallax_error = rng.uniform(0.01, 0.3, n).astype(np.float32)
    pmra = rng.normal(-2, 5, n)
    pmdec = rng.normal(-3, 5, n)
    g = rng.uniform(8, 20.5, n).astype(np.float32)
    bp = (g + rng.uniform(0.2, 1.2, n)).astype(np.float32)
    rp = (g - rng.uniform(0.4, 1.2, n)).astype(np.float32)
    no_bp = rng.random(n) < 0.1
    has_rv = g < 15
    rv = rng.normal(0, 40, n).astype(np.float32)
    rv_error = rng.uniform(0.5, 5, n).astype(np.float32)
    no_gsp = rng.random(n) < 0.3
    f32, f64 = pa.float32(), pa.float64()
    columns = {
        "solution_id": pa.array(np.full(n, 375316653866487564, np.int64)),
        "designation": pa.array([f"Gaia DR3 {s}" for s in source_id], pa.string()),
        "source_id": pa.array(source_id),
        "random_index": pa.array(rng.permutation(n).astype(np.int64)),
        "ref_epoch": pa.array(np.full(n, 2016.0)),
        "ra": pa.array(ra),
        "ra_error": pa.array(rng.uniform(0.01, 0.5, n).astype(np.float32)),
        "dec": pa.array(dec),
        "dec_error": pa.array(rng.uniform(0.01, 0.5, n).astype(np.float32)),
        "parallax": pa.array(parallax),
        "parallax_error": pa.array(parallax_error),
        "parallax_over_error": pa.array((parallax / parallax_error).astype(np.float32)),
        "pm": pa.array(np.hypot(pmra, pmdec).astype(np.float32)),
        "pmra": pa.array(pmra),
        "pmra_error": pa.array(rng.uniform(0.01, 0.4, n).astype(np.float32)),
        "pmdec": pa.array(pmdec),
        "pmdec_error": pa.array(rng.uniform(0.01, 0.4, n).astype(np.float32)),
        "pmra_pmdec_corr": pa.array(rng.uniform(-0.5, 0.5, n).astype(np.float32)),
        "astrometric_params_solved": pa.array(rng.choice([31, 95], n).astype(np.int16)),
        "visibility_periods_used": pa.array(rng.integers(9, 30, n).astype(np.int16)),
        "ruwe": pa.array(rng.lognormal(0.0, 0.2, n).astype(np.float32)),
        "phot_g_mean_flux": pa.array(10 ** (-0.4 * (g.astype(float) - 25.69))),
        "phot_g_mean_mag": pa.array(g),
        "phot_bp_mean_mag": _masked(bp, no_bp, f32),
        "phot_rp_mean_mag": _masked(rp, no_bp, f32),
        "bp_rp": _masked(bp - rp, no_bp, f32),
        "radial_velocity": _masked(rv, ~has_rv, f32),
        "radial_velocity_error": _masked(rv_error, ~has_rv, f32),
        "rv_method_used": _masked(np.where(g < 12, 1, 2).astype(np.int8), ~has_rv, pa.int8()),
        "rv_nb_transits": pa.array(np.where(has_rv, rng.integers(2, 40, n), 0).astype(np.int16)),
        "phot_variable_flag": pa.array(
            np.where(rng.random(n) < 0.2, "VARIABLE", "NOT_AVAILABLE").tolist(), pa.string()
        ),
        "l": pa.array(rng.uniform(0, 360, n)),
        "b": pa.array(rng.uniform(-90, 90, n)),
        "has_xp_continuous": pa.array(g < 17.65),
        "teff_gspphot": _masked(rng.uniform(3500, 8000, n).astype(np.float32), no_gsp, f32),
        "logg_gspphot": _masked(rng.uniform(1, 5, n).astype(np.float32), no_gsp, f32),
        "mh_gspphot": _masked(rng.normal(-0.3, 0.4, n).astype(np.float32), no_gsp, f32),
        "distance_gspphot": _masked(rng.uniform(100, 5000, n).astype(np.float32), no_gsp, f32),
        "libname_gspphot": pa.array(
            [None if m else ("MARCS" if t else "PHOENIX")
             for m, t in zip(no_gsp, rng.random(n) < 0.7, strict=True)],
            pa.string(),
        ),
    }
    assert columns["ra"].type == f64
    return pa.table(columns)


def write_gaia_parquet(path: str | os.PathLike, n: int = 50, *, row_group_size: int = 8,
                       seed: int = 0) -> pa.Table:
    """One Gaia DR3 Parquet file with row groups of ``row_group_size`` rows."""
    table = gaia_dr3_table(n, seed)
    pq.write_table(table, path, row_group_size=row_group_size)
    return table


def write_gaia_parquet_dir(directory: str | os.PathLike, *, parts: int = 3,
                           rows_per_part: int = 20, row_group_size: int = 6,
                           seed: int = 0) -> pa.Table:
    """A directory of Parquet part files (``part.<i>.parquet``); returns all rows in order."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    table = gaia_dr3_table(parts * rows_per_part, seed)
    for i in range(parts):
        pq.write_table(table.slice(i * rows_per_part, rows_per_part),
                       directory / f"part.{i}.parquet", row_group_size=row_group_size)
    return table


_ECSV_TYPES = {"int8": "int8", "int16": "int16", "int64": "int64", "float": "float32",
               "double": "float64", "string": "string", "bool": "bool"}


def _csv_cell(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, str):
        return f'"{value}"' if ("," in value or " " in value) else value
    return repr(value)


def write_gaia_csv(path: str | os.PathLike, n: int = 50, *, seed: int = 0,
                   ecsv_header: bool = True) -> pa.Table:
    """Gaia DR3 bulk-download CSV (``.csv`` or ``.csv.gz``): ECSV header, ``null`` cells."""
    table = gaia_dr3_table(n, seed)
    lines = []
    if ecsv_header:
        lines += ["# %ECSV 1.0", "# ---", "# delimiter: ','", "# datatype:"]
        for f in table.schema:
            lines.append(f"# - {{name: {f.name}, datatype: {_ECSV_TYPES[str(f.type)]}}}")
        lines.append("# schema: astropy-2.0")
    lines.append(",".join(table.column_names))
    columns = []
    for f in table.schema:
        values = table.column(f.name).to_pylist()
        if pa.types.is_float32(f.type):  # Gaia writes float32 with float32 precision
            values = [None if v is None else str(np.float32(v)) for v in values]
            columns.append(values)
        else:
            columns.append([_csv_cell(v) for v in values])
    for row in zip(*columns, strict=True):
        lines.append(",".join("null" if c is None else c for c in row))
    text = "\n".join(lines) + "\n"
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt", newline="") as fh:
        fh.write(text)
    return table


def read_csv_independently(path: str | os.PathLike) -> dict[str, list[str]]:
    """Cells of a (possibly gzipped) CSV by column, with Python's ``csv`` module."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", newline="") as fh:
        rows = [r for r in csv.reader(line for line in fh if not line.startswith("#"))]
    header, body = rows[0], rows[1:]
    return {name: [r[i] for r in body] for i, name in enumerate(header)}


# --------------------------------------------------------------------------------------------
# LAMOST DR7-DR9 LRS stellar-parameter catalog
# --------------------------------------------------------------------------------------------


def _sentinel(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    values = values.copy()
    values[mask] = -9999.0
    return values


def write_lamost_fits(path: str | os.PathLike, n: int = 50, *, seed: int = 1) -> fits.FITS_rec:
    """A LAMOST LRS stellar-parameter catalog (``.fits`` or ``.fits.gz``); ``-9999`` = missing.

    Returns the table data as read back by astropy (sentinels still in).
    """
    rng = np.random.default_rng(seed)
    ra = rng.uniform(0, 360, n)
    dec = rng.uniform(-10, 90, n)
    failed = rng.random(n) < 0.15
    no_gaia = rng.random(n) < 0.05
    f4 = np.float32
    designation = [
        f"J{int(r / 15):02d}{int(r * 4 % 60):02d}{r * 240 % 60:05.2f}"
        f"{'+' if d >= 0 else '-'}{int(abs(d)):02d}{int(abs(d) * 60 % 60):02d}"
        f"{abs(d) * 3600 % 60:04.1f}"
        for r, d in zip(ra, dec, strict=True)
    ]
    cols = [
        fits.Column("obsid", "K", array=rng.integers(100_000_000, 800_000_000, n)),
        fits.Column("designation", "19A", array=np.array(designation)),
        fits.Column("obsdate", "10A", array=np.full(n, "2017-11-21")),
        fits.Column("lmjd", "J", array=np.full(n, 58079, np.int32)),
        fits.Column("planid", "40A", array=np.where(rng.random(n) < 0.5, "HD030551N275104B01",
                                                    "GAC061N27B1")),
        fits.Column("spid", "I", array=rng.integers(1, 17, n).astype(np.int16)),
        fits.Column("fiberid", "I", array=rng.integers(1, 251, n).astype(np.int16)),
        fits.Column("ra_obs", "D", array=ra + rng.normal(0, 1e-5, n)),
        fits.Column("dec_obs", "D", array=dec + rng.normal(0, 1e-5, n)),
        fits.Column("snru", "E", array=rng.uniform(1, 50, n).astype(f4)),
        fits.Column("snrg", "E", array=rng.uniform(5, 300, n).astype(f4)),
        fits.Column("snrr", "E", array=rng.uniform(5, 300, n).astype(f4)),
        fits.Column("snri", "E", array=rng.uniform(5, 300, n).astype(f4)),
        fits.Column("snrz", "E", array=rng.uniform(5, 300, n).astype(f4)),
        fits.Column("class", "10A", array=np.full(n, "STAR")),
        fits.Column("subclass", "10A", array=rng.choice(["G5", "K3", "F0"], n)),
        fits.Column("z", "E", array=_sentinel(rng.normal(0, 1e-4, n).astype(f4), failed)),
        fits.Column("teff", "E", array=_sentinel(rng.uniform(4000, 7000, n).astype(f4), failed)),
        fits.Column("teff_err", "E", array=_sentinel(rng.uniform(20, 200, n).astype(f4), failed)),
        fits.Column("logg", "E", array=_sentinel(rng.uniform(1, 5, n).astype(f4), failed)),
        fits.Column("logg_err", "E", array=_sentinel(rng.uniform(0.02, 0.4, n).astype(f4),
                                                     failed)),
        fits.Column("feh", "E", array=_sentinel(rng.normal(-0.2, 0.3, n).astype(f4), failed)),
        fits.Column("feh_err", "E", array=_sentinel(rng.uniform(0.01, 0.3, n).astype(f4),
                                                    failed)),
        fits.Column("rv", "E", array=_sentinel(rng.normal(0, 40, n).astype(f4), failed)),
        fits.Column("rv_err", "E", array=_sentinel(rng.uniform(1, 15, n).astype(f4), failed)),
        fits.Column("ra", "D", array=ra),
        fits.Column("dec", "D", array=dec),
        fits.Column("gaia_source_id", "K",
                    array=np.where(no_gaia, -9999,
                                   rng.integers(1, 6_917_528_997_577_384_320, n))),
        fits.Column("gaia_g_mean_mag", "E",
                    array=_sentinel(rng.uniform(9, 17, n).astype(f4), no_gaia)),
    ]
    hdu = fits.BinTableHDU.from_columns(cols)
    hdu.header["EXTNAME"] = "LRS_stellar"
    _write_fits(path, fits.HDUList([fits.PrimaryHDU(), hdu]))
    return fits.getdata(path, 1)


# --------------------------------------------------------------------------------------------
# SDSS DR17 APOGEE allStar
# --------------------------------------------------------------------------------------------


def write_apogee_fits(path: str | os.PathLike, n: int = 50, *, seed: int = 2) -> fits.FITS_rec:
    """An APOGEE DR17 ``allStar`` file (HDU 1 the table); NaN = missing.

    Returns the table data as read back by astropy.
    """
    rng = np.random.default_rng(seed)
    f4 = np.float32
    no_aspcap = rng.random(n) < 0.2
    no_gaia = rng.random(n) < 0.1

    def aspcap(values):
        values = values.astype(f4)
        values[no_aspcap] = np.nan
        return values

    def gaia(values, dtype=f4):
        values = values.astype(dtype)
        values[no_gaia] = np.nan
        return values

    ids = [f"2M{rng.integers(0, 24):02d}{rng.integers(0, 60):02d}{rng.integers(0, 6000):04d}"
           f"{rng.choice(['+', '-'])}{rng.integers(0, 90):02d}{rng.integers(0, 600000):06d}"
           for _ in range(n)]
    cols = [
        fits.Column("APOGEE_ID", "30A", array=np.array(ids)),
        fits.Column("TELESCOPE", "8A", array=rng.choice(["apo25m", "lco25m", "apo1m"], n)),
        fits.Column("FIELD", "20A", array=rng.choice(["N7789", "120+12", "Sgr"], n)),
        fits.Column("RA", "D", array=rng.uniform(0, 360, n)),
        fits.Column("DEC", "D", array=rng.uniform(-80, 85, n)),
        fits.Column("GLON", "D", array=rng.uniform(0, 360, n)),
        fits.Column("GLAT", "D", array=rng.uniform(-60, 60, n)),
        fits.Column("J", "E", array=rng.uniform(7, 13, n).astype(f4)),
        fits.Column("H", "E", array=rng.uniform(7, 12.5, n).astype(f4)),
        fits.Column("K", "E", array=rng.uniform(7, 12, n).astype(f4)),
        fits.Column("APOGEE2_TARGET1", "J", bzero=2**31,
                    array=rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)),
        fits.Column("SNR", "E", array=rng.uniform(10, 500, n).astype(f4)),
        fits.Column("STARFLAG", "K", array=rng.integers(0, 2**20, n)),
        fits.Column("NVISITS", "J", array=rng.integers(1, 30, n).astype(np.int32)),
        fits.Column("VHELIO_AVG", "E", array=rng.normal(0, 50, n).astype(f4)),
        fits.Column("VSCATTER", "E", array=rng.uniform(0, 1, n).astype(f4)),
        fits.Column("VERR", "E", array=rng.uniform(0.01, 0.5, n).astype(f4)),
        fits.Column("TEFF", "E", array=aspcap(rng.uniform(3500, 6500, n))),
        fits.Column("TEFF_ERR", "E", array=aspcap(rng.uniform(10, 100, n))),
        fits.Column("LOGG", "E", array=aspcap(rng.uniform(0.5, 4.8, n))),
        fits.Column("LOGG_ERR", "E", array=aspcap(rng.uniform(0.01, 0.1, n))),
        fits.Column("M_H", "E", array=aspcap(rng.normal(-0.2, 0.3, n))),
        fits.Column("ALPHA_M", "E", array=aspcap(rng.normal(0.05, 0.08, n))),
        fits.Column("PARAM", "9E", array=rng.normal(0, 1, (n, 9)).astype(f4)),
        fits.Column("FE_H", "E", array=aspcap(rng.normal(-0.2, 0.3, n))),
        fits.Column("FE_H_ERR", "E", array=aspcap(rng.uniform(0.005, 0.05, n))),
        fits.Column("MG_FE", "E", array=aspcap(rng.normal(0.05, 0.1, n))),
        fits.Column("GAIAEDR3_SOURCE_ID", "K",
                    array=np.where(no_gaia, 0, rng.integers(1, 6_917_528_997_577_384_320, n))),
        fits.Column("GAIAEDR3_PARALLAX", "D", array=gaia(rng.normal(0.4, 0.3, n), np.float64)),
        fits.Column("GAIAEDR3_PARALLAX_ERROR", "E", array=gaia(rng.uniform(0.01, 0.1, n))),
        fits.Column("GAIAEDR3_PMRA", "D", array=gaia(rng.normal(-2, 5, n), np.float64)),
        fits.Column("GAIAEDR3_PMDEC", "D", array=gaia(rng.normal(-3, 5, n), np.float64)),
        fits.Column("GAIAEDR3_PHOT_G_MEAN_MAG", "E", array=gaia(rng.uniform(9, 17, n))),
        fits.Column("GAIAEDR3_R_MED_GEO", "E", array=gaia(rng.uniform(200, 8000, n))),
    ]
    hdu = fits.BinTableHDU.from_columns(cols)
    _write_fits(path, fits.HDUList([fits.PrimaryHDU(), hdu]))
    return fits.getdata(path, 1)


def _write_fits(path: str | os.PathLike, hdul: fits.HDUList) -> None:
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb") as fh:
            hdul.writeto(fh)
    else:
        hdul.writeto(path, overwrite=True)


# --------------------------------------------------------------------------------------------
# HDF5
# --------------------------------------------------------------------------------------------

#: Columns of the Gaia HDF5 files: (name, stored dtype); strings stored as noted.
HDF5_GAIA_COLUMNS = (
    "source_id", "designation", "ra", "dec", "parallax", "parallax_error", "pmra", "pmdec",
    "phot_g_mean_mag", "bp_rp", "radial_velocity", "ruwe", "l", "b", "has_xp_continuous",
    "phot_variable_flag",
)


def _filled(table: pa.Table, name: str) -> np.ndarray:
    """A column as numpy, float nulls as NaN."""
    column = table.column(name)
    if pa.types.is_floating(column.type):
        return column.to_numpy()
    return np.asarray(column.to_numpy(zero_copy_only=False))


def write_gaia_hdf5_columns(path: str | os.PathLike, n: int = 50, *, seed: int = 0,
                            group: str = "gaia_source") -> pa.Table:
    """Gaia columns as 1-D datasets in one group; ``designation`` as variable-length UTF-8,
    ``phot_variable_flag`` as fixed-width ASCII; ``units`` attributes on the datasets; plus an
    extra ``dist_kpc`` column (units "kpc", unknown to the schema) and a 2-D dataset that is
    not a column."""
    table = gaia_dr3_table(n, seed)
    with h5py.File(path, "w") as f:
        g = f.create_group(group)
        for name in HDF5_GAIA_COLUMNS:
            values = _filled(table, name)
            if name == "designation":
                g.create_dataset(name, data=values.astype(object), dtype=h5py.string_dtype())
            elif name == "phot_variable_flag":
                g.create_dataset(name, data=values.astype("S13"))
            else:
                g.create_dataset(name, data=values, chunks=(16,), compression="gzip")
        g["ra"].attrs["units"] = "deg"
        g.create_dataset("dist_kpc", data=np.linspace(0.1, 5, n))
        g["dist_kpc"].attrs["units"] = "kpc"
        g.create_dataset("xp_coefficients", data=np.zeros((n, 3)))
    return table


def write_gaia_hdf5_compound(path: str | os.PathLike, n: int = 50, *, seed: int = 0,
                             dataset: str = "catalog") -> np.ndarray:
    """Gaia columns as one compound-dtype (structured, big-endian floats) table dataset."""
    table = gaia_dr3_table(n, seed)
    fields = []
    for name in HDF5_GAIA_COLUMNS:
        values = _filled(table, name)
        if values.dtype == object:
            fields.append((name, values.astype("S")))
        elif values.dtype.kind == "f":
            fields.append((name, values.astype(values.dtype.newbyteorder(">"))))
        else:
            fields.append((name, values))
    data = np.empty(n, dtype=[(name, v.dtype) for name, v in fields])
    for name, v in fields:
        data[name] = v
    with h5py.File(path, "w") as f:
        f.create_dataset(dataset, data=data, chunks=(16,))
    return data
