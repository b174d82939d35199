"""Jackknife error calibration on mocks with known truth (issue 4), the fast version.

The full validation is ``benchmarks/validate_errors.py`` (120 realizations, two passes, per-bin
report); this test runs its machinery on 30 small mocks, truth columns only, a few bins:

- σ_vz (K = 16 groups) in 2 × 4 (R, z) bins → 240 trials;
- d[Fe/H]/dR (least squares from cross moments) per |z| slice, 4 slices → 120 trials.

A calibrated error covers the truth with probability p ≈ 0.68 (0.667 for K = 16: Student-t with
15 dof). Trials in different bins hold different stars, so the pooled count of covered trials is
binomial: the band is p ± 3√(p(1 − p)/N) — ±9 % for N = 240, ±13 % for N = 120. The same trials
with the errors halved cover P(|Z| ≤ 0.5) ≈ 38 %, and doubled P(|Z| ≤ 2) ≈ 95 %: both far outside
the band, so the test can fail.

Last run (seeds 500–529, 30 000 stars each, ~15 s): σ_vz covers 63.7 ± 3.1 % of 240 trials
(band 59.3–77.3 %), pull rms 1.08; the gradient 73.3 ± 4.0 % of 120 (band 55.5–81.0 %), pull rms
0.89. Errors halved: 31.2 % and 33.3 %; doubled: 93.8 % and 99.2 %.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from cubes import axes as A

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "validate_errors.py"
REALIZATIONS, N_STARS = 30, 30_000
P = 0.6827  # nominal 1σ coverage; the K = 16 expectation (0.667) is well inside the band


def _load():
    spec = importlib.util.spec_from_file_location("validate_errors", BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def trials():
    ve = _load()
    kw = dict(sigma_axes={"R": A.regular(6.0, 10.0, 2.0), "z": A.symmetric(1.0, 0.5)},
              gradient_axes={"abs_z": A.regular(0.0, 1.2, 0.3), "R": A.regular(4.0, 13.0, 0.5)})
    runs = [ve.realization(seed, N_STARS, observed=False, **kw)
            for seed in range(500, 500 + REALIZATIONS)]
    out = {}
    for stat in ("sigma_vz", "gradient"):
        rs = [r[("true", stat)] for r in runs]
        out[stat] = {scale: ve.Trials(labels=rs[0]["labels"]) for scale in (1.0, 0.5, 2.0)}
        for scale, t in out[stat].items():
            for r in rs:
                t.add(r, scale)
    return ve, out


def _band(n: int) -> tuple[float, float]:
    half = 3 * math.sqrt(P * (1 - P) / n)
    return P - half, P + half


@pytest.mark.parametrize("stat, bins", [("sigma_vz", 8), ("gradient", 4)])
def test_jackknife_1sigma_intervals_cover_the_truth(trials, stat, bins):
    ve, out = trials
    pulls = out[stat][1.0].arrays()[0]
    assert pulls.shape == (REALIZATIONS, bins)
    f, df, n = ve.coverage(pulls)
    assert n == REALIZATIONS * bins  # every bin is a trial in every realization
    lo, hi = _band(n)
    assert lo <= f <= hi, (stat, f, df, n, (lo, hi))
    p = pulls[np.isfinite(pulls)]
    assert abs(p.mean()) < 3 / math.sqrt(n) * 1.1, p.mean()  # no bias beyond noise
    assert 0.8 < np.sqrt(np.mean(p**2)) < 1.3


@pytest.mark.parametrize("stat", ["sigma_vz", "gradient"])
def test_miscalibrated_errors_are_caught(trials, stat):
    ve, out = trials
    lo, hi = _band(ve.coverage(out[stat][1.0].arrays()[0])[2])
    halved, _, _ = ve.coverage(out[stat][0.5].arrays()[0])
    doubled, _, _ = ve.coverage(out[stat][2.0].arrays()[0])
    assert halved < lo - 0.1, (halved, lo)  # ≈ 0.38
    assert doubled > hi + 0.05, (doubled, hi)  # ≈ 0.95
