"""Data-query list filters shared by the queries page and the API (django-filter), applied to
``selectors.query_list`` (already scoped to the user's sites)."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import DataQuery

MAX_ID = 2**62
YES_NO = [("1", "yes"), ("0", "no")]


class IdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


class DataQueryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DataQuery.Status.choices)
    site = IdFilter(
        field_name="patient__site_id", label=_("Site id"), min_value=1, max_value=MAX_ID
    )
    patient = IdFilter(
        field_name="patient_id", label=_("Patient id"), min_value=1, max_value=MAX_ID
    )
    form = django_filters.CharFilter(field_name="form_code", label=_("Form code"), max_length=30)
    # "1"/"0" as the page's links have them; anything else is a 400 naming the filter (a
    # BooleanFilter would silently ignore "yes").
    overdue = django_filters.ChoiceFilter(
        choices=YES_NO, method="filter_overdue", label=_("Open and past its due date")
    )
    automatic = django_filters.ChoiceFilter(
        choices=YES_NO, method="filter_automatic", label=_("Raised by an edit check")
    )
    changed_since = django_filters.IsoDateTimeFilter(
        method="filter_changed_since",
        label=_("Raised, answered or closed at or after this time (ISO 8601)"),
    )

    class Meta:
        model = DataQuery
        fields = ["status", "site", "patient", "form", "overdue", "automatic", "changed_since"]

    def filter_overdue(self, queryset, name, value):
        overdue = Q(status=DataQuery.Status.OPEN, due_date__lt=timezone.localdate())
        return queryset.filter(overdue) if value == "1" else queryset.exclude(overdue)

    def filter_automatic(self, queryset, name, value):
        return queryset.filter(automatic=value == "1")

    def filter_changed_since(self, queryset, name, value):
        return queryset.filter(
            Q(raised_at__gte=value) | Q(answered_at__gte=value) | Q(closed_at__gte=value)
        )
