"""Display helpers for the visit lists (worklist, timeline, patient and dashboard panels).

Filters rather than an ``{% include %}`` or Django's generic ones per row: the lists render a
badge and three dates per visit, and those were most of a row's cost (#16).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils.html import format_html
from django.utils.translation import get_language

from crf.models import Visit, VisitStatus

register = template.Library()

# Bootstrap badge class of each visit status; anything else (planned) is the light badge.
_BADGE = {
    "done": "text-bg-success",
    "due": "text-bg-primary",
    "overdue": "text-bg-danger",
    "missed": "text-bg-dark",
    "not_applicable": "text-bg-secondary",
}


@register.filter
def status_badge(visit: Visit) -> str:
    """The visit's status as a coloured badge; the text says it too (colour is not alone)."""
    css = _BADGE.get(visit.status, "text-bg-light border")
    # The enum's label, not ``get_status_display()``: that rebuilds the field's choices dict
    # on every call (0.1 ms a row).
    label = VisitStatus(visit.status).label if visit.status in VisitStatus else visit.status
    return format_html('<span class="badge {}">{}</span>', css, label)


@lru_cache(maxsize=4096)
def _short_date(language: str | None, day: dt.date) -> str:
    return date_filter(day, "SHORT_DATE_FORMAT")


@register.filter(expects_localtime=True)  # as Django's ``date``
def short_date(value: dt.date | None) -> str:
    """``value|date:"SHORT_DATE_FORMAT"``, remembered per language and day: a list shows the
    same few dates on every row, and Django re-parses the format (25 µs) on every call."""
    if type(value) is not dt.date:  # datetimes need the time zone: Django's filter
        return date_filter(value, "SHORT_DATE_FORMAT")
    return _short_date(get_language(), value)
