"""Validation and normalisation of the raw scoring inputs.

Inputs arrive as a mapping of the documented keys to int, float, Decimal, bool, str or
None (None = not recorded). ``validate_inputs`` reports every invalid field at once;
``parse_inputs`` returns a frozen ``ScoringInputs`` or raises ``ScoringInputError``.

Numbers are normalised to ``Decimal`` (floats via their shortest repr) so thresholds and
ratios such as PaO2/FiO2 = 60 / 0.3 = 200 are compared exactly, not as 200.00000000000003.

Missing-value rule, stated once for every score:
- Laboratory and clinical values (bilirubin, creatinine, INR, albumin, sodium, WBC,
  platelets, MAP, PaO2, SpO2, FiO2, HE grade, ascites, age, sex) never default: a score
  that needs a missing one is None and the key is listed in ``missing``.
- Organ-support items default to "not given" when missing: ``renal_replacement_therapy``,
  ``dialysis_twice_in_last_week``, ``dobutamine``, ``terlipressin``,
  ``mechanical_ventilation``, ``mechanical_ventilation_for_he`` (False) and the vasoactive
  doses ``dopamine_ug_kg_min``, ``epinephrine_ug_kg_min``, ``norepinephrine_ug_kg_min``
  (0). A CRF records support that was given; blank means none. The keys defaulted this way
  are reported in ``details["assumed_not_given"]`` by ``scoring.calculate``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

SEXES: Final = ("M", "F")
ASCITES_CHOICES: Final = ("none", "mild", "moderate_severe")

# key -> (lower, upper, lower_exclusive); bounds reject impossible values only.
NUMERIC_RANGES: Final[dict[str, tuple[Decimal, Decimal, bool]]] = {
    "age": (Decimal("0"), Decimal("120"), False),
    "bilirubin_mg_dl": (Decimal("0"), Decimal("100"), False),
    "creatinine_mg_dl": (Decimal("0"), Decimal("30"), True),
    "inr": (Decimal("0"), Decimal("20"), True),
    "albumin_g_dl": (Decimal("0"), Decimal("10"), True),
    "sodium_mmol_l": (Decimal("80"), Decimal("200"), False),
    "wbc_10e9_l": (Decimal("0"), Decimal("1000"), True),
    "platelets_10e9_l": (Decimal("0"), Decimal("5000"), False),
    "map_mmhg": (Decimal("0"), Decimal("300"), False),
    "dopamine_ug_kg_min": (Decimal("0"), Decimal("100"), False),
    "epinephrine_ug_kg_min": (Decimal("0"), Decimal("10"), False),
    "norepinephrine_ug_kg_min": (Decimal("0"), Decimal("10"), False),
    "pao2_mmhg": (Decimal("0"), Decimal("800"), True),
    "spo2_pct": (Decimal("0"), Decimal("100"), True),
    "fio2": (Decimal("0.21"), Decimal("1.0"), False),
}
BOOLEAN_KEYS: Final = (
    "renal_replacement_therapy",
    "dialysis_twice_in_last_week",
    "dobutamine",
    "terlipressin",
    "mechanical_ventilation",
    "mechanical_ventilation_for_he",
)
ORGAN_SUPPORT_KEYS: Final = (
    *BOOLEAN_KEYS,
    "dopamine_ug_kg_min",
    "epinephrine_ug_kg_min",
    "norepinephrine_ug_kg_min",
)
INPUT_KEYS: Final = (
    "age",
    "sex",
    "bilirubin_mg_dl",
    "creatinine_mg_dl",
    "inr",
    "albumin_g_dl",
    "sodium_mmol_l",
    "wbc_10e9_l",
    "platelets_10e9_l",
    "renal_replacement_therapy",
    "dialysis_twice_in_last_week",
    "he_grade",
    "map_mmhg",
    "dopamine_ug_kg_min",
    "dobutamine",
    "terlipressin",
    "epinephrine_ug_kg_min",
    "norepinephrine_ug_kg_min",
    "pao2_mmhg",
    "spo2_pct",
    "fio2",
    "mechanical_ventilation",
    "mechanical_ventilation_for_he",
    "ascites",
)


class ScoringInputError(ValueError):
    """Invalid inputs; ``errors`` maps every invalid key to its message.

    ``str(error)`` is "<first key>: <message>", so the message starts with the field key.
    """

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors: dict[str, str] = dict(errors)
        key, message = next(iter(self.errors.items()))
        super().__init__(f"{key}: {message}")


@dataclass(frozen=True)
class ScoringInputs:
    """Validated inputs in conventional units; None = not recorded."""

    age: Decimal | None = None
    sex: str | None = None
    bilirubin_mg_dl: Decimal | None = None
    creatinine_mg_dl: Decimal | None = None
    inr: Decimal | None = None
    albumin_g_dl: Decimal | None = None
    sodium_mmol_l: Decimal | None = None
    wbc_10e9_l: Decimal | None = None
    platelets_10e9_l: Decimal | None = None
    renal_replacement_therapy: bool | None = None
    dialysis_twice_in_last_week: bool | None = None
    he_grade: int | None = None
    map_mmhg: Decimal | None = None
    dopamine_ug_kg_min: Decimal | None = None
    dobutamine: bool | None = None
    terlipressin: bool | None = None
    epinephrine_ug_kg_min: Decimal | None = None
    norepinephrine_ug_kg_min: Decimal | None = None
    pao2_mmhg: Decimal | None = None
    spo2_pct: Decimal | None = None
    fio2: Decimal | None = None
    mechanical_ventilation: bool | None = None
    mechanical_ventilation_for_he: bool | None = None
    ascites: str | None = None

    def flag(self, key: str) -> bool:
        """Organ-support flag with the documented default: missing = not given."""
        if key not in BOOLEAN_KEYS:
            raise KeyError(key)
        return bool(getattr(self, key))

    def dose(self, key: str) -> Decimal:
        """Vasoactive dose in µg/kg/min with the documented default: missing = 0."""
        if key not in ("dopamine_ug_kg_min", "epinephrine_ug_kg_min", "norepinephrine_ug_kg_min"):
            raise KeyError(key)
        value = getattr(self, key)
        return Decimal(0) if value is None else value

    @property
    def ventilated_for_he(self) -> bool:
        """Mechanical ventilation given because of encephalopathy (not respiratory failure)."""
        return self.flag("mechanical_ventilation_for_he")

    @property
    def ventilated_for_respiration(self) -> bool:
        """Mechanical ventilation given for any reason other than encephalopathy."""
        return self.flag("mechanical_ventilation") and not self.ventilated_for_he

    def assumed_not_given(self) -> list[str]:
        """Organ-support keys that were missing and therefore counted as not given."""
        return sorted(key for key in ORGAN_SUPPORT_KEYS if getattr(self, key) is None)


def _to_decimal(value: object) -> Decimal | str:
    """Return the value as a finite Decimal, or an error message."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return "must be a number"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "must be a finite number"
        return Decimal(repr(value))
    number = Decimal(value)
    if not number.is_finite():
        return "must be a finite number"
    return number


def _range_message(low: Decimal, high: Decimal, low_exclusive: bool) -> str:
    if low_exclusive:
        return f"must be greater than {low} and at most {high}"
    return f"must be between {low} and {high}"


def _check(key: str, value: object) -> tuple[object, str | None]:
    """Normalise one present (non-None) value; return (value, error message or None)."""
    if key in NUMERIC_RANGES:
        number = _to_decimal(value)
        if isinstance(number, str):
            return None, number
        low, high, low_exclusive = NUMERIC_RANGES[key]
        too_low = number <= low if low_exclusive else number < low
        if too_low or number > high:
            return None, _range_message(low, high, low_exclusive)
        return number, None
    if key in BOOLEAN_KEYS:
        if not isinstance(value, bool):
            return None, "must be true or false"
        return value, None
    if key == "he_grade":
        number = _to_decimal(value)
        if isinstance(number, str) or number != number.to_integral_value():
            return None, "must be a West Haven grade 0, 1, 2, 3 or 4"
        if not 0 <= number <= 4:
            return None, "must be a West Haven grade 0, 1, 2, 3 or 4"
        return int(number), None
    if key == "sex":
        if value not in SEXES:
            return None, 'must be "M" or "F"'
        return value, None
    if key == "ascites":
        if value not in ASCITES_CHOICES:
            return None, "must be one of " + ", ".join(f'"{c}"' for c in ASCITES_CHOICES)
        return value, None
    return None, "unknown input key"


def _parse(inputs: Mapping[str, object]) -> tuple[dict[str, object], dict[str, str]]:
    values: dict[str, object] = {}
    errors: dict[str, str] = {}
    for key, raw in inputs.items():
        if not isinstance(key, str):
            errors[str(key)] = "unknown input key"
            continue
        if key not in INPUT_KEYS:
            errors[key] = "unknown input key"
            continue
        if raw is None:
            values[key] = None
            continue
        value, error = _check(key, raw)
        if error is None:
            values[key] = value
        else:
            errors[key] = error
    if (
        values.get("mechanical_ventilation_for_he") is True
        and values.get("mechanical_ventilation") is False
    ):
        errors.setdefault(
            "mechanical_ventilation_for_he", "is true but mechanical_ventilation is false"
        )
    return values, errors


def validate_inputs(inputs: Mapping[str, object]) -> dict[str, str]:
    """Return {field key: message} for every invalid field (empty when all are valid).

    Messages do not repeat the key; ``ScoringInputError`` adds it ("fio2: must be ...").
    """
    return _parse(inputs)[1]


def parse_inputs(inputs: Mapping[str, object]) -> ScoringInputs:
    """Validate and normalise ``inputs``; raise ``ScoringInputError`` listing all errors."""
    values, errors = _parse(inputs)
    if errors:
        raise ScoringInputError(errors)
    return ScoringInputs(**values)  # type: ignore[arg-type]
