"""Score display: scoring input keys shown with the labels of the fields the user fills."""

from __future__ import annotations

from django import template
from django.core.exceptions import FieldDoesNotExist

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
