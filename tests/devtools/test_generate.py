"""The trial generator (#16): realistic data through the services, reproducible from the seed."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from crf.models import LabResult, Visit
from devtools.generate import generate_trial
from randomization.models import Allocation
from trials.models import Patient, PatientStatus, ScoreRecord

pytestmark = pytest.mark.django_db


class _Rollback(Exception):
    pass


def _fingerprint() -> list[tuple]:
    return list(
        Patient.objects.order_by("screening_number").values_list(
            "screening_number", "sex", "birth_date", "status", "screening__bilirubin_entered"
        )
    ) + list(
        Visit.objects.order_by("patient__screening_number", "target_date").values_list(
            "patient__screening_number", "target_date", "status"
        )
    )


def _generate_and_rollback(seed: str) -> list[tuple]:
    try:
        with transaction.atomic():
            generate_trial(patients=24, sites=2, seed=seed, months=3)
            found = _fingerprint()
            raise _Rollback
    except _Rollback:
        pass
    return found


def test_same_seed_same_trial_and_another_seed_another():
    first = _generate_and_rollback("alpha")
    assert not Patient.objects.exists()
    assert _generate_and_rollback("alpha") == first
    assert _generate_and_rollback("beta") != first


def test_generated_trial_follows_the_rules():
    summary = generate_trial(patients=30, sites=3, seed="rules", months=4)
    assert summary.patients == Patient.objects.count() == 30
    # On treatment, or in follow-up once every dose is resolved (the patient course, #10).
    randomized = Patient.objects.filter(
        status__in=(PatientStatus.RANDOMIZED, PatientStatus.IN_FOLLOW_UP)
    )
    assert randomized.count() == summary.randomized >= 3  # at least one per site
    # Each randomized patient: one allocation from its own stratum, its four dosing visits
    # planned (the follow-ups are planned on commit, which a test transaction never reaches),
    # screening scores stored by the services.
    allocations = Allocation.objects.select_related("entry", "patient__screening")
    assert allocations.count() == summary.randomized
    assert len({a.entry_id for a in allocations}) == summary.randomized
    assert all(a.entry.stratum == a.patient.screening.aclf_grade for a in allocations)
    dosing = Visit.objects.filter(patient__in=randomized, definition__kind="dosing")
    assert dosing.count() == 4 * summary.randomized
    assert ScoreRecord.objects.filter(label="Screening").count() == 30
    # Corrections are audited with their reason, as a user's would be.
    corrected = LabResult.history.filter(history_change_reason__startswith="Transcription")
    assert corrected.count() == summary.corrections
    with pytest.raises(ValueError, match="already has patients"):
        generate_trial(patients=5, sites=3, seed="rules")


def test_append_adds_patients_to_a_generated_trial():
    generate_trial(patients=6, sites=2, seed="grow", months=2)
    generate_trial(patients=6, sites=2, seed="grow", months=2, append=True)
    numbers = sorted(Patient.objects.values_list("screening_number", flat=True))
    assert numbers == [f"S01-{n:04d}" for n in range(1, 7)] + [f"S02-{n:04d}" for n in range(1, 7)]


def test_the_list_has_room_for_the_randomizations_the_bench_adds():
    """#16: the bench's own randomizations (writes + concurrency) found strata full at 100
    patients. Any of them may fall in any stratum: each stratum gets room for all of them."""
    from devtools import bench
    from devtools.generate import list_length
    from randomization.models import RandomizationList

    extra = bench.extra_randomizations(repeat=15, processes=4, per_process=10)
    assert extra == 17 + 80
    generate_trial(patients=6, sites=2, seed="room", months=2, extra_randomizations=extra)
    active = RandomizationList.objects.get(status=RandomizationList.Status.ACTIVE)
    assert active.length_per_stratum == list_length(6, extra) == 40 + extra
    assert list_length(100, extra) - list_length(100) == extra


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL setting")
def test_commits_skip_the_wal_flush_only_while_generating(monkeypatch):
    """Throw-away data need no durable commits; the bench then measures writes on the same
    connection, so the server's setting comes back afterwards."""
    from devtools import generate

    seen = []
    story = generate.patient_story

    def spy(**kwargs):
        seen.append(_synchronous_commit())
        return story(**kwargs)

    monkeypatch.setattr(generate, "patient_story", spy)
    generate_trial(patients=2, sites=1, seed="flush", months=2)
    assert seen == ["off", "off"]
    assert _synchronous_commit() == "on"
