"""Tests of cubes.store: round trips, chunking policy, atomic writes, HTTP and S3 access, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dask
import dask.array as da
import fsspec
import numpy as np
import pytest
import xarray as xr
import zarr

from cubes.conventions import CUBE_KIND
from cubes.store import CHUNK_BYTES, chunk_policy, open_cube, write_cube
from tests.servers import http_server, s3_server

REPO = Path(__file__).resolve().parents[1]


def make_cube(
    K: int = 4, nR: int = 6, nz: int = 8, *, cell: int = 0, dask_backed: bool = False, seed=0
) -> xr.Dataset:
    """A hand-made moment cube: count/sum_vz/sum_vz2 on (replicate, [cell,] R, z)."""
    rng = np.random.default_rng(seed)
    dims = ("replicate", "cell", "R", "z") if cell else ("replicate", "R", "z")
    shape = (K, cell, nR, nz) if cell else (K, nR, nz)
    R_edges = np.linspace(4.0, 16.0, nR + 1)
    z_edges = np.linspace(-2.0, 2.0, nz + 1)
    count = rng.integers(0, 50, shape).astype(np.int64)
    sum_vz = rng.normal(size=shape)
    sum_vz2 = rng.random(shape) * 100
    data = {"count": count, "sum_vz": sum_vz, "sum_vz2": sum_vz2}
    if dask_backed:
        data = {
            k: da.from_array(v, chunks=tuple(max(1, n // 2) for n in shape))
            for k, v in data.items()
        }
    coords = {
        "replicate": np.arange(K),
        "R": ("R", 0.5 * (R_edges[1:] + R_edges[:-1]), {"units": "kpc", "bounds": "R_bounds"}),
        "R_bounds": (("R", "bounds"), np.stack([R_edges[:-1], R_edges[1:]], -1), {"units": "kpc"}),
        "R_width": ("R", np.diff(R_edges), {"units": "kpc"}),
        "z": ("z", 0.5 * (z_edges[1:] + z_edges[:-1]), {"units": "kpc", "bounds": "z_bounds"}),
        "z_bounds": (("z", "bounds"), np.stack([z_edges[:-1], z_edges[1:]], -1)),
        "z_width": ("z", np.diff(z_edges)),
    }
    if cell:
        coords["X"] = ("cell", rng.normal(size=cell), {"units": "kpc"})
        coords["Y"] = ("cell", rng.normal(size=cell), {"units": "kpc"})
        coords["X_bounds"] = (("cell", "vertex"), rng.normal(size=(cell, 6)))
    attrs = {
        "cubes_kind": CUBE_KIND,
        "cubes_version": "0.1.0",
        "selections": ["parallax_over_error > 5", "ruwe < 1.4"],
        "stars_read": 1000,
        "stars_used": 900,
        "stars_outside": 90,
        "stars_invalid": 10,
        "shifts": {"vz": 0.0, "vR": -1.5},
        "frame": {"R0": 8.122, "z0": 0.0208, "v_sun": [12.9, 245.6, 7.78], "preset": None},
        "replicates": {"K": K, "hash": "xxh64", "groups": [[0, 1], [2]]},
    }
    variables = {
        name: (dims, arr, {"moment": name, "units": "km/s" if "vz" in name else ""})
        for name, arr in data.items()
    }
    return xr.Dataset(variables, coords=coords, attrs=attrs)


def stored_chunks(path: Path, var: str) -> tuple[int, ...]:
    """Chunk shape of ``var`` read from the store's own metadata (not from xarray)."""
    meta = json.loads((path / var / "zarr.json").read_text())
    return tuple(meta["chunk_grid"]["configuration"]["chunk_shape"])


def siblings(path: Path) -> set[str]:
    return set(os.listdir(path.parent)) if path.parent.exists() else set()


def failing(cube: xr.Dataset, var: str = "sum_vz2") -> xr.Dataset:
    """Dask-backed ``cube`` whose ``var`` raises while computing, after other chunks are written."""

    def boom(block, block_info=None):
        if block_info is not None and block_info[0]["chunk-location"][1] == 1:
            raise RuntimeError("disk full (simulated)")
        return block

    cube = cube.chunk({"R": 1})
    out = cube.copy()
    out[var] = cube[var].copy(data=cube[var].data.map_blocks(boom, dtype=cube[var].dtype))
    return out


# ----------------------------------------------------------------------------------------------
# round trips and chunking


@pytest.mark.parametrize("dask_backed", [False, True])
@pytest.mark.parametrize("cell", [0, 5])
def test_round_trip_identical(tmp_path, dask_backed, cell):
    cube = make_cube(cell=cell, dask_backed=dask_backed)
    cube["sum_vz"].encoding["chunks"] = (1, 1, 1)  # stale encodings are ignored...
    cube.attrs["stars_read"] = np.int64(1000)
    pristine = cube.copy(deep=True)
    out = write_cube(cube, tmp_path / "cube.zarr")
    xr.testing.assert_identical(cube, pristine)  # ...and the input is not modified
    assert cube["sum_vz"].encoding == {"chunks": (1, 1, 1)}
    assert type(cube.attrs["stars_read"]) is np.int64
    assert out == str(tmp_path / "cube.zarr")
    back = open_cube(out)
    # lazy: data variables are dask arrays; the small coordinates are read at open
    assert all(isinstance(v.data, da.Array) for v in back.data_vars.values())
    assert all(isinstance(v.data, np.ndarray) for v in back.coords.values())
    xr.testing.assert_identical(back.load(), cube.load())
    assert {"R_bounds", "z_bounds", "R_width"} <= set(back.coords)
    if cell:
        assert {"X", "Y", "X_bounds"} <= set(back.coords)
    assert back.attrs == cube.attrs
    assert back.attrs["frame"]["v_sun"] == [12.9, 245.6, 7.78]
    assert back["R"].attrs["bounds"] == "R_bounds"
    # stored files: Zarr 3 with consolidated metadata in the root zarr.json
    root = json.loads((tmp_path / "cube.zarr" / "zarr.json").read_text())
    assert root["zarr_format"] == 3
    assert "sum_vz" in root["consolidated_metadata"]["metadata"]
    assert os.listdir(tmp_path) == ["cube.zarr"]  # no temporary leftovers


def test_file_url_and_numpy_attrs(tmp_path):
    cube = make_cube()
    cube.attrs["stars_read"] = np.int64(1000)
    cube.attrs["edges"] = np.array([1.0, 2.0])
    write_cube(cube, f"file://{tmp_path}/c.zarr")
    back = open_cube(f"file://{tmp_path}/c.zarr")
    assert type(back.attrs["stars_read"]) is int and back.attrs["stars_read"] == 1000
    assert back.attrs["edges"] == [1.0, 2.0]


def test_chunk_policy_unit():
    # everything fits in one chunk
    assert chunk_policy(("replicate", "R", "z"), (16, 10, 20), 8) == {
        "replicate": 16,
        "R": 10,
        "z": 20,
    }
    # one R row is 16*3000*8 = 384000 B: two rows per MiB
    assert chunk_policy(("replicate", "R", "z"), (16, 40, 3000), 8) == {
        "replicate": 16,
        "R": 2,
        "z": 3000,
    }
    # one R row is 2.56 MB: R gets 1 and z the largest chunk that fits
    assert chunk_policy(("replicate", "R", "z"), (16, 10, 20000), 8) == {
        "replicate": 16,
        "R": 1,
        "z": CHUNK_BYTES // (16 * 8),
    }
    # hex cells outermost: 8 cells of (8, 20, 100) float64 per chunk
    assert chunk_policy(("replicate", "cell", "R", "z"), (8, 500, 20, 100), 8) == {
        "replicate": 8,
        "cell": 8,
        "R": 20,
        "z": 100,
    }
    # replicate is never split even when it alone exceeds the budget
    assert chunk_policy(("replicate", "R"), (200_000, 3), 8) == {"replicate": 200_000, "R": 1}
    # overrides are honoured and counted in the block
    assert chunk_policy(("replicate", "R", "z"), (16, 40, 3000), 8, overrides={"z": 100}) == {
        "replicate": 16,
        "R": 40,
        "z": 100,
    }
    assert chunk_policy(("R",), (0,), 8) == {"R": 1}


@pytest.mark.parametrize("dask_backed", [False, True])
def test_stored_chunks_follow_policy(tmp_path, dask_backed):
    cube = make_cube(K=16, nR=5, nz=20000, dask_backed=dask_backed)
    path = tmp_path / "big.zarr"
    write_cube(cube, path)
    expected = (16, 1, CHUNK_BYTES // (16 * 8))
    for var in ("count", "sum_vz", "sum_vz2"):
        assert stored_chunks(path, var) == expected
    back = open_cube(path)
    assert back["sum_vz"].encoding["chunks"] == expected
    assert back["sum_vz"].data.chunksize == expected  # default dask chunks = stored chunks
    assert open_cube(path, chunks={"R": 5})["sum_vz"].data.chunksize[1] == 5
    # small coordinates are one chunk
    assert stored_chunks(path, "R_width") == (5,)
    # overrides
    write_cube(cube, tmp_path / "o.zarr", chunks={"R": 2, "z": -1, "replicate": 4})
    assert stored_chunks(tmp_path / "o.zarr", "sum_vz") == (4, 2, 20000)
    with pytest.raises(ValueError, match="not in the cube"):
        write_cube(cube, tmp_path / "x.zarr", chunks={"phi": 2})


def test_rewrite_opened_cube_with_other_chunks(tmp_path):
    cube = make_cube(nR=6, nz=8)
    write_cube(cube, tmp_path / "a.zarr", chunks={"R": 2})
    again = open_cube(tmp_path / "a.zarr")  # dask chunks and encodings of the old store
    write_cube(again, tmp_path / "b.zarr", chunks={"R": 4, "z": 3})
    assert stored_chunks(tmp_path / "b.zarr", "count") == (4, 4, 3)
    xr.testing.assert_identical(open_cube(tmp_path / "b.zarr").load(), cube)


def test_progress_bar(tmp_path, capsys):
    write_cube(make_cube(dask_backed=True), tmp_path / "p.zarr", progress=True)
    assert "Completed" in capsys.readouterr().out


# ----------------------------------------------------------------------------------------------
# atomicity


def test_existing_store_needs_overwrite(tmp_path):
    cube = make_cube()
    path = write_cube(cube, tmp_path / "c.zarr")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_cube(make_cube(seed=1), path)
    xr.testing.assert_identical(open_cube(path).load(), cube)
    new = make_cube(seed=1, nR=3)
    write_cube(new, path, overwrite=True)
    xr.testing.assert_identical(open_cube(path).load(), new)
    assert siblings(Path(path)) == {"c.zarr"}


def test_overwrite_refuses_non_zarr_directory(tmp_path):
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a Zarr store"):
        write_cube(make_cube(), tmp_path / "precious", overwrite=True)
    assert (tmp_path / "precious" / "notes.txt").read_text() == "keep me"


def test_failed_compute_leaves_nothing(tmp_path):
    target = tmp_path / "sub" / "c.zarr"
    target.parent.mkdir()
    with pytest.raises(RuntimeError, match="simulated"):
        write_cube(failing(make_cube()), target)
    assert not target.exists()
    assert siblings(target) == set()  # no temporary directory left


def test_failed_compute_keeps_previous_store(tmp_path):
    old = make_cube()
    target = Path(write_cube(old, tmp_path / "c.zarr"))
    before = sorted(p.relative_to(target) for p in target.rglob("*"))
    with pytest.raises(RuntimeError, match="simulated"):
        write_cube(failing(make_cube(seed=3)), target, overwrite=True)
    assert sorted(p.relative_to(target) for p in target.rglob("*")) == before
    xr.testing.assert_identical(open_cube(target).load(), old)
    assert siblings(target) == {"c.zarr"}


@pytest.mark.parametrize("exc", [OSError("connection lost"), KeyboardInterrupt()])
def test_to_zarr_that_writes_then_raises(tmp_path, monkeypatch, exc):
    real = xr.Dataset.to_zarr
    seen = []

    def write_then_raise(self, store, *args, **kwargs):
        real(self, store, *args, **kwargs)
        seen.append(store)
        raise exc

    old = make_cube()
    target = Path(write_cube(old, tmp_path / "c.zarr"))
    monkeypatch.setattr(xr.Dataset, "to_zarr", write_then_raise)
    with pytest.raises(type(exc)):
        write_cube(make_cube(seed=5), target, overwrite=True)
    with pytest.raises(type(exc)):
        write_cube(make_cube(seed=5), tmp_path / "new.zarr")
    assert len(seen) == 2 and all(Path(s).name.startswith(".") for s in seen)  # hidden temps
    monkeypatch.undo()
    xr.testing.assert_identical(open_cube(target).load(), old)
    assert set(os.listdir(tmp_path)) == {"c.zarr"}


def test_killed_write_keeps_previous_store(tmp_path):
    old = make_cube()
    target = Path(write_cube(old, tmp_path / "c.zarr"))
    marker = tmp_path / "computing"
    script = textwrap.dedent(
        f"""
        import sys, time, pathlib
        sys.path.insert(0, {str(REPO)!r})
        from tests.test_store import make_cube
        from cubes.store import write_cube

        def slow(block):
            pathlib.Path({str(marker)!r}).touch()
            time.sleep(60)
            return block

        cube = make_cube(seed=9).chunk({{"R": 1}})
        cube["sum_vz"] = cube["sum_vz"].copy(data=cube["sum_vz"].data.map_blocks(slow))
        write_cube(cube, {str(target)!r}, overwrite=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO)
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert proc.poll() is None, "writer exited early"
            assert time.monotonic() < deadline, "writer never started computing"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    xr.testing.assert_identical(open_cube(target).load(), old)
    # only a hidden temporary sibling may remain, never a visible half store
    assert {n for n in os.listdir(tmp_path) if not n.startswith(".")} == {"c.zarr", "computing"}


# ----------------------------------------------------------------------------------------------
# HTTP


def test_http_reads_metadata_then_only_the_slice_chunks(tmp_path):
    cube = make_cube(K=3, nR=6, nz=12)
    # sum_vz chunks (3, 2, 5): 3 R-chunks x 3 z-chunks (5, 5, 2); R_width chunks (2,)
    write_cube(cube, tmp_path / "cube.zarr", chunks={"R": 2, "z": 5})
    assert stored_chunks(tmp_path / "cube.zarr", "sum_vz") == (3, 2, 5)
    with http_server(tmp_path) as (base, log):
        lazy = open_cube(f"{base}/cube.zarr")
        coords = {"R", "z", "replicate", "R_bounds", "z_bounds", "R_width", "z_width"}
        coord_chunks = {
            f"/cube.zarr/{c}/c/{i}" + ("/0" if c.endswith("_bounds") else "")
            for c in coords
            for i in range(3 if c.startswith("z_") else 1)  # z_* are chunked like z (5)
        }
        coord_chunks |= {"/cube.zarr/R_width/c/1", "/cube.zarr/R_width/c/2"}
        coord_chunks |= {"/cube.zarr/R_bounds/c/1/0", "/cube.zarr/R_bounds/c/2/0"}
        # the root zarr.json (it holds the consolidated metadata: no other zarr.json is read)
        # and the chunks of the small coordinates; not one chunk of a data variable
        assert set(log.paths) == {"/cube.zarr/zarr.json"} | coord_chunks
        assert not any("/sum_" in p or "/count/" in p for p in log.paths)
        log.clear()

        values = lazy["sum_vz"].isel(R=0).compute()
        # exactly the chunks that the slice R=0 intersects: R-chunk 0, every z-chunk
        assert set(log.paths) == {
            "/cube.zarr/sum_vz/c/0/0/0",
            "/cube.zarr/sum_vz/c/0/0/1",
            "/cube.zarr/sum_vz/c/0/0/2",
        }
        assert set(log.statuses) == {200}
        assert 0 < log.bytes_sent < 3 * 2 * 12 * 8 * 4  # far less than the whole variable
        xr.testing.assert_identical(values, cube["sum_vz"].isel(R=0))

        log.clear()
        xr.testing.assert_identical(lazy.load(), cube)
        with pytest.raises(FileNotFoundError, match="missing.zarr"):
            open_cube(f"{base}/missing.zarr")


def test_http_unreachable_is_quick_and_clear():
    url = "http://127.0.0.1:1/nothing.zarr"
    start = time.monotonic()
    with pytest.raises(OSError, match="127.0.0.1:1/nothing.zarr") as info:
        open_cube(url)
    assert time.monotonic() - start < 10
    assert "connect" in str(info.value).lower()


def test_http_is_read_only(tmp_path):
    with pytest.raises(ValueError, match="read-only"):
        write_cube(make_cube(), "http://127.0.0.1:1/c.zarr")


# ----------------------------------------------------------------------------------------------
# S3 (moto server on loopback) and other fsspec targets


@pytest.fixture(scope="module")
def s3():
    """``(storage_options, s3fs filesystem)`` of a fresh moto server with a bucket ``cubes``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "test")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "test")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            mp.delenv(var, raising=False)
        with s3_server() as endpoint:
            options = {"endpoint_url": endpoint, "key": "test", "secret": "test"}
            fs = fsspec.filesystem("s3", skip_instance_cache=True, **options)
            fs.mkdir("cubes")
            yield options, fs


def test_s3_round_trip_and_overwrite(s3):
    options, fs = s3
    cube = make_cube(cell=3)
    url = write_cube(cube, "s3://cubes/run1/cube.zarr", storage_options=options, chunks={"R": 2})
    assert url == "s3://cubes/run1/cube.zarr"
    back = open_cube(url, storage_options=options)
    assert isinstance(back["sum_vz"].data, da.Array)
    xr.testing.assert_identical(back.load(), cube)
    fs.invalidate_cache()
    assert fs.ls("cubes/run1") == ["cubes/run1/cube.zarr"]  # temporary prefix removed

    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_cube(cube, url, storage_options=options)
    smaller = make_cube(seed=2).drop_vars("sum_vz2")
    write_cube(smaller, url, storage_options=options, overwrite=True)
    xr.testing.assert_identical(open_cube(url, storage_options=options).load(), smaller)
    fs.invalidate_cache()
    assert not any("sum_vz2" in p for p in fs.find("cubes/run1"))  # no stale objects


def test_s3_failed_write_leaves_no_store(s3):
    options, fs = s3
    url = "s3://cubes/run2/cube.zarr"
    with pytest.raises(RuntimeError, match="simulated"):
        write_cube(failing(make_cube()), url, storage_options=options)
    fs.invalidate_cache()
    assert not fs.exists("cubes/run2/cube.zarr/zarr.json")
    assert fs.find("cubes/run2") == []
    with pytest.raises(FileNotFoundError, match="run2/cube.zarr"):
        open_cube(url, storage_options=options)


def test_s3_failed_copy_removes_what_was_written(s3, monkeypatch):
    options, fs = s3
    url = "s3://cubes/run3/cube.zarr"
    target_fs = fsspec.core.url_to_fs(url, **options)[0]  # the cached instance write_cube uses
    real_copy = target_fs.copy
    calls: list[object] = []

    def copy_then_fail(path1, path2, *args, **kwargs):
        calls.append(path2)
        real_copy(path1, path2, *args, **kwargs)
        if path2 == "cubes/run3/cube.zarr/zarr.json":
            raise OSError("network dropped (simulated)")

    monkeypatch.setattr(target_fs, "copy", copy_then_fail)
    with pytest.raises(OSError, match="simulated"):
        write_cube(make_cube(), url, storage_options=options)
    monkeypatch.undo()
    # the chunks were copied first, the root metadata last
    assert len(calls) == 2 and "cubes/run3/cube.zarr/zarr.json" not in calls[0]
    assert any(p.endswith("/sum_vz/c/0/0/0") for p in calls[0])
    fs.invalidate_cache()
    assert fs.find("cubes/run3") == []


def test_remote_root_metadata_written_last(monkeypatch):
    """On any fsspec target, no root zarr.json exists while chunks are still being copied."""
    cube = make_cube()
    url = "memory://store-order/cube.zarr"
    mem = fsspec.filesystem("memory")
    real_copy = type(mem).copy
    states: list[tuple[bool, list[str]]] = []

    def spy(self, path1, path2, *args, **kwargs):
        states.append((self.exists("/store-order/cube.zarr/zarr.json"), path2))
        return real_copy(self, path1, path2, *args, **kwargs)

    monkeypatch.setattr(type(mem), "copy", spy)
    write_cube(cube, url)
    write_cube(make_cube(seed=4), url, overwrite=True)  # the old root goes first, too
    monkeypatch.undo()
    assert [exists for exists, _ in states] == [False, False, False, False]
    assert states[1][1] == states[3][1] == "/store-order/cube.zarr/zarr.json"
    xr.testing.assert_identical(open_cube(url).load(), make_cube(seed=4))
    assert mem.ls("/store-order", detail=False) == ["/store-order/cube.zarr"]
    mem.rm("/store-order", recursive=True)


# ----------------------------------------------------------------------------------------------
# errors


@pytest.mark.filterwarnings("ignore:Consolidated metadata is currently not part")
def test_plain_zarr_store_is_not_a_cube(tmp_path):
    plain = xr.Dataset({"a": ("x", np.arange(3.0))})
    plain.to_zarr(tmp_path / "plain.zarr", zarr_format=3, consolidated=True)
    with pytest.raises(
        ValueError, match=r"not a cubes moment cube \(attrs\['cubes_kind'\] missing\)"
    ):
        open_cube(tmp_path / "plain.zarr")
    zarr.create_array(tmp_path / "array.zarr", shape=(3,), dtype="f8", zarr_format=3)
    with pytest.raises(ValueError, match=r"Zarr array but not a cubes moment cube"):
        open_cube(tmp_path / "array.zarr")
    plain.to_zarr(tmp_path / "v2.zarr", zarr_format=2, consolidated=True)
    with pytest.raises(ValueError, match="Zarr format 2"):
        open_cube(tmp_path / "v2.zarr")
    other = make_cube()
    other.attrs["cubes_kind"] = "statistic"
    other.to_zarr(tmp_path / "other.zarr", zarr_format=3, consolidated=True)
    with pytest.raises(ValueError, match="cubes_kind='statistic'"):
        open_cube(tmp_path / "other.zarr")


def test_missing_local_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.zarr"):
        open_cube(tmp_path / "nope.zarr")


def test_write_rejects_non_cubes(tmp_path):
    with pytest.raises(ValueError, match="cubes_kind"):
        write_cube(xr.Dataset({"a": ("x", [1, 2])}), tmp_path / "a.zarr")
    bad = make_cube()
    bad.attrs["frame"] = object()
    with pytest.raises(TypeError, match=r"attrs\['frame'\]"):
        write_cube(bad, tmp_path / "b.zarr")
    assert os.listdir(tmp_path) == []


def test_no_dask_compute_on_open(tmp_path):
    from tests.utils import raise_if_dask_computes

    path = write_cube(make_cube(dask_backed=True), tmp_path / "c.zarr")
    with raise_if_dask_computes():
        cube = open_cube(path)
        _ = cube["sum_vz"].isel(R=0) + cube["count"].sum("replicate")
    with dask.config.set(scheduler="sync"):
        assert int(cube["count"].sum()) == int(make_cube()["count"].sum())
