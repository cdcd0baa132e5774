"""The patient course: one state machine deriving where a patient stands from every record.

Death, transplant, withdrawal, loss to follow-up and completion can be recorded on several
forms (end of study, the follow-up vital status, a fatal serious adverse event). Nothing else
decides what a patient may still receive: every page, API, task and e-mail asks
``patient_course`` (or the batched ``patient_courses``) and ``patient_course_sync`` keeps
``Patient.status`` and the open visits in line after each record (synopsis: Schedule, "Death or
transplant ends the dosing schedule; survival follow-ups still record vital status").

``course_derive`` is pure (plain values in, a frozen ``Course`` out) so the transitions are
tested without a database. Nothing here reads or returns a treatment arm.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from trials.audit import save_audited
from trials.compiled import CompiledQuery
from trials.models import FormStatus, Patient, PatientStatus

from .models import (
    Administration,
    AdverseEvent,
    EndOfStudy,
    FollowUp,
    Visit,
    VisitKind,
    VisitStatus,
    VitalStatus,
)

# Event kinds, in the order of precedence of the state they lead to.
DEATH = "death"
TRANSPLANT = "transplant"
WITHDRAWAL = "withdrawal"
LOST = "lost"
COMPLETED = "completed"

Scope = EndOfStudy.WithdrawalScope
OPEN = (VisitStatus.PLANNED, VisitStatus.DUE, VisitStatus.OVERDUE)


@dataclass(frozen=True)
class CourseEvent:
    """One recorded fact about the patient's course: what, when and on which form."""

    kind: str
    on: dt.date | None
    source: str
    scope: str = ""  # withdrawal: what the patient still consents to


@dataclass(frozen=True)
class Course:
    """Where the patient stands and what that allows; ``warnings`` lists conflicting records."""

    state: str
    events: tuple[CourseEvent, ...] = ()
    death_date: dt.date | None = None
    transplant_date: dt.date | None = None
    ended_on: dt.date | None = None  # date of the event that ended dosing (None = dosing open)
    ended_by: str = ""  # "Died on 2026-03-10 (Adverse event: sepsis)"
    withdrawal_scope: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)
    dose1_given: bool = False  # until then the plan counts from randomization (provisional)

    @property
    def randomized(self) -> bool:
        return self.state not in (PatientStatus.SCREENING, PatientStatus.SCREEN_FAILED)

    @property
    def may_dose(self) -> bool:
        """Doses may still be prepared and given (randomized, nothing ended the treatment)."""
        return self.state == PatientStatus.RANDOMIZED

    @property
    def expects_visits(self) -> bool:
        """Visits are still expected to happen (due-visit lists and digests)."""
        if self.state in (PatientStatus.RANDOMIZED, PatientStatus.IN_FOLLOW_UP):
            return True
        if self.state == PatientStatus.TRANSPLANTED:
            return True  # survival follow-ups of a living patient go on
        return self.state == PatientStatus.WITHDRAWN and self.withdrawal_scope in (
            "",
            Scope.NO_MORE_DOSES,
        )

    @property
    def expects_dosing_visits(self) -> bool:
        return self.may_dose

    @property
    def collects_data(self) -> bool:
        """False once the patient withdrew consent to any further data collection."""
        return not (
            self.state == PatientStatus.WITHDRAWN
            and self.withdrawal_scope == Scope.NO_FURTHER_DATA
        )

    def dosing_refusal(self, on: dt.date | None) -> str | None:
        """Why no dose may be prepared or given on ``on`` (None = allowed).

        A dose given before the ending event may still be recorded late; one after it not.
        """
        if not self.randomized:
            return "The patient is not randomized."
        if self.state in (PatientStatus.RANDOMIZED, PatientStatus.IN_FOLLOW_UP):
            return None
        if self.ended_on is not None and on is not None and on <= self.ended_on:
            return None
        return f"No more doses: {self.ended_by}."

    @property
    def state_label(self) -> str:
        return PatientStatus(self.state).label

    @property
    def withdrawal_scope_label(self) -> str:
        return Scope(self.withdrawal_scope).label if self.withdrawal_scope else ""


def _fmt(day: dt.date | None) -> str:
    return f"{day:%Y-%m-%d}" if day else "date not given"


def _state_label(kind: str) -> str:
    return {
        DEATH: "Died",
        TRANSPLANT: "Transplanted",
        WITHDRAWAL: "Withdrew consent",
        LOST: "Lost to follow-up",
        COMPLETED: "Completed the study",
    }[kind]


def course_derive(
    *,
    status: str,
    events: Iterable[CourseEvent],
    doses_open: bool = True,
    doses_after: Iterable[tuple[dt.date, str]] = (),
) -> Course:
    """The course from the patient's stored status (screening side) and recorded events.

    Precedence: death > transplant > withdrawal > lost to follow-up > completed > in
    follow-up (no dose left to give) > randomized. Dates that disagree between forms are
    never merged: the earliest is used and a warning names every source.
    """
    events = tuple(events)
    if status in (PatientStatus.SCREENING, PatientStatus.SCREEN_FAILED):
        return Course(state=status, events=events)
    by_kind: dict[str, list[CourseEvent]] = {}
    for event in events:
        by_kind.setdefault(event.kind, []).append(event)
    warnings: list[str] = []

    def first(kind: str) -> CourseEvent | None:
        found = by_kind.get(kind, [])
        dated = sorted((e for e in found if e.on), key=lambda e: e.on)
        distinct = sorted({e.on for e in dated})
        if len(distinct) > 1:
            listed = "; ".join(f"{e.source}: {_fmt(e.on)}" for e in dated)
            warnings.append(
                f"Conflicting {_state_label(kind).lower()} dates ({listed}): check the forms."
            )
        return dated[0] if dated else (found[0] if found else None)

    death, transplant = first(DEATH), first(TRANSPLANT)
    withdrawal, lost, completed = first(WITHDRAWAL), first(LOST), first(COMPLETED)
    if death and transplant and transplant.on and death.on and transplant.on > death.on:
        warnings.append(
            f"Transplant ({transplant.source}: {_fmt(transplant.on)}) after death "
            f"({death.source}: {_fmt(death.on)}): check the forms."
        )
    if death:
        for other in (withdrawal, lost, completed):
            if other is not None:
                warnings.append(
                    f"{other.source} says '{_state_label(other.kind).lower()}' but a death "
                    f"is recorded ({death.source}: {_fmt(death.on)}): check the forms."
                )
    for alive in by_kind.get("alive", []):
        if death and death.on and alive.on and alive.on > death.on:
            warnings.append(
                f"{alive.source} records the patient alive on {_fmt(alive.on)}, after the "
                f"death recorded on {_fmt(death.on)} ({death.source}): check the forms."
            )
    ending = death or transplant or withdrawal or lost or completed
    for given_on, source in doses_after:
        if ending is not None and ending.on and given_on > ending.on:
            warnings.append(
                f"{source} on {_fmt(given_on)} is after '{_state_label(ending.kind).lower()}' "
                f"({ending.source}: {_fmt(ending.on)}): check the forms."
            )
    if ending is None:
        state = PatientStatus.RANDOMIZED if doses_open else PatientStatus.IN_FOLLOW_UP
        return Course(state=state, events=events, warnings=tuple(warnings))
    state = {
        DEATH: PatientStatus.DIED,
        TRANSPLANT: PatientStatus.TRANSPLANTED,
        WITHDRAWAL: PatientStatus.WITHDRAWN,
        LOST: PatientStatus.LOST_TO_FOLLOW_UP,
        COMPLETED: PatientStatus.COMPLETED,
    }[ending.kind]
    return Course(
        state=state,
        events=events,
        death_date=death.on if death else None,
        transplant_date=transplant.on if transplant else None,
        ended_on=ending.on,
        ended_by=f"{_state_label(ending.kind)} on {_fmt(ending.on)} ({ending.source})",
        withdrawal_scope=withdrawal.scope if withdrawal and ending is withdrawal else "",
        warnings=tuple(warnings),
    )


# --- loading the events --------------------------------------------------------------------


def _end_of_study_rows(**match):
    return EndOfStudy.objects.filter(**match).exclude(reason="")


def _followup_rows(**match):
    return (
        FollowUp.objects.filter(**match)
        .exclude(vital_status="")
        .select_related("visit__definition")
    )


def _fatal_event_rows(**match):
    return AdverseEvent.objects.filter(**match, entered_in_error=False).filter(
        Q(outcome=AdverseEvent.Outcome.FATAL) | Q(sae_death=True)
    )


def _open_dose_rows(**match):
    return (
        Visit.objects.filter(**match, definition__kind=VisitKind.DOSING, status__in=OPEN)
        .exclude(administration__status=FormStatus.COMPLETE)
        .values_list("patient_id", flat=True)
    )


def _given_dose_rows(**match):
    return Administration.objects.filter(
        **match,
        given=True,
        start_time__isnull=False,
        status=FormStatus.COMPLETE,
    ).values_list("patient_id", "start_time", "visit__definition__dose_number")


# The same queries for one patient, compiled once (``trials.compiled``): every save of a
# course form derives that patient's course (#16).
_ONE_PATIENT = {
    build: CompiledQuery(
        lambda patient_id, build=build: build(patient_id=patient_id), patient_id=int
    )
    for build in (
        _end_of_study_rows,
        _followup_rows,
        _fatal_event_rows,
        _open_dose_rows,
        _given_dose_rows,
    )
}


def _rows(build, patient_ids: list[int]):
    """``build`` for the patients: the compiled query for one, the queryset for several."""
    if len(patient_ids) == 1:
        return _ONE_PATIENT[build].list(patient_id=int(patient_ids[0]))
    return build(patient_id__in=patient_ids)


def _events(patient_ids: list[int]) -> dict[int, list[CourseEvent]]:
    """Every course event of the patients, from every form that can record one (3 queries)."""
    events: dict[int, list[CourseEvent]] = {pk: [] for pk in patient_ids}
    eos_kind = {
        EndOfStudy.Reason.DIED: DEATH,
        EndOfStudy.Reason.TRANSPLANTED: TRANSPLANT,
        EndOfStudy.Reason.WITHDREW_CONSENT: WITHDRAWAL,
        EndOfStudy.Reason.LOST_TO_FOLLOW_UP: LOST,
        EndOfStudy.Reason.COMPLETED: COMPLETED,
    }
    for eos in _rows(_end_of_study_rows, patient_ids):
        # A death or transplant counts as soon as it is written down (safety first); the
        # other end reasons only once the form is complete.
        kind = eos_kind[eos.reason]
        if kind in (DEATH, TRANSPLANT) or eos.status == FormStatus.COMPLETE:
            events[eos.patient_id].append(
                CourseEvent(kind, eos.end_date, "End of study", eos.withdrawal_scope)
            )
    for fu in _rows(_followup_rows, patient_ids):
        source = f"Follow-up ({fu.visit.definition.name})"
        if fu.vital_status == VitalStatus.DEAD:
            events[fu.patient_id].append(CourseEvent(DEATH, fu.death_date, source))
        elif fu.vital_status == VitalStatus.ALIVE:
            events[fu.patient_id].append(
                CourseEvent("alive", fu.last_known_alive_date or fu.assessment_date, source)
            )
        if fu.transplant_date or fu.vital_status == VitalStatus.TRANSPLANTED:
            events[fu.patient_id].append(CourseEvent(TRANSPLANT, fu.transplant_date, source))
    for ae in _rows(_fatal_event_rows, patient_ids):
        events[ae.patient_id].append(
            CourseEvent(DEATH, ae.end_date or ae.onset_date, f"Adverse event ({ae.term})")
        )
    return events


def _dosing_facts(patient_ids: list[int]) -> tuple[set[int], dict[int, list]]:
    """(patients with a dose still to give, doses given per patient as (date, label))."""
    open_ids = set(_rows(_open_dose_rows, patient_ids))
    given: dict[int, list] = {pk: [] for pk in patient_ids}
    for pid, start, number in _rows(_given_dose_rows, patient_ids):
        given[pid].append((timezone.localtime(start).date(), number))
    return open_ids, given


def patient_courses(
    patients: Iterable[Patient], *, events: dict[int, list[CourseEvent]] | None = None
) -> dict[int, Course]:
    """The course of each patient (a fixed number of queries for any number of patients).
    ``events``: their course events, when the caller read them (``patient_course_events``)
    in this transaction and has recorded none since."""
    patients = list(patients)
    ids = [p.pk for p in patients]
    if not ids:
        return {}
    if events is None:
        events = _events(ids)
    open_ids, given = _dosing_facts(ids)
    return {
        p.pk: replace(
            course_derive(
                status=p.status,
                events=events[p.pk],
                doses_open=p.pk in open_ids,
                doses_after=[(on, f"Dose {n} administration") for on, n in given[p.pk]],
            ),
            dose1_given=any(n == 1 for _on, n in given[p.pk]),
        )
        for p in patients
    }


def patient_course_events(patient: Patient) -> list[CourseEvent]:
    """The course events recorded for ``patient`` (end of study, follow-ups, fatal AEs)."""
    return _events([patient.pk])[patient.pk]


def patient_course(patient: Patient, *, events: list[CourseEvent] | None = None) -> Course:
    """The course of one patient, derived now from every recorded event (``events``: as
    read by ``patient_course_events`` in this transaction, none recorded since)."""
    known = None if events is None else {patient.pk: events}
    return patient_courses([patient], events=known)[patient.pk]


# --- applying the course ---------------------------------------------------------------------


@transaction.atomic(savepoint=False)  # joins the caller's write: no savepoint round trips
def patient_course_sync(
    *, patient: Patient, user, trigger: str, events: list[CourseEvent] | None = None
) -> Course:
    """Bring ``Patient.status`` and the open visits in line with the course (audited).

    Dosing visits after the ending event become not applicable; so do all visits after a
    withdrawal from visits, a loss to follow-up or completion. Survival follow-ups after a
    death stay open to record the vital status and are never left missed. ``events``: as
    for ``patient_course`` (the doses given are read again in any case).
    """
    course = patient_course(patient, events=events)
    if not course.randomized:
        return course
    reason = f"{trigger}: {course.state_label}"
    if patient.status != course.state:
        patient.status = course.state
        save_audited(patient, reason=reason[:100], user=user)
    if course.ended_on is None:
        return course
    visits = Visit.objects.select_related("definition").filter(patient=patient, scheduled=True)
    for visit in visits:
        kind = visit.definition.kind
        closes = (kind == VisitKind.DOSING and not course.may_dose) or (
            kind == VisitKind.FOLLOW_UP and not course.expects_visits and not course.death_date
        )
        if (
            closes
            and visit.status in OPEN
            and visit.target_date > course.ended_on
            and not _has_complete_administration(visit)
        ):
            visit.status = VisitStatus.NOT_APPLICABLE
            visit.status_reason = course.ended_by[:200]
            save_audited(visit, reason=reason[:100], user=user)
        elif (
            kind == VisitKind.FOLLOW_UP
            and course.death_date
            and visit.status in (VisitStatus.OVERDUE, VisitStatus.MISSED)
            and visit.window_start > course.death_date
        ):
            visit.status = VisitStatus.DUE
            visit.status_reason = f"Vital status to record: died on {_fmt(course.death_date)}"
            save_audited(visit, reason=reason[:100], user=user)
    return course


def _has_complete_administration(visit: Visit) -> bool:
    return Administration.objects.filter(visit=visit, status=FormStatus.COMPLETE).exists()


def visit_expected(course: Course, visit: Visit) -> bool:
    """Whether ``visit`` is still expected to take place for a patient on ``course``."""
    if visit.definition.kind == VisitKind.DOSING:
        return course.expects_dosing_visits
    return course.expects_visits


def visits_expected(visits: Iterable[Visit]) -> list[Visit]:
    """The visits still expected to take place (due-visit lists and digests), in order.

    Visits of patients who died, completed, withdrew from visits or were lost are left out,
    and so are dosing visits once the treatment ended.
    """
    visits = list(visits)
    courses = patient_courses({v.patient_id: v.patient for v in visits}.values())
    return [v for v in visits if visit_expected(courses[v.patient_id], v)]


def visits_expected_q(prefix: str = "") -> Q:
    """The same rule as ``visit_expected`` as a query filter on visits, from the patient
    status that ``patient_course_sync`` keeps in line with the course (for paginated lists)."""
    status = f"{prefix}patient__status"
    ended = (PatientStatus.DIED, PatientStatus.COMPLETED, PatientStatus.LOST_TO_FOLLOW_UP)
    no_visits = EndOfStudy.objects.filter(
        withdrawal_scope__in=(Scope.NO_MORE_VISITS, Scope.NO_FURTHER_DATA)
    ).values("patient_id")
    withdrawn_from_visits = Q(**{status: PatientStatus.WITHDRAWN}) & Q(
        **{f"{prefix}patient_id__in": no_visits}
    )
    dosing_ended = Q(**{f"{prefix}definition__kind": VisitKind.DOSING}) & ~Q(
        **{status: PatientStatus.RANDOMIZED}
    )
    return ~Q(**{f"{status}__in": ended}) & ~withdrawn_from_visits & ~dosing_ended
