"""Per-sample z–w histograms as a cube, and the sech² row renormalisation (spec 004 §4).

Cube layout (spec §4.1): ``count`` on dims (sample…, z, w) with 120 bins of z over [−1, 1] kpc
and 120 bins of the normalised velocity u = (w − w_centre)/σ_w over [−3, 3]; the ``w``
coordinate holds u (shared by all samples), the per-sample ``sigma_w`` (km/s) turns it into
km/s. :func:`cubes.spiral.fit` reads this layout.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import xarray as xr

Z_HALF, U_HALF, BINS = 1.0, 3.0, 120
#: the sech² scale height of the row renormalisation, kpc (spec §4.2)
ETA_SCALE = 0.3


def _sigma(w: np.ndarray, labels: np.ndarray, n: int, how) -> np.ndarray:
    if not isinstance(how, str):
        s = np.broadcast_to(np.asarray(how, dtype=np.float64), (n,)).copy()
        return s
    cnt = np.bincount(labels, minlength=n).astype(np.float64)
    if how == "std":
        s1 = np.bincount(labels, weights=w, minlength=n)
        mean = s1 / np.maximum(cnt, 1)
        s2 = np.bincount(labels, weights=(w - mean[labels]) ** 2, minlength=n)
        return np.where(cnt > 1, np.sqrt(s2 / np.maximum(cnt - 1, 1)), np.nan)
    if how == "mad":
        order = np.argsort(labels, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(cnt.astype(np.int64))])
        ws = w[order]
        out = np.full(n, np.nan)
        for k in range(n):
            part = ws[bounds[k]:bounds[k + 1]]
            if part.size > 1:
                out[k] = 1.4826 * np.median(np.abs(part - np.median(part)))
        return out
    raise ValueError(f"sigma_w must be 'std', 'mad' or numbers, got {how!r}")


def histogram(
    z,
    w,
    *,
    sample=None,
    n_samples: int | None = None,
    sample_dim: Hashable = "sample",
    sigma_w="std",
    w_centre: float = 0.0,
    bins: int = BINS,
    z_half: float = Z_HALF,
    u_half: float = U_HALF,
) -> xr.Dataset:
    """The z–w histogram of each sample (spec 004 §4.1, "Cube layout").

    Parameters
    ----------
    z : array
        Heights, kpc (the histogram's z; the fit adds ``z_sun``).
    w : array
        Vertical velocities, km/s (heliocentric W when the fit is to free W⊙).
    sample : array of int, optional
        Sample label of each star, 0 … n_samples − 1 (others ignored); None: one sample.
    n_samples : int, optional
        Number of samples (default: max label + 1).
    sample_dim : hashable
        Name of the sample dim.
    sigma_w : "std", "mad" or float / array
        σ_w per sample (km/s): the standard deviation (default) or 1.4826 × MAD of w over the
        stars with |z| ≤ z_half, or given.
    w_centre : float
        Centre of the w range, km/s: u = (w − w_centre)/σ_w.
    bins, z_half, u_half : int, float, float
        120 bins on [−z_half, z_half] kpc and on u ∈ [−u_half, u_half] (spec §4.1).

    Returns
    -------
    xr.Dataset
        ``count`` (sample, z, w) (int64; w is u), ``sigma_w`` (sample) km/s, ``n_stars``
        (stars in the histogram), ``n_outside`` (stars of the sample outside it), ``eta``
        (sample, z) the sech² renormalisation of :func:`row_weights`; without ``sample`` the
        sample dim is absent.
    """
    z = np.asarray(z, dtype=np.float64).ravel()
    w = np.asarray(w, dtype=np.float64).ravel()
    if z.shape != w.shape:
        raise ValueError(f"z and w differ in length: {z.size} and {w.size}")
    single = sample is None
    labels = np.zeros(z.size, np.int64) if single else np.asarray(sample).ravel()
    if labels.shape != z.shape:
        raise ValueError("sample labels must have one entry per star")
    labels = labels.astype(np.int64)
    n = 1 if single else int(n_samples if n_samples is not None
                             else (labels.max() + 1 if labels.size else 0))
    ok = np.isfinite(z) & np.isfinite(w) & (labels >= 0) & (labels < n)
    in_z = ok & (np.abs(z) <= z_half)
    sig = _sigma(w[in_z], labels[in_z], n, sigma_w)
    u = np.full(z.size, np.inf)
    u[ok] = (w[ok] - w_centre) / sig[labels[ok]]
    iz = np.floor((z + z_half) / (2 * z_half) * bins)
    iu = np.floor((u + u_half) / (2 * u_half) * bins)
    iz = np.where(z == z_half, bins - 1, iz)  # the last edge is closed
    iu = np.where(u == u_half, bins - 1, iu)
    inside = ok & (iz >= 0) & (iz < bins) & (iu >= 0) & (iu < bins)
    flat = (labels[inside] * bins + iz[inside].astype(np.int64)) * bins + iu[inside].astype(
        np.int64)
    count = np.bincount(flat, minlength=n * bins * bins).reshape(n, bins, bins)
    n_all = np.bincount(labels[ok], minlength=n)
    n_in = count.sum(axis=(1, 2))
    ze = np.linspace(-z_half, z_half, bins + 1)
    ue = np.linspace(-u_half, u_half, bins + 1)
    coords = {
        "z": ("z", 0.5 * (ze[1:] + ze[:-1]), {"units": "kpc", "long_name": "height",
                                             "bounds": "z_bounds"}),
        "w": ("w", 0.5 * (ue[1:] + ue[:-1]), {"units": "1", "long_name": "(w - w_centre) / "
                                             "sigma_w", "bounds": "w_bounds"}),
    }
    ds = xr.Dataset(
        {"count": ((sample_dim, "z", "w"), count, {"long_name": "stars per z-w bin"}),
         "sigma_w": ((sample_dim,), sig, {"units": "km/s", "long_name": "sigma_w of the sample"}),
         "n_stars": ((sample_dim,), n_in, {"long_name": "stars in the histogram"}),
         "n_outside": ((sample_dim,), n_all - n_in, {"long_name": "stars outside the histogram"}),
         "z_bounds": (("z", "bnds"), np.stack([ze[:-1], ze[1:]], 1)),
         "w_bounds": (("w", "bnds"), np.stack([ue[:-1], ue[1:]], 1))},
        coords=coords,
        attrs={"w_centre": float(w_centre), "w_units": "sigma_w",
               "sigma_w_estimator": sigma_w if isinstance(sigma_w, str) else "given",
               "spec": "Widmark+2025 (spec 004) section 4.1"},
    )
    ds["eta"] = row_weights(ds["count"])
    return ds.isel({sample_dim: 0}, drop=True) if single else ds


def histogram_cube(stars: xr.Dataset, *, z: str = "z", w: str = "vz", sample: str | None = None,
                   n_samples: int | None = None, **kwargs) -> xr.Dataset:
    """:func:`histogram` of catalog columns (a ``star``-dim Dataset, numpy- or dask-backed);
    ``sample`` names an integer column of sample labels, which also names the sample dim."""
    cols = [z, w] + ([sample] if sample else [])
    missing = [c for c in cols if c not in stars.variables]
    if missing:
        raise KeyError(f"catalog has no column(s) {missing!r}")
    arrays = [np.asarray(stars[c].values) for c in cols]
    out = histogram(arrays[0], arrays[1], sample=arrays[2] if sample else None,
                    n_samples=n_samples, sample_dim=sample or "sample", **kwargs)
    return out.assign_attrs(z_column=z, w_column=w, w_units=stars[w].attrs.get("units", "km/s"))


def row_weights(count: xr.DataArray, *, scale_height: float = ETA_SCALE,
                z_sun: float = 0.0) -> xr.DataArray:
    """η_i with η_i Σ_j N_ij ∝ sech²(z_i / 300 pc), normalised so that Σ_ij η_i N_ij = Σ_ij N_ij
    (spec 004 §4.2, Eq. 16); 0 for an empty row (zero weight in the fit).

    ``count`` has dims z (kpc centres) and w; z_i = z + ``z_sun`` (kpc).
    """
    rows = count.sum("w")
    target = 1.0 / np.cosh((count["z"] + z_sun) / scale_height) ** 2
    raw = xr.where(rows > 0, target / rows.where(rows > 0), 0.0)
    norm = (raw * rows).sum("z")
    total = rows.sum("z")
    eta = raw * xr.where(norm > 0, total / norm.where(norm > 0), 0.0)
    return eta.assign_attrs(long_name="sech^2 row renormalisation eta_i",
                            scale_height_kpc=scale_height, spec="Widmark+2025 Eq. 16")
