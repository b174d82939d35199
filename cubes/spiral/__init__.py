"""Phase-spiral parameter maps (Widmark et al. 2025, seed 004; spec 004 §4–§6).

    hist = cubes.spiral.histogram(z_kpc, w_kms, sample=labels)   # 120 × 120 per sample
    maps = cubes.spiral.fit(hist)          # A_phi, omega, phi600, alpha, beta, quality, …

- :mod:`~cubes.spiral.tables`: θ_z(z, w̃), z_max, h, M, P⊙ as look-up tables (spec §5.3);
- :mod:`~cubes.spiral.histogram`: per-sample z–w histograms and the sech² η_i (spec §4);
- :mod:`~cubes.spiral.fitting`: the two-step maximum-likelihood fit of one histogram
  (spec §5.4–5.6), row-conditional by default, the paper's likelihood as ``method="paper"``;
- :mod:`~cubes.spiral.maps`: :func:`fit` over all samples by ``xr.apply_ufunc``, winding
  times (Eq. 28 and model-consistent) and the automatic vetting (docs/spiral.md);
- :mod:`~cubes.spiral.posterior`: :func:`posterior`, an emcee posterior of step 2's
  parameters for one sample, on the fit's own likelihood.
"""

from __future__ import annotations

from .fitting import (
    DUBIOUS,
    GOOD,
    NO_SPIRAL,
    NOT_FITTED,
    OUTPUTS,
    FitOptions,
    fit_histogram,
    quality_of,
    reason_of,
)
from .histogram import histogram, histogram_cube, row_weights
from .maps import fit, sample_dims, winding_time_eq28, winding_time_model
from .posterior import posterior
from .tables import SpiralTables, build_tables, default_tables

__all__ = ["DUBIOUS", "GOOD", "NOT_FITTED", "NO_SPIRAL", "OUTPUTS", "FitOptions", "SpiralTables",
           "build_tables", "default_tables", "fit", "fit_histogram", "histogram",
           "histogram_cube", "posterior", "quality_of", "reason_of", "row_weights", "sample_dims",
           "winding_time_eq28", "winding_time_model"]

#: the sample schemes, A_Φ(R) fit and orbits load on first use (they need binning / scipy)
_SUBMODULES = ("samples", "radial", "orbits")


def __getattr__(name: str):
    import importlib

    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'cubes.spiral' has no attribute {name!r}")
