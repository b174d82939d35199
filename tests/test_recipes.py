"""Each paper's recipe end to end on a small default mock: files, figures, tables."""

from __future__ import annotations

import csv

import numpy as np

from cubes import cli


def test_lin2023_recipe_writes_its_cubes_figures_and_table(tmp_path):
    out = tmp_path / "lin"
    assert cli.main(["recipe", "lin2023_ns_dispersion", "--n", "150000", "--out", str(out),
                     "--no-progress"]) == 0
    for name in ("fig3_sigma_vz_R.png", "fig3_sigma_vz_Rg.png", "fig5_delta_sigma_vz.png",
                 "fig8_delta_sigma_vz_feh.png"):
        assert (out / name).stat().st_size > 20_000, name
    assert (out / "lin2023_ns_dispersion_R.zarr").is_dir()
    rows = list(csv.DictReader((out / "lin2023_ns_dispersion_table.csv").open()))
    by = {r["quantity"]: r for r in rows}
    assert int(float(by["Sample 1 stars (8 < R < 11 kpc, |z| < 1.5 kpc)"]["value"])) > 1000
    deltas = [float(r["value"]) for r in rows if r["quantity"].startswith("mean Δσ_vz")]
    assert len(deltas) == 6 and np.all(np.isfinite(deltas))
    assert "\\|z\\|" in (out / "lin2023_ns_dispersion_table.md").read_text()
    assert sum(r["quantity"].startswith("Table 1:") for r in rows) == 12
    for name in ("fig6_phase_space_contrast.png", "fig7_north_south_profiles.png"):
        assert (out / name).stat().st_size > 20_000, name
