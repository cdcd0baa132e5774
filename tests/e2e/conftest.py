"""A live server on 127.0.0.1 and Debian's Chromium for the real-browser journey (issue 17).

If the browser cannot start the test FAILS: the journey is never silently skipped.
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import make_user
from tests.e2e.browser import CHROMIUM, Actor
from trials.roles import Role


@pytest.fixture(scope="module")
def browser():
    """Chromium for this module only. Playwright's sync API runs an event loop in this
    thread, so Django's async guard is lifted while it runs and restored after (it must not
    leak: ``check --deploy`` in a later test refuses that variable)."""
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            try:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
                )
            except Exception as exc:
                pytest.fail(f"Chromium at {CHROMIUM} did not start: {exc}", pytrace=False)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def server(transactional_db):
    """A live server on 127.0.0.1 (committed data: the server thread has its own connection)."""
    from django.test.utils import modify_settings
    from pytest_django.live_server_helper import LiveServer

    live = LiveServer("127.0.0.1:0")
    with modify_settings(ALLOWED_HOSTS={"append": "127.0.0.1"}):
        yield live
    live.stop()


@pytest.fixture
def trial_setup(transactional_db):
    """The trial as ``setup_liveradvance`` configures it, one user per role, an active list."""
    from liveradvance.setup import trial_setup as configure
    from tests.randomization.factories import active_list

    trial, site, groups = configure()
    users = {
        "investigator": make_user(groups, Role.INVESTIGATOR, site),
        "pharmacist": make_user(groups, Role.PHARMACIST, site),
        "monitor": make_user(groups, Role.MONITOR, site),
        "data_manager": make_user(groups, Role.DATA_MANAGER),
        "unblinded_statistician": make_user(groups, Role.UNBLINDED_STATISTICIAN),
        "trial_admin": make_user(groups, Role.TRIAL_ADMIN),
    }
    for user in users.values():
        user.first_name, user.last_name = user.username.replace("_", " ").title(), "Test"
        user.save()
    active_list(trial)
    return {"trial": trial, "site": site, "users": users}


@pytest.fixture
def actors(browser, server, trial_setup):
    """``actors("investigator")`` logs that role in (its own cookies) and returns the actor."""
    started: list[Actor] = []
    unblinded = {"pharmacist", "unblinded_statistician"}

    def login(role: str) -> Actor:
        actor = Actor(
            browser=browser,
            base_url=server.url,
            username=trial_setup["users"][role].username,
            blinded=role not in unblinded,
        ).start()
        started.append(actor)
        return actor

    yield login
    for actor in started:
        actor.close()
