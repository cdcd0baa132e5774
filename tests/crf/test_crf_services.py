"""crf_save: edit checks, soft-limit confirmation, audit, scores, sequencing, end of study."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from crf import selectors, services
from crf.models import (
    Administration,
    AdverseEvent,
    LabResult,
    Visit,
    VisitStatus,
    VitalSigns,
)
from trials.models import PatientStatus, ScoreRecord

pytestmark = pytest.mark.django_db

VITALS = {
    "assessment_date": dt.date(2026, 3, 2),
    "weight_kg": Decimal("72.5"),
    "heart_rate_bpm": 88,
    "systolic_bp_mmhg": 110,
    "diastolic_bp_mmhg": 70,
}


def visit_of(patient, code: str) -> Visit:
    return Visit.objects.get(patient=patient, definition__code=code)


def save(user, patient, code, form_code, data, *, complete=True, **kwargs):
    return services.crf_save(
        user=user,
        form_code=form_code,
        data=data,
        complete=complete,
        visit=visit_of(patient, code),
        **kwargs,
    )


def give_dose(user, patient, code="dose1", start=None):
    start = start or dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    return save(
        user,
        patient,
        code,
        "administration",
        {
            "given": True,
            "start_time": start,
            "end_time": start + dt.timedelta(minutes=30),
            "infusion_reaction": False,
            "volume_infused_ml": "50.0",
            "full_dose_given": True,
        },
    )


# --- required fields, hard and soft limits


def test_draft_may_be_partial_but_complete_needs_required_fields(randomized_patient, investigator):
    draft = save(
        investigator, randomized_patient, "dose1", "vitals", {"weight_kg": 70}, complete=False
    )
    assert draft.status == "draft"
    with pytest.raises(ValidationError) as exc:
        save(investigator, randomized_patient, "dose1", "vitals", {"weight_kg": 70})
    assert exc.value.message_dict["heart_rate_bpm"] == ["Required to complete the form."]
    assert "assessment_date" in exc.value.message_dict


def test_hard_limit_rejects_and_changes_nothing_stored(randomized_patient, investigator):
    save(investigator, randomized_patient, "dose1", "vitals", VITALS)
    with pytest.raises(ValidationError, match="at most 300 kg"):
        save(
            investigator,
            randomized_patient,
            "dose1",
            "vitals",
            {**VITALS, "weight_kg": Decimal("725")},
            reason="typo fixed",
        )
    stored = VitalSigns.objects.get(patient=randomized_patient)
    assert stored.weight_kg == Decimal("72.5")
    assert stored.history.count() == 1


def test_soft_limit_warns_then_saves_when_confirmed(randomized_patient, investigator):
    data = {**VITALS, "heart_rate_bpm": 150}
    with pytest.raises(services.OutOfRangeWarning) as exc:
        save(investigator, randomized_patient, "dose1", "vitals", data)
    assert "above the expected range" in exc.value.warnings["heart_rate_bpm"][0]
    assert not VitalSigns.objects.filter(patient=randomized_patient).exists()
    vitals = save(
        investigator, randomized_patient, "dose1", "vitals", data, confirm_out_of_range=True
    )
    assert vitals.out_of_range_confirmed == ["heart_rate_bpm"]


def test_diastolic_must_be_below_systolic(randomized_patient, investigator):
    with pytest.raises(ValidationError, match="below systolic"):
        save(
            investigator,
            randomized_patient,
            "dose1",
            "vitals",
            {**VITALS, "diastolic_bp_mmhg": 120},
        )


def test_future_assessment_date_is_rejected(randomized_patient, investigator):
    with pytest.raises(ValidationError, match="in the future"):
        save(
            investigator,
            randomized_patient,
            "dose1",
            "vitals",
            {**VITALS, "assessment_date": dt.date(2026, 3, 3)},
        )


def test_assessment_outside_the_window_needs_confirmation(
    randomized_patient, investigator, frozen_day1
):
    """Dose 2 is day 4 ± 1 (2026-03-04 to 03-06): a measurement on 03-07 is a deviation."""
    frozen_day1.move_to(dt.datetime(2026, 3, 8, 10, 0, tzinfo=dt.UTC))
    data = {**VITALS, "assessment_date": dt.date(2026, 3, 7)}
    with pytest.raises(services.OutOfRangeWarning, match="outside the visit window"):
        save(investigator, randomized_patient, "dose2", "vitals", data)
    vitals = save(
        investigator, randomized_patient, "dose2", "vitals", data, confirm_out_of_range=True
    )
    assert vitals.out_of_range_confirmed == ["assessment_date"]


def test_assessment_before_day_1_is_rejected(randomized_patient, investigator):
    with pytest.raises(ValidationError, match="before randomization"):
        save(
            investigator,
            randomized_patient,
            "dose1",
            "vitals",
            {**VITALS, "assessment_date": dt.date(2026, 3, 1)},
        )


# --- reason for change and audit


def test_changing_a_complete_form_needs_a_reason_stored_in_history(
    randomized_patient, investigator
):
    save(investigator, randomized_patient, "dose1", "vitals", VITALS)
    changed = {**VITALS, "weight_kg": Decimal("73.0")}
    with pytest.raises(ValidationError, match="give a reason"):
        save(investigator, randomized_patient, "dose1", "vitals", changed)
    save(investigator, randomized_patient, "dose1", "vitals", changed, reason="scale recalibrated")
    latest = VitalSigns.objects.get(patient=randomized_patient).history.order_by("-history_id")[0]
    assert latest.history_change_reason == "scale recalibrated"
    assert latest.history_user == investigator
    assert latest.weight_kg == Decimal("73.0")


def test_only_site_investigators_write(randomized_patient, monitor, other_site_investigator):
    for user in (monitor, other_site_investigator):
        with pytest.raises(PermissionDenied):
            save(user, randomized_patient, "dose1", "vitals", VITALS)


# --- laboratory CRF: units and scores

LABS = {
    "assessment_date": dt.date(2026, 3, 2),
    "bilirubin_entered": Decimal("171"),
    "bilirubin_unit": "µmol/L",
    "creatinine_entered": Decimal("1.2"),
    "creatinine_unit": "mg/dL",
    "albumin_entered": Decimal("30"),
    "albumin_unit": "g/L",
    "inr": Decimal("1.8"),
    "sodium_mmol_l": Decimal("134"),
    "ammonia_entered": Decimal("100"),
    "ammonia_unit": "µg/dL",
    "lactate_entered": Decimal("18"),
    "lactate_unit": "mg/dL",
    # Every input of CLIF-SOFA / CLIF-C OF / CLIF-C ACLF (a complete form needs them).
    "platelets_10e9_l": Decimal("95"),
    "wbc_10e9_l": Decimal("8.5"),
    "he_grade": 1,
    "map_mmhg": Decimal("72"),
    "spo2_pct": Decimal("96"),
    "fio2": Decimal("0.21"),
}


def test_lab_units_are_stored_canonically_with_what_was_typed(randomized_patient, investigator):
    labs = save(investigator, randomized_patient, "dose1", "labs", LABS)
    assert labs.bilirubin_mg_dl == Decimal("10.000")
    assert (labs.bilirubin_entered, labs.bilirubin_unit) == (Decimal("171"), "µmol/L")
    assert labs.albumin_g_dl == Decimal("3.000")
    assert labs.ammonia_umol_l == Decimal("58.72")
    assert labs.lactate_mmol_l == Decimal("2.00")


def test_lab_save_recomputes_the_scores_with_visit_label(randomized_patient, investigator):
    labs = save(investigator, randomized_patient, "dose1", "labs", LABS)
    record = ScoreRecord.objects.get(source_id=labs.pk, source_type__model="labresult")
    assert record.label == "Dose 1 (day 1)"
    assert record.meld is not None
    assert record.inputs["bilirubin_mg_dl"]["entered_unit"] == "µmol/L"
    save(
        investigator,
        randomized_patient,
        "dose1",
        "labs",
        {**LABS, "inr": Decimal("2.5")},
        reason="lab corrected",
    )
    record.refresh_from_db()
    assert record.inputs["inr"]["value"] == 2.5
    assert (
        "Laboratory and organ function CRF saved" in record.trigger  # no history (#16)
    )


def test_invalid_lab_value_stores_neither_form_nor_scores(randomized_patient, investigator):
    with pytest.raises(ValidationError) as exc:
        save(investigator, randomized_patient, "dose1", "labs", {**LABS, "fio2": Decimal("0.1")})
    assert "fio2" in exc.value.message_dict
    assert not LabResult.objects.exists()
    assert not ScoreRecord.objects.filter(patient=randomized_patient).exists()


def test_unknown_unit_is_a_field_error(randomized_patient, investigator):
    with pytest.raises(ValidationError) as exc:
        save(investigator, randomized_patient, "dose1", "labs", {**LABS, "lactate_unit": "g/L"})
    assert "lactate_unit" in exc.value.message_dict


# --- sequencing


def test_dose_2_administration_needs_dose_1_complete(randomized_patient, investigator):
    with pytest.raises(ValidationError, match="dose 1 administration form before dose 2"):
        give_dose(investigator, randomized_patient, "dose2")
    give_dose(investigator, randomized_patient, "dose1")
    assert Administration.objects.filter(patient=randomized_patient).count() == 1


def test_no_visit_crf_for_a_patient_not_randomized(
    randomized_patient, investigator, django_capture_on_commit_callbacks
):
    randomized_patient.status = PatientStatus.SCREENING
    randomized_patient.save()
    with pytest.raises(ValidationError, match="not randomized"):
        save(investigator, randomized_patient, "dose1", "vitals", VITALS)


def test_administration_not_recorded_at_a_follow_up_visit(randomized_patient, investigator):
    with pytest.raises(ValidationError, match="not recorded at a follow up visit"):
        save(investigator, randomized_patient, "fu_d28", "administration", {"given": True})


def test_not_given_needs_a_reason(randomized_patient, investigator):
    with pytest.raises(ValidationError) as exc:
        save(investigator, randomized_patient, "dose1", "administration", {"given": False})
    assert "not_given_reason" in exc.value.message_dict


def test_infusion_cannot_end_before_it_starts(randomized_patient, investigator):
    start = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    with pytest.raises(ValidationError, match="cannot end before it starts"):
        save(
            investigator,
            randomized_patient,
            "dose1",
            "administration",
            {
                "given": True,
                "start_time": start,
                "end_time": start - dt.timedelta(minutes=5),
                "infusion_reaction": False,
                "volume_infused_ml": "50.0",
                "full_dose_given": True,
            },
        )


# --- visit progress and pharmacy selectors


def test_visit_is_done_when_every_expected_form_is_complete(randomized_patient, investigator):
    visit = visit_of(randomized_patient, "dose1")
    visit.definition.expected_forms = ["vitals", "administration"]
    visit.definition.save()
    save(investigator, randomized_patient, "dose1", "vitals", VITALS)
    assert visit_of(randomized_patient, "dose1").status == VisitStatus.DUE
    give_dose(investigator, randomized_patient)
    visit = visit_of(randomized_patient, "dose1")
    assert (visit.status, visit.actual_date) == (VisitStatus.DONE, dt.date(2026, 3, 2))


def test_weight_latest_reads_the_last_complete_vitals(
    randomized_patient, investigator, pharmacist
):
    save(investigator, randomized_patient, "dose1", "vitals", VITALS)
    reading = selectors.weight_latest(user=pharmacist, patient=randomized_patient)
    assert reading.weight_kg == Decimal("72.5")
    assert reading.measured_on == dt.date(2026, 3, 2)
    assert reading.source == "Vital signs and weight — Dose 1 (day 1)"


def test_weight_latest_ignores_drafts(randomized_patient, investigator, pharmacist):
    save(investigator, randomized_patient, "dose1", "vitals", VITALS, complete=False)
    assert selectors.weight_latest(user=pharmacist, patient=randomized_patient) is None


def test_dosing_schedule_shows_dose_given(randomized_patient, investigator, pharmacist):
    give_dose(investigator, randomized_patient)
    doses = selectors.dosing_schedule(user=pharmacist, patient=randomized_patient)
    assert [d.administered for d in doses] == [True, None, None, None]


# --- follow-up, AE, end of study


def test_death_recorded_ends_follow_up(randomized_patient, investigator, frozen_day1):
    frozen_day1.move_to(dt.datetime(2026, 3, 30, 10, 0, tzinfo=dt.UTC))
    save(
        investigator,
        randomized_patient,
        "fu_d28",
        "follow_up",
        {
            "assessment_date": dt.date(2026, 3, 29),
            "vital_status": "dead",
            "death_date": dt.date(2026, 3, 20),
            "death_cause": "Multi-organ failure",
            "hospital_status": "unknown",
        },
    )
    frozen_day1.move_to(dt.datetime(2026, 5, 30, 10, 0, tzinfo=dt.UTC))
    with pytest.raises(ValidationError) as exc:
        save(
            investigator,
            randomized_patient,
            "fu_m3",
            "follow_up",
            {
                "assessment_date": dt.date(2026, 5, 30),
                "vital_status": "alive",
                "hospital_status": "home",
            },
        )
    assert "follow-up ended" in exc.value.message_dict["vital_status"][0]
    assert "died on 2026-03-20" in exc.value.message_dict["assessment_date"][0]


def test_death_date_cannot_precede_randomization(randomized_patient, investigator, frozen_day1):
    frozen_day1.move_to(dt.datetime(2026, 3, 30, 10, 0, tzinfo=dt.UTC))
    with pytest.raises(ValidationError, match="before randomization"):
        save(
            investigator,
            randomized_patient,
            "fu_d28",
            "follow_up",
            {
                "assessment_date": dt.date(2026, 3, 29),
                "vital_status": "dead",
                "death_date": dt.date(2026, 2, 20),
                "death_cause": "x",
            },
        )


def test_serious_event_needs_a_criterion_and_24h_answer(randomized_patient, investigator):
    with pytest.raises(ValidationError) as exc:
        services.crf_save(
            user=investigator,
            form_code="adverse_event",
            patient=randomized_patient,
            complete=True,
            data={
                "term": "Fever",
                "onset_date": dt.date(2026, 3, 2),
                "severity_grade": 3,
                "serious": True,
                "relatedness": "possible",
                "outcome": "recovering",
            },
        )
    assert "seriousness criterion" in exc.value.message_dict["serious"][0]
    assert "reported_to_sponsor_within_24h" in exc.value.message_dict


def test_adverse_events_are_recorded_as_many_as_needed(randomized_patient, investigator):
    for term in ("Fever", "Rash"):
        services.crf_save(
            user=investigator,
            form_code="adverse_event",
            patient=randomized_patient,
            complete=False,
            data={"term": term},
        )
    assert AdverseEvent.objects.filter(patient=randomized_patient).count() == 2


def test_death_at_end_of_study_cancels_dosing_not_follow_up(
    randomized_patient, investigator, frozen_day1
):
    give_dose(investigator, randomized_patient)
    frozen_day1.move_to(dt.datetime(2026, 3, 8, 10, 0, tzinfo=dt.UTC))
    services.crf_save(
        user=investigator,
        form_code="end_of_study",
        patient=randomized_patient,
        complete=True,
        data={"reason": "died", "end_date": dt.date(2026, 3, 7), "death_cause": "Sepsis"},
    )
    randomized_patient.refresh_from_db()
    assert randomized_patient.status == PatientStatus.DIED
    last = randomized_patient.history.order_by("-history_id").first()
    assert last.history_change_reason == "End of study: Died"
    statuses = dict(
        Visit.objects.filter(patient=randomized_patient).values_list("definition__code", "status")
    )
    assert statuses["dose1"] == VisitStatus.DUE  # dose given; other forms still expected
    assert statuses["dose2"] == VisitStatus.PLANNED  # before the death: missed, not cancelled
    assert {statuses["dose3"], statuses["dose4"]} == {VisitStatus.NOT_APPLICABLE}
    assert {statuses[c] for c in ("fu_d28", "fu_m3", "fu_m12")} == {VisitStatus.PLANNED}
    with pytest.raises(ValidationError, match="not applicable"):
        give_dose(investigator, randomized_patient, "dose3")


def test_end_of_study_before_randomization_is_refused(patient, schedule, investigator):
    with pytest.raises(ValidationError, match="randomized patients only"):
        services.crf_save(
            user=investigator,
            form_code="end_of_study",
            patient=patient,
            complete=False,
            data={"reason": "completed"},
        )


def test_adverse_event_before_consent_is_rejected(randomized_patient, investigator):
    with pytest.raises(ValidationError, match="from informed consent on"):
        services.crf_save(
            user=investigator,
            form_code="adverse_event",
            patient=randomized_patient,
            complete=False,
            data={"term": "Headache", "onset_date": dt.date(2026, 2, 1)},
        )


# --- completeness of the laboratory form (issue 13) ------------------------------------------

PARTIAL_LABS = {
    "assessment_date": dt.date(2026, 3, 2),
    "bilirubin_entered": Decimal("171"),
    "bilirubin_unit": "µmol/L",
    "creatinine_entered": Decimal("1.2"),
    "creatinine_unit": "mg/dL",
    "inr": Decimal("1.8"),
}


def test_a_lab_form_is_not_complete_while_primary_scores_cannot_be_computed(
    randomized_patient, investigator
):
    with pytest.raises(ValidationError) as exc:
        save(investigator, randomized_patient, "dose1", "labs", PARTIAL_LABS)
    assert {"platelets_10e9_l", "he_grade", "map_mmhg", "wbc_10e9_l"} <= set(
        exc.value.message_dict
    )
    draft = save(investigator, randomized_patient, "dose1", "labs", PARTIAL_LABS, complete=False)
    assert draft.status == "draft"


def test_inputs_marked_not_done_with_a_reason_let_the_form_complete(
    randomized_patient, investigator
):
    not_done = [
        "platelets_10e9_l",
        "he_grade",
        "map_mmhg",
        "wbc_10e9_l",
        "pao2_mmhg",
        "spo2_pct",
        "fio2",
    ]
    with pytest.raises(ValidationError, match="Say why"):
        save(
            investigator,
            randomized_patient,
            "dose1",
            "labs",
            {**PARTIAL_LABS, "not_done": not_done},
        )
    labs = save(
        investigator,
        randomized_patient,
        "dose1",
        "labs",
        {
            **PARTIAL_LABS,
            "not_done": not_done,
            "not_done_reason": "Haematology analyser down on day 1",
        },
    )
    assert labs.status == "complete"
    record = ScoreRecord.objects.get(source_id=labs.pk, source_type__model="labresult")
    assert record.clif_sofa is None
    assert "platelets_10e9_l" in record.missing["clif_sofa"]


def test_routine_laboratory_values_have_limits(randomized_patient, investigator):
    with pytest.raises(ValidationError) as exc:
        save(
            investigator,
            randomized_patient,
            "dose1",
            "labs",
            {**LABS, "potassium_mmol_l": Decimal("0.5"), "haemoglobin_g_dl": Decimal("0")},
        )
    assert {"potassium_mmol_l", "haemoglobin_g_dl"} <= set(exc.value.message_dict)
    with pytest.raises(services.OutOfRangeWarning):
        save(
            investigator, randomized_patient, "dose1", "labs", {**LABS, "alt_u_l": Decimal("2500")}
        )


def test_site_worklist_lists_visits_whose_primary_scores_were_not_computed(
    client, randomized_patient, investigator, other_site_investigator
):
    not_done = [
        "platelets_10e9_l",
        "he_grade",
        "map_mmhg",
        "wbc_10e9_l",
        "pao2_mmhg",
        "spo2_pct",
        "fio2",
    ]
    save(
        investigator,
        randomized_patient,
        "dose1",
        "labs",
        {**PARTIAL_LABS, "not_done": not_done, "not_done_reason": "Analyser down"},
    )
    client.force_login(investigator)
    body = client.get("/crf/worklist/").content.decode()
    assert "Primary scores not computed" in body
    assert "CLIF-SOFA missing" in body
    assert "Platelets" in body
    client.force_login(other_site_investigator)
    assert "Primary scores not computed" not in client.get("/crf/worklist/").content.decode()


def test_form_statuses_of_visits_come_from_one_query(
    randomized_patient, investigator, django_assert_max_num_queries
):
    """#16: one UNION query instead of one per form type (timeline, patient page)."""
    save(investigator, randomized_patient, "dose1", "labs", LABS)
    save(investigator, randomized_patient, "dose1", "vitals", VITALS, complete=False)
    visits = list(Visit.objects.filter(patient=randomized_patient))
    dose1 = visit_of(randomized_patient, "dose1")
    with django_assert_max_num_queries(1):
        statuses = selectors.visit_form_statuses([v.pk for v in visits])
    assert statuses[dose1.pk] == services.visit_forms_status(dose1)
    assert statuses[dose1.pk] == {"labs": "complete", "vitals": "draft"}
    assert all(statuses[v.pk] == {} for v in visits if v.pk != dose1.pk)
