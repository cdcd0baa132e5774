"""Data-query lists through one FilterSet (django-filter) shared by the page and the API."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring import services
from monitoring.models import DataQuery
from tests.monitoring.test_monitoring import _raise, _vitals

pytestmark = pytest.mark.django_db

URL = "/api/v1/queries/"


@pytest.fixture
def queries(investigator, monitor, randomized_patient):
    vitals = _vitals(investigator, randomized_patient)
    first = _raise(monitor, randomized_patient, vitals)
    second = _raise(monitor, randomized_patient, vitals, field="heart_rate_bpm")
    services.query_answer(user=investigator, query=second, answer="Checked: correct.")
    return {"open": first, "answered": second}


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {q["id"] for q in response.json()["results"]}


def test_api_filters_by_status_form_patient_and_changed_since(
    client, monitor, queries, randomized_patient
):
    client.force_login(monitor)
    assert reverse("monitoring-api:query-list") == URL
    everything = {q.pk for q in queries.values()}
    assert _ids(client.get(URL)) == everything
    assert _ids(client.get(URL, {"status": "answered"})) == {queries["answered"].pk}
    assert _ids(client.get(URL, {"form": "labs"})) == set()
    assert _ids(client.get(URL, {"patient": randomized_patient.pk})) == everything
    assert _ids(client.get(URL, {"overdue": "1"})) == set()  # due in the future
    assert _ids(client.get(URL, {"automatic": "0"})) == everything
    # Incremental pull: an answer is a change since the query was raised.
    raised = queries["open"].raised_at + dt.timedelta(microseconds=1)
    DataQuery.objects.filter(pk=queries["answered"].pk).update(
        answered_at=timezone.now() + dt.timedelta(hours=1),
        raised_at=queries["open"].raised_at,
    )
    assert _ids(client.get(URL, {"changed_since": raised.isoformat()})) == {queries["answered"].pk}


def test_api_answers_400_naming_each_invalid_filter(client, monitor, queries):
    client.force_login(monitor)
    response = client.get(
        URL,
        {"status": "pending", "overdue": "yes", "site": "1.5", "changed_since": "yesterday"},
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert {"status", "overdue", "site", "changed_since"} <= set(response.json())
    assert client.get(URL, {"patient": str(2**70)}).status_code == 400  # never a 500


def test_api_is_paginated_in_a_stable_order(client, monitor, queries, settings):
    client.force_login(monitor)
    body = client.get(URL).json()
    assert body["count"] == 2
    ordered = list(DataQuery.objects.order_by("due_date", "pk").values_list("pk", flat=True))
    assert [q["id"] for q in body["results"]] == ordered
    assert client.get(URL, {"page": 2}).status_code == 404  # past the end: JSON, not a 500


def test_other_sites_see_none(client, other_site_investigator, queries):
    client.force_login(other_site_investigator)
    assert _ids(client.get(URL)) == set()


def test_the_page_uses_the_same_filters(client, monitor, queries):
    client.force_login(monitor)
    page = client.get(reverse("monitoring:query-list"), {"status": "answered"})
    assert [q.pk for q in page.context["page"].object_list] == [queries["answered"].pk]
    page = client.get(reverse("monitoring:query-list"), {"status": "nonsense"})
    assert page.status_code == 200  # ignored on the page, not a 500
    assert len(page.context["page"].object_list) == 2


def test_the_page_is_keyset_paged_with_filters_kept(
    client, monitor, queries, investigator, randomized_patient, monkeypatch
):
    """#16: the query list paged by OFFSET; every query is now on exactly one page (here all
    due the same day: ties on the position are skipped by a small offset), with the filter in
    the next/previous links."""
    from monitoring import views
    from tests.paging import walk

    monkeypatch.setattr(views, "QUERY_PAGE_SIZE", 2)
    from crf.models import VitalSigns

    vitals = VitalSigns.objects.get(pk=queries["open"].record_id)
    for field in ("systolic_bp_mmhg", "diastolic_bp_mmhg", "assessment_date"):
        _raise(monitor, randomized_patient, vitals, field=field)
    client.force_login(monitor)
    url = reverse("monitoring:query-list")
    walked = walk(client, url, {"status": "open"})
    expected = DataQuery.objects.filter(status="open").order_by("due_date", "pk")
    assert walked["forward"] == list(expected.values_list("pk", flat=True))
    assert [len(p) for p in walked["pages"]] == [2, 2]
    assert all("status=open" in u for u in walked["urls"])
    assert walked["backward"] == walked["pages"][::-1]
