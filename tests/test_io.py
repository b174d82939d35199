"""cubes.open_catalog against independent readers (pyarrow, astropy, h5py, Python's csv)."""

from __future__ import annotations

import contextlib
import gzip
import http.server
import io
import math
import os
import pickle
import re
import shutil
import threading
import warnings
from functools import partial
from pathlib import Path

import astropy.units as u
import dask.array as da
import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xarray as xr
from astropy.io import fits

import cubes.io
from cubes.io import open_catalog
from cubes.schemas import SCHEMAS, UnknownColumnError
from tests import archive_files as af
from tests.utils import raise_if_dask_computes

N = 50

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def assert_same_values(actual: np.ndarray, expected: np.ndarray, name: str = "") -> None:
    """Equal values; NaN equals NaN; None equals None; strings compared as str."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, name
    if expected.dtype.kind in "OUS" or actual.dtype.kind in "OUS":
        assert [_text(v) for v in actual.tolist()] == [_text(v) for v in expected.tolist()], name
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=name)


def _text(v):
    """A string cell as str; missing (None, or NaN as xarray holds it) as None."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return v.decode() if isinstance(v, bytes) else str(v)


def assert_lazy_catalog(ds: xr.Dataset, chunks: tuple[int, ...]) -> None:
    """One dim "star", every variable dask-backed with exactly these known chunks."""
    assert set(ds.dims) == {"star"}
    assert ds.sizes["star"] == sum(chunks)
    assert len(ds.data_vars) > 0
    for name, var in ds.data_vars.items():
        assert var.dims == ("star",), name
        assert isinstance(var.data, da.Array), name
        assert var.data.chunks == (chunks,), name
        assert not any(math.isnan(c) for c in var.data.chunks[0]), name


def assert_units_parse(ds: xr.Dataset) -> None:
    for name, var in ds.data_vars.items():
        assert "archive_name" in var.attrs, name
        if "units" in var.attrs:
            u.Unit(var.attrs["units"])  # raises if astropy cannot parse it


def arrow_values(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False))


def fits_values(data, name: str, sentinel: float | None = None) -> np.ndarray:
    values = np.array(data[name])
    if values.dtype.kind == "f" and sentinel is not None:
        values[values == sentinel] = np.nan
    return values


def regular_chunks(n: int, size: int) -> tuple[int, ...]:
    return tuple(min(size, n - s) for s in range(0, n, size))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    """Every archive file, written once for the module."""
    d = tmp_path_factory.mktemp("archives")
    out = {"dir": d}
    out["gaia_parquet"] = (d / "gaia.parquet", af.write_gaia_parquet(d / "gaia.parquet", N))
    out["gaia_parts"] = (d / "parts", af.write_gaia_parquet_dir(d / "parts"))
    out["gaia_csv"] = (d / "gaia.csv", af.write_gaia_csv(d / "gaia.csv", N))
    out["gaia_csv_gz"] = (d / "gaia.csv.gz", af.write_gaia_csv(d / "gaia.csv.gz", N))
    out["lamost"] = (d / "lamost.fits", af.write_lamost_fits(d / "lamost.fits", N))
    out["lamost_gz"] = (d / "lamost.fits.gz", af.write_lamost_fits(d / "lamost.fits.gz", N))
    out["apogee"] = (d / "allStar.fits", af.write_apogee_fits(d / "allStar.fits", N))
    out["h5_columns"] = (d / "gaia_columns.h5", af.write_gaia_hdf5_columns(d / "gaia_columns.h5"))
    out["h5_compound"] = (d / "gaia_table.hdf5",
                          af.write_gaia_hdf5_compound(d / "gaia_table.hdf5"))
    return out


# --------------------------------------------------------------------------------------------
# Parquet
# --------------------------------------------------------------------------------------------


def test_gaia_parquet_values_names_units(files):
    path, _ = files["gaia_parquet"]
    ds = open_catalog(path, "gaia_dr3")
    expected = pq.read_table(path)
    assert_lazy_catalog(ds, (N,))
    assert list(ds.data_vars) == expected.column_names  # Gaia names are canonical
    computed = ds.compute()
    for name in expected.column_names:
        assert_same_values(computed[name].values, arrow_values(expected, name), name)
        assert computed[name].attrs["archive_name"] == name
    assert ds["source_id"].dtype == np.int64
    assert ds["ra"].dtype == np.float64 and ds["parallax_error"].dtype == np.float32
    assert ds["has_xp_continuous"].dtype == bool
    assert ds["designation"].dtype == object
    assert ds["rv_method_used"].dtype == np.float64  # int8 with nulls → float64 + NaN
    units = {v: ds[v].attrs["units"] for v in ds.data_vars}
    assert units["ra"] == units["l"] == "deg"
    assert units["parallax"] == units["parallax_error"] == "mas"
    assert units["pmra"] == units["pmdec_error"] == "mas / yr"
    assert units["radial_velocity"] == "km / s"
    assert units["phot_g_mean_mag"] == units["bp_rp"] == "mag"
    assert units["ruwe"] == units["source_id"] == ""
    assert units["teff_gspphot"] == "K"
    assert_units_parse(ds)
    assert ds.attrs["source"] == str(path)
    assert ds.attrs["survey"] == "gaia_dr3"
    assert ds.attrs["id_column"] == "source_id"
    assert ds.attrs["selections"] == []


def test_parquet_chunks_follow_row_groups(files):
    path, table = files["gaia_parquet"]  # row groups of 8 rows: 8 × 6 + 2
    assert [rg.num_rows for rg in (pq.ParquetFile(path).metadata.row_group(i)
                                   for i in range(7))] == [8] * 6 + [2]
    merged = open_catalog(path, "gaia_dr3", chunk_size=16)
    assert_lazy_catalog(merged, (16, 16, 16, 2))
    split = open_catalog(path, "gaia_dr3", chunk_size=7)  # row groups larger than a chunk
    assert_lazy_catalog(split, (7, 1) * 6 + (2,))
    for ds in (merged, split):
        assert_same_values(ds["source_id"].values, arrow_values(table, "source_id"))
        assert_same_values(ds["radial_velocity"].values, arrow_values(table, "radial_velocity"))


def test_parquet_directory_of_parts(files):
    path, table = files["gaia_parts"]  # 3 files × 20 rows, row groups of 6
    assert sorted(p.name for p in path.iterdir()) == [f"part.{i}.parquet" for i in range(3)]
    ds = open_catalog(path, "gaia_dr3", chunk_size=12)
    assert_lazy_catalog(ds, (12, 8) * 3)
    expected = pq.read_table(path)  # pyarrow's own reading of the directory
    assert expected.num_rows == 60
    computed = ds.compute()
    for name in table.column_names:
        assert_same_values(computed[name].values, arrow_values(expected, name), name)
        assert_same_values(computed[name].values, arrow_values(table, name), name)


def test_parquet_directory_via_format(files, tmp_path):
    path, _ = files["gaia_parts"]
    target = tmp_path / "gaia_parts_no_ext"
    shutil.copytree(path, target)
    ds = open_catalog(str(target), "gaia_dr3", format="parquet", chunk_size=100)
    assert_lazy_catalog(ds, (20, 20, 20))
    by_url = open_catalog(target.as_uri(), "gaia_dr3", chunk_size=100)  # a directory: Parquet
    assert_lazy_catalog(by_url, (20, 20, 20))


def test_opening_reads_no_data(files, monkeypatch):
    """Opening Parquet, FITS and HDF5 only reads metadata: the chunk readers are never called
    and no dask compute happens."""

    def boom(*args, **kwargs):
        raise AssertionError("opening read data")

    for reader in ("_read_parquet", "_read_fits", "_read_hdf5"):
        monkeypatch.setattr(cubes.io, reader, boom)
    with raise_if_dask_computes(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = [
            open_catalog(files["gaia_parquet"][0], "gaia_dr3", chunk_size=7),
            open_catalog(files["gaia_parts"][0], "gaia_dr3"),
            open_catalog(files["lamost"][0], "lamost"),
            open_catalog(files["apogee"][0], "apogee_dr17"),
            open_catalog(files["h5_columns"][0], "gaia_dr3"),
            open_catalog(files["h5_compound"][0], "gaia_dr3"),
        ]
    with pytest.raises(AssertionError, match="opening read data"):
        ds[0]["ra"].compute()


def test_parquet_nullable_integer_and_units_from_metadata(tmp_path):
    field = pa.field("dist", pa.float64(), metadata={"unit": "kpc"})
    table = pa.table({
        "source_id": pa.array(np.arange(10, dtype=np.int64)),
        "ra": pa.array(np.linspace(0, 9, 10)),
        "dec": pa.array(np.linspace(-9, 0, 10)),
        "flag": pa.array([1, None] * 5, pa.int16()),
        "dist": pa.array(np.linspace(1, 2, 10)),
    }).cast(pa.schema([pa.field("source_id", pa.int64()), pa.field("ra", pa.float64()),
                       pa.field("dec", pa.float64()), pa.field("flag", pa.int16()), field]))
    pq.write_table(table, tmp_path / "x.parquet")
    ds = open_catalog(tmp_path / "x.parquet", "gaia_dr3", chunk_size=4)
    assert ds["flag"].dtype == np.float64
    assert_same_values(ds["flag"].values, [1, np.nan] * 5)
    assert ds["dist"].attrs["units"] == "kpc"
    assert "units" not in ds["flag"].attrs  # unknown to the schema and to the file


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


def _csv_expected(cells: list[str], dtype: np.dtype) -> np.ndarray:
    if dtype.kind == "f":
        return np.array([np.nan if c == "null" else float(c) for c in cells])
    if dtype.kind == "b":
        return np.array([c == "True" for c in cells])
    if dtype.kind in "iu":
        return np.array([int(c) for c in cells], dtype=dtype)
    return np.array([None if c == "null" else c for c in cells], dtype=object)


@pytest.mark.parametrize("key", ["gaia_csv", "gaia_csv_gz"])
def test_gaia_csv(files, key):
    path, table = files[key]
    ds = open_catalog(path, "gaia_dr3", chunk_size=7)
    assert_lazy_catalog(ds, regular_chunks(N, 7))
    cells = af.read_csv_independently(path)
    assert list(ds.data_vars) == list(cells) == table.column_names
    computed = ds.compute()
    for name in table.column_names:
        actual = computed[name].values
        assert_same_values(actual, _csv_expected(cells[name], actual.dtype), name)
        original = arrow_values(table, name)  # what was written, at float32 precision
        if original.dtype == np.float32:
            assert_same_values(actual.astype(np.float32), original, name)
        else:
            assert_same_values(actual, original, name)
    assert ds["source_id"].dtype == np.int64
    assert ds["has_xp_continuous"].dtype == bool
    assert ds["rv_method_used"].dtype == np.float64
    assert ds["pmra"].attrs["units"] == "mas / yr"
    assert ds.attrs["format"] == "csv"


def test_csv_opening_does_not_compute(files):
    with raise_if_dask_computes():
        ds = open_catalog(files["gaia_csv"][0], "gaia_dr3", chunk_size=7)
    with raise_if_dask_computes(max_computes=1):
        ds["ra"].compute()


def test_csv_type_unification_across_chunks(tmp_path):
    """Types are inferred over the whole file: an integer column with a null, or with a
    float in a later chunk, becomes float64; blank lines are not rows."""
    lines = ["source_id,ra,dec,n,x,name"]
    for i in range(20):
        n = "null" if i == 15 else str(i)
        x = "0.5" if i == 17 else str(i)
        lines.append(f"{i},{i}.0,{-i}.0,{n},{x},star{i}")
    lines.insert(5, "")
    (tmp_path / "t.csv").write_text("\n".join(lines))  # no final newline
    ds = open_catalog(tmp_path / "t.csv", "gaia_dr3", chunk_size=6)
    assert ds.sizes["star"] == 20
    assert sum(ds["ra"].data.chunks[0]) == 20
    assert ds["n"].dtype == np.float64 and ds["x"].dtype == np.float64
    assert ds["source_id"].dtype == np.int64
    expected_n = np.arange(20.0)
    expected_n[15] = np.nan
    assert_same_values(ds["n"].values, expected_n)
    assert ds["x"].values[17] == 0.5
    assert_same_values(ds["name"].values, np.array([f"star{i}" for i in range(20)], object))


# --------------------------------------------------------------------------------------------
# FITS
# --------------------------------------------------------------------------------------------

LAMOST_NAMES = {
    "obsid": "obsid", "gaia_source_id": "source_id", "ra": "ra", "dec": "dec",
    "rv": "radial_velocity", "rv_err": "radial_velocity_error", "feh": "feh",
    "feh_err": "feh_error", "teff": "teff", "teff_err": "teff_error", "logg": "logg",
    "logg_err": "logg_error", "snrg": "snr_g", "snru": "snr_u", "designation": "designation",
    "gaia_g_mean_mag": "phot_g_mean_mag",
}


@pytest.mark.parametrize("key", ["lamost", "lamost_gz"])
def test_lamost_fits(files, key):
    path, _ = files[key]
    ds = open_catalog(path, "lamost", chunk_size=7)
    assert_lazy_catalog(ds, regular_chunks(N, 7))
    with fits.open(path) as hdul:  # astropy reads the file independently
        data = hdul[1].data
        names = data.columns.names
        computed = ds.compute()
        by_archive = {v.attrs["archive_name"]: k for k, v in computed.data_vars.items()}
        assert sorted(by_archive) == sorted(names)
        for archive in names:
            expected = fits_values(data, archive, sentinel=-9999.0)
            assert_same_values(computed[by_archive[archive]].values, expected, archive)
    for archive, canonical in LAMOST_NAMES.items():
        assert by_archive[archive] == canonical
    assert ds["obsid"].dtype == np.int64 and ds["source_id"].dtype == np.int64
    assert ds["designation"].dtype.kind == "U"
    assert ds["teff"].dtype == np.float32
    assert int(np.isnan(computed["teff"]).sum()) > 0  # -9999 became NaN
    assert not np.any(computed["teff"].values == -9999)
    assert ds["teff"].attrs["units"] == "K"
    assert ds["radial_velocity"].attrs["units"] == "km / s"
    assert ds["feh_error"].attrs["units"] == "dex"
    assert ds["ra"].attrs["units"] == "deg"
    assert ds["snr_g"].attrs["units"] == ""
    assert ds.attrs["id_column"] == "obsid"
    assert ds.attrs["survey"] == "lamost"
    assert_units_parse(ds)


def test_fits_is_big_endian_and_converted(files):
    path, _ = files["lamost"]
    with fits.open(path) as hdul:
        assert hdul[1].data["obsid"].dtype.byteorder == ">"
    ds = open_catalog(path, "lamost", chunk_size=7)
    for name, var in ds.compute().data_vars.items():
        assert var.values.dtype.isnative, name
        assert var.values.dtype == ds[name].dtype, name


APOGEE_NAMES = {
    "APOGEE_ID": "apogee_id", "RA": "ra", "DEC": "dec", "GLON": "l", "GLAT": "b",
    "VHELIO_AVG": "radial_velocity", "VERR": "radial_velocity_error", "FE_H": "feh",
    "FE_H_ERR": "feh_error", "TEFF": "teff", "LOGG": "logg", "M_H": "mh", "ALPHA_M": "alpha_m",
    "SNR": "snr", "GAIAEDR3_SOURCE_ID": "source_id", "GAIAEDR3_PARALLAX": "parallax",
    "GAIAEDR3_PMRA": "pmra", "GAIAEDR3_PMDEC": "pmdec", "TELESCOPE": "telescope",
    "APOGEE2_TARGET1": "apogee2_target1",
}


def test_apogee_fits(files):
    path, _ = files["apogee"]
    with pytest.warns(UserWarning, match="PARAM"):
        ds = open_catalog(path, "apogee_dr17", chunk_size=7)
    assert_lazy_catalog(ds, regular_chunks(N, 7))
    data = fits.getdata(path, 1)
    computed = ds.compute()
    by_archive = {v.attrs["archive_name"]: k for k, v in computed.data_vars.items()}
    assert sorted(by_archive) == sorted(n for n in data.columns.names if n != "PARAM")
    for archive in by_archive:
        assert_same_values(computed[by_archive[archive]].values, fits_values(data, archive),
                           archive)
    for archive, canonical in APOGEE_NAMES.items():
        assert by_archive[archive] == canonical
    assert ds["apogee_id"].dtype.kind == "U"
    assert computed["apogee_id"].values[0].startswith("2M") and " " not in "".join(
        computed["telescope"].values)
    assert ds["apogee2_target1"].dtype == np.uint32  # TZERO = 2**31 → unsigned
    assert computed["apogee2_target1"].values.max() > 2**31  # values beyond int32
    assert ds["parallax"].attrs["units"] == "mas"
    assert ds["pmdec"].attrs["units"] == "mas / yr"
    assert ds["l"].attrs["units"] == "deg"
    assert ds.attrs["id_column"] == "apogee_id"
    assert_units_parse(ds)
    with pytest.raises(ValueError, match="PARAM"), pytest.warns(UserWarning):
        open_catalog(path, "apogee_dr17", columns=["PARAM"])


def test_fits_logical_scaled_and_units(tmp_path):
    n = 9
    cols = [
        fits.Column("obsid", "K", array=np.arange(n)),
        fits.Column("ra", "D", array=np.linspace(0, 1, n), unit="deg"),
        fits.Column("dec", "D", array=np.linspace(0, 1, n), unit="deg"),
        fits.Column("good", "L", array=np.arange(n) % 3 == 0),
        fits.Column("scaled", "I", array=np.arange(n, dtype=np.int16)),
        fits.Column("pm_total", "E", array=np.ones(n, np.float32), unit="mas.yr**-1"),
    ]
    fits.BinTableHDU.from_columns(cols).writeto(tmp_path / "t.fit")
    with fits.open(tmp_path / "t.fit", mode="update") as hdul:  # physical = 0.5 raw + 10
        hdul[1].header["TSCAL5"] = 0.5
        hdul[1].header["TZERO5"] = 10.0
    assert_same_values(fits.getdata(tmp_path / "t.fit")["scaled"], np.arange(n) * 0.5 + 10)
    ds = open_catalog(tmp_path / "t.fit", "lamost", chunk_size=4)
    assert ds["good"].dtype == bool
    assert_same_values(ds["good"].values, np.arange(n) % 3 == 0)
    assert_same_values(ds["scaled"].values, fits.getdata(tmp_path / "t.fit")["scaled"])
    assert ds["pm_total"].attrs["units"] == "mas / yr"  # from TUNIT, unknown to the schema


# --------------------------------------------------------------------------------------------
# HDF5
# --------------------------------------------------------------------------------------------


def test_hdf5_group_of_columns(files):
    path, table = files["h5_columns"]
    with pytest.warns(UserWarning, match="xp_coefficients"):
        ds = open_catalog(path, "gaia_dr3", chunk_size=7)
    assert_lazy_catalog(ds, regular_chunks(N, 7))
    computed = ds.compute()
    with h5py.File(path) as f:
        group = f["gaia_source"]
        names = [k for k in group if group[k].ndim == 1]
        assert sorted(computed.data_vars) == sorted(names)
        for name in names:
            dset = group[name]
            expected = dset.asstr()[:] if h5py.check_string_dtype(dset.dtype) else dset[:]
            assert_same_values(computed[name].values, expected, name)
    assert_same_values(computed["source_id"].values, arrow_values(table, "source_id"))
    assert ds["designation"].dtype == object  # variable-length UTF-8
    assert ds["phot_variable_flag"].dtype == np.dtype("U13")  # fixed-width ASCII
    assert ds["dist_kpc"].attrs["units"] == "kpc"  # from the dataset's attrs
    assert ds["parallax"].attrs["units"] == "mas"
    assert ds.attrs["id_column"] == "source_id"


def test_hdf5_compound_table(files):
    path, data = files["h5_compound"]
    ds = open_catalog(path, "gaia_dr3", chunk_size=7)
    assert_lazy_catalog(ds, regular_chunks(N, 7))
    computed = ds.compute()
    with h5py.File(path) as f:
        stored = f["catalog"][:]
    assert stored.dtype["ra"].byteorder == ">"
    assert list(computed.data_vars) == list(stored.dtype.names)
    for name in stored.dtype.names:
        assert_same_values(computed[name].values, stored[name], name)
        assert computed[name].values.dtype.isnative
    assert ds["designation"].dtype.kind == "U"
    assert ds["pmra"].attrs["units"] == "mas / yr"


# --------------------------------------------------------------------------------------------
# surveys, names, columns=
# --------------------------------------------------------------------------------------------


def test_schema_registry():
    assert set(SCHEMAS) >= {"gaia_dr3", "lamost", "apogee_dr17"}
    for schema in SCHEMAS.values():
        for archive, (canonical, units) in schema.columns.items():
            assert canonical == canonical.lower(), archive
            u.Unit(units)
        assert schema.id_column in {c for c, _ in schema.columns.values()}
    assert SCHEMAS["lamost"].columns["snrg"] == ("snr_g", "")
    assert SCHEMAS["apogee_dr17"].columns["GLAT"] == ("b", "deg")


def test_no_survey_and_custom_mapping(files):
    path, data = files["lamost"]
    plain = open_catalog(path)
    assert plain.attrs["survey"] == "none"
    assert "rv" in plain and "snrg" in plain and "teff" in plain
    assert plain["teff"].attrs["units"] == "K"  # canonical name known from the tables
    assert "units" not in plain["rv"].attrs
    assert plain.attrs["id_column"] == "obsid"
    mapping = {"rv": "radial_velocity", "snrg": "snr_g", "gaia_source_id": "source_id"}
    custom = open_catalog(path, mapping, columns=["radial_velocity", "snr_g", "ra"])
    assert custom.attrs["survey"] == "custom"
    assert list(custom.data_vars) == ["radial_velocity", "snr_g", "ra"]
    assert custom["radial_velocity"].attrs == {"units": "km / s", "archive_name": "rv"}
    assert custom["ra"].attrs["units"] == "deg"
    assert_same_values(custom["radial_velocity"].values, fits_values(data, "rv"))  # no -9999
    with pytest.raises(ValueError, match="nope"):
        open_catalog(path, {"nope": "x"})


def test_columns_subset(files):
    path, table = files["gaia_parquet"]
    ds = open_catalog(path, "gaia_dr3", columns=["ra", "DEC", "parallax"])
    assert list(ds.data_vars) == ["ra", "dec", "parallax"]
    assert_same_values(ds["dec"].values, arrow_values(table, "dec"))
    lamost = open_catalog(files["lamost"][0], "lamost", columns=["feh_error", "rv"])
    assert list(lamost.data_vars) == ["feh_error", "radial_velocity"]
    assert lamost.attrs["id_column"] is None  # the id was not read
    with pytest.raises(UnknownColumnError, match="not_a_column") as err:
        open_catalog(path, "gaia_dr3", columns=["ra", "not_a_column"])
    assert "parallax" in str(err.value)  # lists what is available
    assert isinstance(err.value, KeyError) and isinstance(err.value, ValueError)


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------


def test_unknown_survey(files):
    with pytest.raises(ValueError, match=r"unknown survey 'gaia_dr2'.*apogee_dr17.*gaia_dr3"):
        open_catalog(files["gaia_parquet"][0], "gaia_dr2")


def test_missing_required_columns(files):
    with pytest.raises(ValueError) as err:
        open_catalog(files["lamost"][0], "gaia_dr3")
    message = str(err.value)
    assert "source_id" in message and "'gaia_dr3'" in message and "obsid" in message
    assert "survey='lamost'" in message  # the hint
    with pytest.raises(ValueError, match="APOGEE_ID"):
        open_catalog(files["gaia_parquet"][0], "apogee_dr17")


def test_unknown_format(tmp_path):
    (tmp_path / "cat.txt").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"\.parquet.*\.fits.*\.csv.*\.h5"):
        open_catalog(tmp_path / "cat.txt")
    with pytest.raises(ValueError, match="unknown format 'votable'"):
        open_catalog(tmp_path / "cat.txt", format="votable")
    with pytest.raises(ValueError, match="gzip"):
        open_catalog(tmp_path / "cat.h5.gz")
    with pytest.raises(ValueError, match="extension"):
        open_catalog(tmp_path / "cat.txt.gz")
    (tmp_path / "README").write_text("no extension")
    with pytest.raises(ValueError, match="extension"):
        open_catalog(tmp_path / "README")
    ds = open_catalog(tmp_path / "cat.txt", format="csv")
    assert_same_values(ds["b"].values, [2])


@pytest.mark.parametrize("name", ["bad.parquet", "bad.fits", "bad.h5"])
def test_unreadable_file_names_itself(tmp_path, name):
    (tmp_path / name).write_bytes(b"this is not a catalog" * 200)
    with pytest.raises((ValueError, OSError), match=re.escape(name)):
        open_catalog(tmp_path / name)


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.parquet"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        open_catalog(missing)


def test_empty_tables(tmp_path, files):
    empty = pq.read_table(files["gaia_parquet"][0]).slice(0, 0)
    pq.write_table(empty, tmp_path / "empty.parquet")
    with pytest.raises(ValueError, match="empty table"):
        open_catalog(tmp_path / "empty.parquet", "gaia_dr3")
    (tmp_path / "empty.csv").write_text("source_id,ra,dec\n")
    with pytest.raises(ValueError, match="empty table"):
        open_catalog(tmp_path / "empty.csv")
    (tmp_path / "nothing.csv").write_text("")
    with pytest.raises(ValueError, match="empty table"):
        open_catalog(tmp_path / "nothing.csv")


def test_bad_chunk_size(files):
    with pytest.raises(ValueError, match="chunk_size"):
        open_catalog(files["gaia_parquet"][0], chunk_size=0)


# --------------------------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------------------------


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with HTTP Range support (as real archives and object stores have)."""

    def log_message(self, *args):  # keep the test output quiet
        pass

    def send_head(self):
        header = self.headers.get("Range")
        path = self.translate_path(self.path)
        if not header or os.path.isdir(path):
            return super().send_head()
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed by copyfile's caller
        except OSError:
            self.send_error(404, "File not found")
            return None
        with f:
            size = os.fstat(f.fileno()).st_size
            first, last = re.match(r"bytes=(\d*)-(\d*)", header).groups()
            if first == "":
                start, stop = max(size - int(last), 0), size
            else:
                start = int(first)
                stop = min(int(last) + 1, size) if last else size
            f.seek(start)
            body = f.read(stop - start)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)


@contextlib.contextmanager
def serve(directory: Path):
    handler = partial(_RangeHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_http_urls(files):
    parquet, table = files["gaia_parquet"]
    with serve(files["dir"]) as base:
        url = f"{base}/{parquet.name}"
        with raise_if_dask_computes():
            ds = open_catalog(url, "gaia_dr3", chunk_size=16)
        assert ds.attrs["source"] == url
        assert_lazy_catalog(ds, (16, 16, 16, 2))
        computed = ds.compute()
        for name in table.column_names:
            assert_same_values(computed[name].values, arrow_values(table, name), name)

        lamost, data = files["lamost_gz"]
        fits_ds = open_catalog(f"{base}/{lamost.name}", "lamost", chunk_size=7)
        assert_same_values(fits_ds["feh"].values, fits_values(data, "feh", -9999.0))

        csv_path, _ = files["gaia_csv_gz"]
        csv_ds = open_catalog(f"{base}/{csv_path.name}", "gaia_dr3", chunk_size=7)
        cells = af.read_csv_independently(csv_path)
        assert_same_values(csv_ds["source_id"].values, np.array(cells["source_id"], np.int64))

        h5_path, _ = files["h5_compound"]
        h5_ds = open_catalog(f"{base}/{h5_path.name}", "gaia_dr3", chunk_size=7)
        with h5py.File(h5_path) as f:
            assert_same_values(h5_ds["ra"].values, f["catalog"]["ra"])

        with pytest.raises(FileNotFoundError, match="missing.parquet"):
            open_catalog(f"{base}/missing.parquet")


def test_unreachable_url():
    url = "http://127.0.0.1:1/x.parquet"
    with pytest.raises(OSError, match=re.escape(url)):
        open_catalog(url, "gaia_dr3")


def test_file_url(files):
    path, table = files["gaia_parquet"]
    ds = open_catalog(Path(path).as_uri(), "gaia_dr3", columns=["source_id"])
    assert_same_values(ds["source_id"].values, arrow_values(table, "source_id"))


# --------------------------------------------------------------------------------------------
# dask behaviour
# --------------------------------------------------------------------------------------------


def test_catalog_pickles_for_distributed_workers(files):
    """The graph holds paths and small specs, not open files: it survives pickling."""
    for key, survey in (("gaia_parquet", "gaia_dr3"), ("lamost_gz", "lamost"),
                        ("gaia_csv", "gaia_dr3"), ("h5_columns", "gaia_dr3")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = open_catalog(files[key][0], survey, chunk_size=7)
        clone = pickle.loads(pickle.dumps(ds))
        xr.testing.assert_identical(clone.compute(), ds.compute())


def test_reading_with_threads_and_synchronously_agree(files):
    ds = open_catalog(files["gaia_parts"][0], "gaia_dr3", chunk_size=5)
    threaded = ds.compute(scheduler="threads")
    synchronous = ds.compute(scheduler="synchronous")
    xr.testing.assert_identical(threaded, synchronous)


def test_gzip_csv_is_really_gzip(files):
    path, _ = files["gaia_csv_gz"]
    with gzip.open(path, "rt") as fh:
        assert fh.readline().startswith("# %ECSV")
