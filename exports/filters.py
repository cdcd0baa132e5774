"""List filters of the exports app (django-filter), applied to querysets the selectors have
already scoped to what the user may see; the API answers an invalid value with a 400 naming it
(as ``trials.filters.PatientFilter`` for the patient list)."""

from __future__ import annotations

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from .models import ChangeEvent, ExportJob

MAX_ID = 2**62  # larger ids are a 400, never a database overflow (a 500)


class IdFilter(django_filters.NumberFilter):
    """A whole number (django-filter's NumberFilter would take 1.5 as an id)."""

    field_class = forms.IntegerField


class ChangeEventFilter(django_filters.FilterSet):
    """The change feed: ``after`` is the cursor (the last event id the client has)."""

    after = IdFilter(
        field_name="seq",
        lookup_expr="gt",
        label=_("Last event id the client has (0 = from the start)"),
        min_value=0,
        max_value=MAX_ID,
    )
    changed_since = django_filters.IsoDateTimeFilter(
        field_name="at", lookup_expr="gte", label=_("Only events at or after this time (ISO 8601)")
    )
    kind = django_filters.MultipleChoiceFilter(
        choices=ChangeEvent.Kind.choices, label=_("Event kinds (repeat to combine)")
    )
    patient = IdFilter(
        field_name="patient_id", label=_("Patient id"), min_value=1, max_value=MAX_ID
    )
    site = IdFilter(field_name="site_id", label=_("Site id"), min_value=1, max_value=MAX_ID)
    form = django_filters.CharFilter(field_name="form_code", label=_("Form code"), max_length=30)

    class Meta:
        model = ChangeEvent
        fields = ["after", "changed_since", "kind", "patient", "site", "form"]


class ExportJobFilter(django_filters.FilterSet):
    """The user's export jobs; ``changed_since`` polls for jobs queued or finished since."""

    status = django_filters.ChoiceFilter(choices=ExportJob.Status.choices)
    # Not "format": DRF reads ?format= as the response format (URL_FORMAT_OVERRIDE).
    file_format = django_filters.ChoiceFilter(
        field_name="params__format",
        choices=[("csv", "CSV"), ("json", "Dataset-JSON"), ("odm", "ODM")],
        label=_("Format"),
    )
    changed_since = django_filters.IsoDateTimeFilter(
        method="filter_changed_since",
        label=_("Queued or finished at or after this time (ISO 8601)"),
    )

    class Meta:
        model = ExportJob
        fields = ["status", "file_format", "changed_since"]

    def filter_changed_since(self, queryset, name, value):
        from django.db.models import Q

        return queryset.filter(Q(requested_at__gte=value) | Q(finished_at__gte=value))
