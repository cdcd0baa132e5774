"""The default visit schedule of the synopsis and the date arithmetic of visit windows.

The rows below are loaded once into ``VisitDefinition`` (data, not code): after that the
trial administrator edits the table, and these defaults are never re-applied over the edits.
"""

from __future__ import annotations

import datetime as dt
import functools

from django.utils.translation import gettext_noop

from trials.compiled import CompiledQuery

from .models import VisitKind

DOSING_FORMS = ["vitals", "labs", "administration"]
# A dosing visit is done when the dose is recorded and the vital signs (weight) taken; labs,
# hemodynamics and samples are expected but optional (synopsis: Schedule).
DOSING_REQUIRED = ["vitals", "administration"]
FOLLOW_UP_REQUIRED = ["follow_up"]

# synopsis: Schedule. day 1 = first dose; window in days before/after the target day.
DEFAULT_SCHEDULE: list[dict] = [
    {
        "code": "screening",
        "name": gettext_noop("Screening"),
        "kind": VisitKind.SCREENING,
        "day": 1,
        "window_before": 8,  # day -7 to day 1
        "window_after": 0,
        "order": 0,
        "expected_forms": [],
    },
    {
        "code": "randomization",
        "name": gettext_noop("Randomization"),
        "kind": VisitKind.RANDOMIZATION,
        "day": 1,
        "order": 1,
        "expected_forms": [],
    },
    {
        "code": "dose1",
        "name": gettext_noop("Dose 1 (day 1)"),
        "kind": VisitKind.DOSING,
        "day": 1,
        "dose_number": 1,
        "order": 2,
        "expected_forms": [*DOSING_FORMS, "hemodynamics", "samples"],
        "required_forms": DOSING_REQUIRED,
    },
    {
        "code": "dose2",
        "name": gettext_noop("Dose 2 (day 4)"),
        "kind": VisitKind.DOSING,
        "day": 4,
        "window_before": 1,
        "window_after": 1,
        "dose_number": 2,
        "order": 3,
        "expected_forms": DOSING_FORMS,
        "required_forms": DOSING_REQUIRED,
    },
    {
        "code": "dose3",
        "name": gettext_noop("Dose 3 (day 11)"),
        "kind": VisitKind.DOSING,
        "day": 11,
        "window_before": 1,
        "window_after": 1,
        "dose_number": 3,
        "order": 4,
        "expected_forms": DOSING_FORMS,
        "required_forms": DOSING_REQUIRED,
    },
    {
        "code": "dose4",
        "name": gettext_noop("Dose 4 (day 18)"),
        "kind": VisitKind.DOSING,
        "day": 18,
        "window_before": 2,
        "window_after": 2,
        "dose_number": 4,
        "order": 5,
        "expected_forms": DOSING_FORMS,
        "required_forms": DOSING_REQUIRED,
    },
    {
        "code": "fu_d28",
        "name": gettext_noop("Follow-up 28 days"),
        "kind": VisitKind.FOLLOW_UP,
        "day": 28,
        "window_before": 3,
        "window_after": 3,
        "order": 6,
        "expected_forms": ["follow_up", "labs", "hemodynamics", "samples"],
        "required_forms": FOLLOW_UP_REQUIRED,
    },
    {
        "code": "fu_m3",
        "name": gettext_noop("Follow-up 3 months"),
        "kind": VisitKind.FOLLOW_UP,
        "day": 90,
        "window_before": 7,
        "window_after": 7,
        "missed_after_days": 14,
        "order": 7,
        "expected_forms": ["follow_up"],
        "required_forms": FOLLOW_UP_REQUIRED,
    },
    {
        "code": "fu_m12",
        "name": gettext_noop("Follow-up 12 months"),
        "kind": VisitKind.FOLLOW_UP,
        "day": 365,
        "window_before": 14,
        "window_after": 14,
        "missed_after_days": 30,
        "order": 8,
        "expected_forms": ["follow_up"],
        "required_forms": FOLLOW_UP_REQUIRED,
    },
    {
        "code": "unscheduled",
        "name": gettext_noop("Unscheduled visit"),
        "kind": VisitKind.UNSCHEDULED,
        "day": None,
        "order": 99,
        "expected_forms": [],
    },
]


def visit_window(
    *, day1: dt.date, day: int, window_before: int, window_after: int
) -> tuple[dt.date, dt.date, dt.date]:
    """(target, window start, window end) of study ``day`` when day 1 is ``day1``."""
    target = day1 + dt.timedelta(days=day - 1)
    return (
        target,
        target - dt.timedelta(days=window_before),
        target + dt.timedelta(days=window_after),
    )


def visits_plan_dosing(*, patient, day1: dt.date, user) -> list:
    """The dosing visits (days 1, 4, 11, 18) in a few statements, and the follow-up planning
    queued; what ``crf.services.visits_plan_after_randomization`` does, in bulk (#16: a
    randomization planned its four visits one full save at a time, ~60 queries).

    Same rows, windows, statuses, history rows (reason "Planned from the visit schedule") and
    change-feed events as the one-by-one path; idempotent (existing visits are kept). The
    caller holds the patient's row lock.
    """
    from .models import OutboxMessage
    from .outbox import outbox_enqueue
    from .services import visits_plan_after_randomization

    visits = visits_plan_bulk(patient=patient, day1=day1, user=user, kind=VisitKind.DOSING)
    if visits is None:  # schedule not loaded yet: the service loads it first
        return visits_plan_after_randomization(patient=patient, day1=day1, user=user)
    outbox_enqueue(kind=OutboxMessage.Kind.FOLLOWUP_VISITS, payload={"patient_id": patient.pk})
    return visits


@functools.cache
def _definitions_of_kind() -> CompiledQuery:
    """The trial's schedule rows of a kind, in order (compiled once: every plan reads them)."""
    from .models import VisitDefinition

    return CompiledQuery(
        lambda trial_id, kind: VisitDefinition.objects.filter(
            trial_id=trial_id, kind=kind
        ).order_by("order", "pk"),
        trial_id=int,
        kind=str,
    )


@functools.cache
def _planned_of_kind() -> CompiledQuery:
    """The patient's scheduled visits of those rows (the same rows: the trial's of a kind)."""
    from .models import Visit

    return CompiledQuery(
        lambda patient_id, trial_id, kind: Visit.objects.filter(
            patient_id=patient_id,
            definition__trial_id=trial_id,
            definition__kind=kind,
            scheduled=True,
        ),
        patient_id=int,
        trial_id=int,
        kind=str,
    )


def visits_plan_bulk(*, patient, day1: dt.date, user, kind: str) -> list | None:
    """The patient's scheduled visits of ``kind`` from day 1, the missing ones inserted in a
    few statements with their history rows and change-feed events (#16); None when the trial
    has no schedule rows of that kind yet. The caller holds the patient's row lock."""
    from django.utils import timezone

    from trials.history import bulk_history_created

    from .models import Visit
    from .services import SYSTEM_REASON_PLAN, visit_planned

    definitions = _definitions_of_kind().list(trial_id=patient.trial_id, kind=kind)
    if not definitions:
        return None
    existing = {
        v.definition_id: v
        for v in _planned_of_kind().list(
            patient_id=patient.pk, trial_id=patient.trial_id, kind=kind
        )
    }
    today = timezone.localdate()
    new: list = []
    for definition in definitions:
        if definition.pk in existing:
            continue
        visit = visit_planned(patient=patient, definition=definition, day1=day1, today=today)
        # Windows come from the definition (target inside by construction); the database
        # constraints (one scheduled visit per definition, target inside window) still hold.
        visit.clean_fields(exclude=["patient", "definition"])
        new.append(visit)
    if new:
        Visit.objects.bulk_create(new)
        history_user = user if getattr(user, "is_authenticated", False) else None
        rows = Visit.history.bulk_history_create(
            new, default_user=history_user, default_change_reason=SYSTEM_REASON_PLAN
        )
        bulk_history_created.send(sender=Visit, instances=new, history_instances=rows)
    return [
        existing.get(d.pk) or next(v for v in new if v.definition_id == d.pk) for d in definitions
    ]
