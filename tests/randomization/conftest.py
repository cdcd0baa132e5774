"""Fixtures of the randomization tests (roles come from tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.randomization.factories import active_list, eligible_patient, patients_by_arm


@pytest.fixture
def rand_list(site):
    return active_list(site.trial)


@pytest.fixture
def eligible(site, rand_list):
    return eligible_patient(site)


@pytest.fixture
def by_arm(site, investigator, rand_list):
    """{"A": patient, "B": patient}, both randomized in stratum 2."""
    return patients_by_arm(site, investigator)
