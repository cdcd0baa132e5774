"""Optimistic concurrency (issue 11): no silent last-write-wins on pages or the API.

Finding reproduced: the investigator and the PI opened the same vital-signs page; the
investigator saved weight 70 -> 64, then the PI saved heart rate 80 -> 101 from the stale
page; both saves succeeded and the weight went back to 70. 20 API writes from one read all
succeeded (the last won).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from crf import services
from crf.models import AdverseEvent, Visit, VitalSigns
from tests.trials.screening_data import as_post, eligible_screening_data
from trials.concurrency import StaleEdit
from trials.services import screening_save

pytestmark = pytest.mark.django_db

PAGE = {
    "assessment_date": "2026-03-02",
    "weight_kg": "70.0",
    "heart_rate_bpm": "80",
    "systolic_bp_mmhg": "110",
    "diastolic_bp_mmhg": "70",
    "reason_for_change": "",
}


@pytest.fixture
def vitals(randomized_patient, investigator):
    visit = Visit.objects.get(patient=randomized_patient, definition__code="dose1")
    data = {
        "assessment_date": dt.date(2026, 3, 2),
        "weight_kg": Decimal("70.0"),
        "heart_rate_bpm": 80,
        "systolic_bp_mmhg": 110,
        "diastolic_bp_mmhg": 70,
    }
    services.crf_save(
        user=investigator, form_code="vitals", data=data, complete=False, visit=visit
    )
    return VitalSigns.objects.get(visit=visit)


def page_url(vitals) -> str:
    return reverse("crf:crf-edit", kwargs={"visit_pk": vitals.visit_id, "form_code": "vitals"})


def hidden_version(html: str) -> str:
    return re.search(r'name="lock_version" value="(\d+)"', html).group(1)


def test_stale_page_save_shows_the_other_change_and_keeps_what_was_typed(
    client, investigator, principal_investigator, vitals
):
    url = page_url(vitals)
    client.force_login(investigator)
    seen_by_investigator = hidden_version(client.get(url).content.decode())
    client.force_login(principal_investigator)
    seen_by_pi = hidden_version(client.get(url).content.decode())
    assert seen_by_pi == seen_by_investigator

    client.force_login(investigator)
    saved = client.post(url, {**PAGE, "weight_kg": "64.0", "lock_version": seen_by_investigator})
    assert saved.status_code == 302

    client.force_login(principal_investigator)
    stale = client.post(url, {**PAGE, "heart_rate_bpm": "101", "lock_version": seen_by_pi})
    assert stale.status_code == 200  # refused, page shown again
    html = stale.content.decode()
    vitals.refresh_from_db()
    assert vitals.weight_kg == Decimal("64.0")  # the correction stands
    assert vitals.heart_rate_bpm == 80
    assert "Someone else saved this form after you opened it (investigator)" in html
    row = html.split("Weight (kg)</td>")[1].split("</tr>")[0]
    assert re.search(r"70\.0.*64\.0", row)  # seen -> theirs, field by field
    assert 'name="heart_rate_bpm" value="101"' in html  # the PI's entry is kept
    # Saving again from the refreshed page is a deliberate, audited overwrite.
    assert hidden_version(html) == "2"
    again = client.post(
        url, {**PAGE, "weight_kg": "64.0", "heart_rate_bpm": "101", "lock_version": "2"}
    )
    assert again.status_code == 302
    vitals.refresh_from_db()
    assert (vitals.weight_kg, vitals.heart_rate_bpm) == (Decimal("64.0"), 101)


def test_two_users_entering_a_new_form_do_not_overwrite_each_other(
    client, investigator, principal_investigator, randomized_patient
):
    visit = Visit.objects.get(patient=randomized_patient, definition__code="dose1")
    url = reverse("crf:crf-edit", kwargs={"visit_pk": visit.pk, "form_code": "vitals"})
    client.force_login(investigator)
    assert hidden_version(client.get(url).content.decode()) == "0"
    first = client.post(url, {**PAGE, "lock_version": "0"})
    assert first.status_code == 302
    client.force_login(principal_investigator)
    second = client.post(url, {**PAGE, "weight_kg": "90", "lock_version": "0"})
    assert second.status_code == 200
    assert VitalSigns.objects.get(visit=visit).weight_kg == Decimal("70.0")


def api_url(vitals) -> str:
    return reverse(
        "crf-api:crf-detail", kwargs={"visit_pk": vitals.visit_id, "form_code": "vitals"}
    )


def test_api_get_gives_an_etag_and_a_stale_put_answers_412_with_the_current_version(
    client, investigator, principal_investigator, vitals
):
    url = api_url(vitals)
    client.force_login(investigator)
    read = client.get(url)
    assert read["ETag"] == '"v1"'
    assert read.json()["lock_version"] == 1
    ok = client.put(
        url, {"weight_kg": "64.0"}, content_type="application/json", HTTP_IF_MATCH=read["ETag"]
    )
    assert ok.status_code == 200
    assert ok["ETag"] == '"v2"'
    client.force_login(principal_investigator)
    stale = client.put(
        url, {"heart_rate_bpm": 101}, content_type="application/json", HTTP_IF_MATCH='"v1"'
    )
    assert stale.status_code == 412
    body = stale.json()
    assert body["current_version"] == 2
    assert stale["ETag"] == '"v2"'
    assert {"field": "weight_kg", "seen": "70.0", "current": "64.0"} in body["changes"]
    assert body["current"]["weight_kg"] == "64.0"
    vitals.refresh_from_db()
    assert vitals.heart_rate_bpm == 80


def test_api_update_without_a_version_is_refused_with_428(client, investigator, vitals):
    client.force_login(investigator)
    response = client.put(api_url(vitals), {"weight_kg": "64"}, content_type="application/json")
    assert response.status_code == 428
    assert response.json()["current_version"] == 1
    body_version = client.put(
        api_url(vitals),
        {"weight_kg": "64", "lock_version": 1},
        content_type="application/json",
    )
    assert body_version.status_code == 200


def test_twenty_api_writes_from_one_read_save_once(client, investigator, vitals):
    client.force_login(investigator)
    etag = client.get(api_url(vitals))["ETag"]
    codes = [
        client.put(
            api_url(vitals),
            {"heart_rate_bpm": 60 + i},
            content_type="application/json",
            HTTP_IF_MATCH=etag,
        ).status_code
        for i in range(20)
    ]
    assert codes.count(200) == 1
    assert codes.count(412) == 19
    vitals.refresh_from_db()
    assert vitals.heart_rate_bpm == 60
    assert vitals.history.count() == 2


def test_malformed_if_match_is_a_400(client, investigator, vitals):
    client.force_login(investigator)
    response = client.put(
        api_url(vitals), {"weight_kg": "64"}, content_type="application/json", HTTP_IF_MATCH="x"
    )
    assert response.status_code == 400
    assert "If-Match" in response.json()


def test_an_adverse_event_update_needs_the_version_too(client, investigator, randomized_patient):
    client.force_login(investigator)
    created = client.post(
        reverse("crf-api:ae-list", kwargs={"patient_pk": randomized_patient.pk}),
        {"term": "Fever", "onset_date": "2026-03-02"},
        content_type="application/json",
    )
    assert created.status_code == 201
    url = reverse("crf-api:ae-detail", kwargs={"ae_pk": created.json()["id"]})
    assert client.put(url, {"term": "Pyrexia"}, content_type="application/json").status_code == 428
    ok = client.put(
        url, {"term": "Pyrexia"}, content_type="application/json", HTTP_IF_MATCH=created["ETag"]
    )
    assert ok.status_code == 200
    assert AdverseEvent.objects.get().term == "Pyrexia"


def test_a_stale_in_memory_copy_is_refused_on_every_path(investigator, vitals):
    from trials.audit import save_audited

    stale = VitalSigns.objects.get(pk=vitals.pk)
    vitals.weight_kg = Decimal("64.0")
    save_audited(vitals, reason="corrected", user=investigator)
    stale.heart_rate_bpm = 101
    with pytest.raises(StaleEdit, match="changed by investigator"):
        save_audited(stale, reason="other edit", user=investigator)


def test_stale_screening_page_is_refused_with_the_changes(
    client, investigator, principal_investigator, patient
):
    screening_save(
        user=investigator, patient=patient, data=eligible_screening_data(), complete=False
    )
    url = reverse("trials:screening-edit", kwargs={"pk": patient.pk})
    client.force_login(principal_investigator)
    seen = hidden_version(client.get(url).content.decode())
    screening_save(
        user=investigator,
        patient=patient,
        data={**eligible_screening_data(), "inr": Decimal("2.9")},
        complete=False,
    )
    post = {**as_post(eligible_screening_data(inr="2.1")), "lock_version": seen}
    response = client.post(url, post)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Someone else saved this form after you opened it" in html
    assert "2.9" in html.split("INR")[1]
    patient.screening.refresh_from_db()
    assert patient.screening.inr == Decimal("2.9")
