"""Every write of the crf app: schedule configuration, visits, eCRFs, end of study."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext

from trials.audit import (
    inserts_gathered,
    meaningful_reason,
    reason_is_meaningful,
    require_reason,
    save_audited,
)
from trials.compiled import CompiledGet, CompiledQuery
from trials.concurrency import check_version
from trials.dictionary import TYPED_SCORE_INPUTS
from trials.limits import OutOfRangeWarning
from trials.models import FormStatus, Patient, PatientStatus, Trial
from trials.roles import can_enter_data
from trials.services import score_inputs_normalize

from . import edit_checks, hooks
from .checks import CheckContext, CrfSave
from .models import (
    AdverseEvent,
    EndOfStudy,
    FollowUp,
    Visit,
    VisitDefinition,
    VisitKind,
    VisitStatus,
)
from .rules import is_randomized, sequencing_check
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

    if not reason_is_meaningful((reason or "").strip()):
        raise ValidationError(
            {"reason_for_change": gettext("Give a reason for changing the schedule.")}
        )
    for field in (
        "name",
        "day",
        "window_before",
        "window_after",
        "missed_after_days",
        "order",
        "expected_forms",
        "required_forms",
    ):
        if field in data:
            setattr(definition, field, data[field])
    from .registry import FORMS

    unknown = [code for code in definition.expected_forms if code not in FORMS]
    if unknown:
        raise ValidationError({"expected_forms": f"Unknown form codes: {', '.join(unknown)}."})
    not_expected = [c for c in definition.required_forms if c not in definition.expected_forms]
    if not_expected:
        raise ValidationError(
            {"required_forms": f"Required forms must be expected too: {', '.join(not_expected)}."}
        )
    return save_audited(definition, reason=reason, user=user)


def _definitions(trial: Trial, *kinds: str) -> list[VisitDefinition]:
    qs = VisitDefinition.objects.filter(trial=trial, kind__in=kinds).order_by("order", "pk")
    definitions = list(qs)
    if not VisitDefinition.objects.filter(trial=trial).exists():
        visit_definitions_load(trial=trial)
        definitions = list(qs.all())
    return definitions


def visit_planned(
    *, patient: Patient, definition: VisitDefinition, day1: dt.date, today: dt.date
) -> Visit:
    """An unsaved scheduled visit for ``definition``: window from day 1, status as of today."""
    target, start, end = visit_window(
        day1=day1,
        day=definition.day,
        window_before=definition.window_before,
        window_after=definition.window_after,
    )
    return Visit(
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
            today=today,
        ),
    )


def _visit_plan(*, patient: Patient, definition: VisitDefinition, day1: dt.date, user) -> Visit:
    """The patient's visit for ``definition``, created with its window if missing."""
    existing = Visit.objects.filter(patient=patient, definition=definition).first()
    if existing is not None:
        return existing
    visit = visit_planned(
        patient=patient, definition=definition, day1=day1, today=timezone.localdate()
    )
    return save_audited(visit, reason=SYSTEM_REASON_PLAN, user=user)


_DAY1 = CompiledQuery(  # compiled once: each dose-1 administration and follow-up plan asks
    lambda patient_id: Visit.objects.filter(
        patient_id=patient_id, definition__kind=VisitKind.DOSING, definition__dose_number=1
    ).values_list("target_date", flat=True)[:1],  # in the model's order, as ``first()``
    patient_id=int,
)


def day1_of(patient: Patient) -> dt.date | None:
    """Day 1 of the patient (the target date of the dose-1 visit), or None before planning."""
    found = _DAY1.list(patient_id=patient.pk)
    return found[0] if found else None


@transaction.atomic
def visits_plan_after_randomization(*, patient: Patient, day1: dt.date, user) -> list[Visit]:
    """Create the dosing visits (days 1, 4, 11, 18) now and queue the follow-up visits.

    Idempotent: visits that exist are returned unchanged. The follow-up planning is an outbox
    message written in this transaction (``crf.outbox``): published once it commits, and
    never lost when the broker is down.
    """
    from .models import OutboxMessage
    from .outbox import outbox_enqueue

    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    visits = [
        _visit_plan(patient=patient, definition=definition, day1=day1, user=user)
        for definition in _definitions(patient.trial, VisitKind.DOSING)
    ]
    outbox_enqueue(kind=OutboxMessage.Kind.FOLLOWUP_VISITS, payload={"patient_id": patient.pk})
    return visits


@transaction.atomic
def visits_followup_create(*, patient_id: int) -> list[Visit]:
    """Create the survival follow-up visits (day 28, month 3, month 12) from day 1; idempotent."""
    patient = Patient.objects.select_for_update().get(pk=patient_id)
    day1 = day1_of(patient)
    if day1 is None:
        logger.warning("Follow-up visits not planned for patient %s: no day 1 yet.", patient_id)
        return []
    from .schedule import visits_plan_bulk

    # In bulk like the dosing visits (#16); the one-by-one path loads a missing schedule.
    planned = visits_plan_bulk(patient=patient, day1=day1, user=None, kind=VisitKind.FOLLOW_UP)
    if planned is not None:
        return planned
    return [
        _visit_plan(patient=patient, definition=definition, day1=day1, user=None)
        for definition in _definitions(patient.trial, VisitKind.FOLLOW_UP)
    ]


@transaction.atomic
def visits_replan(*, user, patient: Patient, reason: str) -> list[Visit]:
    """Re-compute target dates and windows of open visits from the current schedule."""

    if not reason_is_meaningful((reason or "").strip()):
        raise ValidationError(
            {"reason_for_change": gettext("Give a reason for re-planning the visits.")}
        )
    day1 = day1_of(patient)
    if day1 is None:
        raise ValidationError(gettext("The patient has no day 1 yet: nothing to re-plan."))
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


REANCHOR_REASON = "Day 1 re-anchored: dose 1 given on {day1:%Y-%m-%d} (day 1 = first dose)"


def _visit_has_data(visit: Visit) -> bool:
    from .registry import VISIT_FORMS

    return any(spec.model.objects.filter(visit=visit).exists() for spec in VISIT_FORMS.values())


@transaction.atomic
def visits_reanchor(*, patient: Patient, day1: dt.date, user) -> tuple[list[Visit], list[Visit]]:
    """Move the plan so that day 1 is the day dose 1 was given (synopsis: Schedule).

    Each move is audited with an automatic reason. A visit that already has data keeps its
    dates and is flagged for review instead. Returns (moved, flagged).
    """
    reason = REANCHOR_REASON.format(day1=day1)
    moved, flagged = [], []
    today = timezone.localdate()
    visits = Visit.objects.select_related("definition").filter(
        patient=patient,
        scheduled=True,
        definition__kind__in=(VisitKind.DOSING, VisitKind.FOLLOW_UP),
    )
    for visit in visits:
        d = visit.definition
        target, start, end = visit_window(
            day1=day1, day=d.day, window_before=d.window_before, window_after=d.window_after
        )
        if (target, start, end) == (visit.target_date, visit.window_start, visit.window_end):
            continue
        anchor = d.kind == VisitKind.DOSING and d.dose_number == 1
        if not anchor and _visit_has_data(visit):
            visit.review_note = (
                f"Day 1 moved to {day1:%Y-%m-%d}: this visit already has data and kept its "
                f"dates ({visit.window_start:%Y-%m-%d} to {visit.window_end:%Y-%m-%d}); review."
            )[:300]
            flagged.append(save_audited(visit, reason=reason[:100], user=user))
            continue
        visit.target_date, visit.window_start, visit.window_end = target, start, end
        if visit.is_open:
            visit.status = visit_status_on(
                window_start=start,
                window_end=end,
                missed_after_days=d.missed_after_days,
                today=today,
            )
        moved.append(save_audited(visit, reason=reason[:100], user=user))
    return moved, flagged


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


# Fields of a visit read under its row lock that a status change leaves as stored: their
# existence, uniqueness and window checks (a database round trip each, #16) are not redone.
VISIT_STATUS_PROVEN = ("patient", "definition", "target_date", "window_start", "window_end")

STATUS_BATCH_SIZE = 500  # visits per transaction of the daily job (#16: row locks held briefly)


def visits_status_refresh(
    *, today: dt.date | None = None, notify: bool = True, batch_size: int = STATUS_BATCH_SIZE
) -> dict:
    """Move open scheduled visits to due / overdue / missed on ``today`` and send digests.

    Idempotent for a given day; each change is audited with the date that caused it. Runs in
    short transactions of ``batch_size`` visits in primary-key order (keyset), so the daily job
    never holds locks on every open visit at once; a failed batch leaves the earlier ones done
    and the next run finishes the rest. Reports the longest batch (the longest lock held).
    """
    from .course import patient_courses

    today = today or timezone.localdate()
    changed: dict[str, int] = {}
    open_visits = (
        Visit.objects.select_for_update(of=("self",))
        .select_related("definition", "patient")
        .filter(
            scheduled=True,
            status__in=(VisitStatus.PLANNED, VisitStatus.DUE, VisitStatus.OVERDUE),
        )
        .order_by("pk")
    )
    last_pk, batches, longest = 0, 0, 0.0
    while True:
        started = time.perf_counter()
        with transaction.atomic():
            visits = list(open_visits.filter(pk__gt=last_pk)[:batch_size])
            courses = patient_courses({v.patient_id: v.patient for v in visits}.values())
            for visit in visits:
                new = visit_status_on(
                    window_start=visit.window_start,
                    window_end=visit.window_end,
                    missed_after_days=visit.definition.missed_after_days,
                    today=today,
                )
                death = courses[visit.patient_id].death_date
                if (
                    death is not None
                    and visit.definition.kind == VisitKind.FOLLOW_UP
                    and visit.window_start > death
                    and new in (VisitStatus.OVERDUE, VisitStatus.MISSED)
                ):
                    # Survival follow-up after a known death: the vital status is known, the
                    # visit is recorded at its own date and never "missed" (synopsis: Outcomes 4).
                    new = VisitStatus.DUE
                if new != visit.status:
                    visit.status = new
                    save_audited(
                        visit,
                        reason=f"Visit window status on {today:%Y-%m-%d}",
                        proven=VISIT_STATUS_PROVEN,  # read under the row lock, status only
                    )
                    changed[new] = changed.get(new, 0) + 1
        batches += 1
        longest = max(longest, time.perf_counter() - started)
        if len(visits) < batch_size:
            break
        last_pk = visits[-1].pk
    dosing_ended = _dosing_ended_sync(today=today, batch_size=batch_size)
    sent = visits_digest_send(today=today) if notify else 0
    return {
        "date": today.isoformat(),
        "changed": changed,
        "dosing_ended": dosing_ended,
        "digests_sent": sent,
        "batches": batches,
        "longest_batch_s": round(longest, 3),
    }


def _dosing_ended_sync(*, today: dt.date, batch_size: int) -> int:
    """Patients still "randomized" (on treatment) whose course has no dose left to give: the
    last dosing visit was missed, so nothing changed on a form to sync their status. Synced
    here, audited, in short transactions; the pharmacy worklist, which lists "randomized"
    patients, drops them (#16: it filled with patients whose doses were missed long ago)."""
    from .course import patient_course_sync, patient_courses

    synced, last_pk = 0, 0
    on_treatment = Patient.objects.filter(status=PatientStatus.RANDOMIZED).order_by("pk")
    while batch := list(on_treatment.filter(pk__gt=last_pk)[:batch_size]):
        last_pk = batch[-1].pk
        courses = patient_courses(batch)
        for patient in batch:
            if courses[patient.pk].state == patient.status:
                continue
            with transaction.atomic():  # the row as it is now, locked: no edit overwritten
                patient = Patient.objects.select_for_update().get(pk=patient.pk)
                if patient.status == PatientStatus.RANDOMIZED:
                    trigger = f"Visit window status on {today:%Y-%m-%d}"
                    patient_course_sync(patient=patient, user=None, trigger=trigger)
                    synced += 1
    return synced


def visits_digest_send(*, today: dt.date) -> int:
    """E-mail each site's investigators the visits due and overdue there; returns e-mails sent."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.template.loader import render_to_string
    from django.utils.translation import ngettext

    from trials.mail import send_mail_localized
    from trials.roles import DATA_ENTRY_ROLES

    from .course import visits_expected

    rows = visits_expected(
        Visit.objects.select_related("definition", "patient__site")
        .filter(status__in=(VisitStatus.DUE, VisitStatus.OVERDUE))
        .order_by("patient__site__code", "window_end", "patient__subject_id")
    )
    by_site: dict[int, list[Visit]] = {}
    for visit in rows:
        by_site.setdefault(visit.patient.site_id, []).append(visit)
    recipients_by_site: dict[int, list[str]] = {}
    users = (
        get_user_model()
        .objects.filter(
            is_active=True,
            groups__name__in=[r.value for r in DATA_ENTRY_ROLES],
            site_memberships__site_id__in=list(by_site),
        )
        .exclude(email="")
        .values_list("site_memberships__site_id", "email")
        .distinct()
    )
    for site_id, email in users:
        recipients_by_site.setdefault(site_id, []).append(email)
    sent = 0
    for site_id, visits in by_site.items():
        recipients = sorted(set(recipients_by_site.get(site_id, [])))
        if not recipients:
            continue
        site = visits[0].patient.site

        def compose(site=site, visits=visits) -> tuple[str, str]:
            body = render_to_string(
                "crf/email/visits_digest.txt", {"site": site, "visits": visits, "today": today}
            )
            subject = ngettext(
                "Liveradvance: %(count)d visit due or overdue at site %(site)s",
                "Liveradvance: %(count)d visits due or overdue at site %(site)s",
                len(visits),
            ) % {"count": len(visits), "site": site.code}
            return subject, body

        # One message per language of the site's investigators (each in their own).
        sent += min(1, send_mail_localized(recipients, compose, settings.DEFAULT_FROM_EMAIL))
    return sent


@transaction.atomic
def visit_unscheduled_create(*, user, patient: Patient, visit_date: dt.date) -> Visit:
    """Record an unscheduled visit on ``visit_date`` (any time after randomization)."""
    if not can_enter_data(user, patient.site_id):
        raise PermissionDenied("Only the site's investigators record visits.")
    if not is_randomized(patient):
        raise ValidationError(gettext("Unscheduled visits are recorded after randomization."))
    from .course import patient_course

    course = patient_course(patient)
    if not course.collects_data:
        raise ValidationError(f"No further data may be collected: {course.ended_by}.")
    if visit_date > timezone.localdate():
        raise ValidationError({"visit_date": gettext("The visit date is in the future.")})
    day1 = day1_of(patient)
    if day1 and visit_date < day1:
        raise ValidationError({"visit_date": gettext("The visit cannot be before day 1.")})
    definition = _definitions(patient.trial, VisitKind.UNSCHEDULED)[0]
    visit = Visit(
        patient=patient,
        definition=definition,
        scheduled=False,
        target_date=visit_date,
        window_start=visit_date,
        window_end=visit_date,
        actual_date=visit_date,
        status=VisitStatus.DONE,
    )
    return save_audited(visit, reason="Unscheduled visit recorded", user=user)


# --- eCRFs -------------------------------------------------------------------------------------


def _death_date_elsewhere(patient: Patient, instance) -> dt.date | None:
    """Earliest death date recorded on another form of the patient (one query)."""
    followups = FollowUp.objects.filter(patient=patient, death_date__isnull=False)
    if isinstance(instance, FollowUp) and instance.pk:
        followups = followups.exclude(pk=instance.pk)
    parts = []
    if not isinstance(instance, EndOfStudy):
        parts.append(
            EndOfStudy.objects.filter(
                patient=patient, reason=EndOfStudy.Reason.DIED, end_date__isnull=False
            )
            .order_by()
            .values_list("end_date", flat=True)
        )
    # A fatal serious adverse event records a death too (its resolution date, else onset).
    fatal = AdverseEvent.objects.filter(patient=patient, entered_in_error=False).filter(
        Q(outcome=AdverseEvent.Outcome.FATAL) | Q(sae_death=True)
    )
    if isinstance(instance, AdverseEvent) and instance.pk:
        fatal = fatal.exclude(pk=instance.pk)
    parts.append(
        fatal.order_by()
        .annotate(day=Coalesce("end_date", "onset_date"))
        .values_list("day", flat=True)
    )
    dates = followups.order_by().values_list("death_date", flat=True).union(*parts, all=True)
    found = [d for d in dates if d]
    return min(found) if found else None


@transaction.atomic
def adverse_event_enter_in_error(*, user, event: AdverseEvent, reason: str) -> AdverseEvent:
    """Mark an AE entered by mistake (kept, audited, out of every count and the course)."""
    if not can_enter_data(user, event.patient.site_id):
        raise PermissionDenied("Only the site's investigators correct adverse events.")
    reason = meaningful_reason(reason, message="Say why this record was entered in error.")
    event = AdverseEvent.objects.select_for_update().get(pk=event.pk)
    if event.entered_in_error:
        raise ValidationError(gettext("This record is already marked as entered in error."))
    event.entered_in_error = True
    event.entered_in_error_reason = reason
    event.updated_by = user
    save_audited(event, reason=f"Entered in error: {reason}", user=user)
    from .course import patient_course_sync

    patient_course_sync(patient=event.patient, user=user, trigger="AE entered in error")
    return event


def units_normalize(form, instance) -> None:
    """Store every value typed with a unit in its canonical unit, keeping what was typed.

    Items typed in a separate field (``entered`` + ``unit_field``) get their canonical field
    set (the score inputs need their unit; other analytes default to the first unit); items
    typed in place (the weight) are converted in place, the typed text kept for the audit.
    """
    score_typed = {item.entered for item in TYPED_SCORE_INPUTS}
    if any(item.entered in score_typed for item in form.items if item.entered):
        score_inputs_normalize(instance)
    for item in form.items:
        if not item.units or item.entered in score_typed:
            continue
        if item.entered:
            entered = getattr(instance, item.entered)
            if entered is None:
                setattr(instance, item.name, None)
                continue
            unit = getattr(instance, item.unit_field) or item.default_unit
            setattr(instance, item.unit_field, unit)
            try:
                setattr(instance, item.name, item.to_canonical(entered, unit))
            except ValueError as exc:
                raise ValidationError({item.unit_field: str(exc)}) from exc
            continue
        typed, unit = getattr(instance, item.name), getattr(instance, item.unit_field)
        unit = unit or item.default_unit
        if unit not in item.units:
            raise ValidationError({item.unit_field: f"Choose {' or '.join(item.units)}."})
        if typed is None or unit == item.default_unit:
            as_typed = ""
        else:
            as_typed = f"{Decimal(typed).normalize():f} {unit}"
            setattr(instance, item.name, item.to_canonical(typed, unit))
        if item.typed_text:
            setattr(instance, item.typed_text, as_typed)
        setattr(instance, item.unit_field, item.default_unit)


def crf_get(
    *,
    spec,
    visit: Visit | None = None,
    patient: Patient | None = None,
    pk=None,
    for_update: bool = False,
):
    """The stored instance of a form (None when not entered yet); no access check here.
    ``for_update``: row-locked until the end of the caller's transaction."""
    rows = spec.model.objects.select_for_update() if for_update else spec.model.objects
    if spec.per_visit:
        return rows.filter(visit=visit).first()
    if spec.single:
        return rows.filter(patient=patient).first()
    if pk is None:
        return None
    return rows.filter(patient=patient, pk=pk).first()


def _visit_form_columns() -> dict[tuple[str, str], str]:
    """(form code, column) -> ORM path from the visit: the status and date of every form
    recorded at a visit, and whether the dose was given (each form is one-to-one with it)."""
    from .registry import VISIT_FORMS

    columns = {
        (code, column): f"{spec.related_name}__{column}"
        for code, spec in VISIT_FORMS.items()
        for column in ("status", "assessment_date")
    }
    columns[("administration", "given")] = f"{VISIT_FORMS['administration'].related_name}__given"
    return columns


def _visit_forms_of(row: dict) -> dict[str, dict]:
    """The forms entered at a visit (status set), from a row of ``_visit_form_columns``."""
    found: dict[str, dict] = {}
    for (code, column), path in _visit_form_columns().items():
        found.setdefault(code, {})[column] = row.get(path)
    return {code: values for code, values in found.items() if values["status"]}


@functools.cache
def _visit_lock_query(followup: bool) -> CompiledGet[Visit]:
    """The query of ``_visit_locked``, built and compiled to SQL once per process (resolving
    and compiling its nineteen subqueries cost more Python time than running them, #16);
    ``followup``: saving a follow-up."""
    from .registry import VISIT_FORMS

    patient = OuterRef("patient_id")
    day1 = Visit.objects.filter(
        patient=patient, definition__kind=VisitKind.DOSING, definition__dose_number=1
    ).values("target_date")[:1]
    followups = FollowUp.objects.filter(patient=patient, death_date__isnull=False)
    if followup:  # one per visit: "another form" is any other visit's
        followups = followups.exclude(visit=OuterRef("pk"))
    ended = EndOfStudy.objects.filter(
        patient=patient, reason=EndOfStudy.Reason.DIED, end_date__isnull=False
    )
    fatal = (
        AdverseEvent.objects.filter(patient=patient, entered_in_error=False)
        .filter(Q(outcome=AdverseEvent.Outcome.FATAL) | Q(sae_death=True))
        .annotate(day=Coalesce("end_date", "onset_date"))
        .filter(day__isnull=False)
    )
    # Each form's columns as a scalar subquery on its unique visit index, not a LEFT JOIN:
    # eleven joined tables made the planner search join orders (13 ms planning vs 1.4 ms).
    form_values = {
        f"form_{i}": Subquery(
            VISIT_FORMS[code].model.objects.filter(visit=OuterRef("pk")).values(column)[:1]
        )
        for i, (code, column) in enumerate(_visit_form_columns())
    }
    return CompiledGet(
        Visit.objects.select_for_update(of=("self",))
        # The trial too: the checks read its settings (weight change) off the patient.
        .select_related("definition", "patient__site", "patient__trial")
        .annotate(
            locked_day1=Subquery(day1),
            death_followup=Subquery(followups.order_by("death_date").values("death_date")[:1]),
            death_ended=Subquery(ended.order_by("end_date").values("end_date")[:1]),
            death_fatal=Subquery(fatal.order_by("day").values("day")[:1]),
            **form_values,
        )
    )


def _visit_locked(spec, pk: int) -> Visit:
    """The visit, row-locked, with what saving ``spec`` there needs read in the same query
    (#16): definition, patient and site; day 1; the earliest death date recorded on another
    form (``_death_date_elsewhere``); the forms already entered (``_visit_forms``). The
    forms cannot change meanwhile: each of their saves locks this visit row first."""
    visit = _visit_lock_query(spec.model is FollowUp).get(pk)
    deaths = [visit.death_followup, visit.death_ended, visit.death_fatal]
    visit.locked_death_date = min((d for d in deaths if d), default=None)
    columns = _visit_form_columns()
    row = {path: getattr(visit, f"form_{i}") for i, path in enumerate(columns.values())}
    visit.locked_forms = _visit_forms_of(row)
    # A form's status is never NULL: a NULL from its subquery means no row at this visit.
    visit.locked_present = {
        code
        for (code, column), path in columns.items()
        if column == "status" and row[path] is not None
    }
    return visit


def _crf_target_lock(spec, *, visit: Visit | None, patient: Patient | None):
    """Lock the visit (per-visit forms) or the patient the form is saved for."""
    if spec.per_visit:
        if visit is None:
            raise ValidationError(gettext("This form is recorded at a visit."))
        visit = _visit_locked(spec, visit.pk)
        return visit, visit.patient
    if patient is None:
        raise ValidationError(gettext("This form belongs to a patient."))
    return visit, Patient.objects.select_for_update().get(pk=patient.pk)


def _crf_status_set(instance, *, complete: bool, was_complete: bool, user) -> None:
    instance.status = FormStatus.COMPLETE if complete else FormStatus.DRAFT
    if complete and not was_complete:
        instance.completed_at = timezone.now()
    elif not complete:
        instance.completed_at = None
    instance.updated_by = user


@transaction.atomic
def crf_save(
    *,
    user,
    form_code: str,
    data: dict,
    complete: bool,
    reason: str = "",
    confirm_out_of_range: bool = False,
    visit: Visit | None = None,
    patient: Patient | None = None,
    pk: int | None = None,
    expected_version: int | None = None,
    version_required: bool = False,
):
    """Validate and store one eCRF (any form of the registry), audited.

    Runs the sequencing rules and edit checks first: on any error, or on soft-limit
    warnings not confirmed, it raises and nothing is stored. A lab CRF recomputes the
    visit's scores in the same transaction; an end-of-study form updates the patient.
    ``expected_version`` is the ``lock_version`` the user read (0: the form was not entered
    yet); a different stored version raises ``StaleEdit`` (no silent last-write-wins).
    """
    from .registry import FORMS

    spec = FORMS.get(form_code)
    if spec is None:
        raise ValidationError(f"Unknown form {form_code!r}.")
    visit, patient = _crf_target_lock(spec, visit=visit, patient=patient)
    if not can_enter_data(user, patient.site_id):
        raise PermissionDenied("Only the site's investigators enter data.")
    sequencing_check(spec, patient=patient, visit=visit)

    # Row-locked (after the visit or patient): the version read is the stored one (#16).
    # A per-visit form that the locked visit has no row of is new: no row can appear
    # before the commit (every save of a visit's form locks the visit first), no read.
    if spec.per_visit and spec.code not in visit.locked_present:
        instance = None
    else:
        instance = crf_get(spec=spec, visit=visit, patient=patient, pk=pk, for_update=True)
    if pk is not None and instance is None:
        raise ValidationError(gettext("No such form for this patient."))
    check_version(instance, expected_version, required=version_required)
    created = instance is None
    record_id = getattr(instance, "pk", None)
    if created:
        instance = spec.model(patient=patient)
        previous = None
    else:
        instance.patient = patient  # the locked row, with its site: no re-read downstream
        # The stored values, for what changed (SDV) without reading the history back.
        previous = {
            f.name: getattr(instance, f.attname)
            for f in spec.model._meta.concrete_fields
            if not f.is_relation
        }
    if spec.per_visit:
        instance.visit = visit
    for guard in hooks.before_save:  # a lock refuses the change (monitoring)
        guard(
            patient=patient,
            visit=visit,
            form_code=spec.code,
            record_id=record_id,
            instance=instance,
        )
    was_complete = not created and instance.status == FormStatus.COMPLETE
    reason = require_reason(was_complete=was_complete, reason=reason)
    for name in spec.dictionary.form_fields:
        if name in data:
            setattr(instance, name, data[name])
    units_normalize(spec.dictionary, instance)
    if spec.per_visit:  # read with the visit lock
        day1, death_date = visit.locked_day1, visit.locked_death_date
    else:
        day1, death_date = day1_of(patient), _death_date_elsewhere(patient, instance)
    ctx = CheckContext(patient=patient, visit=visit, day1=day1, death_date=death_date)
    save = CrfSave(
        spec=spec,
        user=user,
        patient=patient,
        visit=visit,
        instance=instance,
        complete=complete,
        ctx=ctx,
        created=created,
    )
    for hook in spec.prepare:
        hook(save)
    checks = save.checks = edit_checks.run(spec.code, instance, complete=complete, ctx=ctx)
    _withdrawal_check(spec, instance, patient=patient, checks=checks)
    for validate in spec.validators:
        for name, messages in validate(save).items():
            checks.errors.setdefault(name, []).extend(messages)
    if checks.errors:
        raise ValidationError(checks.errors)
    if checks.warnings and not confirm_out_of_range:
        raise OutOfRangeWarning(checks.warnings)
    instance.out_of_range_confirmed = sorted(checks.warnings)
    for hook in spec.before_store:
        hook(save)

    _crf_status_set(instance, complete=complete, was_complete=was_complete, user=user)
    default_reason = f"{spec.label} entered" if created else f"{spec.label} updated"
    # The change-feed events of this save (form, scores, visit) go in one INSERT.
    with inserts_gathered():
        save_audited(
            instance,
            reason=reason or default_reason,
            user=user,
            # Patient and visit were read under their row lock, and so was the form's one
            # row per visit / patient (crf_get); the author is the signed-in user.
            proven=("patient", "visit", "updated_by"),
            row_locked=not created,
        )
        for hook in hooks.after_save:  # SDV of changed data, automatic queries (monitoring)
            hook(
                user=user,
                form_code=spec.code,
                instance=instance,
                warnings=checks.warnings,
                reason=reason,
                created=created,
                previous=previous,
            )
        for effect in spec.effects:
            effect(save)
        if visit is not None:
            if save.state.get("plan_moved"):
                # An effect moved the plan (day 1 re-anchored on dose 1): read it again.
                visit = Visit.objects.select_related("definition").get(pk=visit.pk)
                forms = _visit_forms(visit)
            else:
                forms = visit.locked_forms | {spec.code: _form_columns(spec, instance)}
            _visit_progress_update(visit=visit, user=user, trigger=spec.label, forms=forms)
        if spec.course_event:
            from .course import patient_course_sync

            patient_course_sync(
                patient=patient,
                user=user,
                trigger=spec.label,
                events=save.state.get("course_events"),  # read by a validator of this save
            )
    return instance


def _form_columns(spec, instance) -> dict:
    """The ``_visit_forms`` entry of ``instance`` as just stored."""
    values = {
        "status": instance.status,
        "assessment_date": getattr(instance, "assessment_date", None),
    }
    if spec.code == "administration":
        values["given"] = instance.given
    return values


def _withdrawal_check(spec, instance, *, patient: Patient, checks) -> None:
    """No new visit data after a withdrawal of consent to data collection."""
    from .course import patient_course

    if patient.status != PatientStatus.WITHDRAWN:
        return  # only a withdrawal limits the forms (saves the derivation queries)
    course = patient_course(patient)
    # Safety reporting (adverse events) and the end-of-study record go on after a withdrawal
    # of consent to data collection (ICH E2A); new visit data does not.
    if not course.collects_data and not instance.pk and spec.per_visit:
        checks.error("__all__", f"No further data may be collected: {course.ended_by}.")


def _visit_forms(visit: Visit) -> dict[str, dict]:
    """form code -> {"status", "assessment_date", ...} of the forms entered at ``visit``,
    in one query (a LEFT JOIN per form: each is one-to-one with the visit)."""
    columns = _visit_form_columns()
    row = Visit.objects.filter(pk=visit.pk).values(*columns.values()).first() or {}
    return _visit_forms_of(row)


def visit_forms_status(visit: Visit) -> dict[str, str]:
    """form code -> "draft" / "complete" of the forms entered at ``visit`` (one query)."""
    return {code: values["status"] for code, values in _visit_forms(visit).items()}


def _visit_progress_update(
    *, visit: Visit, user, trigger: str, forms: dict[str, dict] | None = None
) -> None:
    """A visit is done when every expected form is complete; its date is the earliest one.
    ``forms``: the visit's forms (``_visit_forms``) when the caller already has them."""
    if not visit.scheduled:
        return
    if forms is None:
        forms = _visit_forms(visit)
    statuses = {code: values["status"] for code, values in forms.items()}
    required = visit_required_forms(visit)
    administration = forms.get("administration", {})
    dose_not_given = (
        administration.get("status") == FormStatus.COMPLETE and administration["given"] is False
    )
    if visit.definition.kind == VisitKind.DOSING and dose_not_given:
        # A dose not given is recorded by its administration form alone.
        required = ["administration"]
    required = required or list(statuses)
    all_complete = bool(required) and all(
        statuses.get(code) == FormStatus.COMPLETE for code in required
    )
    if all_complete:
        new_status = VisitStatus.DONE
        dates = [v["assessment_date"] for v in forms.values() if v["assessment_date"]]
        actual = min(dates) if dates else timezone.localdate()
    else:
        actual = visit.actual_date if visit.status != VisitStatus.DONE else None
        new_status = (
            visit_status_on(
                window_start=visit.window_start,
                window_end=visit.window_end,
                missed_after_days=visit.definition.missed_after_days,
                today=timezone.localdate(),
            )
            if visit.status == VisitStatus.DONE
            else visit.status
        )
    if (new_status, actual) != (visit.status, visit.actual_date):
        visit.status, visit.actual_date = new_status, actual
        # Only the status and date change: patient, schedule row and the window (checked by
        # the database when stored: ``visit_target_inside_window``) are the stored ones.
        save_audited(
            visit,
            reason=f"Visit status after {trigger} saved",
            user=user,
            proven=VISIT_STATUS_PROVEN,
        )


def visit_required_forms(visit: Visit) -> list[str]:
    """Forms that must be complete for ``visit`` to be done (the definition's required
    forms, else every expected form)."""
    d = visit.definition
    return list(d.required_forms or d.expected_forms)
