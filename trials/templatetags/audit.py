"""Display of audit-trail values: unambiguous (ISO dates, UTC times) and compact."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django import template

register = template.Library()


@register.filter
def audit_value(value: Any) -> str:
    """Render a historical value exactly: ISO dates, UTC timestamps, JSON for structures."""
    if value is None or value == "":
        return "∅"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


@register.filter
def get_item(mapping: dict, key: Any) -> Any:
    """``mapping[key]`` in a template (None when absent)."""
    return mapping.get(key) if mapping else None


@register.filter
def criteria_text(codes: list[str] | None) -> str:
    """Eligibility criterion codes with their text: "EXC12 HIV infection; INC2 ACLF …"."""
    from trials.eligibility import criterion_labels

    labels = criterion_labels()
    return "; ".join(f"{code} {labels.get(code, '')}".strip() for code in codes or [])
