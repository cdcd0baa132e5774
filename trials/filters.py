"""List filters shared by the pages and the API (django-filter), applied to a queryset the
selectors have already scoped to what the user may see."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from . import selectors
from .models import Patient, PatientStatus


class PatientFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="search", label=_("Screening number, subject id or initials"), max_length=40
    )
    site = django_filters.NumberFilter(field_name="site_id", label=_("Site id"))
    status = django_filters.ChoiceFilter(choices=PatientStatus.choices)
    created_since = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label=_("Registered at or after (ISO 8601)")
    )

    class Meta:
        model = Patient
        fields = ["q", "site", "status", "created_since"]

    def search(self, queryset, name, value):
        return selectors.patients_matching(queryset, value.strip())
