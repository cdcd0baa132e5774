"""Idempotent creates: a retried submission replays the first outcome, never a duplicate.

Issue 11: after a timeout the client cannot tell whether an AE creation was saved; retrying
created a second AE. Pages carry a one-time form token, API clients send an
``Idempotency-Key`` header; ``run_once`` stores the outcome in the same transaction as the
create, so a retry (even a concurrent one) gets the stored outcome back.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from .models import IdempotencyRecord

TOKEN_FIELD = "form_token"  # noqa: S105 - a form field name, not a secret
HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 100


class KeyReused(ValidationError):
    """The same key was sent with a different request."""


@dataclass(frozen=True)
class Outcome:
    status_code: int
    body: dict[str, Any]
    replayed: bool


def fingerprint(request) -> str:
    """SHA-256 of an API request: method, path and parsed body (key order ignored)."""
    try:
        body = json.dumps(request.data, sort_keys=True, default=str)
    except (TypeError, ValueError):
        body = repr(request.data)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def form_token(request: HttpRequest) -> str:
    """The page's one-time token: the posted one (a re-shown form keeps it) or a new one."""
    posted = request.POST.get(TOKEN_FIELD, "") if request.method == "POST" else ""
    if posted and len(posted) <= MAX_KEY_LENGTH and posted.isalnum():
        return posted
    return uuid.uuid4().hex


def clean_key(raw: str | None, *, field: str = HEADER) -> str | None:
    if raw is None or raw == "":
        return None
    key = raw.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable() or not key.isascii():
        raise ValidationError({field: f"Use 1 to {MAX_KEY_LENGTH} printable ASCII characters."})
    return key


def run_once(
    *, user, key: str | None, fingerprint: str, action: Callable[[], tuple[int, dict]]
) -> Outcome:
    """Run ``action`` once per (user, key) and return its (status, body); replay after that.

    ``action`` runs inside this transaction: if it raises, nothing (neither the record it
    creates nor the key) is kept, so a retry runs it again. Without a key it simply runs.
    """
    if key is None:
        status_code, body = action()
        return Outcome(status_code, body, replayed=False)
    with transaction.atomic():
        stored = _stored(user, key, fingerprint)
        if stored is not None:
            return stored
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=user, key=key, fingerprint=fingerprint
                )
        except IntegrityError:
            # A concurrent first attempt committed the same key meanwhile: replay it.
            stored = _stored(user, key, fingerprint)
            if stored is None:  # pragma: no cover - it cannot vanish inside our transaction
                raise
            return stored
        status_code, body = action()
        record.status_code, record.body = status_code, body
        record.save(update_fields=["status_code", "body"])
    return Outcome(status_code, body, replayed=False)


def _stored(user, key: str, fingerprint: str) -> Outcome | None:
    record = IdempotencyRecord.objects.filter(user=user, key=key).first()
    if record is None:
        return None
    if record.fingerprint != fingerprint:
        raise KeyReused({HEADER: "This key was already used for a different request."})
    return Outcome(record.status_code, record.body, replayed=True)


def page_once(request: HttpRequest, action: Callable[[], str]) -> tuple[str, bool]:
    """Run a page's create once per posted form token; returns (redirect URL, replayed).

    ``action`` does the create and returns where to go next. A second submission of the
    same form (double click, retry after a timeout) goes there without creating again.
    """
    token = request.POST.get(TOKEN_FIELD, "")
    key = f"page:{token}" if token and len(token) <= MAX_KEY_LENGTH and token.isalnum() else None
    page = hashlib.sha256(f"page {request.path}".encode()).hexdigest()
    outcome = run_once(
        user=request.user, key=key, fingerprint=page, action=lambda: (302, {"location": action()})
    )
    return outcome.body["location"], outcome.replayed


def api_once(request, action: Callable[[], Any]):
    """Run an API create once per ``Idempotency-Key`` header (absent: just run it).

    ``action`` returns a DRF Response; a retry with the same key and body gets the first
    response back, marked ``Idempotent-Replayed: true``; the same key with another body is
    a 422. A 4xx raised by ``action`` is not remembered (nothing was created).
    """
    from rest_framework import status
    from rest_framework.response import Response

    try:
        key = clean_key(request.headers.get(HEADER))
    except ValidationError as exc:
        return Response(exc.message_dict, status=status.HTTP_400_BAD_REQUEST)

    first: list = []

    def run() -> tuple[int, dict]:
        response = action()
        if response.status_code >= 300:
            raise _NotRemembered(response)
        first.append(response)
        return response.status_code, response.data

    try:
        outcome = run_once(
            user=request.user, key=key, fingerprint=fingerprint(request), action=run
        )
    except _NotRemembered as exc:
        return exc.response
    except KeyReused as exc:
        return Response(exc.message_dict, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
    if not outcome.replayed:
        return first[0] if first else Response(outcome.body, status=outcome.status_code)
    response = Response(outcome.body, status=outcome.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


class _NotRemembered(Exception):
    """An error response: roll back and do not store it under the key."""

    def __init__(self, response) -> None:
        super().__init__(response.status_code)
        self.response = response
