"""What every dynamics function shares: galpy potentials by name, and the numpy/xarray door."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

#: what the public functions take: numpy-like input or a DataArray (numpy- or dask-backed)
Values = ArrayLike | xr.DataArray
#: and what they return: the input's type
Result = np.ndarray | xr.DataArray


def galpy_potential(name: str):
    """The galpy potential called ``name``: an attribute of ``galpy.potential`` (e.g.
    ``"MWPotential2014"``) or of ``galpy.potential.mwpotentials`` (e.g. ``"McMillan17"``,
    ``"Irrgang13I"``). Names, not objects, so that tables can be cached per potential."""
    import galpy.potential as gp

    if not isinstance(name, str):
        raise TypeError(f"potential must be the name of a galpy potential, not {type(name)!r}")
    if hasattr(gp, name):
        return getattr(gp, name)
    from galpy.potential import mwpotentials

    try:
        return getattr(mwpotentials, name)
    except AttributeError:
        raise ValueError(f"unknown galpy potential {name!r}: not in galpy.potential nor in "
                         "galpy.potential.mwpotentials") from None


def flat_call(kernel: Callable, *arrays) -> tuple[np.ndarray, ...]:
    """Broadcast ``arrays``, flatten them to contiguous float64 and call
    ``kernel(*flat) -> tuple of flat outputs``; return the outputs in the broadcast shape."""
    arrs = np.broadcast_arrays(*[np.asarray(a, dtype=np.float64) for a in arrays])
    shape = arrs[0].shape
    flat = [np.ascontiguousarray(a).reshape(-1) for a in arrs]
    return tuple(np.asarray(o).reshape(shape) for o in kernel(*flat))


def apply(func: Callable, *args, names: Sequence[str], attrs: Sequence[dict]):
    """``func(*numpy arrays) -> tuple`` of ``len(names)`` arrays, on numpy or xarray input.

    With any ``xr.DataArray`` among ``args`` (numpy- or dask-backed; the others scalars or
    DataArrays) it runs through ``xr.apply_ufunc(dask="parallelized")``, so a dask catalog
    stays lazy, and the outputs get ``names`` and ``attrs`` (units). Returns one output
    unwrapped, several as a tuple.
    """
    n = len(names)
    if any(isinstance(a, xr.DataArray) for a in args):
        one = func if n > 1 else (lambda *a: func(*a)[0])
        out = xr.apply_ufunc(one, *args, dask="parallelized", output_core_dims=[[]] * n,
                             output_dtypes=[np.float64] * n)
        out = tuple(out) if n > 1 else (out,)
        out = tuple(o.rename(nm).assign_attrs(a) for o, nm, a in zip(out, names, attrs,
                                                                     strict=True))
    else:
        out = func(*args)
    return out if n > 1 else out[0]
