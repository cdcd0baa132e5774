"""Shared fixtures: one user per role at site 01, a user of another site, fast settings."""

from __future__ import annotations

import pytest

from tests.factories import PatientFactory, SiteFactory, SiteMembershipFactory, UserFactory
from trials import services
from trials.roles import Role

PASSWORD = "Correct-Horse-9"


@pytest.fixture(autouse=True)
def _fast_settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.SECURE_SSL_REDIRECT = False  # the test client speaks plain HTTP


@pytest.fixture(autouse=True)
def _clear_of_local_midnight():
    """Tests build clinical times as "now, minus a few minutes" beside dates of "today" in the
    trial's time zone. Just after local midnight the two fall on different days, and a
    correct refusal (an infusion before day 1, a preparation without that day's weight)
    failed 23 tests of a CI run at 23:00-23:30 UTC. In the first hours of a local day the
    clock moves on to 03:00 and runs from there; at any other hour, the real clock."""
    import time_machine
    from django.utils import timezone

    local = timezone.localtime()
    if local.hour >= 3:
        yield
        return
    with time_machine.travel(local.replace(hour=3, minute=0, second=0, microsecond=0), tick=True):
        yield


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language: a request in Spanish (LocaleMiddleware, the
    user's language) leaves the thread's translation active after it returns (issue 17)."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def groups(db):
    return services.roles_sync()


@pytest.fixture
def site(db):
    return SiteFactory(code="01", name="Hospital Clínic")


@pytest.fixture
def other_site(db, site):
    return SiteFactory(trial=site.trial, code="02", name="Other hospital")


def make_user(groups, role: Role, *sites, username: str | None = None):
    user = UserFactory(username=username or role.value)
    with services.unblinded_grant_preapproved():  # test set-up, like the demo accounts
        user.groups.add(groups[role])
    for s in sites:
        SiteMembershipFactory(user=user, site=s)
    return user


@pytest.fixture
def investigator(groups, site):
    return make_user(groups, Role.INVESTIGATOR, site)


@pytest.fixture
def principal_investigator(groups, site):
    return make_user(groups, Role.PRINCIPAL_INVESTIGATOR, site)


@pytest.fixture
def pharmacist(groups, site):
    return make_user(groups, Role.PHARMACIST, site)


@pytest.fixture
def monitor(groups, site):
    return make_user(groups, Role.MONITOR, site)


@pytest.fixture
def data_manager(groups):
    return make_user(groups, Role.DATA_MANAGER)


@pytest.fixture
def unblinded_statistician(groups):
    return make_user(groups, Role.UNBLINDED_STATISTICIAN)


@pytest.fixture
def trial_admin(groups):
    return make_user(groups, Role.TRIAL_ADMIN)


@pytest.fixture
def other_site_investigator(groups, other_site):
    return make_user(groups, Role.INVESTIGATOR, other_site, username="other_investigator")


@pytest.fixture
def no_role_user(db):
    return UserFactory(username="norole")


@pytest.fixture
def patient(site):
    return PatientFactory(site=site)


@pytest.fixture
def other_site_patient(other_site):
    return PatientFactory(site=other_site, screening_number="S02-0001")


@pytest.fixture
def blinded_users(investigator, principal_investigator, monitor, data_manager, trial_admin):
    """Every role that must never see an arm (the PI until an emergency unblinding)."""
    return {
        "investigator": investigator,
        "principal_investigator": principal_investigator,
        "monitor": monitor,
        "data_manager": data_manager,
        "trial_admin": trial_admin,
    }


def login_request(ip: str = "10.0.0.7"):
    """A request as the login backends see it (django-axes counts failures per user and IP)."""
    from django.test import RequestFactory

    return RequestFactory().post("/", REMOTE_ADDR=ip)
