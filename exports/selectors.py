"""Every read of the exports app, scoped by site, role and blinding (STYLE.md §3).

The feed and the blinded exports never read an arm. The unblinded export gets the allocation
only from ``randomization.selectors.allocation_list_unblinded`` (the guarded batch reader).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from django.db import connection, models
from django.db.models import OuterRef, QuerySet, Subquery
from django.db.models.functions import Cast

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


def export_patients(*, user, flt: ExportFilter) -> QuerySet[Patient]:
    """The patients an export may contain: the user's sites, then the chosen ones."""
    qs = trial_selectors.patient_list(user=user).order_by("site__code", "screening_number", "pk")
    if flt.sites:
        qs = qs.filter(site_id__in=flt.sites)
    return qs


def dataset_queryset(*, user, dataset: Dataset, flt: ExportFilter) -> QuerySet:
    """Rows of one dataset in a stable order (subject, visit, record), scoped like pages."""
    scoped = export_patients(user=user, flt=flt)
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


def _allocation_values(*, user, patients: list[tuple[int, int]]) -> dict[int, tuple]:
    """Allocation columns of the unblinded export (``ALLOCATION_VARIABLES`` order) of the
    (patient pk, site pk) pairs, only through the guarded batch reader (one read, one log
    row per patient)."""
    from randomization.selectors import allocation_list_unblinded

    # The blinding predicate needs only the patient's key and site: no row is loaded twice.
    shells = [Patient(pk=pk, site_id=site_id) for pk, site_id in patients]
    allocations = allocation_list_unblinded(user=user, patients=shells, purpose="data export")
    return {
        pk: (a.randomization_number, a.randomized_at, a.stratum, a.arm, a.arm_label)
        for pk, a in allocations.items()
    }


def _text_column(model: type[models.Model], attname: str) -> str | Cast:
    """The column, or on PostgreSQL its text when that is ``text_value``'s: numeric(p, s)
    prints as ``str(Decimal)`` (no exponent at these scales) and boolean as true/false.
    Not float (PostgreSQL prints 5, Python 5.0), dates and times (DateStyle; ISO 'T')."""
    field = next(f for f in model._meta.concrete_fields if f.attname == attname)
    if connection.vendor != "postgresql":
        return attname
    if isinstance(field, models.BooleanField) or (
        isinstance(field, models.DecimalField) and (field.decimal_places or 0) <= 6
    ):
        return Cast(attname, output_field=models.TextField())
    return attname


# Columns ahead of the values in ``dataset_rows(context=True)``.
CONTEXT = ("patient_id", "pk", "visit_id", "definition_id", "target_date", "scheduled")


def dataset_rows(
    *,
    user,
    dataset: Dataset,
    flt: ExportFilter,
    unblinded: bool = False,
    chunk_size: int = 500,
    context: bool = False,
    as_text: bool = False,
) -> Iterator[tuple]:
    """Stream the rows of ``dataset`` as tuples of database values in ``dataset_variables``
    order (no model instance: a server-side cursor on PostgreSQL read ``chunk_size`` rows at
    a time, so memory stays flat however many patients). ``context``: each row starts with
    the ``CONTEXT`` columns the ODM file is structured by. The unblinded patients dataset
    adds the allocation, one guarded batch read per chunk. ``as_text``: decimals and
    booleans come as their ``text_value`` already (PostgreSQL writes them: a Decimal per
    value is most of the cost of reading a row)."""
    variables = dataset_variables(dataset, unblinded=unblinded)
    if not variables or variables[0].name != SUBJECT:
        raise ValueError(f"{dataset.code}: the subject key comes first")
    is_patient = dataset.model is Patient
    prefix = "" if is_patient else "patient__"
    columns = [f"{prefix}subject_id", f"{prefix}screening_number"]
    allocation = [v for v in variables if v.field is None and v.key is None]
    for v in variables[1:]:
        if v.name == SITE:
            columns.append(f"{prefix}site__code")
        elif v.name == VISIT:
            columns.append("visit__definition__code")
        elif v.name == RECORD:
            columns.append("pk")
        elif v.field is not None:
            columns.append(_text_column(dataset.model, v.field) if as_text else v.field)
        elif v not in allocation:
            raise ValueError(f"{dataset.code}.{v.name}: no source column")
    if allocation and (not is_patient or variables[-len(allocation) :] != allocation):
        raise ValueError(f"{dataset.code}: computed columns come last, on patients only")
    visit = ["visit_id", "visit__definition_id", "visit__target_date", "visit__scheduled"]
    head = ["pk", "pk"] if is_patient else ["patient_id", "pk"]
    head += visit if dataset.per_visit else []
    if allocation:
        head.append("site_id")
    qs = dataset_queryset(user=user, dataset=dataset, flt=flt)
    rows = qs.values_list(*head, *columns).iterator(chunk_size=chunk_size)
    n_head = len(head)
    no_visit = (None, None, None, None)
    while chunk := list(islice(rows, chunk_size)):
        extra: dict[int, tuple] = {}
        if allocation:
            pairs = [(r[0], r[n_head - 1]) for r in chunk]
            extra = _allocation_values(user=user, patients=pairs)
        missing = (None,) * len(allocation)
        for row in chunk:
            # The subject: its randomization id, else (not randomized) its screening number.
            values = (row[n_head] or row[n_head + 1], *row[n_head + 2 :])
            if allocation:
                values += extra.get(row[0], missing)
            if not context:
                yield values
            elif dataset.per_visit:
                yield row[:6] + values
            else:
                yield row[:2] + no_visit + values


# The export's patient order, as each stream of rows of a patient names it.
_PATIENT_ORDER = ("patient__site__code", "patient__screening_number", "patient_id")


def dataset_history_rows(
    *,
    user,
    dataset: Dataset,
    flt: ExportFilter,
    fields: list[str],
    chunk_size: int = 200,
    as_text: bool = False,
) -> Iterator[tuple]:
    """Every history version of the records of ``dataset`` at the export's patients, in the
    order of ``export_patients``, then record, then time (one query, streamed):
    (patient pk, record pk, history id, when, user id, reason, history type, *fields);
    ``as_text`` as in ``dataset_rows``."""
    scoped = export_patients(user=user, flt=flt).values("pk")
    history = dataset.model.history
    if dataset.model is Patient:
        # A version's own site and number may be old ones: order by the patient as it is.
        current = Patient.objects.filter(pk=OuterRef("id"))
        qs = history.filter(id__in=scoped).annotate(
            current_site=Subquery(current.values("site__code")),
            current_number=Subquery(current.values("screening_number")),
        )
        order, patient = ("current_site", "current_number", "id"), "id"
    else:
        qs, order, patient = history.filter(patient_id__in=scoped), _PATIENT_ORDER, "patient_id"
    keys = ("history_id", "history_date", "history_user_id", "history_change_reason")
    if as_text:
        fields = [_text_column(history.model, f) for f in fields]
    return (
        qs.order_by(*order, "id", "history_date", "history_id")
        .values_list(patient, "id", *keys, "history_type", *fields)
        .iterator(chunk_size=chunk_size)
    )


def signature_rows(*, user, flt: ExportFilter, chunk_size: int = 200) -> Iterator[tuple]:
    """The casebook signatures of the export's patients in their order, oldest first:
    (patient pk, signature pk, signer pk, signed at)."""
    from monitoring.models import CasebookSignature

    return (
        CasebookSignature.objects.filter(
            patient__in=export_patients(user=user, flt=flt).values("pk")
        )
        .order_by(*_PATIENT_ORDER, "signed_at", "pk")
        .values_list("patient_id", "pk", "signed_by_id", "signed_at")
        .iterator(chunk_size=chunk_size)
    )
