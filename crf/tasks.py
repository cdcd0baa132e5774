"""Celery entry points of the crf app: one-line wrappers around ``crf.services``/``crf.outbox``.

Transient database errors (connection lost, lock timeout, serialization failure) are retried
on the worker with exponential backoff; the services are idempotent, so a retry is safe. In
eager mode (no broker) a task never retries inside the request: the error goes back to the
outbox dispatcher, which records it, and a later dispatch runs the message again.
"""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

TRANSIENT = (OperationalError, InterfaceError)
RETRY = {"max_retries": 6, "retry_backoff": True, "retry_backoff_max": 600}


def _retry_on_worker(task, exc: Exception):
    if task.request.is_eager:
        raise exc
    countdown = min(2 ** (task.request.retries + 1), RETRY["retry_backoff_max"])
    raise task.retry(exc=exc, countdown=countdown, max_retries=RETRY["max_retries"])


@shared_task(bind=True)
def visits_followup_create(self, patient_id: int) -> list[int]:
    """Create the day-28, month-3 and month-12 visits of one patient (idempotent)."""
    from crf import services

    try:
        return [visit.pk for visit in services.visits_followup_create(patient_id=patient_id)]
    except TRANSIENT as exc:
        _retry_on_worker(self, exc)


@shared_task(bind=True, ignore_result=True)  # the outbox row records the outcome
def outbox_process(self, message_id: int) -> bool:
    """Carry out one outbox message (follow-up visits, pharmacy notice); idempotent."""
    from crf import outbox

    try:
        return outbox.outbox_process(message_id=message_id)
    except TRANSIENT as exc:
        _retry_on_worker(self, exc)


@shared_task(bind=True, ignore_result=True)
def outbox_run(self) -> dict:
    """Periodic: re-queue incomplete follow-up plans, publish pending outbox messages."""
    from crf import outbox

    return outbox.outbox_run()


@shared_task(bind=True)
def visits_status_refresh(self) -> dict:
    """Daily: reconcile plans, move visits to due/overdue/missed, e-mail each site's digest."""
    from crf import outbox, services

    try:
        outbox.plans_reconcile()
        return services.visits_status_refresh()
    except TRANSIENT as exc:
        _retry_on_worker(self, exc)
