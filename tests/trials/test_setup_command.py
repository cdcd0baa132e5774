"""`make run`'s set-up steps work from an empty database and are idempotent."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from liveradvance.management.commands.setup_liveradvance import DEMO_USERS, demo_password
from trials.models import Patient, Site, SiteMembership, Trial
from trials.roles import Role, user_roles

pytestmark = pytest.mark.django_db


def run_setup(capsys) -> str:
    call_command("setup_liveradvance", "--demo-users")
    return capsys.readouterr().out


def test_setup_creates_trial_site_roles_and_one_demo_user_per_role(capsys):
    out = run_setup(capsys)
    trial = Trial.objects.get(code="liveradvance")
    assert trial.registry_ids.startswith("NCT02857010")
    assert Site.objects.filter(trial=trial).count() == 1
    users = get_user_model().objects.all()
    assert {frozenset(user_roles(u)) for u in users} == {frozenset({r}) for r in Role}
    for username, _role, _first, _last in DEMO_USERS:
        assert f"{username}" in out
        assert demo_password(username) in out


def test_setup_twice_changes_nothing_and_keeps_data(capsys, site):
    run_setup(capsys)
    Patient.objects.create(
        trial=Trial.objects.get(code="liveradvance"),
        site=Site.objects.get(code="01", trial__code="liveradvance"),
        screening_number="S01-0001",
        sex="F",
        birth_date="1970-01-01",
    )
    counts = (
        get_user_model().objects.count(),
        SiteMembership.objects.count(),
        Trial.objects.count(),
        Patient.objects.count(),
    )
    out = run_setup(capsys)
    assert (
        get_user_model().objects.count(),
        SiteMembership.objects.count(),
        Trial.objects.count(),
        Patient.objects.count(),
    ) == counts
    assert "(unchanged)" in out


def test_demo_users_can_log_in_with_the_printed_password(capsys):
    run_setup(capsys)
    client = Client()
    response = client.post(
        reverse("login"), {"username": "investigator", "password": demo_password("investigator")}
    )
    assert response.status_code == 302
    assert client.get(reverse("trials:dashboard")).status_code == 200


def test_demo_cohort_is_entered_through_the_services_once(capsys):
    call_command("setup_liveradvance", "--demo-patients")
    statuses = sorted(Patient.objects.values_list("status", flat=True))
    assert statuses == ["randomized"] * 3 + ["screen_failed"] + ["screening"] * 2
    randomized = Patient.objects.filter(status="randomized")
    assert all(p.score_records.count() == 2 for p in randomized)  # screening + dose-1 labs
    assert all(p.history.exists() for p in randomized)
    call_command("setup_liveradvance", "--demo-patients")
    assert Patient.objects.count() == 6
