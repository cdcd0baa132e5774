"""Celery entry points of the crf app: one-line wrappers around ``crf.services``."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

# Transient database errors (connection lost, lock timeout, serialization failure) are
# retried with exponential backoff; the services are idempotent, so a retry is safe.
TRANSIENT = (OperationalError, InterfaceError)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=600, max_retries=6)
def visits_followup_create(patient_id: int) -> list[int]:
    """Create the day-28, month-3 and month-12 visits of one patient (idempotent)."""
    from crf import services

    return [visit.pk for visit in services.visits_followup_create(patient_id=patient_id)]


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=600, max_retries=6)
def visits_status_refresh() -> dict:
    """Daily: move visits to due/overdue/missed and e-mail each site's digest."""
    from crf import services

    return services.visits_status_refresh()
