"""Hard and soft limits of the score inputs, one definition for screening and visit labs.

Canonical units (the stored canonical fields). Hard limits reject a value that is impossible
or a typing error; soft limits accept it only after the user confirms it (a bilirubin of 85
"mg/dL" is far more likely 85 µmol/L typed in the wrong unit). The scoring engine's own
bounds (``scoring.inputs.NUMERIC_RANGES``) stay the last line of defence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from .dictionary import (
    SCORE_INPUT_ITEMS,
    Limits,
    limits_map,
    typed_field_map,
)

D = Decimal

__all__ = ["SCORE_INPUT_LIMITS", "SCREENING_LIMITS", "TYPED_FIELD", "Limits", "check"]

# Derived from the data dictionary (trials.dictionary.SCORE_INPUT_ITEMS): one declaration.
SCORE_INPUT_LIMITS: dict[str, Limits] = limits_map(SCORE_INPUT_ITEMS)
SCREENING_LIMITS: dict[str, Limits] = {
    **SCORE_INPUT_LIMITS,
    "afp_ng_ml": Limits(D(0), None, D(100_000), D(10_000_000), "ng/mL"),
}
# A canonical field's errors are shown on the field the user typed (value + unit).
TYPED_FIELD = typed_field_map(SCORE_INPUT_ITEMS)


def _fmt(value: Decimal) -> str:
    return f"{value.normalize():f}"


@dataclass
class RangeResult:
    errors: dict[str, list[str]] = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)


def check(obj: Any, limits: Mapping[str, Limits]) -> RangeResult:
    """Hard-limit errors and soft-limit warnings of ``obj``'s values, keyed by typed field."""
    result = RangeResult()
    for name, lim in limits.items():
        raw = getattr(obj, name, None)
        if raw is None or raw == "":
            continue
        value = Decimal(str(raw))
        target = TYPED_FIELD.get(name, name)
        unit = f" {lim.unit}" if lim.unit else ""
        if lim.hard_min is not None and (
            value < lim.hard_min or (lim.min_exclusive and value == lim.hard_min)
        ):
            limit = f"{_fmt(lim.hard_min)}{unit}"
            result.errors.setdefault(target, []).append(
                gettext("Must be greater than %(limit)s.") % {"limit": limit}
                if lim.min_exclusive
                else gettext("Must be at least %(limit)s.") % {"limit": limit}
            )
        elif lim.hard_max is not None and value > lim.hard_max:
            result.errors.setdefault(target, []).append(
                gettext("Must be at most %(limit)s.") % {"limit": f"{_fmt(lim.hard_max)}{unit}"}
            )
        elif lim.soft_min is not None and value < lim.soft_min:
            result.warnings.setdefault(target, []).append(
                gettext(
                    "%(value)s is below the expected range (≥ %(limit)s): check the value and "
                    "its unit, then confirm."
                )
                % {"value": f"{_fmt(value)}{unit}", "limit": f"{_fmt(lim.soft_min)}{unit}"}
            )
        elif lim.soft_max is not None and value > lim.soft_max:
            result.warnings.setdefault(target, []).append(
                gettext(
                    "%(value)s is above the expected range (≤ %(limit)s): check the value and "
                    "its unit, then confirm."
                )
                % {"value": f"{_fmt(value)}{unit}", "limit": f"{_fmt(lim.soft_max)}{unit}"}
            )
    return result


class OutOfRangeWarning(ValidationError):
    """Values outside soft limits: nothing was saved; re-submit with the confirmation."""

    def __init__(self, warnings: dict[str, list[str]]) -> None:
        super().__init__(warnings)
        self.warnings = warnings
