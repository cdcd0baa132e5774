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
from xml.sax.saxutils import escape as escape_xml

from django.core.exceptions import EmptyResultSet
from django.db import connection, models
from django.db.models import F, Func, OuterRef, QuerySet, Subquery
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


# --- CSV through PostgreSQL COPY (#16) ----------------------------------------------------


class _SqlText(Func):
    """The text of one export column written by PostgreSQL: ``template`` with ``{0}``,
    ``{1}``… standing for the compiled columns (column references only, no parameters)."""

    output_field = models.TextField()

    def __init__(self, template: str, *paths: str, output_field=None) -> None:
        super().__init__(*[F(p) for p in paths], output_field=output_field)
        self.sql_template = template

    def as_sql(self, compiler, connection, **extra):
        sql = self.sql_template
        for i, expression in enumerate(self.get_source_expressions()):
            column, params = compiler.compile(expression)
            if params:
                raise ValueError("a column reference only")
            sql = sql.replace(f"{{{i}}}", column)
        return f"({sql})", []


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
        return _copy_chunks(plan.whole_sql, list(plan.whole_params), None, [patients])
    chunks = [patients[i : i + COPY_PATIENTS] for i in range(0, len(patients), COPY_PATIENTS)]
    return _copy_chunks(plan.copy_sql, list(plan.copy_params), plan.slot, chunks)


@dataclass(frozen=True)
class _CopyPlan:
    """The compiled SQL of one dataset's COPY export for one scope (user's sites, filter)."""

    empty: bool = False
    plan_sql: str = ""  # SELECT ARRAY(the patients in order), EXISTS(a hazardous value)
    plan_params: tuple = ()
    copy_sql: str = ""  # the rows of the patients bound at ``slot``
    copy_params: tuple = ()
    slot: int = 0
    whole_sql: str = ""  # the rows of every patient in scope (no array to search per row)
    whole_params: tuple = ()


_COPY_PLANS: dict[tuple, _CopyPlan | None] = {}


def _copy_plan(*, user, dataset: Dataset, flt: ExportFilter, unblinded: bool) -> _CopyPlan | None:
    """Build the SQL of ``dataset_csv_copy`` once per dataset and scope (compiling these
    querysets costs more than running them on a few thousand rows)."""
    variables = dataset_variables(dataset, unblinded=unblinded)
    if any(v.field is None and v.key is None for v in variables):
        return None
    is_patient = dataset.model is Patient
    prefix = "" if is_patient else "patient__"
    columns: list[_SqlText] = []
    hazards: list[_SqlText] = []
    for v in variables:
        if v.name == SUBJECT:
            template = "COALESCE(NULLIF({0}, ''), NULLIF({1}, ''))"
            paths = (f"{prefix}subject_id", f"{prefix}screening_number")
            columns.append(_SqlText(template, *paths))
        elif v.name == SITE:
            columns.append(_SqlText("NULLIF({0}, '')", f"{prefix}site__code"))
        elif v.name == VISIT:
            columns.append(_SqlText("NULLIF({0}, '')", "visit__definition__code"))
        elif v.name == RECORD:
            columns.append(_SqlText("{0}", "pk"))
        else:
            field = next(f for f in dataset.model._meta.concrete_fields if f.attname == v.field)
            sql = _copy_column(field)
            if sql is None:
                return None
            columns.append(_SqlText(sql[0], v.field))
            if sql[1]:
                hazards.append(_SqlText(sql[1], v.field, output_field=models.BooleanField()))
    qs = dataset_queryset(user=user, dataset=dataset, flt=flt)
    try:
        ids_sql, ids_params = (
            export_patients(user=user, flt=flt).values("pk").query.sql_with_params()
        )
        hazard_sql, hazard_params = "SELECT 1 WHERE false", ()
        if hazards:
            # Does any row hold a value the SQL above would write differently?
            paths = [h.get_source_expressions()[0].name for h in hazards]
            either = " OR ".join(
                f"({h.sql_template.replace('{0}', f'{{{i}}}')})" for i, h in enumerate(hazards)
            )
            hazard = _SqlText(either, *paths, output_field=models.BooleanField())
            flagged = qs.alias(_hazard=hazard).filter(_hazard=True).order_by().values("pk")
            hazard_sql, hazard_params = flagged.query.sql_with_params()
        names = {f"c{i}": c for i, c in enumerate(columns)}
        ids = object()  # stands for the array parameter until each chunk binds it
        meta = dataset.model._meta
        column = meta.get_field("id" if is_patient else "patient").column
        key = f"{connection.ops.quote_name(meta.db_table)}.{connection.ops.quote_name(column)}"
        # Quoted names of the model's own table and column; the patients are a bound parameter.
        chunk = RawSQL(f"{key} = ANY(%s::bigint[])", (ids,), output_field=models.BooleanField())  # noqa: S611
        rows = qs.annotate(**names).values_list(*names)
        whole_sql, whole_params = rows.query.sql_with_params()
        sql, params = rows.alias(_chunk=chunk).filter(_chunk=True).query.sql_with_params()
    except EmptyResultSet:
        return _CopyPlan(empty=True)
    return _CopyPlan(
        # Both subqueries are compiled querysets: their parameters stay bound parameters.
        plan_sql=f"SELECT ARRAY({ids_sql}), EXISTS({hazard_sql})",
        plan_params=(*ids_params, *hazard_params),
        copy_sql=sql,
        copy_params=tuple(params),
        slot=next(i for i, p in enumerate(params) if p is ids),
        whole_sql=whole_sql,
        whole_params=tuple(whole_params),
    )


def _copy_chunks(
    sql: str, params: list, slot: int | None, chunks: list[list[int]]
) -> Iterator[bytes]:
    for chunk in chunks:
        if slot is not None:
            params[slot] = "{" + ",".join(map(str, chunk)) + "}"  # an array literal of ints
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


# --- ODM: each record's transactional trail written by PostgreSQL (#16) --------------------


def _lit(text: str) -> str:
    """A SQL string literal of a constant of the writer's markup (no parameter: no '%')."""
    if "%" in text:
        raise ValueError("markup with '%' cannot be inlined")
    return "'" + text.replace("'", "''") + "'"


def _xml_escape(sql: str) -> str:
    """``xml.sax.saxutils.escape`` in SQL: &, < and >."""
    return f"replace(replace(replace({sql}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')"


def _xml_quoteattr(sql: str) -> str:
    """``xml.sax.saxutils.quoteattr`` in SQL: escaped, tab and line ends as entities, in
    double quotes, or in single quotes when the value holds a double quote and no single
    one (else its double quotes become &quot;)."""
    body = (
        f"replace(replace(replace({_xml_escape(sql)}, E'\\n', '&#10;'), "
        "E'\\r', '&#13;'), E'\\t', '&#9;')"
    )
    return (
        f"(CASE WHEN strpos({sql}, '\"') > 0 AND strpos({sql}, '''') = 0 "
        f"THEN '''' || {body} || '''' ELSE '\"' || replace({body}, '\"', '&quot;') || '\"' END)"
    )


def _odm_text(field: models.Field, column: str) -> tuple[str, str] | None:
    """(the item's text in SQL, '' for missing; its hazard condition or '') of ``column``."""
    sql = _copy_column(field)
    if sql is None:
        return None
    text, hazard = (part.replace("{0}", column) for part in sql)
    return f"coalesce(({text})::text, '')", hazard


def dataset_odm_trails(
    *, user, dataset: Dataset, flt: ExportFilter, writer, chunk_size: int = 200
) -> Iterator[tuple] | None:
    """The records of ``dataset`` in the order of ``dataset_rows(context=True)``, each as its
    ``CONTEXT`` columns then its whole transactional trail as text: what ``odm._trail``
    writes from the record and its history versions, written by PostgreSQL in one query
    (the versions of all records in one pass, joined to the records; no version reaches
    Python). ``writer``: the dataset's ``formats.ItemGroupWriter``, whose markup the SQL
    repeats.

    None (the Python path) on other databases, when an item has no source column (the
    unblinded allocation), has no exact SQL text, or a value of the table or its history
    would be written differently (one query)."""
    if connection.vendor != "postgresql" or not writer.items:
        return None
    if len(writer.history_index) != len(writer.items):
        return None
    model, history = dataset.model, dataset.model.history.model
    is_patient = model is Patient
    columns: dict[str, _SqlText | F] = {}
    versions: list[str] = []
    hazards: list[str] = []
    for j, variable in enumerate(writer.items):
        field = next(f for f in model._meta.concrete_fields if f.attname == variable.field)
        past = next(f for f in history._meta.concrete_fields if f.attname == variable.field)
        now = _odm_text(field, "{0}")
        then = _odm_text(past, f'h."{past.column}"')
        if now is None or then is None:
            return None
        columns[f"c{j}"] = _SqlText(now[0], variable.field)
        versions.append(then[0])
        if then[1]:
            hazards.append(then[1])
    if hazards:
        either = " OR ".join(f"({h})" for h in hazards)
        table = connection.ops.quote_name(history._meta.db_table)
        # The history table holds every value the table ever held (the current ones too).
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT EXISTS(SELECT 1 FROM {table} h WHERE {either})")  # noqa: S608
            if cursor.fetchone()[0]:
                return None
    head = ["pk", "pk"] if is_patient else ["patient_id", "pk"]
    if dataset.per_visit:
        head += ["visit_id", "visit__definition_id", "visit__target_date", "visit__scheduled"]
    qs = dataset_queryset(user=user, dataset=dataset, flt=flt)
    order = [name for name in qs.query.order_by]
    if any(name.startswith("-") for name in order):
        raise ValueError("ascending orders only")
    named = {f"k{n}": F(path) for n, path in enumerate(head)}
    named |= {f"o{n}": F(path) for n, path in enumerate(order)}
    try:
        inner, inner_params = (
            qs.annotate(**named, **columns)
            .order_by()
            .values_list(*named, *columns)
            .query.sql_with_params()
        )
        scope, scope_params = (
            export_patients(user=user, flt=flt).values("pk").query.sql_with_params()
        )
    except EmptyResultSet:
        return iter(())
    sql = _trails_sql(
        dataset, writer, versions, inner=inner, scope=scope, n_head=len(head), n_order=len(order)
    )
    rows = _raw_iterator(sql, (*inner_params, *scope_params), chunk_size)
    if dataset.per_visit:
        return rows
    return ((*row[:2], None, None, None, None, *row[2:]) for row in rows)


def _concat(parts: Iterator[str]) -> str:
    """concat() of the parts (NULL as ''): one copy of the text, where a chain of || copies
    the growing text once per part; at most 100 arguments a call."""
    parts = list(parts)
    calls = [f"concat({', '.join(parts[i : i + 100])})" for i in range(0, len(parts), 100)]
    return calls[0] if len(calls) == 1 else f"concat({', '.join(calls)})"


def _raw_iterator(sql: str, params: tuple, chunk_size: int) -> Iterator[tuple]:
    """The rows of ``sql`` through a server-side cursor, ``chunk_size`` at a time (as
    ``QuerySet.iterator``: memory flat whatever the number of rows)."""
    connection.ensure_connection()
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk_size):
            yield from rows


def _trails_sql(
    dataset: Dataset,
    writer,
    versions: list[str],
    *,
    inner: str,
    scope: str,
    n_head: int,
    n_order: int,
) -> str:
    """The SQL of ``odm._trail`` for every record: ``inner`` selects the records (``k*``
    context, ``o*`` order, ``c*`` item texts), ``scope`` the export's patients; each
    version's item texts are ``versions`` (of the history row ``h``).

    Built from compiled querysets (their values stay bound parameters), quoted names of
    the models' tables and columns, and the writer's markup as literals (``_lit``): no
    value read or received reaches this text."""
    n = len(writer.items)
    close = _lit("</ItemGroupData>")

    def value(transaction: str, j: int, text: str) -> str:
        markup = _lit(writer.value[transaction][j])
        quoted = f"'\"' || {text} || '\"'" if writer.plain[j] else _xml_quoteattr(text)
        return f"concat({markup}, {quoted}, '/>')"

    def item(transaction: str, j: int, text: str) -> str:  # '' (a value cleared): IsNull
        null = _lit(writer.null[transaction][j])
        return f"(CASE WHEN {text} = '' THEN {null} ELSE {value(transaction, j, text)} END)"

    source = _lit(escape_xml(f"{dataset.model._meta.label_lower} history "))
    audit = (
        "'<AuditRecord><UserRef UserOID=\"' || CASE WHEN coalesce(w.u, 0) = 0 "
        "THEN 'USR.SYSTEM' ELSE 'USR.' || w.u END || '\"/><LocationRef LocationOID=' || "
        "w.loc || '/><DateTimeStamp>' || "
        + _DATETIME.replace("{0}", "w.d")
        + " || '</DateTimeStamp>' || CASE WHEN coalesce(w.r, '') <> '' THEN "
        "'<ReasonForChange>' || "
        + _xml_escape("w.r")
        + f" || '</ReasonForChange>' ELSE '' END || '<SourceID>' || {source} || w.i || "
        "'</SourceID></AuditRecord>'"
    )
    # The first version (or the first after a deletion): every item with a value.
    inserted = _concat(
        f"CASE WHEN w.t{j} <> '' THEN {value('Insert', j, f'w.t{j}')} END" for j in range(n)
    )
    # A later one: the items whose text changed since the previous version.
    updated = _concat(
        f"CASE WHEN w.t{j} <> w.p{j} THEN {item('Update', j, f'w.t{j}')} END" for j in range(n)
    )
    instruction = (
        "CASE WHEN w.k = '-' THEN NULL "  # noqa: S608 (see _trails_sql)
        f"WHEN w.pk IS NULL OR w.pk = '-' THEN {_lit(writer.open['Insert'])} || {audit} || "
        f"{inserted} || {close} "
        f"ELSE (SELECT CASE WHEN x.c <> '' THEN {_lit(writer.open['Update'])} || {audit} || "
        f"x.c || {close} END FROM (SELECT {updated} AS c) x) END"
    )
    texts = ", ".join(f"{t} AS t{j}" for j, t in enumerate(versions))
    previous = ", ".join(f"lag(y.t{j}) OVER o AS p{j}" for j in range(n))
    table = connection.ops.quote_name(dataset.model.history.model._meta.db_table)
    patient = "h.id" if dataset.model is Patient else "h.patient_id"
    w_cols = ", ".join(f"w.t{j}" for j in range(n))
    lasts = ", ".join(f"max(v.t{j}) FILTER (WHERE v.last) AS l{j}" for j in range(n))
    # Every version of the export's patients' records (a record's versions are those of
    # its patient, as the Python path reads them), with the location of that patient now.
    versions_sql = (
        f"SELECT {patient} AS pid, h.id, h.history_date AS d, h.history_id AS i, "  # noqa: S608 (see _trails_sql)
        "h.history_type AS k, h.history_user_id AS u, h.history_change_reason AS r, "
        + _xml_quoteattr("('LOC.' || s.code)")
        + f" AS loc, {texts} FROM {table} h "
        f"JOIN trials_patient p ON p.id = {patient} JOIN trials_site s ON s.id = p.site_id "
        f"WHERE {patient} IN ({scope})"
    )
    trails = (
        "SELECT v.pid, v.id, coalesce(string_agg(v.g, '' ORDER BY v.d, v.i), '') AS parts, "  # noqa: S608 (see _trails_sql)
        f"max(v.k) FILTER (WHERE v.last) AS lk, {lasts} FROM ("
        f"SELECT w.pid, w.id, w.d, w.i, w.k, w.last, {w_cols}, {instruction} AS g FROM ("
        "SELECT y.*, lag(y.k) OVER o AS pk, "
        "row_number() OVER (PARTITION BY y.pid, y.id ORDER BY y.d DESC, y.i DESC) = 1 AS last, "
        f"{previous} FROM ({versions_sql}) y "
        "WINDOW o AS (PARTITION BY y.pid, y.id ORDER BY y.d, y.i)) w) v GROUP BY v.pid, v.id"
    )
    # Values no version explains (the state after the last version; '' after a deletion
    # or without history): one last instruction, without an AuditRecord.
    rest = {
        t: _concat(
            f"CASE WHEN q.c{j} <> (CASE WHEN a.lk IS NULL OR a.lk = '-' THEN '' "
            f"ELSE a.l{j} END) THEN {item(t, j, f'q.c{j}')} END"
            for j in range(n)
        )
        for t in ("Insert", "Update")
    }
    keys = ", ".join(f"r.k{m}" for m in range(n_head))
    ordering = ", ".join(f"r.o{m}" for m in range(n_order))
    return (
        f"SELECT {keys}, r.parts || CASE WHEN r.rest <> '' OR r.parts = '' "  # noqa: S608 (see _trails_sql)
        f"THEN r.open || r.rest || {close} ELSE '' END FROM ("
        "SELECT q.*, coalesce(a.parts, '') AS parts, "
        f"CASE WHEN a.parts IS NULL OR a.parts = '' THEN {_lit(writer.open['Insert'])} "
        f"ELSE {_lit(writer.open['Update'])} END AS open, "
        f"CASE WHEN a.parts IS NULL OR a.parts = '' THEN {rest['Insert']} "
        f"ELSE {rest['Update']} END AS rest "
        f"FROM ({inner}) q LEFT JOIN ({trails}) a ON a.pid = q.k0 AND a.id = q.k1) r "
        f"ORDER BY {ordering}"
    )
