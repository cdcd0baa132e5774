"""Real concurrent randomizations on PostgreSQL: row locks plus constraints (RZ-2)."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from randomization import services
from randomization.models import Allocation
from tests.randomization.factories import active_list, eligible_patient

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL row locks (select_for_update)"
    ),
]


def _race(calls):
    """Run every call in its own thread and DB connection, released together."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, fn):
        try:
            barrier.wait()
            results[i] = fn()
        except Exception as exc:  # the outcome is what the test checks
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def test_simultaneous_randomizations_in_one_stratum_get_different_entries(site, investigator):
    active_list(site.trial)
    patients = [eligible_patient(site, grade="2") for _ in range(4)]
    results = _race(
        [
            lambda p=p: services.patient_randomize(
                user=investigator, patient=p, confirm_eligibility=True
            )
            for p in patients
        ]
    )
    assert all(isinstance(r, Allocation) for r in results), results
    allocations = Allocation.objects.filter(patient__in=patients)
    assert allocations.count() == 4
    assert sorted(a.entry.sequence for a in allocations) == [1, 2, 3, 4]
    assert len({a.randomization_number for a in allocations}) == 4


def test_the_same_patient_pressed_twice_at_once_is_randomized_once(site, investigator):
    active_list(site.trial)
    patient = eligible_patient(site)
    results = _race(
        [
            lambda: services.patient_randomize(
                user=investigator, patient=patient, confirm_eligibility=True
            )
        ]
        * 2
    )
    assert sum(isinstance(r, Allocation) for r in results) == 1
    assert sum(isinstance(r, ValidationError) for r in results) == 1
    assert Allocation.objects.filter(patient=patient).count() == 1


def test_simultaneous_randomizations_across_sites_all_succeed(groups, site):
    """Issue #16: with writers at different sites, 305 of 2,934 randomizations failed with
    'Allocation with this Entry already exists'. Each site locks only its own numbering, so
    the stratum's next entry is the contended row: the service must wait or retry, never fail.
    """
    from tests.conftest import make_user
    from tests.factories import SiteFactory
    from trials.roles import Role

    active_list(site.trial)
    sites = [site] + [SiteFactory(trial=site.trial, code=f"{n:02d}") for n in (2, 3, 4)]
    calls, patients = [], []
    for s in sites:
        user = make_user(groups, Role.INVESTIGATOR, s, username=f"inv{s.code}")
        for _ in range(2):
            p = eligible_patient(s, grade="2")
            patients.append(p)
            calls.append(
                lambda p=p, u=user: services.patient_randomize(
                    user=u, patient=p, confirm_eligibility=True
                )
            )
    results = _race(calls)
    assert all(isinstance(r, Allocation) for r in results), results
    allocations = Allocation.objects.filter(patient__in=patients)
    # None used twice, and the stratum's entries are taken in sequence without a gap.
    assert sorted(a.entry.sequence for a in allocations) == list(range(1, 9))
