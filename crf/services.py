"""Every write of the crf app: schedule configuration, visits, eCRFs, end of study."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from trials.audit import save_audited
from trials.models import Patient, Trial

from .models import Visit, VisitDefinition, VisitKind, VisitStatus
from .schedule import DEFAULT_SCHEDULE, visit_window

logger = logging.getLogger(__name__)

SYSTEM_REASON_PLAN = "Planned from the visit schedule"

# --- schedule configuration ----------------------------------------------------------------


@transaction.atomic
def visit_definitions_load(*, trial: Trial) -> list[VisitDefinition]:
    """Create the synopsis schedule rows missing for ``trial``; existing rows keep their edits."""
    definitions = []
    for row in DEFAULT_SCHEDULE:
        row = dict(row)
        code = row.pop("code")
        definition = VisitDefinition.objects.filter(trial=trial, code=code).first()
        if definition is None:
            definition = VisitDefinition(trial=trial, code=code, **row)
            save_audited(definition, reason="Loaded from the protocol synopsis schedule")
        definitions.append(definition)
    return definitions


@transaction.atomic
def visit_definition_update(
    *, user, definition: VisitDefinition, data: dict, reason: str
) -> VisitDefinition:
    """Change one schedule row (audited). Visits already planned keep their dates."""
    from django.core.exceptions import ValidationError

    if not (reason or "").strip():
        raise ValidationError({"reason_for_change": "Give a reason for changing the schedule."})
    for field in (
        "name",
        "day",
        "window_before",
        "window_after",
        "missed_after_days",
        "order",
        "expected_forms",
    ):
        if field in data:
            setattr(definition, field, data[field])
    from .registry import FORMS

    unknown = [code for code in definition.expected_forms if code not in FORMS]
    if unknown:
        raise ValidationError({"expected_forms": f"Unknown form codes: {', '.join(unknown)}."})
    return save_audited(definition, reason=reason, user=user)


def _definitions(trial: Trial, *kinds: str) -> list[VisitDefinition]:
    qs = VisitDefinition.objects.filter(trial=trial, kind__in=kinds).order_by("order", "pk")
    definitions = list(qs)
    if not VisitDefinition.objects.filter(trial=trial).exists():
        visit_definitions_load(trial=trial)
        definitions = list(qs.all())
    return definitions


def _visit_plan(*, patient: Patient, definition: VisitDefinition, day1: dt.date, user) -> Visit:
    """The patient's visit for ``definition``, created with its window if missing."""
    existing = Visit.objects.filter(patient=patient, definition=definition).first()
    if existing is not None:
        return existing
    target, start, end = visit_window(
        day1=day1,
        day=definition.day,
        window_before=definition.window_before,
        window_after=definition.window_after,
    )
    visit = Visit(
        patient=patient,
        definition=definition,
        scheduled=True,
        target_date=target,
        window_start=start,
        window_end=end,
        status=visit_status_on(
            window_start=start,
            window_end=end,
            missed_after_days=definition.missed_after_days,
            today=timezone.localdate(),
        ),
    )
    return save_audited(visit, reason=SYSTEM_REASON_PLAN, user=user)


def day1_of(patient: Patient) -> dt.date | None:
    """Day 1 of the patient (the target date of the dose-1 visit), or None before planning."""
    return (
        Visit.objects.filter(
            patient=patient, definition__kind=VisitKind.DOSING, definition__dose_number=1
        )
        .values_list("target_date", flat=True)
        .first()
    )


@transaction.atomic
def visits_plan_after_randomization(*, patient: Patient, day1: dt.date, user) -> list[Visit]:
    """Create the dosing visits (days 1, 4, 11, 18) now and queue the follow-up visits.

    Idempotent: visits that exist are returned unchanged. The follow-up task is enqueued on
    commit, so the worker sees the committed randomization.
    """
    from .tasks import visits_followup_create

    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    visits = [
        _visit_plan(patient=patient, definition=definition, day1=day1, user=user)
        for definition in _definitions(patient.trial, VisitKind.DOSING)
    ]
    patient_pk = patient.pk
    transaction.on_commit(lambda: visits_followup_create.delay(patient_pk))
    return visits


@transaction.atomic
def visits_followup_create(*, patient_id: int) -> list[Visit]:
    """Create the survival follow-up visits (day 28, month 3, month 12) from day 1; idempotent."""
    patient = Patient.objects.select_for_update().get(pk=patient_id)
    day1 = day1_of(patient)
    if day1 is None:
        logger.warning("Follow-up visits not planned for patient %s: no day 1 yet.", patient_id)
        return []
    return [
        _visit_plan(patient=patient, definition=definition, day1=day1, user=None)
        for definition in _definitions(patient.trial, VisitKind.FOLLOW_UP)
    ]


@transaction.atomic
def visits_replan(*, user, patient: Patient, reason: str) -> list[Visit]:
    """Re-compute target dates and windows of open visits from the current schedule."""
    from django.core.exceptions import ValidationError

    if not (reason or "").strip():
        raise ValidationError({"reason_for_change": "Give a reason for re-planning the visits."})
    day1 = day1_of(patient)
    if day1 is None:
        raise ValidationError("The patient has no day 1 yet: nothing to re-plan.")
    changed = []
    today = timezone.localdate()
    for visit in Visit.objects.select_related("definition").filter(
        patient=patient, scheduled=True
    ):
        if not visit.is_open:
            continue
        d = visit.definition
        target, start, end = visit_window(
            day1=day1, day=d.day, window_before=d.window_before, window_after=d.window_after
        )
        if (target, start, end) == (visit.target_date, visit.window_start, visit.window_end):
            continue
        visit.target_date, visit.window_start, visit.window_end = target, start, end
        visit.status = visit_status_on(
            window_start=start, window_end=end, missed_after_days=d.missed_after_days, today=today
        )
        changed.append(save_audited(visit, reason=reason, user=user))
    return changed


# --- visit status ----------------------------------------------------------------------------


def visit_status_on(
    *, window_start: dt.date, window_end: dt.date, missed_after_days: int, today: dt.date
) -> str:
    """Status of an open visit on ``today``: planned before the window, due inside it,
    overdue after it, missed once ``missed_after_days`` more have passed."""
    if today < window_start:
        return VisitStatus.PLANNED
    if today <= window_end:
        return VisitStatus.DUE
    if today <= window_end + dt.timedelta(days=missed_after_days):
        return VisitStatus.OVERDUE
    return VisitStatus.MISSED
