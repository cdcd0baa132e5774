"""Every write of the randomization app: lists, allocation, preparations, unblinding.

Only the list services and ``patient_randomize`` touch the arm field; none of them returns
or prints it (STYLE.md §3). Notifications never name the arm.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import formats, timezone
from django.utils.translation import gettext

from trials import roles
from trials.audit import inserts_gathered, save_audited
from trials.auth import reauthenticate
from trials.mail import send_mail_localized
from trials.models import FormStatus, Patient, PatientStatus, Site, Trial
from trials.roles import Role

from . import listgen
from .models import (
    DEFAULT_ACTIVE_ARM,
    DEFAULT_ARM_LABELS,
    Allocation,
    DosePreparation,
    EmergencyUnblinding,
    RandomizationList,
    RandomizationListEntry,
)

# Public seed of the demo list (``setup_liveradvance --demo-patients`` only). Anyone can
# regenerate this list: it is marked DEMO and refused at start-up in production (checks.py).
DEMO_SEED = "liveradvance-demo-2026"
NO_ACTIVE_LIST = (
    "No randomization list is active yet: the unblinded statistician must generate or upload "
    "one before the first patient is randomized."
)


# --- lists ---------------------------------------------------------------------------------


def _active_list(trial: Trial) -> RandomizationList | None:
    return (
        RandomizationList.objects.select_for_update()
        .filter(trial=trial, status=RandomizationList.Status.ACTIVE)
        .first()
    )


def _require_statistician(user) -> None:
    if user is not None and not roles.can_manage_randomization_list(user):
        raise PermissionDenied("Only the unblinded statistician manages the list.")


def _retire_active(*, user, trial: Trial, reason: str) -> int:
    """Supersede the active list (if any) before a new one; return the next version number."""
    current = _active_list(trial)
    if current is not None:
        randomization_list_supersede(user=user, randomization_list=current, reason=reason)
    last = (
        RandomizationList.objects.filter(trial=trial).order_by("-version").first()
    )  # the version numbers are never reused
    return (last.version if last else 0) + 1


def _list_store(
    *,
    user,
    trial: Trial,
    rows: list[listgen.Row],
    source: str,
    seed: str,
    block_sizes: Sequence[int],
    strata: Sequence[str],
    length: int,
    reason: str,
    is_demo: bool = False,
) -> RandomizationList:
    version = _retire_active(user=user, trial=trial, reason=reason)
    rlist = RandomizationList(
        trial=trial,
        version=version,
        source=source,
        seed=seed,
        block_sizes=list(block_sizes),
        strata=list(strata),
        is_demo=is_demo,
        length_per_stratum=length,
        arm_labels=dict(DEFAULT_ARM_LABELS),
        active_arm_code=DEFAULT_ACTIVE_ARM,
        sha256=listgen.sha256(rows),
        generated_by=user,
        generated_at=timezone.now(),
    )
    demo = " DEMO" if is_demo else ""
    save_audited(
        rlist, reason=f"List v{version}{demo} {source} (SHA-256 {rlist.sha256})", user=user
    )
    RandomizationListEntry.objects.bulk_create(
        RandomizationListEntry(
            randomization_list=rlist,
            stratum=row.stratum,
            sequence=row.sequence,
            block_number=row.block,
            block_size=row.block_size,
            arm=row.arm,
        )
        for row in rows
    )
    # bulk_create skips simple-history: write the creation rows explicitly (AT-1).
    RandomizationListEntry.history.bulk_history_create(
        list(rlist.entries.all()), default_user=user, default_change_reason=f"List v{version}"
    )
    return rlist


@transaction.atomic
def randomization_list_generate(
    *,
    user,
    trial: Trial,
    seed: str = "",
    block_sizes: Sequence[int] = listgen.DEFAULT_BLOCK_SIZES,
    strata: Sequence[str] | None = None,
    length_per_stratum: int | None = None,
    reason: str = "",
    is_demo: bool = False,
) -> RandomizationList:
    """Generate and activate a list (listgen algorithm); locked once used.

    Without a ``seed`` one is drawn with ``secrets``: the seed, like the list, is readable by
    unblinded roles only, so the documented algorithm predicts nothing.
    """
    _require_statistician(user)
    seed = (seed or "").strip() or listgen.new_seed()
    strata = list(strata or trial.strata)
    if not strata or not set(strata) <= set(trial.strata):
        raise ValidationError(
            {"strata": f"Strata must be among the trial's: {', '.join(trial.strata)}."}
        )
    length = length_per_stratum or listgen.default_length(trial.target_size)
    try:
        rows = listgen.generate(
            seed=seed,
            strata=strata,
            length=length,
            block_sizes=block_sizes,
            arm_codes=trial.arm_codes,
        )
    except ValueError as exc:
        raise ValidationError({"block_sizes": str(exc)}) from exc
    return _list_store(
        user=user,
        trial=trial,
        rows=rows,
        source=RandomizationList.Source.GENERATED,
        seed=seed,
        block_sizes=block_sizes,
        strata=strata,
        length=length,
        reason=reason,
        is_demo=is_demo,
    )


@transaction.atomic
def randomization_list_upload(
    *, user, trial: Trial, content: str | bytes, reason: str = ""
) -> RandomizationList:
    """Validate and activate an uploaded CSV list; a bad file loads nothing."""
    _require_statistician(user)
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationError({"file": gettext("The file is not UTF-8 text.")}) from exc
    rows, errors = listgen.parse_csv(content, strata=trial.strata, arm_codes=trial.arm_codes)
    if errors:
        raise ValidationError({"file": errors})
    per_stratum = {r.stratum: r.sequence for r in rows}
    return _list_store(
        user=user,
        trial=trial,
        rows=rows,
        source=RandomizationList.Source.UPLOADED,
        seed="",
        block_sizes=sorted({r.block_size for r in rows}),
        strata=sorted(per_stratum),
        length=min(per_stratum.values()),
        reason=reason,
    )


@transaction.atomic
def randomization_list_supersede(
    *, user, randomization_list: RandomizationList, reason: str
) -> RandomizationList:
    """Retire a list that no patient was randomized from; the reason is audited."""
    _require_statistician(user)
    rlist = RandomizationList.objects.select_for_update().get(pk=randomization_list.pk)
    reason = (reason or "").strip()
    if rlist.status != RandomizationList.Status.ACTIVE:
        raise ValidationError(gettext("This list is already superseded."))
    if Allocation.objects.filter(entry__randomization_list=rlist).exists():
        raise ValidationError(
            gettext("Patients have been randomized from this list: it can no longer be changed.")
        )
    if not reason:
        raise ValidationError(
            {"reason": gettext("Give the reason for replacing the active list.")}
        )
    rlist.status = RandomizationList.Status.SUPERSEDED
    rlist.superseded_reason = reason
    rlist.superseded_at = timezone.now()
    rlist.superseded_by = user
    return save_audited(rlist, reason=f"Superseded: {reason}"[:100], user=user)


def randomization_list_ensure_demo(*, trial: Trial) -> RandomizationList | None:
    """Demo set-up only: a list from the public ``DEMO_SEED``, marked DEMO, when none exists.

    Production set-up never calls this: there the unblinded statistician makes the list.
    """
    if RandomizationList.objects.filter(trial=trial).exists():
        return None
    return randomization_list_generate(user=None, trial=trial, seed=DEMO_SEED, is_demo=True)


def randomization_list_active(*, trial: Trial) -> RandomizationList | None:
    """The active list or None (no arm is read)."""
    return RandomizationList.objects.filter(
        trial=trial, status=RandomizationList.Status.ACTIVE
    ).first()


# --- randomization -------------------------------------------------------------------------


def _eligibility_problems(patient: Patient) -> dict[str, str]:
    screening = getattr(patient, "screening", None)
    problems: dict[str, str] = {}
    if patient.status != PatientStatus.SCREENING:
        problems["patient"] = (
            f"The patient's status is {patient.get_status_display().lower()}: "
            "only a patient in screening can be randomized."
        )
    if not patient.consent_datetime:
        problems["consent_datetime"] = "Informed consent is not recorded."
    if screening is None or screening.status != FormStatus.COMPLETE:
        problems["screening"] = "The screening form is not complete."
    elif screening.eligible is not True:
        problems["screening"] = "The screening does not show the patient as eligible."
    elif screening.aclf_grade not in patient.trial.strata:
        problems["screening"] = "The computed ACLF grade is not one of the strata."
    elif (age := (timezone.localdate() - screening.screening_date).days) > (
        window := patient.trial.screening_window_days
    ):
        # Synopsis, Schedule: screening from day −7 to day 1; an older one is repeated.
        problems["screening"] = (
            f"The screening was {age} days ago (on {screening.screening_date:%Y-%m-%d}); it is "
            f"valid for {window} days before randomization: repeat the screening."
        )
    if randomization_list_active(trial=patient.trial) is None:
        problems["randomization_list"] = NO_ACTIVE_LIST
    return problems


def patient_randomization_problems(*, patient: Patient) -> dict[str, str]:
    """Why ``patient`` cannot be randomized now (empty when it can); blinded wording."""
    return _eligibility_problems(patient)


def _next_randomization_number(site: Site) -> str:
    # The caller holds the site row lock, so numbers are allocated one at a time per site.
    count = Allocation.objects.filter(patient__site=site).count()
    return f"LA-{site.code}-{count + 1:03d}"


def _next_free_entry(*, trial: Trial, stratum: str) -> RandomizationListEntry | None:
    """Lock and return the stratum's next free entry, waiting for (never failing on) a
    concurrent randomization at another site that holds the same row.

    Only the entry row is locked (``of=self``: not the list row, which would serialize the
    whole trial). When the row we waited for was allocated by the transaction that held it,
    a fresh statement (READ COMMITTED) sees that allocation and we take the next entry, so
    entries are drawn in sequence, none twice, and the user never sees a conflict (#16).
    """
    free = (
        RandomizationListEntry.objects.filter(
            randomization_list__trial=trial,
            randomization_list__status=RandomizationList.Status.ACTIVE,
            stratum=stratum,
        )
        .exclude(pk__in=Allocation.objects.values("entry_id"))
        .order_by("sequence")
    )
    while True:  # ends: each pass either returns or skips an entry allocated meanwhile
        entry = free.select_for_update(of=("self",)).first()
        if entry is None or not Allocation.objects.filter(entry_id=entry.pk).exists():
            return entry


@transaction.atomic
def patient_randomize(*, user, patient: Patient, confirm_eligibility: bool) -> Allocation:
    """Allocate the next free entry of the patient's stratum; exactly once per patient.

    Row locks (site, then the entry) serialize concurrent randomizations; the OneToOne
    constraints on patient and entry make a double allocation impossible even so
    (synopsis: Randomization; RZ-2).
    """
    if not roles.can_enter_data(user, patient.site_id):
        raise PermissionDenied("Only an investigator of the patient's site can randomize.")
    if not confirm_eligibility:
        raise ValidationError(
            {"confirm_eligibility": gettext("Confirm that you checked the eligibility summary.")}
        )
    Site.objects.select_for_update().get(pk=patient.site_id)
    # One statement reads the patient with what the checks need (screening, an allocation
    # already made); only the patient row is locked (#16: ≤ 30 queries a randomization).
    patient = (
        Patient.objects.select_for_update(of=("self",))
        .select_related("site", "trial", "screening", "allocation")
        .get(pk=patient.pk)
    )
    if getattr(patient, "allocation", None) is not None:
        raise ValidationError({"patient": gettext("This patient is already randomized.")})
    problems = _eligibility_problems(patient)
    if problems:
        raise ValidationError(problems)
    stratum = patient.screening.aclf_grade
    entry = _next_free_entry(trial=patient.trial, stratum=stratum)
    if entry is None:
        raise ValidationError(
            {
                "patient": gettext(
                    "No randomization slot is free in this stratum: contact the statistician."
                )
            }
        )
    now = timezone.now()
    number = _next_randomization_number(patient.site)
    allocation = Allocation(
        patient=patient,
        entry=entry,
        randomization_number=number,
        stratum=stratum,
        randomized_at=now,
        randomized_by=user,
    )
    # Every value above comes from rows locked here; uniqueness (patient, entry, number) is
    # the database's constraints, so full_clean's extra lookups (7 queries) are skipped.
    allocation.clean_fields(exclude=["patient", "entry", "randomized_by"])
    with inserts_gathered():  # the two change-feed events in one INSERT (#16)
        _save_with_history(allocation, reason="Randomized", user=user)
        patient.subject_id = number
        patient.status = PatientStatus.RANDOMIZED
        patient.lock_version += 1  # the row is locked above: its version cannot have moved
        patient.clean_fields(exclude=["trial", "site"])
        _save_with_history(patient, reason="Randomized", user=user)

    from crf.models import OutboxMessage  # the crf app owns visits and the outbox
    from crf.outbox import outbox_enqueue
    from crf.schedule import visits_plan_dosing

    day1 = timezone.localdate(now)
    visits_plan_dosing(patient=patient, day1=day1, user=user)
    # Outbox, same transaction: the notice survives a broker outage (issue 11).
    outbox_enqueue(
        kind=OutboxMessage.Kind.DOSE_DUE_NOTICE,
        payload={"patient_id": patient.pk, "dose_number": 1, "due_on": day1.isoformat()},
    )
    return allocation


def _save_with_history(instance, *, reason: str, user) -> None:
    """Save with the reason and user on the history row (as ``save_audited``), inside the
    caller's transaction and without re-validating what the caller validated."""
    instance._change_reason = reason
    if user is not None and getattr(user, "is_authenticated", False):
        instance._history_user = user
    instance.save()


def _site_users_with_role(site_id: int, role: Role):
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name=role.value, site_memberships__site_id=site_id)
        .exclude(email="")
        .distinct()
    )


def pharmacists_notify_dose_due(
    *, patient_id: int, dose_number: int, due_on: dt.date | str
) -> int:
    """E-mail the site's pharmacists that a dose is due (never the arm)."""
    if isinstance(due_on, str):  # from an outbox payload (JSON)
        due_on = dt.date.fromisoformat(due_on)
    patient = Patient.objects.select_related("site").get(pk=patient_id)
    recipients = list(
        _site_users_with_role(patient.site_id, Role.PHARMACIST).values_list("email", flat=True)
    )
    if not recipients:
        return 0

    def compose() -> tuple[str, str]:
        values = {
            "dose": dose_number,
            "subject": patient.subject_id,
            "site": patient.site.code,
            "due_on": formats.date_format(due_on, "SHORT_DATE_FORMAT"),
        }
        subject = gettext("[Liveradvance] Dose %(dose)s due for %(subject)s") % values
        body = (
            gettext(
                "Patient %(subject)s (site %(site)s) was randomized.\n"
                "Dose %(dose)s is due on %(due_on)s.\n\n"
                "Log in to the EDC pharmacy page to see the preparation."
            )
            % values
        )
        return subject, body

    return send_mail_localized(recipients, compose)


# --- pharmacy ------------------------------------------------------------------------------


CELLS_PER_KG = 2_000_000  # synopsis: Investigational product, 2 × 10^6 cells/kg per dose


def _cells(n: int | Decimal) -> str:
    return f"{Decimal(n) / Decimal(1_000_000):.1f} × 10⁶"


def _pct(value: Decimal) -> str:
    return f"{Decimal(value).normalize():f}"


def _weight_problems(
    *, trial: Trial, dose_day: dt.date, weight, confirm_weight_date: bool, confirm_change: bool
) -> tuple[dict[str, str], list[str]]:
    """Errors and confirmed checks of the weight the dose is computed from (per kg on the
    day of dosing: synopsis, Investigational product)."""
    errors: dict[str, str] = {}
    confirmed: list[str] = []
    reading = weight.reading
    if reading is None:
        errors["weight"] = (
            f"No weight recorded on or before {dose_day:%Y-%m-%d}: the investigator records "
            "the vital signs and weight of the dosing day first."
        )
        return errors, confirmed
    age = (dose_day - reading.measured_on).days
    if age > trial.dose_weight_max_age_days:
        if confirm_weight_date:
            confirmed.append(f"weight of {reading.measured_on:%Y-%m-%d} ({age} days old)")
        else:
            errors["confirm_weight_date"] = (
                f"The latest weight ({reading.weight_kg} kg) was measured on "
                f"{reading.measured_on:%Y-%m-%d}, {age} day(s) before the dosing day: weigh "
                "the patient today or confirm that this weight is used."
            )
    previous = weight.previous
    if previous is not None and previous.weight_kg:
        change = (reading.weight_kg - previous.weight_kg) / previous.weight_kg * 100
        if abs(change) > trial.weight_change_confirm_pct:
            if confirm_change:
                confirmed.append(f"weight change of {abs(change):.0f}%")
            else:
                errors["confirm_weight_change"] = (
                    f"The weight changed by {abs(change):.0f}% ({previous.weight_kg} kg on "
                    f"{previous.measured_on:%Y-%m-%d} → {reading.weight_kg} kg on "
                    f"{reading.measured_on:%Y-%m-%d}; more than "
                    f"{_pct(trial.weight_change_confirm_pct)}%): check it and confirm."
                )
    return errors, confirmed


def _dose_resolved(schedule: list, dose_number: int) -> str | None:
    """Why dose ``dose_number`` can no longer be prepared (given, not given, missed)."""
    for visit in schedule:
        if visit.dose_number != dose_number:
            continue
        if visit.administered is True:
            return f"Dose {dose_number} was already given."
        if visit.administered is False:
            return f"Dose {dose_number} was recorded as not given."
        if visit.status in ("missed", "not_applicable"):
            return f"Dose {dose_number} is {visit.status.replace('_', ' ')}."
    return None


@transaction.atomic
def dose_preparation_record(
    *,
    user,
    patient: Patient,
    dose_number: int,
    prepared_at: dt.datetime,
    product_lot: str,
    volume_ml: Decimal | None,
    checked_by: str,
    cell_count: int | None = None,
    viability_pct: Decimal | None = None,
    confirm_weight_date: bool = False,
    confirm_weight_change: bool = False,
) -> DosePreparation:
    """Record one prepared dose by a pharmacist of the site, after every dosing check.

    Both arms record the same fields (lot, total cells, viability, volume, time, weight used);
    the active arm's cell count must be within the trial's tolerance of the prescribed dose
    and its viability at least the trial's minimum. Any failed check stores nothing.
    """
    from crf.course import patient_course
    from crf.selectors import dosing_schedule, weight_for_dosing

    if not roles.can_prepare_dose(user, patient):
        raise PermissionDenied
    patient = Patient.objects.select_for_update().select_related("trial").get(pk=patient.pk)
    allocation = (
        Allocation.objects.select_related("entry__randomization_list")
        .filter(patient=patient)
        .first()
    )
    if allocation is None:
        raise ValidationError({"dose_number": gettext("The patient is not randomized.")})
    trial = patient.trial
    errors: dict[str, str] = {}
    dose_day = timezone.localdate(prepared_at)
    refusal = patient_course(patient).dosing_refusal(dose_day)
    if refusal:
        errors["dose_number"] = refusal
    else:
        resolved = _dose_resolved(dosing_schedule(user=user, patient=patient), dose_number)
        if resolved:
            errors["dose_number"] = resolved
    if prepared_at > timezone.now() + dt.timedelta(minutes=5):
        errors["prepared_at"] = "The preparation time cannot be in the future."
    if prepared_at < allocation.randomized_at - dt.timedelta(minutes=5):
        errors["prepared_at"] = "A dose cannot be prepared before randomization."
    checked = (checked_by or "").strip()
    if checked.casefold() in {
        user.get_username().casefold(),
        user.get_full_name().strip().casefold(),
    }:
        errors["checked_by"] = "The check must be done by a second person."
    if DosePreparation.objects.filter(patient=patient, dose_number=dose_number).exists():
        errors["dose_number"] = f"Dose {dose_number} is already recorded for this patient."
    if not (product_lot or "").strip():
        errors["product_lot"] = "Enter the lot / batch."
    if volume_ml is None:
        errors["volume_ml"] = "Enter the volume."
    if cell_count is None:
        errors["cell_count"] = "Enter the total cell count (0 when the product has no cells)."
    if viability_pct is None:
        errors["viability_pct"] = "Enter the viability from the release certificate."

    weight = weight_for_dosing(user=user, patient=patient, on=dose_day)
    weight_errors, confirmed = _weight_problems(
        trial=trial,
        dose_day=dose_day,
        weight=weight,
        confirm_weight_date=confirm_weight_date,
        confirm_change=confirm_weight_change,
    )
    errors.update(weight_errors)
    weight_kg = weight.reading.weight_kg if weight.reading else None
    rlist = allocation.entry.randomization_list
    cells_expected = allocation.entry.arm == rlist.active_arm_code
    prescribed = int(Decimal(CELLS_PER_KG) * weight_kg) if cells_expected and weight_kg else 0
    if cells_expected and cell_count is not None and prescribed:
        tolerance = trial.dose_cell_tolerance_pct
        low = int(prescribed * (100 - tolerance) / 100)
        high = int(prescribed * (100 + tolerance) / 100)
        if not low <= cell_count <= high:
            errors["cell_count"] = (
                f"{_cells(cell_count)} cells is outside the prescribed dose "
                f"{_cells(prescribed)} (2 × 10⁶/kg × {weight_kg} kg) ± {_pct(tolerance)}%: "
                f"accepted {_cells(low)} to {_cells(high)}. Not saved."
            )
    if cells_expected and viability_pct is not None:
        minimum = trial.dose_min_viability_pct
        if viability_pct < minimum:
            errors["viability_pct"] = (
                f"Viability {_pct(viability_pct)}% is below the minimum of {_pct(minimum)}%: "
                "the product cannot be released. Not saved."
            )
    if not cells_expected and cell_count not in (None, 0):
        errors["cell_count"] = "This product contains no cells: enter 0."
    if errors:
        raise ValidationError(errors)
    preparation = DosePreparation(
        patient=patient,
        dose_number=dose_number,
        prepared_at=prepared_at,
        prepared_by=user,
        checked_by=checked,
        product_lot=product_lot.strip(),
        cell_count=cell_count,
        viability_pct=viability_pct,
        volume_ml=volume_ml,
        weight_kg=weight_kg,
        weight_measured_on=weight.reading.measured_on,
        prescribed_cells=prescribed,
        confirmations=confirmed,
    )
    return save_audited(preparation, reason=f"Dose {dose_number} prepared", user=user)


# --- emergency unblinding ------------------------------------------------------------------


def emergency_unblinding_create(
    *, user, patient: Patient, password: str, reason: str, request: HttpRequest | None
) -> EmergencyUnblinding:
    """Break the blind for one patient: PI of the site, password re-entered, reason required.

    The password is checked once, here, through the login backends (``request`` gives them
    the client address): a wrong one counts toward the user's lockout like a failed login,
    and a locked user cannot unblind. The sponsor and the trial administrators are told
    who, when and why, never the arm.
    """
    if not roles.can_emergency_unblind(user, patient):
        raise PermissionDenied
    # Outside the transaction: a failed attempt must stay recorded when the rest rolls back.
    password_ok = request is not None and reauthenticate(request, password, user=user)
    with transaction.atomic():
        return _emergency_unblinding_record(
            user=user, patient=patient, password_ok=password_ok, reason=reason
        )


def _emergency_unblinding_record(
    *, user, patient: Patient, password_ok: bool, reason: str
) -> EmergencyUnblinding:
    errors = {}
    if not password_ok:
        errors["password"] = "The password is not correct."  # noqa: S105 - a message
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = "Give the clinical reason for the emergency unblinding."
    if not Allocation.objects.filter(patient=patient).exists():
        errors["patient"] = "The patient is not randomized."
    if errors:
        raise ValidationError(errors)
    record = EmergencyUnblinding(patient=patient, unblinded_by=user, reason=reason)
    save_audited(record, reason="Emergency unblinding", user=user)
    from trials.models import AccessEvent
    from trials.services import access_event_record

    # Who broke the blind of which patient, never the arm (issue 14: access events).
    access_event_record(
        action=AccessEvent.Action.EMERGENCY_UNBLINDING, actor=user, detail=f"Patient {patient}"
    )
    transaction.on_commit(lambda: emergency_unblinding_notify(unblinding_id=record.pk))
    return record


def emergency_unblinding_notify(*, unblinding_id: int) -> int:
    record = EmergencyUnblinding.objects.select_related("patient__site", "unblinded_by").get(
        pk=unblinding_id
    )
    admins = get_user_model().objects.filter(is_active=True, groups__name=Role.TRIAL_ADMIN.value)
    recipients = sorted(
        set(settings.SPONSOR_EMAILS)
        | set(admins.exclude(email="").values_list("email", flat=True))
    )
    if not recipients:
        return 0
    patient = record.patient
    who = record.unblinded_by.get_full_name() or record.unblinded_by.get_username()

    def compose() -> tuple[str, str]:
        values = {
            "subject": patient.subject_id,
            "site": patient.site.code,
            "who": who,
            "at": formats.date_format(timezone.localtime(record.unblinded_at), "DATETIME_FORMAT"),
            "reason": record.reason,
        }
        body = (
            gettext(
                "Patient %(subject)s (site %(site)s) was unblinded by %(who)s at %(at)s.\n"
                "Reason: %(reason)s\n\n"
                "Only the unblinding investigator can see this patient's allocation in the EDC."
            )
            % values
        )
        return gettext("[Liveradvance] Emergency unblinding of %(subject)s") % values, body

    return send_mail_localized(recipients, compose)
