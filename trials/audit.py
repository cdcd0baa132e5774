"""Audit-trail helpers shared by every service that writes clinical data.

django-simple-history writes the history row on ``save()``; these helpers make sure a reason
for change is present when the record was already complete (ICH E6(R3) 4.2.2, Annex 11 §9)
and is stored on that history row (``_change_reason``, set before save: simple-history #976).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import translation

REASON_FIELD = "reason_for_change"


MIN_REASON_CHARS = 3  # letters or digits: "." or "--" say nothing (issue 11)


def reason_is_meaningful(reason: str) -> bool:
    return sum(ch.isalnum() for ch in reason) >= MIN_REASON_CHARS


def meaningful_reason(
    reason: str, *, field: str = "reason", message: str = "Give the reason (a few words)."
) -> str:
    """The stripped reason, or a field error when it says nothing (same rule as above)."""
    reason = (reason or "").strip()
    if not reason_is_meaningful(reason):
        raise ValidationError({field: message})
    return reason


def require_reason(*, was_complete: bool, reason: str) -> str:
    """Return the cleaned reason; raise a field error when a complete form changes without a
    meaningful one (at least a few letters or digits)."""
    reason = (reason or "").strip()
    if was_complete and not reason_is_meaningful(reason):
        raise ValidationError(
            {
                REASON_FIELD: "This form was complete: give a reason for the change "
                f"(at least {MIN_REASON_CHARS} letters or digits)."
            }
        )
    return reason


def save_audited(
    instance: models.Model,
    *,
    reason: str,
    user=None,
    proven: Iterable[str] = (),
    row_locked: bool = False,
) -> models.Model:
    """Validate and save ``instance`` with ``reason`` stored on its history row.

    A versioned record (``trials.concurrency``) is saved only if nobody saved it since it was
    read, and its version counts up: no silent last-write-wins on any path. ``proven`` names
    fields the caller has already checked against the database (a foreign key to a row it
    read and locked, a one-to-one it looked up under that lock): their existence and
    uniqueness lookups are skipped (#16), every other field is validated as usual.
    ``row_locked``: the caller read ``instance`` with ``select_for_update`` in the current
    transaction, so its version is the stored one and the version check needs no read.
    """
    from .concurrency import is_versioned, version_bump

    instance.full_clean(exclude=list(proven) or None)
    instance._change_reason = reason or None
    if user is not None and getattr(user, "is_authenticated", False):
        instance._history_user = user
    # Joins the caller's transaction without a savepoint (two round trips per save, #16);
    # a failure here aborts the caller's whole write, which is what every caller wants.
    with transaction.atomic(savepoint=False):
        if is_versioned(instance):
            version_bump(instance, row_locked=row_locked)
        instance.save()
    return instance


# --- inserts gathered per write (#16) ------------------------------------------------------

_pending_inserts: ContextVar[list[models.Model] | None] = ContextVar(
    "pending_inserts", default=None
)


def insert(row: models.Model) -> None:
    """Insert an append-only row (a change-feed event) now, or with the other rows of the
    current ``inserts_gathered`` block, in one statement per model at its end."""
    pending = _pending_inserts.get()
    if pending is None:
        row.save(force_insert=True)
    else:
        pending.append(row)


@contextmanager
def inserts_gathered() -> Iterator[None]:
    """Gather the rows ``insert`` receives inside the block and bulk-insert them on leaving
    it (inside the caller's transaction: on an error nothing is inserted, as before)."""
    outer = _pending_inserts.get()
    if outer is not None:  # nested: the outermost block inserts everything
        yield
        return
    pending: list[models.Model] = []
    token = _pending_inserts.set(pending)
    try:
        yield
    finally:
        _pending_inserts.reset(token)
    by_model: dict[type[models.Model], list[models.Model]] = {}
    for row in pending:
        by_model.setdefault(type(row), []).append(row)
    for model, rows in by_model.items():
        model._default_manager.bulk_create(rows)


def changed_fields(old: models.Model | None, new: models.Model, fields: list[str]) -> list[str]:
    if old is None:
        return list(fields)
    return [f for f in fields if getattr(old, f) != getattr(new, f)]


def stored_text(text: Any) -> str:
    """A label as stored in audit text: in English whatever language the user reads, so the
    record does not depend on who wrote it (issue 17)."""
    with translation.override("en-gb"):
        return str(text)
