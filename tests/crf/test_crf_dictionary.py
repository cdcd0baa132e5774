"""The eCRF data dictionary: one declaration per item drives the model columns, the forms, the
edit checks, the API serializers and schema, the audit labels and the export dictionary."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from crf import edit_checks, services
from crf.api import serializers as crf_serializers
from crf.dictionary import DICTIONARIES, FormDictionary
from crf.dictionary.base import Section
from crf.models import BaselineContext, FollowUp, Visit, VitalSigns
from crf.registry import FORMS
from exports import dictionary as export_dictionary
from tests.factories import PatientFactory
from trials import history
from trials.dictionary import SCORE_INPUTS, Condition, Limits
from trials.limits import TYPED_FIELD

D = Decimal
# Bookkeeping columns of every eCRF (status, audit, concurrency): not data items.
BOOKKEEPING = {
    "id",
    "patient",
    "visit",
    "status",
    "completed_at",
    "out_of_range_confirmed",
    "created_at",
    "updated_at",
    "updated_by",
    "lock_version",
}


@pytest.mark.parametrize("code", list(FORMS))
def test_every_model_field_has_exactly_one_item_and_every_item_is_a_model_field(code):
    form = FORMS[code].dictionary
    declared = [name for item in form.items for name in item.model_fields]
    assert len(declared) == len(set(declared)), "a field is declared twice"
    model_fields = {f.name for f in form.model._meta.concrete_fields} - BOOKKEEPING
    assert set(declared) <= model_fields, set(declared) - model_fields
    assert model_fields - set(declared) == set(form.not_collected)


@pytest.mark.parametrize("code", list(FORMS))
def test_form_serializer_and_export_columns_agree_with_the_dictionary(code):
    spec = FORMS[code]
    form = spec.dictionary
    form_fields = set(spec.form_class().fields) - {
        "reason_for_change",
        "confirm_out_of_range",
        "lock_version",
    }
    assert form_fields == set(form.form_fields)
    serializer_fields = set(crf_serializers.crf_input_serializer(spec)().fields)
    assert set(form.form_fields) <= serializer_fields
    exported = {v.name: v for v in export_dictionary.datasets()[code].variables}
    for item in form.items:
        assert item.name in exported
        variable = exported[item.name]
        assert variable.label == form.label(item)
        if item.unit:
            assert variable.unit == item.unit
        codes = [str(v) for v, _ in form.choices(item) if v != ""]
        assert [v for v, _ in variable.allowed] == codes
        assert variable.limits == item.limits
        assert variable.required == item.required
        assert bool(variable.shown_if) == (item.shown_if is not None)


def test_the_score_input_map_is_one_declaration():
    """Canonical field -> typed field -> unit field -> units, for screening and the labs."""
    bilirubin = SCORE_INPUTS["bilirubin_mg_dl"]
    assert TYPED_FIELD["bilirubin_mg_dl"] == "bilirubin_entered" == bilirubin.entered
    assert edit_checks.TYPED_FIELD["ammonia_umol_l"] == "ammonia_entered"
    labs = FORMS["labs"].dictionary
    assert labs.item("bilirubin_unit").units == bilirubin.units
    # Exact: 1 mg/dL of bilirubin is 17.1 µmol/L.
    assert bilirubin.units["µmol/L"] == Fraction(10, 171)
    assert bilirubin.to_canonical(D("171"), "µmol/L") == D("10.00000000")
    assert bilirubin.to_canonical(D("171"), "umol/L") == D("10.00000000")  # alias spelling
    weight = FORMS["vitals"].dictionary.item("weight_kg")
    assert weight.to_canonical(D("160"), "lb") == D("72.6")
    with pytest.raises(ValueError, match="Unknown unit 'st'"):
        weight.to_canonical(D("11"), "st")


@pytest.fixture
def stricter_temperature(monkeypatch):
    """The vital signs dictionary with one changed declaration: the temperature."""
    spec = FORMS["vitals"]
    original = spec.dictionary
    sections = tuple(
        Section(
            section.title,
            tuple(
                dataclasses.replace(
                    item,
                    label="Core temperature",
                    limits=Limits(D(34), D(36), D(38), D(42), "°C"),
                    required=True,
                    help="Tympanic or oesophageal.",
                )
                if item.name == "temperature_c"
                else item
                for item in section.items
            ),
        )
        for section in original.sections
    )
    changed = dataclasses.replace(original, sections=sections)
    monkeypatch.setitem(DICTIONARIES, "vitals", changed)
    monkeypatch.setitem(spec.__dict__, "dictionary", changed)
    crf_serializers.crf_input_serializer.cache_clear()
    export_dictionary.datasets.cache_clear()
    yield changed
    crf_serializers.crf_input_serializer.cache_clear()
    export_dictionary.datasets.cache_clear()


def test_one_changed_declaration_changes_form_checks_serializer_and_export(
    stricter_temperature,
):
    assert isinstance(stricter_temperature, FormDictionary)
    spec = FORMS["vitals"]
    field = spec.form_class().fields["temperature_c"]
    assert field.label == "Core temperature"
    assert field.required_to_complete is True
    assert field.widget.attrs["aria-required"] == "true"
    assert field.help_text == "Tympanic or oesophageal."

    ctx = edit_checks.CheckContext(patient=None, today=dt.date(2026, 3, 2))
    result = edit_checks.run("vitals", VitalSigns(temperature_c=D("43")), complete=False, ctx=ctx)
    assert result.errors["temperature_c"] == ["Must be at most 42 °C."]
    result = edit_checks.run("vitals", VitalSigns(), complete=True, ctx=ctx)
    assert result.errors["temperature_c"] == ["Required to complete the form."]

    described = crf_serializers.crf_input_serializer(spec)().fields["temperature_c"].help_text
    assert described.startswith("Core temperature")
    assert "Hard limits ≥ 34 and ≤ 42 °C" in described
    assert "Required to complete the form." in described

    exported = {v.name: v for v in export_dictionary.datasets()["vitals"].variables}
    assert exported["temperature_c"].label == "Core temperature"
    assert exported["temperature_c"].unit == "°C"


def test_schema_describes_units_limits_and_codes(client, investigator):
    client.force_login(investigator)
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "Unit: given in weight_unit (one of kg, lb), stored in kg." in schema
    assert "Hard limits ≥ 25 and ≤ 300 kg." in schema
    assert "Codes: alive=Alive; dead=Dead" in schema


def test_audit_trail_labels_come_from_the_dictionary():
    source = next(s for s in history.sources() if s.model is VitalSigns)
    labels = FORMS["vitals"].dictionary.audit_labels()
    assert source.labels == labels
    assert labels["assessment_date"] == "Date measured"
    assert labels["weight_entered"] == "Weight (kg) as typed (when not in kg)"
    assert source.field_label(VitalSigns._meta.get_field("assessment_date")) == "Date measured"


# --- skip logic -------------------------------------------------------------------------------


def follow_up_url(patient, *, api: bool) -> str:
    visit = Visit.objects.get(patient=patient, definition__code="fu_d28")
    name = "crf-api:crf-detail" if api else "crf:crf-edit"
    return reverse(name, kwargs={"visit_pk": visit.pk, "form_code": "follow_up"})


@pytest.mark.django_db
def test_a_value_for_a_hidden_item_is_refused_by_the_api_naming_it(
    client, investigator, randomized_patient
):
    client.force_login(investigator)
    url = follow_up_url(randomized_patient, api=True)
    body = {"vital_status": "alive", "transplant_date": "2026-03-02"}
    response = client.put(url, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["transplant_date"] == ["Only when the patient was transplanted."]
    assert not FollowUp.objects.exists()
    shown = client.put(
        url, {**body, "vital_status": "transplanted"}, content_type="application/json"
    )
    assert shown.status_code == 200, shown.json()


@pytest.mark.django_db
def test_the_page_marks_skip_logic_and_refuses_a_hidden_value(
    client, investigator, randomized_patient
):
    client.force_login(investigator)
    url = follow_up_url(randomized_patient, api=False)
    html = client.get(url).content.decode()
    cell = html.split('data-item="transplant_date"')[1].split(">")[0]
    assert 'data-shown-if="vital_status"' in cell
    assert "&quot;transplanted&quot;" in cell
    assert "js/crf_skip_logic.js" in html
    assert "<script>" not in html  # no inline script (CSP)
    response = client.post(
        url, {"vital_status": "alive", "transplant_date": "2026-03-02", "draft": "1"}
    )
    assert response.status_code == 200
    assert "Only when the patient was transplanted." in response.content.decode()
    assert not FollowUp.objects.exists()


@pytest.mark.django_db
def test_pregnancy_questions_are_asked_only_for_women_who_may_be_pregnant(
    client, investigator, site
):
    man = PatientFactory(site=site, sex="M")
    woman = PatientFactory(site=site, sex="F")
    client.force_login(investigator)

    def page(patient) -> str:
        url = reverse(
            "crf:record-create", kwargs={"patient_pk": patient.pk, "form_code": "baseline"}
        )
        return client.get(url).content.decode()

    assert 'name="pregnancy_test"' not in page(man)
    assert 'name="pregnancy_test"' in page(woman)
    data = {
        "aetiology": "alcohol",
        "transplant_listing": "listed",
        "precipitating_events": ["infection"],
        "pregnancy_test": "negative",
        "pregnancy_test_date": dt.date(2026, 1, 2),
    }
    with pytest.raises(ValidationError) as exc:
        services.crf_save(
            user=investigator, form_code="baseline", data=data, complete=True, patient=man
        )
    assert exc.value.message_dict["pregnancy_test"] == [
        "Only when the patient is a woman of child-bearing potential."
    ]
    stored = services.crf_save(
        user=investigator, form_code="baseline", data=data, complete=True, patient=woman
    )
    assert stored.pregnancy_test == "negative"
    assert not BaselineContext.objects.filter(patient=man).exists()


# --- rendering --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_yes_no_and_short_code_lists_are_radio_buttons_in_a_fieldset(
    client, investigator, randomized_patient
):
    client.force_login(investigator)
    html = client.get(follow_up_url(randomized_patient, api=False)).content.decode()
    vital = html.split('data-item="vital_status"')[1].split('data-item="death_date"')[0]
    assert "<fieldset" in vital
    assert "<legend" in vital
    assert vital.count('type="radio"') == 3  # alive, dead, transplanted; no empty choice
    source = html.split('data-item="information_source"')[1].split("</select>")[0]
    assert "<select" in source  # six sources: a drop-down
    visit = Visit.objects.get(patient=randomized_patient, definition__code="dose1")
    url = reverse("crf:crf-edit", kwargs={"visit_pk": visit.pk, "form_code": "administration"})
    given = client.get(url).content.decode().split('data-item="given"')[1].split("</fieldset>")[0]
    assert 'type="radio" name="given" value="True"' in given.replace(
        'class="form-check-input" ', ""
    )


@pytest.mark.django_db
def test_required_to_complete_items_are_marked(client, investigator, randomized_patient):
    client.force_login(investigator)
    visit = Visit.objects.get(patient=randomized_patient, definition__code="dose1")
    url = reverse("crf:crf-edit", kwargs={"visit_pk": visit.pk, "form_code": "vitals"})
    html = client.get(url).content.decode()
    assert "required to complete the form" in html
    weight = html.split('data-item="weight_kg"')[1].split('data-item="temperature_c"')[0]
    temperature = html.split('data-item="temperature_c"')[1].split('data-item="heart_rate_bpm"')[0]
    assert 'aria-required="true"' in weight
    assert "crf-required" in weight
    assert "aria-required" not in temperature
    assert "crf-required" not in temperature


def test_shown_if_is_declared_on_real_conditional_items():
    conditions = {
        (code, item.name): item.shown_if
        for code, form in DICTIONARIES.items()
        for item in form.items
        if item.shown_if is not None
    }
    assert conditions[("administration", "not_given_reason")] == Condition(
        "given", (False,), "the dose was not given"
    )
    assert conditions[("adverse_event", "serious_date")].item == "serious"
    assert conditions[("baseline", "pregnancy_test")].text.startswith("the patient is a woman")


# --- query count of a lab save (issue 12 stretch: crf-side queries) ---------------------------


@pytest.mark.django_db
def test_a_lab_correction_stays_within_its_query_budget(
    investigator, randomized_patient, django_assert_max_num_queries
):
    from tests.crf.test_crf_services import LABS

    visit = Visit.objects.get(patient=randomized_patient, definition__code="dose1")
    services.crf_save(
        user=investigator,
        form_code="labs",
        visit=visit,
        data=LABS,
        complete=True,
        confirm_out_of_range=True,
    )
    corrected = {**LABS, "bilirubin_entered": D(5), "bilirubin_unit": "mg/dL"}
    # 46 before (one status query per form type, the visit re-read twice, the weight and
    # end-of-study context read for every form, three death-date queries); savepoints included.
    with django_assert_max_num_queries(35):
        services.crf_save(
            user=investigator,
            form_code="labs",
            visit=visit,
            data=corrected,
            complete=True,
            confirm_out_of_range=True,
            reason="Corrected against the source",
        )


@pytest.mark.django_db
def test_visit_form_statuses_are_one_query_whatever_the_number_of_forms(
    investigator, randomized_patient, django_assert_num_queries
):
    from tests.crf.test_crf_services import LABS

    visit = Visit.objects.get(patient=randomized_patient, definition__code="dose1")
    services.crf_save(user=investigator, form_code="labs", visit=visit, data=LABS, complete=False)
    with django_assert_num_queries(1):
        statuses = services.visit_forms_status(visit)
    assert statuses == {"labs": "draft"}


# --- screening skip logic (trials.dictionary.SCREENING_CONDITIONAL_ITEMS) ---------------------


@pytest.mark.django_db
def test_a_gi_bleed_date_after_a_no_is_refused_naming_the_field(investigator, patient):
    from tests.trials.screening_data import eligible_screening_data
    from trials import services as trial_services

    data = eligible_screening_data(gi_bleed_history=False, last_gi_bleed_date=dt.date(2026, 1, 5))
    with pytest.raises(ValidationError) as exc:
        trial_services.screening_save(
            user=investigator, patient=patient, data=data, complete=False
        )
    assert exc.value.message_dict["last_gi_bleed_date"] == [
        "Only when there was a gastrointestinal bleeding."
    ]


@pytest.mark.django_db
def test_the_screening_page_marks_the_conditional_dates(client, investigator, patient):
    client.force_login(investigator)
    html = client.get(reverse("trials:screening-edit", args=[patient.pk])).content.decode()
    date_input = html.split('name="last_gi_bleed_date"')[1].split(">")[0]
    assert 'data-shown-if="gi_bleed_history"' in date_input
    assert "js/crf_skip_logic.js" in html


def test_zero_is_an_answer_for_the_skip_logic():
    from trials.dictionary import is_blank

    assert not is_blank(D(0))
    assert not is_blank(0)
    assert is_blank(None)
    assert is_blank("")
    assert is_blank([])
    assert is_blank(False)  # an unticked box
