"""Every read of crf data that leaves the app, scoped to what ``user`` may see.

Nothing here reads or returns a treatment arm (synopsis: Randomization).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from trials.models import FormStatus, Patient
from trials.selectors import patient_get

from .models import Visit, VisitKind, VitalSigns


@dataclass(frozen=True)
class DoseVisit:
    dose_number: int
    visit_pk: int
    target_date: dt.date
    window_start: dt.date
    window_end: dt.date
    status: str
    administered: bool | None  # None until the administration CRF is complete


@dataclass(frozen=True)
class WeightReading:
    weight_kg: Decimal
    measured_on: dt.date
    source: str


def dosing_schedule(*, user, patient: Patient) -> list[DoseVisit]:
    """The patient's dosing visits in dose order with whether each dose was given (2 queries)."""
    patient = patient_get(user=user, pk=patient.pk)
    visits = list(
        Visit.objects.filter(patient=patient, definition__kind=VisitKind.DOSING)
        .select_related("definition", "administration")
        .order_by("definition__dose_number")
    )
    result = []
    for visit in visits:
        admin = getattr(visit, "administration", None)
        administered = (
            admin.given if admin is not None and admin.status == FormStatus.COMPLETE else None
        )
        result.append(
            DoseVisit(
                dose_number=visit.definition.dose_number,
                visit_pk=visit.pk,
                target_date=visit.target_date,
                window_start=visit.window_start,
                window_end=visit.window_end,
                status=visit.status,
                administered=administered,
            )
        )
    return result


def weight_latest(*, user, patient: Patient) -> WeightReading | None:
    """The most recent weight of a complete vital-signs CRF (the dose is per kg)."""
    patient = patient_get(user=user, pk=patient.pk)
    vitals = (
        VitalSigns.objects.filter(
            patient=patient,
            status=FormStatus.COMPLETE,
            weight_kg__isnull=False,
            assessment_date__isnull=False,
        )
        .select_related("visit__definition")
        .order_by("-assessment_date", "-pk")
        .first()
    )
    if vitals is None:
        return None
    return WeightReading(
        weight_kg=vitals.weight_kg,
        measured_on=vitals.assessment_date,
        source=f"Vital signs and weight — {vitals.visit.definition.name}",
    )
