"""crf API: visits, generic form GET/PUT by form code, adverse events, end of study."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crf.models import AdverseEvent, Visit, VitalSigns

pytestmark = pytest.mark.django_db

VITALS = {
    "assessment_date": "2026-03-02",
    "weight_kg": "72.5",
    "heart_rate_bpm": 88,
    "systolic_bp_mmhg": 110,
    "diastolic_bp_mmhg": 70,
    "complete": True,
}


def form_url(patient, code="dose1", form_code="vitals"):
    visit = Visit.objects.get(patient=patient, definition__code=code)
    return reverse("crf-api:crf-detail", kwargs={"visit_pk": visit.pk, "form_code": form_code})


def test_visit_list_has_windows_and_form_status_in_bounded_queries(
    client, investigator, randomized_patient, django_assert_max_num_queries
):
    client.force_login(investigator)
    client.put(form_url(randomized_patient), VITALS, content_type="application/json")
    url = reverse("crf-api:visit-list", kwargs={"patient_pk": randomized_patient.pk})
    # Session, user, roles, sites, patient, visits, one query per visit form: not per row.
    with django_assert_max_num_queries(20):
        response = client.get(url)
    data = response.json()
    assert [v["code"] for v in data] == [
        "dose1",
        "dose2",
        "dose3",
        "dose4",
        "fu_d28",
        "fu_m3",
        "fu_m12",
    ]
    assert data[1]["window_start"] == "2026-03-04"
    assert data[0]["forms"]["vitals"] == "complete"
    assert data[0]["forms"]["administration"] == "missing"


def test_put_valid_form_then_get_it(client, investigator, randomized_patient):
    client.force_login(investigator)
    url = form_url(randomized_patient)
    response = client.put(url, VITALS, content_type="application/json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "complete"
    got = client.get(url).json()
    assert got["weight_kg"] == "72.5"
    assert got["form_code"] == "vitals"


def test_put_bad_input_is_400_with_field_names_and_stores_nothing(
    client, investigator, randomized_patient
):
    client.force_login(investigator)
    url = form_url(randomized_patient)
    bad_type = client.put(url, {**VITALS, "weight_kg": "heavy"}, content_type="application/json")
    assert bad_type.status_code == 400
    assert "weight_kg" in bad_type.json()
    hard = client.put(url, {**VITALS, "weight_kg": "725"}, content_type="application/json")
    assert hard.status_code == 400
    assert hard.json()["weight_kg"] == ["Must be at most 300 kg."]
    assert not VitalSigns.objects.exists()


def test_put_soft_limit_needs_confirm_flag(client, investigator, randomized_patient):
    client.force_login(investigator)
    url = form_url(randomized_patient)
    data = {**VITALS, "heart_rate_bpm": 150}
    first = client.put(url, data, content_type="application/json")
    assert first.status_code == 400
    assert set(first.json()) == {"heart_rate_bpm", "confirm_out_of_range"}
    second = client.put(
        url, {**data, "confirm_out_of_range": True}, content_type="application/json"
    )
    assert second.status_code == 200
    assert second.json()["out_of_range_confirmed"] == ["heart_rate_bpm"]


def test_put_on_complete_form_needs_reason_for_change(client, investigator, randomized_patient):
    client.force_login(investigator)
    url = form_url(randomized_patient)
    first = client.put(url, VITALS, content_type="application/json")
    response = client.put(
        url,
        {**VITALS, "weight_kg": "73"},
        content_type="application/json",
        HTTP_IF_MATCH=first["ETag"],
    )
    assert response.status_code == 400
    assert "reason_for_change" in response.json()
    ok = client.put(
        url,
        {**VITALS, "weight_kg": "73", "reason_for_change": "re-weighed"},
        content_type="application/json",
        HTTP_IF_MATCH=first["ETag"],
    )
    assert ok.status_code == 200


def test_sequencing_error_is_400_non_field(client, investigator, randomized_patient):
    client.force_login(investigator)
    response = client.put(
        form_url(randomized_patient, "dose2", "administration"),
        {"given": True},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "dose 1" in response.json()["non_field_errors"][0]


def test_monitor_reads_but_cannot_write(client, monitor, investigator, randomized_patient):
    client.force_login(investigator)
    client.put(form_url(randomized_patient), VITALS, content_type="application/json")
    client.force_login(monitor)
    assert client.get(form_url(randomized_patient)).status_code == 200
    response = client.put(form_url(randomized_patient), VITALS, content_type="application/json")
    assert response.status_code == 403


def test_other_site_is_404(client, other_site_investigator, randomized_patient):
    client.force_login(other_site_investigator)
    assert client.get(form_url(randomized_patient)).status_code == 404
    url = reverse("crf-api:visit-list", kwargs={"patient_pk": randomized_patient.pk})
    assert client.get(url).status_code == 404


def test_form_not_entered_or_not_at_this_visit_is_404(client, investigator, randomized_patient):
    client.force_login(investigator)
    assert client.get(form_url(randomized_patient)).status_code == 404
    assert client.get(form_url(randomized_patient, "fu_d28", "administration")).status_code == 404


def test_adverse_event_create_and_list(
    client, investigator, randomized_patient, django_assert_max_num_queries
):
    client.force_login(investigator)
    url = reverse("crf-api:ae-list", kwargs={"patient_pk": randomized_patient.pk})
    for term in ("Fever", "Rash", "Nausea"):
        response = client.post(
            url, {"term": term, "onset_date": "2026-03-02"}, content_type="application/json"
        )
        assert response.status_code == 201, response.json()
    with django_assert_max_num_queries(12):
        listing = client.get(url).json()
    assert sorted(e["term"] for e in listing) == ["Fever", "Nausea", "Rash"]
    ae = AdverseEvent.objects.get(term="Rash")
    detail = reverse("crf-api:ae-detail", kwargs={"ae_pk": ae.pk})
    bad = client.put(detail, {"severity_grade": 9}, content_type="application/json")
    assert bad.status_code == 400
    assert "severity_grade" in bad.json()


def test_api_responses_carry_no_arm_fields(client, investigator, randomized_patient):
    client.force_login(investigator)
    client.put(
        form_url(randomized_patient, "dose1", "administration"),
        {"given": True, "start_time": "2026-03-02T10:00:00Z", "infusion_reaction": False},
        content_type="application/json",
    )
    body = client.get(form_url(randomized_patient, "dose1", "administration")).content.decode()
    for word in ("arm", "placebo", "msc", "lot", "cell"):
        assert f'"{word}' not in body.lower()
