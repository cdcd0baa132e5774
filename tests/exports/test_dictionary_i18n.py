"""Issue 17: the data dictionary in English and Spanish (ODM TranslatedText, CSV label_es)."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest

from tests.exports.test_exports import API, NS, _content, _csv, _odm_schema

pytestmark = pytest.mark.django_db

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _texts(element) -> dict[str, str]:
    return {t.get(XML_LANG): t.text for t in element.iterfind("odm:TranslatedText", NS)}


def test_odm_metadata_carries_both_languages_and_stays_valid(client, site, data_manager):
    client.force_login(data_manager)
    xml = _content(client.get(f"{API}odm/", {"forms": ["labs", "adverse_event", "vitals"]}))
    errors = [str(e) for e in _odm_schema().iter_errors(io.BytesIO(xml))]
    assert errors == [], errors[:3]
    root = ET.fromstring(xml)  # noqa: S314 (our own export, in a test)
    questions = {
        item.get("Name"): _texts(item.find("odm:Question", NS))
        for item in root.iterfind(".//odm:ItemDef", NS)
    }
    assert questions["bilirubin_mg_dl"] == {"en": "Total bilirubin", "es": "Bilirrubina total"}
    assert questions["creatinine_mg_dl"]["es"] == "Creatinina"
    assert questions["he_grade"]["es"] == "Encefalopatía hepática (grado de West Haven)"
    assert questions["weight_kg"] == {"en": "Weight (kg)", "es": "Peso (kg)"}
    decodes = {
        (cl.get("OID"), item.get("CodedValue")): _texts(item.find("odm:Decode", NS))
        for cl in root.iterfind(".//odm:CodeList", NS)
        for item in cl.iterfind("odm:CodeListItem", NS)
    }
    assert decodes[("CL.ADVERSE_EVENT.SEVERITY_GRADE", "3")] == {
        "en": "3 – severe",
        "es": "3 – grave",
    }


def test_odm_labels_do_not_follow_the_requesters_language(client, site, data_manager):
    """English stays the first (canonical) text whatever language the user reads in."""
    client.force_login(data_manager)
    client.post("/i18n/setlang/", {"language": "es", "next": "/"})
    root = ET.fromstring(_content(client.get(f"{API}odm/", {"forms": ["labs"]})))  # noqa: S314
    item = next(
        i for i in root.iterfind(".//odm:ItemDef", NS) if i.get("Name") == "creatinine_mg_dl"
    )
    assert _texts(item.find("odm:Question", NS)) == {"en": "Creatinine", "es": "Creatinina"}


def test_dictionary_csv_has_spanish_labels_and_codes(client, data_manager):
    client.force_login(data_manager)
    rows = _csv(client.get(f"{API}dictionary/"))
    by_name = {(r["dataset"], r["variable"]): r for r in rows}
    labs = by_name[("labs", "bilirubin_mg_dl")]
    assert (labs["label"], labs["label_es"]) == ("Total bilirubin", "Bilirrubina total")
    assert by_name[("patients", "birth_date")]["label_es"] == "Fecha de nacimiento"
    assert by_name[("labs", "inr")]["label_es"] == "INR"
    sex = by_name[("patients", "sex")]
    assert "F=Mujer" in sex["allowed_values_es"]
    assert "F=Female" in sex["allowed_values"]
    assert all(r["label_es"] for r in rows), [r["variable"] for r in rows if not r["label_es"]]
