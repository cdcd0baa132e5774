"""AE/SAE content a safety reviewer needs, administration details, entered in error (issue 13)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from crf import services
from crf.models import AdverseEvent
from tests.crf.test_crf_services import give_dose, save

pytestmark = pytest.mark.django_db
DAY1 = dt.date(2026, 3, 2)

COMPLETE_AE = {
    "term": "Fever after infusion",
    "onset_date": DAY1,
    "onset_time": dt.time(14, 30),
    "severity_grade": 2,
    "serious": False,
    "relatedness": "possible",
    "expectedness": "expected",
    "action_taken": "none",
    "outcome": "recovered",
    "end_date": DAY1,
    "related_dose_number": 1,
    "meddra_pt_code": "10037660",
    "meddra_pt_name": "Pyrexia",
}


def ae(user, patient, data, *, complete=True, pk=None, reason=""):
    return services.crf_save(
        user=user,
        form_code="adverse_event",
        patient=patient,
        data=data,
        complete=complete,
        pk=pk,
        reason=reason,
    )


def test_an_empty_adverse_event_is_refused_on_every_path(client, randomized_patient, investigator):
    with pytest.raises(ValidationError) as exc:
        ae(investigator, randomized_patient, {}, complete=False)
    assert "term" in exc.value.message_dict
    client.force_login(investigator)
    response = client.post(
        f"/api/v1/patients/{randomized_patient.pk}/adverse-events/",
        {},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "term" in response.json()
    page = reverse("crf:ae-create", kwargs={"patient_pk": randomized_patient.pk})
    assert client.post(page, {"draft": "1"}).status_code == 200
    assert not AdverseEvent.objects.exists()


def test_a_complete_ae_needs_expectedness_and_action_taken(randomized_patient, investigator):
    data = {k: v for k, v in COMPLETE_AE.items() if k not in ("expectedness", "action_taken")}
    data.pop("related_dose_number")
    with pytest.raises(ValidationError) as exc:
        ae(investigator, randomized_patient, data)
    assert {"expectedness", "action_taken"} <= set(exc.value.message_dict)


def test_ae_linked_to_a_dose_gets_the_time_since_infusion(randomized_patient, investigator):
    give_dose(investigator, randomized_patient)  # infusion 10:00 UTC = 11:00 Madrid
    event = ae(investigator, randomized_patient, COMPLETE_AE)
    assert event.hours_since_infusion == Decimal("3.5")


def test_ae_cannot_follow_a_dose_that_was_not_given(randomized_patient, investigator):
    with pytest.raises(ValidationError, match="Dose 1 is not recorded as given"):
        ae(investigator, randomized_patient, COMPLETE_AE)


def test_a_serious_event_needs_the_date_it_became_serious(randomized_patient, investigator):
    data = {
        **COMPLETE_AE,
        "related_dose_number": None,
        "serious": True,
        "sae_hospitalization": True,
        "reported_to_sponsor_within_24h": True,
    }
    with pytest.raises(ValidationError) as exc:
        ae(investigator, randomized_patient, data)
    assert "serious_date" in exc.value.message_dict
    event = ae(investigator, randomized_patient, {**data, "serious_date": DAY1})
    assert event.serious_date == DAY1


def test_meddra_codes_are_eight_digits_with_their_names(randomized_patient, investigator):
    data = {**COMPLETE_AE, "related_dose_number": None, "meddra_pt_code": "1003"}
    with pytest.raises(ValidationError) as exc:
        ae(investigator, randomized_patient, data)
    assert "meddra_pt_code" in exc.value.message_dict


def test_entered_in_error_keeps_the_record_and_releases_the_course(
    randomized_patient, investigator
):
    fatal = ae(
        investigator,
        randomized_patient,
        {
            **COMPLETE_AE,
            "related_dose_number": None,
            "severity_grade": 5,
            "serious": True,
            "serious_date": DAY1,
            "sae_death": True,
            "outcome": "fatal",
            "reported_to_sponsor_within_24h": True,
            "expectedness": "unexpected",
            "action_taken": "not_applicable",
        },
    )
    randomized_patient.refresh_from_db()
    assert randomized_patient.status == "died"
    with pytest.raises(ValidationError):
        services.adverse_event_enter_in_error(user=investigator, event=fatal, reason="")
    services.adverse_event_enter_in_error(
        user=investigator, event=fatal, reason="Entered for the wrong patient"
    )
    fatal.refresh_from_db()
    assert fatal.entered_in_error
    assert AdverseEvent.objects.filter(pk=fatal.pk).exists()
    assert "Entered in error" in fatal.history.first().history_change_reason
    randomized_patient.refresh_from_db()
    assert randomized_patient.status != "died"


def test_entered_in_error_page_for_site_staff_only(
    client, randomized_patient, investigator, monitor
):
    event = ae(investigator, randomized_patient, {**COMPLETE_AE, "related_dose_number": None})
    url = reverse("crf:ae-entered-in-error", kwargs={"ae_pk": event.pk})
    client.force_login(monitor)
    assert client.post(url, {"reason": "not mine"}).status_code == 403
    client.force_login(investigator)
    assert client.post(url, {"reason": "Duplicate of AE 1"}).status_code == 302
    event.refresh_from_db()
    assert event.entered_in_error


def test_administration_records_volume_and_full_dose_or_why_not(randomized_patient, investigator):
    start = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    data = {"given": True, "start_time": start, "infusion_reaction": False}
    with pytest.raises(ValidationError) as exc:
        save(investigator, randomized_patient, "dose1", "administration", data)
    assert {"end_time", "volume_infused_ml", "full_dose_given"} <= set(exc.value.message_dict)
    with pytest.raises(ValidationError) as exc:
        save(
            investigator,
            randomized_patient,
            "dose1",
            "administration",
            {
                **data,
                "end_time": start + dt.timedelta(minutes=12),
                "volume_infused_ml": "20.0",
                "full_dose_given": False,
            },
        )
    assert "interruption_reason" in exc.value.message_dict


def test_an_infusion_reaction_needs_a_linked_adverse_event(randomized_patient, investigator):
    start = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    data = {
        "given": True,
        "start_time": start,
        "end_time": start + dt.timedelta(minutes=30),
        "volume_infused_ml": "50.0",
        "full_dose_given": True,
        "infusion_reaction": True,
        "infusion_reaction_details": "Chills and fever 30 min into the infusion",
    }
    with pytest.raises(ValidationError, match="adverse event linked to dose 1"):
        save(investigator, randomized_patient, "dose1", "administration", data)
    save(investigator, randomized_patient, "dose1", "administration", data, complete=False)
    ae(investigator, randomized_patient, {**COMPLETE_AE, "term": "Infusion reaction"})
    done = save(investigator, randomized_patient, "dose1", "administration", data)
    assert done.status == "complete"
