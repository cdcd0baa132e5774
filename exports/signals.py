"""Write a ChangeEvent in the same transaction as every audited change the feed publishes.

Hooked on django-simple-history's ``post_create_historical_record``: every service, admin
action, command and task that saves one of these models writes its history row through
simple-history, so the feed misses no path and no service had to be edited.
"""

from __future__ import annotations

from django.db.models import Model
from simple_history.signals import post_create_historical_record

from trials import audit, history

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


def _event(instance: Model, history_instance: Model) -> ChangeEvent | None:
    source = _sources().get(instance._meta.label_lower)
    if source is None:
        return None
    kind, form_code = source
    patient_id, site_id = _patient_and_site(instance)
    return ChangeEvent(
        at=history_instance.history_date,
        kind=kind,
        model=instance._meta.label_lower,
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


def record_change(sender, instance, history_instance, using=None, **kwargs) -> None:
    # ``sender`` is the historical model; the published record is ``instance``.
    event = _event(instance, history_instance)
    if event is not None:
        # One INSERT with the save's other events when the writer gathers them (crf_save).
        audit.insert(event)


def record_changes_bulk(
    instances: list[Model], history_instances: list[Model], using: str | None = None, **kwargs
) -> None:
    """The events of rows written with ``bulk_history_create`` (which sends no signal), in
    one INSERT (#16: a randomization plans its visits in bulk)."""
    events = [
        event
        for instance, history in zip(instances, history_instances, strict=True)
        if (event := _event(instance, history)) is not None
    ]
    ChangeEvent.objects.using(using or "default").bulk_create(events)


def record_derived_change(instance: Model, *, created: bool, at, **kwargs) -> None:
    """The event of a derived record that keeps no history table (``trials.ScoreRecord``,
    #16): ``history_id`` is 0 and the record itself (its ``computed_at`` and ``trigger``) says
    when and why; the values it derives from have their own events."""
    kind, form_code = _sources()[instance._meta.label_lower]
    patient_id, site_id = _patient_and_site(instance)
    event = ChangeEvent(
        at=at,
        kind=kind,
        model=instance._meta.label_lower,
        object_id=instance.pk,
        history_id=0,
        change=ChangeEvent.Change.CREATED if created else ChangeEvent.Change.CHANGED,
        patient_id=patient_id,
        site_id=site_id,
        form_code=form_code,
    )
    audit.insert(event)


def connect() -> None:
    post_create_historical_record.connect(record_change, dispatch_uid="exports.record_change")
    history.bulk_history_created.connect(record_changes_bulk, dispatch_uid="exports.bulk")
    history.derived_record_saved.connect(record_derived_change, dispatch_uid="exports.derived")
