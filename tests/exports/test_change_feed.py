"""The change feed: every change once, in commit order, scoped and blinded."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from exports.models import ChangeEvent
from tests.randomization.factories import eligible_patient, patients_by_arm
from tests.test_blinding_crawl import leaks

pytestmark = pytest.mark.usefixtures("feed_visible")

URL = "/api/v1/changes/"


def _vitals(patient, user, weight="70.0", complete=False, reason=""):
    from crf.models import Visit
    from crf.services import crf_save

    visit = Visit.objects.filter(patient=patient).order_by("target_date").first()
    return crf_save(
        user=user,
        form_code="vitals",
        visit=visit,
        data={"assessment_date": timezone.localdate(), "weight_kg": Decimal(weight)},
        complete=complete,
        reason=reason,
        confirm_out_of_range=True,
    )


def _labs(patient, user):
    from crf.models import Visit
    from crf.services import crf_save

    visit = Visit.objects.filter(patient=patient).order_by("target_date").first()
    return crf_save(
        user=user,
        form_code="labs",
        visit=visit,
        data={"assessment_date": timezone.localdate(), "inr": Decimal("1.6")},
        complete=False,
        confirm_out_of_range=True,
    )


def _all(client, **params) -> list[dict]:
    """Walk the feed page by page as a client storing next_after would."""
    events, after = [], 0
    for _ in range(100):
        body = client.get(URL, {"after": after, "limit": 7, **params}).json()
        events += body["results"]
        after = body["next_after"]
        if not body["has_more"]:
            return events
    raise AssertionError("the feed never ended")


def test_feed_lists_form_saves_status_changes_and_scores_in_order(
    client, site, investigator, monitor
):
    by_arm = patients_by_arm(site, investigator)
    patient = by_arm["A"]
    _vitals(patient, investigator)
    _labs(patient, investigator)
    client.force_login(monitor)
    events = _all(client)
    ids = [e["id"] for e in events]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    mine = [e for e in events if e["patient"] == patient.pk]
    kinds = {e["kind"] for e in mine}
    assert {"patient", "screening", "visit", "form", "scores"} <= kinds
    forms = [e for e in mine if e["kind"] == "form"]
    assert [f["form_code"] for f in forms] == ["vitals", "labs"]
    assert forms[0]["change"] == "created"
    assert forms[0]["status"] == "draft"
    assert forms[0]["user"] == investigator.username
    assert forms[0]["subject"] == patient.subject_id
    assert forms[0]["site"] == "01"
    # The patient's status change to randomized is an event with the new status.
    assert any(e["kind"] == "patient" and e["status"] == "randomized" for e in mine)
    # Every history row of a published model has exactly one event.
    from crf.models import VitalSigns

    history = VitalSigns.history.filter(patient=patient)
    assert sorted(e["history_id"] for e in forms if e["form_code"] == "vitals") == sorted(
        h.history_id for h in history
    )


def test_the_stored_cursor_returns_only_newer_changes(client, site, investigator, monitor):
    patient = patients_by_arm(site, investigator)["A"]
    client.force_login(monitor)
    last = client.get(URL, {"limit": 1000}).json()["next_after"]
    assert last > 0
    assert client.get(URL, {"after": last}).json() == {
        "results": [],
        "next_after": last,
        "has_more": False,
    }
    _vitals(patient, investigator)
    body = client.get(URL, {"after": last}).json()
    assert [e["form_code"] for e in body["results"]] == ["vitals"]
    assert body["next_after"] > last


def test_allocations_are_in_the_feed_of_unblinded_roles_only(
    client, site, investigator, blinded_users, pharmacist, unblinded_statistician
):
    by_arm = patients_by_arm(site, investigator)
    for role, user in blinded_users.items():
        client.force_login(user)
        response = client.get(URL, {"limit": 1000})
        assert response.status_code == 200, role
        assert not leaks(response.content.decode()), role
        assert all(e["kind"] != "allocation" for e in response.json()["results"]), role
    for user in (pharmacist, unblinded_statistician):
        client.force_login(user)
        events = client.get(URL, {"limit": 1000, "kind": "allocation"}).json()["results"]
        assert {e["patient"] for e in events} == {p.pk for p in by_arm.values()}
        body = client.get(URL, {"limit": 1000}).content.decode()
        assert not leaks(body)  # the event is a pointer: no arm even for them


def test_other_sites_changes_are_not_in_the_feed(
    client, site, investigator, other_site_investigator, no_role_user
):
    patients_by_arm(site, investigator)
    for user in (other_site_investigator, no_role_user):
        client.force_login(user)
        assert client.get(URL).json()["results"] == []
    assert ChangeEvent.objects.filter(site=site).exists()


def test_changed_since_kind_and_patient_filters(client, site, investigator, monitor):
    by_arm = patients_by_arm(site, investigator)
    client.force_login(monitor)
    later = timezone.now() + dt.timedelta(seconds=1)
    assert client.get(URL, {"changed_since": later.isoformat()}).json()["results"] == []
    a = by_arm["A"]
    events = client.get(URL, {"patient": a.pk, "kind": ["patient", "scores"]}).json()["results"]
    assert events
    assert {e["patient"] for e in events} == {a.pk}
    assert {e["kind"] for e in events} <= {"patient", "scores"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": "x"}, "after"),
        ({"after": -1}, "after"),
        ({"limit": 0}, "limit"),
        ({"limit": 100000}, "limit"),
        ({"changed_since": "yesterday"}, "changed_since"),
        ({"kind": "arm"}, "kind"),
        ({"patient": "abc"}, "patient"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_field(client, monitor, params, field):
    client.force_login(monitor)
    response = client.get(URL, params)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert field in response.json()


def test_anonymous_is_refused_and_the_feed_is_rate_limited(client, monitor, settings):
    assert client.get(URL).status_code in (401, 403)
    settings.EXPORTS_FEED_RATE = "3/min"
    client.force_login(monitor)
    codes = [client.get(URL).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_feed_query_count_is_bounded(
    client, site, investigator, monitor, django_assert_max_num_queries
):
    for _ in range(3):
        eligible_patient(site)
    client.force_login(monitor)
    with django_assert_max_num_queries(8):
        body = client.get(URL, {"limit": 1000}).json()
    assert len(body["results"]) >= 6
    assert reverse("exports-api:change-feed") == URL


def test_a_rolled_back_change_leaves_no_event(client, site, monitor):
    from django.db import transaction

    from tests.factories import PatientFactory

    client.force_login(monitor)
    last = client.get(URL, {"limit": 1000}).json()["next_after"]

    def failing_service():
        with transaction.atomic():
            PatientFactory(site=site, screening_number="S01-ROLLBACK")
            raise RuntimeError("the service failed after saving")

    with pytest.raises(RuntimeError):
        failing_service()
    PatientFactory(site=site, screening_number="S01-KEPT")
    events = client.get(URL, {"after": last}).json()["results"]
    assert [e["subject"] for e in events] == ["S01-KEPT"]
