"""The Hawkins 2023 recipe end to end on a small default mock: files, figures, table, truth."""

from __future__ import annotations

import csv

from cubes import cli

NAME = "hawkins2023_chemical_cartography"
FIGURES = ("fig1_2_maps", "fig3_radial_plane", "fig4_7_gradients", "fig5_residual_map",
           "fig6_azimuth")


def _run(out, *extra):
    assert cli.main(["recipe", NAME, "--n", "300000", "--steps", "100", "--out", str(out),
                     "--no-progress", *extra]) == 0
    rows = list(csv.DictReader((out / f"{NAME}_table.csv").open()))
    return {r["quantity"]: r for r in rows}


def test_hawkins2023_recipe_recovers_the_mock_gradient_and_arms(tmp_path):
    out = tmp_path / "hawkins"
    by = _run(out)
    for stem in FIGURES:
        assert (out / f"hawkins2023_{stem}.png").stat().st_size > 20_000, stem
    for cube in ("gradients", "map", "annuli"):
        assert (out / f"{NAME}_{cube}.zarr").is_dir(), cube
    assert (out / f"{NAME}_table.md").read_text().startswith("# Hawkins 2023")
    assert int(float(by["stars: + halo cut P_halo < 0.01 (final)"]["value"])) > 4000

    # the radial gradient in the plane: the disk model's g_R within 2σ (jackknife)
    truth = float(by["m_R mock truth: disk model g_R"]["value"])
    m = by["m_R = d[Fe/H]/dR, |Z| = 0–0.2 kpc"]
    value, error = float(m["value"]), float(m["error"])
    assert 0 < error < 0.005
    assert abs(value - truth) < 2 * error, (value, error, truth)
    # every fitted slice: within 2σ (+ the emcee noise of a short chain) of the sample's truth
    slopes = [r for q, r in by.items() if q.startswith(("m_R = ", "m_Z = "))]
    assert len(slopes) >= 6
    for r in slopes:
        t = float(r["note"].split("mock truth (selected stars) ")[1])
        assert abs(float(r["value"]) - t) < 2.5 * float(r["error"]) + 0.002, r

    # the injected arm excess shows in the residual map, at its injected size
    c = by["arm contrast of the residual map"]
    c_true = float(by["arm contrast, mock truth (injected excess, same cells)"]["value"])
    assert float(c["value"]) > 3 * float(c["error"])
    assert abs(float(c["value"]) - c_true) < 2 * float(c["error"])
