"""Issue 17: the lab CRF previews the primary scores while typing (nothing saved)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crf.models import LabResult, Visit

pytestmark = pytest.mark.django_db

LABS = {
    "assessment_date": "2026-03-02",
    "bilirubin_entered": "13",
    "bilirubin_unit": "mg/dL",
    "creatinine_entered": "2.2",
    "creatinine_unit": "mg/dL",
    "albumin_entered": "2.8",
    "albumin_unit": "g/dL",
    "inr": "1.8",
    "sodium_mmol_l": "132",
    "wbc_10e9_l": "9",
    "platelets_10e9_l": "90",
    "he_grade": "0",
    "map_mmhg": "75",
    "spo2_pct": "97",
    "fio2": "0.21",
    "ascites": "mild",
}


def _url(patient) -> str:
    visit = Visit.objects.get(patient=patient, definition__code="dose1")
    return reverse("crf:labs-preview", kwargs={"visit_pk": visit.pk})


def test_preview_computes_the_scores_and_saves_nothing(
    client, investigator, randomized_patient, django_assert_max_num_queries
):
    client.force_login(investigator)
    with django_assert_max_num_queries(12):
        data = client.post(_url(randomized_patient), LABS).json()
    scores = {s["key"]: s["value"] for s in data["scores"]}
    assert scores["clif_sofa"] == 10
    assert scores["aclf_grade"] == "2"
    assert scores["meld"] is not None
    assert data["missing"] == ""
    assert not LabResult.objects.exists()


def test_preview_names_missing_inputs_by_their_labels(client, investigator, randomized_patient):
    client.force_login(investigator)
    data = client.post(_url(randomized_patient), {**LABS, "platelets_10e9_l": ""}).json()
    assert "Platelets" in data["missing"]
    assert "platelets_10e9_l" not in data["missing"]


def test_preview_only_for_the_sites_data_entry_staff(client, monitor, randomized_patient):
    # A reader of the patient gets the screening preview's 403 (a missing visit is a 404).
    client.force_login(monitor)
    assert client.post(_url(randomized_patient), LABS).status_code == 403
    missing = reverse("crf:labs-preview", kwargs={"visit_pk": 2**40})
    assert client.post(missing, LABS).status_code == 404


def test_lab_page_has_the_live_scores_panel(client, investigator, randomized_patient):
    client.force_login(investigator)
    visit = Visit.objects.get(patient=randomized_patient, definition__code="dose1")
    html = client.get(
        reverse("crf:crf-edit", kwargs={"visit_pk": visit.pk, "form_code": "labs"})
    ).content.decode()
    assert f'data-labs-preview-url="{_url(randomized_patient)}"' in html
    assert 'id="live-scores"' in html
    assert "js/labs_live.js" in html
