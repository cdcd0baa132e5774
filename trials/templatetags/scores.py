"""Score display: scoring input keys shown with the labels of the fields the user fills."""

from __future__ import annotations

from typing import Any

from django import template
from django.core.exceptions import FieldDoesNotExist
from django.utils.formats import localize
from django.utils.translation import gettext as _

from trials.limits import TYPED_FIELD
from trials.models import ScoreInputs

register = template.Library()

_EXTRA = {"age": "Age", "sex": "Sex", "clif_c_of": "CLIF-C OF"}


def _label(key: str) -> str:
    if key in _EXTRA:
        return _EXTRA[key]
    try:
        field = ScoreInputs._meta.get_field(TYPED_FIELD.get(key, key))
    except FieldDoesNotExist:  # an unknown key is shown as it is
        return key
    return str(field.verbose_name)


@register.filter
def input_labels(keys: list[str] | None) -> str:
    """'Platelets (10⁹/L), MAP (mmHg)' for ['platelets_10e9_l', 'map_mmhg']."""
    return ", ".join(_label(k) for k in keys or [])


@register.filter
def input_label(key: str) -> str:
    return _label(key)


# The patient page explains every score row (inputs, per-organ points): shaped here in one
# pass instead of nested template loops and lookups, which were most of its render time (#16).


@register.filter
def input_rows(inputs: dict[str, dict[str, Any]]) -> list[tuple[str, Any, Any, str | None]]:
    """(label, value, unit, "entered 2.1 mg/dL" or None) of each input that has a value."""
    rows = []
    for key, item in inputs.items():
        if item.get("value") is None:
            continue
        entered = None
        if item.get("entered_unit") and item["entered_unit"] != item.get("unit"):
            entered = _("entered %(value)s %(unit)s") % {
                "value": localize(item.get("entered")),
                "unit": item["entered_unit"],
            }
        rows.append((_label(key), item["value"], item.get("unit"), entered))
    return rows


@register.filter
def organ_rows(details: dict[str, Any]) -> list[tuple[str, Any, bool, Any, Any]]:
    """(organ, CLIF-SOFA points, has CLIF-C OF points, those points, basis) per organ."""
    of_points = (details.get("clif_c_of") or {}).get("subscores") or {}
    sofa = details.get("clif_sofa") or {}
    basis = sofa.get("basis") or {}
    return [
        (organ, points, organ in of_points, of_points.get(organ), basis.get(organ, ""))
        for organ, points in (sofa.get("subscores") or {}).items()
    ]
