"""Oracle: the whole engine (catalog → bin_catalog → moments → jackknife) against galpy's
quasi-isothermal distribution function (Binney & McMillan 2011; galpy's ``quasiisothermaldf``).

Stars are drawn with galpy's own sampler (``qdf.sampleV``) at a few (R, z) points and binned
with cubes; the dispersions σ_R, σ_z and the mean rotation ⟨v_φ⟩ that cubes measures, with
their 16-group jackknife errors, must reproduce what galpy integrates from the same DF
(``qdf.sigmaR2``, ``sigmaz2``, ``meanvT``: Gauss–Legendre integrals over velocity) within
3 jackknife σ — and a truth 5 % off must fail the same check.

galpy's adiabatic actions (C) keep the sampler affordable (~1 ms per star); the DF's
parameters are galpy's documentation example (h_R = R0/3, σ_R = 0.2 v0, σ_z = 0.1 v0 at R0,
scale lengths R0) in MWPotential2014, natural units converted with ro = 8 kpc, vo = 220 km/s.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import cubes

RO, VO = 8.0, 220.0
#: (R, z) points, kpc; each alone in a bin of the cube below
POINTS = ((7.2, 0.0), (8.0, 0.5), (8.0, -0.3))
N_PER_POINT = 3000
K = 16


@pytest.fixture(scope="module")
def qdf():
    from galpy.actionAngle import actionAngleAdiabatic
    from galpy.df import quasiisothermaldf
    from galpy.potential import MWPotential2014

    aa = actionAngleAdiabatic(pot=MWPotential2014, c=True)
    # precomputing R_g out to 4 R0 keeps the sampler's proposals off galpy's rl root finder
    return quasiisothermaldf(1.0 / 3.0, 0.2, 0.1, 1.0, 1.0, pot=MWPotential2014, aA=aa,
                             cutcounter=True, _precomputergrmax=4.0)


@pytest.fixture(scope="module")
def catalog(qdf):
    """N_PER_POINT stars per point: (R, z) fixed, (vR, vT, vz) from galpy's sampler."""
    np.random.seed(20231)  # noqa: NPY002 (galpy samples with numpy's global generator)
    cols = {k: [] for k in ("R", "z", "vR", "vphi", "vz")}
    for R, z in POINTS:
        v = np.asarray(qdf.sampleV(R / RO, z / RO, n=N_PER_POINT)) * VO
        cols["R"].append(np.full(N_PER_POINT, R))
        cols["z"].append(np.full(N_PER_POINT, z))
        for i, name in enumerate(("vR", "vphi", "vz")):
            cols[name].append(v[:, i])
    data = {k: ("star", np.concatenate(v), {"units": "kpc" if k in "Rz" else "km / s"})
            for k, v in cols.items()}
    n = len(POINTS) * N_PER_POINT
    data["id"] = ("star", np.arange(n, dtype=np.int64) * 7919 + 13)
    return xr.Dataset(data, attrs={"id_column": "id"})


@pytest.fixture(scope="module")
def truth(qdf):
    """galpy's moments of the DF at each point (km/s)."""
    out = {"sigma_vR": [], "sigma_vz": [], "mean_vphi": []}
    for R, z in POINTS:
        r, h = R / RO, z / RO
        out["sigma_vR"].append(np.sqrt(qdf.sigmaR2(r, h, gl=True)) * VO)
        out["sigma_vz"].append(np.sqrt(qdf.sigmaz2(r, h, gl=True)) * VO)
        out["mean_vphi"].append(qdf.meanvT(r, h, gl=True) * VO)
    return {k: np.array(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def measured(catalog):
    """cubes' estimates (value, jackknife error) at each point, from one cube."""
    axes = {"R": [6.8, 7.6, 8.4], "z": [-0.4, -0.2, 0.2, 0.7]}
    cube = cubes.bin_catalog(catalog, axes, values=["vz", "vR", "vphi"], replicates=K)
    assert int(cube.cube.count().sel(replicate=-1).sum()) == catalog.sizes["star"]
    stats = {"sigma_vR": cube.cube.dispersion("vR", deconvolve=False),
             "sigma_vz": cube.cube.dispersion("vz", deconvolve=False),
             "mean_vphi": cube.cube.mean("vphi")}
    out = {}
    for name, stat in stats.items():
        est = cubes.estimate(stat, name=name)
        at = [est.sel(R=R, z=z, method="nearest") for R, z in POINTS]
        out[name] = (np.array([float(e[name]) for e in at]),
                     np.array([float(e[f"{name}_error"]) for e in at]))
    return out


def pulls(measured, truth, scale=1.0):
    """(measured − scale × truth) / jackknife error, for every statistic and point."""
    return np.concatenate([(measured[k][0] - scale * truth[k]) / measured[k][1]
                           for k in sorted(truth)])


def test_jackknife_errors_are_the_expected_size(measured, truth):
    """σ/√(2N) for a dispersion, σ_φ/√N for a mean: the errors themselves are right."""
    n = N_PER_POINT
    for k in ("sigma_vR", "sigma_vz"):
        np.testing.assert_allclose(measured[k][1], truth[k] / np.sqrt(2 * n), rtol=0.5)
    assert np.all(measured["mean_vphi"][1] < 0.1 * truth["sigma_vR"])


def test_cube_reproduces_galpys_qdf_moments(measured, truth):
    p = pulls(measured, truth)
    assert np.all(np.abs(p) < 3.0), p
    assert np.sum(p**2) < len(p) + 3 * np.sqrt(2 * len(p))  # χ² within 3 σ of its mean


def test_a_truth_five_percent_off_fails(measured, truth):
    """The check above can fail: dispersions 5 % off are several jackknife σ away."""
    wrong = {**truth, "sigma_vR": 1.05 * truth["sigma_vR"],
             "sigma_vz": 0.95 * truth["sigma_vz"]}
    p = pulls(measured, wrong)
    assert np.any(np.abs(p) > 3.0)
    assert np.sum(p**2) > len(p) + 3 * np.sqrt(2 * len(p))
