"""REST API: randomize (blinded answer), allocation (arm only if may_see_arm), pharmacy list."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from randomization.models import Allocation
from tests.randomization.factories import arm_words, eligible_patient, randomize

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def _as(api, user):
    api.force_authenticate(user)
    return api


def test_investigator_randomizes_and_the_answer_has_no_arm(api, investigator, eligible):
    url = reverse("randomization-api:patient-randomize", args=[eligible.pk])
    response = _as(api, investigator).post(url, {"confirm_eligibility": True}, format="json")
    assert response.status_code == 201
    assert response.json()["randomization_number"] == "LA-01-001"
    assert "arm" not in response.json()
    assert arm_words(response.content.decode()) == []


def test_ineligible_patient_gives_400_with_field_errors(api, investigator, site, rand_list):
    patient = eligible_patient(site)
    patient.screening.eligible = False
    patient.screening.save()
    url = reverse("randomization-api:patient-randomize", args=[patient.pk])
    response = _as(api, investigator).post(url, {"confirm_eligibility": True}, format="json")
    assert response.status_code == 400
    assert "not show the patient as eligible" in response.json()["screening"][0]
    assert not Allocation.objects.exists()


def test_missing_confirmation_gives_400(api, investigator, eligible):
    url = reverse("randomization-api:patient-randomize", args=[eligible.pk])
    response = _as(api, investigator).post(url, {}, format="json")
    assert response.status_code == 400
    assert "confirm_eligibility" in response.json()


@pytest.mark.parametrize("who", ["monitor", "pharmacist", "data_manager"])
def test_non_investigators_cannot_randomize_by_api(api, request, who, eligible):
    url = reverse("randomization-api:patient-randomize", args=[eligible.pk])
    response = _as(api, request.getfixturevalue(who)).post(
        url, {"confirm_eligibility": True}, format="json"
    )
    assert response.status_code == 403
    assert not Allocation.objects.exists()


def test_other_site_investigator_gets_404(api, other_site_investigator, eligible):
    url = reverse("randomization-api:patient-randomize", args=[eligible.pk])
    response = _as(api, other_site_investigator).post(
        url, {"confirm_eligibility": True}, format="json"
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    "who", ["investigator", "principal_investigator", "monitor", "data_manager", "trial_admin"]
)
def test_allocation_api_is_blinded_for_blinded_roles(api, request, who, by_arm):
    url = reverse("randomization-api:allocation-detail", args=[by_arm["A"].pk])
    response = _as(api, request.getfixturevalue(who)).get(url)
    assert response.status_code == 200
    assert "arm" not in response.json()
    assert arm_words(response.content.decode()) == []


@pytest.mark.parametrize("who", ["pharmacist", "unblinded_statistician"])
def test_allocation_api_has_the_arm_for_unblinded_roles(api, request, who, by_arm):
    url = reverse("randomization-api:allocation-detail", args=[by_arm["B"].pk])
    data = _as(api, request.getfixturevalue(who)).get(url).json()
    assert (data["arm"], data["arm_label"]) == ("B", "Placebo")


def test_pharmacy_api_lists_arms_for_the_pharmacist_with_bounded_queries(
    api, pharmacist, site, investigator, by_arm, django_assert_max_num_queries
):
    for _ in range(3):
        randomize(eligible_patient(site), investigator)
    _as(api, pharmacist)
    with django_assert_max_num_queries(50):
        response = api.get(reverse("randomization-api:pharmacy-list"))
    results = response.json()["results"]
    assert {r["arm_label"] for r in results} == {"MSC", "Placebo"}
    assert all(r["next_dose_number"] == 1 for r in results)


@pytest.mark.parametrize("who", ["investigator", "monitor", "unblinded_statistician"])
def test_pharmacy_api_is_forbidden_to_others(api, request, who, by_arm):
    response = _as(api, request.getfixturevalue(who)).get(
        reverse("randomization-api:pharmacy-list")
    )
    assert response.status_code == 403
    assert arm_words(response.content.decode()) == []
