"""Assemble a CDISC ODM 1.3.2 file from the datasets, one chunk of subjects at a time.

A *transactional* ODM file (ODM 1.3.2 §2.8: several instructions per data point), so the
export carries the whole audit trail, not only the current values: each form's creation and
every later change, who made it, when, where and why, oldest first; the old value of an item is
the one its previous instruction set. The casebook e-signatures are ``Signature`` elements
referring to the AdminData's ``User``, ``Location`` and ``SignatureDef``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from operator import itemgetter

from .dictionary import Dataset, dataset_variables, datasets
from .formats import (
    MDV_OID,
    STUDY_OID,
    ItemGroupWriter,
    odm_admin,
    odm_audit_record,
    odm_header,
    odm_metadata,
    odm_signature,
)
from .selectors import (
    CONTEXT,
    ExportFilter,
    dataset_history_rows,
    dataset_rows,
    export_patients,
    signature_rows,
)

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


def _getter(positions: list[int]) -> Callable[[tuple], tuple]:
    """A function returning the tuple of the values at ``positions`` of a row."""
    if len(positions) == 1:
        only = positions[0]
        return lambda row: (row[only],)
    return itemgetter(*positions) if positions else lambda row: ()


class _Rows:
    """A stream of rows in the export's patient order (the patient pk first), taken one
    patient at a time: the streams of every dataset advance side by side."""

    __slots__ = ("head", "rows")

    def __init__(self, rows: Iterator[tuple]) -> None:
        self.rows = rows
        self.head = next(rows, None)

    def take(self, patient_id: int) -> list[tuple]:
        taken = []
        while self.head is not None and self.head[0] == patient_id:
            taken.append(self.head)
            self.head = next(self.rows, None)
        return taken


def _trail(
    writer: ItemGroupWriter, current: tuple, versions: list[tuple], location: str, source: str
) -> str:
    """The record's full audit trail as transactional ItemGroupData instructions, oldest
    first: the creation (Insert: what was entered), then each change (Update: only the items
    whose value changed, old value = the previous instruction's), each with its AuditRecord
    (who, when, reason). Applying them in order gives the current record.

    Values are compared as read and turned into text only when they differ (equal values
    have equal text; different ones may not, e.g. None and '')."""
    parts: list[str] = []
    text, index = writer.text, writer.history_index
    state: tuple | None = None  # the history items' values after the last instruction
    for _patient, _pk, history_id, when, user_id, reason, kind, *values in versions:
        if kind == "-":  # a deletion; the record exists again (restored): next is an insert
            state = None
            continue
        first = state is None or not index
        if first:
            changes = [
                (j, t)
                for j, v in zip(index, values, strict=True)
                if v is not None and (t := text[j](v)) != ""
            ]
        else:
            changes = [
                (j, t)
                for j, v, old in zip(index, values, state, strict=True)
                if v != old and (t := text[j](v)) != text[j](old)
            ]
        state = tuple(values)
        if not changes and not first:
            continue  # a save that changed no exported item (bookkeeping only)
        audit = odm_audit_record(
            user_oid=_user_oid(user_id),
            location_oid=location,
            when=when,
            reason=reason or "",
            source=f"{source}{history_id}",
        )
        transaction = "Insert" if first else "Update"
        parts.append(writer.group(changes, transaction=transaction, audit=audit))
    # Values no history row explains (computed columns such as the unblinded allocation, or a
    # record written without history): one last instruction, honestly without an AuditRecord.
    rest = []
    if state is None or len(index) != len(current) or current != state:
        rest = _rest(text, index, current, state)  # (equal: the usual case, nothing left)
    if rest or not parts:
        parts.append(writer.group(rest, transaction="Update" if parts else "Insert"))
    return "".join(parts)


def _rest(text: list, index: list[int], current: tuple, state: tuple | None) -> list:
    """(item position, text) of the current values no history version explains."""
    last = dict(zip(index, state, strict=True)) if state is not None else {}
    rest = []
    for j, v in enumerate(current):
        if j in last:
            old = last[j]
            if v != old and (t := text[j](v)) != text[j](old):
                rest.append((j, t))
        elif (t := text[j](v)) != "":
            rest.append((j, t))
    return rest


# Rows each stream reads from the database at a time (memory: this many rows per dataset).
FETCH = 200


def odm_stream(
    *, user, codes: list[str], flt: ExportFilter, unblinded: bool, chunk_size: int = 100
) -> Iterator[bytes]:
    """The ODM 1.3.2 file, streamed: metadata and admin data, then one ClinicalData per chunk
    of ``chunk_size`` subjects. The rows and the history of each dataset are one query each
    for the whole file, read side by side in the patients' order (a fixed number of queries,
    whatever the number of subjects or versions; memory: one subject and one fetch per
    stream)."""
    from django.contrib.auth import get_user_model

    from monitoring.models import CasebookSignature
    from trials.models import Trial

    chosen = [datasets()[c] for c in codes]
    pairs = [(d, dataset_variables(d, unblinded=unblinded)) for d in chosen]
    trial = Trial.objects.order_by("pk").first()
    events, event_of_definition = _events(chosen)
    patients_qs = export_patients(user=user, flt=flt)
    # Who signed or wrote a version, in one query (UNION of every trail's authors).
    signers = (
        CasebookSignature.objects.filter(patient__in=patients_qs.values("pk"))
        .order_by()
        .values_list("signed_by_id", flat=True)
    )
    authors = []
    for dataset in chosen:
        field = "id" if dataset.code == "patients" else "patient_id"
        history = dataset.model.history.filter(**{f"{field}__in": patients_qs.values("pk")})
        authors.append(history.order_by().values_list("history_user_id", flat=True))
    user_ids = set(signers.union(*authors))
    users = [(SYSTEM_USER, "system", "")] + [
        (_user_oid(pk), name, f"{first} {last}".strip())
        for pk, name, first, last in get_user_model()
        .objects.filter(pk__in=[u for u in user_ids if u])
        .order_by("pk")
        .values_list("pk", "username", "first_name", "last_name")
    ]
    sites = dict(patients_qs.order_by().values_list("site__code", "site__name").distinct())

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
        yield from _clinical_data(user, pairs, flt, unblinded, event_of_definition, chunk_size)
        yield "</ODM>\n"

    for part in text():
        yield part.encode()


def _clinical_data(user, pairs, flt, unblinded, event_of_definition, chunk_size) -> Iterator[str]:
    """Every SubjectData, ``chunk_size`` to a ClinicalData: each dataset's rows and history
    read as two streams beside the patients' (all in the same order)."""
    streams = []
    for dataset, variables in pairs:
        writer = ItemGroupWriter(dataset, variables)
        # Decimals and booleans as text from PostgreSQL: the trail compares and writes text.
        rows = dataset_rows(
            user=user,
            dataset=dataset,
            flt=flt,
            unblinded=unblinded,
            chunk_size=FETCH,
            context=True,
            as_text=True,
        )
        history = dataset_history_rows(
            user=user,
            dataset=dataset,
            flt=flt,
            fields=writer.history_fields,
            chunk_size=FETCH,
            as_text=True,
        )
        # The item columns of a row: after the context, the values that are not keys.
        items = _getter([len(CONTEXT) + n for n, v in enumerate(variables) if not v.key])
        streams.append((dataset, writer, items, _Rows(rows), _Rows(history)))
    signatures = _Rows(signature_rows(user=user, flt=flt, chunk_size=FETCH))
    # Read last (each stream reads the rows as they are when it starts): a patient in any
    # stream above is one of these; patients are never deleted nor re-ordered.
    patients = export_patients(user=user, flt=flt).values_list(
        "pk", "subject_id", "screening_number", "site__code"
    )
    n = 0
    for patient in patients.iterator(chunk_size=FETCH):
        if n % chunk_size == 0:
            if n:
                yield "</ClinicalData>"
            yield f'<ClinicalData StudyOID="{STUDY_OID}" MetaDataVersionOID="{MDV_OID}">'
        n += 1
        yield from _subject(patient, streams, signatures, event_of_definition)
    if n:
        yield "</ClinicalData>"
    # Every stream read the same patients in the same order: a row left over would be a row
    # missing from the file, so the export fails rather than end incomplete.
    if signatures.head is not None or any(r.head or h.head for _d, _w, _i, r, h in streams):
        raise RuntimeError("The export's streams of rows disagree; the file is incomplete.")


def _subject(
    patient: tuple, streams: list, signatures: _Rows, event_of_definition
) -> Iterator[str]:
    """One subject's SubjectData: its forms per event (by date), each with its trail."""
    pk, subject_id, screening_number, site_code = patient
    location = f"LOC.{site_code}"
    forms: dict[tuple, list[str]] = {}  # event key -> FormData texts
    for dataset, writer, items, rows, history in streams:
        records = rows.take(pk)
        versions: dict[int, list[tuple]] = {}
        for version in history.take(pk):
            versions.setdefault(version[1], []).append(version)
        if not records:
            continue
        source = f"{dataset.model._meta.label_lower} history "
        form_oid = f' FormOID="F.{dataset.oid}"'
        for row in records:
            _patient, record, visit_id, definition_id, target_date, scheduled = row[:6]
            if dataset.per_visit:
                oid = event_of_definition.get(definition_id)
                if oid is None:
                    continue
                repeat = visit_id if not scheduled else None
                key = (target_date.isoformat(), visit_id, oid, repeat)
            else:
                key = ("~", 0, SUBJECT_EVENT, None)
            attrs = form_oid
            if dataset.repeating:
                attrs += f' FormRepeatKey="{record}"'
            trail = _trail(writer, items(row), versions.get(record, []), location, source)
            forms.setdefault(key, []).append(
                f'<FormData{attrs} TransactionType="Upsert">{trail}</FormData>'
            )
    signed = [
        odm_signature(
            sig_id=f"SIG.{sig_pk}",
            user_oid=_user_oid(signed_by_id),
            location_oid=location,
            when=signed_at,
        )
        for _patient, sig_pk, signed_by_id, signed_at in signatures.take(pk)
    ]
    subject = _xml(subject_id or screening_number)
    site_ref = f'<SiteRef LocationOID="LOC.{_xml(site_code)}"/>'
    # A subject element holds one Signature: superseded casebook signatures (re-signed
    # after a change) come first as instructions of their own, the latest with the data.
    for earlier in signed[:-1]:
        yield f'<SubjectData SubjectKey="{subject}" TransactionType="Upsert">'
        yield f"{earlier}{site_ref}</SubjectData>"
    yield f'<SubjectData SubjectKey="{subject}" TransactionType="Upsert">'
    yield (signed[-1] if signed else "") + site_ref
    for key in sorted(forms):
        _date, _pk, oid, repeat = key
        repeat_attr = f' StudyEventRepeatKey="{repeat}"' if repeat is not None else ""
        yield f'<StudyEventData StudyEventOID="{oid}"{repeat_attr} TransactionType="Upsert">'
        yield from forms[key]
        yield "</StudyEventData>"
    yield "</SubjectData>"


def _xml(value: str) -> str:
    from xml.sax.saxutils import escape

    return escape(value, {'"': "&quot;"})
