"""Every read of the randomization app, scoped by site, role and blinding.

Blinding (STYLE.md §3): the arm is read ONLY by ``allocation_get_unblinded`` and its batched
twin ``allocation_list_unblinded``, both guarded by ``randomization.blinding.may_see_arm`` and both
writing an ``ArmAccessLog`` row per patient; plus the statistician's list overview, guarded by
``can_manage_randomization_list``. Everything else returns blinded shapes with no arm, lot,
cell count or viability, identical for both arms.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from trials import roles
from trials import selectors as trial_selectors
from trials.models import Patient, PatientStatus, Trial

from . import blinding, listgen
from .models import (
    DOSE_NUMBERS,
    Allocation,
    ArmAccessLog,
    DosePreparation,
    EmergencyUnblinding,
    RandomizationList,
)

MSC_CELLS_PER_KG_MILLIONS = Decimal(2)  # synopsis: 2 × 10^6 cells/kg body weight per dose


# --- shapes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlindedAllocation:
    patient_id: int
    randomization_number: str
    randomized_at: dt.datetime
    stratum: str
    randomized_by: str


@dataclass(frozen=True)
class UnblindedAllocation(BlindedAllocation):
    arm: str
    arm_label: str
    receives_cells: bool


@dataclass(frozen=True)
class BlindedPreparation:
    dose_number: int
    prepared_on: dt.date


@dataclass
class PharmacyRow:
    patient: Patient
    allocation: UnblindedAllocation
    next_dose: Any = None  # crf.selectors.DoseVisit (dose_number, target_date, window) or None
    next_dose_number: int | None = None
    weight: Any = None  # crf weight_latest result (weight_kg, measured_on, source) or None
    dose_text: str = ""
    preparations: list[DosePreparation] = field(default_factory=list)
    # Doses recorded as given with no preparation on record (a warning, never blocking).
    unprepared_given: list[int] = field(default_factory=list)
    course: Any = None  # crf.course.Course


def _user_label(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else "system"


def _blinded(allocation: Allocation) -> BlindedAllocation:
    return BlindedAllocation(
        patient_id=allocation.patient_id,
        randomization_number=allocation.randomization_number,
        randomized_at=allocation.randomized_at,
        stratum=allocation.stratum,
        randomized_by=_user_label(allocation.randomized_by),
    )


# --- blinded reads -------------------------------------------------------------------------


def allocation_get_blinded(*, user, patient: Patient) -> BlindedAllocation | None:
    """Randomization number, date/time, stratum and who randomized: never the arm."""
    trial_selectors.patient_checked(user=user, patient=patient)
    allocation = (
        Allocation.objects.select_related("randomized_by")
        .only(
            "patient_id",
            "randomization_number",
            "randomized_at",
            "stratum",
            "randomized_by__username",
            "randomized_by__first_name",
            "randomized_by__last_name",
        )
        .filter(patient=patient)
        .first()
    )
    return _blinded(allocation) if allocation else None


def preparation_list_blinded(*, user, patient: Patient) -> list[BlindedPreparation]:
    """'Dose N prepared on <date>': the same shape for both arms (no lot, cells, volume)."""
    trial_selectors.patient_checked(user=user, patient=patient)
    rows = DosePreparation.objects.filter(patient=patient).values_list(
        "dose_number", "prepared_at"
    )
    return [
        BlindedPreparation(n, timezone.localdate(at)) for n, at in rows.order_by("dose_number")
    ]


def emergency_unblinding_list(*, user, patient: Patient | None = None) -> QuerySet:
    """The unblinding register (who, when, why; never the arm) for the sites the user sees."""
    qs = EmergencyUnblinding.objects.select_related("patient__site", "unblinded_by").order_by(
        "-unblinded_at"
    )
    ids = roles.user_site_ids(user)
    if ids is not None:
        qs = qs.filter(patient__site_id__in=ids)
    if patient is not None:
        qs = qs.filter(patient=patient)
    return qs


# --- the guarded arm readers ---------------------------------------------------------------


def _unblinded(allocation: Allocation) -> UnblindedAllocation:
    entry = allocation.entry
    rlist = entry.randomization_list
    return UnblindedAllocation(
        **_blinded(allocation).__dict__,
        arm=entry.arm,
        arm_label=rlist.arm_labels.get(entry.arm, entry.arm),
        receives_cells=entry.arm == rlist.active_arm_code,
    )


def _arm_access_log(*, user, patient_ids: list[int], purpose: str) -> None:
    now = timezone.now()
    ArmAccessLog.objects.bulk_create(
        ArmAccessLog(user=user, patient_id=pk, accessed_at=now, purpose=purpose[:100])
        for pk in patient_ids
    )


def allocation_get_unblinded(*, user, patient: Patient, purpose: str) -> UnblindedAllocation:
    """THE arm reader: only when ``may_see_arm``; every read is logged (who, when, why).

    Raises Http404 for everyone else, so a blinded user cannot even learn that the page
    exists for this patient.
    """
    patient = trial_selectors.patient_checked(user=user, patient=patient)
    if not blinding.may_see_arm(user, patient):
        raise Http404("No such page.")
    allocation = (
        Allocation.objects.select_related("entry__randomization_list", "randomized_by")
        .filter(patient=patient)
        .first()
    )
    if allocation is None:
        raise Http404("The patient is not randomized.")
    _arm_access_log(user=user, patient_ids=[patient.pk], purpose=purpose)
    return _unblinded(allocation)


def allocation_list_unblinded(
    *, user, patients: Iterable[Patient], purpose: str
) -> dict[int, UnblindedAllocation]:
    """Batched ``allocation_get_unblinded``: the predicate per patient, one log row each.

    Patients the user may not unblind are left out (never an error, never a hint).
    """
    allowed = [p.pk for p in patients if blinding.may_see_arm(user, p)]
    if not allowed:
        return {}
    allocations = Allocation.objects.select_related(
        "entry__randomization_list", "randomized_by"
    ).filter(patient_id__in=allowed)
    result = {a.patient_id: _unblinded(a) for a in allocations}
    _arm_access_log(user=user, patient_ids=sorted(result), purpose=purpose)
    return result


def preparation_list_unblinded(*, user, patient: Patient) -> list[DosePreparation]:
    """Full preparation records (lot, cells, viability, volume) for unblinded users only."""
    patient = trial_selectors.patient_checked(user=user, patient=patient)
    if not blinding.may_see_arm(user, patient):
        raise Http404("No such page.")
    return list(DosePreparation.objects.filter(patient=patient).select_related("prepared_by"))


# --- pharmacy ------------------------------------------------------------------------------


def pharmacy_patient_list(*, user, on_treatment: bool | None = True) -> QuerySet[Patient]:
    """Randomized patients at the sites where the user is a pharmacist (none otherwise).

    ``on_treatment=True`` (the worklist): only patients the course still allows to be dosed;
    ``False``: the others (died, transplanted, withdrawn, completed...), read-only history;
    ``None``: all. ``Patient.status`` is kept in line with the course by every write path.
    """
    if not roles.has_role(user, roles.Role.PHARMACIST):
        return Patient.objects.none()
    qs = (
        Patient.objects.filter(site_id__in=roles.member_site_ids(user), allocation__isnull=False)
        .select_related("site", "trial", "allocation")
        .order_by("site__code", "allocation__randomized_at")
    )
    if on_treatment is True:
        qs = qs.filter(status=PatientStatus.RANDOMIZED)
    elif on_treatment is False:
        qs = qs.exclude(status=PatientStatus.RANDOMIZED)
    return qs


def pharmacy_patient_get(*, user, pk: int) -> Patient:
    """A randomized patient of one of the pharmacist's sites (any course state), or 404."""
    try:
        return pharmacy_patient_list(user=user, on_treatment=None).get(pk=pk)
    except (Patient.DoesNotExist, ValueError, TypeError):
        raise Http404("No such patient.") from None


def doses_given_without_preparation(*, user, patients: Iterable[Patient]) -> dict[int, list[int]]:
    """Dose numbers recorded as given with no preparation on record, per patient.

    Blind-neutral (both arms have preparations), so investigators see it too.
    """
    from crf.selectors import dosing_schedules

    patients = list(patients)
    schedules = dosing_schedules(user=user, patients=patients)
    prepared = set(
        DosePreparation.objects.filter(patient__in=patients).values_list(
            "patient_id", "dose_number"
        )
    )
    return {
        pid: [
            v.dose_number
            for v in schedule
            if v.administered is True and (pid, v.dose_number) not in prepared
        ]
        for pid, schedule in schedules.items()
    }


def dose_to_prepare_text(*, receives_cells: bool, weight_kg: Decimal | float | None) -> str:
    """The pharmacist's dose instruction (synopsis: Investigational product)."""
    if not receives_cells:
        return _("placebo solution, same volume")
    if weight_kg is None:
        return _("2 × 10⁶ cells/kg: body weight not recorded yet")
    weight = Decimal(str(weight_kg))
    cells = (MSC_CELLS_PER_KG_MILLIONS * weight).quantize(Decimal("0.1"))
    places = 0 if cells == cells.to_integral_value() else 1
    # Shown in the reader's language (decimal comma in Spanish), computed the same.
    return _("%(cells)s × 10⁶ cells (%(weight)s kg)") % {
        "cells": formats.number_format(cells, places),
        "weight": formats.number_format(weight, 1),
    }


RESOLVED_VISIT = ("done", "missed", "not_applicable")


def _next_dose(schedule: list, prepared: set[int]) -> tuple[Any, int | None]:
    """The next dose to prepare: not prepared, not given or recorded as not given, and its
    visit not missed or cancelled. A missed dose never blocks the later ones."""
    for visit in schedule:
        number = getattr(visit, "dose_number", None)
        if (
            number
            and number not in prepared
            and visit.administered is None
            and visit.status not in RESOLVED_VISIT
        ):
            return visit, number
    remaining = [n for n in DOSE_NUMBERS if n not in prepared]
    return None, (remaining[0] if remaining and not schedule else None)


def pharmacy_worklist(
    *, user, patients: Iterable[Patient], purpose: str = "pharmacy list"
) -> list[PharmacyRow]:
    """Pharmacy rows for ``patients`` (one page): arm via the guarded batch reader."""
    patients = list(patients)
    allocations = allocation_list_unblinded(user=user, patients=patients, purpose=purpose)
    from crf.course import patient_courses
    from crf.selectors import dosing_schedules, weights_latest  # the crf app owns visits

    schedules = dosing_schedules(user=user, patients=patients)
    weights = weights_latest(user=user, patients=patients)
    courses = patient_courses(patients)
    unprepared = doses_given_without_preparation(user=user, patients=patients)
    preparations: dict[int, list[DosePreparation]] = {}
    for prep in DosePreparation.objects.filter(patient__in=patients).order_by("dose_number"):
        preparations.setdefault(prep.patient_id, []).append(prep)
    rows = []
    for patient in patients:
        if patient.pk not in allocations:
            continue
        allocation = allocations[patient.pk]
        preps = preparations.get(patient.pk, [])
        course = courses[patient.pk]
        visit, number = (
            _next_dose(schedules[patient.pk], {p.dose_number for p in preps})
            if course.may_dose
            else (None, None)
        )
        weight = weights.get(patient.pk)
        rows.append(
            PharmacyRow(
                patient=patient,
                allocation=allocation,
                next_dose=visit,
                next_dose_number=number,
                weight=weight,
                dose_text=dose_to_prepare_text(
                    receives_cells=allocation.receives_cells,
                    weight_kg=getattr(weight, "weight_kg", None),
                ),
                preparations=preps,
                unprepared_given=unprepared.get(patient.pk, []),
                course=course,
            )
        )
    return rows


DUE_LIST_LIMIT = 25  # dashboard: the most urgent; the pharmacy page lists them all (paged)


def pharmacy_due_list(*, user, limit: int | None = None) -> list[dict]:
    """Doses to prepare (patient, dose number) for the dashboard: no arm, no access log.

    Only randomized patients with a dose left, earliest randomized first, at most ``limit``:
    the dashboard's cost does not grow with the trial (#16).
    """
    from crf.selectors import dosing_schedules

    patients = list(
        pharmacy_patient_list(user=user)
        .filter(status=PatientStatus.RANDOMIZED)
        .annotate(n_prepared=Count("dose_preparations"))
        .filter(n_prepared__lt=len(DOSE_NUMBERS))
        .order_by("allocation__randomized_at", "pk")[: limit or DUE_LIST_LIMIT]
    )
    prepared: dict[int, set[int]] = {}
    for pid, n in DosePreparation.objects.filter(patient__in=patients).values_list(
        "patient_id", "dose_number"
    ):
        prepared.setdefault(pid, set()).add(n)
    schedules = dosing_schedules(user=user, patients=patients)
    due = []
    for patient in patients:
        _visit, number = _next_dose(schedules[patient.pk], prepared.get(patient.pk, set()))
        if number:
            due.append({"patient": patient, "dose_number": number})
    return due


def pharmacy_dashboard_doses(*, user, due: list[dict]) -> dict[str, list[PharmacyRow]]:
    """The dashboard's due doses WITH arm and computed dose (issue 17), split into "today"
    (window open or passed) and "upcoming". The arm comes from the guarded batch reader
    (``may_see_arm`` per patient, one access-log row each, purpose "pharmacist dashboard");
    a patient the user may not unblind is left out. Bounded by ``due`` (DUE_LIST_LIMIT)."""
    if not roles.has_role(user, roles.Role.PHARMACIST) or not due:
        return {"today": [], "upcoming": []}
    rows = pharmacy_worklist(
        user=user, patients=[d["patient"] for d in due], purpose="pharmacist dashboard"
    )
    today = timezone.localdate()
    split: dict[str, list[PharmacyRow]] = {"today": [], "upcoming": []}
    for row in rows:
        if row.next_dose_number is None:
            continue
        visit = row.next_dose
        split["upcoming" if visit and visit.window_start > today else "today"].append(row)
    for key in split:
        split[key].sort(key=lambda r: r.next_dose.target_date if r.next_dose else today)
    return split


# --- statistician --------------------------------------------------------------------------


def randomization_list_overview(*, user, trial: Trial | None = None) -> dict | None:
    """The active list, its entries and a per-stratum balance report (statistician only)."""
    if not roles.can_manage_randomization_list(user):
        raise Http404("No such page.")
    trial = trial or Trial.objects.order_by("pk").first()
    if trial is None:
        return None
    lists = list(
        RandomizationList.objects.filter(trial=trial)
        .select_related("generated_by", "superseded_by")
        .annotate(n_entries=Count("entries"))
    )
    active = next((rl for rl in lists if rl.status == RandomizationList.Status.ACTIVE), None)
    entries = []
    balance = []
    if active is not None:
        entries = list(
            active.entries.select_related("allocation__patient").order_by("stratum", "sequence")
        )
        for stratum in trial.strata:
            rows = [e for e in entries if e.stratum == stratum]
            used = [e for e in rows if hasattr(e, "allocation")]
            per_arm = {
                code: {
                    "label": active.arm_labels.get(code, code),
                    "listed": sum(1 for e in rows if e.arm == code),
                    "allocated": sum(1 for e in used if e.arm == code),
                }
                for code in trial.arm_codes
            }
            allocated = [v["allocated"] for v in per_arm.values()]
            balance.append(
                {
                    "stratum": stratum,
                    "listed": len(rows),
                    "allocated": len(used),
                    "per_arm": per_arm,
                    "imbalance": max(allocated) - min(allocated) if allocated else 0,
                    "blocks": len({e.block_number for e in rows}),
                }
            )
    return {
        "trial": trial,
        "lists": lists,
        "active": active,
        "entries": entries,
        "balance": balance,
        "locked": any(b["allocated"] for b in balance),
    }


def randomization_list_csv(*, user) -> str:
    """The active list as canonical CSV (same bytes as its recorded SHA-256); statistician only."""
    overview = randomization_list_overview(user=user)
    if not overview or not overview["active"]:
        raise Http404("No active list.")
    return listgen.canonical_csv(
        listgen.Row(e.stratum, e.sequence, e.block_number, e.block_size, e.arm)
        for e in overview["entries"]
    )


# --- panels --------------------------------------------------------------------------------


def patient_panel_context(*, user, patient: Patient) -> dict | None:
    """Randomization panel of the patient page; the arm only for users who may see it."""
    if not roles.can_view_site(user, patient.site_id):
        return None
    from .services import patient_randomization_problems

    allocation = allocation_get_blinded(user=user, patient=patient)
    can_enter = roles.can_enter_data(user, patient.site_id)
    problems = {} if allocation else patient_randomization_problems(patient=patient)
    context: dict[str, Any] = {
        "patient": patient,
        "allocation": allocation,
        "can_randomize": can_enter and allocation is None and not problems,
        "problems": problems if can_enter else {},
        "preparations": preparation_list_blinded(user=user, patient=patient) if allocation else [],
        "unprepared_given": doses_given_without_preparation(user=user, patients=[patient]).get(
            patient.pk, []
        )
        if allocation
        else [],
        "can_unblind": bool(allocation) and roles.can_emergency_unblind(user, patient),
        "unblindings": list(emergency_unblinding_list(user=user, patient=patient))
        if allocation
        else [],
        "can_prepare": bool(allocation) and roles.can_prepare_dose(user, patient),
        "unblinded": None,
    }
    if allocation and blinding.may_see_arm(user, patient):
        context["unblinded"] = allocation_get_unblinded(
            user=user, patient=patient, purpose="patient page"
        )
    return context


def dashboard_panel_context(*, user) -> dict | None:
    """Pharmacist: doses to prepare. Statistician: list status. Nobody else."""
    context: dict[str, Any] = {}
    if roles.has_role(user, roles.Role.PHARMACIST):
        # The most urgent only; one more tells whether the paged pharmacy page has others.
        due = pharmacy_due_list(user=user, limit=DUE_LIST_LIMIT + 1)
        context["due"] = due[:DUE_LIST_LIMIT]
        context["due_more"] = len(due) > DUE_LIST_LIMIT
        context["pharmacy"] = True
        doses = pharmacy_dashboard_doses(user=user, due=context["due"])
        context["dose_groups"] = [
            (_("Today and overdue"), doses["today"]),
            (_("Upcoming"), doses["upcoming"]),
        ]
        context["demo_list"] = demo_list_active(user=user)
    if roles.can_manage_randomization_list(user):
        rlist = (
            RandomizationList.objects.filter(status=RandomizationList.Status.ACTIVE)
            .annotate(n_entries=Count("entries"), n_used=Count("entries__allocation"))
            .first()
        )
        context["statistician"] = True
        context["active_list"] = rlist
        overview = randomization_list_overview(user=user)
        context["balance"] = overview["balance"] if overview else []
    return context or None


def randomize_url_if_ready(*, user, patient: Patient) -> str | None:
    """The randomize page when ``user`` may randomize ``patient`` now (after a complete,
    eligible screening), else None. Blind-neutral: no arm is read."""
    if not roles.can_enter_data(user, patient.site_id):
        return None
    from .services import patient_randomization_problems

    if Allocation.objects.filter(patient=patient).exists():
        return None
    if patient_randomization_problems(patient=patient):
        return None
    return reverse("randomization:patient-randomize", kwargs={"pk": patient.pk})


def demo_list_active(*, user) -> bool:
    """True when the trial randomizes from the public DEMO list (shown to unblinded roles)."""
    if not roles.is_unblinded_role(user):
        return False
    return RandomizationList.objects.filter(
        status=RandomizationList.Status.ACTIVE, is_demo=True
    ).exists()


def randomization_dates(*, user, patient_ids) -> list:
    """Blinded: the date each visible patient was randomized (recruitment over time)."""
    allowed = trial_selectors.patient_list(user=user).filter(pk__in=patient_ids)
    return [
        timezone.localtime(at).date()
        for at in Allocation.objects.filter(patient__in=allowed)
        .order_by("randomized_at")
        .values_list("randomized_at", flat=True)
    ]


def consort_counts_by_arm(
    *, user, stages: dict[str, set[int]]
) -> list[tuple[str, dict[str, int]]] | None:
    """CONSORT stage counts per arm for the unblinded statistician only (None for anyone
    else: blinded roles and pharmacists see the pooled flow). Arms come from the batched
    guarded reader, which checks ``may_see_arm`` per patient and logs each access."""
    if not roles.can_manage_randomization_list(user):
        return None
    ids = set().union(*stages.values()) if stages else set()
    patients = list(Patient.objects.filter(pk__in=ids).select_related("site"))
    allocations = allocation_list_unblinded(
        user=user, patients=patients, purpose="CONSORT flow by arm"
    )
    # Every arm of the active list, also one nobody was allocated to yet (a column of zeros).
    active = RandomizationList.objects.filter(status=RandomizationList.Status.ACTIVE).first()
    listed = set(active.arm_labels.values()) if active else set()
    labels = sorted(listed | {a.arm_label for a in allocations.values()})
    result = []
    for label in labels:
        members = {pk for pk, a in allocations.items() if a.arm_label == label}
        result.append((label, {stage: len(pks & members) for stage, pks in stages.items()}))
    return result
