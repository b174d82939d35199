"""Delete-a-group jackknife over the ``replicate`` dim.

A cube stores, for each of K star groups, the sums of that group alone (additive). A statistic
needs, instead, the statistic of the full sample and of each leave-one-group-out sample.
:func:`samples` turns the first into the second: the ``replicate`` dim becomes
``[-1, 0, …, K-1]`` where ``-1`` (:data:`cubes.conventions.FULL_SAMPLE`) is the full sample and
``k`` is the sample without group k. Every statistic is then evaluated on all K+1 samples at once,
any chain of statistics carries them along, and :func:`estimate` takes the error once at the end:

    σ²_jack = (K − 1)/K · Σ_k (θ_k − θ̄)²       (Quenouille 1956; Efron & Stein 1981)
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from . import conventions as cv


def is_samples(obj: xr.Dataset | xr.DataArray) -> bool:
    """True if ``obj``'s replicate dim already holds full + leave-one-out samples."""
    return (cv.REPLICATE_DIM in obj.dims and cv.REPLICATE_DIM in obj.coords
            and bool((obj[cv.REPLICATE_DIM] == cv.FULL_SAMPLE).any()))


def samples(cube: xr.Dataset) -> xr.Dataset:
    """Full-sample and leave-one-group-out sums of a cube (see the module docstring).

    Cubes without a replicate dim, or already converted, are returned unchanged.
    """
    if cv.REPLICATE_DIM not in cube.dims or is_samples(cube):
        return cube
    per_group = [n for n, v in cube.data_vars.items() if cv.REPLICATE_DIM in v.dims]
    sums = cube[per_group]
    full = sums.sum(cv.REPLICATE_DIM, keep_attrs=True)
    loo = full - sums
    out = xr.concat([full.expand_dims({cv.REPLICATE_DIM: [cv.FULL_SAMPLE]}), loo],
                    dim=cv.REPLICATE_DIM, coords="minimal", compat="override",
                    combine_attrs="override")
    for n in per_group:
        out[n].attrs = cube[n].attrs
    out[cv.REPLICATE_DIM].attrs = {
        "long_name": "jackknife sample",
        "description": "-1: full sample; k: the sample without star group k",
    }
    return out.assign_attrs(cube.attrs)


def estimate(stat: xr.DataArray | xr.Dataset, *, name: str | None = None) -> xr.Dataset:
    """Full-sample value of a statistic and its delete-a-group jackknife standard error.

    Parameters
    ----------
    stat : DataArray or Dataset
        A statistic computed from a cube with replicates (it has a ``replicate`` dim holding
        the full sample at -1 and the K leave-one-out samples).
    name : str, optional
        Name of the value variable (default: the statistic's name, else ``"value"``).

    Returns
    -------
    xr.Dataset
        For a DataArray: variables ``<name>`` and ``<name>_error``; for a Dataset, the same for
        each variable. A sample where the statistic is undefined (NaN) makes the error NaN.
    """
    if isinstance(stat, xr.Dataset):
        parts = [estimate(v, name=str(k)) for k, v in stat.data_vars.items()]
        return xr.merge(parts, combine_attrs="override").assign_attrs(stat.attrs)
    if not is_samples(stat):
        raise ValueError(
            "estimate() needs a statistic with a 'replicate' dim of jackknife samples "
            f"(got dims {stat.dims!r}); build the cube with replicates=K (K >= 2) and compute "
            "the statistic with cubes' functions or the .cube accessor"
        )
    rep = stat[cv.REPLICATE_DIM]
    value = stat.sel({cv.REPLICATE_DIM: cv.FULL_SAMPLE}, drop=True)
    loo = stat.sel({cv.REPLICATE_DIM: rep[rep != cv.FULL_SAMPLE]})
    k = loo.sizes[cv.REPLICATE_DIM]
    dev = loo - loo.mean(cv.REPLICATE_DIM, skipna=False)
    error = np.sqrt((k - 1) / k * (dev**2).sum(cv.REPLICATE_DIM, skipna=False))
    name = name or (str(stat.name) if stat.name is not None else "value")
    error.attrs = {k_: v for k_, v in stat.attrs.items() if k_ in ("units",)}
    error.attrs["long_name"] = f"jackknife standard error of {name} ({k} groups)"
    return xr.Dataset({name: value.assign_attrs(stat.attrs), f"{name}_error": error},
                      attrs={"jackknife_groups": k})
