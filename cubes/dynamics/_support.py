"""What every dynamics function shares: galpy potentials by name, and the numpy/xarray door."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

#: what the public functions take: numpy-like input or a DataArray (numpy- or dask-backed)
Values = ArrayLike | xr.DataArray
#: and what they return: the input's type
Result = np.ndarray | xr.DataArray


#: galpy's natural units for a potential that carries none of its own (galpy's defaults)
DEFAULT_RO, DEFAULT_VO = 8.0, 220.0


def _lookup(name: str):
    """The galpy object called ``name`` in ``galpy.potential`` or its ``mwpotentials``."""
    import galpy.potential as gp
    from galpy.potential import Potential

    if not isinstance(name, str):
        raise TypeError(f"potential must be the name of a galpy potential, not {type(name)!r}")

    def is_potential(obj) -> bool:  # not, e.g., the galpy.potential.McMillan17 module
        return isinstance(obj, Potential) or (
            isinstance(obj, list) and bool(obj) and all(isinstance(o, Potential) for o in obj))

    if is_potential(getattr(gp, name, None)):
        return getattr(gp, name)
    from galpy.potential import mwpotentials

    obj = getattr(mwpotentials, name, None)
    if not is_potential(obj):
        raise ValueError(f"unknown galpy potential {name!r}: not in galpy.potential nor in "
                         "galpy.potential.mwpotentials")
    return obj


@lru_cache(maxsize=16)
def _natural(name: str):
    """(potential in natural units, its own (ro, vo) or None).

    Models fitted in physical units (McMillan17, Irrgang13I, Cautun20, ...) come with galpy's
    physical output on: their values would come back in km/s and kpc. A copy with physical
    output off is returned instead, and the model's own units, so that every evaluation here
    is in natural units and scaled once by the right (ro, vo). galpy's object is not changed.
    """
    import copy

    from galpy.potential import turn_physical_off
    from galpy.util.conversion import get_physical

    pot = _lookup(name)
    phys = get_physical(pot, include_set=True)
    if not (phys["roSet"] or phys["voSet"]):
        return pot, None
    pot = copy.deepcopy(pot)
    turn_physical_off(pot)
    return pot, (float(phys["ro"]), float(phys["vo"]))


def galpy_potential(name: str):
    """The galpy potential called ``name`` (an attribute of ``galpy.potential``, e.g.
    ``"MWPotential2014"``, or of ``galpy.potential.mwpotentials``, e.g. ``"McMillan17"``,
    ``"Irrgang13I"``), evaluating in natural units (physical output off; see
    :func:`natural_units` for its units). Names, not objects, so that tables can be cached per
    potential."""
    return _natural(name)[0]


def own_units(name: str) -> tuple[float, float] | None:
    """(ro kpc, vo km/s) that the potential ``name`` is defined in, or None for a potential in
    natural units only (MWPotential2014), which any (ro, vo) scales."""
    return _natural(name)[1]


def natural_units(name: str, ro: float | None, vo: float | None) -> tuple[float, float]:
    """The (ro, vo) to evaluate ``name`` in: a potential defined in physical units uses its
    own (McMillan17: 8.21 kpc, 233.1 km/s); others ``ro``, ``vo``, by default galpy's 8 kpc and
    220 km/s.

    Raises
    ------
    ValueError
        If ``ro`` or ``vo`` is given for a potential with units of its own and differs from
        them: that would rescale a fitted model into another one.
    """
    own = own_units(name)
    if own is None:
        return (DEFAULT_RO if ro is None else float(ro), DEFAULT_VO if vo is None else float(vo))
    for given, value, what in ((ro, own[0], "ro"), (vo, own[1], "vo")):
        if given is not None and not np.isclose(float(given), value, rtol=1e-12, atol=0.0):
            raise ValueError(
                f"{name} is defined in physical units (ro = {own[0]} kpc, vo = {own[1]} km/s); "
                f"{what}={given} would rescale the fitted model. Leave ro and vo out (None) for "
                "this potential, or use one in natural units (MWPotential2014) to scale")
    return own


def evaluate(pot, what: str, R: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Φ (``"potential"``), F_R (``"Rforce"``) or F_z (``"zforce"``) of a potential in natural
    units at natural (R, z) arrays, through galpy's C implementation when every component has
    one (McMillan17: 8 µs per point against 4–12 ms in Python; they agree to 1e-15), else
    galpy's Python functions."""
    import galpy.potential as gp
    from galpy.potential.interpRZPotential import eval_force_c, eval_potential_c
    from galpy.potential.Potential import _check_c

    R, z = np.broadcast_arrays(np.asarray(R, dtype=np.float64), np.asarray(z, dtype=np.float64))
    shape = R.shape
    R, z = np.ascontiguousarray(R).ravel(), np.ascontiguousarray(z).ravel()
    if _check_c(pot):
        if what == "potential":
            out = eval_potential_c(pot, R, z)[0]
        elif what in ("Rforce", "zforce"):
            out = eval_force_c(pot, R, z, zforce=what == "zforce")[0]
        else:
            raise ValueError(f"cannot evaluate {what!r}")
    else:
        func = {"potential": gp.evaluatePotentials, "Rforce": gp.evaluateRforces,
                "zforce": gp.evaluatezforces}[what]
        out = func(pot, R, z, use_physical=False)
    return np.asarray(out, dtype=np.float64).reshape(shape)


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
