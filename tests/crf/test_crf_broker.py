"""The follow-up task through a real Redis broker and a Celery worker (skipped without Redis).

The worker runs in-process (``celery.contrib.testing.worker.start_worker``, solo pool, own
thread). The test is ``transaction=True`` so the randomization really commits: the worker
uses its own database connection and only sees committed rows, exactly as in production,
and ``transaction.on_commit`` fires for real.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.conf import settings as django_settings

from crf import services
from crf.models import Visit
from trials.models import PatientStatus

pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs REDIS_URL (real broker)"),
]


@pytest.fixture
def celery_worker(settings):
    from celery.contrib.testing.worker import start_worker

    from liveradvance.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    assert app.conf.task_always_eager is False
    assert app.conf.broker_url.startswith("redis://")
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
        yield worker


def _wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.django_db(transaction=True)
def test_followup_visits_are_created_by_the_worker_through_redis(
    patient, investigator, celery_worker
):
    from crf.tasks import visits_followup_create

    patient.status = PatientStatus.RANDOMIZED
    patient.save()
    services.visits_plan_after_randomization(
        patient=patient, day1=dt.date(2026, 3, 2), user=investigator
    )  # commits; on_commit enqueues the task on Redis
    followups = Visit.objects.filter(patient=patient, definition__kind="follow_up")
    assert _wait_for(lambda: followups.count() == 3), "the worker did not create follow-ups"

    # A second run through the broker returns the same visits and creates nothing new.
    result = visits_followup_create.delay(patient.pk)
    assert sorted(result.get(timeout=20)) == sorted(followups.values_list("pk", flat=True))
    assert result.backend.__class__.__name__ == "RedisBackend"
    assert Visit.objects.filter(patient=patient).count() == 7
