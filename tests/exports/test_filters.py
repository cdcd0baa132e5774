"""The change feed and export job lists through django-filter FilterSets."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from exports.models import ExportJob
from tests.randomization.factories import patients_by_arm

pytestmark = pytest.mark.usefixtures("feed_visible")

FEED = "/api/v1/changes/"
JOBS = "/api/v1/exports/jobs/"


def test_feed_filters_by_site_and_form_within_scope(
    client, site, other_site, investigator, monitor
):
    patients_by_arm(site, investigator)
    client.force_login(monitor)
    events = client.get(FEED, {"site": site.pk, "limit": 1000}).json()["results"]
    assert events
    assert {e["site"] for e in events} == {site.code}
    assert client.get(FEED, {"site": other_site.pk}).json()["results"] == []
    screening = client.get(FEED, {"form": "screening", "limit": 1000}).json()["results"]
    assert all(e["form_code"] == "screening" for e in screening)


def test_feed_after_takes_whole_ids_only(client, monitor):
    client.force_login(monitor)
    assert "after" in client.get(FEED, {"after": "1.5"}).json()
    assert "limit" in client.get(FEED, {"limit": "1.5"}).json()
    assert client.get(FEED, {"after": str(2**70)}).status_code == 400


def _job(user, fmt="csv", status=ExportJob.Status.DONE, **extra) -> ExportJob:
    return ExportJob.objects.create(
        requested_by=user, params={"format": fmt, "forms": ["patients"]}, status=status, **extra
    )


def test_job_list_filters_pages_and_orders_newest_first(client, data_manager, monitor):
    old = _job(data_manager, "csv")
    ExportJob.objects.filter(pk=old.pk).update(requested_at=timezone.now() - dt.timedelta(days=2))
    new = _job(data_manager, "odm", status=ExportJob.Status.FAILED)
    _job(monitor, "csv")  # someone else's: never listed
    client.force_login(data_manager)
    body = client.get(JOBS).json()
    assert body["count"] == 2
    assert [j["id"] for j in body["results"]] == [new.pk, old.pk]
    assert [j["id"] for j in client.get(JOBS, {"file_format": "csv"}).json()["results"]] == [
        old.pk
    ]
    failed = client.get(JOBS, {"status": "failed"}).json()["results"]
    assert [j["id"] for j in failed] == [new.pk]
    since = (timezone.now() - dt.timedelta(days=1)).isoformat()
    assert [j["id"] for j in client.get(JOBS, {"changed_since": since}).json()["results"]] == [
        new.pk
    ]
    bad = client.get(JOBS, {"status": "lost", "file_format": "xls", "changed_since": "soon"})
    assert bad.status_code == 400
    assert {"status", "file_format", "changed_since"} <= set(bad.json())
