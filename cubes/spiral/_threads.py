"""One BLAS thread while the small optimisations run.

scipy's L-BFGS-B calls BLAS on vectors of ~20 numbers; a multi-threaded OpenBLAS then spends
~5 ms per iteration waking its threads on a busy machine (measured: 25× slower than one
thread). Fits run in parallel over samples instead, so BLAS is set to one thread inside
:func:`single_threaded_blas` (threadpoolctl when installed, else the OpenBLAS libraries loaded
in the process, found through /proc/self/maps) and restored when the last fit leaves.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from functools import lru_cache

_LOCK = threading.Lock()
_DEPTH = 0
_SAVED: list = []
_PAIRS = (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
          ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
          ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
          ("openblas_set_num_threads", "openblas_get_num_threads"))


@lru_cache(maxsize=1)
def _openblas_controls() -> tuple:
    try:
        with open("/proc/self/maps") as fh:
            paths = {line.split()[-1] for line in fh
                     if "openblas" in line.lower() and ".so" in line.split()[-1]}
    except OSError:
        return ()
    out = []
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for set_name, get_name in _PAIRS:
            if hasattr(lib, set_name) and hasattr(lib, get_name):
                setter, getter = getattr(lib, set_name), getattr(lib, get_name)
                setter.argtypes, getter.restype = [ctypes.c_int], ctypes.c_int
                out.append((setter, getter))
                break
    return tuple(out)


@contextlib.contextmanager
def single_threaded_blas():
    """Context in which BLAS runs on one thread (re-entrant and thread-safe)."""
    global _DEPTH
    with _LOCK:
        if _DEPTH == 0:
            _SAVED.clear()
            try:
                from threadpoolctl import threadpool_limits

                _SAVED.append(threadpool_limits(1, user_api="blas"))
            except ImportError:
                for setter, getter in _openblas_controls():
                    _SAVED.append((setter, getter()))
                    setter(1)
        _DEPTH += 1
    try:
        yield
    finally:
        with _LOCK:
            _DEPTH -= 1
            if _DEPTH == 0:
                for item in _SAVED:
                    if isinstance(item, tuple):
                        item[0](item[1])
                    else:
                        item.restore_original_limits()
                _SAVED.clear()
