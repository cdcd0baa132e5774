"""A lock set while a save is in flight (PostgreSQL, two connections).

Every eCRF save takes its visit's row (or its patient's row) before it reads the locks. If
``lock_set`` took neither, a save that had read "no lock" could commit after the lock, and the
audit trail would show data changed under a lock. ``lock_set`` waits for those rows instead.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from crf.models import Visit
from monitoring import services
from monitoring.models import Lock

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency on PostgreSQL"),
]


@pytest.mark.parametrize("level", ["patient", "visit"])
def test_a_lock_waits_for_a_save_holding_the_visit_row(data_manager, randomized_patient, level):
    visit = Visit.objects.filter(patient=randomized_patient).order_by("target_date").first()
    held, release = threading.Event(), threading.Event()

    def save_in_flight() -> None:  # what crf_save holds between reading the locks and commit
        try:
            with transaction.atomic():
                Visit.objects.select_for_update().get(pk=visit.pk)
                held.set()
                release.wait(10)
        finally:
            connections.close_all()

    def lock() -> None:
        try:
            services.lock_set(
                user=data_manager, patient=randomized_patient, level=level, visit_id=visit.pk
            )
        finally:
            connections.close_all()

    saver = threading.Thread(target=save_in_flight)
    saver.start()
    assert held.wait(10)
    locker = threading.Thread(target=lock)
    locker.start()
    locker.join(1.0)
    waited = locker.is_alive()
    no_lock_meanwhile = not Lock.objects.filter(patient=randomized_patient).exists()
    release.set()
    saver.join(10)
    locker.join(10)
    assert waited, "lock_set did not wait for the save holding the visit"
    assert no_lock_meanwhile, "the lock was set while a save held the visit"
    assert Lock.objects.filter(patient=randomized_patient, level=level).count() == 1
