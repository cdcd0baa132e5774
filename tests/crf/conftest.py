"""Fixtures of the crf tests: the trial schedule and a randomized patient."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from crf import services
from tests.crf.factories import randomized

DAY1 = dt.date(2026, 3, 2)


@pytest.fixture
def schedule(site):
    return services.visit_definitions_load(trial=site.trial)


@pytest.fixture
def frozen_day1():
    """Freeze the clock at noon of day 1 (Europe/Madrid)."""
    with time_machine.travel(dt.datetime(2026, 3, 2, 11, 0, tzinfo=dt.UTC), tick=False) as t:
        yield t


@pytest.fixture
def randomized_patient(
    patient, schedule, investigator, frozen_day1, django_capture_on_commit_callbacks
):
    """Randomized on DAY1 with dosing and (on commit) follow-up visits planned."""
    with django_capture_on_commit_callbacks(execute=True):
        return randomized(patient, day1=DAY1, user=investigator)
