"""The no-spiral threshold scales with the sample size (docs/spiral.md, "Vetting"): at ~5000 stars
a spiral with alpha + beta = 0.35 is detected and a bulk-only sample is not; at >= 1e5 stars the
threshold is the gain_min = 30 calibrated there (tests/test_spiral.py)."""

from __future__ import annotations

import numpy as np
import pytest

import cubes.spiral as cs
from cubes.mock.signals import PhaseSpiral
from cubes.mock.vertical_sample import vertical_sample

N_SMALL = 5_000
SEEDS = tuple(range(11, 19))


def test_gain_threshold_of_n():
    o = cs.FitOptions()
    np.testing.assert_allclose(o.gain_threshold([1000, 5000, 40_000, 60_000, 1e5, 1e6]),
                               [12, 12, 12, 18, 30, 30])
    assert float(cs.FitOptions(gain_scaling=False).gain_threshold(5000)) == 30.0
    assert float(cs.FitOptions(gain_min=40).gain_threshold(1e5)) == 40.0
    assert float(cs.FitOptions(gain_min=8).gain_threshold(5000)) == 8.0  # below the floor


def _hist(spiral, seeds, kind="isothermal"):
    zs, ws, lab = [], [], []
    for k, s in enumerate(seeds):
        z, w = vertical_sample(N_SMALL, amplitude=1.0, spiral=spiral, kind=kind,
                               seed=s)
        zs.append(z)
        ws.append(w)
        lab.append(np.full(z.size, k))
    return cs.histogram(np.concatenate(zs), np.concatenate(ws), sample=np.concatenate(lab))


@pytest.fixture(scope="module")
def small_maps():
    sp = PhaseSpiral(alpha=0.30, beta=0.05, omega=4.5, phi600=1.0)
    return {"spiral": cs.fit(_hist(sp, SEEDS)),
            "null": cs.fit(_hist(None, SEEDS)),
            "null_gaussian": cs.fit(_hist(None, SEEDS, kind="gaussian"))}


def test_small_samples_spiral_accepted_null_rejected(small_maps):
    sp = small_maps["spiral"]
    assert (sp["n_stars"] < 5000).all() and (sp["gain_threshold"] == 12.0).all()
    found = sp["quality"].values != cs.NO_SPIRAL
    # alpha + beta = 0.35 at 5000 stars is near the detection limit (nulls 2-9.3): measured
    # gains 11.7-34 and 11 of 12 seeds detected for this alpha-rich truth, 6/12 for
    # (0.25, 0.10), 2/12 for (0.20, 0.15) (docs/spiral.md, "Vetting")
    assert found.sum() >= 6, (sp["loglike_gain"].values, list(sp["reason"].values))
    assert (np.abs(sp["omega"].values[found] - 4.5) < 1.0).all(), sp["omega"].values
    for key in ("null", "null_gaussian"):
        m = small_maps[key]
        assert (m["quality"] == cs.NO_SPIRAL).all(), (key, m["loglike_gain"].values)
        assert (m["loglike_gain"] < 10).all()
    # the constant gain_min = 30 of 1e5-star samples rejects them all
    assert (sp["loglike_gain"] < 30).all()
