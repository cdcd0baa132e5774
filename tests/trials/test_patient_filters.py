"""One FilterSet (django-filter) for the patient list page and API, on the scoped queryset."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def patients(site, other_site):
    return {
        "mine": PatientFactory(site=site, screening_number="S01-0101", initials="ABC"),
        "randomized": PatientFactory(
            site=site, screening_number="S01-0102", status="randomized", subject_id="LA-01-009"
        ),
        "elsewhere": PatientFactory(site=other_site, screening_number="S02-0101"),
    }


def _numbers(response) -> set[str]:
    return {p["screening_number"] for p in response.json()["results"]}


def test_api_filters_by_search_status_and_site_within_the_users_scope(
    client, investigator, patients
):
    client.force_login(investigator)
    url = reverse("trials-api:patient-list")
    assert _numbers(client.get(url)) == {"S01-0101", "S01-0102"}  # never the other site
    assert _numbers(client.get(url, {"q": "0101"})) == {"S01-0101"}
    assert _numbers(client.get(url, {"q": "abc"})) == {"S01-0101"}
    assert _numbers(client.get(url, {"status": "randomized"})) == {"S01-0102"}
    other = patients["elsewhere"].site_id
    assert _numbers(client.get(url, {"site": other})) == set()


def test_api_answers_400_naming_an_invalid_filter(client, investigator, patients):
    client.force_login(investigator)
    url = reverse("trials-api:patient-list")
    response = client.get(url, {"status": "alive-ish", "created_since": "yesterday"})
    assert response.status_code == 400
    assert {"status", "created_since"} <= set(response.json())


def test_created_since_pulls_only_new_registrations(client, data_manager, patients):
    client.force_login(data_manager)
    url = reverse("trials-api:patient-list")
    future = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    assert _numbers(client.get(url, {"created_since": future})) == set()


def test_the_page_uses_the_same_filters(client, investigator, patients):
    client.force_login(investigator)
    body = client.get(reverse("trials:patient-list"), {"status": "randomized"}).content.decode()
    assert "S01-0102" in body
    assert "S01-0101" not in body
    body = client.get(reverse("trials:patient-list"), {"status": "nonsense"}).content.decode()
    assert "S01-0101" in body  # an invalid value is ignored on the page, not a 500


def test_api_pages_by_cursor_in_screening_order_with_flat_queries(
    client, data_manager, site, other_site, django_assert_max_num_queries
):
    """#16: keyset paging (no OFFSET, no count): every page costs the same, none is missed."""
    for n in range(1, 56):
        PatientFactory(site=site if n % 2 else other_site, screening_number=f"S0{n % 2}-{n:04d}")
    client.force_login(data_manager)
    url = reverse("trials-api:patient-list")
    client.get(url)  # warm the session and content types
    with django_assert_max_num_queries(6) as first:
        body = client.get(url).json()
    assert "count" not in body
    seen = [p["screening_number"] for p in body["results"]]
    assert len(seen) == 50
    with django_assert_max_num_queries(len(first)):
        body = client.get(body["next"]).json()
    seen += [p["screening_number"] for p in body["results"]]
    assert body["next"] is None
    assert seen == sorted(seen)
    assert len(set(seen)) == 55
    assert client.get(url, {"cursor": "not-a-cursor"}).status_code == 404
