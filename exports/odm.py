"""Assemble a CDISC ODM 1.3.2 snapshot from the datasets, one chunk of subjects at a time."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from .dictionary import Dataset, dataset_variables, datasets
from .formats import (
    MDV_OID,
    STUDY_OID,
    odm_admin,
    odm_audit_record,
    odm_header,
    odm_item_group,
    odm_metadata,
)
from .selectors import ExportFilter, dataset_records, export_patients

SUBJECT_EVENT = "SE.SUBJECT"
SYSTEM_USER = "USR.SYSTEM"


def _event_oid(code: str) -> str:
    return "SE." + code.upper().replace("-", "_")


def _events(chosen: list[Dataset]) -> tuple[list[dict], dict]:
    from crf.models import VisitDefinition, VisitKind
    from crf.registry import FORMS

    events, by_definition = [], {}
    for definition in VisitDefinition.objects.order_by("trial", "order", "pk"):
        forms = [
            d.code for d in chosen if d.per_visit and definition.kind in FORMS[d.code].visit_kinds
        ]
        if not forms:
            continue
        unscheduled = definition.kind == VisitKind.UNSCHEDULED
        oid = _event_oid(definition.code)
        by_definition[definition.pk] = oid
        events.append(
            {
                "oid": oid,
                "name": definition.name,
                "repeating": "Yes" if unscheduled else "No",
                "type": "Unscheduled" if unscheduled else "Scheduled",
                "forms": forms,
            }
        )
    subject_forms = [d.code for d in chosen if not d.per_visit]
    if subject_forms:
        events.append(
            {
                "oid": SUBJECT_EVENT,
                "name": "Subject-level forms",
                "repeating": "No",
                "type": "Common",
                "forms": subject_forms,
            }
        )
    return events, by_definition


def _user_oid(user_id: int | None) -> str:
    return f"USR.{user_id}" if user_id else SYSTEM_USER


def _last_audit(dataset: Dataset, pks: list[int]) -> dict[int, tuple]:
    """pk -> (user id, when, reason) of the latest history row of each record (one query)."""
    rows = (
        dataset.model.history.filter(id__in=pks)
        .order_by("id", "-history_date", "-history_id")
        .values_list("id", "history_user_id", "history_date", "history_change_reason")
    )
    result: dict[int, tuple] = {}
    for pk, user_id, when, reason in rows:
        result.setdefault(pk, (user_id, when, reason or ""))
    return result


def odm_stream(
    *, user, codes: list[str], flt: ExportFilter, unblinded: bool, chunk_size: int = 100
) -> Iterator[bytes]:
    from django.contrib.auth import get_user_model

    from trials.models import Trial

    chosen = [datasets()[c] for c in codes]
    pairs = [(d, dataset_variables(d, unblinded=unblinded)) for d in chosen]
    trial = Trial.objects.order_by("pk").first()
    events, event_of_definition = _events(chosen)
    patients_qs = export_patients(user=user, flt=flt)
    user_ids = set()
    for dataset in chosen:
        history = dataset.model.history.all()
        field = "id" if dataset.code == "patients" else "patient_id"
        history = history.filter(**{f"{field}__in": patients_qs.values("pk")})
        user_ids |= set(history.values_list("history_user_id", flat=True).distinct())
    users = [(SYSTEM_USER, "system")] + [
        (_user_oid(pk), name)
        for pk, name in get_user_model()
        .objects.filter(pk__in=[u for u in user_ids if u])
        .order_by("pk")
        .values_list("pk", "username")
    ]
    sites = {p_site: name for p_site, name in patients_qs.values_list("site__code", "site__name")}

    def text() -> Iterator[str]:
        yield odm_header(file_oid=f"{STUDY_OID}.EXPORT")
        yield from odm_metadata(
            study_name=trial.title if trial else "Liveradvance",
            protocol=trial.registry_ids if trial else "",
            events=events,
            datasets=pairs,
        )
        yield from odm_admin(
            users=users, sites=[(f"LOC.{code}", name) for code, name in sorted(sites.items())]
        )
        yield f'<ClinicalData StudyOID="{STUDY_OID}" MetaDataVersionOID="{MDV_OID}">'
        iterator = patients_qs.iterator(chunk_size=chunk_size)
        while chunk := list(islice(iterator, chunk_size)):
            yield from _subjects(user, chunk, pairs, flt, unblinded, event_of_definition)
        yield "</ClinicalData></ODM>\n"

    for part in text():
        yield part.encode()


def _subjects(user, patients, pairs, flt, unblinded, event_of_definition) -> Iterator[str]:
    # subject pk -> event key -> list of xml FormData strings, built per dataset (bounded).
    forms: dict[int, dict[tuple, list[str]]] = {p.pk: {} for p in patients}
    for dataset, variables in pairs:
        records = list(
            dataset_records(
                user=user, dataset=dataset, flt=flt, unblinded=unblinded, patients=patients
            )
        )
        audits = _last_audit(dataset, [r.instance.pk for r in records])
        for record in records:
            if record.visit is not None:
                oid = event_of_definition.get(record.visit.definition_id)
                if oid is None:
                    continue
                repeat = record.visit.pk if not record.visit.scheduled else None
                key = (record.visit.target_date.isoformat(), record.visit.pk, oid, repeat)
            else:
                key = ("~", 0, SUBJECT_EVENT, None)
            user_id, when, reason = audits.get(record.instance.pk, (None, None, ""))
            form_repeat = record.instance.pk if dataset.repeating else None
            parts = [f'<FormData FormOID="F.{dataset.oid}"']
            if form_repeat is not None:
                parts.append(f' FormRepeatKey="{form_repeat}"')
            parts.append(">")
            if when is not None:
                parts.append(
                    odm_audit_record(
                        user_oid=_user_oid(user_id),
                        location_oid=f"LOC.{record.patient.site.code}",
                        when=when,
                        reason=reason,
                    )
                )
            parts.append(odm_item_group(dataset, variables, record.values))
            parts.append("</FormData>")
            forms[record.patient.pk].setdefault(key, []).append("".join(parts))
    for patient in patients:
        subject = patient.subject_id or patient.screening_number
        yield f'<SubjectData SubjectKey="{_xml(subject)}">'
        yield f'<SiteRef LocationOID="LOC.{_xml(patient.site.code)}"/>'
        for key in sorted(forms[patient.pk]):
            _date, _pk, oid, repeat = key
            repeat_attr = f' StudyEventRepeatKey="{repeat}"' if repeat is not None else ""
            yield f'<StudyEventData StudyEventOID="{oid}"{repeat_attr}>'
            yield from forms[patient.pk][key]
            yield "</StudyEventData>"
        yield "</SubjectData>"


def _xml(value: str) -> str:
    from xml.sax.saxutils import escape

    return escape(value, {'"': "&quot;"})
