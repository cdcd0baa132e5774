"""Audit-trail reading: field-level changes (who, when, old → new, reason) per patient.

Each app registers the models whose history belongs to a patient, with the path from the
model to the patient and the fields that must never be shown in blinded views. The
allocation's arm is never registered here (randomization/ keeps its own guarded trail).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import models

ACTIONS = {"+": "created", "~": "changed", "-": "deleted"}
_REGISTRY: list[AuditSource] = []


@dataclass(frozen=True)
class AuditSource:
    model: type[models.Model]
    patient_path: str  # ORM path from the model to the patient id, e.g. "patient_id"
    hidden_fields: frozenset[str] = frozenset()
    # When set, only these fields are shown, and only the date and "pharmacy" as the author:
    # for records whose exact time or author could differ between arms (preparations).
    shown_fields: frozenset[str] | None = None


@dataclass
class Change:
    field: str
    label: str
    old: Any
    new: Any


@dataclass
class AuditEntry:
    when: datetime
    user: str
    model: str
    object_label: str
    action: str
    reason: str
    changes: list[Change] = field(default_factory=list)
    date_only: bool = False


def register(
    model: type[models.Model],
    *,
    patient_path: str,
    hidden_fields: tuple[str, ...] = (),
    shown_fields: tuple[str, ...] | None = None,
) -> None:
    if any(source.model is model for source in _REGISTRY):
        return
    shown = frozenset(shown_fields) if shown_fields is not None else None
    _REGISTRY.append(AuditSource(model, patient_path, frozenset(hidden_fields), shown))


def sources() -> list[AuditSource]:
    return list(_REGISTRY)


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


def entries_for(source: AuditSource, patient_id: int) -> list[AuditEntry]:
    """Field-level entries for one model's history of one patient (one query)."""
    history_model = source.model.history.model
    path = source.patient_path.replace(".", "__")
    rows = list(
        history_model.objects.filter(**{path: patient_id})
        .select_related("history_user")
        .order_by("id", "history_date", "history_id")
    )
    fields = [
        f
        for f in source.model._meta.concrete_fields
        if f.attname not in SKIP
        and f.name not in source.hidden_fields
        and (source.shown_fields is None or f.name in source.shown_fields)
    ]
    coarse = source.shown_fields is not None
    previous: dict[Any, Any] = {}
    entries: list[AuditEntry] = []
    for row in rows:
        before = previous.get(row.id)
        changes = [
            Change(
                f.name,
                str(f.verbose_name),
                getattr(before, f.attname) if before else None,
                getattr(row, f.attname),
            )
            for f in fields
            if before is None or getattr(before, f.attname) != getattr(row, f.attname)
        ]
        if before is None and row.history_type == "+":
            changes = [c for c in changes if c.new not in (None, "", [], {})]
        previous[row.id] = row
        when, user = row.history_date, row.history_user
        entries.append(
            AuditEntry(
                when=when.replace(hour=0, minute=0, second=0, microsecond=0) if coarse else when,
                user="pharmacy" if coarse else (user.get_username() if user else "system"),
                model=str(source.model._meta.verbose_name),
                object_label=f"{source.model._meta.verbose_name} #{row.id}",
                action=ACTIONS.get(row.history_type, row.history_type),
                reason=row.history_change_reason or "",
                changes=changes,
                date_only=coarse,
            )
        )
    return entries
