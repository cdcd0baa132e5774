"""Every read of the exports app, scoped by site, role and blinding (STYLE.md §3).

The feed and the blinded exports never read an arm. The unblinded export gets the allocation
only from ``randomization.selectors.allocation_list_unblinded`` (the guarded batch reader).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.db.models import QuerySet

from trials import roles
from trials import selectors as trial_selectors
from trials.models import Patient

from .dictionary import RECORD, SITE, SUBJECT, VISIT, Dataset, dataset_variables
from .models import ChangeEvent, ExportJob

FEED_MAX_LIMIT = 1000


def change_list(*, user) -> QuerySet[ChangeEvent]:
    """Committed events in seq order, scoped to the user's sites (filters and the ``after``
    cursor: ``exports.filters.ChangeEventFilter``).

    Rows whose ``seq`` is still NULL belong to a transaction that has not committed (only
    its own connection can see them) and are never served. Allocation events are for
    unblinded roles only; they name the patient, never the arm.
    """
    if not roles.user_roles(user):
        return ChangeEvent.objects.none()
    qs = (
        ChangeEvent.objects.filter(seq__isnull=False)
        .select_related("patient", "site", "user")
        .order_by("seq")
    )
    site_ids = roles.user_site_ids(user)
    if site_ids is not None:
        qs = qs.filter(site_id__in=site_ids)
    if not roles.is_unblinded_role(user):
        qs = qs.exclude(unblinded_only=True)
    return qs


def export_job_list(*, user) -> QuerySet[ExportJob]:
    """The user's own export jobs (a file is only ever downloaded by who asked for it)."""
    if not roles.user_roles(user):
        return ExportJob.objects.none()
    return (
        ExportJob.objects.filter(requested_by=user).defer("file").order_by("-requested_at", "-pk")
    )


# --- export rows --------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportFilter:
    sites: tuple[int, ...] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None


@dataclass
class Record:
    patient: Patient
    visit: Any  # crf.models.Visit or None
    instance: Any
    values: dict[str, Any]


def export_patients(*, user, flt: ExportFilter) -> QuerySet[Patient]:
    """The patients an export may contain: the user's sites, then the chosen ones."""
    qs = trial_selectors.patient_list(user=user).order_by("site__code", "screening_number", "pk")
    if flt.sites:
        qs = qs.filter(site_id__in=flt.sites)
    return qs


def dataset_queryset(*, user, dataset: Dataset, flt: ExportFilter, patients=None) -> QuerySet:
    """Rows of one dataset in a stable order (subject, visit, record), scoped like pages."""
    scoped = export_patients(user=user, flt=flt)
    if patients is not None:
        scoped = scoped.filter(pk__in=[p.pk for p in patients])
    if dataset.model is Patient:
        qs = scoped
        date_lookup = "created_at__date"
    else:
        related = (
            ["patient__site", "visit__definition"] if dataset.per_visit else ["patient__site"]
        )
        qs = dataset.model.objects.filter(patient__in=scoped.values("pk")).select_related(*related)
        order = ["patient__site__code", "patient__screening_number", "patient_id"]
        if dataset.per_visit:
            order += ["visit__target_date", "visit__definition__order", "visit_id"]
        qs = qs.order_by(*order, "pk")
        date_lookup = dataset.date_field
        if isinstance(dataset.model._meta.get_field(date_lookup), models.DateTimeField):
            date_lookup += "__date"
    if flt.date_from:
        qs = qs.filter(**{f"{date_lookup}__gte": flt.date_from})
    if flt.date_to:
        qs = qs.filter(**{f"{date_lookup}__lte": flt.date_to})
    return qs


def _allocation_values(*, user, patients: list[Patient]) -> dict[int, dict[str, Any]]:
    """Allocation columns of the unblinded export, only through the guarded batch reader."""
    from randomization.selectors import allocation_list_unblinded

    allocations = allocation_list_unblinded(user=user, patients=patients, purpose="data export")
    return {
        pk: {
            "randomization_number": a.randomization_number,
            "randomized_at": a.randomized_at,
            "stratum": a.stratum,
            "treatment_code": a.arm,
            "treatment_label": a.arm_label,
        }
        for pk, a in allocations.items()
    }


def dataset_records(
    *,
    user,
    dataset: Dataset,
    flt: ExportFilter,
    unblinded: bool = False,
    patients=None,
    chunk_size: int = 500,
) -> Iterator[Record]:
    """Stream the records of ``dataset``: one query per chunk of ``chunk_size`` rows (a
    server-side cursor on PostgreSQL), so memory stays flat however many patients."""
    variables = dataset_variables(dataset, unblinded=unblinded)
    qs = dataset_queryset(user=user, dataset=dataset, flt=flt, patients=patients)
    chunk: list = []
    for instance in qs.iterator(chunk_size=chunk_size):
        chunk.append(instance)
        if len(chunk) >= chunk_size:
            yield from _records(user, dataset, variables, chunk, unblinded)
            chunk = []
    if chunk:
        yield from _records(user, dataset, variables, chunk, unblinded)


def _records(user, dataset, variables, chunk, unblinded) -> Iterator[Record]:
    is_patient = dataset.model is Patient
    allocations = _allocation_values(user=user, patients=chunk) if unblinded and is_patient else {}
    for instance in chunk:
        patient = instance if is_patient else instance.patient
        visit = instance.visit if dataset.per_visit else None
        extra = allocations.get(patient.pk, {})
        values: dict[str, Any] = {}
        for v in variables:
            if v.name == SUBJECT:
                values[v.name] = patient.subject_id or patient.screening_number
            elif v.name == SITE:
                values[v.name] = patient.site.code
            elif v.name == VISIT:
                values[v.name] = visit.definition.code
            elif v.name == RECORD:
                values[v.name] = instance.pk
            elif v.field is not None:
                values[v.name] = getattr(instance, v.field)
            else:
                values[v.name] = extra.get(v.name)
        yield Record(patient=patient, visit=visit, instance=instance, values=values)
