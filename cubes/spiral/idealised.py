"""The idealised comparison model of Widmark et al. 2025 Fig. 8 (spec 004 §6.5).

A phase spiral released unwound at every radius at the same time ``t_pert`` ago, with no
self-gravity delay, in a disk whose vertical potential is A(R) Φ⊙ with the surface density
(and so A) falling as exp(−R/h_R). Its winding and phase then follow from Eqs. 19–20:

    ω(R)              = 2π t_pert [ν_R(300 pc) − ν_R(800 pc)]
    φ₆₀₀(R) − φ_init  = 2π t_pert ν_R(600 pc)

with ν_R(z_max) the vertical frequency at R of the orbit reaching z_max. Two scalings of ν_R
with A(R) = A_⊙ exp[−(R − R⊙)/h_R] (spec §6.2, §6.4 and §9 item 3):

- ``"linear"``: ν_R = A(R) ν⊙ (frequency ∝ Σ; the convention of Eqs. 26, 28 and Fig. 8);
- ``"sqrt"``: ν_R = √A(R) ν⊙ (Φ = A_Φ Φ⊙ exactly: P_A = P⊙/√A, the model-consistent one).

ν⊙ = 1/P⊙ are the periods in the solar potential Φ⊙ of spec §5.2, by quadrature
(:class:`cubes.vertical.VerticalOrbits`). Spec §6.5 reference values at t = 300 Myr:
ω(R⊙) = 3.91 rad, φ₆₀₀ − φ_init = 16.3 rad; ω(6 kpc)/ω(11 kpc) = 6.84 (linear, h = 2.6),
5.6 (linear, h = 2.9), 2.4 (√A, h = 2.9).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..vertical import SolarVerticalPotential, VerticalOrbits

SCALINGS = ("linear", "sqrt")


def _frequency_factor(A, scaling: str):
    if scaling == "linear":
        return A
    if scaling == "sqrt":
        return np.sqrt(A)
    raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}")


def solar_frequencies(G: str = "codata") -> tuple[float, float, float]:
    """ν⊙(300), ν⊙(600), ν⊙(800 pc) = 1/P⊙(z_max) in 1/Myr (spec §5.3 periods 99.63,
    115.83, 125.56 Myr with CODATA G; ``G="widmark2025"`` gives the paper's 99.7, 125.7)."""
    p = VerticalOrbits(SolarVerticalPotential(G=G)).period(np.array([300.0, 600.0, 800.0]))
    return tuple(float(x) for x in 1.0 / p)


def idealised_profiles(R, *, t_pert: float = 300.0, h_R: float = 2.9,
                       scaling: str = "linear", A_sun: float = 1.0, R0: float = 8.178,
                       phi_init: float = 0.0, G: str = "codata") -> xr.Dataset:
    """ω(R) and φ₆₀₀(R) of the idealised model (spec 004 §6.5; Eqs. 19–20 with A(R)).

    Parameters
    ----------
    R : array_like
        Galactocentric radii, kpc.
    t_pert : float
        Time since the (unwound) perturbation, the same at every R, Myr.
    h_R : float
        Exponential scale length of the surface density and of A(R), kpc.
    scaling : {"linear", "sqrt"}
        Vertical frequencies ∝ A(R) (the paper's Fig. 8 / Eq. 28 convention) or ∝ √A(R)
        (exact for Φ = A_Φ Φ⊙).
    A_sun : float
        A(R0), the potential amplitude at the Sun (dimensionless).
    R0 : float
        Solar radius, kpc.
    phi_init : float
        Initial phase φ_init of Eq. 19, rad.
    G : {"codata", "widmark2025"}
        Gravitational constant of Φ⊙ (:func:`cubes.vertical.gravitational_constant`).

    Returns
    -------
    Dataset on dim ``R``: ``A`` (A(R)), ``omega`` (rad), ``delta_phi`` (φ₆₀₀ − φ_init,
    unwrapped, rad), ``phi600`` (φ_init + delta_phi mod 2π, rad) and ``t_omega`` (= t_pert,
    Myr).
    """
    R = np.asarray(R, dtype=np.float64)
    n300, n600, n800 = solar_frequencies(G)
    A = A_sun * np.exp(-(R - R0) / h_R)
    f = _frequency_factor(A, scaling)
    omega = 2.0 * np.pi * t_pert * f * (n300 - n800)
    dphi = 2.0 * np.pi * t_pert * f * n600
    attrs = {"t_pert": t_pert, "h_R": h_R, "scaling": scaling, "A_sun": A_sun, "R0": R0,
             "phi_init": phi_init, "G": G,
             "source": "Widmark et al. 2025 Fig. 8, spec 004 section 6.5 (Eqs. 19-20)"}
    return xr.Dataset(
        {"A": ("R", A, {"long_name": "vertical potential amplitude A(R)"}),
         "omega": ("R", omega, {"units": "rad", "long_name": "winding between z_max 300 and "
                                                              "800 pc"}),
         "delta_phi": ("R", dphi, {"units": "rad", "long_name": "phi600 - phi_init, unwrapped"}),
         "phi600": ("R", np.mod(phi_init + dphi, 2.0 * np.pi),
                    {"units": "rad", "long_name": "phase at z_max = 600 pc, in [0, 2 pi)"}),
         "t_omega": ("R", np.full(R.shape, float(t_pert)), {"units": "Myr"})},
        coords={"R": ("R", R, {"units": "kpc"})}, attrs=attrs)


def phase_wrap_radii(R_min: float, R_max: float, *, t_pert: float = 300.0, h_R: float = 2.9,
                     scaling: str = "linear", A_sun: float = 1.0, R0: float = 8.178,
                     phi_init: float = 0.0, G: str = "codata") -> np.ndarray:
    """Radii (kpc, increasing) in [R_min, R_max] where the model's φ₆₀₀ wraps through 2π k,
    i.e. the discontinuities of φ₆₀₀ mod 2π (the circles of Fig. 8).

    φ_init + c e^{−(R − R0)/h_eff} = 2π k, with c = 2π t_pert A_sun^p ν⊙(600), p = 1 and
    h_eff = h_R (linear) or p = ½ and h_eff = 2 h_R (√A), gives
    R_k = R0 − h_eff ln[(2π k − φ_init)/c].
    """
    _, n600, _ = solar_frequencies(G)
    p, h_eff = (1.0, h_R) if scaling == "linear" else (0.5, 2.0 * h_R)
    _frequency_factor(1.0, scaling)  # validates the name
    c = 2.0 * np.pi * t_pert * A_sun**p * n600

    def dphi(r):
        return c * np.exp(-(r - R0) / h_eff)

    lo, hi = sorted((phi_init + dphi(R_max), phi_init + dphi(R_min)))  # φ falls with R
    k = np.arange(np.ceil(lo / (2 * np.pi)), np.floor(hi / (2 * np.pi)) + 1)
    k = k[2 * np.pi * k - phi_init > 0]
    radii = R0 - h_eff * np.log((2 * np.pi * k - phi_init) / c)
    return np.sort(radii[(radii >= R_min) & (radii <= R_max)])
