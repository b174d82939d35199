"""Dynamical labels of stars in galpy potentials (issue 3): one module per label.

- :mod:`.guiding`: guiding radius R_g (Lin et al. 2023 §2.3; Widmark et al. 2025 Eq. 14).
- :mod:`.radial`: radial action J_R and angle θ_R, epicycle approximation or galpy's Stäckel
  (Widmark et al. 2025 spec §6.6).
- :mod:`.zmax`: z_max by galpy orbit integration (Long et al. 2025 §2) or from the vertical
  energy E_z at the star's radius.

Every function takes numpy arrays or xr.DataArrays (numpy- or dask-backed, kept lazy) and
returns the same type, with units in ``attrs``. Units: kpc, km/s, kpc km/s, radians.
Potentials are named (``"MWPotential2014"``, ``"McMillan17"``); galpy's natural units are
``ro``, ``vo`` for a model in natural units (default 8 kpc, 220 km/s; pass the frame's R0 and
vc) and a fitted model's own for those defined in physical units (:func:`natural_units`).
The vertical potential of a galpy model as a shape for :class:`cubes.vertical.VerticalOrbits`
is :class:`cubes.vertical.GalpyVerticalPotential`.
"""

from ._support import natural_units, own_units
from .guiding import guiding_radius, guiding_radius_linear
from .radial import epicycle_frequency, radial_action, radial_action_angle, radial_angle
from .zmax import vertical_energy, zmax_energy, zmax_orbit

__all__ = [
    "epicycle_frequency",
    "guiding_radius",
    "guiding_radius_linear",
    "natural_units",
    "own_units",
    "radial_action",
    "radial_action_angle",
    "radial_angle",
    "vertical_energy",
    "zmax_energy",
    "zmax_orbit",
]
