"""Baseline clinical context, infections and the concomitant-medication log (issue 13)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from crf import services
from crf.models import BaselineContext, ConcomitantMedication, Infection
from tests.factories import PatientFactory
from tests.randomization.factories import screening_complete

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


def save(user, patient, code, data, *, complete=True, pk=None, reason=""):
    return services.crf_save(
        user=user,
        form_code=code,
        data=data,
        complete=complete,
        patient=patient,
        pk=pk,
        reason=reason,
    )


BASELINE = {
    "aetiology": "alcohol",
    "transplant_listing": "under_evaluation",
    "precipitating_events": ["infection", "alcoholic_hepatitis"],
    "pregnancy_test": "not_applicable",
}


def test_baseline_context_is_one_record_per_patient(investigator, patient):
    first = save(investigator, patient, "baseline", BASELINE)
    again = save(investigator, patient, "baseline", {**BASELINE, "aetiology": "hcv"}, reason="HCV")
    assert first.pk == again.pk
    assert BaselineContext.objects.get().aetiology == "hcv"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"precipitating_events": ["none", "infection"]}, "precipitating_events"),
        ({"precipitating_events": ["other"]}, "precipitating_other"),
        ({"aetiology": "other"}, "aetiology_other"),
        ({"pregnancy_test": "negative"}, "pregnancy_test_date"),
        ({"aetiology": ""}, "aetiology"),
    ],
)
def test_baseline_edit_checks(investigator, patient, data, field):
    with pytest.raises(ValidationError) as exc:
        save(investigator, patient, "baseline", {**BASELINE, **data})
    assert field in exc.value.message_dict


def test_a_woman_of_child_bearing_potential_needs_a_pregnancy_test(investigator, site):
    woman = PatientFactory(site=site, sex="F")
    screening = screening_complete(woman)
    screening.childbearing_potential = "yes_contraception"
    screening.save()
    with pytest.raises(ValidationError) as exc:
        save(investigator, woman, "baseline", BASELINE)
    assert "pregnancy_test" in exc.value.message_dict
    record = save(
        investigator,
        woman,
        "baseline",
        {**BASELINE, "pregnancy_test": "negative", "pregnancy_test_date": TODAY},
    )
    assert record.pregnancy_test == "negative"


def test_infections_are_a_log_with_cultures(investigator, patient):
    with pytest.raises(ValidationError) as exc:
        save(
            investigator,
            patient,
            "infection",
            {"site": "sbp", "onset_date": TODAY, "culture": "positive"},
        )
    assert "organism" in exc.value.message_dict
    save(
        investigator,
        patient,
        "infection",
        {"site": "sbp", "onset_date": TODAY, "culture": "positive", "organism": "E. coli"},
    )
    save(
        investigator,
        patient,
        "infection",
        {"site": "urinary", "onset_date": TODAY, "culture": "negative"},
    )
    assert Infection.objects.filter(patient=patient).count() == 2


def test_medication_log_flags_protocol_classes_and_checks_dates(investigator, patient):
    with pytest.raises(ValidationError) as exc:
        save(
            investigator,
            patient,
            "con_med",
            {
                "name": "Albumin 20%",
                "drug_class": "albumin",
                "start_date": TODAY,
                "stop_date": TODAY - dt.timedelta(days=1),
            },
        )
    assert "stop_date" in exc.value.message_dict
    med = save(
        investigator,
        patient,
        "con_med",
        {"name": "Albumin 20%", "drug_class": "albumin", "start_date": TODAY, "ongoing": True},
    )
    assert med.flagged
    other = ConcomitantMedication(drug_class="other")
    assert not other.flagged


def test_record_pages_list_create_and_are_scoped(
    client, investigator, monitor, other_site_investigator, patient
):
    client.force_login(investigator)
    url = reverse("crf:record-create", kwargs={"patient_pk": patient.pk, "form_code": "con_med"})
    response = client.post(
        url,
        {
            "name": "Rifaximin",
            "drug_class": "antibiotic",
            "start_date": TODAY.isoformat(),
            "ongoing": "on",
            "complete": "",
        },
    )
    assert response.status_code == 302
    listing = reverse("crf:record-list", kwargs={"patient_pk": patient.pk, "form_code": "con_med"})
    assert "Rifaximin" in client.get(listing).content.decode()
    client.force_login(monitor)
    assert "Rifaximin" in client.get(listing).content.decode()
    assert client.post(url, {"name": "x"}).status_code == 403
    client.force_login(other_site_investigator)
    assert client.get(listing).status_code == 404
    bad = reverse("crf:record-list", kwargs={"patient_pk": patient.pk, "form_code": "labs"})
    client.force_login(investigator)
    assert client.get(bad).status_code == 404


def test_patient_records_through_the_api(client, investigator, monitor, patient):
    client.force_login(investigator)
    url = f"/api/v1/patients/{patient.pk}/records/infection/"
    response = client.post(
        url,
        {"site": "sbp", "onset_date": TODAY.isoformat(), "culture": "pending", "complete": True},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    bad = client.post(url, {"site": "nowhere", "complete": True}, content_type="application/json")
    assert bad.status_code == 400
    assert "site" in bad.json()
    client.force_login(monitor)
    assert [r["site"] for r in client.get(url).json()] == ["sbp"]
    assert client.post(url, {"site": "sbp"}, content_type="application/json").status_code in (
        403,
        404,
    )
    assert client.get(f"/api/v1/patients/{patient.pk}/records/labs/").status_code == 404
