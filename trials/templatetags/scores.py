"""Score display: scoring input keys shown with the labels of the fields the user fills."""

from __future__ import annotations

from typing import Any

from django import template
from django.core.exceptions import FieldDoesNotExist
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.timezone import template_localtime
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


def _shown(value: Any) -> str:
    """What ``{{ value }}`` prints: local time, localized, escaped."""
    return conditional_escape(str(localize(template_localtime(value))))


# The patient page explains every score row (inputs, per-organ points): shaped here in one
# pass instead of nested template loops and lookups, which were most of its render time (#16).


@register.filter(is_safe=True)
def input_items(inputs: dict[str, dict[str, Any]]) -> str:
    """``<li>`` of each input that has a value: its label, value and unit, and what was typed
    when it was typed in another unit ("entered 42.8 µmol/L"); values localized and escaped
    as ``{{ value }}`` would be (~150 items on a patient page: one pass, not ~600 lookups)."""
    items = []
    for key, item in inputs.items():
        if item.get("value") is None:
            continue
        entered = ""
        if item.get("entered_unit") and item["entered_unit"] != item.get("unit"):
            text = _("entered %(value)s %(unit)s") % {
                "value": _shown(item.get("entered")),
                "unit": _shown(item["entered_unit"]),
            }
            entered = f" ({text})"
        items.append(
            f"<li>{_shown(_label(key))}: {_shown(item['value'])} "
            f'<span class="unit">{_shown(item.get("unit"))}</span>{entered}</li>'
        )
    return mark_safe("".join(items))  # noqa: S308 - every value escaped by _shown


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
