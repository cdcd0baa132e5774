"""The audit trail over the API: who, when, old -> new, why; scoped and blinded like the pages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.randomization.factories import patients_by_arm, prepare
from tests.test_blinding_crawl import leaks

pytestmark = pytest.mark.django_db

URL = "/api/v1/audit-events/"


def _vitals(patient, user, weight: str, reason: str = ""):
    from crf.models import Visit
    from crf.services import crf_save

    visit = Visit.objects.filter(patient=patient).order_by("target_date").first()
    return crf_save(
        user=user,
        form_code="vitals",
        visit=visit,
        data={
            "assessment_date": timezone.localdate(),
            "weight_kg": Decimal(weight),
            "heart_rate_bpm": 80,
            "systolic_bp_mmhg": 120,
            "diastolic_bp_mmhg": 70,
        },
        complete=True,
        reason=reason,
        confirm_out_of_range=True,
    )


@pytest.fixture
def corrected(site, investigator, pharmacist):
    by_arm = patients_by_arm(site, investigator)
    prepare(by_arm["A"], pharmacist, cells=True)
    patient = by_arm["B"]
    _vitals(patient, investigator, "70.5")
    _vitals(patient, investigator, "71.0", reason="Transcription error")
    return patient


def test_monitor_reads_the_trail_with_old_and_new_values(client, monitor, corrected):
    client.force_login(monitor)
    assert reverse("exports-api:audit-event-list") == URL
    body = client.get(URL, {"form": "crf.vitalsigns", "field": "weight_kg"}).json()
    assert body["count"] >= 2
    latest = body["results"][0]
    assert latest["reason"] == "Transcription error"
    assert latest["action"] == "changed"
    assert latest["patient"] == corrected.pk
    assert latest["source"] == "crf.vitalsigns"
    assert [(c["field"], c["old"], c["new"]) for c in latest["changes"]] == [
        ("weight_kg", "70.5", "71.0")
    ]
    assert "investigator" in latest["user"]


def test_the_trail_is_blinded_and_paginated(client, data_manager, corrected):
    client.force_login(data_manager)
    response = client.get(URL)
    assert response.status_code == 200
    assert not leaks(response.content.decode())
    body = response.json()
    assert body["page"] == 1
    assert body["pages"] == -(-body["count"] // 50)
    assert len(body["results"]) == min(50, body["count"])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date_from": "yesterday"}, "date_from"),
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "date_to"),
        ({"form": "randomization.secret"}, "form"),
        ({"record": "0"}, "record"),
        ({"record": "5"}, "record"),  # a record without its form
        ({"page": "x"}, "page"),
    ],
)
def test_bad_filters_are_a_400_naming_the_field(client, monitor, params, field):
    client.force_login(monitor)
    response = client.get(URL, params)
    assert response.status_code == 400
    assert field in response.json()


def test_trial_wide_trail_is_for_monitors_and_data_managers(client, investigator, corrected):
    client.force_login(investigator)
    assert client.get(URL).status_code == 403
    # ... the investigator reads the trail of a patient of the site.
    url = reverse("exports-api:patient-audit-event-list", args=[corrected.pk])
    body = client.get(url, {"field": "weight_kg"}).json()
    assert body["results"][0]["changes"][0]["new"] == "71.0"
    assert not leaks(client.get(url).content.decode())
    assert client.get(url, {"page": 99}).status_code == 404


def test_another_sites_patient_trail_is_a_404(client, other_site_investigator, corrected):
    client.force_login(other_site_investigator)
    url = reverse("exports-api:patient-audit-event-list", args=[corrected.pk])
    assert client.get(url).status_code == 404
    assert client.get(URL).status_code == 403
