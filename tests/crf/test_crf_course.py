"""The patient course state machine: pure transitions (no database) and the state reached
from every recording path (end of study, follow-up vital status, fatal SAE, administration)."""

from __future__ import annotations

import datetime as dt

import pytest

from crf import course as c
from crf.models import VisitStatus
from tests.crf.test_crf_course_defects import (
    DAY1,
    at,
    end_of_study,
    fatal_sae,
    give,
    save,
    visit_of,
)
from trials.models import PatientStatus as S

D = dt.date(2026, 3, 10)
EARLIER = dt.date(2026, 3, 8)


def ev(kind: str, on: dt.date | None = D, source: str = "End of study", scope: str = ""):
    return c.CourseEvent(kind, on, source, scope)


# --- pure transitions --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.SCREENING, S.SCREEN_FAILED])
def test_screening_states_come_from_the_stored_status(status):
    course = c.course_derive(status=status, events=[ev(c.DEATH)])
    assert course.state == status
    assert not course.randomized
    assert not course.may_dose
    assert course.dosing_refusal(D) == "The patient is not randomized."


def test_randomized_without_events_is_on_treatment_then_in_follow_up():
    on = c.course_derive(status=S.RANDOMIZED, events=[], doses_open=True)
    assert on.state == S.RANDOMIZED
    assert on.may_dose
    assert on.expects_visits
    follow = c.course_derive(status=S.RANDOMIZED, events=[], doses_open=False)
    assert follow.state == S.IN_FOLLOW_UP
    assert not follow.may_dose
    assert follow.expects_visits
    assert not follow.expects_dosing_visits


@pytest.mark.parametrize(
    ("kind", "state", "visits"),
    [
        (c.DEATH, S.DIED, False),
        (c.TRANSPLANT, S.TRANSPLANTED, True),
        (c.LOST, S.LOST_TO_FOLLOW_UP, False),
        (c.COMPLETED, S.COMPLETED, False),
    ],
)
def test_each_ending_event_gives_its_state_and_stops_dosing(kind, state, visits):
    course = c.course_derive(status=S.RANDOMIZED, events=[ev(kind)])
    assert course.state == state
    assert not course.may_dose
    assert course.expects_visits is visits
    assert course.ended_on == D
    assert course.dosing_refusal(D + dt.timedelta(days=1)).startswith("No more doses")
    assert course.dosing_refusal(D) is None  # a dose given before the event, recorded late


@pytest.mark.parametrize(
    ("scope", "visits", "data"),
    [
        ("no_more_doses", True, True),
        ("no_more_visits", False, True),
        ("no_further_data", False, False),
    ],
)
def test_withdrawal_keeps_what_the_patient_still_consents_to(scope, visits, data):
    course = c.course_derive(status=S.RANDOMIZED, events=[ev(c.WITHDRAWAL, scope=scope)])
    assert course.state == S.WITHDRAWN
    assert not course.may_dose
    assert course.expects_visits is visits
    assert course.collects_data is data
    assert course.withdrawal_scope_label


def test_death_takes_precedence_and_conflicts_are_warned_not_merged():
    course = c.course_derive(
        status=S.RANDOMIZED,
        events=[
            ev(c.COMPLETED, D),
            ev(c.DEATH, D, "Follow-up (Follow-up 28 days)"),
            ev(c.DEATH, EARLIER, "Adverse event (Sepsis)"),
        ],
    )
    assert course.state == S.DIED
    assert course.death_date == EARLIER  # the earliest, with a warning naming both
    text = " ".join(course.warnings)
    assert "Conflicting died dates" in text
    assert "Adverse event (Sepsis): 2026-03-08" in text
    assert "'completed the study' but a death is recorded" in text


def test_transplant_then_death_is_died():
    course = c.course_derive(
        status=S.RANDOMIZED, events=[ev(c.TRANSPLANT, EARLIER), ev(c.DEATH, D)]
    )
    assert course.state == S.DIED
    assert course.transplant_date == EARLIER
    assert course.warnings == ()


def test_alive_after_death_and_dose_after_the_end_are_warned():
    course = c.course_derive(
        status=S.RANDOMIZED,
        events=[ev(c.DEATH, EARLIER), ev("alive", D, "Follow-up (Follow-up 3 months)")],
        doses_after=[(D, "Dose 3 administration")],
    )
    text = " ".join(course.warnings)
    assert "alive on 2026-03-10" in text
    assert "Dose 3 administration on 2026-03-10" in text


# --- every recording path ------------------------------------------------------------------------


def _after(patient, investigator, clock, days: int = 6):
    give(investigator, patient, "dose1", DAY1)
    clock.move_to(at(DAY1 + dt.timedelta(days=days)))
    return DAY1 + dt.timedelta(days=days - 1)


@pytest.mark.parametrize(
    ("reason", "extra", "state"),
    [
        ("died", {}, S.DIED),
        ("transplanted", {}, S.TRANSPLANTED),
        ("withdrew_consent", {"withdrawal_scope": "no_more_doses"}, S.WITHDRAWN),
        ("lost_to_follow_up", {}, S.LOST_TO_FOLLOW_UP),
        ("completed", {"early_termination_reason": "Trial stopped"}, S.COMPLETED),
    ],
)
def test_end_of_study_path(randomized_patient, investigator, frozen_day1, reason, extra, state):
    day = _after(randomized_patient, investigator, frozen_day1)
    end_of_study(investigator, randomized_patient, reason, day, **extra)
    randomized_patient.refresh_from_db()
    assert randomized_patient.status == state
    assert visit_of(randomized_patient, "dose3").status == VisitStatus.NOT_APPLICABLE
    assert visit_of(randomized_patient, "dose2").status != VisitStatus.NOT_APPLICABLE
    fu = visit_of(randomized_patient, "fu_m3").status
    assert (fu == VisitStatus.NOT_APPLICABLE) is (state in (S.LOST_TO_FOLLOW_UP, S.COMPLETED))


@pytest.mark.parametrize(
    ("data", "state"),
    [
        (
            {"vital_status": "dead", "death_cause": "Bleeding", "hospital_status": "unknown"},
            S.DIED,
        ),
        ({"vital_status": "transplanted", "hospital_status": "ward"}, S.TRANSPLANTED),
    ],
)
def test_follow_up_path(randomized_patient, investigator, frozen_day1, data, state):
    from crf import services

    day = _after(randomized_patient, investigator, frozen_day1)
    visit = services.visit_unscheduled_create(
        user=investigator, patient=randomized_patient, visit_date=day
    )
    key = "death_date" if state == S.DIED else "transplant_date"
    services.crf_save(
        user=investigator,
        form_code="follow_up",
        visit=visit,
        data={"assessment_date": day, key: day, **data},
        complete=True,
    )
    randomized_patient.refresh_from_db()
    assert randomized_patient.status == state
    assert visit_of(randomized_patient, "dose3").status == VisitStatus.NOT_APPLICABLE


def test_fatal_sae_path(randomized_patient, investigator, frozen_day1):
    day = _after(randomized_patient, investigator, frozen_day1)
    fatal_sae(investigator, randomized_patient, day)
    randomized_patient.refresh_from_db()
    assert randomized_patient.status == S.DIED
    assert c.patient_course(randomized_patient).ended_by.startswith("Died on")


def test_administration_path_moves_to_follow_up_once_every_dose_is_resolved(
    randomized_patient, investigator, frozen_day1
):
    give(investigator, randomized_patient, "dose1", DAY1)
    for code, day in (("dose2", 3), ("dose3", 10), ("dose4", 17)):
        frozen_day1.move_to(at(DAY1 + dt.timedelta(days=day)))
        give(investigator, randomized_patient, code, DAY1 + dt.timedelta(days=day))
    randomized_patient.refresh_from_db()
    assert randomized_patient.status == S.IN_FOLLOW_UP


def test_correcting_the_record_reopens_the_course(randomized_patient, investigator, frozen_day1):
    """A death recorded by mistake and corrected: the patient is on treatment again."""
    day = _after(randomized_patient, investigator, frozen_day1)
    visit = visit_of(randomized_patient, "dose2")
    save(
        investigator,
        randomized_patient,
        "dose2",
        "vitals",
        {"assessment_date": day, "weight_kg": 70, "heart_rate_bpm": 80, "systolic_bp_mmhg": 110},
    )
    from crf import services

    ae = fatal_sae(investigator, randomized_patient, day)
    services.crf_save(
        user=investigator,
        form_code="adverse_event",
        patient=randomized_patient,
        pk=ae.pk,
        data={
            "outcome": "recovering",
            "sae_death": False,
            "sae_hospitalization": True,
            "severity_grade": 4,
        },
        complete=True,
        reason="Wrong patient: the event was not fatal",
    )
    randomized_patient.refresh_from_db()
    assert randomized_patient.status == S.RANDOMIZED
    assert visit.pk  # the cancelled visits stay cancelled: re-plan them explicitly if needed


def test_withdrawal_of_all_data_refuses_new_visit_data_but_not_safety_reporting(
    randomized_patient, investigator, frozen_day1
):
    from django.core.exceptions import ValidationError

    from crf import services

    day = _after(randomized_patient, investigator, frozen_day1)
    end_of_study(
        investigator,
        randomized_patient,
        "withdrew_consent",
        day,
        withdrawal_scope="no_further_data",
    )
    with pytest.raises(ValidationError, match="No further data may be collected"):
        services.visit_unscheduled_create(
            user=investigator, patient=randomized_patient, visit_date=day
        )
    with pytest.raises(ValidationError, match="No further data may be collected"):
        save(
            investigator,
            randomized_patient,
            "dose2",
            "labs",
            {"assessment_date": DAY1 + dt.timedelta(days=3)},
            complete=False,
        )
    fatal_sae(investigator, randomized_patient, day)  # still reportable
    randomized_patient.refresh_from_db()
    assert randomized_patient.status == S.DIED


def test_courses_of_many_patients_take_a_fixed_number_of_queries(
    site, schedule, investigator, frozen_day1, django_assert_max_num_queries
):
    from tests.crf.factories import randomized
    from tests.factories import PatientFactory

    patients = [
        randomized(PatientFactory(site=site), day1=DAY1, user=investigator) for _ in range(6)
    ]
    fatal_sae(investigator, patients[0], DAY1)
    with django_assert_max_num_queries(5):
        courses = c.patient_courses(patients)
    assert courses[patients[0].pk].state == S.DIED
    assert {courses[p.pk].state for p in patients[1:]} == {S.RANDOMIZED}
