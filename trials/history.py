"""Audit-trail reading: field-level changes (who, when, old → new, reason) per patient.

Each app registers the models whose history belongs to a patient, with the path from the
model to the patient and the fields that must never be shown in blinded views. The
allocation's arm is never registered here (randomization/ keeps its own guarded trail).

The trail reads like an audit trail, not a database dump (issue 14; 21 CFR 11.10(e),
Annex 11 §9): field labels, choices as their labels, related records by their human
identifiers (never raw ids), the author's full name and role, bookkeeping fields hidden and a
creation shown compactly. Queries are bounded: per source, one query for the rows (each
annotated with its previous version's id), one for those previous versions, then one per
related model and one for the authors, whatever the number of changes.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import OuterRef, Q, Subquery
from django.dispatch import Signal
from django.utils.text import capfirst
from simple_history.manager import HistoryDescriptor

ACTIONS = {"+": "created", "~": "changed", "-": "deleted"}
ENTERED_IN_ERROR = "entered in error"
_REGISTRY: list[AuditSource] = []

# Bookkeeping shown elsewhere on the row (who, when, which record) or meaningless to a reader.
BOOKKEEPING = frozenset(
    {
        "id",
        "patient",
        "visit",
        "created_at",
        "updated_at",
        "updated_by",
        "completed_at",
        "lock_version",  # optimistic-concurrency counter (issue 11), not clinical data
        "computed_at",
        "source_type",
        "source_id",
        "scheduled",
    }
)
# JSON lists of eligibility criterion codes, shown as "EXC12 HIV infection".
CRITERION_LISTS = frozenset({"screen_failure_reasons", "failed_criteria"})
# Writes that simple-history's per-row signal does not announce, for listeners above this
# app (the change feed in ``exports``, which ``trials`` and ``crf`` do not import):
# ``bulk_history_created(sender=model, instances=[...], history_instances=[...], using=alias)``
# after ``bulk_history_create``; ``derived_record_saved(sender=model, instance=..., created=...,
# at=...)`` for a derived record that keeps no history table (``ScoreRecord``).
bulk_history_created = Signal()
derived_record_saved = Signal()

EMPTY = "∅"


@dataclass(frozen=True)
class AuditSource:
    model: type[models.Model]
    patient_path: str  # ORM path from the model to the patient id, e.g. "patient_id"
    hidden_fields: frozenset[str] = frozenset()
    # When set, only these fields are shown, and only the date and "pharmacy" as the author:
    # for records whose exact time or author could differ between arms (preparations).
    shown_fields: frozenset[str] | None = None
    # Shown only to whom the owning app's predicate allows, ``visible_to(user, patient)``
    # (patient None: the trial-wide log). The allocation: its time order per stratum is a
    # clue, so ``randomization`` registers it with its blinding rule.
    visible_to: Callable[[Any, Any], bool] | None = None
    # Field labels from the app's data dictionary (else the model's verbose names).
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def unblinded_only(self) -> bool:
        return self.visible_to is not None

    def field_label(self, f: models.Field) -> str:
        return self.labels.get(f.name) or capfirst(str(f.verbose_name))

    @property
    def key(self) -> str:
        return self.model._meta.label_lower

    @property
    def label(self) -> str:
        return str(self.model._meta.verbose_name)

    @property
    def site_path(self) -> str:
        """ORM path from the historical row to the patient's site id."""
        path = self.patient_path.replace(".", "__")
        return "site_id" if path == "id" else f"{path.removesuffix('_id')}__site_id"

    def fields(self) -> list[models.Field]:
        """The fields a reader sees, in declaration order."""
        return [
            f
            for f in self.model._meta.concrete_fields
            if f.attname not in SKIP
            and f.name not in BOOKKEEPING
            and f.name not in self.hidden_fields
            and (self.shown_fields is None or f.name in self.shown_fields)
        ]


@dataclass
class Change:
    field: str
    label: str
    old: str
    new: str


@dataclass
class AuditEntry:
    when: dt.datetime
    user: str
    model: str
    object_label: str
    action: str
    reason: str
    changes: list[Change] = field(default_factory=list)
    date_only: bool = False
    role: str = ""
    patient_id: int | None = None
    source_key: str = ""
    object_id: Any = None
    history_id: int = 0


@dataclass(frozen=True)
class Filters:
    """What a reader narrows the trail to; every part optional."""

    username: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    form: str = ""  # an AuditSource.key, e.g. "crf.vitalsigns"
    field: str = ""  # a field name of that form
    record: int | None = None  # one record of ``form``
    visit: int | None = None  # a visit and the forms recorded at it


def register(
    model: type[models.Model],
    *,
    patient_path: str,
    hidden_fields: tuple[str, ...] = (),
    shown_fields: tuple[str, ...] | None = None,
    visible_to: Callable[[Any, Any], bool] | None = None,
    labels: Mapping[str, str] | None = None,
) -> None:
    if any(source.model is model for source in _REGISTRY):
        return
    shown = frozenset(shown_fields) if shown_fields is not None else None
    _REGISTRY.append(
        AuditSource(
            model,
            patient_path,
            frozenset(hidden_fields),
            shown,
            visible_to,
            dict(labels or {}),
        )
    )


def sources(*, unblinded: bool = True) -> list[AuditSource]:
    """Every source, or (``unblinded=False``) those without a visibility rule."""
    return [s for s in _REGISTRY if unblinded or not s.unblinded_only]


def sources_for(*, user, patient=None) -> list[AuditSource]:
    """The sources this user may read (for one patient, or trial-wide when patient is None)."""
    return [s for s in _REGISTRY if s.visible_to is None or s.visible_to(user, patient)]


def source_get(key: str) -> AuditSource | None:
    return next((s for s in _REGISTRY if s.key == key), None)


SKIP = {
    "id",
    "history_id",
    "history_date",
    "history_change_reason",
    "history_type",
    "history_user",
    "history_user_id",
    "history_relation",
}


def _has_field(model: type[models.Model], name: str) -> bool:
    return any(f.name == name for f in model._meta.concrete_fields)


def history_queryset(source: AuditSource, filters: Filters) -> models.QuerySet | None:
    """The source's historical rows matching ``filters`` (None when the source is excluded)."""
    if filters.form and filters.form != source.key:
        return None
    history_model = source.model.history.model
    qs = history_model.objects.all()
    if filters.username:
        qs = qs.filter(history_user__username=filters.username)
    if filters.date_from:
        qs = qs.filter(history_date__date__gte=filters.date_from)
    if filters.date_to:
        qs = qs.filter(history_date__date__lte=filters.date_to)
    if filters.record is not None:
        qs = qs.filter(id=filters.record)
    if filters.visit is not None:
        if _has_field(source.model, "visit"):
            qs = qs.filter(visit_id=filters.visit)
        elif source.model._meta.model_name == "visit":
            qs = qs.filter(id=filters.visit)
        else:
            return None
    return qs


def with_previous(qs: models.QuerySet) -> list:
    """Evaluate ``qs`` and attach each row's previous version as ``_previous`` (2 queries)."""
    previous = Subquery(
        qs.model.objects.filter(id=OuterRef("id"), history_id__lt=OuterRef("history_id"))
        .order_by("-history_id")
        .values("history_id")[:1]
    )
    rows = list(qs.annotate(previous_history_id=previous))
    wanted = [r.previous_history_id for r in rows if r.previous_history_id]
    found = qs.model.objects.in_bulk(wanted) if wanted else {}
    for row in rows:
        row._previous = found.get(row.previous_history_id)
    return rows


# --- display ---------------------------------------------------------------------------------


def user_label(user) -> str:
    if user is None:
        return "system"
    full = user.get_full_name().strip()
    return f"{full} ({user.get_username()})" if full else user.get_username()


def _role_label(user) -> str:
    from .roles import Role

    if user is None:
        return ""
    names = {g.name for g in user.groups.all()}  # prefetched
    labels = [str(role.label) for role in Role if role.value in names]
    return ", ".join(labels) or ("superuser" if user.is_superuser else "")


class Lookups:
    """Human labels of related records and authors, resolved in one query per model."""

    def __init__(self) -> None:
        self.wanted: dict[type[models.Model], set] = {}
        self.labels: dict[tuple[type[models.Model], Any], str] = {}
        self.user_ids: set[int] = set()
        self.users: dict[int, Any] = {}

    def want(self, model: type[models.Model], pk: Any) -> None:
        if pk is not None:
            self.wanted.setdefault(model, set()).add(pk)

    def resolve(self) -> None:
        from django.contrib.auth import get_user_model

        user_model = get_user_model()
        self.user_ids |= self.wanted.pop(user_model, set())
        if self.user_ids:
            self.users = user_model.objects.prefetch_related("groups").in_bulk(self.user_ids)
        for model, pks in self.wanted.items():
            related = [
                f.name
                for f in model._meta.concrete_fields
                if f.is_relation and f.many_to_one and not f.null
            ]
            for obj in model._default_manager.select_related(*related).filter(pk__in=pks):
                self.labels[(model, obj.pk)] = str(obj)
        for pk, user in self.users.items():
            self.labels[(user_model, pk)] = user_label(user)

    def label(self, model: type[models.Model], pk: Any) -> str:
        return self.labels.get((model, pk), f"(removed {model._meta.verbose_name})")


def display(f: models.Field, value: Any, lookups: Lookups) -> str:
    """One stored value as a reader expects it: labels for codes, names for records."""
    if value is None or value == "" or value == []:
        return EMPTY
    if f.is_relation:
        return lookups.label(f.related_model, value)
    if f.choices:
        return str(dict(f.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, dt.datetime):
        from django.utils import timezone

        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if f.name in CRITERION_LISTS and isinstance(value, list):
        from .eligibility import criterion_labels

        labels = criterion_labels()
        return "; ".join(f"{code} {labels.get(code, '')}".strip() for code in value)
    if f.name == "out_of_range_confirmed" and isinstance(value, list):
        names = {x.name: str(x.verbose_name) for x in f.model._meta.concrete_fields}
        return "; ".join(names.get(v, v) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _record_label(source: AuditSource, row, lookups: Lookups) -> str:
    model = source.model
    name = source.label
    if _has_field(model, "visit"):
        return (
            f"{name} — {lookups.label(model._meta.get_field('visit').related_model, row.visit_id)}"
        )
    if model._meta.model_name == "visit":
        field_ = model._meta.get_field("definition")
        return f"visit — {lookups.label(field_.related_model, row.definition_id)}"
    if hasattr(row, "term"):
        return f"{name} “{row.term or '(no term)'}”"
    if _has_field(model, "label") and row.label:
        return f"{name} — {row.label}"
    return name


def sort_time(source: AuditSource, when: dt.datetime) -> dt.datetime:
    """The time a row is shown and ordered by: only the date for coarse sources, so not even
    its place among other changes tells a blinded reader when a preparation was made."""
    if source.shown_fields is None:
        return when
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


def entries_from_rows(source: AuditSource, rows: list, lookups: Lookups) -> list[AuditEntry]:
    """Entries of rows prepared by ``with_previous`` (lookups already resolved)."""
    fields = source.fields()
    coarse = source.shown_fields is not None
    entries = []
    for row in rows:
        before = row._previous
        changed = [
            f
            for f in fields
            if before is None or getattr(before, f.attname) != getattr(row, f.attname)
        ]
        changes = [
            Change(
                f.name,
                source.field_label(f),
                display(f, getattr(before, f.attname), lookups) if before else EMPTY,
                display(f, getattr(row, f.attname), lookups),
            )
            for f in changed
        ]
        if before is None:  # a creation: only what was entered, compactly
            changes = [c for c in changes if c.new != EMPTY]
        action = ACTIONS.get(row.history_type, row.history_type)
        if any(c.field == "entered_in_error" and c.new == "Yes" for c in changes) or any(
            c.field == "status" and c.new.lower() == ENTERED_IN_ERROR for c in changes
        ):
            action = ENTERED_IN_ERROR
        user = lookups.users.get(row.history_user_id)
        when = row.history_date
        entries.append(
            AuditEntry(
                when=sort_time(source, when),
                user="pharmacy" if coarse else user_label(user),
                role="" if coarse else _role_label(user),
                model=source.label,
                object_label=_record_label(source, row, lookups),
                action=action,
                reason=row.history_change_reason or "",
                changes=changes,
                date_only=coarse,
                patient_id=_patient_id(source, row),
                source_key=source.key,
                object_id=row.id,
                history_id=row.history_id,
            )
        )
    return entries


def _patient_id(source: AuditSource, row) -> int | None:
    path = source.patient_path
    return row.id if path == "id" else getattr(row, path, None)


def collect_lookups(source: AuditSource, rows: list, lookups: Lookups) -> None:
    """Register every related id and author the rows need (resolved later in one go)."""
    relations = [f for f in source.fields() if f.is_relation]
    visit = source.model._meta.get_field("visit") if _has_field(source.model, "visit") else None
    definition = (
        source.model._meta.get_field("definition")
        if source.model._meta.model_name == "visit"
        else None
    )
    for row in rows:
        if source.shown_fields is None:
            lookups.user_ids.add(row.history_user_id)
        for version in (row, row._previous):
            if version is None:
                continue
            for f in relations:
                lookups.want(f.related_model, getattr(version, f.attname))
        if visit is not None:
            lookups.want(visit.related_model, row.visit_id)
        if definition is not None:
            lookups.want(definition.related_model, row.definition_id)
    lookups.user_ids.discard(None)


def entries(pairs: list[tuple[AuditSource, list]], *, field_name: str = "") -> list[AuditEntry]:
    """Entries of several sources' rows, newest first, optionally narrowed to one field."""
    lookups = Lookups()
    for source, rows in pairs:
        collect_lookups(source, rows, lookups)
    lookups.resolve()
    found = [e for source, rows in pairs for e in entries_from_rows(source, rows, lookups)]
    if field_name:
        for entry in found:
            entry.changes = [c for c in entry.changes if c.field == field_name]
        found = [e for e in found if e.changes]
    return sorted(found, key=lambda e: (e.when, e.history_id), reverse=True)


def entries_for(source: AuditSource, patient_id: int) -> list[AuditEntry]:
    """Field-level entries for one model's history of one patient."""
    path = source.patient_path.replace(".", "__")
    qs = source.model.history.model.objects.filter(**{path: patient_id})
    return entries([(source, with_previous(qs))])


def patient_filter(source: AuditSource, qs: models.QuerySet, patient_id: int) -> models.QuerySet:
    return qs.filter(**{source.patient_path.replace(".", "__"): patient_id})


def site_filter(source: AuditSource, qs: models.QuerySet, site_ids) -> models.QuerySet:
    return qs.filter(Q(**{f"{source.site_path}__in": list(site_ids)}))


# --- immutability ----------------------------------------------------------------------------

IMMUTABLE_MESSAGE = "Audit-trail records cannot be changed or deleted (21 CFR 11.10(e))."


def history_models() -> list[type[models.Model]]:
    """Every historical model of the project (simple-history), wherever it is registered."""
    from django.apps import apps
    from simple_history.models import HistoricalChanges

    return [m for m in apps.get_models() if issubclass(m, HistoricalChanges)]


def _refuse_change(sender, instance, raw: bool = False, **kwargs) -> None:
    if not raw and not instance._state.adding:
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied(IMMUTABLE_MESSAGE)


def _refuse_delete(sender, instance, **kwargs) -> None:
    from django.core.exceptions import PermissionDenied

    raise PermissionDenied(IMMUTABLE_MESSAGE)


TRIGGER_FUNCTION = f"""
CREATE OR REPLACE FUNCTION liveradvance_history_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{IMMUTABLE_MESSAGE} (%)', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
"""


def install_triggers(using: str = "default", **kwargs) -> None:
    """PostgreSQL: refuse UPDATE and DELETE of history rows in the database itself, so a
    queryset ``update()``, raw SQL or a cascade cannot bypass the model guard."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(TRIGGER_FUNCTION)
        tables = set(connection.introspection.table_names(cursor))
        for model in history_models():
            table = model._meta.db_table
            if table not in tables:
                continue
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"DROP TRIGGER IF EXISTS history_immutable ON {quoted}")
            cursor.execute(
                f"CREATE TRIGGER history_immutable BEFORE UPDATE OR DELETE ON {quoted} "
                "FOR EACH ROW EXECUTE FUNCTION liveradvance_history_immutable()"
            )


def immutability_connect(app_config) -> None:
    """History rows are written once: saving an existing row or deleting one is refused on
    every path (app, admin, API, shell); on PostgreSQL a trigger refuses it too."""
    from django.db.models.signals import post_migrate, pre_delete, pre_save

    for model in history_models():
        uid = f"history_immutable.{model._meta.label_lower}"
        pre_save.connect(_refuse_change, sender=model, dispatch_uid=f"{uid}.save")
        pre_delete.connect(_refuse_delete, sender=model, dispatch_uid=f"{uid}.delete")
    post_migrate.connect(
        install_triggers, sender=app_config, dispatch_uid="history_immutable.triggers"
    )


# --- history managers built once ---------------------------------------------------------------


class _HistoryManagerOnce(HistoryDescriptor):
    """simple-history's ``instance.history``, with its manager class built once.

    ``HistoryDescriptor`` builds a new manager class (``from_queryset``, which inspects the
    queryset's methods) on every access, and every audited save reads it once to write its
    history row: ~1 ms of Python per save (#16). The class is the same each time.
    """

    @functools.cached_property
    def _manager_class(self) -> type:
        return self.manager_class.from_queryset(self.queryset_class)

    def __get__(self, instance, owner):
        return self._manager_class(self.model, instance)


def history_managers_once() -> None:
    """Swap each tracked model's history descriptor for one building its manager class once."""
    from django.apps import apps

    for model in apps.get_models():
        for name, value in list(vars(model).items()):
            if type(value) is HistoryDescriptor:
                once = _HistoryManagerOnce(
                    value.model, manager=value.manager_class, queryset=value.queryset_class
                )
                setattr(model, name, once)
