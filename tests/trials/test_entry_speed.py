"""Issue 17: fewer clicks and page loads for the investigator (forms and next steps)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import PatientFactory
from tests.trials.screening_data import as_post, eligible_screening_data
from trials.forms import PatientCreateForm, ScreeningForm

pytestmark = pytest.mark.django_db


def test_short_code_lists_are_radio_groups_and_units_stay_selects():
    screening = ScreeningForm()
    for name in ("nyha_class", "gold_stage", "pregnancy_status", "he_grade", "ascites"):
        assert screening.fields[name].widget.input_type == "radio", name
        assert "" not in [v for v, _ in screening.fields[name].widget.choices]
    assert screening.fields["bilirubin_unit"].widget.input_type == "select"
    assert PatientCreateForm(sites=None).fields["sex"].widget.input_type == "radio"


def test_pregnancy_answers_are_preset_for_a_man_only(site):
    man = PatientFactory(site=site, sex="M")
    woman = PatientFactory(site=site, sex="F", screening_number="S01-0002")
    assert ScreeningForm(patient=man).initial["pregnancy_status"] == "not_applicable"
    assert ScreeningForm(patient=man).initial["childbearing_potential"] == "not_applicable"
    assert "pregnancy_status" not in ScreeningForm(patient=woman).initial


def test_dashboard_registers_a_patient_without_opening_another_page(client, investigator):
    client.force_login(investigator)
    html = client.get(reverse("trials:dashboard")).content.decode()
    form = html.split('action="/patients/new/"')[1].split("</form>")[0]
    for name in ("initials", "sex", "birth_date", "consent_datetime", "consent_version"):
        assert f'name="{name}"' in form
    assert 'name="form_token"' in form


def test_dashboard_has_no_registration_form_for_roles_that_do_not_enter_data(client, monitor):
    client.force_login(monitor)
    assert (
        'action="/patients/new/"' not in client.get(reverse("trials:dashboard")).content.decode()
    )


def test_screening_page_offers_no_to_every_unanswered_exclusion(client, investigator, patient):
    client.force_login(investigator)
    html = client.get(reverse("trials:screening-edit", args=[patient.pk])).content.decode()
    assert 'id="exclusions-all-no"' in html
    assert "js/screening_all_no.js" in html


def test_a_draft_screening_stays_on_the_patient_page(client, investigator, patient):
    client.force_login(investigator)
    response = client.post(
        reverse("trials:screening-edit", args=[patient.pk]),
        {**as_post(eligible_screening_data()), "draft": "1"},
    )
    assert response.status_code == 302
    assert response.url == reverse("trials:patient-detail", args=[patient.pk])
