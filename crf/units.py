"""Selectable units of the crf laboratory values that are not score inputs.

Score inputs (bilirubin, creatinine, albumin) use ``scoring.UNITS`` through
``trials.services.score_inputs_normalize``. The analytes below are reported in different
units by different laboratories; the value typed and its unit are stored with the canonical
value (first unit listed), exactly as for the score inputs.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

MICRO = "\u00b5"

# analyte -> (canonical field, {unit: factor to canonical}); the first unit is canonical.
EXTRA_UNITS: dict[str, tuple[str, dict[str, Decimal]]] = {
    # NH3 17.03 g/mol: 1 µg/dL = 10 µg/L / 17.03 = 0.5872 µmol/L
    "ammonia": (
        "ammonia_umol_l",
        {f"{MICRO}mol/L": Decimal(1), f"{MICRO}g/dL": Decimal("0.5872")},
    ),
    # lactate 90.08 g/mol: 1 mg/dL = 10 mg/L / 90.08 = 0.1110 mmol/L
    "lactate": ("lactate_mmol_l", {"mmol/L": Decimal(1), "mg/dL": Decimal("0.1110")}),
    # noradrenaline 169.18 g/mol: 1 nmol/L = 169.18 pg/mL
    "noradrenaline": ("noradrenaline_pg_ml", {"pg/mL": Decimal(1), "nmol/L": Decimal("169.18")}),
}


def unit_choices(analyte: str) -> list[tuple[str, str]]:
    return [(unit, unit) for unit in EXTRA_UNITS[analyte][1]]


def extra_to_canonical(analyte: str, value: Decimal, unit: str) -> Decimal:
    """Convert ``value`` in ``unit`` to the canonical unit; ValueError on an unknown unit."""
    factors = EXTRA_UNITS[analyte][1]
    if unit not in factors:
        raise ValueError(f"Unknown unit {unit!r}; choose one of {', '.join(factors)}.")
    return (Decimal(value) * factors[unit]).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
