"""The issue-15 read endpoints next to patients: trials, sites and a patient's stored scores,
scoped like the pages and blinded."""

from __future__ import annotations

import pytest

from tests.randomization.factories import patients_by_arm
from tests.test_blinding_crawl import leaks
from trials.models import ScoreRecord

pytestmark = pytest.mark.django_db


def _results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_sites_and_trials_are_scoped_to_the_users_sites(
    client, site, other_site, investigator, data_manager, no_role_user
):
    client.force_login(investigator)
    assert [s["code"] for s in _results(client.get("/api/v1/sites/"))] == [site.code]
    trials = _results(client.get("/api/v1/trials/"))
    assert [t["code"] for t in trials] == [site.trial.code]
    assert "arm_codes" not in trials[0]
    client.force_login(data_manager)  # trial-wide role
    codes = {s["code"] for s in _results(client.get("/api/v1/sites/"))}
    assert codes == {site.code, other_site.code}
    client.force_login(no_role_user)
    assert _results(client.get("/api/v1/sites/")) == []


def test_a_patients_scores_in_time_order_for_its_site_only(
    client, site, investigator, other_site_investigator
):
    from tests.exports.test_change_feed import _labs, _vitals

    patient = patients_by_arm(site, investigator)["A"]
    _vitals(patient, investigator)
    _labs(patient, investigator)  # scores recomputed from the visit's data
    stored = list(
        ScoreRecord.objects.filter(patient=patient)
        .order_by("assessed_on", "pk")
        .values_list("pk", flat=True)
    )
    assert stored
    url = f"/api/v1/patients/{patient.pk}/scores/"
    client.force_login(investigator)
    response = client.get(url)
    assert [s["id"] for s in _results(response)] == stored
    assert not leaks(response.content.decode())
    client.force_login(other_site_investigator)
    assert client.get(url).status_code == 404
