"""Write a ChangeEvent in the same transaction as every audited change the feed publishes.

Hooked on django-simple-history's ``post_create_historical_record``: every service, admin
action, command and task that saves one of these models writes its history row through
simple-history, so the feed misses no path and no service had to be edited.
"""

from __future__ import annotations

from django.db.models import Model
from simple_history.signals import post_create_historical_record

from .models import ChangeEvent

# model label -> (event kind, form code); eCRFs come from the registry (one place).
_SOURCES: dict[str, tuple[str, str]] = {}


def _sources() -> dict[str, tuple[str, str]]:
    if not _SOURCES:
        from crf.registry import FORMS

        _SOURCES.update(
            {
                "trials.patient": (ChangeEvent.Kind.PATIENT, ""),
                "trials.screening": (ChangeEvent.Kind.SCREENING, "screening"),
                "trials.scorerecord": (ChangeEvent.Kind.SCORES, ""),
                "crf.visit": (ChangeEvent.Kind.VISIT, ""),
                "randomization.allocation": (ChangeEvent.Kind.ALLOCATION, ""),
            }
        )
        _SOURCES.update(
            {
                spec.model._meta.label_lower: (ChangeEvent.Kind.FORM, code)
                for code, spec in FORMS.items()
            }
        )
    return _SOURCES


def _patient_and_site(instance: Model) -> tuple[int | None, int | None]:
    from trials.models import Patient

    if isinstance(instance, Patient):
        return instance.pk, instance.site_id
    patient_id = getattr(instance, "patient_id", None)
    if patient_id is None:
        return None, None
    return patient_id, instance.patient.site_id  # cached on the instance by its services


def record_change(sender, instance, history_instance, using=None, **kwargs) -> None:
    # ``sender`` is the historical model; the published record is ``instance``.
    label = instance._meta.label_lower
    source = _sources().get(label)
    if source is None:
        return
    kind, form_code = source
    patient_id, site_id = _patient_and_site(instance)
    ChangeEvent.objects.using(using).create(
        at=history_instance.history_date,
        kind=kind,
        model=label,
        object_id=instance.pk,
        history_id=history_instance.pk,
        change=history_instance.history_type,
        patient_id=patient_id,
        site_id=site_id,
        form_code=form_code,
        status=str(getattr(instance, "status", "") or ""),
        user_id=getattr(history_instance, "history_user_id", None),
        unblinded_only=kind == ChangeEvent.Kind.ALLOCATION,
    )


def connect() -> None:
    post_create_historical_record.connect(record_change, dispatch_uid="exports.record_change")
