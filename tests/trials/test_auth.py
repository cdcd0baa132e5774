"""Login, lockout and access logging (21 CFR 11.300(d); auditor checks AC-1, AT-6)."""

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_login_and_logout_are_recorded(client, investigator):
    assert login(client, investigator.username, PASSWORD).status_code == 302
    client.post(reverse("logout"))
    entry = AccessLog.objects.get(username=investigator.username)
    assert entry.attempt_time is not None
    assert entry.logout_time is not None


def test_failed_login_is_recorded_and_shows_an_error(client, investigator):
    response = login(client, investigator.username, "wrong-password")
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()
    assert AccessFailureLog.objects.filter(username=investigator.username).count() == 1


def test_account_locks_after_repeated_failures_even_with_the_right_password(client, investigator):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, investigator.username, "wrong-password")
    response = login(client, investigator.username, PASSWORD)
    assert response.status_code == 429
    assert "locked" in response.content.decode()
    # The refused attempt with the right password counts as one more failure.
    attempt = AccessAttempt.objects.get(username=investigator.username)
    assert attempt.failures_since_start == settings.AXES_FAILURE_LIMIT + 1


def test_one_failure_short_of_the_limit_still_logs_in(client, investigator):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        login(client, investigator.username, "wrong-password")
    assert login(client, investigator.username, PASSWORD).status_code == 302


def test_session_expires_after_inactivity():
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_REFRESH_SECONDS <= 5 * 60


def _session_writes(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return [
        q["sql"]
        for q in ctx.captured_queries
        if "django_session" in q["sql"] and not q["sql"].lstrip().upper().startswith("SELECT")
    ]


def test_session_is_not_rewritten_on_every_request(client, investigator):
    """#16: SESSION_SAVE_EVERY_REQUEST rewrote the session row on each request."""
    import time_machine
    from django.urls import reverse

    url = reverse("trials:dashboard")
    with time_machine.travel("2026-11-26 09:00 +0000", tick=False) as clock:
        client.force_login(investigator)
        client.get(url)
        clock.shift(60)
        assert _session_writes(client, url) == []  # a minute later: read only
        clock.shift(settings.SESSION_REFRESH_SECONDS)
        assert len(_session_writes(client, url)) == 1  # refreshed: expiry moves on


def test_active_user_stays_logged_in_and_idle_user_is_logged_out(client, investigator):
    import time_machine
    from django.urls import reverse

    url = reverse("trials:dashboard")
    with time_machine.travel("2026-11-26 09:00 +0000", tick=False) as clock:
        client.force_login(investigator)
        for _ in range(12):  # an hour of activity, a request every 5 minutes
            clock.shift(5 * 60)
            assert client.get(url).status_code == 200
        clock.shift(settings.SESSION_COOKIE_AGE + 1)
        assert client.get(url).status_code == 302  # idle too long: back to the login page


def test_weak_passwords_are_rejected():
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="too short"):
        validate_password("Liver1!")
