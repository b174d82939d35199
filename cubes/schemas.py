"""Survey schemas: how each archive spells its columns, and what they are called in a catalog.

A :class:`Schema` maps an archive's column names to the *canonical* names used everywhere in
``cubes`` (lower case, Gaia's spelling when Gaia has the quantity) together with their units, as
strings astropy can parse (``"deg"``, ``"mas"``, ``"mas / yr"``, ``"km / s"``, ``"dex"``, ``"K"``,
``"mag"``, ``""`` for dimensionless). :func:`cubes.open_catalog` renames columns with a schema and
stores the units in each variable's ``attrs["units"]`` and the archive's spelling in
``attrs["archive_name"]``.

Known schemas live in :data:`SCHEMAS`:

``gaia_dr3``      Gaia DR3 ``gaia_source`` (names are already canonical)
``lamost``        LAMOST DR7–DR9 LRS stellar-parameter catalog (A, F, G, K stars)
``apogee_dr17``   SDSS DR17 APOGEE ``allStar``

Archive names are matched case-insensitively (Gaia's archive writes ``SOURCE_ID`` in some
products and ``source_id`` in others).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "APOGEE_DR17",
    "GAIA_DR3",
    "KNOWN_UNITS",
    "LAMOST",
    "SCHEMAS",
    "Schema",
    "UnknownColumnError",
    "resolve_schema",
]

DEG = "deg"
MAS = "mas"
MASYR = "mas / yr"
KMS = "km / s"
DEX = "dex"
KELVIN = "K"
MAG = "mag"
ONE = ""  # dimensionless
DAY = "d"
YEAR = "yr"
PC = "pc"
FLUX = "electron / s"
WAVENUMBER = "1 / um"


class UnknownColumnError(KeyError, ValueError):
    """A column or variable name that the catalog does not have.

    Both a :class:`KeyError` (a name lookup failed) and a :class:`ValueError` (bad argument);
    ``str()`` gives the plain message rather than ``KeyError``'s quoted repr.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Schema:
    """How one survey's archive spells its columns.

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"gaia_dr3"``; stored in the catalog's ``attrs["survey"]``.
    columns : Mapping[str, tuple[str, str | None]]
        Archive column name → (canonical name, units). Units are astropy-parseable strings
        (``""`` = dimensionless, ``None`` = unknown).
    required : tuple of str
        Archive names a file must have to be read with this schema.
    id_column : str or None
        Canonical name of the per-star identifier (used e.g. for stable jackknife groups).
    missing : tuple of float
        Sentinel values the archive writes for "no measurement" in floating-point columns
        (LAMOST's ``-9999``); :func:`cubes.open_catalog` turns them into NaN.
    """

    name: str
    columns: Mapping[str, tuple[str, str | None]]
    required: tuple[str, ...] = ()
    id_column: str | None = None
    missing: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", MappingProxyType(dict(self.columns)))
        object.__setattr__(self, "required", tuple(self.required))
        object.__setattr__(self, "missing", tuple(float(m) for m in self.missing))
        unknown = [r for r in self.required if r not in self.columns]
        if unknown:
            raise ValueError(
                f"schema {self.name!r}: required columns {unknown!r} are not in its columns"
            )
        canon = [c for c, _ in self.columns.values()]
        dupes = sorted({c for c in canon if canon.count(c) > 1})
        if dupes:
            raise ValueError(
                f"schema {self.name!r}: several archive columns map to {dupes!r}; "
                "each canonical name must come from one archive column"
            )

    def match(self, file_columns: Iterable[str]) -> dict[str, tuple[str, str | None]]:
        """Match a file's column names to this schema.

        Parameters
        ----------
        file_columns : iterable of str
            Column names as spelled in the file.

        Returns
        -------
        dict
            File column name → (canonical name, units) for every file column the schema knows;
            an exact match wins over a case-insensitive one.
        """
        lower = {k.lower(): k for k in self.columns}
        out: dict[str, tuple[str, str | None]] = {}
        taken: set[str] = set()
        names = list(file_columns)
        for name in names:  # exact spelling first
            if name in self.columns:
                out[name] = self.columns[name]
                taken.add(name)
        for name in names:
            key = lower.get(name.lower())
            if name not in out and key is not None and key not in taken:
                out[name] = self.columns[key]
                taken.add(key)
        return out

    def missing_required(self, file_columns: Iterable[str]) -> list[str]:
        """Required archive columns absent from ``file_columns`` (case-insensitive)."""
        have = {c.lower() for c in file_columns}
        return [r for r in self.required if r.lower() not in have]


def _gaia_dr3_columns() -> dict[str, tuple[str, str]]:
    """Gaia DR3 ``gaia_source`` columns (units from the DR3 data model)."""
    cols: dict[str, str] = {
        "solution_id": ONE, "designation": ONE, "source_id": ONE, "random_index": ONE,
        "ref_epoch": YEAR,
        "ra": DEG, "ra_error": MAS, "dec": DEG, "dec_error": MAS,
        "parallax": MAS, "parallax_error": MAS, "parallax_over_error": ONE,
        "pm": MASYR, "pmra": MASYR, "pmra_error": MASYR, "pmdec": MASYR, "pmdec_error": MASYR,
        "ra_dec_corr": ONE, "ra_parallax_corr": ONE, "ra_pmra_corr": ONE, "ra_pmdec_corr": ONE,
        "dec_parallax_corr": ONE, "dec_pmra_corr": ONE, "dec_pmdec_corr": ONE,
        "parallax_pmra_corr": ONE, "parallax_pmdec_corr": ONE, "pmra_pmdec_corr": ONE,
        "astrometric_n_obs_al": ONE, "astrometric_n_obs_ac": ONE,
        "astrometric_n_good_obs_al": ONE, "astrometric_n_bad_obs_al": ONE,
        "astrometric_gof_al": ONE, "astrometric_chi2_al": ONE,
        "astrometric_excess_noise": MAS, "astrometric_excess_noise_sig": ONE,
        "astrometric_params_solved": ONE, "astrometric_primary_flag": ONE,
        "nu_eff_used_in_astrometry": WAVENUMBER, "pseudocolour": WAVENUMBER,
        "pseudocolour_error": WAVENUMBER, "astrometric_matched_transits": ONE,
        "visibility_periods_used": ONE, "astrometric_sigma5d_max": MAS,
        "matched_transits": ONE, "new_matched_transits": ONE, "matched_transits_removed": ONE,
        "ipd_gof_harmonic_amplitude": ONE, "ipd_gof_harmonic_phase": DEG,
        "ipd_frac_multi_peak": ONE, "ipd_frac_odd_win": ONE,
        "ruwe": ONE, "scan_direction_strength_k1": ONE, "duplicated_source": ONE,
        "phot_g_n_obs": ONE, "phot_g_mean_flux": FLUX, "phot_g_mean_flux_error": FLUX,
        "phot_g_mean_flux_over_error": ONE, "phot_g_mean_mag": MAG,
        "phot_bp_n_obs": ONE, "phot_bp_mean_flux": FLUX, "phot_bp_mean_flux_error": FLUX,
        "phot_bp_mean_flux_over_error": ONE, "phot_bp_mean_mag": MAG,
        "phot_rp_n_obs": ONE, "phot_rp_mean_flux": FLUX, "phot_rp_mean_flux_error": FLUX,
        "phot_rp_mean_flux_over_error": ONE, "phot_rp_mean_mag": MAG,
        "phot_bp_rp_excess_factor": ONE, "phot_bp_n_contaminated_transits": ONE,
        "phot_bp_n_blended_transits": ONE, "phot_rp_n_contaminated_transits": ONE,
        "phot_rp_n_blended_transits": ONE, "phot_proc_mode": ONE,
        "bp_rp": MAG, "bp_g": MAG, "g_rp": MAG,
        "radial_velocity": KMS, "radial_velocity_error": KMS,
        "rv_method_used": ONE, "rv_nb_transits": ONE, "rv_nb_deblended_transits": ONE,
        "rv_visibility_periods_used": ONE, "rv_expected_sig_to_noise": ONE,
        "rv_renormalised_gof": ONE, "rv_chisq_pvalue": ONE, "rv_time_duration": DAY,
        "rv_amplitude_robust": KMS, "rv_template_teff": KELVIN, "rv_template_logg": DEX,
        "rv_template_fe_h": DEX, "rv_atm_param_origin": ONE,
        "vbroad": KMS, "vbroad_error": KMS, "vbroad_nb_transits": ONE,
        "grvs_mag": MAG, "grvs_mag_error": MAG, "grvs_mag_nb_transits": ONE,
        "rvs_spec_sig_to_noise": ONE, "phot_variable_flag": ONE,
        "l": DEG, "b": DEG, "ecl_lon": DEG, "ecl_lat": DEG,
        "in_qso_candidates": ONE, "in_galaxy_candidates": ONE, "non_single_star": ONE,
        "has_xp_continuous": ONE, "has_xp_sampled": ONE, "has_rvs": ONE,
        "has_epoch_photometry": ONE, "has_epoch_rv": ONE, "has_mcmc_gspphot": ONE,
        "has_mcmc_msc": ONE, "in_andromeda_survey": ONE,
        "classprob_dsc_combmod_quasar": ONE, "classprob_dsc_combmod_galaxy": ONE,
        "classprob_dsc_combmod_star": ONE,
        "teff_gspphot": KELVIN, "teff_gspphot_lower": KELVIN, "teff_gspphot_upper": KELVIN,
        "logg_gspphot": DEX, "logg_gspphot_lower": DEX, "logg_gspphot_upper": DEX,
        "mh_gspphot": DEX, "mh_gspphot_lower": DEX, "mh_gspphot_upper": DEX,
        "distance_gspphot": PC, "distance_gspphot_lower": PC, "distance_gspphot_upper": PC,
        "azero_gspphot": MAG, "azero_gspphot_lower": MAG, "azero_gspphot_upper": MAG,
        "ag_gspphot": MAG, "ag_gspphot_lower": MAG, "ag_gspphot_upper": MAG,
        "ebpminrp_gspphot": MAG, "ebpminrp_gspphot_lower": MAG, "ebpminrp_gspphot_upper": MAG,
        "libname_gspphot": ONE,
    }
    return {name: (name, units) for name, units in cols.items()}


def _lamost_columns() -> dict[str, tuple[str, str]]:
    """LAMOST DR7–DR9 LRS stellar-parameter catalog columns."""
    cols = {
        "obsid": ("obsid", ONE), "designation": ("designation", ONE),
        "obsdate": ("obsdate", ONE), "lmjd": ("lmjd", DAY), "mjd": ("mjd", DAY),
        "planid": ("planid", ONE), "spid": ("spid", ONE), "fiberid": ("fiberid", ONE),
        "ra_obs": ("ra_obs", DEG), "dec_obs": ("dec_obs", DEG),
        "snru": ("snr_u", ONE), "snrg": ("snr_g", ONE), "snrr": ("snr_r", ONE),
        "snri": ("snr_i", ONE), "snrz": ("snr_z", ONE),
        "objtype": ("objtype", ONE), "class": ("class", ONE), "subclass": ("subclass", ONE),
        "z": ("redshift", ONE), "z_err": ("redshift_error", ONE),
        "teff": ("teff", KELVIN), "teff_err": ("teff_error", KELVIN),
        "logg": ("logg", DEX), "logg_err": ("logg_error", DEX),
        "feh": ("feh", DEX), "feh_err": ("feh_error", DEX),
        "alpha_m": ("alpha_m", DEX), "alpha_m_err": ("alpha_m_error", DEX),
        "rv": ("radial_velocity", KMS), "rv_err": ("radial_velocity_error", KMS),
        "ra": ("ra", DEG), "dec": ("dec", DEG), "uid": ("uid", ONE),
        "gp_id": ("gp_id", ONE), "fibermask": ("fibermask", ONE),
        "gaia_source_id": ("source_id", ONE),
        "gaia_g_mean_mag": ("phot_g_mean_mag", MAG),
        "gaia_bp_mean_mag": ("phot_bp_mean_mag", MAG),
        "gaia_rp_mean_mag": ("phot_rp_mean_mag", MAG),
    }
    return cols


_APOGEE_ELEMENTS = (
    "C", "CI", "N", "O", "NA", "MG", "AL", "SI", "P", "S", "K", "CA", "TI", "TIII", "V",
    "CR", "MN", "CO", "NI", "CU", "CE",
)


def _apogee_dr17_columns() -> dict[str, tuple[str, str]]:
    """SDSS DR17 APOGEE ``allStar`` columns (scalar ones; vector columns are not catalog
    variables)."""
    cols = {
        "APOGEE_ID": ("apogee_id", ONE), "TELESCOPE": ("telescope", ONE),
        "FIELD": ("field", ONE), "ALT_ID": ("alt_id", ONE),
        "RA": ("ra", DEG), "DEC": ("dec", DEG), "GLON": ("l", DEG), "GLAT": ("b", DEG),
        "J": ("j", MAG), "J_ERR": ("j_error", MAG), "H": ("h", MAG), "H_ERR": ("h_error", MAG),
        "K": ("k", MAG), "K_ERR": ("k_error", MAG), "AK_TARG": ("ak_targ", MAG),
        "AK_WISE": ("ak_wise", MAG), "SFD_EBV": ("sfd_ebv", MAG),
        "SNR": ("snr", ONE), "SNREV": ("snrev", ONE),
        "STARFLAG": ("starflag", ONE), "ANDFLAG": ("andflag", ONE),
        "NVISITS": ("nvisits", ONE), "VHELIO_AVG": ("radial_velocity", KMS),
        "VERR": ("radial_velocity_error", KMS), "VSCATTER": ("radial_velocity_scatter", KMS),
        "ASPCAPFLAG": ("aspcapflag", ONE), "ASPCAP_CHI2": ("aspcap_chi2", ONE),
        "EXTRATARG": ("extratarg", ONE), "MEMBERFLAG": ("memberflag", ONE),
        "TEFF": ("teff", KELVIN), "TEFF_ERR": ("teff_error", KELVIN),
        "LOGG": ("logg", DEX), "LOGG_ERR": ("logg_error", DEX),
        "M_H": ("mh", DEX), "M_H_ERR": ("mh_error", DEX),
        "ALPHA_M": ("alpha_m", DEX), "ALPHA_M_ERR": ("alpha_m_error", DEX),
        "VMICRO": ("vmicro", KMS), "VMACRO": ("vmacro", KMS), "VSINI": ("vsini", KMS),
        "FE_H": ("feh", DEX), "FE_H_ERR": ("feh_error", DEX), "FE_H_FLAG": ("feh_flag", ONE),
        "GAIAEDR3_SOURCE_ID": ("source_id", ONE),
        "GAIAEDR3_PARALLAX": ("parallax", MAS),
        "GAIAEDR3_PARALLAX_ERROR": ("parallax_error", MAS),
        "GAIAEDR3_PMRA": ("pmra", MASYR), "GAIAEDR3_PMRA_ERROR": ("pmra_error", MASYR),
        "GAIAEDR3_PMDEC": ("pmdec", MASYR), "GAIAEDR3_PMDEC_ERROR": ("pmdec_error", MASYR),
        "GAIAEDR3_PHOT_G_MEAN_MAG": ("phot_g_mean_mag", MAG),
        "GAIAEDR3_PHOT_BP_MEAN_MAG": ("phot_bp_mean_mag", MAG),
        "GAIAEDR3_PHOT_RP_MEAN_MAG": ("phot_rp_mean_mag", MAG),
        "GAIAEDR3_DR2_RADIAL_VELOCITY": ("gaia_radial_velocity", KMS),
        "GAIAEDR3_DR2_RADIAL_VELOCITY_ERROR": ("gaia_radial_velocity_error", KMS),
        "GAIAEDR3_R_MED_GEO": ("r_med_geo", PC), "GAIAEDR3_R_LO_GEO": ("r_lo_geo", PC),
        "GAIAEDR3_R_HI_GEO": ("r_hi_geo", PC), "GAIAEDR3_R_MED_PHOTOGEO": ("r_med_photogeo", PC),
        "GAIAEDR3_R_LO_PHOTOGEO": ("r_lo_photogeo", PC),
        "GAIAEDR3_R_HI_PHOTOGEO": ("r_hi_photogeo", PC),
    }
    for el in _APOGEE_ELEMENTS:
        lo = el.lower()
        cols[f"{el}_FE"] = (f"{lo}_fe", DEX)
        cols[f"{el}_FE_ERR"] = (f"{lo}_fe_error", DEX)
        cols[f"{el}_FE_FLAG"] = (f"{lo}_fe_flag", ONE)
    return cols


#: Gaia DR3 ``gaia_source``.
GAIA_DR3 = Schema(
    name="gaia_dr3",
    columns=_gaia_dr3_columns(),
    required=("source_id", "ra", "dec"),
    id_column="source_id",
)

#: LAMOST DR7–DR9 LRS stellar-parameter catalog; ``-9999`` means "no measurement".
LAMOST = Schema(
    name="lamost",
    columns=_lamost_columns(),
    required=("obsid", "ra", "dec"),
    id_column="obsid",
    missing=(-9999.0,),
)

#: SDSS DR17 APOGEE ``allStar``; ``-9999`` (older products) means "no measurement".
APOGEE_DR17 = Schema(
    name="apogee_dr17",
    columns=_apogee_dr17_columns(),
    required=("APOGEE_ID", "RA", "DEC"),
    id_column="apogee_id",
    missing=(-9999.0,),
)

#: Registry of known survey schemas, by name.
SCHEMAS: Mapping[str, Schema] = MappingProxyType(
    {s.name: s for s in (GAIA_DR3, LAMOST, APOGEE_DR17)}
)


def _known_units() -> dict[str, str | None]:
    units: dict[str, str | None] = {}
    for schema in SCHEMAS.values():
        for canonical, unit in schema.columns.values():
            units.setdefault(canonical, unit)
    return units


#: Canonical name → units, over every known schema (used for user-given mappings).
KNOWN_UNITS: Mapping[str, str | None] = MappingProxyType(_known_units())

#: Canonical star-id names, in the order they are tried when no schema says which one it is.
_ID_NAMES = ("source_id", "obsid", "apogee_id")


def guess_id_column(canonical_names: Iterable[str]) -> str | None:
    """The first known star-id name among ``canonical_names`` (``source_id``, ``obsid``,
    ``apogee_id``), or None."""
    names = set(canonical_names)
    return next((n for n in _ID_NAMES if n in names), None)


def schema_from_mapping(mapping: Mapping[str, str]) -> Schema:
    """A ``"custom"`` schema from a plain mapping {archive name: canonical name}.

    Units are taken from :data:`KNOWN_UNITS` when the canonical name is known, else left
    unknown (None). Every mapped archive column is required.
    """
    bad = {k: v for k, v in mapping.items() if not (isinstance(k, str) and isinstance(v, str))}
    if bad:
        raise TypeError(
            f"a survey mapping must map archive column names (str) to canonical names (str); "
            f"got {bad!r}"
        )
    columns = {archive: (canonical, KNOWN_UNITS.get(canonical)) for archive, canonical in
               mapping.items()}
    return Schema(
        name="custom",
        columns=columns,
        required=tuple(mapping),
        id_column=guess_id_column(mapping.values()),
    )


def resolve_schema(survey: str | Mapping[str, str] | Schema | None) -> Schema | None:
    """Turn ``open_catalog``'s ``survey`` argument into a :class:`Schema` (or None).

    Parameters
    ----------
    survey : str, Mapping, Schema or None
        A registry name (case-insensitive, see :data:`SCHEMAS`), a mapping
        {archive name: canonical name}, a :class:`Schema`, or None for "no schema".

    Raises
    ------
    ValueError
        For an unknown survey name (the message lists the known ones).
    TypeError
        For any other kind of argument.
    """
    if survey is None or isinstance(survey, Schema):
        return survey
    if isinstance(survey, str):
        schema = SCHEMAS.get(survey.lower())
        if schema is None:
            raise ValueError(
                f"unknown survey {survey!r}; known surveys are {sorted(SCHEMAS)!r} "
                "(or pass a mapping {archive column: canonical name}, a cubes.schemas.Schema, "
                "or None)"
            )
        return schema
    if isinstance(survey, Mapping):
        return schema_from_mapping(survey)
    raise TypeError(
        f"survey must be a name in {sorted(SCHEMAS)!r}, a mapping, a Schema or None; "
        f"got {type(survey).__name__}"
    )
