"""Writers of the export formats, each a generator of bytes (streamed, constant memory).

CSV (one file per dataset, plus the data dictionary), CDISC Dataset-JSON v1.1 (one dataset
per file with its column metadata) and CDISC ODM 1.3.2 XML (study metadata, admin data,
clinical data per subject/visit/form with every recorded change (a transactional file: each
version of a form is one instruction with its audit record) and the casebook signatures).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from functools import cache
from itertools import islice
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from django.utils import timezone

from .dictionary import DICTIONARY_HEADER, Dataset, Variable, dictionary_rows

SOURCE_SYSTEM = "Liveradvance EDC"
SOURCE_VERSION = "0.1.0"


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat() if timezone.is_aware(value) else value.isoformat()


def text_value(value: Any) -> str:
    """The CSV/ODM text of a value: ISO dates, UTC datetimes, true/false, '' for missing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return _utc(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# --- CSV ----------------------------------------------------------------------------------

# Rows written between two yields of a streamed CSV (a few tens of KB of text each).
CSV_BATCH = 500


def _csv_lines(rows: Iterable[list]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(row)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()


def _utc_text(value: dt.datetime | None) -> str:
    return "" if value is None else _utc(value)


def _bool_text(value: bool | str | None) -> str:
    if value is None or value.__class__ is str:  # already text (``dataset_rows(as_text=)``)
        return value or ""
    return "true" if value else "false"


def _date_text(value: dt.date | None) -> str:
    return "" if value is None else value.isoformat()


def _str_text(value: Any) -> str:
    return "" if value is None else str(value)


def _plain_text(variable: Variable, model: type | None) -> bool:
    """A column whose ``text_value`` is ``str(value)``: a key, an allocation column, or a
    char/text field or a foreign key of ``model`` (not a JSON field: a list is JSON)."""
    from django.db import models

    if variable.field is None:
        return True
    if model is None:
        return False
    field = next(f for f in model._meta.concrete_fields if f.attname == variable.field)
    return field.is_relation or isinstance(field, models.CharField | models.TextField)


def text_converter(variable: Variable, model: type | None = None) -> Callable[[Any], str]:
    """``text_value`` specialised to the column's type (the same text, fewer checks)."""
    if variable.type == "boolean":
        return _bool_text
    if variable.type == "datetime":
        return _utc_text
    if variable.type == "date":
        return _date_text
    if variable.type in ("integer", "decimal") or _plain_text(variable, model):
        return _str_text
    return text_value


def csv_converters(variables: list[Variable], model: type | None = None) -> list[tuple]:
    """(column, function) for the columns whose ``text_value`` differs from what
    ``csv.writer`` writes by itself (None as '', anything else as ``str``): booleans,
    datetimes, JSON fields."""
    result = []
    for i, v in enumerate(variables):
        convert = text_converter(v, model)
        if convert not in (_str_text, _date_text):
            result.append((i, convert))
    return result


def csv_stream(
    variables: list[Variable], rows: Iterable[tuple], *, model: type | None = None
) -> Iterator[bytes]:
    """The CSV file of ``rows`` (tuples of database values in ``variables`` order): the
    rows go straight into ``csv.writer``, a batch of them per yielded chunk."""
    yield "\ufeff".encode()  # BOM: spreadsheet programs then read µ and ⁹ correctly
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([v.name for v in variables])
    converters = csv_converters(variables, model)
    if converters:

        def text(row: tuple) -> list:
            row = list(row)
            for i, convert in converters:
                row[i] = convert(row[i])
            return row

        rows = map(text, rows)
    iterator = iter(rows)
    while True:
        writer.writerows(islice(iterator, CSV_BATCH))
        chunk = buffer.getvalue()
        if not chunk:
            return
        yield chunk.encode()
        buffer.seek(0)
        buffer.truncate()


def csv_copy_stream(variables: list[Variable], rows: Iterable[bytes]) -> Iterator[bytes]:
    """The CSV file whose rows PostgreSQL wrote (``selectors.dataset_csv_copy``): the BOM
    and header as ``csv_stream`` writes them, then the rows as they come."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow([v.name for v in variables])
    yield "\ufeff".encode() + buffer.getvalue().encode()
    yield from rows


def dictionary_csv_stream(*, unblinded: bool = False) -> Iterator[bytes]:
    yield "\ufeff".encode()
    yield from _csv_lines([DICTIONARY_HEADER])
    yield from _csv_lines(dictionary_rows(unblinded=unblinded))


# --- Dataset-JSON v1.1 --------------------------------------------------------------------

STUDY_OID = "ST.LIVERADVANCE"
MDV_OID = "MDV.1"


def item_oid(dataset: Dataset, variable: Variable) -> str:
    return f"IT.{dataset.oid}.{variable.name.upper()}"


def _json_value(value: Any, kind: str) -> Any:
    """Dataset-JSON 1.1: decimals, dates and datetimes as strings; null for missing."""
    if value is None:
        return None
    if kind == "boolean":
        return bool(value)
    if kind == "integer":
        return int(value)
    if isinstance(value, Decimal | float) or kind in ("decimal", "date", "datetime"):
        return text_value(value)
    return text_value(value)


def dataset_json_stream(
    dataset: Dataset, variables: list[Variable], rows: Iterable[tuple], *, count: int
) -> Iterator[bytes]:
    now = _utc(timezone.now().replace(microsecond=0))
    columns = []
    for v in variables:
        column: dict[str, Any] = {
            "itemOID": item_oid(dataset, v),
            "name": v.name,
            "label": v.label,
            "dataType": v.type,
        }
        if v.length:
            column["length"] = v.length
        if v.key:
            column["keySequence"] = v.key
        columns.append(column)
    head = {
        "datasetJSONCreationDateTime": now,
        "datasetJSONVersion": "1.1.0",
        "fileOID": f"{STUDY_OID}.{dataset.oid}.{now}",
        "originator": SOURCE_SYSTEM,
        "sourceSystem": {"name": SOURCE_SYSTEM, "version": SOURCE_VERSION},
        "studyOID": STUDY_OID,
        "metaDataVersionOID": MDV_OID,
        "itemGroupOID": f"IG.{dataset.oid}",
        "records": count,
        "name": dataset.oid,
        "label": dataset.label,
        "columns": columns,
    }
    yield json.dumps(head, ensure_ascii=False)[:-1].encode() + b', "rows": ['
    kinds = [v.type for v in variables]
    first = True
    for row in rows:
        values = [_json_value(value, kind) for value, kind in zip(row, kinds, strict=True)]
        yield (b"" if first else b",\n") + json.dumps(values, ensure_ascii=False).encode()
        first = False
    yield b"]}\n"


# --- ODM 1.3.2 ----------------------------------------------------------------------------

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
_ODM_TYPES = {
    "string": "text",
    "integer": "integer",
    "decimal": "float",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
}


def odm_type(variable: Variable) -> str:
    return _ODM_TYPES[variable.type]


def _a(**attrs: Any) -> str:
    return "".join(f" {k}={quoteattr(str(v))}" for k, v in attrs.items() if v not in (None, ""))


def _tt(text: str, spanish: str = "") -> str:
    """English, and the Spanish when there is one (ODM 1.3.2: several TranslatedText)."""
    english = f'<TranslatedText xml:lang="en">{escape(text)}</TranslatedText>'
    if not spanish:
        return english
    return f'{english}<TranslatedText xml:lang="es">{escape(spanish)}</TranslatedText>'


def codelist_oid(dataset: Dataset, variable: Variable) -> str:
    return f"CL.{dataset.oid}.{variable.name.upper()}"


def unit_oid(unit: str) -> str:
    return "MU." + "".join(
        c if c.isalnum() else "_" for c in unit.encode("ascii", "replace").decode()
    )


def odm_metadata(
    *, study_name: str, protocol: str, events: list[dict], datasets: list[tuple[Dataset, list]]
) -> Iterator[str]:
    """<Study>: global variables, units, the protocol's events, forms, item groups, items and
    code lists. ``events``: dicts of oid, name, repeating, type, forms (dataset codes)."""
    yield f"<Study{_a(OID=STUDY_OID)}><GlobalVariables>"
    yield f"<StudyName>{escape(study_name)}</StudyName>"
    yield f"<StudyDescription>{escape(study_name)}</StudyDescription>"
    yield f"<ProtocolName>{escape(protocol)}</ProtocolName></GlobalVariables>"
    units = sorted({v.unit for _d, vs in datasets for v in vs if v.unit})
    if units:
        yield "<BasicDefinitions>"
        for unit in units:
            yield f"<MeasurementUnit{_a(OID=unit_oid(unit), Name=unit)}>"
            yield f"<Symbol>{_tt(unit)}</Symbol></MeasurementUnit>"
        yield "</BasicDefinitions>"
    yield f"<MetaDataVersion{_a(OID=MDV_OID, Name='Liveradvance eCRFs')}><Protocol>"
    for n, event in enumerate(events, start=1):
        yield f"<StudyEventRef{_a(StudyEventOID=event['oid'], OrderNumber=n, Mandatory='No')}/>"
    yield "</Protocol>"
    for event in events:
        attrs = _a(
            OID=event["oid"], Name=event["name"], Repeating=event["repeating"], Type=event["type"]
        )
        yield f"<StudyEventDef{attrs}>"
        for n, code in enumerate(event["forms"], start=1):
            yield f"<FormRef{_a(FormOID='F.' + code.upper(), OrderNumber=n, Mandatory='No')}/>"
        yield "</StudyEventDef>"
    for dataset, _vs in datasets:
        repeating = "Yes" if dataset.repeating else "No"
        yield f"<FormDef{_a(OID='F.' + dataset.oid, Name=dataset.label, Repeating=repeating)}>"
        yield f"<ItemGroupRef{_a(ItemGroupOID='IG.' + dataset.oid, Mandatory='Yes')}/></FormDef>"
    for dataset, variables in datasets:
        yield f"<ItemGroupDef{_a(OID='IG.' + dataset.oid, Name=dataset.label, Repeating='No')}>"
        for n, v in enumerate(odm_items(variables), start=1):
            yield f"<ItemRef{_a(ItemOID=item_oid(dataset, v), OrderNumber=n, Mandatory='No')}/>"
        yield "</ItemGroupDef>"
    for dataset, variables in datasets:
        for v in odm_items(variables):
            attrs = _a(
                OID=item_oid(dataset, v),
                Name=v.name,
                DataType=odm_type(v),
                Length=v.length,
                SignificantDigits=v.fraction_digits,
            )
            yield f"<ItemDef{attrs}><Question>{_tt(v.label, v.label_es)}</Question>"
            if v.unit:
                yield f"<MeasurementUnitRef{_a(MeasurementUnitOID=unit_oid(v.unit))}/>"
            if v.allowed:
                yield f"<CodeListRef{_a(CodeListOID=codelist_oid(dataset, v))}/>"
            yield "</ItemDef>"
    for dataset, variables in datasets:
        for v in odm_items(variables):
            if not v.allowed:
                continue
            kind = "integer" if v.type == "integer" else "text"
            yield f"<CodeList{_a(OID=codelist_oid(dataset, v), Name=v.label, DataType=kind)}>"
            spanish = dict(v.allowed_es)
            for code, decode in v.allowed:
                yield f"<CodeListItem{_a(CodedValue=code)}>"
                yield f"<Decode>{_tt(decode, spanish.get(code, ''))}</Decode></CodeListItem>"
            yield "</CodeList>"
    yield "</MetaDataVersion></Study>"


def odm_items(variables: list[Variable]) -> list[Variable]:
    """ODM carries the keys in its structure (SubjectKey, SiteRef, events, repeat keys)."""
    return [v for v in variables if v.key is None]


SIGNATURE_DEF_OID = "SD.CASEBOOK"


def odm_admin(
    *,
    users: list[tuple[str, str, str]],
    sites: list[tuple[str, str]],
    signature_meaning: str = "",
) -> Iterator[str]:
    """<AdminData>: the users, locations and signature meaning the audit records and
    signatures refer to. ``users``: (OID, login, full name)."""
    yield f"<AdminData{_a(StudyOID=STUDY_OID)}>"
    for oid, login, full_name in users:
        yield f"<User{_a(OID=oid)}><LoginName>{escape(login)}</LoginName>"
        if full_name:
            yield f"<FullName>{escape(full_name)}</FullName>"
        yield "</User>"
    effective = timezone.localdate().isoformat()
    for oid, name in sites:
        yield f"<Location{_a(OID=oid, Name=name, LocationType='Site')}>"
        ref = _a(StudyOID=STUDY_OID, MetaDataVersionOID=MDV_OID, EffectiveDate=effective)
        yield f"<MetaDataVersionRef{ref}/>"
        yield "</Location>"
    if signature_meaning:
        yield f"<SignatureDef{_a(OID=SIGNATURE_DEF_OID, Methodology='Electronic')}>"
        yield f"<Meaning>{escape(signature_meaning)}</Meaning>"
        # 21 CFR 11.50/11.200: a non-biometric e-signature, the password re-entered to sign.
        yield (
            "<LegalReason>Electronic signature under 21 CFR Part 11 (password re-entered at "
            "signing; the signed data bound by hash)</LegalReason></SignatureDef>"
        )
    yield "</AdminData>"


def odm_audit_record(
    *, user_oid: str, location_oid: str, when: dt.datetime | str, reason: str, source: str = ""
) -> str:
    """``when``: the datetime, or its UTC text already (``dataset_history_rows(as_text=)``)."""
    stamp = when if when.__class__ is str else _utc(when)
    parts = [_audit_open(user_oid, location_oid), f"<DateTimeStamp>{stamp}</DateTimeStamp>"]
    if reason:
        parts.append(f"<ReasonForChange>{escape(reason)}</ReasonForChange>")
    if source:
        parts.append(f"<SourceID>{escape(source)}</SourceID>")
    parts.append("</AuditRecord>")
    return "".join(parts)


@cache
def _audit_open(user_oid: str, location_oid: str) -> str:
    return (
        f"<AuditRecord><UserRef{_a(UserOID=user_oid)}/>"
        f"<LocationRef{_a(LocationOID=location_oid)}/>"
    )


def odm_signature(*, sig_id: str, user_oid: str, location_oid: str, when: dt.datetime) -> str:
    return (
        f"<Signature{_a(ID=sig_id)}><UserRef{_a(UserOID=user_oid)}/>"
        f"<LocationRef{_a(LocationOID=location_oid)}/>"
        f"<SignatureRef{_a(SignatureOID=SIGNATURE_DEF_OID)}/>"
        f"<DateTimeStamp>{_utc(when)}</DateTimeStamp></Signature>"
    )


# Characters ``quoteattr`` changes in an attribute value (and the quote it picks).
_ATTR_SPECIAL = re.compile(r'[&<>"\n\r\t]')
TRANSACTIONS = ("Insert", "Update")


class ItemGroupWriter:
    """The transactional ``ItemGroupData`` of one dataset, written as text: the markup
    around each item is built once, so an instruction is a join of its changed values
    (escaped as ``quoteattr`` does, only where a value can need it)."""

    def __init__(self, dataset: Dataset, variables: list[Variable]) -> None:
        self.items = odm_items(variables)
        #: item positions read from the history table, and the columns to read
        self.history_index = [j for j, v in enumerate(self.items) if v.field is not None]
        self.history_fields = [self.items[j].field for j in self.history_index]
        self.text = [text_converter(v, dataset.model) for v in self.items]
        # Numbers, dates and booleans are never escaped; strings are checked.
        self.plain = [v.type != "string" for v in self.items]
        oids = [item_oid(dataset, v) for v in self.items]
        self.open = {
            t: f"<ItemGroupData{_a(ItemGroupOID='IG.' + dataset.oid, TransactionType=t)}>"
            for t in TRANSACTIONS
        }
        self.value = {
            t: [f"<ItemData{_a(ItemOID=o, TransactionType=t)} Value=" for o in oids]
            for t in TRANSACTIONS
        }
        self.null = {
            t: [f"<ItemData{_a(ItemOID=o, TransactionType=t, IsNull='Yes')}/>" for o in oids]
            for t in TRANSACTIONS
        }

    def group(self, changes: list[tuple[int, str]], *, transaction: str, audit: str = "") -> str:
        """One instruction: ``changes`` (item position, text; '' for a value cleared: IsNull),
        their transaction type and the audit record they share."""
        parts = [self.open[transaction], audit]
        value, null, plain = self.value[transaction], self.null[transaction], self.plain
        for j, text in changes:
            if text == "":
                parts.append(null[j])
            elif plain[j] or not _ATTR_SPECIAL.search(text):
                parts.append(f'{value[j]}"{text}"/>')
            else:
                parts.append(f"{value[j]}{quoteattr(text)}/>")
        parts.append("</ItemGroupData>")
        return "".join(parts)


def odm_header(*, file_oid: str, file_type: str = "Transactional") -> str:
    now = _utc(timezone.now().replace(microsecond=0))
    attrs = _a(
        FileType=file_type,
        Granularity="All",
        FileOID=file_oid,
        CreationDateTime=now,
        ODMVersion="1.3.2",
        Originator=SOURCE_SYSTEM,
        SourceSystem=SOURCE_SYSTEM,
        SourceSystemVersion=SOURCE_VERSION,
    )
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<ODM xmlns="{ODM_NS}"{attrs}>'
