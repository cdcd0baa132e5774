"""What saving one eCRF does besides storing it, declared per form on ``crf.registry.FormSpec``.

``crf.services.crf_save`` runs, for the form being saved: its ``prepare`` hooks (derived values
and context), its ``validators`` (rules that read other records), its ``before_store`` hooks
(may still refuse) and, once stored, its ``effects``. No ``if code == ...`` in the service.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from trials.models import FormStatus, Patient
from trials.services import score_inputs_collect, score_record_save, scores_compute

from .checks import CrfSave
from .completeness import lab_completeness_errors
from .course import patient_course, patient_course_events
from .models import Administration, AdverseEvent, Visit, VisitKind, VisitStatus, VitalSigns
from .services import day1_of, visits_reanchor

Errors = dict[str, list[str]]


# --- prepare: derived values and the context of the checks (read only by the forms that
# need them: a lab save does not pay for the weight or end-of-study context) ---------------


def infusion_date(save: CrfSave) -> None:
    """The administration form is dated by its infusion start."""
    start = save.instance.start_time
    save.instance.assessment_date = timezone.localtime(start).date() if start else None


def previous_weight(save: CrfSave) -> None:
    """The latest other recorded weight before this form's date (for the >10 % check)."""
    instance = save.instance
    qs = VitalSigns.objects.filter(
        patient=save.patient, weight_kg__isnull=False, assessment_date__isnull=False
    )
    if instance.pk:
        qs = qs.exclude(pk=instance.pk)
    if instance.assessment_date:
        qs = qs.filter(assessment_date__lte=instance.assessment_date)
    row = qs.order_by("-assessment_date", "-pk").values_list("weight_kg", "assessment_date")
    save.ctx.previous_weight = row.first()
    save.ctx.weight_change_pct = save.patient.trial.weight_change_confirm_pct


def last_visit_done(save: CrfSave) -> None:
    """Whether the last scheduled visit of the protocol (highest study day) is done."""
    last = (
        Visit.objects.filter(patient=save.patient, scheduled=True)
        .order_by("-definition__day", "-definition__order")
        .values_list("status", flat=True)
        .first()
    )
    save.ctx.last_visit_done = last == VisitStatus.DONE


# --- validators: rules across records ---------------------------------------------------------


def dose_administration(patient: Patient, dose_number: int | None) -> Administration | None:
    if dose_number is None:
        return None
    return (
        Administration.objects.filter(
            patient=patient, given=True, visit__definition__dose_number=dose_number
        )
        .exclude(start_time=None)
        .first()
    )


def ae_linked_dose(save: CrfSave) -> Errors:
    """An AE names the dose it followed; the time since that infusion is derived (issue 13)."""
    instance = save.instance
    instance.hours_since_infusion = None
    if instance.related_dose_number is None:
        return {}
    given = dose_administration(save.patient, instance.related_dose_number)
    if given is None:
        return {
            "related_dose_number": [
                _("Dose %(dose)s is not recorded as given.")
                % {"dose": instance.related_dose_number}
            ]
        }
    if instance.onset_date:
        onset_time = instance.onset_time or dt.time(0, 0)
        onset = timezone.make_aware(dt.datetime.combine(instance.onset_date, onset_time))
        if instance.onset_date < timezone.localtime(given.start_time).date():
            return {"related_dose_number": [_("The event started before this dose.")]}
        hours = max((onset - given.start_time).total_seconds() / 3600, 0)
        instance.hours_since_infusion = Decimal(f"{hours:.1f}")
    return {}


def infusion_reaction_reported(save: CrfSave) -> Errors:
    """An infusion reaction is reported as an adverse event linked to that dose (issue 13)."""
    instance = save.instance
    if not (save.complete and instance.infusion_reaction):
        return {}
    dose = instance.visit.definition.dose_number
    linked = AdverseEvent.objects.filter(
        patient=save.patient, related_dose_number=dose, entered_in_error=False
    )
    if dose is not None and not linked.exists():
        return {
            "infusion_reaction": [
                _(
                    "Record the reaction as an adverse event linked to dose %(dose)s, then "
                    "complete this form."
                )
                % {"dose": dose}
            ]
        }
    return {}


def dosing_allowed(save: CrfSave) -> Errors:
    """No dose after the treatment ended (death, transplant, withdrawal: the patient course)."""
    instance = save.instance
    if not instance.given:
        return {}
    start = instance.start_time
    on = timezone.localtime(start).date() if start else None
    events = patient_course_events(save.patient)
    # An administration records no course event: the course sync after the store derives
    # the course again (with this dose) from these events instead of reading them twice.
    save.state["course_events"] = events
    refusal = patient_course(save.patient, events=events).dosing_refusal(on)
    return {"given": [refusal]} if refusal else {}


# --- before storing: the scores of a laboratory form ------------------------------------------


def lab_scores_compute(save: CrfSave) -> None:
    """Compute the visit's scores before anything is stored; a complete form needs the
    primary scores' inputs (or each marked not done)."""
    instance, visit = save.instance, save.visit
    typed = save.spec.dictionary.typed_field
    inputs = score_inputs_collect(
        instance,
        patient=save.patient,
        on=instance.assessment_date or visit.target_date,
        source_label=visit.definition.name,
    )
    try:
        result = scores_compute(inputs)
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            raise ValidationError({typed.get(k, k): v for k, v in exc.error_dict.items()}) from exc
        raise
    if save.complete and (missing := lab_completeness_errors(instance, result)):
        raise ValidationError(missing)
    save.state["scores"] = (inputs, result)


# --- effects, once stored --------------------------------------------------------------------


def lab_scores_store(save: CrfSave) -> None:
    inputs, result = save.state["scores"]
    visit = save.visit
    score_record_save(
        patient=save.patient,
        source=save.instance,
        label=visit.definition.name,
        assessed_on=save.instance.assessment_date or visit.target_date,
        inputs=inputs,
        result=result,
        trigger=f"{save.spec.label} CRF saved ({visit.definition.name})",
        source_created=save.created,
    )


def day1_from_dose1(save: CrfSave) -> None:
    """Day 1 is the day dose 1 was given: re-anchor the provisional plan on it."""
    instance, visit = save.instance, save.visit
    if visit.definition.kind != VisitKind.DOSING or visit.definition.dose_number != 1:
        return
    if instance.status != FormStatus.COMPLETE or not instance.given or not instance.start_time:
        return
    given_on = timezone.localtime(instance.start_time).date()
    if given_on != day1_of(save.patient):
        visits_reanchor(patient=save.patient, day1=given_on, user=save.user)
        save.state["plan_moved"] = True  # the visit being saved may have moved too
