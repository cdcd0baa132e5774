"""Every write of monitoring: data queries, source data verification, locks, signatures.

The crf save path calls two functions here (``assert_editable`` before, ``crf_saved`` after
a form is stored), so the rules hold on the page and the API alike; the pre-save guard in
``signals.py`` refuses changes to locked records on any other path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Max
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.translation import gettext

from trials import history, roles
from trials.audit import save_audited
from trials.auth import reauthenticate
from trials.compiled import CompiledQuery
from trials.models import AccessEvent, Patient
from trials.services import access_event_record

from .models import CasebookSignature, DataQuery, Lock, SdvMark

# An answer is expected within this many days of the query (then it is shown as overdue).
QUERY_DUE_DAYS = 14
AUTOMATIC_QUERY_PREFIX = "Value outside the expected range, confirmed on entry"


# --- who may do what (asks trials.roles; no role logic of its own) ---------------------------


def may_raise_query(user, patient: Patient) -> bool:
    return roles.has_role(user, roles.Role.MONITOR, roles.Role.DATA_MANAGER) and (
        roles.can_view_site(user, patient.site_id)
    )


def may_answer_query(user, patient: Patient) -> bool:
    return roles.can_enter_data(user, patient.site_id)


def may_close_query(user, query: DataQuery) -> bool:
    """The raiser closes or re-opens; an automatic query, any monitor or data manager."""
    if query.raised_by_id is not None:
        return query.raised_by_id == user.pk
    return may_raise_query(user, query.patient)


def may_verify(user, patient: Patient) -> bool:
    return roles.has_role(user, roles.Role.MONITOR) and roles.can_view_site(user, patient.site_id)


def may_lock(user) -> bool:
    return roles.has_role(user, roles.Role.DATA_MANAGER)


def may_sign(user, patient: Patient) -> bool:
    return roles.has_role(user, roles.Role.PRINCIPAL_INVESTIGATOR) and roles.is_site_member(
        user, patient.site_id
    )


# --- forms and records -----------------------------------------------------------------------


def form_spec(form_code: str):
    from crf.registry import FORMS

    spec = FORMS.get(form_code)
    if spec is None:
        raise ValidationError({"form_code": gettext("Unknown form.")})
    return spec


def form_fields(spec) -> dict[str, str]:
    """Field name -> label of the form's data items (what a query or SDV mark may name)."""
    model_fields = {f.name: f for f in spec.model._meta.concrete_fields}
    return {
        name: str(model_fields[name].verbose_name)
        for name in spec.form_class._meta.fields
        if name in model_fields
    }


def record_get(*, patient: Patient, form_code: str, record_id: int | None):
    spec = form_spec(form_code)
    if record_id is None:
        raise ValidationError({"record_id": gettext("Name the form record.")})
    record = spec.model.objects.filter(patient=patient, pk=record_id).first()
    if record is None:
        raise ValidationError({"record_id": gettext("No such form for this patient.")})
    return spec, record


def _clean_field(spec, field: str) -> str:
    field = (field or "").strip()
    if field and field not in form_fields(spec):
        raise ValidationError({"field": gettext("This form has no such field.")})
    return field


# --- data queries ----------------------------------------------------------------------------


@transaction.atomic
def query_raise(
    *, user, patient: Patient, form_code: str, record_id: int | None, field: str = "", text: str
) -> DataQuery:
    """A monitor or data manager asks the site about a field (or a whole form)."""
    if not may_raise_query(user, patient):
        raise PermissionDenied("Only monitors and data managers raise queries.")
    spec, record = record_get(patient=patient, form_code=form_code, record_id=record_id)
    field = _clean_field(spec, field)
    text = (text or "").strip()
    if len(text) < 3:
        raise ValidationError({"text": gettext("Write the question for the site.")})
    now = timezone.now()
    query = DataQuery(
        patient=patient,
        visit_id=getattr(record, "visit_id", None),
        form_code=form_code,
        record_id=record.pk,
        field=field,
        text=text,
        raised_by=user,
        raised_at=now,
        due_date=timezone.localdate(now) + dt.timedelta(days=QUERY_DUE_DAYS),
    )
    return save_audited(query, reason="Query raised", user=user)


def _lock_query(query: DataQuery) -> DataQuery:
    return DataQuery.objects.select_for_update().select_related("patient").get(pk=query.pk)


@transaction.atomic
def query_answer(*, user, query: DataQuery, answer: str) -> DataQuery:
    """Site staff answer an open query (the correction itself is saved on the form)."""
    query = _lock_query(query)
    if not may_answer_query(user, query.patient):
        raise PermissionDenied("Only the site's investigators answer queries.")
    if query.status != DataQuery.Status.OPEN:
        raise ValidationError({"answer": gettext("Only an open query can be answered.")})
    answer = (answer or "").strip()
    if len(answer) < 3:
        raise ValidationError(
            {"answer": gettext("Write the answer (what was checked or corrected).")}
        )
    query.status = DataQuery.Status.ANSWERED
    query.answer, query.answered_by, query.answered_at = answer, user, timezone.now()
    return save_audited(query, reason="Query answered", user=user)


@transaction.atomic
def query_close(*, user, query: DataQuery, note: str = "") -> DataQuery:
    query = _lock_query(query)
    if not may_close_query(user, query):
        raise PermissionDenied("Only the person who raised the query closes it.")
    if query.status == DataQuery.Status.CLOSED:
        raise ValidationError({"note": gettext("The query is already closed.")})
    query.status = DataQuery.Status.CLOSED
    query.closed_by, query.closed_at = user, timezone.now()
    return save_audited(query, reason=(note or "").strip() or "Query closed", user=user)


@transaction.atomic
def query_reopen(*, user, query: DataQuery, reason: str) -> DataQuery:
    """The raiser re-opens an answered or closed query, saying why (a new due date runs)."""
    query = _lock_query(query)
    if not may_close_query(user, query):
        raise PermissionDenied("Only the person who raised the query re-opens it.")
    if query.status == DataQuery.Status.OPEN:
        raise ValidationError({"note": gettext("The query is already open.")})
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise ValidationError({"note": gettext("Say why the query is re-opened.")})
    query.status = DataQuery.Status.OPEN
    query.closed_by = query.closed_at = None
    query.due_date = timezone.localdate() + dt.timedelta(days=QUERY_DUE_DAYS)
    return save_audited(query, reason=f"Re-opened: {reason}", user=user)


def _automatic_queries(
    *, spec, instance, warnings: dict[str, list[str]], changed, created: bool = False
) -> None:
    """One open query per soft limit overridden on a field that changed (no duplicates)."""
    fields = [f for f in sorted(warnings) if changed is None or f in changed]
    if not fields:
        return  # confirmed before, values unchanged: already queried
    # The pending automatic queries of every warned field in one read (#16); a record
    # inserted by this very save has none yet (its key is new): nothing to read.
    pending = (
        set()
        if created
        else set(
            DataQuery.objects.filter(
                form_code=spec.code,
                record_id=instance.pk,
                field__in=fields,
                automatic=True,
                status__in=(DataQuery.Status.OPEN, DataQuery.Status.ANSWERED),
            ).values_list("field", flat=True)
        )
    )
    with translation.override("en"):  # the stored query text names the field in English
        names = form_fields(spec)
    for field in fields:
        if field in pending:
            continue
        messages = warnings[field]
        now = timezone.now()
        label = names.get(field, field)
        # Stored text stays in English whatever the user's language: translated at display.
        with translation.override("en"):
            text = (
                f"{AUTOMATIC_QUERY_PREFIX} ({label}): {' '.join(str(m) for m in messages)} "
                "Please check it against the source."
            )
        query = DataQuery(
            patient_id=instance.patient_id,
            visit_id=getattr(instance, "visit_id", None),
            form_code=spec.code,
            record_id=instance.pk,
            field=field,
            text=text,
            automatic=True,
            raised_at=now,
            due_date=timezone.localdate(now) + dt.timedelta(days=QUERY_DUE_DAYS),
        )
        # Patient and visit are those of the record just stored (read and locked by the save).
        save_audited(
            query, reason="Soft edit check overridden on save", proven=("patient", "visit")
        )


# --- source data verification ----------------------------------------------------------------


@transaction.atomic
def sdv_mark(
    *, user, patient: Patient, form_code: str, record_id: int, field: str = ""
) -> SdvMark:
    """A monitor marks a field (or the whole form) as verified against the source."""
    if not may_verify(user, patient):
        raise PermissionDenied("Only monitors verify source data.")
    spec, record = record_get(patient=patient, form_code=form_code, record_id=record_id)
    field = _clean_field(spec, field)
    existing = SdvMark.objects.filter(
        form_code=form_code, record_id=record.pk, field=field, cleared_at__isnull=True
    ).first()
    if existing is not None:
        return existing
    mark = SdvMark(
        patient=patient,
        form_code=form_code,
        record_id=record.pk,
        field=field,
        verified_by=user,
        verified_at=timezone.now(),
    )
    return save_audited(mark, reason="Source data verified", user=user)


def changed_fields_of(spec, instance, previous: dict[str, Any] | None = None) -> list[str] | None:
    """Data fields that differ from the stored version before this save (None: just created).

    ``previous`` holds the stored values the saving service read under its row lock, so no
    history read is needed (#16); without it, the record's last two history rows are compared.
    """
    if previous is not None:
        return [f for f in form_fields(spec) if previous.get(f) != getattr(instance, f, None)]
    last_two = list(instance.history.order_by("-history_id")[:2])
    if len(last_two) < 2:
        return None
    new, old = last_two
    return [f for f in form_fields(spec) if getattr(old, f, None) != getattr(new, f, None)]


def sdv_clear_on_change(*, user, spec, instance, changed: list[str], reason: str) -> int:
    """A change after verification clears the marks it touches, saying why (audited)."""
    if not changed:
        return 0
    marks = SdvMark.objects.select_for_update().filter(
        form_code=spec.code, record_id=instance.pk, cleared_at__isnull=True
    )
    names = form_fields(spec)
    who = history.user_label(user) if user is not None else "system"
    cleared = 0
    for mark in marks:
        if mark.field and mark.field not in changed:
            continue
        touched = [names.get(f, f) for f in changed if not mark.field or f == mark.field]
        mark.cleared_at = timezone.now()
        mark.cleared_reason = (
            f"{', '.join(touched)} changed by {who}" + (f": {reason}" if reason else "")
        )[:300]
        save_audited(mark, reason="Verified data changed", user=user)
        cleared += 1
    return cleared


def crf_saved(
    *,
    user,
    form_code: str,
    instance,
    warnings: dict,
    reason: str = "",
    created: bool | None = None,
    previous: dict[str, Any] | None = None,
) -> None:
    """After a form is stored: clear the SDV marks of changed data, open automatic queries.

    ``created`` / ``previous`` (the stored values before an update), when the saving service
    knows them, spare the history read that otherwise finds what changed.
    """
    spec = form_spec(form_code)
    changed = None if created else changed_fields_of(spec, instance, previous)
    if changed:
        sdv_clear_on_change(
            user=user, spec=spec, instance=instance, changed=changed, reason=reason
        )
    if warnings:
        _automatic_queries(
            spec=spec, instance=instance, warnings=warnings, changed=changed, created=bool(created)
        )


# --- locks -------------------------------------------------------------------------------------


def _active_locks(
    *, patient_id: int, visit_id: int | None = None, form_code: str = "", record_id=None
):
    """The unlocked locks covering a record (patient, its visit, or the form itself)."""
    from django.db.models import Q

    match = Q(level=Lock.Level.PATIENT)
    if visit_id is not None:
        match |= Q(level=Lock.Level.VISIT, visit_id=visit_id)
    if record_id is not None:
        match |= Q(level=Lock.Level.FORM, form_code=form_code, record_id=record_id)
    return Lock.objects.filter(match, patient_id=patient_id, unlocked_at__isnull=True)


def _active_lock_query(with_visit: bool, with_record: bool) -> CompiledQuery:
    """``_active_locks(...)[:1]`` for one shape of keys (``[:1]`` in the model's order, as
    ``first()``), compiled once (#16): every save asks."""
    keys: dict[str, type] = {"patient_id": int}
    if with_visit:
        keys["visit_id"] = int
    if with_record:
        keys |= {"form_code": str, "record_id": int}
    return CompiledQuery(lambda **values: _active_locks(**values)[:1], **keys)


# One compiled query per shape: with or without a visit, with or without a record.
_ACTIVE_LOCK = {
    (visit, record): _active_lock_query(visit, record)
    for visit in (False, True)
    for record in (False, True)
}


def active_lock(
    *, patient_id: int, visit_id: int | None, form_code: str, record_id: int | None
) -> Lock | None:
    """The lock that stops an edit of this record (patient, its visit, or the form itself)."""
    values: dict = {"patient_id": int(patient_id)}  # as the fields would prepare them
    if visit_id is not None:
        values["visit_id"] = int(visit_id)
    if record_id is not None:
        values |= {"form_code": str(form_code), "record_id": int(record_id)}
    found = _ACTIVE_LOCK[(visit_id is not None, record_id is not None)].list(**values)
    return found[0] if found else None


def locked_message(lock: Lock) -> str:
    return (
        f"Locked by the data manager ({lock.get_level_display().lower()} lock, "
        f"{timezone.localtime(lock.locked_at):%Y-%m-%d}): no changes until it is unlocked."
    )


def assert_editable(
    *, patient: Patient, visit=None, form_code: str, record_id=None, instance=None
) -> None:
    """Refuse any change of a locked record (the crf save path asks before saving).

    ``instance``, the record about to be saved, is marked as checked so that the pre-save
    guard (``monitoring.signals``) does not read the locks a second time for it (#16).
    """
    lock = active_lock(
        patient_id=patient.pk,
        visit_id=getattr(visit, "pk", None),
        form_code=form_code,
        record_id=record_id,
    )
    if lock is not None:
        raise ValidationError(locked_message(lock), code="locked")
    if instance is not None:
        instance._lock_checked = lock_target(
            patient_id=patient.pk, visit_id=getattr(visit, "pk", None), record_id=record_id
        )


def lock_target(*, patient_id, visit_id, record_id) -> tuple:
    """What a lock check covered: the same patient, visit and record are covered again."""
    return (patient_id, visit_id, record_id)


@transaction.atomic
def lock_set(
    *,
    user,
    patient: Patient,
    level: str,
    visit_id: int | None = None,
    form_code: str = "",
    record_id: int | None = None,
) -> Lock:
    """A data manager locks a patient, a visit or one form (audited, and an access event)."""
    if not may_lock(user):
        raise PermissionDenied("Only data managers lock data.")
    level = Lock.Level(level) if level in Lock.Level.values else None
    if level is None:
        raise ValidationError({"level": gettext("Choose what to lock: patient, visit or form.")})
    from crf.models import Visit

    # Every save takes its patient's row (patient-level forms, screening) or its visit's row
    # (visit forms) before it reads the locks: holding those rows here makes a save that is in
    # flight finish before the lock exists, and one that waits read the lock and be refused.
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    list(Visit.objects.select_for_update().filter(patient=patient).values_list("pk"))
    visit = None
    if level == Lock.Level.VISIT:
        visit = Visit.objects.filter(patient=patient, pk=visit_id).first()
        if visit is None:
            raise ValidationError({"visit_id": gettext("No such visit for this patient.")})
    if level == Lock.Level.FORM:
        _spec, record = record_get(patient=patient, form_code=form_code, record_id=record_id)
        record_id = record.pk
    else:
        form_code, record_id = "", None
    lock = Lock(
        patient=patient,
        level=level,
        visit=visit,
        form_code=form_code,
        record_id=record_id,
        locked_by=user,
        locked_at=timezone.now(),
    )
    save_audited(lock, reason=f"{lock.get_level_display()} locked", user=user)
    access_event_record(
        action=AccessEvent.Action.DATA_LOCKED, actor=user, detail=_lock_detail(lock)
    )
    return lock


def _lock_detail(lock: Lock) -> str:
    target = {
        Lock.Level.PATIENT: "",
        Lock.Level.VISIT: f", visit {lock.visit}",
        Lock.Level.FORM: f", form {lock.form_code} record {lock.record_id}",
    }[lock.level]
    return f"{lock.get_level_display()} lock of {lock.patient}{target}"


@transaction.atomic
def lock_release(*, user, lock: Lock, reason: str) -> Lock:
    """Unlocking needs a reason; it is audited and recorded as an access event."""
    if not may_lock(user):
        raise PermissionDenied("Only data managers unlock data.")
    lock = Lock.objects.select_for_update().select_related("patient").get(pk=lock.pk)
    if not lock.active:
        raise ValidationError({"reason": gettext("This lock was already released.")})
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise ValidationError({"reason": gettext("Give the reason for unlocking.")})
    lock.unlocked_by, lock.unlocked_at, lock.unlock_reason = user, timezone.now(), reason
    save_audited(lock, reason=f"Unlocked: {reason}", user=user)
    access_event_record(
        action=AccessEvent.Action.DATA_UNLOCKED,
        actor=user,
        detail=f"{_lock_detail(lock)}; reason: {reason}",
    )
    return lock


# --- casebook signature ------------------------------------------------------------------------


def casebook_hash(patient: Patient) -> str:
    """SHA-256 of the casebook's audit-trail state: the last version id and number of versions
    of every clinical record of the patient. Any change (any path) gives another hash.

    Sources shown only to unblinded roles or coarsened for blinded readers are left out: a
    blinded signer must not see a change that only the pharmacy made.
    """
    digest = hashlib.sha256(f"patient:{patient.pk}".encode())
    for source in history.sources(unblinded=False):
        if source.shown_fields is not None or source.model._meta.app_label == "monitoring":
            continue  # monitoring's own records (queries, SDV, locks) are not casebook data
        qs = history.patient_filter(source, source.model.history.model.objects, patient.pk)
        state = qs.aggregate(last=Max("history_id"), n=Count("history_id"))
        digest.update(f"|{source.key}:{state['last']}:{state['n']}".encode())
    return digest.hexdigest()


def casebook_sign(
    *, request: HttpRequest, patient: Patient, password: str, meaning_confirmed: bool
) -> CasebookSignature:
    """The PI signs the casebook: password re-entered through the login backends (a wrong one
    counts toward the lockout), the meaning shown and confirmed, the data bound by hash.

    Not atomic as a whole: a refused signature stays recorded as an access event.
    """
    user = request.user
    if not may_sign(user, patient):
        raise PermissionDenied("Only the site's principal investigator signs the casebook.")
    errors = {}
    if not meaning_confirmed:
        errors["meaning_confirmed"] = f"Confirm the meaning: “{CasebookSignature.MEANING}”."
    if not reauthenticate(request, password):
        errors["password"] = "The password is not correct."  # noqa: S105 - a message
        access_event_record(
            action=AccessEvent.Action.SIGNATURE_REFUSED,
            actor=user,
            detail=f"Casebook of {patient}",
        )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        patient = Patient.objects.select_for_update().get(pk=patient.pk)
        signature = CasebookSignature(
            patient=patient,
            signed_by=user,
            signer_name=user.get_full_name().strip() or user.get_username(),
            signed_at=timezone.now(),
            meaning=CasebookSignature.MEANING,
            data_hash=casebook_hash(patient),
        )
        save_audited(signature, reason="Casebook signed", user=user)
        access_event_record(
            action=AccessEvent.Action.CASEBOOK_SIGNED, actor=user, detail=f"Casebook of {patient}"
        )
    return signature
