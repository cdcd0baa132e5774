"""Optimistic concurrency for every editable record: a ``version`` counted up on each save.

A page or API client sends back the version it read. A save from a stale copy is refused with
``StaleEdit``, which lists, field by field, what the other person changed since then (from
the history row of the version this user saw), so nobody's correction is silently reverted
(issue 11: weight 70 -> 64 undone by a stale heart-rate save). ``save_audited`` also refuses
any in-memory instance older than the row, whichever path saves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

VERSION_FIELD = "lock_version"
# Bookkeeping columns never shown as "changed by someone else".
_NOT_COMPARED = {
    "id",
    VERSION_FIELD,
    "created_at",
    "updated_at",
    "updated_by",
    "completed_at",
    "patient",
    "visit",
    "trial",
    "site",
}


@dataclass(frozen=True)
class FieldChange:
    name: str
    label: str
    seen: Any  # the value when this user opened the record (choice label for display)
    current: Any  # the value the other person saved (choice label for display)
    seen_raw: Any = None  # stored values, for the API
    current_raw: Any = None


class StaleEdit(ValidationError):
    """The record changed since this user read it; nothing was saved."""

    def __init__(self, *, instance: models.Model, expected: int, changes: list[FieldChange]):
        last = instance.history.order_by("-history_date", "-history_id").first()
        who = ""
        if last is not None and last.history_user is not None:
            who = last.history_user.get_full_name() or last.history_user.get_username()
        by = f" by {who}" if who else ""
        super().__init__(
            {
                VERSION_FIELD: (
                    f"This record was changed{by} after you opened it (you had version "
                    f"{expected}, it is now version {instance.lock_version}). Nothing was saved: "
                    "check their changes below, then save again to keep your values."
                )
            },
            code="stale",
        )
        self.instance = instance
        self.expected = expected
        self.current_version = instance.lock_version
        self.changes = changes
        self.changed_by = who


def is_versioned(instance: models.Model) -> bool:
    return any(f.name == VERSION_FIELD for f in instance._meta.concrete_fields)


def _display(instance: models.Model, field: models.Field) -> Any:
    value = getattr(instance, field.attname)
    if field.choices and value not in (None, ""):
        return dict(field.flatchoices).get(value, value)
    return value


def changes_since(instance: models.Model, version: int) -> list[FieldChange]:
    """Fields whose stored value differs from what they were at ``version`` (history)."""
    seen = instance.history.filter(lock_version=version).order_by("-history_id").first()
    changes = []
    for field in instance._meta.concrete_fields:
        if field.name in _NOT_COMPARED or field.primary_key:
            continue
        old = getattr(seen, field.attname, None) if seen is not None else None
        if seen is None or old != getattr(instance, field.attname):
            label = str(field.verbose_name)
            changes.append(
                FieldChange(
                    name=field.name,
                    label=label[:1].upper() + label[1:],
                    seen=_display(seen, field) if seen is not None else None,
                    current=_display(instance, field),
                    seen_raw=old,
                    current_raw=getattr(instance, field.attname),
                )
            )
    return changes


class VersionRequired(ValidationError):
    """An API update of an existing record without the version it was read at."""

    def __init__(self, *, instance: models.Model):
        super().__init__(
            {
                VERSION_FIELD: (
                    f'Send the version you read: If-Match: "v{instance.lock_version}" '
                    f"or lock_version={instance.lock_version}."
                )
            },
            code="version_required",
        )
        self.current_version = instance.lock_version


def check_version(
    instance: models.Model | None, expected: int | None, *, required: bool = False
) -> None:
    """Raise ``StaleEdit`` when ``instance`` (read under a row lock) is past ``expected``;
    ``VersionRequired`` when ``required`` and no version was given for an existing record."""
    if expected is None and required and instance is not None and instance.pk is not None:
        raise VersionRequired(instance=instance)
    if expected is None or ((instance is None or instance.pk is None) and expected == 0):
        return
    if instance is None or instance.pk is None:
        raise ValidationError({VERSION_FIELD: "This record does not exist any more."})
    if instance.lock_version != expected:
        raise StaleEdit(
            instance=instance, expected=expected, changes=changes_since(instance, expected)
        )


def version_bump(instance: models.Model, *, row_locked: bool = False) -> None:
    """Lock the row, refuse a stale in-memory copy, count the version up (in a transaction).

    ``row_locked``: ``instance`` was read with ``select_for_update`` in this transaction (the
    crf save path), so the stored version is the one in memory and no other writer can
    change it before the commit: counted up without reading it again (#16).
    """
    if instance.pk is None:
        instance.lock_version = 1
        return
    if row_locked:
        instance.lock_version += 1
        return
    model = type(instance)
    stored = (
        model._base_manager.select_for_update()
        .filter(pk=instance.pk)
        .values_list(VERSION_FIELD, flat=True)
        .first()
    )
    if stored is None:  # a new row with a preset primary key
        instance.lock_version = 1
        return
    if instance.lock_version != stored:
        current = model._base_manager.get(pk=instance.pk)
        raise StaleEdit(
            instance=current,
            expected=instance.lock_version,
            changes=changes_since(current, instance.lock_version),
        )
    instance.lock_version = stored + 1


def parse_if_match(header: str | None) -> int | None:
    """The version in an ``If-Match: "v3"`` (or ``W/"v3"``, ``3``) header; None if absent."""
    if not header:
        return None
    value = header.split(",")[0].strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"').lstrip("v")
    if not value.isdigit() or len(value) > 9:
        raise ValidationError({"If-Match": 'Send the ETag you read, e.g. If-Match: "v3".'})
    return int(value)


def etag(instance: models.Model) -> str:
    return f'"v{instance.lock_version}"'
