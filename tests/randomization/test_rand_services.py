"""Randomization services: lists, allocation, preparations, emergency unblinding."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from crf.models import Visit
from randomization import listgen, services
from randomization.models import (
    Allocation,
    DosePreparation,
    EmergencyUnblinding,
    RandomizationList,
    RandomizationListEntry,
)
from tests.conftest import login_request
from tests.factories import PatientFactory
from tests.randomization.factories import (
    TEST_SEED,
    arm_words,
    eligible_patient,
    prepare,
    randomize,
    screening_complete,
)
from trials.models import PatientStatus

pytestmark = pytest.mark.django_db


# --- lists ---------------------------------------------------------------------------------


def test_generated_list_records_seed_hash_and_one_sequence_per_stratum(
    site, unblinded_statistician
):
    rlist = services.randomization_list_generate(
        user=unblinded_statistician, trial=site.trial, seed="s1"
    )
    rows = listgen.generate(seed="s1", strata=["1", "2", "3"], length=listgen.default_length(30))
    assert rlist.seed == "s1"
    assert rlist.sha256 == listgen.sha256(rows)
    assert rlist.entries.count() == len(rows)
    assert set(rlist.entries.values_list("stratum", flat=True)) == {"1", "2", "3"}
    assert rlist.history.count() == 1
    assert RandomizationListEntry.history.filter(randomization_list_id=rlist.pk).count() == len(
        rows
    )


def test_only_the_statistician_generates_a_list(site, investigator, trial_admin):
    for user in (investigator, trial_admin):
        with pytest.raises(PermissionDenied):
            services.randomization_list_generate(user=user, trial=site.trial, seed="x")
    assert not RandomizationList.objects.exists()


def test_replacing_an_unused_list_needs_a_reason_and_is_audited(site, unblinded_statistician):
    first = services.randomization_list_generate(
        user=unblinded_statistician, trial=site.trial, seed="a"
    )
    with pytest.raises(ValidationError, match="reason for replacing"):
        services.randomization_list_generate(
            user=unblinded_statistician, trial=site.trial, seed="b"
        )
    second = services.randomization_list_generate(
        user=unblinded_statistician, trial=site.trial, seed="b", reason="wrong block sizes"
    )
    first.refresh_from_db()
    assert first.status == "superseded"
    assert first.superseded_reason == "wrong block sizes"
    assert first.superseded_by == unblinded_statistician
    assert first.history.first().history_change_reason.startswith("Superseded: wrong block")
    assert second.version == 2
    assert second.status == "active"


def test_a_list_in_use_cannot_be_superseded(site, investigator, unblinded_statistician):
    patient = eligible_patient(site)
    randomize(patient, investigator)
    rlist = RandomizationList.objects.get(status="active")
    with pytest.raises(ValidationError, match="can no longer be changed"):
        services.randomization_list_supersede(
            user=unblinded_statistician, randomization_list=rlist, reason="oops"
        )
    with pytest.raises(ValidationError, match="can no longer be changed"):
        services.randomization_list_generate(
            user=unblinded_statistician, trial=site.trial, seed="new", reason="oops"
        )
    assert RandomizationList.objects.get().status == "active"


def test_uploaded_list_is_stored_with_its_hash(site, unblinded_statistician):
    rows = listgen.generate(seed="up", strata=["1", "2", "3"], length=10)
    text = listgen.canonical_csv(rows)
    rlist = services.randomization_list_upload(
        user=unblinded_statistician, trial=site.trial, content=text.encode()
    )
    assert rlist.source == "uploaded"
    assert rlist.sha256 == listgen.sha256(rows)
    assert rlist.entries.count() == len(rows)


def test_bad_upload_loads_nothing_and_names_the_lines(site, unblinded_statistician):
    text = "stratum,sequence,block,arm\n1,1,1,A\n1,2,1,A\n2,1,1,A\n2,2,1,B\n3,1,1,B\n3,2,1,A\n"
    with pytest.raises(ValidationError) as exc:
        services.randomization_list_upload(
            user=unblinded_statistician, trial=site.trial, content=text
        )
    assert "lines 2, 3: stratum 1 block 1 is not balanced 1:1." in exc.value.message_dict["file"]
    assert not RandomizationList.objects.exists()
    assert not RandomizationListEntry.objects.exists()


def test_demo_list_is_created_once_with_the_recorded_seed(site):
    rlist = services.randomization_list_ensure_demo(trial=site.trial)
    assert rlist.seed == services.DEMO_SEED
    assert services.randomization_list_ensure_demo(trial=site.trial) is None
    assert RandomizationList.objects.count() == 1


# --- randomizing ---------------------------------------------------------------------------


def test_randomizing_assigns_the_next_entry_of_the_stratum_number_and_status(
    site, investigator, rand_list
):
    patient = eligible_patient(site, grade="3")
    allocation = services.patient_randomize(
        user=investigator, patient=patient, confirm_eligibility=True
    )
    first = rand_list.entries.get(stratum="3", sequence=1)
    assert allocation.entry == first
    assert allocation.stratum == "3"
    assert allocation.randomization_number == "LA-01-001"
    patient.refresh_from_db()
    assert patient.subject_id == "LA-01-001"
    assert patient.status == PatientStatus.RANDOMIZED
    assert patient.history.first().history_change_reason == "Randomized"
    assert allocation.history.get().history_user == investigator

    second = eligible_patient(site, grade="3")
    allocation2 = randomize(second, investigator)
    assert allocation2.entry == rand_list.entries.get(stratum="3", sequence=2)
    assert allocation2.randomization_number == "LA-01-002"


def test_allocation_replays_the_list_in_order_per_stratum(site, investigator, rand_list):
    grades = ["1", "2", "2", "3", "1", "2"]
    allocations = [randomize(eligible_patient(site, grade=g), investigator) for g in grades]
    for grade in "123":
        used = [a.entry.sequence for a in allocations if a.stratum == grade]
        assert used == list(range(1, len(used) + 1))


def test_randomizing_creates_the_dosing_visits_from_day_1(site, investigator, rand_list):
    patient = eligible_patient(site)
    randomize(patient, investigator)
    visits = Visit.objects.filter(patient=patient, definition__kind="dosing").order_by(
        "target_date"
    )
    today = timezone.localdate()
    assert [v.target_date for v in visits] == [
        today + dt.timedelta(days=d) for d in (0, 3, 10, 17)
    ]


def test_randomization_stays_within_its_query_budget_and_audits_every_row(
    site, investigator, rand_list, django_assert_max_num_queries
):
    """#16: 113 queries (visits planned one full save at a time); budget ≤ 30."""
    from exports.models import ChangeEvent

    randomize(eligible_patient(site), investigator)  # warm caches (content types, schedule)
    patient = eligible_patient(site)
    with django_assert_max_num_queries(30):
        services.patient_randomize(user=investigator, patient=patient, confirm_eligibility=True)
    visits = list(Visit.objects.filter(patient=patient).order_by("target_date"))
    assert len(visits) == 4
    for visit in visits:  # bulk-created, yet each has its creation history row and feed event
        created = visit.history.get()
        assert created.history_type == "+"
        assert created.history_change_reason == "Planned from the visit schedule"
        assert created.history_user == investigator
        assert ChangeEvent.objects.filter(
            model="crf.visit", object_id=visit.pk, history_id=created.history_id, site=site
        ).exists()
    patient.refresh_from_db()
    assert patient.lock_version == 2
    assert patient.history.first().history_change_reason == "Randomized"
    assert Allocation.history.get(patient_id=patient.pk).history_user == investigator


def test_randomizing_twice_plans_no_second_set_of_visits(site, investigator, rand_list):
    from crf.schedule import visits_plan_dosing

    patient = eligible_patient(site)
    randomize(patient, investigator)
    again = visits_plan_dosing(patient=patient, day1=timezone.localdate(), user=investigator)
    assert len(again) == 4
    assert Visit.objects.filter(patient=patient).count() == 4


def test_pharmacists_get_an_email_without_the_arm(
    site, investigator, pharmacist, rand_list, django_capture_on_commit_callbacks
):
    patient = eligible_patient(site)
    with django_capture_on_commit_callbacks(execute=True):
        randomize(patient, investigator)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [pharmacist.email]
    assert "Dose 1 is due" in message.body
    assert "Log in" in message.body
    assert arm_words(message.body + message.subject) == []
    assert "cells" not in message.body


@pytest.mark.parametrize(
    ("setup", "field", "message"),
    [
        (lambda p: screening_complete(p, eligible=False), "screening", "not show the patient"),
        (lambda p: None, "screening", "not complete"),
        (lambda p: screening_complete(p, eligible=None), "screening", "not show the patient"),
        (lambda p: screening_complete(p, grade="no_aclf"), "screening", "not one of the strata"),
    ],
)
def test_ineligible_patient_cannot_be_randomized(
    site, investigator, rand_list, setup, field, message
):
    patient = PatientFactory(site=site)
    setup(patient)
    with pytest.raises(ValidationError) as exc:
        services.patient_randomize(user=investigator, patient=patient, confirm_eligibility=True)
    assert message in " ".join(exc.value.message_dict[field])
    assert not Allocation.objects.exists()
    patient.refresh_from_db()
    assert patient.subject_id is None
    assert patient.status == PatientStatus.SCREENING


def test_patient_without_consent_cannot_be_randomized(site, investigator, rand_list):
    patient = eligible_patient(site, consent_datetime=None)
    with pytest.raises(ValidationError, match="consent"):
        randomize(patient, investigator)
    assert not Allocation.objects.exists()


def test_randomization_needs_the_eligibility_confirmation(site, investigator, eligible):
    with pytest.raises(ValidationError, match="Confirm"):
        services.patient_randomize(user=investigator, patient=eligible, confirm_eligibility=False)
    assert not Allocation.objects.exists()


@pytest.mark.parametrize(
    "who",
    ["monitor", "pharmacist", "data_manager", "unblinded_statistician", "other_site_investigator"],
)
def test_only_an_investigator_of_the_site_can_randomize(request, who, eligible):
    user = request.getfixturevalue(who)
    with pytest.raises(PermissionDenied):
        services.patient_randomize(user=user, patient=eligible, confirm_eligibility=True)
    assert not Allocation.objects.exists()


def test_principal_investigator_can_randomize(principal_investigator, eligible):
    assert randomize(eligible, principal_investigator).randomization_number == "LA-01-001"


def test_a_patient_cannot_be_randomized_twice(site, investigator, eligible):
    randomize(eligible, investigator)
    eligible.refresh_from_db()
    with pytest.raises(ValidationError, match="already randomized"):
        randomize(eligible, investigator)
    assert Allocation.objects.count() == 1


def test_database_refuses_a_second_allocation_or_a_reused_entry(site, investigator, eligible):
    allocation = randomize(eligible, investigator)
    other = eligible_patient(site)
    with pytest.raises(IntegrityError), transaction.atomic():
        Allocation.objects.create(
            patient=other,
            entry=allocation.entry,
            randomization_number="LA-01-999",
            stratum="2",
            randomized_at=timezone.now(),
            randomized_by=investigator,
        )
    free = RandomizationListEntry.objects.exclude(pk=allocation.entry_id).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Allocation.objects.create(
            patient=eligible,
            entry=free,
            randomization_number="LA-01-998",
            stratum="2",
            randomized_at=timezone.now(),
            randomized_by=investigator,
        )


def test_a_failed_attempt_leaves_nothing_behind(site, investigator, eligible, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("visit planning failed")

    monkeypatch.setattr("crf.schedule.visits_plan_dosing", boom)
    with pytest.raises(RuntimeError, match="visit planning failed"):
        randomize(eligible, investigator)
    eligible.refresh_from_db()
    assert eligible.subject_id is None
    assert eligible.status == PatientStatus.SCREENING
    assert not Allocation.objects.exists()
    assert not Allocation.history.exists()
    assert mail.outbox == []


def test_an_exhausted_stratum_is_reported_without_allocating(
    site, investigator, unblinded_statistician
):
    services.randomization_list_generate(
        user=unblinded_statistician,
        trial=site.trial,
        seed=TEST_SEED,
        length_per_stratum=1,
        block_sizes=[2],
    )
    randomize(eligible_patient(site), investigator)
    randomize(eligible_patient(site), investigator)
    third = eligible_patient(site)
    with pytest.raises(ValidationError, match="No randomization slot"):
        randomize(third, investigator)
    assert Allocation.objects.count() == 2


# --- preparations --------------------------------------------------------------------------


def test_pharmacist_records_a_cell_preparation_with_count_and_viability(by_arm, pharmacist):
    prep = prepare(by_arm["A"], pharmacist, cells=True)
    assert prep.cell_count == 152_340_000
    assert prep.prepared_by == pharmacist
    assert prep.history.get().history_change_reason == "Dose 1 prepared"


def test_both_arms_record_cell_count_and_viability_and_the_placebo_has_no_cells(
    by_arm, pharmacist
):
    for patient in by_arm.values():
        with pytest.raises(ValidationError) as exc:
            prepare(patient, pharmacist, cells=True, cell_count=None, viability_pct=None)
        assert {"cell_count", "viability_pct"} <= set(exc.value.message_dict)
    with pytest.raises(ValidationError, match="no cells: enter 0") as exc:
        prepare(by_arm["B"], pharmacist, cells=True)
    assert set(exc.value.message_dict) == {"cell_count"}
    assert not DosePreparation.objects.exists()


def test_a_dose_is_prepared_once_and_checked_by_someone_else(by_arm, pharmacist):
    prepare(by_arm["B"], pharmacist, cells=False)
    with pytest.raises(ValidationError, match="already recorded"):
        prepare(by_arm["B"], pharmacist, cells=False)
    with pytest.raises(ValidationError, match="second person"):
        services.dose_preparation_record(
            user=pharmacist,
            patient=by_arm["B"],
            dose_number=2,
            prepared_at=timezone.now(),
            product_lot="P-1",
            volume_ml=Decimal(50),
            checked_by=pharmacist.username,
            cell_count=0,
            viability_pct=Decimal(90),
        )


@pytest.mark.parametrize("who", ["investigator", "unblinded_statistician", "monitor"])
def test_only_a_pharmacist_of_the_site_records_preparations(request, who, by_arm):
    with pytest.raises(PermissionDenied):
        prepare(by_arm["A"], request.getfixturevalue(who), cells=True)


# --- emergency unblinding ------------------------------------------------------------------


def test_pi_unblinds_with_password_and_reason_and_the_sponsor_is_told_without_the_arm(
    by_arm, principal_investigator, trial_admin, settings, django_capture_on_commit_callbacks
):
    settings.SPONSOR_EMAILS = ["sponsor@example.org"]
    mail.outbox.clear()
    patient = by_arm["A"]
    with django_capture_on_commit_callbacks(execute=True):
        record = services.emergency_unblinding_create(
            request=login_request(),
            user=principal_investigator,
            patient=patient,
            password="Correct-Horse-9",
            reason="Severe reaction, treating physician needs to know",
        )
    assert record.unblinded_by == principal_investigator
    assert EmergencyUnblinding.objects.count() == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert set(message.to) == {"sponsor@example.org", trial_admin.email}
    assert patient.subject_id in message.body
    assert "Severe reaction" in message.body
    assert arm_words(message.body + message.subject) == []
    assert " A" not in message.body


def test_wrong_password_or_missing_reason_are_field_errors(by_arm, principal_investigator):
    with pytest.raises(ValidationError) as exc:
        services.emergency_unblinding_create(
            request=login_request(),
            user=principal_investigator,
            patient=by_arm["A"],
            password="nope",
            reason=" ",
        )
    assert set(exc.value.message_dict) == {"password", "reason"}
    assert not EmergencyUnblinding.objects.exists()


@pytest.mark.parametrize("who", ["investigator", "pharmacist", "monitor", "trial_admin"])
def test_only_the_pi_of_the_site_can_unblind(request, who, by_arm):
    with pytest.raises(PermissionDenied):
        services.emergency_unblinding_create(
            request=login_request(),
            user=request.getfixturevalue(who),
            patient=by_arm["A"],
            password="Correct-Horse-9",
            reason="x",
        )


def test_unblinding_password_is_checked_once_through_the_login_backends(
    by_arm, principal_investigator, settings
):
    """One check per attempt (issue 12): each wrong password is one failure toward the
    lockout, on every path, and a locked account cannot unblind even with the right one."""
    from axes.models import AccessAttempt

    for n in range(1, settings.AXES_FAILURE_LIMIT + 1):
        with pytest.raises(ValidationError):
            services.emergency_unblinding_create(
                request=login_request(),
                user=principal_investigator,
                patient=by_arm["A"],
                password="guess",
                reason="SAE work-up",
            )
        attempt = AccessAttempt.objects.get(username=principal_investigator.username)
        assert attempt.failures_since_start == n
    with pytest.raises(ValidationError) as exc:
        services.emergency_unblinding_create(
            request=login_request(),
            user=principal_investigator,
            patient=by_arm["A"],
            password="Correct-Horse-9",
            reason="SAE work-up",
        )
    assert "password" in exc.value.message_dict
    assert not EmergencyUnblinding.objects.exists()
