"""Issue 17 data-entry speed: save and next form, today prefilled, error summary, row links."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crf.models import Visit, VitalSigns
from tests.crf.test_crf_views import VITALS_POST, crf_url

pytestmark = pytest.mark.django_db


def test_save_and_next_goes_to_the_visits_next_open_form(client, investigator, randomized_patient):
    client.force_login(investigator)
    response = client.post(
        crf_url(randomized_patient, "dose1", "vitals"), {**VITALS_POST, "complete": "next"}
    )
    assert response.status_code == 302
    assert response.url == crf_url(randomized_patient, "dose1", "labs")
    assert VitalSigns.objects.get(patient=randomized_patient).status == "complete"


def test_save_and_next_offers_the_next_form_and_is_the_default_button(
    client, investigator, randomized_patient
):
    client.force_login(investigator)
    html = client.get(crf_url(randomized_patient, "dose1", "vitals")).content.decode()
    buttons = html[html.index('name="complete" value="next"') :]
    assert "Save as complete and go to Laboratory and organ function" in buttons
    # The primary button comes before "Save draft": Enter submits it, never the draft.
    assert html.index("data-default-submit") < html.index('name="draft"')


def test_next_form_wraps_round_and_skips_complete_forms(client, investigator, randomized_patient):
    from crf.selectors import visit_next_form

    client.force_login(investigator)
    client.post(crf_url(randomized_patient, "dose1", "vitals"), VITALS_POST)
    visit = Visit.objects.get(patient=randomized_patient, definition__code="dose1")
    assert visit_next_form(user=investigator, visit=visit, after="vitals").code == "labs"
    # After the visit's last form: back round to the first one still open (vitals is done).
    assert visit_next_form(user=investigator, visit=visit, after="samples").code == "labs"


def test_assessment_date_prefilled_with_today_inside_the_window(
    client, investigator, randomized_patient
):
    client.force_login(investigator)
    html = client.get(crf_url(randomized_patient, "dose1", "vitals")).content.decode()
    field = html.split('name="assessment_date"')[1].split(">")[0]
    assert 'value="2026-03-02"' in field


def test_assessment_date_not_prefilled_outside_the_window(
    client, investigator, randomized_patient
):
    client.force_login(investigator)
    html = client.get(crf_url(randomized_patient, "dose4", "vitals")).content.decode()
    field = html.split('name="assessment_date"')[1].split(">")[0]
    assert "value=" not in field


def test_error_summary_links_each_error_to_its_field(client, investigator, randomized_patient):
    client.force_login(investigator)
    response = client.post(
        crf_url(randomized_patient, "dose1", "vitals"), {**VITALS_POST, "weight_kg": "725"}
    )
    html = response.content.decode()
    summary = html[html.index("error-summary") :]
    assert 'href="#id_weight_kg"' in summary
    assert "Weight (kg): Must be at most 300 kg." in summary


def test_patient_page_visit_rows_link_to_the_first_open_form(
    client, investigator, randomized_patient
):
    client.force_login(investigator)
    html = client.get(
        reverse("trials:patient-detail", kwargs={"pk": randomized_patient.pk})
    ).content.decode()
    assert f'href="{crf_url(randomized_patient, "dose1", "vitals")}"' in html
