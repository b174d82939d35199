"""cubes.spiral.posterior: an emcee posterior of (A_phi, omega, phi600, alpha, beta, W_sun) for one
sample on the fit's own likelihood (issue 5, "uncertainties on request"); ~10 s."""

from __future__ import annotations

import numpy as np
import pytest

import cubes.spiral as cs
from cubes.mock.signals import PhaseSpiral
from cubes.mock.vertical_sample import vertical_sample

TRUTH = {"A_phi": 1.2, "omega": 3.0, "phi600": 1.0, "alpha": 0.2, "beta": 0.1, "W_sun": 0.0}


@pytest.fixture(scope="module")
def sample():
    z, w = vertical_sample(100_000, amplitude=TRUTH["A_phi"], seed=1,
                           spiral=PhaseSpiral(alpha=0.2, beta=0.1, omega=3.0, phi600=1.0))
    hist = cs.histogram(z, w, sample=np.zeros(z.size, int))
    maps = cs.fit(hist)
    return hist.isel(sample=0), maps.isel(sample=0)


def test_posterior_contains_the_truth_and_agrees_with_the_fit(sample):
    """Measured (24 walkers, 400 steps, 3.6 s; acceptance 0.52, autocorrelation ~24 steps):
    A_phi 1.226 +- 0.048, omega 3.30 +- 0.20, phi600 0.927 +- 0.082, alpha 0.189 +- 0.015,
    beta 0.090 +- 0.010, W_sun 0.04 +- 0.085: the truth within 1.5 sigma, the medians within
    0.07 sigma of the ML fit."""
    hist, fit = sample
    post = cs.posterior(hist, fit, walkers=24, steps=400, seed=3, return_chain=True)
    assert 0.2 < post.attrs["acceptance"] < 0.8
    for name, true in TRUTH.items():
        med, sig = float(post[name].sel(stat="median")), float(post[f"{name}_sigma"])
        assert sig > 0, name
        d = np.angle(np.exp(1j * (med - true))) if name == "phi600" else med - true
        assert abs(d) < 2.5 * sig, (name, med, sig)
        ml = float(post[name].sel(stat="ml"))
        assert ml == pytest.approx(float(fit[name]))
        dm = np.angle(np.exp(1j * (med - ml))) if name == "phi600" else med - ml
        assert abs(dm) < 0.5 * sig, (name, med, ml, sig)
        assert post[name].sel(stat="p16") <= post[name].sel(stat="p84")
    chain = post["chain"]
    assert chain.dims == ("draw", "param") and chain.sizes["draw"] == 24 * (400 - 400 // 3)
    assert (chain.sel(param="alpha") >= 0).all() and (chain.sel(param="beta") >= 0).all()
    # the posterior's mode is the fit's maximum (the same likelihood): no draw beats it by
    # more than the optimiser's tolerance
    assert float(post["log_prob"].max()) < -float(fit["loss_spiral"]) + 1.0


def test_posterior_with_fixed_w_sun_and_bad_input(sample):
    hist, _ = sample
    fit = cs.fit(hist.expand_dims(sample=[0]), w_sun=0.0).isel(sample=0)
    post = cs.posterior(hist, fit, walkers=16, steps=150, seed=1)
    assert post.attrs["sampled"] == "A_phi omega phi600 alpha beta"
    assert float(post["W_sun_sigma"]) == 0.0
    assert abs(float(post["omega"].sel(stat="median")) - float(fit["omega"])) < 0.3
    bad = fit.copy()
    bad["reason_bits"] = bad["reason_bits"] * 0 + 1  # too few stars: not fitted
    with pytest.raises(ValueError, match="not fitted"):
        cs.posterior(hist, bad)
