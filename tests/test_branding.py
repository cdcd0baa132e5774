"""Branded pages a user meets: favicon, 403/404/500, the admin, status colours, search."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_favicon_is_served_from_the_static_files(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("img/favicon.svg")


def test_not_found_page_is_branded_and_helpful(client, investigator):
    client.force_login(investigator)
    response = client.get("/patients/999999/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Liveradvance EDC" in body
    assert "Back to your dashboard" in body


def test_server_error_page_is_branded(settings):
    from django.test import RequestFactory
    from django.views.defaults import server_error

    body = server_error(RequestFactory().get("/")).content.decode()
    assert "Liveradvance EDC" in body
    assert "a save is either complete or not stored" in body


def test_admin_is_branded(trial_admin):
    trial_admin.is_staff = True
    trial_admin.save()
    client = Client()
    client.force_login(trial_admin)
    assert "Liveradvance EDC administration" in client.get("/admin/").content.decode()


def test_each_patient_status_has_its_own_badge_class(client, investigator, site):
    PatientFactory(site=site, status="screening")
    PatientFactory(site=site, status="randomized", subject_id="LA-01-001")
    client.force_login(investigator)
    body = client.get(reverse("trials:patient-list")).content.decode()
    assert "status-screening" in body
    assert "status-randomized" in body


def test_navigation_has_a_patient_search_and_the_api_docs(client, investigator, site):
    PatientFactory(site=site, screening_number="S01-0777")
    client.force_login(investigator)
    body = client.get(reverse("trials:dashboard")).content.decode()
    assert 'name="q"' in body
    assert reverse("api-docs") in body
    found = client.get(reverse("trials:patient-list"), {"q": "0777"}).content.decode()
    assert "S01-0777" in found
