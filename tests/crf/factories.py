"""Factories of the crf tests."""

from __future__ import annotations

import datetime as dt

from crf import services
from trials.models import PatientStatus


def randomized(patient, *, day1: dt.date, user=None):
    """Mark ``patient`` randomized and plan its dosing visits (what randomization does)."""
    consent = dt.datetime.combine(day1 - dt.timedelta(days=3), dt.time(9), tzinfo=dt.UTC)
    if patient.consent_datetime is None or patient.consent_datetime > consent:
        patient.consent_datetime = consent
    patient.status = PatientStatus.RANDOMIZED
    patient.subject_id = patient.subject_id or f"R{patient.pk:03d}"
    patient.save()
    services.visit_definitions_load(trial=patient.trial)
    services.visits_plan_after_randomization(patient=patient, day1=day1, user=user)
    return patient
