"""The main job and the command line, end to end on small inputs."""

from __future__ import annotations

import numpy as np

from cubes import cli
from cubes.mock import kinematic as mock
from cubes_recipes import demo


def test_demo_recovers_the_mock_truth(tmp_path):
    out = demo.run(n=150_000, out=tmp_path, seed=3, progress=False)
    assert (tmp_path / "demo_cube.zarr").is_dir()
    assert (tmp_path / "demo_sigma_vz_north_south.png").stat().st_size > 20_000
    summary = (tmp_path / "demo_summary.txt").read_text()
    assert "stars read 150,000" in summary
    # σ_vz agrees with the closed-form truth and North − South with zero, within errors
    assert abs(out["pull_mean"]) < 0.3 and 0.6 < out["pull_rms"] < 1.4
    assert out["chi2_ns"] < out["n_bins"] + 4 * np.sqrt(2 * out["n_bins"])


def test_mock_truth_is_the_mixture_dispersion():
    stars = mock.disk(300_000, seed=1).compute()
    z, vz = stars.z.values, stars.vz_true.values
    for lo, hi in ((0.0, 0.1), (0.5, 0.6), (1.2, 1.4)):
        sel = (np.abs(z) >= lo) & (np.abs(z) < hi)
        zz = np.linspace(lo, hi, 50)
        w = mock.vertical_density(zz).T @ np.array([p.fraction for p in mock.DEFAULT_POPULATIONS])
        truth = np.sqrt(np.average(mock.sigma_vz_truth(zz) ** 2, weights=w))
        err = truth / np.sqrt(2 * sel.sum())
        assert abs(vz[sel].std() - truth) < 4 * err, (lo, vz[sel].std(), truth)


def test_cli_build_and_info(tmp_path, capsys):
    stars = mock.disk(20_000, seed=2).compute()
    path = tmp_path / "mock.parquet"
    stars.to_dataframe().to_parquet(path)
    store = tmp_path / "cube.zarr"
    code = cli.main(["build", str(path), "--axis", "R=4:14:2", "--axis", "z=sym:2:0.25",
                     "--value", "vz", "--select", "feh > -0.5", "--out", str(store)])
    assert code == 0
    assert store.is_dir()
    assert cli.main(["info", str(store)]) == 0
    text = capsys.readouterr().out
    assert "stars_deselected" in text and "feh > -0.5" in text
