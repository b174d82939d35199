"""Log-periodic spiral-arm loci of Reid et al. (2014, ApJ 783, 130, Table 2).

Each arm's centre line is ln(R / R_ref) = −(β − β_ref) tan ψ, with β the Galactocentric azimuth
(0 towards the Sun, increasing along Galactic rotation): the library's φ (DESIGN.md), so
x = −R cos β, y = R sin β. Reid's R0 is 8.34 kpc; :func:`arm_locus` can rescale the arms to
another R0 (R ∝ R0, the choice Hawkins 2023 leaves open — spec 002 §4.7, A16).

Used for map overlays (seed 002) and by :mod:`cubes.mock` to put metallicity residuals along
the arms with a known amplitude.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Reid et al. (2014)'s Sun–Galactic-centre distance, kpc.
REID2014_R0 = 8.34


@dataclass(frozen=True)
class Arm:
    """One log-periodic arm: azimuth range (deg), R_ref (kpc), β_ref (deg), pitch ψ (deg) and
    half-width (kpc) of Reid et al. 2014 Table 2."""

    name: str
    beta_min: float
    beta_max: float
    R_ref: float
    beta_ref: float
    pitch: float
    width: float

    def radius(self, beta) -> np.ndarray:
        """R(β) of the centre line, kpc (β in deg)."""
        beta = np.asarray(beta, dtype=np.float64)
        return self.R_ref * np.exp(-np.radians(beta - self.beta_ref)
                                   * np.tan(np.radians(self.pitch)))


#: Reid et al. 2014 Table 2 (spec 002 §4.7). Perseus' pitch is 9.4° there (third-party code
#: sometimes has 9.9°).
REID2014 = (
    Arm("Scutum-Centaurus", 3.0, 101.0, 5.0, 27.6, 19.8, 0.17),
    Arm("Sagittarius-Carina", -2.0, 68.0, 6.6, 25.6, 6.9, 0.26),
    Arm("Local", -8.0, 27.0, 8.4, 8.9, 12.8, 0.33),
    Arm("Perseus", -21.0, 88.0, 9.9, 14.2, 9.4, 0.38),
    Arm("Outer", -6.0, 56.0, 13.0, 18.6, 13.8, 0.63),
)


def arm(name: str) -> Arm:
    """The Reid+2014 arm called ``name`` (case-insensitive)."""
    for a in REID2014:
        if a.name.lower() == name.lower():
            return a
    raise ValueError(f"unknown arm {name!r}; Reid et al. 2014 arms: "
                     f"{[a.name for a in REID2014]!r}")


def arm_locus(a: Arm | str, *, R0: float = REID2014_R0, n: int = 400) -> dict[str, np.ndarray]:
    """Centre line of an arm: arrays ``beta`` (deg), ``R``, ``x``, ``y`` (kpc) over its β range.

    ``R0``: the Sun's radius of the frame the arm is drawn in; radii are scaled by
    R0 / 8.34 kpc (Reid's R0), so the arm keeps its place relative to the Sun.
    """
    a = arm(a) if isinstance(a, str) else a
    beta = np.linspace(a.beta_min, a.beta_max, n)
    R = a.radius(beta) * (R0 / REID2014_R0)
    rad = np.radians(beta)
    return {"beta": beta, "R": R, "x": -R * np.cos(rad), "y": R * np.sin(rad)}


def arm_offset(x, y, a: Arm | str, *, R0: float = REID2014_R0) -> np.ndarray:
    """Signed distance (kpc) from (x, y) (Galactocentric, kpc) to an arm's centre line, across
    the arm: (R − R_arm(β)) cos ψ, positive outside the arm; NaN outside the arm's β range.

    For a log spiral the perpendicular distance to the line is (R − R_arm) cos ψ to first order
    in the offset (second-order error ≲ 1 % within 1 kpc of the arms, tests/test_mock.py).
    """
    a = arm(a) if isinstance(a, str) else a
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    beta = np.degrees(np.arctan2(y, -x))
    R = np.hypot(x, y)
    inside = (beta >= a.beta_min) & (beta <= a.beta_max)
    off = (R - a.radius(beta) * (R0 / REID2014_R0)) * np.cos(np.radians(a.pitch))
    return np.where(inside, off, np.nan)


def nearest_arm(x, y, *, arms: tuple[str, ...] | None = None,
                R0: float = REID2014_R0) -> tuple[np.ndarray, np.ndarray]:
    """Distance (kpc, :func:`arm_offset` in absolute value) from each (x, y) to the nearest arm
    of ``arms`` (default: all of :data:`REID2014`) and that arm's index in ``arms``; inf and −1
    where no arm covers the point's azimuth."""
    names = tuple(a.name for a in REID2014) if arms is None else tuple(arm(a).name for a in arms)
    d = np.stack([np.abs(arm_offset(x, y, name, R0=R0)) for name in names])
    d = np.where(np.isnan(d), np.inf, d)
    i = np.argmin(d, axis=0)
    best = np.take_along_axis(d, i[None], 0)[0]
    return best, np.where(np.isfinite(best), i, -1)
