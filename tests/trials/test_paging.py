"""Keyset paging of the patient list and the screening log (#16): every row on exactly one
page, filters kept in the links, the same queries on the last page as on the first and at
any number of patients."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import PatientFactory
from tests.paging import walk
from trials import selectors, views
from trials.paging import CURSOR_PARAM


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(views, "PATIENT_PAGE_SIZE", 4)
    monkeypatch.setattr(views, "SCREENING_LOG_PAGE_SIZE", 4)


@pytest.mark.parametrize("name", ["trials:patient-list", "trials:screening-log"])
def test_every_patient_is_on_exactly_one_page_in_number_order(
    client, investigator, site, other_site_patient, small_pages, name
):
    PatientFactory.create_batch(11, site=site)
    client.force_login(investigator)
    walked = walk(client, reverse(name))
    expected = list(selectors.patient_list(user=investigator).values_list("pk", flat=True))
    assert walked["forward"] == expected  # none lost, none twice, other site's left out
    assert other_site_patient.pk not in walked["forward"]
    assert [len(p) for p in walked["pages"]] == [4, 4, 3]
    assert walked["backward"] == walked["pages"][::-1]  # the previous links lead back
    assert all(CURSOR_PARAM in url for url in walked["urls"])


def test_patient_list_filters_stay_in_the_page_links(client, investigator, site, small_pages):
    PatientFactory.create_batch(6, site=site, status="screen_failed")
    PatientFactory.create_batch(5, site=site, status="eligible")
    client.force_login(investigator)
    walked = walk(client, reverse("trials:patient-list"), {"status": "screen_failed"})
    assert all("status=screen_failed" in url for url in walked["urls"])
    failed = selectors.patient_list(user=investigator, status="screen_failed")
    assert walked["forward"] == list(failed.values_list("pk", flat=True))
    first = client.get(reverse("trials:patient-list"), {"status": "screen_failed"})
    assert first.context["page"].count == 6


def test_a_forged_cursor_shows_the_first_page(client, investigator, site, small_pages):
    PatientFactory.create_batch(6, site=site)
    client.force_login(investigator)
    response = client.get(reverse("trials:patient-list"), {CURSOR_PARAM: "bm90LWEtY3Vyc29y"})
    assert response.status_code == 200
    assert len(response.context["page"]) == 4


@pytest.mark.parametrize("name", ["trials:patient-list", "trials:screening-log"])
def test_last_page_costs_the_queries_of_the_first_at_two_sizes(
    client, investigator, site, small_pages, django_assert_max_num_queries, name
):
    PatientFactory.create_batch(9, site=site)
    client.force_login(investigator)
    with CaptureQueriesContext(connection) as first:
        client.get(reverse(name))
    ceiling = len(first)  # read now: every request resets the query log
    PatientFactory.create_batch(40, site=site)
    last_url = walk(client, reverse(name))["urls"][-1]
    with django_assert_max_num_queries(ceiling):
        response = client.get(last_url)
    assert len(response.context["page"]) == 1  # 49 patients, pages of 4
    with django_assert_max_num_queries(ceiling):
        client.get(reverse(name))
    # No OFFSET: the page is read after the position of the previous page's last row.
    with CaptureQueriesContext(connection) as late:
        client.get(last_url)
    assert not any("OFFSET" in q["sql"] for q in late.captured_queries)
