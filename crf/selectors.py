"""Every read of crf data that leaves the app, scoped to what ``user`` may see.

Nothing here reads or returns a treatment arm (synopsis: Randomization).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import CharField, Count, Q, QuerySet, Value
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from trials import roles
from trials.models import FormStatus, Patient
from trials.selectors import patient_checked, patient_get, patient_list

from .models import AdverseEvent, EndOfStudy, Visit, VisitDefinition, VisitKind, VitalSigns
from .rules import is_randomized


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


def _visible_ids(*, user, patients) -> list[int]:
    """Ids of ``patients`` the user may see, so batches stay scoped: ``patient_list``'s site
    scope checked on rows already read (no query, as ``patient_checked``); a partial or
    unsaved object is looked up (one query)."""
    patients = list(patients)
    if any(p.pk is None or p.site_id is None for p in patients):
        ids = [p.pk for p in patients]
        return list(patient_list(user=user).filter(pk__in=ids).values_list("pk", flat=True))
    return [p.pk for p in patients if roles.can_view_site(user, p.site_id)]


def dosing_schedules(*, user, patients) -> dict[int, list[DoseVisit]]:
    """Dosing visits per patient in dose order with whether each dose was given (2 queries)."""
    visits = (
        Visit.objects.filter(
            patient_id__in=_visible_ids(user=user, patients=patients),
            definition__kind=VisitKind.DOSING,
        )
        .select_related("definition", "administration")
        .order_by("patient_id", "definition__dose_number")
    )
    result: dict[int, list[DoseVisit]] = {p.pk: [] for p in patients}
    for visit in visits:
        admin = getattr(visit, "administration", None)
        administered = (
            admin.given if admin is not None and admin.status == FormStatus.COMPLETE else None
        )
        result[visit.patient_id].append(
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


def dosing_schedule(*, user, patient: Patient) -> list[DoseVisit]:
    """The patient's dosing visits in dose order (404 when the user may not see the patient)."""
    patient = patient_checked(user=user, patient=patient)
    return dosing_schedules(user=user, patients=[patient])[patient.pk]


def weights_latest(*, user, patients) -> dict[int, WeightReading]:
    """The most recent weight of a complete vital-signs CRF per patient (the dose is per kg)."""
    vitals = (
        VitalSigns.objects.filter(
            patient_id__in=_visible_ids(user=user, patients=patients),
            status=FormStatus.COMPLETE,
            weight_kg__isnull=False,
            assessment_date__isnull=False,
        )
        .select_related("visit__definition")
        .order_by("patient_id", "-assessment_date", "-pk")
    )
    result: dict[int, WeightReading] = {}
    for row in vitals:
        result.setdefault(
            row.patient_id,
            WeightReading(
                weight_kg=row.weight_kg,
                measured_on=row.assessment_date,
                source=f"Vital signs and weight — {row.visit.definition.name}",
            ),
        )
    return result


@dataclass(frozen=True)
class DosingWeight:
    """The weight a dose is computed from, and the one before it (for the change check)."""

    reading: WeightReading | None
    previous: WeightReading | None


def weight_for_dosing(*, user, patient: Patient, on: dt.date) -> DosingWeight:
    """The latest complete weight measured on or before ``on`` and the one before it."""
    patient = patient_checked(user=user, patient=patient)
    rows = (
        VitalSigns.objects.filter(
            patient=patient,
            status=FormStatus.COMPLETE,
            weight_kg__isnull=False,
            assessment_date__isnull=False,
            assessment_date__lte=on,
        )
        .select_related("visit__definition")
        .order_by("-assessment_date", "-pk")[:2]
    )
    readings = [
        WeightReading(
            weight_kg=row.weight_kg,
            measured_on=row.assessment_date,
            source=f"Vital signs and weight — {row.visit.definition.name}",
        )
        for row in rows
    ]
    return DosingWeight(
        reading=readings[0] if readings else None,
        previous=readings[1] if len(readings) > 1 else None,
    )


def weight_latest(*, user, patient: Patient) -> WeightReading | None:
    """The most recent complete weight of one patient (404 when not visible)."""
    patient = patient_checked(user=user, patient=patient)
    return weights_latest(user=user, patients=[patient]).get(patient.pk)


# --- visits, timeline, worklist -------------------------------------------------------------


@dataclass(frozen=True)
class FormCell:
    code: str
    label: str
    status: str  # "missing" / "draft" / "complete"
    expected: bool
    required: bool = False  # needed for the visit to be done (else optional)


@dataclass(frozen=True)
class TimelineRow:
    visit: Visit
    forms: list[FormCell]

    @property
    def complete_count(self) -> int:
        return sum(1 for f in self.forms if f.expected and f.status == FormStatus.COMPLETE)

    @property
    def expected_count(self) -> int:
        return sum(1 for f in self.forms if f.expected)

    @property
    def required_count(self) -> int:
        return sum(1 for f in self.forms if f.required)

    @property
    def required_complete_count(self) -> int:
        return sum(1 for f in self.forms if f.required and f.status == FormStatus.COMPLETE)

    def next_form(self, after: str | None = None) -> FormCell | None:
        """The form to enter next (issue 17): the first expected form not yet complete,
        starting after ``after`` and wrapping round; the first form when all are complete."""
        expected = [f for f in self.forms if f.expected] or list(self.forms)
        codes = [f.code for f in expected]
        start = codes.index(after) + 1 if after in codes else 0
        for cell in expected[start:] + expected[:start]:
            if cell.code != after and cell.status != FormStatus.COMPLETE:
                return cell
        return None if after else (expected[0] if expected else None)

    @property
    def first_open_form(self) -> FormCell | None:
        return self.next_form()


def visit_next_form(*, user, visit: Visit, after: str) -> FormCell | None:
    """The visit's next expected form not complete after ``after`` (save and next form)."""
    return _rows([visit_checked(user=user, visit=visit)])[0].next_form(after)


def patient_course_get(*, user, patient: Patient):
    """The patient's course (state, what it allows, conflicting records); 404 if not visible.

    Blind-neutral: it is derived from visits and eCRFs only, never from the allocation.
    """
    from .course import patient_course

    return patient_course(patient_checked(user=user, patient=patient))


def visit_list(*, user, patient: Patient) -> QuerySet[Visit]:
    """The patient's visits in date order (404 when the patient is not visible)."""
    patient = patient_checked(user=user, patient=patient)
    return (
        Visit.objects.filter(patient=patient)
        .select_related("definition", "patient__site")
        .order_by("target_date", "definition__order", "pk")
    )


def visit_get(*, user, pk: int) -> Visit:
    """One visit of a patient the user may see, else 404 (never 403 for another site)."""
    visit = (
        Visit.objects.select_related("definition", "patient__site", "patient__trial")
        .filter(pk=pk)
        .first()
    )
    if visit is None:
        raise Http404("No such visit.")
    return visit_checked(user=user, visit=visit)  # read with its patient: no second read


def visit_checked(*, user, visit: Visit) -> Visit:
    """``visit`` when the user may see it, else 404: ``visit_get``'s scope checked on a visit
    the caller already read with its patient (#16: the eCRF page read its visit three times).
    A visit without its patient loaded is read again by ``visit_get``."""
    if visit.pk is None or not Visit.patient.is_cached(visit):
        return visit_get(user=user, pk=visit.pk)
    if not roles.can_view_site(user, visit.patient.site_id):
        raise Http404("No such visit.")
    patient_checked(user=user, patient=visit.patient)
    return visit


def visit_form_statuses(visit_ids: list[int]) -> dict[int, dict[str, str]]:
    """visit id -> {form code: status} of the forms entered at those visits, in ONE query
    (a UNION ALL over the registered visit forms; #16: one query per form type before)."""
    from .registry import VISIT_FORMS

    result: dict[int, dict[str, str]] = {pk: {} for pk in visit_ids}
    if not visit_ids:
        return result
    parts = [
        spec.model.objects.filter(visit_id__in=visit_ids)
        .order_by()
        .annotate(form_code=Value(code, output_field=CharField()))
        .values_list("visit_id", "form_code", "status")
        for code, spec in VISIT_FORMS.items()
    ]
    for visit_id, code, status in parts[0].union(*parts[1:], all=True):
        result[visit_id][code] = status
    return result


def _form_statuses(visits: list[Visit]) -> dict[int, dict[str, str]]:
    """visit id -> {form code: status}; one query for all registered visit forms."""
    return visit_form_statuses([v.pk for v in visits])


def _rows(visits: list[Visit]) -> list[TimelineRow]:
    from .registry import VISIT_FORMS, forms_allowed_at

    statuses = _form_statuses(visits)
    rows = []
    for visit in visits:
        entered = statuses[visit.pk]
        expected = list(visit.definition.expected_forms)
        required = list(visit.definition.required_forms or expected)
        codes = expected + [c for c in VISIT_FORMS if c in entered and c not in expected]
        if visit.definition.kind == VisitKind.UNSCHEDULED:
            # Any visit form may be recorded at an unscheduled visit: offer them all.
            codes += [
                spec.code
                for spec in forms_allowed_at(VisitKind.UNSCHEDULED)
                if spec.code not in codes
            ]
        rows.append(
            TimelineRow(
                visit=visit,
                forms=[
                    FormCell(
                        code=code,
                        label=VISIT_FORMS[code].label,
                        status=entered.get(code, "missing"),
                        expected=code in expected,
                        required=code in required,
                    )
                    for code in codes
                    if code in VISIT_FORMS
                ],
            )
        )
    return rows


def patient_timeline(*, user, patient: Patient) -> list[TimelineRow]:
    """Every visit of the patient with status, window and its forms (bounded queries)."""
    return _rows(list(visit_list(user=user, patient=patient)))


def patient_form_to_enter(*, user, patient: Patient) -> tuple[Visit, FormCell] | None:
    """The first open form of the patient's earliest due or overdue visit (after
    randomization: day 1's first form), or None when no visit is open."""
    visits = [v for v in visit_list(user=user, patient=patient) if v.status in ("due", "overdue")]
    for row in _rows(visits[:1]):
        cell = row.first_open_form
        if cell is not None:
            return row.visit, cell
    return None


# Most urgent first; the window end leads so that the keyset position is an indexed column.
WORKLIST_ORDER = ("window_end", "patient__site__code", "patient__subject_id", "pk")
WORKLIST_FIELDS = (
    "patient__subject_id",
    "patient__screening_number",
    "patient__site__code",
    "definition__name",
    "definition__expected_forms",
    "target_date",
    "window_start",
    "window_end",
    "status",
)


def visit_worklist(*, user, site: int | None = None) -> QuerySet[Visit]:
    """Visits due or overdue at the user's sites, most urgent first."""
    from .course import visits_expected_q

    # Filter by site ids (a join), not ``patient__in=<subquery>``: the planner can then start
    # from the partial index of open visits by window end (#16) instead of every patient.
    visits = Visit.objects.filter(status__in=("due", "overdue")).filter(visits_expected_q())
    ids = roles.user_site_ids(user)
    if ids is not None:
        visits = visits.filter(patient__site_id__in=ids)
    if site:
        visits = visits.filter(patient__site_id=site)
    # Only what the lists show: a third of the columns, so a page's rows cost less to read
    # and to build (#16).
    return (
        visits.select_related("definition", "patient__site")
        .only(*WORKLIST_FIELDS)
        .order_by(*WORKLIST_ORDER)
    )


def crf_get(*, user, spec, visit: Visit | None = None, patient: Patient | None = None, pk=None):
    """A stored form the user may read (None if not entered); 404 outside the user's sites."""
    from . import services

    if visit is not None:
        visit = visit_checked(user=user, visit=visit)
        patient = visit.patient
    else:
        patient = patient_checked(user=user, patient=patient)
    instance = services.crf_get(spec=spec, visit=visit, patient=patient, pk=pk)
    if pk is not None and instance is None:
        raise Http404("No such form.")
    return instance


def adverse_event_list(*, user, patient: Patient) -> QuerySet[AdverseEvent]:
    patient = patient_checked(user=user, patient=patient)
    return AdverseEvent.objects.filter(patient=patient).order_by("-onset_date", "-pk")


def adverse_event_get(*, user, pk: int) -> AdverseEvent:
    ae = AdverseEvent.objects.select_related("patient__site").filter(pk=pk).first()
    if ae is None or not roles.can_view_site(user, ae.patient.site_id):
        raise Http404("No such adverse event.")
    patient_get(user=user, pk=ae.patient_id)
    return ae


def patient_records(*, user, patient: Patient, spec) -> QuerySet:
    """A patient-level form's records (baseline context, infections, medications)."""
    patient = patient_checked(user=user, patient=patient)
    return spec.model.objects.filter(patient=patient).order_by("-pk")


def end_of_study_get(*, user, patient: Patient) -> EndOfStudy | None:
    patient = patient_checked(user=user, patient=patient)
    return EndOfStudy.objects.filter(patient=patient).first()


def visit_definition_list(*, user, trial=None) -> QuerySet[VisitDefinition]:
    """The schedule of the trial; every signed-in role may read it."""
    qs = VisitDefinition.objects.select_related("trial").order_by("trial", "order", "pk")
    if not roles.user_roles(user):
        return qs.none()
    return qs.filter(trial=trial) if trial is not None else qs


def visit_definition_get(*, user, pk: int) -> VisitDefinition:
    definition = visit_definition_list(user=user).filter(pk=pk).first()
    if definition is None:
        raise Http404("No such visit definition.")
    return definition


# --- panels on the patient page and dashboard ---------------------------------------------


def patient_panel_context(*, user, patient: Patient) -> dict | None:
    """Visit timeline summary for the patient page (None before randomization)."""
    rows = patient_timeline(user=user, patient=patient)
    if not rows and not is_randomized(patient):
        return None
    return {
        "title": "Visits and eCRFs",
        "patient": patient,
        "course": patient_course_get(user=user, patient=patient),
        "rows": rows,
        "open_ae_count": AdverseEvent.objects.filter(patient=patient).count(),
        "can_enter_data": roles.can_enter_data(user, patient.site_id),
    }


def dashboard_panel_context(*, user) -> dict | None:
    """Visits due and overdue at the user's sites (None for roles without site data)."""
    if roles.user_site_ids(user) == frozenset() or not (
        roles.has_role(
            user,
            roles.Role.INVESTIGATOR,
            roles.Role.PRINCIPAL_INVESTIGATOR,
            roles.Role.MONITOR,
            roles.Role.DATA_MANAGER,
        )
    ):
        return None
    visits = list(visit_worklist(user=user)[:10])
    today = timezone.localdate()
    due = Q(status="due")
    # One query: overdue, due today (target reached), due later this week (issue 17).
    counts = (
        visit_worklist(user=user)
        .order_by()
        .aggregate(
            due=Count("pk", filter=due),
            overdue=Count("pk", filter=Q(status="overdue")),
            today=Count("pk", filter=due & Q(target_date__lte=today)),
            week=Count(
                "pk",
                filter=due
                & Q(target_date__gt=today, target_date__lte=today + dt.timedelta(days=6)),
            ),
        )
    )
    context = {"title": _("Visits due and overdue"), "visits": visits, "counts": counts}
    if roles.has_role(user, roles.Role.MONITOR, roles.Role.DATA_MANAGER):
        context["completeness"] = visit_completeness(user=user)
    if roles.user_roles(user) & roles.DATA_ENTRY_ROLES:
        context["drafts"], context["draft_count"] = forms_in_draft(user=user)
    return context


DRAFT_LIST_LIMIT = 10  # dashboard: the latest drafts; the count says how many in all


def visit_forms_listed(
    *,
    user,
    status: str,
    newest_first: bool,
    limit: int,
    narrow: Callable[[str, QuerySet], QuerySet] | None = None,
) -> tuple[list[dict], int]:
    """Visit eCRFs in ``status`` at the user's sites, by save time, at most ``limit``, and how
    many in all: three queries whatever the number of forms (a UNION ALL over the registered
    visit forms, its count, then the visits shown). ``narrow(code, queryset)`` adds a
    caller's condition per form (monitoring: no active SDV mark)."""
    from .registry import VISIT_FORMS

    ids = roles.user_site_ids(user)
    if ids is not None and not ids:
        return [], 0
    parts = []
    for code, spec in VISIT_FORMS.items():
        qs = spec.model.objects.filter(status=status)
        if ids is not None:
            qs = qs.filter(visit__patient__site_id__in=ids)
        if narrow is not None:
            qs = narrow(code, qs)
        parts.append(
            qs.order_by()
            .annotate(form_code=Value(code, output_field=CharField()))
            .values_list("visit_id", "form_code", "updated_at")
        )
    union = parts[0].union(*parts[1:], all=True)
    shown = list(union.order_by("-updated_at" if newest_first else "updated_at")[:limit])
    if not shown:
        return [], 0
    total = union.count() if len(shown) == limit else len(shown)
    visits = Visit.objects.select_related("definition", "patient").in_bulk(
        {visit_id for visit_id, _code, _at in shown}
    )
    rows = [
        {"visit": visits[visit_id], "code": code, "label": VISIT_FORMS[code].label, "at": at}
        for visit_id, code, at in shown
    ]
    return rows, total


def forms_in_draft(*, user, limit: int | None = None) -> tuple[list[dict], int]:
    """The visit eCRFs saved as draft at the user's sites, latest saved first (the
    investigator's dashboard), and how many there are."""
    return visit_forms_listed(
        user=user, status=FormStatus.DRAFT, newest_first=True, limit=limit or DRAFT_LIST_LIMIT
    )


def visit_completeness(*, user) -> list[dict]:
    """Per visit of the schedule: how many are done, missed, due/overdue or still planned at
    the user's sites (one grouped query): the data manager's completeness view (issue 17)."""
    from .models import VisitStatus

    visits = Visit.objects.all()
    ids = roles.user_site_ids(user)
    if ids is not None:
        visits = visits.filter(patient__site_id__in=ids)
    rows: dict[str, dict] = {}
    grouped = (
        visits.order_by()
        .values("definition__order", "definition__name", "status")
        .annotate(n=Count("pk"))
        .order_by("definition__order")
    )
    for row in grouped:
        entry = rows.setdefault(
            row["definition__name"],
            {"visit": row["definition__name"], "done": 0, "missed": 0, "open": 0, "total": 0},
        )
        status = row["status"]
        if status == VisitStatus.DONE:
            entry["done"] += row["n"]
        elif status == VisitStatus.MISSED:
            entry["missed"] += row["n"]
        elif status in (VisitStatus.DUE, VisitStatus.OVERDUE):
            entry["open"] += row["n"]
        if status != VisitStatus.NOT_APPLICABLE:
            entry["total"] += row["n"]
    for entry in rows.values():
        closed = entry["done"] + entry["missed"]
        entry["pct_done"] = round(100 * entry["done"] / closed) if closed else None
    return list(rows.values())


# CONSORT stages read from visits and administrations (issue 17); blind-neutral.
DOSE_CODES = ("dose1", "dose2", "dose3", "dose4")
FOLLOW_UP_CODES = ("fu_d28", "fu_m3", "fu_m12")


def consort_visit_stages(*, patient_ids) -> dict[str, set[int]]:
    """Patients who received each dose (administration "given") and completed each follow-up
    visit (status done), keyed by visit code: two queries whatever the number of patients."""
    from .models import Administration, VisitStatus

    stages: dict[str, set[int]] = {code: set() for code in (*DOSE_CODES, *FOLLOW_UP_CODES)}
    given = Administration.objects.filter(
        patient_id__in=patient_ids, given=True, visit__definition__code__in=DOSE_CODES
    ).values_list("visit__definition__code", "patient_id")
    for code, pk in given:
        stages[code].add(pk)
    done = Visit.objects.filter(
        patient_id__in=patient_ids,
        definition__code__in=FOLLOW_UP_CODES,
        status=VisitStatus.DONE,
    ).values_list("definition__code", "patient_id")
    for code, pk in done:
        stages[code].add(pk)
    return stages
