"""Mock catalogs with known truth.

- :func:`disk` (:mod:`cubes.mock.gaia_like`): a Gaia-like catalog (astrometry with Gaia DR3
  errors, RVs, G, Teff, logg, [Fe/H], ages) of an equilibrium disk (:class:`DiskModel`), with
  injectable signals of known size (:class:`NorthSouth`, :class:`ArmMetallicity`,
  :class:`PhaseSpiral`) and the truth in ``*_true`` columns and ``attrs["truth"]``.
- :func:`intruder` (:mod:`cubes.mock.intruder`): the test-particle simulation of Lin et al.
  2023 §4 — a disk in Irrgang13I kicked by a passing intruder (docs/intruder.md).
- :func:`tracers` (:mod:`cubes.mock.tracers`): young disk tracers of the same model with a
  continuous age (open clusters, classical Cepheids; Long et al. 2025 §1.5–1.6), no vertical
  gradient at fixed age.
- :func:`vertical_sample`: (z, w) of a solar-neighbourhood sample drawn from the Widmark+2025
  model (bulk × [1 + M S]) with known spiral parameters, for the phase-spiral fits.
- :mod:`cubes.mock.kinematic`: the demo's lighter mock, Galactocentric columns only, with a
  closed-form σ_vz(z) (:func:`kinematic_disk`).
"""

from __future__ import annotations

from .equilibrium import DiskModel
from .gaia_like import STELLAR_TYPES, StellarType, disk
from .intruder import intruder  # the function; the module stays importable by its path
from .kinematic import DEFAULT_POPULATIONS, Population
from .kinematic import disk as kinematic_disk
from .signals import ArmMetallicity, NorthSouth, PhaseSpiral
from .tracers import tracers  # the function, as for intruder
from .vertical_sample import vertical_sample

__all__ = ["DEFAULT_POPULATIONS", "STELLAR_TYPES", "ArmMetallicity", "DiskModel", "NorthSouth",
           "PhaseSpiral", "Population", "StellarType", "disk", "intruder", "kinematic_disk",
           "tracers", "vertical_sample"]
