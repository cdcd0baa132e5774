"""Audit-trail helpers shared by every service that writes clinical data.

django-simple-history writes the history row on ``save()``; these helpers make sure a reason
for change is present when the record was already complete (ICH E6(R3) 4.2.2, Annex 11 §9)
and is stored on that history row (``_change_reason``, set before save: simple-history #976).
"""

from __future__ import annotations

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


def save_audited(instance: models.Model, *, reason: str, user=None) -> models.Model:
    """Validate and save ``instance`` with ``reason`` stored on its history row.

    A versioned record (``trials.concurrency``) is saved only if nobody saved it since it was
    read, and its version counts up: no silent last-write-wins on any path.
    """
    from .concurrency import is_versioned, version_bump

    instance.full_clean()
    instance._change_reason = reason or None
    if user is not None and getattr(user, "is_authenticated", False):
        instance._history_user = user
    with transaction.atomic():
        if is_versioned(instance):
            version_bump(instance)
        instance.save()
    return instance


def changed_fields(old: models.Model | None, new: models.Model, fields: list[str]) -> list[str]:
    if old is None:
        return list(fields)
    return [f for f in fields if getattr(old, f) != getattr(new, f)]


def stored_text(text: Any) -> str:
    """A label as stored in audit text: in English whatever language the user reads, so the
    record does not depend on who wrote it (issue 17)."""
    with translation.override("en-gb"):
        return str(text)
