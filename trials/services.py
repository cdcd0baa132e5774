"""Every write to trials data: roles, configuration, patients, screening and stored scores."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext

import scoring

from . import eligibility, history, limits, roles
from .audit import (
    inserts_gathered,
    meaningful_reason,
    require_reason,
    save_audited,
    stored_text,
)
from .compiled import CompiledGet, CompiledQuery
from .concurrency import check_version
from .dictionary import (
    SCORE_INPUT_FORM_FIELDS,
    SCORE_INPUT_ITEMS,
    SCREENING_CONDITIONAL_ITEMS,
    TYPED_SCORE_INPUTS,
    hidden_values_given,
)
from .mail import send_mail_localized
from .models import (
    AccessEvent,
    FormStatus,
    Patient,
    PatientStatus,
    RoleGrantRequest,
    ScoreInputs,
    ScoreRecord,
    Screening,
    Site,
    SiteMembership,
    Trial,
    UserPreference,
)
from .roles import Role

# --- roles -------------------------------------------------------------------------------

# Model permissions per role (admin and API use them; pages ask trials.roles predicates).
_READ_CLINICAL = ["trials.view_patient", "trials.view_screening", "trials.view_scorerecord"]
_ENTER_CLINICAL = [
    *_READ_CLINICAL,
    "trials.add_patient",
    "trials.change_patient",
    "trials.add_screening",
    "trials.change_screening",
]
ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.INVESTIGATOR: _ENTER_CLINICAL,
    Role.PRINCIPAL_INVESTIGATOR: [*_ENTER_CLINICAL, "randomization.add_emergencyunblinding"],
    Role.PHARMACIST: ["trials.view_patient"],
    Role.MONITOR: _READ_CLINICAL,
    Role.DATA_MANAGER: _READ_CLINICAL,
    Role.UNBLINDED_STATISTICIAN: _READ_CLINICAL,
    Role.TRIAL_ADMIN: [
        "trials.view_trial",
        "trials.change_trial",
        "trials.view_site",
        "trials.add_site",
        "trials.change_site",
        "trials.view_sitemembership",
        "trials.add_sitemembership",
        "trials.delete_sitemembership",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
    ],
}


def _permission(label: str) -> Permission | None:
    app_label, codename = label.split(".")
    return Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()


@transaction.atomic
def roles_sync(*, extra: dict[Role, list[str]] | None = None) -> dict[Role, Group]:
    """Create one group per role with exactly its permissions (idempotent)."""
    wanted = {role: list(perms) for role, perms in ROLE_PERMISSIONS.items()}
    for role, perms in (extra or {}).items():
        wanted[role] = wanted.get(role, []) + list(perms)
    groups = {}
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.value)
        perms = [p for p in (_permission(label) for label in wanted.get(role, [])) if p]
        group.permissions.set(perms)
        groups[role] = group
    return groups


# --- role grants: separation of duties (issue 9) -------------------------------------------

# Set only inside ``role_grant_decide`` (and the demo/test set-up): the groups guard in
# trials/signals.py refuses any other way of adding an unblinded role.
_unblinded_grant_approved: ContextVar[bool] = ContextVar("unblinded_grant", default=False)


def unblinded_grant_allowed() -> bool:
    return _unblinded_grant_approved.get()


@contextmanager
def unblinded_grant_preapproved() -> Iterator[None]:
    """Let the enclosed code add unblinded roles. Only the approval service and the demo and
    test set-ups use it; production accounts get unblinded roles through an approval."""
    token = _unblinded_grant_approved.set(True)
    try:
        yield
    finally:
        _unblinded_grant_approved.reset(token)


def access_event_record(
    *, action: str, actor=None, subject_user=None, detail: str = ""
) -> AccessEvent:
    actor = actor if getattr(actor, "is_authenticated", False) else None
    return AccessEvent.objects.create(
        action=action, actor=actor, subject_user=subject_user, detail=detail
    )


@transaction.atomic
def role_grant_request(*, requested_by, user, role: Role | str, reason: str) -> RoleGrantRequest:
    """Give ``user`` a role. Blinded roles apply at once; an unblinded role (pharmacist,
    unblinded statistician) waits for the approval of a second person (``role_grant_decide``)."""
    role = Role(role)
    if not roles.can_manage_users(requested_by):
        raise PermissionDenied("Only a trial administrator or a superuser requests roles.")
    if requested_by.pk == user.pk and not requested_by.is_superuser:
        raise PermissionDenied("Nobody changes their own roles.")
    reason = meaningful_reason(reason)
    grant = save_audited(
        RoleGrantRequest(user=user, role=role, requested_by=requested_by, reason=reason),
        reason=f"Role {role.value} requested",
        user=requested_by,
    )
    if role in roles.UNBLINDED_ROLES:
        access_event_record(
            action=AccessEvent.Action.ROLE_GRANT_REQUESTED,
            actor=requested_by,
            subject_user=user,
            detail=f"{stored_text(role.label)}: {reason}",
        )
        return grant
    return _role_grant_apply(grant=grant, approver=requested_by, reason=reason)


def _role_grant_apply(*, grant: RoleGrantRequest, approver, reason: str) -> RoleGrantRequest:
    group = Group.objects.get(name=grant.role)
    with unblinded_grant_preapproved():
        grant.user.groups.add(group)
    grant.status = RoleGrantRequest.Status.APPROVED
    grant.decided_by = approver
    grant.decided_at = timezone.now()
    grant.decision_reason = reason
    save_audited(grant, reason=f"Role {grant.role} granted", user=approver)
    access_event_record(
        action=AccessEvent.Action.ROLE_GRANTED,
        actor=approver,
        subject_user=grant.user,
        detail=f"{stored_text(Role(grant.role).label)}: {reason}",
    )
    return grant


@transaction.atomic
def role_grant_decide(
    *, approver, grant: RoleGrantRequest, approve: bool, reason: str
) -> RoleGrantRequest:
    """Approve or refuse a pending unblinded-role request: the unblinded statistician or a
    superuser, never the requester nor the user who would get the role. Approvals are
    e-mailed to the sponsor; refusals and attempts by others are in the access audit."""
    grant = RoleGrantRequest.objects.select_for_update().select_related("user").get(pk=grant.pk)
    if not roles.can_approve_unblinded_grants(approver) or approver.pk in (
        grant.requested_by_id,
        grant.user_id,
    ):
        access_event_record(
            action=AccessEvent.Action.ROLE_GRANT_REFUSED,
            actor=approver,
            subject_user=grant.user,
            detail=f"{stored_text(Role(grant.role).label)}: not allowed to decide this request",
        )
        raise PermissionDenied(
            "Only the unblinded statistician or a superuser, other than the requester and the "
            "user concerned, decides on an unblinded role."
        )
    if grant.status != RoleGrantRequest.Status.PENDING:
        raise ValidationError(gettext("This request was already decided."))
    reason = meaningful_reason(reason)
    if approve:
        _role_grant_apply(grant=grant, approver=approver, reason=reason)
        transaction.on_commit(lambda: role_grant_notify_sponsor(grant_id=grant.pk))
        return grant
    grant.status = RoleGrantRequest.Status.REFUSED
    grant.decided_by = approver
    grant.decided_at = timezone.now()
    grant.decision_reason = reason
    save_audited(grant, reason=f"Role {grant.role} refused", user=approver)
    access_event_record(
        action=AccessEvent.Action.ROLE_GRANT_REFUSED,
        actor=approver,
        subject_user=grant.user,
        detail=f"{stored_text(Role(grant.role).label)}: {reason}",
    )
    return grant


def role_grant_notify_sponsor(*, grant_id: int) -> int:
    """Tell the sponsor who now has an unblinded role, who asked and who approved."""
    grant = RoleGrantRequest.objects.select_related("user", "requested_by", "decided_by").get(
        pk=grant_id
    )
    recipients = list(settings.SPONSOR_EMAILS)
    if not recipients:
        return 0

    def who(u) -> str:
        return (u.get_full_name() or u.get_username()) if u else gettext("system")

    def compose() -> tuple[str, str]:
        values = {
            "user": who(grant.user),
            "username": grant.user.get_username(),
            "role": grant.get_role_display(),
            "requested_by": who(grant.requested_by),
            "reason": grant.reason,
            "approved_by": who(grant.decided_by),
            "at": formats.date_format(timezone.localtime(grant.decided_at), "DATETIME_FORMAT"),
            "decision": grant.decision_reason,
        }
        body = (
            gettext(
                "%(user)s (%(username)s) was given the role %(role)s.\n"
                "Requested by %(requested_by)s: %(reason)s\n"
                "Approved by %(approved_by)s at %(at)s: %(decision)s\n"
            )
            % values
        )
        subject = gettext("[Liveradvance] %(role)s role granted to %(user)s") % values
        return subject, body

    return send_mail_localized(recipients, compose)


@transaction.atomic
def role_revoke(*, revoked_by, user, role: Role | str, reason: str) -> None:
    """Remove a role (any role; removing access needs no second person)."""
    role = Role(role)
    if not roles.can_manage_users(revoked_by) and not roles.can_approve_unblinded_grants(
        revoked_by
    ):
        raise PermissionDenied
    reason = meaningful_reason(reason)
    user.groups.remove(Group.objects.get(name=role.value))
    access_event_record(
        action=AccessEvent.Action.ROLE_REVOKED,
        actor=revoked_by,
        subject_user=user,
        detail=f"{stored_text(role.label)}: {reason}",
    )


def password_link_send(*, sent_by, user, request=None) -> int:
    """E-mail ``user`` a one-time link to set their own password (administrators never set
    another user's password). The link dies once used or when the password changes."""
    if not user.email:
        raise ValidationError({"email": f"{user.get_username()} has no e-mail address."})
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    url = request.build_absolute_uri(path) if request is not None else path
    access_event_record(
        action=AccessEvent.Action.PASSWORD_LINK_SENT, actor=sent_by, subject_user=user
    )

    def compose() -> tuple[str, str]:
        body = gettext(
            "Open this link to set your password for the Liveradvance EDC:\n\n%(url)s\n\n"
            "It works once. If you did not expect it, tell the trial administrator."
        ) % {"url": url}
        return gettext("[Liveradvance] Set your password"), body

    return send_mail_localized([user.email], compose)


# --- trial configuration --------------------------------------------------------------------

LIVERADVANCE = {
    "code": "liveradvance",
    "title": "Allogenic Bone Marrow Mesenchymal Stem Cell Therapy in Acute-on-chronic Liver "
    "Failure (Liveradvance)",
    "registry_ids": "NCT02857010; EudraCT 2012-003900-11",
    "target_size": 30,
    "arm_codes": ["A", "B"],
    "strata": ["1", "2", "3"],
    "min_age": 18,
    "max_age": 79,
}


@transaction.atomic
def trial_configure(
    *,
    config: dict[str, Any] | None = None,
    site_code: str = "01",
    site_name: str = "Hospital Clínic de Barcelona",
) -> tuple[Trial, Site]:
    """Load the trial configuration and its site; running it again changes nothing."""
    config = dict(config or LIVERADVANCE)
    code = config.pop("code")
    trial, _ = Trial.objects.get_or_create(code=code, defaults=config)
    site, _ = Site.objects.get_or_create(trial=trial, code=site_code, defaults={"name": site_name})
    return trial, site


@transaction.atomic
def site_membership_grant(*, user, site: Site, granted_by=None) -> SiteMembership:
    existing = SiteMembership.objects.filter(user=user, site=site).first()
    if existing is not None:
        return existing
    membership = SiteMembership(user=user, site=site)
    if granted_by is not None:
        # simple-history records this author on the creation row; history is never rewritten.
        membership._history_user = granted_by
    membership.save()
    return membership


# --- patients -------------------------------------------------------------------------------


# Compiled once (``trials.compiled``): every registration and screening save reads these.
_SITE_LOCK = CompiledQuery(
    lambda site_id: Site.objects.select_for_update().filter(pk=site_id).values_list("pk")[:1],
    site_id=int,
)
_SITE_NUMBERS = CompiledQuery(
    lambda site_id: (
        Patient.objects.filter(site_id=site_id)
        .order_by()  # the highest is taken below: no sort (nor the join the model's order needs)
        .values_list("screening_number", flat=True)
    ),
    site_id=int,
)
_SCREENING_PATIENT = CompiledGet(
    Patient.objects.select_for_update(of=("self",)).select_related("trial")
)
_SCREENING_OF = CompiledQuery(
    lambda patient_id: Screening.objects.filter(patient_id=patient_id).order_by("pk")[:1],
    patient_id=int,
)


def _next_screening_number(site: Site) -> str:
    # Lock the one site row (not every patient of the site, #16) so two registrations at
    # once cannot take the same number; the unique constraint is the backstop.
    _SITE_LOCK.list(site_id=site.pk)
    numbers = _SITE_NUMBERS.list(site_id=site.pk)
    last = max((int(n.rsplit("-", 1)[1]) for n in numbers), default=0)
    return f"S{site.code}-{last + 1:04d}"


@transaction.atomic
def patient_create(
    *,
    user,
    site: Site,
    sex: str,
    birth_date: dt.date,
    initials: str = "",
    consent_datetime: dt.datetime | None = None,
    consent_version: str = "",
) -> Patient:
    """Register a patient for screening at ``site`` with the next screening number."""
    patient = Patient(
        trial=site.trial,
        site=site,
        screening_number=_next_screening_number(site),
        sex=sex,
        birth_date=birth_date,
        initials=initials.upper(),
        consent_datetime=consent_datetime,
        consent_version=consent_version,
    )
    if consent_datetime and consent_datetime > timezone.now():
        raise ValidationError({"consent_datetime": gettext("Consent cannot be in the future.")})
    # Proven under the site's row lock (#16): the site exists, and so does its trial (a
    # protected key); the number is the site's next one and starts with the site's code,
    # unique in the trial, so it is unique in the trial (the constraint stays the backstop).
    return save_audited(
        patient,
        reason="Patient registered for screening",
        user=user,
        proven=("trial", "site"),
    )


IDENTITY_FIELDS = ("sex", "birth_date", "initials", "consent_datetime", "consent_version")


@transaction.atomic
def patient_identity_correct(
    *, user, patient: Patient, data: dict[str, Any], reason: str
) -> Patient:
    """Correct sex, birth date, initials or consent (with a reason), then re-derive what used
    them: eligibility and every stored score (age and sex feed MELD 3.0, CLIF-C ACLF/AD),
    each with an automatic reason naming the correction (issue 13)."""
    if not roles.can_enter_data(user, patient.site_id):
        raise PermissionDenied("Only an investigator of the patient's site corrects the record.")
    patient = (
        Patient.objects.select_for_update(of=("self",)).select_related("trial").get(pk=patient.pk)
    )
    reason = meaningful_reason(reason)
    changed = [f for f in IDENTITY_FIELDS if f in data and data[f] != getattr(patient, f)]
    if not changed:
        raise ValidationError(gettext("Nothing was changed."))
    errors = {}
    today = timezone.localdate()
    birth = data.get("birth_date", patient.birth_date)
    if birth is None or birth < EARLIEST_DATE or birth > today:
        errors["birth_date"] = "Enter a birth date from 1900 up to today."
    consent = data.get("consent_datetime", patient.consent_datetime)
    if consent is not None and consent > timezone.now():
        errors["consent_datetime"] = "Consent cannot be in the future."
    if errors:
        raise ValidationError(errors)
    for name in changed:
        value = data[name]
        setattr(patient, name, value.upper() if name == "initials" else value)
    labels = ", ".join(str(Patient._meta.get_field(f).verbose_name) for f in changed)
    save_audited(patient, reason=f"Correction of {labels}: {reason}", user=user)
    trigger = f"correction of {labels}"
    _screening_rederive(patient, user=user, trigger=trigger)
    _score_records_recompute(patient, trigger=trigger)
    return patient


def _screening_rederive(patient: Patient, *, user, trigger: str) -> None:
    screening = Screening.objects.filter(patient=patient).first()
    if screening is None:
        return
    _screening_scores(screening, patient=patient)
    assessment = _screening_assess(screening, patient=patient)
    screening.eligible = assessment.eligible
    screening.failed_criteria = [c.code for c in assessment.failed]
    save_audited(screening, reason=f"Eligibility re-derived after {trigger}", user=user)
    reason = f"Screening outcome after {trigger}"
    _screening_outcome_apply(
        patient,
        screening,
        complete=screening.status == FormStatus.COMPLETE,
        user=user,
        reason=reason,
    )


def _score_records_recompute(patient: Patient, *, trigger: str) -> None:
    """Recompute every stored score from its recorded inputs with the corrected age and sex."""
    for record in ScoreRecord.objects.filter(patient=patient).select_related("source_type"):
        inputs = dict(record.inputs)
        inputs["age"] = {
            **inputs.get("age", {}),
            "value": eligibility.age_on(patient.birth_date, record.assessed_on),
        }
        inputs["sex"] = {**inputs.get("sex", {}), "value": patient.sex}
        score_record_save(
            patient=patient,
            source=record.source,
            label=record.label,
            assessed_on=record.assessed_on,
            inputs=inputs,
            result=scores_compute(inputs),
            trigger=trigger,
        )


# --- scores ---------------------------------------------------------------------------------

# The score inputs' units and typed fields come from the data dictionary (one map).


def score_inputs_normalize(instance: ScoreInputs) -> None:
    """Set the canonical-unit fields from what was typed and in which unit."""
    for item in TYPED_SCORE_INPUTS:
        entered = getattr(instance, item.entered)
        unit = getattr(instance, item.unit_field)
        if entered is None:
            setattr(instance, item.name, None)
            continue
        if not unit:
            raise ValidationError(
                {item.unit_field: gettext("Choose the unit of the value entered.")}
            )
        try:
            # Exact factor, full precision (8 decimals): a rounded value can cross a
            # score threshold.
            setattr(instance, item.name, item.to_canonical(entered, unit))
        except ValueError as exc:
            raise ValidationError({item.unit_field: str(exc)}) from exc


def score_inputs_collect(
    instance: ScoreInputs, *, patient: Patient, on: dt.date, source_label: str
) -> dict[str, dict[str, Any]]:
    """The scoring inputs of one form with their provenance (value, unit, what was typed)."""
    return score_inputs_from_values(
        instance,
        age=eligibility.age_on(patient.birth_date, on),
        sex=patient.sex,
        source_label=source_label,
        demographics_source="Patient record",
    )


def score_inputs_from_values(
    instance: ScoreInputs,
    *,
    age: int | None,
    sex: str | None,
    source_label: str,
    demographics_source: str = "",
) -> dict[str, dict[str, Any]]:
    """Scoring inputs from a (possibly unsaved) form instance plus age and sex."""
    inputs: dict[str, dict[str, Any]] = {
        "age": {"value": age, "unit": "years", "source": demographics_source or source_label},
        "sex": {"value": sex or None, "unit": "", "source": demographics_source or source_label},
    }
    for item in SCORE_INPUT_ITEMS:
        value = getattr(instance, item.name)
        if item.entered:
            inputs[item.name] = {
                "value": None if value is None else float(value),
                "unit": item.unit,
                "entered": None if value is None else str(getattr(instance, item.entered)),
                "entered_unit": getattr(instance, item.unit_field),
                "source": source_label,
            }
            continue
        if isinstance(value, Decimal):
            value = float(value)
        if value == "":
            value = None
        # The same unit the compact storage takes as default (``INPUT_UNITS``).
        unit = INPUT_UNITS[item.name]
        inputs[item.name] = {"value": value, "unit": unit, "source": source_label}
    return inputs


def scores_compute(inputs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Run the scoring engine on collected inputs; invalid inputs become field errors."""
    values = {key: item["value"] for key, item in inputs.items()}
    errors = scoring.validate_inputs(values)
    if errors:
        raise ValidationError(errors)
    return scoring.calculate(values)


def scores_preview(*, patient: Patient, values: dict[str, Any], on: dt.date) -> dict[str, Any]:
    """The scores the typed score inputs ``values`` would give on ``on``; nothing stored.

    The same unit conversion, input collection and engine as a save (the lab CRF's live
    preview); invalid inputs raise ``ValidationError`` like ``scores_compute``.
    """
    holder = Screening(patient=patient)  # an unsaved holder of the shared score inputs
    for name in SCORE_INPUT_FORM_FIELDS:
        setattr(holder, name, values.get(name))
    score_inputs_normalize(holder)
    inputs = score_inputs_collect(holder, patient=patient, on=on, source_label="preview")
    return scores_compute(inputs)


SCORE_FIELDS = (
    "clif_sofa",
    "clif_c_of",
    "clif_c_aclf",
    "clif_c_ad",
    "meld",
    "meld_na",
    "meld_3",
    "child_pugh_score",
)


# Defaults of each scoring input (unit, and the extra keys of values typed in a unit): the
# compact JSON stores only what differs from these (#16).
# Each input's unit, from the data dictionary: what ``score_inputs_from_values`` writes and
# what the compact JSON leaves out.
INPUT_UNITS: dict[str, str] = {
    "age": "years",
    "sex": "",
    **{item.name: item.unit or item.scale for item in SCORE_INPUT_ITEMS},
}
_TYPED_INPUTS = frozenset(item.name for item in SCORE_INPUT_ITEMS if item.entered)
_ENTERED_DEFAULTS = {"entered": None, "entered_unit": ""}
_DEMOGRAPHICS = ("age", "sex")


def _input_default(key: str, *, label: str, demographics: str) -> dict[str, Any]:
    item = {
        "value": None,
        "unit": INPUT_UNITS.get(key, ""),
        "source": demographics if key in _DEMOGRAPHICS else label,
    }
    if key in _TYPED_INPUTS:
        item.update(_ENTERED_DEFAULTS)
    return item


def score_inputs_pack(inputs: dict[str, dict[str, Any]], *, label: str) -> dict[str, Any]:
    """Compact form of ``inputs``: per key only what differs from its default (a bare value
    when only the value does); ``score_inputs_unpack`` gives the same dict back (~0.5 KB
    instead of ~2 KB)."""
    demographics = inputs.get("age", {}).get("source", label)
    packed: dict[str, Any] = {}
    for key, item in inputs.items():
        default = _input_default(key, label=label, demographics=demographics)
        diff = {k: v for k, v in item.items() if k not in default or default[k] != v}
        if set(diff) == {"value"} and not isinstance(diff["value"], dict):
            packed[key] = diff["value"]
        elif diff:
            packed[key] = diff
    return {"d": demographics, "i": packed}


def score_inputs_unpack(explanation: dict[str, Any], *, label: str) -> dict[str, dict[str, Any]]:
    demographics = explanation.get("d", label)
    packed = explanation.get("i", {})
    inputs: dict[str, dict[str, Any]] = {}
    for key in dict.fromkeys([*INPUT_UNITS, *packed]):  # every input, the known ones first
        item = _input_default(key, label=label, demographics=demographics)
        diff = packed.get(key)
        if isinstance(diff, dict):
            item.update(diff)
        elif key in packed:
            item["value"] = diff
        inputs[key] = item
    return inputs


def score_record_derive(record: ScoreRecord) -> dict[str, Any]:
    """What was missing and the step-by-step details, re-derived from the stored inputs by the
    algorithm version that computed the record (empty if that version is not this one: the
    scores themselves are stored)."""
    if record.algorithm_version != scoring.ALGORITHM_VERSION:
        return {}
    values = {key: item["value"] for key, item in record.inputs.items()}
    result = scoring.calculate(values)
    return {
        "missing": result.get("missing", {}),
        "details": {
            **result.get("details", {}),
            "organ_failures": result.get("organ_failures") or [],
        },
    }


@transaction.atomic(savepoint=False)  # joins the caller's transaction: no savepoint round trips
def score_record_save(
    *,
    patient: Patient,
    source: models.Model,
    label: str,
    assessed_on: dt.date,
    inputs: dict[str, dict[str, Any]],
    result: dict[str, Any],
    trigger: str,
    source_created: bool = False,
) -> ScoreRecord:
    """Store the scores computed from ``source`` (one row per source, rewritten: a derived
    record without history, see ``ScoreRecord``); a change-feed event for each computation.
    ``source_created``: the source was inserted in this transaction, so it has no record yet."""
    record = None
    if not source_created:
        record = ScoreRecord.objects.filter(
            source_type=ContentType.objects.get_for_model(source), source_id=source.pk
        ).first()
    record = record or ScoreRecord(patient=patient, source=source)
    record.patient = patient  # cached for the change-feed event (no extra read)
    created = record.pk is None
    record.label = label
    record.assessed_on = assessed_on
    for field in SCORE_FIELDS:
        setattr(record, field, result.get(field))
    record.aclf_grade = result.get("aclf_grade") or ""
    record.child_pugh_class = result.get("child_pugh_class") or ""
    record.explanation = score_inputs_pack(inputs, label=label)
    record.algorithm_version = result["algorithm_version"]
    record.computed_at = timezone.now()
    record.trigger = f"Recomputed after {trigger}"[:200]
    # Every value is computed here from validated inputs: no full_clean lookups (#16).
    record.clean_fields(exclude=["patient", "source_type"])
    record.save()
    record.__dict__.pop("_derived", None)
    history.derived_record_saved.send(
        sender=ScoreRecord, instance=record, created=created, at=record.computed_at
    )
    return record


# --- screening ------------------------------------------------------------------------------

SCREENING_INPUT_FIELDS = [
    f.name
    for f in Screening._meta.get_fields()
    if getattr(f, "editable", False)
    and f.concrete
    and f.name
    not in {
        "id",
        "patient",
        "status",
        "aclf_grade",
        "aclf_grade_confirmed",  # derived from aclf_grade_confirmed_as (bound to the grade)
        "aclf_grade_confirmed_as",
        "eligible",
        "failed_criteria",
        "out_of_range_confirmed",
        "updated_at",
        "bilirubin_mg_dl",
        "creatinine_mg_dl",
        "albumin_g_dl",
    }
]


EARLIEST_DATE = dt.date(1900, 1, 1)
SCREENING_DATE_FIELDS = ("screening_date", "last_gi_bleed_date", "last_investigational_trial_date")


def _screening_dates_check(screening: Screening) -> None:
    """Dates before 1900 or in the future are typing errors; events before the screening."""
    errors: dict[str, str] = {}
    today = timezone.localdate()
    for name in SCREENING_DATE_FIELDS:
        day = getattr(screening, name)
        if day is None:
            continue
        if day < EARLIEST_DATE:
            errors[name] = "Enter a date from 1900 on."
        elif day > today:
            errors[name] = "The date cannot be in the future."
        elif (
            name != "screening_date"
            and screening.screening_date
            and day > screening.screening_date
        ):
            errors[name] = "The event must be on or before the screening date."
    if errors:
        raise ValidationError(errors)


def _sex_specific_answers_check(screening: Screening, sex: str) -> None:
    """Exclusions 13–14 are answered for women; "not applicable (male)" only for men."""
    errors = {}
    for name in ("pregnancy_status", "childbearing_potential"):
        value = getattr(screening, name)
        if sex == "F" and value == "not_applicable":
            errors[name] = "“Not applicable (male)” is not an answer for a woman."
        elif sex == "M" and value not in ("", "not_applicable"):
            errors[name] = "The patient is recorded as male: answer “Not applicable (male)”."
    if errors:
        raise ValidationError(errors)


def _grade_confirmation(
    screening: Screening, data: dict[str, Any], *, previous_grade: str | None
) -> str:
    """The grade the investigator confirms in this save ('' for none).

    Bound to a value: ``aclf_grade_confirmed_as`` names the grade confirmed; a bare
    ``aclf_grade_confirmed`` confirms the grade the user last saw (the stored one, or for a new
    screening the one this save computes). A grade that moves voids it (issue 13).
    """
    if data.get("aclf_grade_confirmed_as"):
        return (
            str(data["aclf_grade_confirmed_as"]) if data.get("aclf_grade_confirmed", True) else ""
        )
    if "aclf_grade_confirmed" in data:
        if not data["aclf_grade_confirmed"]:
            return ""
        return previous_grade if previous_grade is not None else screening.aclf_grade
    return screening.aclf_grade_confirmed_as  # not part of this save: keep what was confirmed


def _screening_scores(screening: Screening, *, patient: Patient) -> dict[str, Any]:
    """Scores and the computed ACLF grade of a (possibly unsaved) screening."""
    inputs = score_inputs_collect(
        screening, patient=patient, on=screening.screening_date, source_label="Screening"
    )
    result = scores_compute(inputs)
    screening.aclf_grade = result.get("aclf_grade") or ""
    return {"inputs": inputs, "result": result}


def _screening_assess(screening: Screening, *, patient: Patient) -> eligibility.Assessment:
    """Eligibility, with the grade confirmation valid only for the grade it confirmed."""
    confirmed = screening.aclf_grade_confirmed_as
    screening.aclf_grade_confirmed = bool(confirmed) and confirmed == screening.aclf_grade
    if not screening.aclf_grade_confirmed:
        screening.aclf_grade_confirmed_as = ""
    return eligibility.assess(
        s=screening,
        birth_date=patient.birth_date,
        sex=patient.sex,
        consent_datetime=patient.consent_datetime,
        aclf_grade=screening.aclf_grade,
        min_age=patient.trial.min_age,
        max_age=patient.trial.max_age,
    )


def screening_preview(*, patient: Patient, data: dict[str, Any]) -> dict[str, Any]:
    """What saving ``data`` would compute (grade with its organ basis, eligibility), nothing
    stored: the screening page calls it while the investigator types."""
    current = Screening.objects.filter(patient=patient).first()
    screening = Screening(patient=patient)
    for name in SCREENING_INPUT_FIELDS:
        setattr(screening, name, data.get(name, getattr(current, name, None) if current else None))
    screening.screening_date = screening.screening_date or timezone.localdate()
    screening.aclf_grade_confirmed_as = ""
    _screening_dates_check(screening)
    score_inputs_normalize(screening)
    result = _screening_scores(screening, patient=patient)["result"]
    assessment = _screening_assess(screening, patient=patient)
    ranges = limits.check(screening, limits.SCREENING_LIMITS)
    return {
        "aclf_grade": screening.aclf_grade,
        "organ_failures": result.get("organ_failures") or [],
        "clif_c_of": result.get("clif_c_of"),
        "missing": sorted(result.get("missing", {}).get("aclf_grade", []) or []),
        "eligible": assessment.eligible,
        "criteria": [
            {"code": c.code, "outcome": c.outcome.value, "reason": c.reason}
            for c in assessment.criteria
            if c.outcome.value != "ok"
        ],
        "errors": ranges.errors,
        "warnings": ranges.warnings,
    }


@transaction.atomic
def screening_save(
    *,
    user,
    patient: Patient,
    data: dict[str, Any],
    complete: bool,
    reason: str = "",
    confirm_out_of_range: bool = False,
    expected_version: int | None = None,
) -> Screening:
    """Save the screening CRF (a draft saves whatever is filled), recompute its scores and
    derive eligibility.

    Limits are those of the visit laboratory form (``trials.limits``): hard limits refuse,
    soft limits need ``confirm_out_of_range``. A complete, ineligible screening makes the
    patient a screen failure with the failed criteria as reason codes; nothing is deleted.
    ``expected_version``: the ``lock_version`` the user read (0 = not entered); a newer one
    raises ``StaleEdit``.
    """
    patient = _SCREENING_PATIENT.get(patient.pk)
    if patient.status not in (PatientStatus.SCREENING, PatientStatus.SCREEN_FAILED):
        raise ValidationError(gettext("Screening cannot change after randomization."))
    found = _SCREENING_OF.list(patient_id=patient.pk)
    screening = found[0] if found else None
    check_version(screening, expected_version)
    was_complete = screening is not None and screening.status == FormStatus.COMPLETE
    reason = require_reason(was_complete=was_complete, reason=reason)
    previous_grade = screening.aclf_grade if screening is not None else None
    if screening is None:
        screening = Screening(patient=patient)
    for field in SCREENING_INPUT_FIELDS:
        if field in data:
            setattr(screening, field, data[field])
    if screening.screening_date is None:
        raise ValidationError({"screening_date": gettext("Enter the screening date.")})
    _screening_dates_check(screening)
    _sex_specific_answers_check(screening, patient.sex)
    # Skip logic (trials.dictionary): a date given after a "No" is refused, naming the field.
    if hidden := hidden_values_given(SCREENING_CONDITIONAL_ITEMS, screening):
        raise ValidationError(hidden)
    score_inputs_normalize(screening)
    ranges = limits.check(screening, limits.SCREENING_LIMITS)
    if ranges.errors:
        raise ValidationError(ranges.errors)
    if ranges.warnings and not confirm_out_of_range:
        raise limits.OutOfRangeWarning(ranges.warnings)
    screening.out_of_range_confirmed = sorted(ranges.warnings)

    scores = _screening_scores(screening, patient=patient)
    screening.aclf_grade_confirmed_as = _grade_confirmation(
        screening, data, previous_grade=previous_grade
    )
    assessment = _screening_assess(screening, patient=patient)
    if complete and assessment.missing:
        raise ValidationError(
            "To complete the screening, answer: "
            + "; ".join(f"{c.code} {c.label} ({c.reason})" for c in assessment.missing)
        )
    screening.eligible = assessment.eligible
    screening.failed_criteria = [c.code for c in assessment.failed]
    screening.status = FormStatus.COMPLETE if complete else FormStatus.DRAFT
    created = screening.pk is None
    # The patient was read under its row lock and so was its one screening (every write of
    # a screening locks the patient first): no existence or uniqueness lookups (#16).
    with inserts_gathered():  # the change-feed events of this save in one INSERT (#16)
        save_audited(
            screening, reason=reason or "Screening entered", user=user, proven=("patient",)
        )
        score_record_save(
            patient=patient,
            source=screening,
            label="Screening",
            assessed_on=screening.screening_date,
            inputs=scores["inputs"],
            result=scores["result"],
            trigger="screening form saved",
            source_created=created,  # inserted just now: it has no score record yet
        )
        _screening_outcome_apply(patient, screening, complete=complete, user=user, reason=reason)
    return screening


def _screening_outcome_apply(
    patient: Patient, screening: Screening, *, complete: bool, user, reason: str
) -> None:
    """Screen failure when a complete screening is ineligible; a correction reopens it."""
    if patient.status not in (PatientStatus.SCREENING, PatientStatus.SCREEN_FAILED):
        return  # after randomization the outcome is reviewed, never rewritten
    new_status = patient.status
    if complete and screening.eligible is False:
        new_status = PatientStatus.SCREEN_FAILED
    elif patient.status == PatientStatus.SCREEN_FAILED and screening.eligible is not False:
        new_status = PatientStatus.SCREENING  # a corrected screening reopens the patient
    if new_status != patient.status or patient.screen_failure_reasons != screening.failed_criteria:
        patient.status = new_status
        patient.screen_failure_reasons = (
            screening.failed_criteria if new_status == PatientStatus.SCREEN_FAILED else []
        )
        save_audited(patient, reason=reason or "Screening outcome", user=user)


# --- accounts (issue 11) --------------------------------------------------------------------

MIN_REASON_LENGTH = 10


@transaction.atomic
def lockout_reset(*, user, username: str, ip_address: str | None, reason: str):
    """Clear the lockout of ``username`` at ``ip_address`` (trial administrator; audited)."""
    from axes.models import AccessAttempt

    from .models import LockoutReset
    from .roles import has_role

    if not has_role(user, Role.TRIAL_ADMIN):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied("Only the trial administrator clears lockouts.")
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON_LENGTH:
        raise ValidationError(
            {"reason": f"Give the reason (at least {MIN_REASON_LENGTH} characters)."}
        )
    attempts = AccessAttempt.objects.filter(username=username)
    if ip_address:
        attempts = attempts.filter(ip_address=ip_address)
    if not attempts.exists():
        raise ValidationError(
            {"username": gettext("No lockout record for this account and address.")}
        )
    attempts.delete()
    return save_audited(
        LockoutReset(
            username=username, ip_address=ip_address or None, reason=reason, reset_by=user
        ),
        reason=f"Lockout cleared: {reason}"[:100],
        user=user,
    )


def api_token_create(*, user, label: str = "") -> tuple[Any, str]:
    """A new API token for ``user``: returns (record, the token text, shown once only)."""
    from knox.models import AuthToken

    record, token = AuthToken.objects.create(user=user)
    return record, token


def api_token_revoke(*, user, token_key: str) -> int:
    """Revoke one of ``user``'s own API tokens (by its public key prefix)."""
    from knox.models import AuthToken

    return AuthToken.objects.filter(user=user, token_key=token_key).delete()[0]


# --- user preferences (issue 17) --------------------------------------------------------------


@transaction.atomic
def user_language_set(*, user, language: str) -> UserPreference:
    """Store ``user``'s language (pages and e-mails); unknown codes are refused."""
    if language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": f"Unknown language {language!r}."})
    preference, _created = UserPreference.objects.get_or_create(
        user=user, defaults={"language": language}
    )
    if preference.language != language:
        preference.language = language
        preference.full_clean()
        preference.save()
    return preference
