"""The crf fixtures (schedule, a randomized patient) for the audit-trail tests."""

from tests.crf.conftest import frozen_day1, randomized_patient, schedule  # noqa: F401
