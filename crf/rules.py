"""Protocol sequencing rules of data entry, shared by the services (which enforce them) and
the pages (which explain them before the user types anything). Pure reads, no writes."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from trials.compiled import CompiledQuery
from trials.models import FormStatus, Patient, PatientStatus

from .models import Administration, Visit, VisitKind, VisitStatus

NOT_RANDOMIZED = (PatientStatus.SCREENING, PatientStatus.SCREEN_FAILED)


# Compiled once (``trials.compiled``): every later dose's forms ask (#16). ``[:1]`` of the
# keys: whether any row exists, as ``exists()`` says.
_DOSE1_DONE = CompiledQuery(
    lambda patient_id: Administration.objects.filter(
        patient_id=patient_id,
        visit__definition__dose_number=1,
        visit__definition__kind=VisitKind.DOSING,
        status=FormStatus.COMPLETE,
    ).values_list("pk", flat=True)[:1],
    patient_id=int,
)
_DOSE1_SKIPPED = CompiledQuery(
    lambda patient_id: Visit.objects.filter(
        patient_id=patient_id,
        definition__dose_number=1,
        definition__kind=VisitKind.DOSING,
        status__in=(VisitStatus.MISSED, VisitStatus.NOT_APPLICABLE),
    ).values_list("pk", flat=True)[:1],
    patient_id=int,
)


def is_randomized(patient: Patient) -> bool:
    return patient.status not in NOT_RANDOMIZED


def sequencing_check(spec, *, patient: Patient, visit: Visit | None) -> None:
    """Protocol order: no visit CRFs before randomization (except screening), no closed
    visits, the form must belong to the visit kind, doses 2–4 only after dose 1."""
    if visit is None:
        if spec.randomized_only and not is_randomized(patient):
            raise ValidationError("End of study is recorded for randomized patients only.")
        return
    kind = visit.definition.kind
    if kind != VisitKind.SCREENING and not is_randomized(patient):
        raise ValidationError(
            "This patient is not randomized: only screening data can be entered."
        )
    if visit.status == VisitStatus.NOT_APPLICABLE:
        raise ValidationError(
            f"{visit.definition.name} is not applicable ({visit.status_reason or 'cancelled'})."
        )
    if kind not in spec.visit_kinds:
        raise ValidationError(f"{spec.label} is not recorded at a {kind.replace('_', ' ')} visit.")
    dose = visit.definition.dose_number
    if spec.after_dose1 and dose and dose > 1:
        done = bool(_DOSE1_DONE.list(patient_id=patient.pk))
        # A missed dose 1 does not block the later doses either.
        skipped = bool(_DOSE1_SKIPPED.list(patient_id=patient.pk))
        if not (done or skipped):
            raise ValidationError(f"Complete the dose 1 administration form before dose {dose}.")


def sequencing_error(spec, *, patient: Patient, visit: Visit | None) -> str | None:
    """The sequencing rule that blocks entry of ``spec`` now, as a message (None = allowed)."""
    try:
        sequencing_check(spec, patient=patient, visit=visit)
    except ValidationError as exc:
        return " ".join(exc.messages)
    return None
