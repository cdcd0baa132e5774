"""Every write to trials data: roles, configuration, patients, screening and stored scores."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

import scoring

from . import eligibility
from .audit import require_reason, save_audited
from .models import (
    FormStatus,
    Patient,
    PatientStatus,
    ScoreInputs,
    ScoreRecord,
    Screening,
    Site,
    SiteMembership,
    Trial,
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


def setup_steps() -> list:
    """Configuration steps other apps contribute to ``setup_liveradvance`` (idempotent each).

    Each step is called as ``step(trial=trial)``; apps list theirs here so one command loads
    the whole trial configuration.
    """
    from django.utils.module_loading import import_string

    paths = [
        "crf.services.visit_definitions_load",
        "randomization.services.randomization_list_ensure_demo",
    ]
    return [import_string(path) for path in paths]


@transaction.atomic
def site_membership_grant(*, user, site: Site, granted_by=None) -> SiteMembership:
    membership, created = SiteMembership.objects.get_or_create(user=user, site=site)
    if created and granted_by is not None:
        membership.history.filter(history_type="+").update(history_user=granted_by)
    return membership


# --- patients -------------------------------------------------------------------------------


def _next_screening_number(site: Site) -> str:
    # Lock the one site row (not every patient of the site, #16) so two registrations at
    # once cannot take the same number; the unique constraint is the backstop.
    Site.objects.select_for_update().filter(pk=site.pk).first()
    numbers = Patient.objects.filter(site=site).values_list("screening_number", flat=True)
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
        raise ValidationError({"consent_datetime": "Consent cannot be in the future."})
    return save_audited(patient, reason="Patient registered for screening", user=user)


# --- scores ---------------------------------------------------------------------------------

# (analyte, canonical field, canonical unit) for values entered in a selectable unit.
UNIT_FIELDS = (
    ("bilirubin", "bilirubin_mg_dl", "mg/dL"),
    ("creatinine", "creatinine_mg_dl", "mg/dL"),
    ("albumin", "albumin_g_dl", "g/dL"),
)
PLAIN_INPUTS = {
    "inr": "",
    "sodium_mmol_l": "mmol/L",
    "wbc_10e9_l": "10^9/L",
    "platelets_10e9_l": "10^9/L",
    "he_grade": "West Haven",
    "map_mmhg": "mmHg",
    "dopamine_ug_kg_min": "µg/kg/min",
    "dobutamine": "",
    "terlipressin": "",
    "epinephrine_ug_kg_min": "µg/kg/min",
    "norepinephrine_ug_kg_min": "µg/kg/min",
    "pao2_mmhg": "mmHg",
    "spo2_pct": "%",
    "fio2": "",
    "mechanical_ventilation": "",
    "mechanical_ventilation_for_he": "",
    "renal_replacement_therapy": "",
    "dialysis_twice_in_last_week": "",
    "ascites": "",
}


def score_inputs_normalize(instance: ScoreInputs) -> None:
    """Set the canonical-unit fields from what was typed and in which unit."""
    for analyte, field, _unit in UNIT_FIELDS:
        entered = getattr(instance, f"{analyte}_entered")
        unit = getattr(instance, f"{analyte}_unit")
        if entered is None:
            setattr(instance, field, None)
            continue
        if not unit:
            raise ValidationError({f"{analyte}_unit": "Choose the unit of the value entered."})
        try:
            value = scoring.to_canonical(analyte, float(entered), unit)
        except ValueError as exc:
            raise ValidationError({f"{analyte}_unit": str(exc)}) from exc
        setattr(instance, field, Decimal(str(round(value, 3))))


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
    for analyte, field, unit in UNIT_FIELDS:
        value = getattr(instance, field)
        inputs[field] = {
            "value": None if value is None else float(value),
            "unit": unit,
            "entered": None if value is None else str(getattr(instance, f"{analyte}_entered")),
            "entered_unit": getattr(instance, f"{analyte}_unit"),
            "source": source_label,
        }
    for field, unit in PLAIN_INPUTS.items():
        value = getattr(instance, field)
        if isinstance(value, Decimal):
            value = float(value)
        if value == "":
            value = None
        inputs[field] = {"value": value, "unit": unit, "source": source_label}
    return inputs


def scores_compute(inputs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Run the scoring engine on collected inputs; invalid inputs become field errors."""
    values = {key: item["value"] for key, item in inputs.items()}
    errors = scoring.validate_inputs(values)
    if errors:
        raise ValidationError(errors)
    return scoring.calculate(values)


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


@transaction.atomic
def score_record_save(
    *,
    patient: Patient,
    source: models.Model,
    label: str,
    assessed_on: dt.date,
    inputs: dict[str, dict[str, Any]],
    result: dict[str, Any],
    trigger: str,
) -> ScoreRecord:
    """Store the scores computed from ``source``; the previous values stay in history."""
    record = ScoreRecord.objects.filter(
        source_type=ContentType.objects.get_for_model(source), source_id=source.pk
    ).first() or ScoreRecord(patient=patient, source=source)
    record.label = label
    record.assessed_on = assessed_on
    for field in SCORE_FIELDS:
        setattr(record, field, result.get(field))
    record.aclf_grade = result.get("aclf_grade") or ""
    record.child_pugh_class = result.get("child_pugh_class") or ""
    record.inputs = inputs
    record.missing = result.get("missing", {})
    record.details = {
        **result.get("details", {}),
        "organ_failures": result.get("organ_failures") or [],
    }
    record.algorithm_version = result["algorithm_version"]
    record.computed_at = timezone.now()
    return save_audited(record, reason=f"Recomputed after {trigger}")


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
        "eligible",
        "failed_criteria",
        "updated_at",
        "bilirubin_mg_dl",
        "creatinine_mg_dl",
        "albumin_g_dl",
    }
]


@transaction.atomic
def screening_save(
    *, user, patient: Patient, data: dict[str, Any], complete: bool, reason: str = ""
) -> Screening:
    """Save the screening CRF, recompute its scores and derive eligibility.

    A complete, ineligible screening makes the patient a screen failure with the failed
    criteria as reason codes; nothing is deleted (screening log).
    """
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.status not in (PatientStatus.SCREENING, PatientStatus.SCREEN_FAILED):
        raise ValidationError("Screening cannot change after randomization.")
    screening = Screening.objects.filter(patient=patient).first()
    was_complete = screening is not None and screening.status == FormStatus.COMPLETE
    reason = require_reason(was_complete=was_complete, reason=reason)
    if screening is None:
        screening = Screening(patient=patient)
    for field in SCREENING_INPUT_FIELDS:
        if field in data:
            setattr(screening, field, data[field])
    score_inputs_normalize(screening)
    if screening.screening_date and screening.screening_date > timezone.localdate():
        raise ValidationError({"screening_date": "The screening date cannot be in the future."})

    inputs = score_inputs_collect(
        screening, patient=patient, on=screening.screening_date, source_label="Screening"
    )
    result = scores_compute(inputs)
    screening.aclf_grade = result.get("aclf_grade") or ""
    assessment = eligibility.assess(
        s=screening,
        birth_date=patient.birth_date,
        sex=patient.sex,
        consent_datetime=patient.consent_datetime,
        aclf_grade=screening.aclf_grade,
    )
    if complete and assessment.missing:
        raise ValidationError(
            "To complete the screening, answer: "
            + "; ".join(f"{c.code} {c.label}" for c in assessment.missing)
        )
    screening.eligible = assessment.eligible
    screening.failed_criteria = [c.code for c in assessment.failed]
    screening.status = FormStatus.COMPLETE if complete else FormStatus.DRAFT
    save_audited(screening, reason=reason or "Screening entered", user=user)
    score_record_save(
        patient=patient,
        source=screening,
        label="Screening",
        assessed_on=screening.screening_date,
        inputs=inputs,
        result=result,
        trigger="screening form saved",
    )

    new_status = patient.status
    if complete and assessment.eligible is False:
        new_status = PatientStatus.SCREEN_FAILED
    elif patient.status == PatientStatus.SCREEN_FAILED and assessment.eligible is not False:
        new_status = PatientStatus.SCREENING  # a corrected screening reopens the patient
    if new_status != patient.status or patient.screen_failure_reasons != screening.failed_criteria:
        patient.status = new_status
        patient.screen_failure_reasons = (
            screening.failed_criteria if new_status == PatientStatus.SCREEN_FAILED else []
        )
        save_audited(patient, reason=reason or "Screening outcome", user=user)
    return screening
