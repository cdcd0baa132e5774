"""Every read of the exports app, scoped by site, role and blinding (STYLE.md §3).

The feed and the blinded exports never read an arm. The unblinded export gets the allocation
only from ``randomization.selectors.allocation_list_unblinded`` (the guarded batch reader).
"""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from django.core.exceptions import EmptyResultSet
from django.db import connection, models
from django.db.models import OuterRef, QuerySet, Subquery
from django.db.models.expressions import RawSQL
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
    if connection.vendor == "postgresql" and _pg_text_is_python_text(field):
        return Cast(attname, output_field=models.TextField())
    return attname


def _pg_text_is_python_text(field: models.Field) -> bool:
    """PostgreSQL's ``::text`` of the column is ``text_value``'s text: booleans (true/false)
    and numeric(p, s <= 6) (``str(Decimal)`` uses no exponent at those scales)."""
    return isinstance(field, models.BooleanField) or (
        isinstance(field, models.DecimalField) and (field.decimal_places or 0) <= 6
    )


# Columns ahead of the values in ``dataset_rows(context=True)``.
CONTEXT = ("patient_id", "pk", "visit_id", "definition_id", "target_date", "scheduled")


def _dataset_columns(
    dataset: Dataset, *, unblinded: bool, as_text: bool
) -> tuple[list[str], list, list]:
    """What ``dataset_rows`` selects: the head (keys, visit context, site), the value
    columns in ``dataset_variables`` order, and the allocation variables (added by Python)."""
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
    return head, columns, allocation


def dataset_values_queryset(
    *, user, dataset: Dataset, flt: ExportFilter, unblinded: bool = False, as_text: bool = False
) -> QuerySet:
    """The one query ``dataset_rows`` streams (the bench copies it as its baseline)."""
    head, columns, _ = _dataset_columns(dataset, unblinded=unblinded, as_text=as_text)
    return dataset_queryset(user=user, dataset=dataset, flt=flt).values_list(*head, *columns)


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
    head, _, allocation = _dataset_columns(dataset, unblinded=unblinded, as_text=as_text)
    rows = dataset_values_queryset(
        user=user, dataset=dataset, flt=flt, unblinded=unblinded, as_text=as_text
    ).iterator(chunk_size=chunk_size)
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
    return dataset_history_queryset(
        user=user, dataset=dataset, flt=flt, fields=fields, as_text=as_text
    ).iterator(chunk_size=chunk_size)


def dataset_history_queryset(
    *, user, dataset: Dataset, flt: ExportFilter, fields: list[str], as_text: bool = False
) -> QuerySet:
    """The one query ``dataset_history_rows`` streams."""
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
    when: str | RawSQL = "history_date"
    if as_text:
        fields = [_text_column(history.model, f) for f in fields]
        if connection.vendor == "postgresql":  # the audit's UTC text, as ``formats._utc``
            column = f"{connection.ops.quote_name(history.model._meta.db_table)}.history_date"
            when = RawSQL(_DATETIME.replace("{0}", column), (), models.TextField())  # noqa: S611
    keys = ("history_id", when, "history_user_id", "history_change_reason")
    return qs.order_by(*order, "id", "history_date", "history_id").values_list(
        patient, "id", *keys, "history_type", *fields
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


# --- CSV through PostgreSQL COPY (#16) ----------------------------------------------------


# Each column's SQL giving ``text_value``'s text (NULL for '': COPY writes '' unquoted
# only for NULL, as csv.writer writes None and ''), and for the values whose text
# PostgreSQL cannot write the same, the condition that sends the export to the Python path.
_DATETIME = (
    "CASE WHEN {0} = date_trunc('second', {0}) "
    """THEN to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"') """
    """ELSE to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') END"""
)
_TIME = (
    "CASE WHEN to_char({0}, 'US') = '000000' THEN to_char({0}, 'HH24:MI:SS') "
    "ELSE to_char({0}, 'HH24:MI:SS.US') END"
)
# JSON: a string as itself, null as missing, lists and objects as json.dumps(ensure_ascii=
# False) writes them (jsonb's text has the same separators, escapes and key order). A
# number with a fraction or an exponent reads back as a float whose repr may differ.
_JSON = (
    "CASE jsonb_typeof({0}) WHEN 'null' THEN NULL "
    "WHEN 'string' THEN NULLIF({0} #>> '{}', '') ELSE {0}::text END"
)
_JSON_HAZARD = "{0}::text ~ '[0-9][.eE]'"


def _copy_column(field: models.Field) -> tuple[str, str] | None:
    """(SQL text of ``{0}``, hazard condition or '') for a field; None: not supported."""
    if _pg_text_is_python_text(field):
        return "{0}::text", ""
    if isinstance(field, models.DecimalField):
        places = field.decimal_places or 0
        # str(Decimal) of numeric(p, s > 6): zero is '0E-s'; below 1e-6 it uses an exponent.
        return (
            f"CASE WHEN {{0}} = 0 THEN '0E-{places}' ELSE {{0}}::text END",
            "{0} <> 0 AND abs({0}) < 0.000001",
        )
    if isinstance(field, models.FloatField):
        return None  # repr(float) and PostgreSQL's float8 text differ (5.0 vs 5)
    if isinstance(field, models.IntegerField) or field.is_relation:
        return "{0}", ""
    if isinstance(field, models.DateTimeField):
        return _DATETIME, ""
    if isinstance(field, models.DateField):
        return "to_char({0}, 'YYYY-MM-DD')", ""
    if isinstance(field, models.TimeField):
        return _TIME, ""
    if isinstance(field, models.JSONField):
        return _JSON, _JSON_HAZARD
    if isinstance(field, models.CharField | models.TextField):
        return "NULLIF({0}, '')", ""
    return None


# Patients per COPY: each chunk is read whole into memory (under a MB), then sent.
COPY_PATIENTS = 1000


def _crlf(data: bytes, rows: int) -> bytes:
    """COPY ends rows with LF, csv.writer with CRLF; an LF inside a quoted value stays."""
    if data.count(b"\n") == rows:
        return data.replace(b"\n", b"\r\n")
    out, inside = [], False
    for line in data.split(b"\n")[:-1]:
        inside ^= line.count(b'"') & 1  # an odd number of quotes opens or closes a value
        out.append(line + (b"\n" if inside else b"\r\n"))
    return b"".join(out)


def dataset_csv_copy(
    *, user, dataset: Dataset, flt: ExportFilter, unblinded: bool = False
) -> Iterator[bytes] | None:
    """The CSV rows of ``dataset`` (no header) as PostgreSQL writes them with ``COPY (SELECT
    …) TO STDOUT (FORMAT csv)``, byte for byte what ``csv_stream`` writes from
    ``dataset_rows``: the same scope, filters and order, each column converted in SQL to
    ``text_value``'s text. One COPY per ``COPY_PATIENTS`` patients (memory flat).

    None (use the Python path) on other databases, for the unblinded patients dataset (the
    allocation is read only through the guarded reader: this SQL never joins it), for a
    column type without an exact SQL text, or when a value's text would differ. One query
    plans the export before any row is written (the patients, and whether any value would
    be written differently); the SQL is built once per dataset and scope (``_copy_plan``)."""
    if connection.vendor != "postgresql":
        return None
    # The SQL depends only on the dataset and the scope: the user's sites (all that
    # ``trials.selectors.patient_list`` reads of the user) and the filter.
    key = (dataset.code, unblinded, roles.user_site_ids(user), flt)
    if key not in _COPY_PLANS:
        if len(_COPY_PLANS) >= 512:
            _COPY_PLANS.clear()
        _COPY_PLANS[key] = _copy_plan(user=user, dataset=dataset, flt=flt, unblinded=unblinded)
    plan = _COPY_PLANS[key]
    if plan is None:
        return None
    if plan.empty:  # a scope without any site: no patient, no row
        return iter(())
    with connection.cursor() as cursor:
        cursor.execute(plan.plan_sql, plan.plan_params)
        patients, hazard = cursor.fetchone()
    if hazard:
        return None
    patients = patients or []
    if 0 < len(patients) <= COPY_PATIENTS:  # one COPY: the scope alone restricts its rows
        chunks: list[list[int] | None] = [None]
    else:
        chunks = [patients[i : i + COPY_PATIENTS] for i in range(0, len(patients), COPY_PATIENTS)]
    return _copy_chunks(plan.copy_sql, list(plan.copy_params), plan.slots, chunks)


@dataclass(frozen=True)
class _CopyPlan:
    """The compiled SQL of one dataset's COPY export for one scope (user's sites, filter)."""

    empty: bool = False
    plan_sql: str = ""  # SELECT ARRAY(the patients in order), EXISTS(a hazardous value)
    plan_params: tuple = ()
    copy_sql: str = ""  # the rows of the patients bound at ``slots``
    copy_params: tuple = ()
    slots: tuple[int, ...] = ()  # of the array of patients (NULL: all in scope)


_COPY_PLANS: dict[tuple, _CopyPlan | None] = {}


def _copy_plan(*, user, dataset: Dataset, flt: ExportFilter, unblinded: bool) -> _CopyPlan | None:
    """Build the SQL of ``dataset_csv_copy`` once per dataset and scope: Django compiles the
    scope, filters, joins and order with a constant as the only column, and the columns are
    written on the tables it joined (resolving an expression per column in the ORM costs
    more than the COPY of a thousand patients). None when a column cannot be written so."""
    variables = dataset_variables(dataset, unblinded=unblinded)
    if any(v.field is None and v.key is None for v in variables):
        return None
    meta = dataset.model._meta
    quote = connection.ops.quote_name
    patient_meta = Patient._meta
    site_meta = patient_meta.get_field("site").related_model._meta
    tables = {"own": meta.db_table, "patient": patient_meta.db_table, "site": site_meta.db_table}
    if dataset.per_visit:
        visit_meta = meta.get_field("visit").related_model._meta
        tables["visit"] = visit_meta.db_table
        tables["definition"] = visit_meta.get_field("definition").related_model._meta.db_table

    def col(table: str, model_meta, name: str) -> str:  # quoted names only, no parameter
        return f"{quote(tables[table])}.{quote(model_meta.get_field(name).column)}"

    columns: list[str] = []
    hazards: list[str] = []
    for v in variables:
        if v.name == SUBJECT:
            subject = col("patient", patient_meta, "subject_id")
            number = col("patient", patient_meta, "screening_number")
            columns.append(f"COALESCE(NULLIF({subject}, ''), NULLIF({number}, ''))")
        elif v.name == SITE:
            columns.append(f"NULLIF({col('site', site_meta, 'code')}, '')")
        elif v.name == VISIT:
            definition = visit_meta.get_field("definition").related_model._meta
            columns.append(f"NULLIF({col('definition', definition, 'code')}, '')")
        elif v.name == RECORD:
            columns.append(col("own", meta, meta.pk.name))
        else:
            field = next(f for f in meta.concrete_fields if f.attname == v.field)
            sql = _copy_column(field)
            if sql is None:
                return None
            own = f"{quote(meta.db_table)}.{quote(field.column)}"
            columns.append(f"({sql[0].replace('{0}', own)})")
            if sql[1]:
                hazards.append(f"({sql[1].replace('{0}', own)})")
    qs = dataset_queryset(user=user, dataset=dataset, flt=flt)
    ids = object()  # stands for the array parameter until each COPY binds it
    key = col("own", meta, "id" if dataset.model is Patient else "patient")
    # The patients are a bound parameter (NULL: every patient in scope, the condition folds
    # away before any row is read).
    chunk = RawSQL(  # noqa: S611 (quoted names; the patients are a parameter)
        f"(%s::bigint[] IS NULL OR {key} = ANY(%s::bigint[]))",
        (ids, ids),
        output_field=models.BooleanField(),
    )
    probe = qs.annotate(_row=RawSQL("0", ())).alias(_chunk=chunk).filter(_chunk=True)
    try:
        ids_sql, ids_params = (
            export_patients(user=user, flt=flt).values("pk").query.sql_with_params()
        )
        hazard_sql, hazard_params = "SELECT 1 WHERE false", ()
        if hazards:
            # Does any row hold a value the SQL above would write differently?
            hazard = RawSQL(" OR ".join(hazards), (), models.BooleanField())  # noqa: S611
            flagged = qs.alias(_hazard=hazard).filter(_hazard=True).order_by().values("pk")
            hazard_sql, hazard_params = flagged.query.sql_with_params()
        compiler = probe.values_list("_row").query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return _CopyPlan(empty=True)
    # The columns name the tables by their own names: each must be joined under it.
    joined = {alias: join.table_name for alias, join in compiler.query.alias_map.items()}
    head = 'SELECT (0) AS "_row" FROM '
    if not sql.startswith(head) or any(joined.get(t) != t for t in tables.values()):
        return None
    return _CopyPlan(
        # Both subqueries are compiled querysets: their parameters stay bound parameters.
        plan_sql=f"SELECT ARRAY({ids_sql}), EXISTS({hazard_sql})",
        plan_params=(*ids_params, *hazard_params),
        # Columns of quoted names and constants; the rest as Django compiled it.
        copy_sql=f"SELECT {', '.join(columns)} FROM {sql.removeprefix(head)}",  # noqa: S608
        copy_params=tuple(params),
        slots=tuple(i for i, p in enumerate(params) if p is ids),
    )


def _copy_chunks(
    sql: str, params: list, slots: tuple[int, ...], chunks: list[list[int] | None]
) -> Iterator[bytes]:
    for chunk in chunks:
        # An array literal of ints, or NULL for every patient in scope.
        array = None if chunk is None else "{" + ",".join(map(str, chunk)) + "}"
        for slot in slots:
            params[slot] = array
        buffer = io.BytesIO()
        with connection.cursor() as cursor:
            raw = cursor.cursor  # the driver's cursor: Django's wrapper has no COPY
            query = raw.mogrify(sql, params).decode()
            copy = f"COPY ({query}) TO STDOUT WITH (FORMAT csv)"
            began = time.monotonic()
            raw.copy_expert(copy, buffer)
            if connection.queries_logged:  # counted like any query (assertNumQueries, bench)
                spent = f"{time.monotonic() - began:.3f}"
                connection.queries_log.append({"sql": copy, "time": spent})
            count = raw.rowcount
        data = buffer.getvalue()
        if data:
            yield _crlf(data, count)
