"""Services of the transactional outbox: enqueue, dispatch, process, reconcile.

A committed randomization promises two side effects: the survival follow-up visits and the
pharmacy's "dose 1 due" e-mail. Publishing them straight to Celery from ``on_commit`` lost
both whenever the broker was down (the request then answered 500 although the allocation was
committed). Instead the promise is an ``OutboxMessage`` row written in the same transaction;
``outbox_dispatch`` publishes pending rows (never raising), each publication leases the row
for a backoff period, and the periodic task publishes whatever is still pending and
re-creates the plan of any randomized patient whose follow-up visits are missing.

Delivery is at least once; every handler is idempotent (a processed row is marked done under
its row lock, and the visit planner returns existing visits unchanged).
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.module_loading import import_string
from kombu.exceptions import OperationalError as KombuOperationalError

from trials.models import Patient

from .models import OutboxMessage, Visit, VisitDefinition, VisitKind

logger = logging.getLogger(__name__)

# Publishing errors that mean "the broker is unreachable" (kombu wraps redis errors).
BROKER_ERRORS = (KombuOperationalError, OSError)
# After a broker error, this process does not try to publish again for a few seconds, so a
# request that commits several messages waits for one short connection attempt, not one each.
BROKER_PAUSE_SECONDS = 10.0
_broker_paused_until = 0.0
FIRST_LEASE_SECONDS = 60
MAX_LEASE_SECONDS = 3600


def lease_seconds(attempts: int) -> float:
    """Time before a published, unfinished message is published again (exponential backoff)."""
    return min(FIRST_LEASE_SECONDS * 2 ** max(attempts - 1, 0), MAX_LEASE_SECONDS)


def outbox_enqueue(*, kind: str, payload: dict) -> OutboxMessage:
    """Record a side effect inside the caller's transaction; publish it once that commits."""
    message = OutboxMessage.objects.create(kind=kind, payload=payload, available_at=timezone.now())
    pk = message.pk
    # robust: a dispatch failure after commit is logged, never raised into the request.
    transaction.on_commit(lambda: outbox_dispatch(ids=[pk]), robust=True)
    return message


def _claim(pk: int, now: dt.datetime) -> bool:
    """Take the publication lease of one due message; False when another dispatcher has it."""
    message = OutboxMessage.objects.filter(pk=pk).values("attempts").first()
    if message is None:
        return False
    lease = dt.timedelta(seconds=lease_seconds(message["attempts"] + 1))
    return bool(
        OutboxMessage.objects.filter(pk=pk, done_at__isnull=True, available_at__lte=now).update(
            available_at=now + lease, attempts=F("attempts") + 1, published_at=now
        )
    )


def _record_failure(pk: int, exc: BaseException) -> None:
    try:
        if not connection.in_atomic_block:  # (closing inside a transaction would abort it)
            connection.close_if_unusable_or_obsolete()  # a killed connection reconnects here
        OutboxMessage.objects.filter(pk=pk).update(last_error=f"{type(exc).__name__}: {exc}"[:500])
    except Exception:  # the lease already set the retry time; the error text is a nicety
        logger.exception("Could not record the failure of outbox message %s.", pk)


def outbox_dispatch(*, ids: list[int] | None = None, limit: int = 100) -> dict[str, int]:
    """Publish due pending messages to Celery; never raises.

    Each publication first takes a lease (``available_at`` moves by the backoff), so a broker
    that is down, a task that fails or a worker killed mid-task leaves the row pending and the
    next dispatch publishes it again. With Celery in eager mode the task runs here and its
    failure is recorded the same way: it is retried by a later dispatch, not in this request.
    """
    global _broker_paused_until
    from .tasks import outbox_process

    published = failed = 0
    if time.monotonic() < _broker_paused_until:
        return {"published": 0, "failed": 0}  # left pending for the periodic run
    try:
        now = timezone.now()
        due = OutboxMessage.objects.filter(done_at__isnull=True, available_at__lte=now)
        if ids is not None:
            due = due.filter(pk__in=ids)
        pks = list(due.order_by("available_at", "pk").values_list("pk", flat=True)[:limit])
    except Exception:
        logger.exception("Outbox dispatch could not read pending messages.")
        return {"published": 0, "failed": 0}
    for pk in pks:
        try:
            if not _claim(pk, now):
                continue
            outbox_process.apply_async(args=[pk])
        except Exception as exc:
            logger.warning("Outbox message %s not delivered yet: %s", pk, exc)
            _record_failure(pk, exc)
            failed += 1
            if isinstance(exc, BROKER_ERRORS) and not settings.CELERY_TASK_ALWAYS_EAGER:
                _broker_paused_until = time.monotonic() + BROKER_PAUSE_SECONDS
                break  # the broker is down: the rest waits for the next run, not this request
        else:
            published += 1
    return {"published": published, "failed": failed}


# What each kind of message runs, called with the payload as keyword arguments. Dotted paths:
# the crf app imports nothing from randomization (blinding boundary), the registry names it.
HANDLERS = {
    OutboxMessage.Kind.FOLLOWUP_VISITS: "crf.services.visits_followup_create",
    OutboxMessage.Kind.DOSE_DUE_NOTICE: "randomization.services.pharmacists_notify_dose_due",
}


def _handle(message: OutboxMessage) -> None:
    import_string(HANDLERS[message.kind])(**message.payload)


@transaction.atomic
def outbox_process(*, message_id: int) -> bool:
    """Carry out one message exactly once (row lock + done mark); False if already done."""
    message = OutboxMessage.objects.select_for_update().filter(pk=message_id).first()
    if message is None or message.done_at is not None:
        return False
    _handle(message)
    message.done_at = timezone.now()
    message.last_error = ""
    message.save(update_fields=["done_at", "last_error"])
    return True


def outbox_backlog() -> dict:
    """Pending messages and the age of the oldest, for ``/healthz/``."""
    pending = OutboxMessage.objects.filter(done_at__isnull=True)
    oldest = pending.order_by("created_at").values_list("created_at", flat=True).first()
    age = (timezone.now() - oldest).total_seconds() if oldest else 0
    return {
        "pending": pending.count(),
        "failing": pending.exclude(last_error="").count(),
        "oldest_pending_seconds": round(age),
    }


def patients_with_incomplete_plan():
    """Randomized patients (a dose-1 visit exists) missing any survival follow-up visit."""
    has_day1 = Visit.objects.filter(
        patient=OuterRef("pk"), definition__kind=VisitKind.DOSING, definition__dose_number=1
    )
    expected = (
        VisitDefinition.objects.filter(trial=OuterRef("trial"), kind=VisitKind.FOLLOW_UP)
        .order_by()
        .values("trial")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Patient.objects.filter(Exists(has_day1))
        .annotate(
            planned=Count(
                "visits",
                filter=Q(visits__definition__kind=VisitKind.FOLLOW_UP, visits__scheduled=True),
            )
        )
        .filter(planned__lt=Subquery(expected))
    )


def plans_reconcile() -> int:
    """Queue the follow-up planning of every randomized patient whose plan is incomplete.

    Skips patients who already have a pending message of that kind; returns how many were
    queued. Run by the periodic task, so follow-ups lost by any fault come back.
    """
    pending = set(
        OutboxMessage.objects.filter(
            kind=OutboxMessage.Kind.FOLLOWUP_VISITS, done_at__isnull=True
        ).values_list("payload__patient_id", flat=True)
    )
    queued = 0
    for patient_id in patients_with_incomplete_plan().values_list("pk", flat=True):
        if patient_id in pending:
            continue
        with transaction.atomic():
            outbox_enqueue(
                kind=OutboxMessage.Kind.FOLLOWUP_VISITS, payload={"patient_id": patient_id}
            )
        logger.warning("Follow-up plan of patient %s was incomplete: re-queued.", patient_id)
        queued += 1
    return queued


def outbox_run() -> dict:
    """The periodic job: reconcile incomplete plans, then publish everything due."""
    queued = plans_reconcile()
    return {"reconciled": queued, **outbox_dispatch()}
