"""Mock catalogs with known truth.

- :mod:`cubes.mock.kinematic`: the equilibrium disk of isothermal populations with closed-form
  σ_vz(z) truth, in Galactocentric columns (the demo's mock).
"""

from __future__ import annotations

from .kinematic import (
    DEFAULT_POPULATIONS,
    FEH_GRADIENT,
    POTENTIAL_A,
    POTENTIAL_ZS,
    R0,
    Population,
    disk,
    sigma_vz_truth,
    vertical_density,
)

__all__ = ["DEFAULT_POPULATIONS", "FEH_GRADIENT", "POTENTIAL_A", "POTENTIAL_ZS", "R0",
           "Population", "disk", "sigma_vz_truth", "vertical_density"]
