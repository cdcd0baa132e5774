"""Edit checks of every eCRF, on unsaved instances (no database): what rejects, what warns."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest

from crf import edit_checks
from crf.models import (
    Administration,
    AdverseEvent,
    BiologicalSample,
    EndOfStudy,
    FollowUp,
    Hemodynamics,
    LabResult,
    VitalSigns,
)
from crf.units import extra_to_canonical

TODAY = dt.date(2026, 3, 20)
DAY1 = dt.date(2026, 3, 2)
T = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


def ctx(**kwargs):
    patient = SimpleNamespace(consent_datetime=dt.datetime(2026, 2, 27, 9, tzinfo=dt.UTC))
    return edit_checks.CheckContext(
        patient=patient, day1=DAY1, today=TODAY, **{"visit": None, **kwargs}
    )


def run(code, obj, complete=True, **kwargs):
    return edit_checks.run(code, obj, complete=complete, ctx=ctx(**kwargs))


@pytest.mark.parametrize(
    ("code", "obj", "field", "message"),
    [
        ("vitals", VitalSigns(weight_kg=Decimal("20")), "weight_kg", "at least 25 kg"),
        ("vitals", VitalSigns(temperature_c=Decimal("45")), "temperature_c", "at most 44"),
        ("vitals", VitalSigns(spo2_pct=Decimal("101")), "spo2_pct", "at most 100"),
        (
            "labs",
            LabResult(lactate_mmol_l=Decimal("40"), lactate_entered=Decimal("40")),
            "lactate_entered",
            "at most 35 mmol/L",
        ),
        ("labs", LabResult(il6_pg_ml=Decimal("-1")), "il6_pg_ml", "at least 0"),
        ("hemodynamics", Hemodynamics(hvpg_mmhg=Decimal("70")), "hvpg_mmhg", "at most 60"),
        (
            "hemodynamics",
            Hemodynamics(svr_dyn_s_cm5=Decimal("50")),
            "svr_dyn_s_cm5",
            "at least 100",
        ),
    ],
)
def test_hard_limits_reject(code, obj, field, message):
    result = run(code, obj, complete=False)
    assert any(message in m for m in result.errors[field])


@pytest.mark.parametrize(
    ("code", "obj", "field"),
    [
        ("vitals", VitalSigns(weight_kg=Decimal("190")), "weight_kg"),
        ("vitals", VitalSigns(weight_kg=Decimal("34.9")), "weight_kg"),
        ("labs", LabResult(afp_ng_ml=Decimal("450")), "afp_ng_ml"),
        ("labs", LabResult(sodium_mmol_l=Decimal("112")), "sodium_mmol_l"),
        ("hemodynamics", Hemodynamics(cardiac_output_l_min=Decimal("16")), "cardiac_output_l_min"),
    ],
)
def test_soft_limits_warn_without_error(code, obj, field):
    result = run(code, obj, complete=False)
    assert field in result.warnings
    assert field not in result.errors


@pytest.mark.parametrize("weight", [Decimal("35"), Decimal("180")])
def test_soft_limit_boundaries_are_inside_the_range(weight):
    assert run("vitals", VitalSigns(weight_kg=weight), complete=False).warnings == {}


def test_draft_needs_no_required_field():
    assert run("vitals", VitalSigns(), complete=False).errors == {}


def test_hvpg_must_match_wedged_minus_free():
    obj = Hemodynamics(
        wedged_hepatic_venous_pressure_mmhg=Decimal("30"),
        free_hepatic_venous_pressure_mmhg=Decimal("10"),
        hvpg_mmhg=Decimal("12"),
    )
    assert "(20 mmHg)" in run("hemodynamics", obj, complete=False).errors["hvpg_mmhg"][0]


def test_given_dose_needs_start_time_and_reaction_answer():
    errors = run("administration", Administration(given=True)).errors
    assert set(errors) >= {"start_time", "infusion_reaction"}


def test_not_given_dose_has_no_infusion_times():
    errors = run(
        "administration",
        Administration(given=False, not_given_reason="adverse_event", start_time=T),
    ).errors
    assert "No infusion times" in errors["start_time"][0]


def test_infusion_reaction_needs_a_description():
    obj = Administration(given=True, start_time=T, infusion_reaction=True)
    assert "infusion_reaction_details" in run("administration", obj).errors


def test_sample_collected_needs_time_and_id():
    errors = run(
        "samples", BiologicalSample(cytokine_collected=True, transcriptomics_collected=True)
    ).errors
    assert set(errors) == {
        "cytokine_collected_at",
        "cytokine_sample_id",
        "transcriptomics_collected_at",
        "transcriptomics_sample_id",
    }


def test_sample_not_collected_needs_reason():
    obj = BiologicalSample(cytokine_collected=False, transcriptomics_collected=False)
    assert "not_collected_reason" in run("samples", obj).errors


def test_follow_up_transplant_needs_date_and_death_after_transplant():
    errors = run(
        "follow_up",
        FollowUp(assessment_date=TODAY, vital_status="transplanted", hospital_status="ward"),
    ).errors
    assert "transplant_date" in errors
    errors = run(
        "follow_up",
        FollowUp(
            assessment_date=TODAY,
            vital_status="dead",
            death_date=dt.date(2026, 3, 10),
            death_cause="x",
            transplant_date=dt.date(2026, 3, 12),
        ),
    ).errors
    assert "cannot be after the date of death" in errors["transplant_date"][0]


def test_follow_up_death_after_contact_date_is_rejected():
    obj = FollowUp(
        assessment_date=dt.date(2026, 3, 10),
        vital_status="dead",
        death_date=dt.date(2026, 3, 12),
        death_cause="x",
    )
    assert "after the follow-up date" in run("follow_up", obj).errors["death_date"][0]


def test_ae_dates_in_order_and_fatal_goes_with_death_criterion():
    obj = AdverseEvent(
        term="Bleeding",
        onset_date=dt.date(2026, 3, 10),
        end_date=dt.date(2026, 3, 8),
        outcome="fatal",
        serious=True,
        sae_hospitalization=True,
    )
    errors = run("adverse_event", obj, complete=False).errors
    assert "before the onset" in errors["end_date"][0]
    assert "go together" in errors["outcome"][0]


def test_ae_criteria_ticked_make_it_serious():
    obj = AdverseEvent(term="x", serious=False, sae_life_threatening=True)
    assert "serious event" in run("adverse_event", obj, complete=False).errors["serious"][0]


def test_end_of_study_date_not_before_day_1_and_death_needs_cause():
    errors = run("end_of_study", EndOfStudy(reason="died", end_date=dt.date(2026, 3, 1))).errors
    assert "before randomization" in errors["end_date"][0]
    assert "death_cause" in errors


def test_completed_study_contradicts_a_recorded_death():
    obj = EndOfStudy(reason="completed", end_date=TODAY)
    errors = run("end_of_study", obj, death_date=dt.date(2026, 3, 15)).errors
    assert "Death was recorded" in errors["reason"][0]


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "canonical"),
    [
        ("ammonia", "100", "µg/dL", Decimal("58.72")),
        ("ammonia", "58", "µmol/L", Decimal("58.00")),
        ("lactate", "18", "mg/dL", Decimal("2.00")),
        ("noradrenaline", "2", "nmol/L", Decimal("338.36")),
    ],
)
def test_extra_unit_conversions(analyte, value, unit, canonical):
    assert extra_to_canonical(analyte, Decimal(value), unit) == canonical


def test_unknown_extra_unit_is_refused():
    with pytest.raises(ValueError, match="Unknown unit"):
        extra_to_canonical("lactate", Decimal(1), "g/L")


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"norepinephrine_ug_kg_min": Decimal("8")}, "norepinephrine_ug_kg_min"),
        ({"map_mmhg": Decimal("30")}, "map_mmhg"),
        ({"spo2_pct": Decimal("5")}, "spo2_pct"),
        ({"pao2_mmhg": Decimal("900")}, "pao2_mmhg"),
    ],
)
def test_visit_organ_support_and_oxygenation_have_the_screening_soft_limits(values, field):
    """One definition (trials/limits.py) for screening and the visit laboratory form."""
    result = run("labs", LabResult(**values), complete=False)
    assert field in result.warnings


def test_zero_bilirubin_or_map_is_impossible_at_a_visit_too():
    result = run(
        "labs", LabResult(bilirubin_mg_dl=Decimal("0"), map_mmhg=Decimal("0")), complete=False
    )
    assert "greater than 0" in result.errors["bilirubin_entered"][0]
    assert "greater than 0" in result.errors["map_mmhg"][0]
