"""Lockout done right (issue 11).

Findings reproduced: anyone could lock the PI out for 30 minutes with five bad passwords,
which also blocked an emergency unblinding; the trial administrator had no page to see or
clear lockouts; a locked account's open session and API token kept working.
"""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.sessions.models import Session
from django.urls import reverse
from knox.models import AuthToken

from randomization.models import EmergencyUnblinding
from tests.conftest import PASSWORD
from tests.randomization.factories import active_list, patients_by_arm
from trials.models import LockoutReset

pytestmark = pytest.mark.django_db

STRANGER_IP = "10.9.9.66"
PI_IP = "10.1.1.5"


def login(client, username, password, ip):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def lock(client, username, ip):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, username, "wrong-password", ip)


def test_lockout_is_short():
    assert settings.AXES_COOLOFF_TIME.total_seconds() <= 15 * 60
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_a_stranger_elsewhere_cannot_lock_the_pi_out(client, principal_investigator):
    lock(client, principal_investigator.username, STRANGER_IP)
    assert login(client, principal_investigator.username, PASSWORD, STRANGER_IP).status_code == 429
    assert login(client, principal_investigator.username, PASSWORD, PI_IP).status_code == 302


def test_guessing_from_one_address_is_still_stopped(client, investigator):
    lock(client, investigator.username, STRANGER_IP)
    response = login(client, investigator.username, PASSWORD, STRANGER_IP)
    assert response.status_code == 429
    assert "locked" in response.content.decode()


def test_emergency_unblinding_works_for_the_pi_during_a_lockout_caused_by_others(
    client, principal_investigator, investigator, site, django_capture_on_commit_callbacks
):
    active_list(site.trial)
    patient = patients_by_arm(site, investigator)["A"]
    lock(client, principal_investigator.username, STRANGER_IP)
    assert login(client, principal_investigator.username, PASSWORD, PI_IP).status_code == 302
    url = reverse("randomization:unblinding-create", args=[patient.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, {"reason": "anaphylaxis", "password": PASSWORD}, REMOTE_ADDR=PI_IP
        )
    assert response.status_code == 302
    assert EmergencyUnblinding.objects.filter(patient=patient).exists()


def test_a_locked_pair_loses_its_open_session_at_once(client, investigator):
    assert login(client, investigator.username, PASSWORD, STRANGER_IP).status_code == 302
    dashboard = reverse("trials:dashboard")
    assert client.get(dashboard, REMOTE_ADDR=STRANGER_IP).status_code == 200
    other = client.__class__()
    lock(other, investigator.username, STRANGER_IP)
    response = client.get(dashboard, REMOTE_ADDR=STRANGER_IP)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_locked_pair_cannot_use_an_api_token_there(client, investigator):
    _record, token = AuthToken.objects.create(user=investigator)
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    url = reverse("trials-api:patient-list")
    assert client.get(url, REMOTE_ADDR=STRANGER_IP, **auth).status_code == 200
    lock(client.__class__(), investigator.username, STRANGER_IP)
    assert client.get(url, REMOTE_ADDR=STRANGER_IP, **auth).status_code == 401
    assert client.get(url, REMOTE_ADDR=PI_IP, **auth).status_code == 200


def test_a_deactivated_account_loses_sessions_and_tokens_at_once(
    client, investigator, django_capture_on_commit_callbacks
):
    assert login(client, investigator.username, PASSWORD, PI_IP).status_code == 302
    _record, token = AuthToken.objects.create(user=investigator)
    assert Session.objects.count() == 1
    investigator.is_active = False
    with django_capture_on_commit_callbacks(execute=True):
        investigator.save()
    assert Session.objects.count() == 0
    assert not AuthToken.objects.filter(user=investigator).exists()
    api = client.get(reverse("trials-api:patient-list"), HTTP_AUTHORIZATION=f"Token {token}")
    assert api.status_code == 401


def test_trial_admin_sees_and_clears_lockouts_with_an_audited_reason(
    client, trial_admin, investigator
):
    lock(client.__class__(), investigator.username, STRANGER_IP)
    client.force_login(trial_admin)
    page = client.get(reverse("trials:lockout-list"))
    assert page.status_code == 200
    assert STRANGER_IP in page.content.decode()
    clear = reverse("trials:lockout-clear")
    post = {"username": investigator.username, "ip_address": STRANGER_IP, "reason": "."}
    client.post(clear, post)
    assert AccessAttempt.objects.filter(username=investigator.username).exists()
    post["reason"] = "Identity checked by phone call"
    client.post(clear, post)
    assert not AccessAttempt.objects.filter(username=investigator.username).exists()
    reset = LockoutReset.objects.get()
    assert reset.reset_by == trial_admin
    assert reset.history.get().history_user == trial_admin
    assert (
        login(client.__class__(), investigator.username, PASSWORD, STRANGER_IP).status_code == 302
    )


@pytest.mark.parametrize("who", ["investigator", "principal_investigator", "monitor"])
def test_only_the_trial_admin_sees_lockouts(client, request, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("trials:lockout-list")).status_code == 403
    assert client.post(reverse("trials:lockout-clear"), {"username": "x"}).status_code == 403
