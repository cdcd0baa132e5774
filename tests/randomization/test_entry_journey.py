"""Issue 17: screening complete -> randomize page -> day 1's first form -> the scores."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crf.models import Visit
from tests.randomization.factories import arm_words, randomize
from tests.trials.screening_data import as_post, eligible_screening_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def schedule(site):
    from crf import services as crf_services

    crf_services.visit_definitions_load(trial=site.trial)


def _complete_screening(client, patient, **overrides):
    return client.post(
        reverse("trials:screening-edit", args=[patient.pk]),
        {**as_post(eligible_screening_data(**overrides)), "complete": "1"},
    )


def test_a_complete_eligible_screening_leads_to_the_randomize_page(
    client, investigator, patient, rand_list
):
    client.force_login(investigator)
    response = _complete_screening(client, patient)
    assert response.status_code == 302
    assert response.url == reverse("randomization:patient-randomize", args=[patient.pk])


def test_an_ineligible_screening_leads_to_the_patient_page(
    client, investigator, patient, rand_list
):
    client.force_login(investigator)
    response = _complete_screening(client, patient, hiv_infection=True)
    assert response.status_code == 302
    assert response.url == reverse("trials:patient-detail", args=[patient.pk])


def test_without_an_active_list_the_screening_leads_to_the_patient_page(
    client, investigator, patient
):
    client.force_login(investigator)
    response = _complete_screening(client, patient)
    assert response.url == reverse("trials:patient-detail", args=[patient.pk])


def test_randomizing_leads_to_day_1s_first_form_and_names_no_arm(
    client, investigator, eligible, schedule, django_capture_on_commit_callbacks
):
    client.force_login(investigator)
    url = reverse("randomization:patient-randomize", args=[eligible.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"confirm_eligibility": "on"})
    day1 = Visit.objects.get(patient=eligible, definition__dose_number=1)
    assert response.url == reverse(
        "crf:crf-edit", kwargs={"visit_pk": day1.pk, "form_code": "vitals"}
    )
    page = client.get(response.url).content.decode()
    assert "Randomized: number" in page
    assert not arm_words(page)


def test_save_as_complete_and_see_the_scores_leads_to_the_patient_page(
    client, investigator, eligible, schedule
):
    randomize(eligible, investigator)
    day1 = Visit.objects.get(patient=eligible, definition__dose_number=1)
    url = reverse("crf:crf-edit", kwargs={"visit_pk": day1.pk, "form_code": "vitals"})
    client.force_login(investigator)
    assert "Save as complete and see the scores" in client.get(url).content.decode()
    response = client.post(
        url,
        {
            "assessment_date": day1.target_date.isoformat(),
            "weight_kg": "72.5",
            "weight_unit": "kg",
            "temperature_c": "36.9",
            "heart_rate_bpm": "88",
            "systolic_bp_mmhg": "108",
            "diastolic_bp_mmhg": "64",
            "respiratory_rate": "18",
            "spo2_pct": "96",
            "lock_version": "0",
            "complete": "scores",
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    assert response.url == reverse("trials:patient-detail", args=[eligible.pk]) + "#scores"
