"""The lock holds on every path (admin, shell, commands, tasks), not only the crf service.

An invariant rather than business flow, like ``trials.signals``: saving a form record of a
locked patient, visit or form is refused before it reaches the database.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError


def _code_of(model) -> str | None:
    from crf.registry import FORMS

    return next((code for code, spec in FORMS.items() if spec.model is model), None)


def refuse_locked_save(sender, instance, raw: bool = False, **kwargs) -> None:
    if raw or not getattr(instance, "patient_id", None):
        return
    from .services import active_lock, lock_target, locked_message

    visit_id = getattr(instance, "visit_id", None)
    checked = instance.__dict__.pop("_lock_checked", None)
    target = lock_target(patient_id=instance.patient_id, visit_id=visit_id, record_id=instance.pk)
    if checked == target:
        return  # the service checked this very record in this save (one lock read, #16)
    form_code = _code_of(sender) or sender._meta.model_name
    lock = active_lock(
        patient_id=instance.patient_id,
        visit_id=visit_id,
        form_code=form_code,
        record_id=instance.pk,
    )
    if lock is not None:
        raise ValidationError(locked_message(lock), code="locked")


def connect() -> None:
    from django.db.models.signals import pre_save

    from crf.registry import FORMS
    from trials.models import Screening

    for model in {spec.model for spec in FORMS.values()} | {Screening}:
        pre_save.connect(
            refuse_locked_save,
            sender=model,
            dispatch_uid=f"monitoring.refuse_locked_save.{model._meta.label_lower}",
        )
