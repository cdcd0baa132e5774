"""No list until the statistician makes one; the demo list never serves a production trial;
blinded trails show a preparation as done on a date only (issue 9)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.checks import run_checks
from django.core.management.base import SystemCheckError
from django.urls import reverse
from django.utils import formats

from randomization import services
from randomization.checks import DEMO_TAG, refuse_to_start_on_demo_list
from tests.randomization.factories import eligible_patient, prepare, randomize

pytestmark = pytest.mark.django_db


def test_randomization_is_refused_with_a_clear_message_while_no_list_is_active(
    client, site, investigator
):
    patient = eligible_patient(site)
    assert services.patient_randomization_problems(patient=patient) == {
        "randomization_list": services.NO_ACTIVE_LIST
    }
    client.force_login(investigator)
    response = client.post(
        reverse("randomization:patient-randomize", args=[patient.pk]),
        {"confirm_eligibility": "on"},
    )
    assert response.status_code == 200
    assert "No randomization list is active yet" in response.content.decode()
    response = client.post(
        f"/api/v1/patients/{patient.pk}/randomize/",
        {"confirm_eligibility": True},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["randomization_list"] == [services.NO_ACTIVE_LIST]
    patient.refresh_from_db()
    assert patient.status == "screening"


def test_a_blank_seed_is_drawn_secretly_and_recorded(site, unblinded_statistician):
    first = services.randomization_list_generate(user=unblinded_statistician, trial=site.trial)
    assert len(first.seed) >= 32
    assert first.seed != services.DEMO_SEED
    assert not first.is_demo
    second = services.randomization_list_generate(
        user=unblinded_statistician, trial=site.trial, reason="test a second draw"
    )
    assert second.seed != first.seed


def test_list_records_its_strata_and_refuses_unknown_ones(site, unblinded_statistician):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="Strata must be among"):
        services.randomization_list_generate(
            user=unblinded_statistician, trial=site.trial, strata=["1", "9"]
        )
    rlist = services.randomization_list_generate(
        user=unblinded_statistician, trial=site.trial, strata=["2", "3"], block_sizes=(4,)
    )
    assert rlist.strata == ["2", "3"]
    assert set(rlist.entries.values_list("stratum", flat=True)) == {"2", "3"}


@pytest.fixture
def demo_list(site):
    return services.randomization_list_ensure_demo(trial=site.trial)


def test_system_check_refuses_production_with_an_active_demo_list(settings, demo_list):
    settings.DEBUG = False
    settings.DEMO_SERVER = False
    assert run_checks(tags=[DEMO_TAG]) == []  # no database named: makemigrations etc. run
    [error] = run_checks(tags=[DEMO_TAG], databases=["default"])
    assert error.id == "randomization.E001"
    with pytest.raises(SystemCheckError, match="DEMO list"):
        refuse_to_start_on_demo_list()


def test_demo_server_setting_or_debug_allows_the_demo_list(settings, demo_list):
    settings.DEBUG = False
    settings.DEMO_SERVER = True
    assert run_checks(tags=[DEMO_TAG], databases=["default"]) == []
    settings.DEMO_SERVER = False
    settings.DEBUG = True
    assert run_checks(tags=[DEMO_TAG], databases=["default"]) == []


def test_a_superseded_demo_list_no_longer_blocks_start_up(
    settings, demo_list, unblinded_statistician
):
    settings.DEBUG = False
    settings.DEMO_SERVER = False
    services.randomization_list_generate(
        user=unblinded_statistician, trial=demo_list.trial, reason="real list before patient 1"
    )
    assert run_checks(tags=[DEMO_TAG], databases=["default"]) == []
    refuse_to_start_on_demo_list()


def test_demo_list_is_marked_demo_on_the_statistician_page(
    client, demo_list, unblinded_statistician
):
    client.force_login(unblinded_statistician)
    body = client.get(reverse("randomization:list-detail")).content.decode()
    assert "DEMO" in body
    assert "public demo seed" in body


def test_blinded_trail_shows_a_preparation_as_done_on_a_date_only(
    client, site, investigator, pharmacist, monitor, unblinded_statistician
):
    rlist = services.randomization_list_generate(user=unblinded_statistician, trial=site.trial)
    patient = eligible_patient(site)
    allocation = randomize(patient, investigator)
    prep = prepare(patient, pharmacist, cells=allocation.entry.arm == rlist.active_arm_code)
    prep.refresh_from_db()
    client.force_login(monitor)
    body = client.get(reverse("trials:patient-history", args=[patient.pk])).content.decode()
    at = body.index("dose preparation")
    row = body[body.rindex("<tr>", 0, at) : body.index("</tr>", at)]  # the preparation's entry
    day = prep.history.first().history_date.astimezone(dt.UTC)
    assert formats.date_format(day, "SHORT_DATE_FORMAT") in row
    assert not re.search(r"\d{1,2}:\d{2}", row)  # a date, never a time
    assert "<time" not in row
    assert "Second Checker" not in body
    assert pharmacist.username not in body
    assert "Prepared at" not in body


def test_pharmacy_page_warns_while_the_demo_list_is_active(
    client, site, pharmacist, unblinded_statistician, demo_list
):
    client.force_login(pharmacist)
    body = client.get(reverse("randomization:pharmacy-list")).content.decode()
    assert "DEMO randomization list" in body
    services.randomization_list_generate(
        user=unblinded_statistician, trial=site.trial, reason="real list before patient 1"
    )
    body = client.get(reverse("randomization:pharmacy-list")).content.decode()
    assert "DEMO randomization list" not in body
