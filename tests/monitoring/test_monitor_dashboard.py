"""Issue 17: the monitor's dashboard lists the forms awaiting source data verification."""

from __future__ import annotations

import pytest
from django.urls import reverse

from monitoring import selectors, services
from tests.monitoring.test_monitoring import _vitals

pytestmark = pytest.mark.django_db


def test_a_complete_form_awaits_sdv_until_verified_and_again_after_a_change(
    client, investigator, monitor, randomized_patient, django_assert_max_num_queries
):
    vitals = _vitals(investigator, randomized_patient)
    rows, total = selectors.forms_awaiting_sdv(user=monitor)
    assert total == 1
    assert rows[0]["code"] == "vitals"
    client.force_login(monitor)
    with django_assert_max_num_queries(30):
        html = client.get(reverse("trials:dashboard")).content.decode()
    assert "Forms awaiting source data verification" in html
    url = reverse("crf:crf-edit", kwargs={"visit_pk": vitals.visit_id, "form_code": "vitals"})
    assert f'href="{url}"' in html
    services.sdv_mark(
        user=monitor, patient=randomized_patient, form_code="vitals", record_id=vitals.pk
    )
    assert selectors.forms_awaiting_sdv(user=monitor) == ([], 0)
    # A later change clears the whole-form mark: the form waits again.
    _vitals(investigator, randomized_patient, reason="Typo", heart_rate_bpm=92)
    assert selectors.forms_awaiting_sdv(user=monitor)[1] == 1


def test_sdv_list_is_for_monitors_and_bounded(
    investigator, monitor, data_manager, randomized_patient, monkeypatch
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _vitals(investigator, randomized_patient)
    assert selectors.dashboard_panel_context(user=investigator)["sdv"] is None
    assert selectors.dashboard_panel_context(user=data_manager)["sdv"] is None
    monkeypatch.setattr(selectors, "SDV_LIST_LIMIT", 1)
    with CaptureQueriesContext(connection) as queries:
        rows, total = selectors.forms_awaiting_sdv(user=monitor)
    assert (len(rows), total) == (1, 1)
    assert len(queries) <= 5  # the user's roles and sites (2), the union, its count, the visits


def test_monitor_sees_open_queries_by_age_per_site(
    client, investigator, monitor, randomized_patient, django_assert_max_num_queries
):
    import datetime as dt

    from django.utils import timezone

    from monitoring.models import DataQuery
    from tests.monitoring.test_monitoring import _raise

    vitals = _vitals(investigator, randomized_patient)
    now = timezone.now()
    for days in (1, 10, 45, 60):
        query = _raise(monitor, randomized_patient, vitals)
        # Backdated in the test only: the age comes from raised_at.
        DataQuery.objects.filter(pk=query.pk).update(raised_at=now - dt.timedelta(days=days))
    answered = _raise(monitor, randomized_patient, vitals)
    services.query_answer(user=investigator, query=answered, answer="Checked, correct.")
    (row,) = selectors.query_counts_per_site(user=monitor)
    assert (row["age_week"], row["age_month"], row["age_older"]) == (1, 1, 2)  # answered: not open
    client.force_login(monitor)
    with django_assert_max_num_queries(30):
        html = client.get(reverse("trials:dashboard")).content.decode()
    assert "Open queries by age" in html
    client.force_login(investigator)
    assert "Open queries by age" not in client.get(reverse("trials:dashboard")).content.decode()
