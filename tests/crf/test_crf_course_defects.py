"""Issue 10 findings on the crf side, one test per observed defect (each failed on the code
before the patient course): deaths on every path, survival follow-up after death, day 1 =
dose 1, visit status from required forms, withdrawal and completion."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from crf import services
from crf.models import Administration, Visit, VisitStatus
from tests.conftest import make_user
from trials.models import PatientStatus
from trials.roles import Role

pytestmark = pytest.mark.django_db

DAY1 = dt.date(2026, 3, 2)


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC)


def visit_of(patient, code: str) -> Visit:
    return Visit.objects.get(patient=patient, definition__code=code)


def save(user, patient, code, form_code, data, *, complete=True, **kwargs):
    return services.crf_save(
        user=user,
        form_code=form_code,
        data=data,
        complete=complete,
        visit=visit_of(patient, code),
        **{"confirm_out_of_range": True, **kwargs},
    )


def give(user, patient, code: str, day: dt.date, *, given: bool = True):
    data = (
        {
            "given": True,
            "start_time": at(day),
            "end_time": at(day, 11),
            "infusion_reaction": False,
            "volume_infused_ml": "50.0",
            "full_dose_given": True,
        }
        if given
        else {"given": False, "not_given_reason": "clinical_condition"}
    )
    return save(user, patient, code, "administration", data)


def vitals(user, patient, code: str, day: dt.date, kg: str = "72.5", **extra):
    data = {
        "assessment_date": day,
        "weight_kg": Decimal(kg),
        "heart_rate_bpm": 80,
        "systolic_bp_mmhg": 110,
        "diastolic_bp_mmhg": 70,
        **extra,
    }
    return save(user, patient, code, "vitals", data)


def fatal_sae(user, patient, day: dt.date):
    return services.crf_save(
        user=user,
        form_code="adverse_event",
        patient=patient,
        data={
            "term": "Septic shock",
            "onset_date": day,
            "end_date": day,
            "severity_grade": 5,
            "serious": True,
            "sae_death": True,
            "relatedness": "not_related",
            "expectedness": "unexpected",
            "action_taken": "not_applicable",
            "serious_date": day,
            "outcome": "fatal",
            "reported_to_sponsor_within_24h": True,
        },
        complete=True,
    )


def end_of_study(user, patient, reason: str, day: dt.date, **extra):
    data = {"reason": reason, "end_date": day, **extra}
    if reason == "died":
        data.setdefault("death_cause", "Multi-organ failure")
    return services.crf_save(
        user=user, form_code="end_of_study", patient=patient, data=data, complete=True
    )


# --- deaths recorded on any path ------------------------------------------------------------


def test_fatal_sae_ends_dosing_and_refuses_a_later_dose(
    randomized_patient, investigator, frozen_day1
):
    give(investigator, randomized_patient, "dose1", DAY1)
    frozen_day1.move_to(at(DAY1 + dt.timedelta(days=3)))
    fatal_sae(investigator, randomized_patient, DAY1 + dt.timedelta(days=1))
    randomized_patient.refresh_from_db()
    assert randomized_patient.status == PatientStatus.DIED
    assert visit_of(randomized_patient, "dose2").status == VisitStatus.NOT_APPLICABLE
    frozen_day1.move_to(at(DAY1 + dt.timedelta(days=4)))
    with pytest.raises(ValidationError) as exc:
        give(investigator, randomized_patient, "dose2", DAY1 + dt.timedelta(days=3))
    assert "2026-03-03" in str(exc.value)
    assert not Administration.objects.filter(visit__definition__code="dose2").exists()


def test_death_on_the_follow_up_form_changes_the_patient_and_the_digest(
    randomized_patient, investigator, frozen_day1, settings
):
    give(investigator, randomized_patient, "dose1", DAY1)
    frozen_day1.move_to(at(DAY1 + dt.timedelta(days=5)))
    unscheduled = services.visit_unscheduled_create(
        user=investigator, patient=randomized_patient, visit_date=DAY1 + dt.timedelta(days=5)
    )
    services.crf_save(
        user=investigator,
        form_code="follow_up",
        visit=unscheduled,
        data={
            "assessment_date": DAY1 + dt.timedelta(days=5),
            "vital_status": "dead",
            "death_date": DAY1 + dt.timedelta(days=4),
            "death_cause": "Variceal bleeding",
            "hospital_status": "unknown",
        },
        complete=True,
    )
    randomized_patient.refresh_from_db()
    assert randomized_patient.status == PatientStatus.DIED
    # dose 2 (day 4) was before the death; doses 3 and 4 are cancelled.
    assert visit_of(randomized_patient, "dose3").status == VisitStatus.NOT_APPLICABLE
    investigator.email = "inv@example.org"
    investigator.save()
    mail.outbox.clear()
    services.visits_status_refresh(today=DAY1 + dt.timedelta(days=11))
    assert not any(randomized_patient.subject_id in m.body for m in mail.outbox)


def test_a_living_patient_stays_in_the_digest(
    randomized_patient, investigator, frozen_day1, settings
):
    """The digest test above fails for the right reason: a due visit is e-mailed."""
    investigator.email = "inv@example.org"
    investigator.save()
    mail.outbox.clear()
    services.visits_status_refresh(today=DAY1 + dt.timedelta(days=3))
    assert any(randomized_patient.subject_id in m.body for m in mail.outbox)


# --- survival follow-up after a death -------------------------------------------------------


def test_follow_up_of_a_dead_patient_is_recorded_at_its_own_date_and_never_missed(
    randomized_patient, investigator, frozen_day1
):
    give(investigator, randomized_patient, "dose1", DAY1)
    death = DAY1 + dt.timedelta(days=9)
    frozen_day1.move_to(at(death + dt.timedelta(days=1)))
    end_of_study(investigator, randomized_patient, "died", death)
    # Nobody records the 3-month and 12-month follow-ups for a year: never "missed".
    services.visits_status_refresh(today=DAY1 + dt.timedelta(days=500), notify=False)
    for code in ("fu_d28", "fu_m3", "fu_m12"):
        assert visit_of(randomized_patient, code).status != VisitStatus.MISSED, code
    day28 = visit_of(randomized_patient, "fu_d28").target_date
    frozen_day1.move_to(at(day28))
    fu = save(
        investigator,
        randomized_patient,
        "fu_d28",
        "follow_up",
        {
            "assessment_date": day28,
            "vital_status": "dead",
            "death_date": death,
            "death_cause": "Multi-organ failure",
            "hospital_status": "unknown",
            "last_known_alive_date": death - dt.timedelta(days=1),
            "information_source": "records",
        },
        confirm_out_of_range=False,
    )
    assert fu.out_of_range_confirmed == []  # no window deviation
    assert visit_of(randomized_patient, "fu_d28").status == VisitStatus.DONE


# --- day 1 = the day of the first dose -------------------------------------------------------


def test_dose1_given_a_day_late_reanchors_the_plan_with_an_automatic_reason(
    randomized_patient, investigator, frozen_day1
):
    late = DAY1 + dt.timedelta(days=1)
    frozen_day1.move_to(at(late, 12))
    give(investigator, randomized_patient, "dose1", late)
    dose2 = visit_of(randomized_patient, "dose2")
    assert dose2.target_date == late + dt.timedelta(days=3)
    assert "re-anchored" in dose2.history.first().history_change_reason
    assert visit_of(randomized_patient, "fu_d28").target_date == late + dt.timedelta(days=27)
    assert services.day1_of(randomized_patient) == late


def test_reanchoring_flags_a_visit_that_already_has_data(
    randomized_patient, investigator, frozen_day1
):
    frozen_day1.move_to(at(DAY1 + dt.timedelta(days=3)))
    vitals(investigator, randomized_patient, "dose2", DAY1 + dt.timedelta(days=3))
    planned = visit_of(randomized_patient, "dose2").target_date
    give(investigator, randomized_patient, "dose1", DAY1 + dt.timedelta(days=1))
    dose2 = visit_of(randomized_patient, "dose2")
    assert dose2.target_date == planned
    assert "review" in dose2.review_note


# --- visit status from required forms --------------------------------------------------------


def test_dose1_visit_with_dose_and_vitals_is_done_without_optional_forms(
    randomized_patient, investigator, frozen_day1
):
    vitals(investigator, randomized_patient, "dose1", DAY1)
    give(investigator, randomized_patient, "dose1", DAY1)
    assert visit_of(randomized_patient, "dose1").status == VisitStatus.DONE
    services.visits_status_refresh(today=DAY1 + dt.timedelta(days=30), notify=False)
    assert visit_of(randomized_patient, "dose1").status == VisitStatus.DONE


def test_a_dose_not_given_does_not_block_the_next_dose(
    randomized_patient, investigator, frozen_day1
):
    give(investigator, randomized_patient, "dose1", DAY1)
    frozen_day1.move_to(at(DAY1 + dt.timedelta(days=3)))
    give(investigator, randomized_patient, "dose2", DAY1 + dt.timedelta(days=3), given=False)
    assert visit_of(randomized_patient, "dose2").status == VisitStatus.DONE
    frozen_day1.move_to(at(DAY1 + dt.timedelta(days=10)))
    give(investigator, randomized_patient, "dose3", DAY1 + dt.timedelta(days=10))


# --- withdrawal and completion ----------------------------------------------------------------


def test_withdrawal_from_visits_closes_the_follow_ups(
    randomized_patient, investigator, frozen_day1
):
    give(investigator, randomized_patient, "dose1", DAY1)
    frozen_day1.move_to(at(DAY1 + dt.timedelta(days=6)))
    end_of_study(
        investigator,
        randomized_patient,
        "withdrew_consent",
        DAY1 + dt.timedelta(days=6),
        withdrawal_scope="no_more_visits",
    )
    for code in ("dose3", "dose4", "fu_d28", "fu_m3", "fu_m12"):
        assert visit_of(randomized_patient, code).status == VisitStatus.NOT_APPLICABLE, code
    services.visits_status_refresh(today=DAY1 + dt.timedelta(days=400), notify=False)
    assert visit_of(randomized_patient, "fu_m12").status == VisitStatus.NOT_APPLICABLE


def test_completed_on_day_3_is_refused_without_an_early_termination_reason(
    randomized_patient, investigator, frozen_day1
):
    give(investigator, randomized_patient, "dose1", DAY1)
    frozen_day1.move_to(at(DAY1 + dt.timedelta(days=2)))
    with pytest.raises(ValidationError) as exc:
        end_of_study(investigator, randomized_patient, "completed", DAY1 + dt.timedelta(days=2))
    assert "early_termination_reason" in exc.value.message_dict
    randomized_patient.refresh_from_db()
    assert randomized_patient.status == PatientStatus.RANDOMIZED


def test_no_dose_after_completion(randomized_patient, investigator, frozen_day1):
    give(investigator, randomized_patient, "dose1", DAY1)
    frozen_day1.move_to(at(DAY1 + dt.timedelta(days=2)))
    end_of_study(
        investigator,
        randomized_patient,
        "completed",
        DAY1 + dt.timedelta(days=2),
        early_termination_reason="Trial stopped by the sponsor",
    )
    frozen_day1.move_to(at(DAY1 + dt.timedelta(days=3)))
    with pytest.raises(ValidationError):
        give(investigator, randomized_patient, "dose2", DAY1 + dt.timedelta(days=3))


# --- weight typed in pounds -------------------------------------------------------------------


def test_a_weight_typed_in_pounds_is_stored_in_kg(randomized_patient, investigator):
    stored = vitals(investigator, randomized_patient, "dose1", DAY1, kg="160", weight_unit="lb")
    assert stored.weight_kg == Decimal("72.6")
    assert stored.weight_entered == "160 lb"


def test_pounds_typed_as_kg_need_a_confirmation(randomized_patient, investigator, frozen_day1):
    vitals(investigator, randomized_patient, "dose1", DAY1)
    give(investigator, randomized_patient, "dose1", DAY1)
    frozen_day1.move_to(at(DAY1 + dt.timedelta(days=3)))
    with pytest.raises(services.OutOfRangeWarning) as exc:
        services.crf_save(
            user=investigator,
            form_code="vitals",
            visit=visit_of(randomized_patient, "dose2"),
            data={
                "assessment_date": DAY1 + dt.timedelta(days=3),
                "weight_kg": Decimal("160"),
                "heart_rate_bpm": 80,
                "systolic_bp_mmhg": 110,
            },
            complete=True,
        )
    assert "previous weight" in exc.value.warnings["weight_kg"][0]


def test_blinded_course_warning_shows_on_the_patient_page(
    client, randomized_patient, investigator, frozen_day1, groups, site
):
    """Conflicting death dates open a warning on the patient page (no arm involved)."""
    give(investigator, randomized_patient, "dose1", DAY1)
    frozen_day1.move_to(at(DAY1 + dt.timedelta(days=10)))
    fatal_sae(investigator, randomized_patient, DAY1 + dt.timedelta(days=8))
    end_of_study(investigator, randomized_patient, "died", DAY1 + dt.timedelta(days=9))
    monitor = make_user(groups, Role.MONITOR, site, username="mon2")
    client.force_login(monitor)
    html = client.get(f"/patients/{randomized_patient.pk}/").content.decode()
    assert "Conflicting died dates" in html


def test_the_api_refuses_a_dose_after_a_recorded_death_with_the_field_named(
    client, randomized_patient, investigator, frozen_day1
):
    """Same rule on the API path: a 400 naming the field, nothing stored."""
    give(investigator, randomized_patient, "dose1", DAY1)
    frozen_day1.move_to(at(DAY1 + dt.timedelta(days=4)))
    visit = services.visit_unscheduled_create(
        user=investigator, patient=randomized_patient, visit_date=DAY1 + dt.timedelta(days=1)
    )
    services.crf_save(
        user=investigator,
        form_code="follow_up",
        visit=visit,
        data={
            "assessment_date": DAY1 + dt.timedelta(days=1),
            "vital_status": "transplanted",
            "transplant_date": DAY1 + dt.timedelta(days=1),
            "hospital_status": "icu",
        },
        complete=True,
    )
    client.force_login(investigator)
    dose3 = visit_of(randomized_patient, "dose2")
    start = at(DAY1 + dt.timedelta(days=3)).isoformat()
    response = client.put(
        f"/api/v1/visits/{dose3.pk}/forms/administration/",
        {"given": True, "start_time": start, "infusion_reaction": False, "complete": True},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "Transplanted on 2026-03-03" in str(response.json())
    assert not Administration.objects.filter(visit=dose3).exists()


def test_timeline_says_the_plan_is_provisional_until_dose1(
    client, randomized_patient, investigator, frozen_day1
):
    client.force_login(investigator)
    url = f"/crf/patients/{randomized_patient.pk}/timeline/"
    assert "provisional until dose 1" in client.get(url).content.decode()
    give(investigator, randomized_patient, "dose1", DAY1)
    assert "provisional until dose 1" not in client.get(url).content.decode()


def test_a_missed_dose1_visit_does_not_block_dose2(randomized_patient, investigator, frozen_day1):
    frozen_day1.move_to(at(DAY1 + dt.timedelta(days=3)))
    services.visits_status_refresh(today=DAY1 + dt.timedelta(days=9), notify=False)
    assert visit_of(randomized_patient, "dose1").status == VisitStatus.MISSED
    give(investigator, randomized_patient, "dose2", DAY1 + dt.timedelta(days=3))


def test_the_vitals_page_takes_pounds_and_shows_the_weight_in_kg(
    client, randomized_patient, investigator
):
    client.force_login(investigator)
    url = f"/crf/visits/{visit_of(randomized_patient, 'dose1').pk}/forms/vitals/"
    page = client.get(url).content.decode()
    assert 'name="weight_unit"' in page
    response = client.post(
        url,
        {
            "assessment_date": "2026-03-02",
            "weight_kg": "160",
            "weight_unit": "lb",
            "heart_rate_bpm": "80",
            "systolic_bp_mmhg": "110",
            "diastolic_bp_mmhg": "70",
            "complete": "1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    page = client.get(url).content.decode()
    assert 'value="72.6"' in page
