"""Concurrent writers on PostgreSQL: a client storing the last event id misses nothing.

The trap: a primary key is drawn at INSERT, but transactions commit in another order. Writer
A inserts first (lower id) and commits last; a reader polling between the two commits sees
B's higher id, stores it, and never asks for A's lower id again. Event ids (``seq``) are drawn
at commit instead (see exports/models.py), so A's event gets the higher id.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.test import Client

from exports.models import ChangeEvent
from tests.factories import PatientFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrency on PostgreSQL"),
]

URL = "/api/v1/changes/"


def _poll(client, after: int) -> tuple[list[int], int]:
    body = client.get(URL, {"after": after, "limit": 1000}).json()
    return [e["id"] for e in body["results"]], body["next_after"]


def _in_thread(fn):
    def run():
        try:
            fn()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_transaction_that_inserts_first_and_commits_last_is_not_skipped(site, monitor):
    client = Client()
    client.force_login(monitor)
    _, cursor = _poll(client, 0)
    a_inserted, b_committed, a_may_commit = threading.Event(), threading.Event(), threading.Event()

    def writer_a():
        with transaction.atomic():
            PatientFactory(site=site, screening_number="S01-A")
            a_inserted.set()
            a_may_commit.wait(10)

    def writer_b():
        a_inserted.wait(10)
        with transaction.atomic():
            PatientFactory(site=site, screening_number="S01-B")
        b_committed.set()

    threads = [_in_thread(writer_a), _in_thread(writer_b)]
    b_committed.wait(10)
    seen_first, cursor = _poll(client, cursor)  # between B's commit and A's commit
    a_may_commit.set()
    for t in threads:
        t.join(10)
    seen_then, cursor = _poll(client, cursor)

    a = ChangeEvent.objects.get(patient__screening_number="S01-A", kind="patient")
    b = ChangeEvent.objects.get(patient__screening_number="S01-B", kind="patient")
    # The scenario really happened: A drew the lower primary key, B committed first.
    assert a.pk < b.pk
    assert seen_first == [b.seq]
    # ... and the event id still puts A after B, so the stored cursor finds it.
    assert seen_then == [a.seq]
    assert a.seq > b.seq


def test_many_concurrent_writers_and_a_polling_client_see_every_event_once(site, monitor):
    client = Client()
    client.force_login(monitor)
    _, cursor = _poll(client, 0)
    stop = threading.Event()
    rng = random.Random(15)  # noqa: S311 (test timings, not secrets)
    delays = [[rng.uniform(0, 0.03) for _ in range(6)] for _ in range(4)]

    def writer(w: int):
        for i, delay in enumerate(delays[w]):
            with transaction.atomic():
                patient = PatientFactory(site=site, screening_number=f"S01-{w}{i:02d}")
                time.sleep(delay)  # hold the transaction open while others commit
                patient.initials = "XY"
                patient.save()

    seen: list[int] = []

    def reader():
        nonlocal cursor
        reader_client = Client()
        reader_client.force_login(monitor)
        while not stop.is_set():
            ids, cursor = _poll(reader_client, cursor)
            seen.extend(ids)
            time.sleep(0.002)

    poller = _in_thread(reader)
    writers = [_in_thread(lambda w=w: writer(w)) for w in range(4)]
    for t in writers:
        t.join(30)
    stop.set()
    poller.join(10)
    ids, cursor = _poll(client, cursor)
    seen.extend(ids)

    expected = list(
        ChangeEvent.objects.filter(patient__screening_number__startswith="S01-")
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    assert len(expected) == 4 * 6 * 2
    assert seen == sorted(seen)  # never went backwards
    assert sorted(set(seen)) == sorted(seen)  # never twice
    assert [s for s in seen if s in set(expected)] == expected  # none missed
