"""Assemble a CDISC ODM 1.3.2 file from the datasets, one chunk of subjects at a time.

A *transactional* ODM file (ODM 1.3.2 §2.8: several instructions per data point), so the
export carries the whole audit trail, not only the current values: each form's creation and
every later change, who made it, when, where and why, oldest first; the old value of an item is
the one its previous instruction set. The casebook e-signatures are ``Signature`` elements
referring to the AdminData's ``User``, ``Location`` and ``SignatureDef``.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from .dictionary import Dataset, Variable, dataset_variables, datasets
from .formats import (
    MDV_OID,
    STUDY_OID,
    item_oid,
    odm_admin,
    odm_audit_record,
    odm_header,
    odm_item_group,
    odm_item_values,
    odm_items,
    odm_metadata,
    odm_signature,
    text_value,
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


def _history(
    dataset: Dataset, variables: list[Variable], pks: list[int]
) -> dict[int, list[tuple]]:
    """pk -> every history version of the record, oldest first (one query per chunk):
    (history id, when, user id, reason, history type, {item OID: text})."""
    items = [v for v in odm_items(variables) if v.field is not None]
    oids = [item_oid(dataset, v) for v in items]
    rows = (
        dataset.model.history.filter(id__in=pks)
        .order_by("id", "history_date", "history_id")
        .values_list(
            "id",
            "history_id",
            "history_date",
            "history_user_id",
            "history_change_reason",
            "history_type",
            *[v.field for v in items],
        )
    )
    result: dict[int, list[tuple]] = {}
    for pk, history_id, when, user_id, reason, kind, *values in rows:
        texts = {oid: text_value(value) for oid, value in zip(oids, values, strict=True)}
        result.setdefault(pk, []).append((history_id, when, user_id, reason or "", kind, texts))
    return result


def _trail(dataset: Dataset, current: dict[str, str], versions: list[tuple], location: str) -> str:
    """The record's full audit trail as transactional ItemGroupData instructions, oldest
    first: the creation (Insert: what was entered), then each change (Update: only the items
    whose value changed, old value = the previous instruction's), each with its AuditRecord
    (who, when, reason). Applying them in order gives the current record."""
    parts: list[str] = []
    state: dict[str, str] = {}
    label = dataset.model._meta.label_lower
    for history_id, when, user_id, reason, kind, texts in versions:
        if kind == "-":  # a deletion; the record exists again (restored): next is an insert
            state = {}
            continue
        first = not state
        changes = {
            oid: text
            for oid, text in texts.items()
            if (text != "" if first else text != state.get(oid, ""))
        }
        state = texts
        if not changes and not first:
            continue  # a save that changed no exported item (bookkeeping only)
        audit = odm_audit_record(
            user_oid=_user_oid(user_id),
            location_oid=location,
            when=when,
            reason=reason,
            source=f"{label} history {history_id}",
        )
        parts.append(
            odm_item_group(
                dataset, changes, transaction="Insert" if first else "Update", audit=audit
            )
        )
    # Values no history row explains (computed columns such as the unblinded allocation, or a
    # record written without history): one last instruction, honestly without an AuditRecord.
    rest = {oid: text for oid, text in current.items() if text != state.get(oid, "")}
    if rest or not parts:
        parts.append(odm_item_group(dataset, rest, transaction="Update" if parts else "Insert"))
    return "".join(parts)


def odm_stream(
    *, user, codes: list[str], flt: ExportFilter, unblinded: bool, chunk_size: int = 100
) -> Iterator[bytes]:
    """The ODM 1.3.2 file, streamed: metadata and admin data, then one ClinicalData per chunk
    of ``chunk_size`` subjects (a fixed number of queries per chunk, whatever its history)."""
    from django.contrib.auth import get_user_model

    from monitoring.models import CasebookSignature
    from trials.models import Trial

    chosen = [datasets()[c] for c in codes]
    pairs = [(d, dataset_variables(d, unblinded=unblinded)) for d in chosen]
    trial = Trial.objects.order_by("pk").first()
    events, event_of_definition = _events(chosen)
    patients_qs = export_patients(user=user, flt=flt)
    user_ids = set(
        CasebookSignature.objects.filter(patient__in=patients_qs.values("pk"))
        .values_list("signed_by_id", flat=True)
        .distinct()
    )
    for dataset in chosen:
        history = dataset.model.history.all()
        field = "id" if dataset.code == "patients" else "patient_id"
        history = history.filter(**{f"{field}__in": patients_qs.values("pk")})
        user_ids |= set(history.values_list("history_user_id", flat=True).distinct())
    users = [(SYSTEM_USER, "system", "")] + [
        (_user_oid(pk), name, f"{first} {last}".strip())
        for pk, name, first, last in get_user_model()
        .objects.filter(pk__in=[u for u in user_ids if u])
        .order_by("pk")
        .values_list("pk", "username", "first_name", "last_name")
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
            users=users,
            sites=[(f"LOC.{code}", name) for code, name in sorted(sites.items())],
            signature_meaning=CasebookSignature.MEANING,
        )
        iterator = patients_qs.iterator(chunk_size=chunk_size)
        while chunk := list(islice(iterator, chunk_size)):
            yield f'<ClinicalData StudyOID="{STUDY_OID}" MetaDataVersionOID="{MDV_OID}">'
            yield from _subjects(user, chunk, pairs, flt, unblinded, event_of_definition)
            yield "</ClinicalData>"
        yield "</ODM>\n"

    for part in text():
        yield part.encode()


def _signatures(patients) -> dict[int, list]:
    """patient pk -> its casebook signatures, oldest first (one query per chunk)."""
    from monitoring.models import CasebookSignature

    result: dict[int, list] = {}
    for signature in CasebookSignature.objects.filter(patient__in=patients).order_by(
        "patient_id", "signed_at", "pk"
    ):
        result.setdefault(signature.patient_id, []).append(signature)
    return result


def _subjects(user, patients, pairs, flt, unblinded, event_of_definition) -> Iterator[str]:
    # subject pk -> event key -> list of xml FormData strings, built per dataset (bounded).
    forms: dict[int, dict[tuple, list[str]]] = {p.pk: {} for p in patients}
    for dataset, variables in pairs:
        records = list(
            dataset_records(
                user=user, dataset=dataset, flt=flt, unblinded=unblinded, patients=patients
            )
        )
        histories = _history(dataset, variables, [r.instance.pk for r in records])
        for record in records:
            if record.visit is not None:
                oid = event_of_definition.get(record.visit.definition_id)
                if oid is None:
                    continue
                repeat = record.visit.pk if not record.visit.scheduled else None
                key = (record.visit.target_date.isoformat(), record.visit.pk, oid, repeat)
            else:
                key = ("~", 0, SUBJECT_EVENT, None)
            form_repeat = record.instance.pk if dataset.repeating else None
            attrs = f' FormOID="F.{dataset.oid}"'
            if form_repeat is not None:
                attrs += f' FormRepeatKey="{form_repeat}"'
            trail = _trail(
                dataset,
                odm_item_values(dataset, variables, record.values),
                histories.get(record.instance.pk, []),
                f"LOC.{record.patient.site.code}",
            )
            forms[record.patient.pk].setdefault(key, []).append(
                f'<FormData{attrs} TransactionType="Upsert">{trail}</FormData>'
            )
    signatures = _signatures(patients)
    for patient in patients:
        subject = _xml(patient.subject_id or patient.screening_number)
        site_ref = f'<SiteRef LocationOID="LOC.{_xml(patient.site.code)}"/>'
        signed = [
            odm_signature(
                sig_id=f"SIG.{s.pk}",
                user_oid=_user_oid(s.signed_by_id),
                location_oid=f"LOC.{patient.site.code}",
                when=s.signed_at,
            )
            for s in signatures.get(patient.pk, [])
        ]
        # A subject element holds one Signature: superseded casebook signatures (re-signed
        # after a change) come first as instructions of their own, the latest with the data.
        for earlier in signed[:-1]:
            yield f'<SubjectData SubjectKey="{subject}" TransactionType="Upsert">'
            yield f"{earlier}{site_ref}</SubjectData>"
        yield f'<SubjectData SubjectKey="{subject}" TransactionType="Upsert">'
        yield (signed[-1] if signed else "") + site_ref
        for key in sorted(forms[patient.pk]):
            _date, _pk, oid, repeat = key
            repeat_attr = f' StudyEventRepeatKey="{repeat}"' if repeat is not None else ""
            yield f'<StudyEventData StudyEventOID="{oid}"{repeat_attr} TransactionType="Upsert">'
            yield from forms[patient.pk][key]
            yield "</StudyEventData>"
        yield "</SubjectData>"


def _xml(value: str) -> str:
    from xml.sax.saxutils import escape

    return escape(value, {'"': "&quot;"})
