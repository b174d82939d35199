"""The README's pipeline end to end on a Gaia-layout Parquet file: provenance reaches the cube."""

from __future__ import annotations

import numpy as np

import cubes
from cubes import axes
from tests import archive_files
from tests.utils import raise_if_dask_computes


def test_catalog_to_statistics_keeps_provenance(tmp_path):
    archive_files.write_gaia_parquet(tmp_path / "gaia.parquet", n=5000, row_group_size=700)
    with raise_if_dask_computes():  # opening, selecting and transforming are lazy
        stars = cubes.open_catalog(tmp_path / "gaia.parquet", survey="gaia_dr3")
        stars = cubes.select(stars, "parallax_over_error > 5", "ruwe < 1.4")
        stars = cubes.galactocentric(stars, frame="lin2023")
    cube = cubes.bin_catalog(stars, axes={"R": axes.regular(4, 14, 1.0),
                                          "z": axes.symmetric(2, 0.5)},
                             values=["vz"], replicates=4)
    path = cubes.write_cube(cube, tmp_path / "cube.zarr")
    cube = cubes.open_cube(path)
    a = cube.attrs
    assert a["selections"] == ["parallax_over_error > 5", "ruwe < 1.4"]
    assert a["frame"]["name"] == "lin2023" and a["frame"]["R0"] == 8.34
    assert a["survey"] == "gaia_dr3" and a["source"].endswith("gaia.parquet")
    assert a["id_column"] == "source_id"
    assert a["stars_read"] == 5000 == (a["stars_used"] + a["stars_outside"] + a["stars_invalid"]
                                       + a["stars_deselected"])
    sel = stars.compute()
    keep = sel.selected.values
    assert a["stars_deselected"] == int(np.sum(~keep))
    est = cube.cube.estimate(cube.cube.north_south(cube.cube.mean("vz")))
    assert set(est.dims) == {"R", "abs_z"}
