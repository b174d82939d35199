"""The Wang+2025 recipe end to end on small default mocks: files, figures, table, truth."""

from __future__ import annotations

import csv

from cubes import cli

NAME = "wang2025_ns_metallicity"
FIGURES = ("fig3_phi_maps", "fig4_phi_profiles", "fig5_age_maps", "fig6_age_profiles",
           "difference_maps")
OUTER = "N − S mean [Fe/H] offset, R > 11 kpc, −5° < Φ < 15°"
MEDIAN = "N − S median [Fe/H], R > 11 kpc, −5° < Φ < 15°, mean over |Z| < 1.5 kpc"
INNER = "N − S mean [Fe/H] offset, inner disk 6 ≤ R < 10.8 kpc, −5° < Φ < 15°"
INJECTED = "mock: injected N − S [Fe/H] offset beyond R_min = 11 kpc (true R, z)"


def _run(out, *extra):
    assert cli.main(["recipe", NAME, "--n", "250000", "--seed", "1", "--out", str(out),
                     "--no-progress", *extra]) == 0
    rows = list(csv.DictReader((out / f"{NAME}_table.csv").open()))
    return {r["quantity"]: r for r in rows}


def _ve(row):
    return float(row["value"]), float(row["error"])


def test_wang2025_recipe_recovers_the_injected_offset_and_finds_none_without(tmp_path):
    out = tmp_path / "signal"
    by = _run(out)
    for stem in FIGURES:
        assert (out / f"wang2025_{stem}.png").stat().st_size > 20_000, stem
    for cube in ("maps", "outer_phi", "outer_age"):
        assert (out / f"{NAME}_{cube}.zarr").is_dir(), cube
    assert (out / f"{NAME}_table.md").read_text().startswith("# Wang et al. 2025")
    assert int(float(by["stars with R > 11 kpc, |Z| < 2.1 kpc, −5° < Φ < 15°"]["value"])) > 1000

    # beyond R_min = 11 kpc: the injected offset (attrs["truth"]), detected and within 2σ
    injected = float(by[INJECTED]["value"])
    assert injected == 0.08
    for name in (OUTER, MEDIAN):
        value, error = _ve(by[name])
        assert 0 < error < 0.03, (name, error)
        assert value > 3 * error, (name, value, error)
        assert abs(value - injected) < 2 * error, (name, value, error, injected)
    # and none inside it, where none was injected
    value, error = _ve(by[INNER])
    assert 0 < error and abs(value) < 2 * error, (value, error)

    # a mock without the signal: no N − S offset anywhere
    null = _run(tmp_path / "null", "--feh-offset", "0")
    assert float(null[INJECTED]["value"]) == 0.0
    for name in (OUTER, MEDIAN, INNER):
        value, error = _ve(null[name])
        assert 0 < error and abs(value) < 2 * error, (name, value, error)
