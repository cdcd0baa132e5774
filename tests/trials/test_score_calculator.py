"""Score calculator page and POST /api/v1/scores/calculate/: compute, store nothing."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from trials.models import ScoreRecord

pytestmark = pytest.mark.django_db

# ameld tests/testthat/test_meld.R: creatinine 1.9, bilirubin 4.2, INR 1.2 -> MELD 20,
# and with sodium 125 -> MELD-Na 28 (OPTN formula).
AMELD = {"creatinine_mg_dl": 1.9, "bilirubin_mg_dl": 4.2, "inr": 1.2, "sodium_mmol_l": 125}


@pytest.fixture
def api(investigator):
    client = APIClient()
    client.force_authenticate(investigator)
    return client


def test_api_computes_published_meld_example(api):
    response = api.post(reverse("trials-api:score-calculate"), AMELD, format="json")
    assert response.status_code == 200
    assert (response.data["meld"], response.data["meld_na"]) == (20, 28)
    assert response.data["clif_sofa"] is None
    assert "fio2" in response.data["missing"]["clif_sofa"]
    assert not ScoreRecord.objects.exists()


def test_api_converts_si_units(api):
    payload = {**AMELD, "bilirubin_mg_dl": 71.82, "units": {"bilirubin": "µmol/L"}}
    response = api.post(reverse("trials-api:score-calculate"), payload, format="json")
    assert response.data["meld"] == 20  # 71.82 µmol/L = 4.2 mg/dL


def test_api_rejects_bad_input_with_field_names(api):
    response = api.post(
        reverse("trials-api:score-calculate"),
        {"fio2": 1.4, "inr": -1, "colour": "blue"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.data) == {"fio2", "inr", "colour"}


def test_api_rejects_non_object_bodies(api):
    response = api.post(reverse("trials-api:score-calculate"), [1, 2], format="json")
    assert response.status_code == 400


def test_api_needs_authentication():
    response = APIClient().post(reverse("trials-api:score-calculate"), AMELD, format="json")
    assert response.status_code in (401, 403)


def test_calculator_page_shows_scores(client, monitor):
    client.force_login(monitor)
    response = client.post(
        reverse("trials:score-calculator"),
        {
            "age": "55",
            "sex": "M",
            "creatinine_entered": "1.9",
            "creatinine_unit": "mg/dL",
            "bilirubin_entered": "4.2",
            "bilirubin_unit": "mg/dL",
            "inr": "1.2",
            "sodium_mmol_l": "125",
            "albumin_unit": "g/dL",
        },
    )
    assert response.status_code == 200
    assert response.context["result"]["meld_na"] == 28
    assert not ScoreRecord.objects.exists()


def test_calculator_page_keeps_bad_input_next_to_the_field(client, monitor):
    client.force_login(monitor)
    response = client.post(
        reverse("trials:score-calculator"),
        {
            "fio2": "3",
            "bilirubin_unit": "mg/dL",
            "creatinine_unit": "mg/dL",
            "albumin_unit": "g/dL",
        },
    )
    assert "fio2" in response.context["form"].errors
    assert response.context["result"] is None
    assert 'value="3"' in response.content.decode()
