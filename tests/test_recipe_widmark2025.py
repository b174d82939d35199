"""The widmark2025_phase_spiral_maps recipe end to end on a small default mock (~20 s)."""

from __future__ import annotations

import csv

import numpy as np
import xarray as xr

from cubes import cli


def test_widmark2025_recipe_recovers_the_mock_spiral(tmp_path):
    out = tmp_path / "widmark"
    # 1.5 M stars within 2 kpc: ~90 cells pass 4000 stars; the phase-space acceptance is
    # lowered to 1500 so that the scheme-B path (fits, Figs. 6, 7, 9) runs at this n
    assert cli.main(["recipe", "widmark2025_phase_spiral_maps", "--n", "1500000",
                     "--ps-min-stars", "1500", "--out", str(out), "--no-progress"]) == 0
    for name in ("fig4_spatial_maps.png", "fig5_A_phi_R.png", "fig6_phase_space_maps.png",
                 "fig7_back_propagated.png", "fig9_winding_time.png",
                 "fig12_spatial_amplitudes.png", "residuals_zw.png"):
        assert (out / name).stat().st_size > 20_000, name
    stem = "widmark2025_phase_spiral_maps"
    rows = {r["quantity"]: r for r in csv.DictReader((out / f"{stem}_table.csv").open())}
    assert (out / f"{stem}_table.md").read_text().startswith("# Widmark et al. 2025")

    def value(q):
        return float(rows[q]["value"])

    assert value("spatial cells with > 4000 stars (fitted and mapped)") >= 30
    assert value("phase-space samples with > 1500 stars") >= 5
    assert value("spatial: samples good") >= 10
    # the disk model's A_Φ(R) per cell: the median ratio of good fits within 10 %
    assert abs(value("spatial: median A_Φ / A_Φ,true (good)") - 1.0) < 0.10
    # φ600 within 0.3 rad of the injected spiral's (circular difference)
    dphi = value("spatial: circular mean phi600 (good)") - value("truth: phi600")
    assert abs(np.angle(np.exp(1j * dphi))) < 0.3
    assert abs(value("spatial: median omega (good)") - value("truth: omega")) < 0.5
    # the exponential A_Φ(R) profile: the mock's h_A = 3 kpc, A(R⊙) = 1
    assert abs(value("A_Φ(R) fit: h_R") - 3.0) < 0.5
    assert abs(value("A_Φ(R) fit: A_Φ,⊙") - 1.0) < 0.05
    maps = xr.open_dataset(out / f"{stem}_spatial_maps.nc")
    assert {"A_phi", "omega", "phi600", "quality", "t_omega", "X", "Y", "R"} <= set(
        maps.variables)
    assert int((maps.quality == 0).sum()) == int(value("spatial: samples good"))
    ps = xr.open_dataset(out / f"{stem}_phase_space_maps.nc")
    assert {"Rg", "vR", "cell", "vcell"} <= set(ps.coords)
