"""Idempotent creates (issue 11): a retried submission never creates a duplicate.

Finding reproduced: an AE creation answered with an error although it was saved; retrying it
created a second AE. The same holds for page submissions sent twice (double click, retry
after a timeout): AE, unscheduled visit, dose preparation, patient registration.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from crf.models import AdverseEvent, Visit
from randomization.models import Allocation, DosePreparation
from tests.randomization.factories import active_list, eligible_patient, patients_by_arm, weigh
from trials.models import Patient

pytestmark = pytest.mark.django_db

AE = {"term": "Fever", "onset_date": "2026-03-02"}


def token(html: str) -> str:
    return re.search(r'name="form_token" value="(\w+)"', html).group(1)


def ae_api(patient) -> str:
    return reverse("crf-api:ae-list", kwargs={"patient_pk": patient.pk})


def test_api_ae_create_retried_with_the_same_key_creates_one(
    client, investigator, randomized_patient
):
    client.force_login(investigator)
    first = client.post(
        ae_api(randomized_patient), AE, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    retry = client.post(
        ae_api(randomized_patient), AE, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert AdverseEvent.objects.count() == 1


def test_api_key_reused_for_another_body_is_422_and_creates_nothing(
    client, investigator, randomized_patient
):
    client.force_login(investigator)
    url = ae_api(randomized_patient)
    client.post(url, AE, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k2")
    other = client.post(
        url, {**AE, "term": "Rash"}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k2"
    )
    assert other.status_code == 422
    assert AdverseEvent.objects.count() == 1


def test_api_failed_create_is_not_remembered(client, investigator, randomized_patient):
    client.force_login(investigator)
    url = ae_api(randomized_patient)
    bad = client.post(
        url,
        {**AE, "onset_date": "2099-01-01"},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k3",
    )
    assert bad.status_code == 400
    assert AdverseEvent.objects.count() == 0


def test_api_randomize_retried_with_the_key_answers_the_same_201(
    client, investigator, site, django_capture_on_commit_callbacks
):
    active_list(site.trial)
    patient = eligible_patient(site)
    client.force_login(investigator)
    url = reverse("randomization-api:patient-randomize", args=[patient.pk])
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(
            url,
            {"confirm_eligibility": True},
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="r1",
        )
    retry = client.post(
        url,
        {"confirm_eligibility": True},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="r1",
    )
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert Allocation.objects.count() == 1


def test_ae_page_submitted_twice_creates_one(client, investigator, randomized_patient):
    client.force_login(investigator)
    url = reverse("crf:ae-create", kwargs={"patient_pk": randomized_patient.pk})
    form_token = token(client.get(url).content.decode())
    post = {**AE, "form_token": form_token}
    assert client.post(url, post).status_code == 302
    again = client.post(url, post, follow=True)
    assert "already saved" in again.content.decode()
    assert AdverseEvent.objects.count() == 1
    # A new form (new token) creates a second AE on purpose.
    post["form_token"] = token(client.get(url).content.decode())
    client.post(url, post)
    assert AdverseEvent.objects.count() == 2


def test_unscheduled_visit_posted_twice_creates_one(client, investigator, randomized_patient):
    client.force_login(investigator)
    timeline = reverse("crf:patient-timeline", kwargs={"patient_pk": randomized_patient.pk})
    post = {"visit_date": "2026-03-02", "form_token": token(client.get(timeline).content.decode())}
    url = reverse("crf:visit-create", kwargs={"patient_pk": randomized_patient.pk})
    client.post(url, post)
    client.post(url, post)
    assert Visit.objects.filter(patient=randomized_patient, scheduled=False).count() == 1


def test_patient_registration_posted_twice_registers_one(client, investigator, site):
    client.force_login(investigator)
    url = reverse("trials:patient-create")
    post = {
        "site": site.pk,
        "sex": "M",
        "birth_date": "1970-01-01",
        "initials": "AB",
        "consent_datetime": "2026-03-01T09:00",
        "consent_version": "v2.1",
        "form_token": token(client.get(url).content.decode()),
    }
    first = client.post(url, post)
    second = client.post(url, post)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Patient.objects.count() == 1


def test_dose_preparation_posted_twice_records_one_and_says_so(
    client, pharmacist, investigator, site
):
    from django.utils import timezone

    active_list(site.trial)
    patient = patients_by_arm(site, investigator)["A"]
    weigh(patient)  # the dose is per kg on the dosing day (issue 10)
    client.force_login(pharmacist)
    url = reverse("randomization:preparation-create", args=[patient.pk])
    post = {
        "dose_number": "1",
        "prepared_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "product_lot": "LOT-1",
        "volume_ml": "50",
        "checked_by": "Nurse Two",
        "cell_count": "150000000",
        "viability_pct": "92.5",
        "form_token": token(client.get(url).content.decode()),
    }
    assert client.post(url, post).status_code == 302
    again = client.post(url, post, follow=True)
    assert again.status_code == 200
    assert "already recorded" in again.content.decode()
    assert DosePreparation.objects.count() == 1
