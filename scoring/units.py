"""SI <-> conventional unit helpers for the scoring inputs.

Conversion factors are the ones used throughout the hepatology literature and the
calculators cited by the scores (e.g. MDCalc Child-Pugh: bilirubin 2 mg/dL = 34.2 µmol/L):

- bilirubin: 1 mg/dL = 17.1 µmol/L (molar mass 584.66 g/mol)
- creatinine: 1 mg/dL = 88.4 µmol/L (molar mass 113.12 g/mol)
- albumin: 1 g/dL = 10 g/L

``UNITS`` lists, per analyte, every selectable unit and the factor that converts a value
in that unit to the canonical (conventional) unit the scores use. The CRF builds its unit
drop-downs from it. Conversions return floats; store the entered value and unit as well.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

BILIRUBIN_UMOL_PER_MG_DL: Final = 17.1
CREATININE_UMOL_PER_MG_DL: Final = 88.4
ALBUMIN_G_L_PER_G_DL: Final = 10.0

MICRO: Final = "\u00b5"  # MICRO SIGN, as printed on lab reports
UMOL_L: Final = f"{MICRO}mol/L"

UNITS: Final[dict[str, dict[str, float]]] = {
    "bilirubin": {"mg/dL": 1.0, UMOL_L: 1 / BILIRUBIN_UMOL_PER_MG_DL},
    "creatinine": {"mg/dL": 1.0, UMOL_L: 1 / CREATININE_UMOL_PER_MG_DL},
    "albumin": {"g/dL": 1.0, "g/L": 1 / ALBUMIN_G_L_PER_G_DL},
    "sodium": {"mmol/L": 1.0, "mEq/L": 1.0},
    "wbc": {"10^9/L": 1.0, "10^3/\u00b5L": 1.0},
    "platelets": {"10^9/L": 1.0, "10^3/\u00b5L": 1.0},
}
"""analyte -> {unit label: factor to the canonical unit}; the first unit is canonical."""

# Spellings accepted by ``to_canonical`` besides the labels in UNITS.
_UNIT_ALIASES: Final[dict[str, str]] = {
    "umol/L": UMOL_L,
    "\u03bcmol/L": UMOL_L,  # GREEK SMALL LETTER MU, common from keyboards
    "10^3/uL": "10^3/\u00b5L",
    "10^3/\u03bcL": "10^3/\u00b5L",
}

UNIT_ALIASES: Final = _UNIT_ALIASES  # public: the data dictionary accepts the same spellings

# Exact divisors behind the non-unit factors in UNITS.
_DIVISORS: Final[dict[tuple[str, str], float]] = {
    ("bilirubin", UMOL_L): BILIRUBIN_UMOL_PER_MG_DL,
    ("creatinine", UMOL_L): CREATININE_UMOL_PER_MG_DL,
    ("albumin", "g/L"): ALBUMIN_G_L_PER_G_DL,
}

Number = int | float | Decimal


def bilirubin_umol_l_to_mg_dl(value: Number) -> float:
    """Bilirubin µmol/L -> mg/dL (divide by 17.1)."""
    return float(value) / BILIRUBIN_UMOL_PER_MG_DL


def bilirubin_mg_dl_to_umol_l(value: Number) -> float:
    """Bilirubin mg/dL -> µmol/L (multiply by 17.1)."""
    return float(value) * BILIRUBIN_UMOL_PER_MG_DL


def creatinine_umol_l_to_mg_dl(value: Number) -> float:
    """Creatinine µmol/L -> mg/dL (divide by 88.4)."""
    return float(value) / CREATININE_UMOL_PER_MG_DL


def creatinine_mg_dl_to_umol_l(value: Number) -> float:
    """Creatinine mg/dL -> µmol/L (multiply by 88.4)."""
    return float(value) * CREATININE_UMOL_PER_MG_DL


def albumin_g_l_to_g_dl(value: Number) -> float:
    """Albumin g/L -> g/dL (divide by 10)."""
    return float(value) / ALBUMIN_G_L_PER_G_DL


def albumin_g_dl_to_g_l(value: Number) -> float:
    """Albumin g/dL -> g/L (multiply by 10)."""
    return float(value) * ALBUMIN_G_L_PER_G_DL


def to_canonical(analyte: str, value: Number, unit: str) -> float:
    """Convert ``value`` in ``unit`` to the canonical unit of ``analyte`` (see ``UNITS``).

    Raises ValueError naming the analyte or unit when either is not listed.
    """
    try:
        factors = UNITS[analyte]
    except KeyError:
        raise ValueError(f"{analyte}: unknown analyte") from None
    label = _UNIT_ALIASES.get(unit, unit)
    try:
        factor = factors[label]
    except KeyError:
        raise ValueError(
            f"{analyte}: unknown unit {unit!r}; choose one of {', '.join(factors)}"
        ) from None
    divisor = _DIVISORS.get((analyte, label))
    if divisor is not None:
        # Divide by the published factor rather than multiply by its rounded inverse.
        return float(value) / divisor
    return float(value) * factor
