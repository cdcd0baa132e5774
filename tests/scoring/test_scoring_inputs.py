"""Input validation: impossible values raise with the field key first in the message."""

from dataclasses import fields
from decimal import Decimal

import pytest

from scoring import (
    INPUT_KEYS,
    ScoringInputError,
    ScoringInputs,
    calculate,
    parse_inputs,
    validate_inputs,
)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("fio2", 0.2, "fio2: must be between 0.21 and 1.0"),
        ("fio2", 1.01, "fio2: must be between 0.21 and 1.0"),
        ("fio2", 21, "fio2: must be between 0.21 and 1.0"),
        ("inr", 0, "inr: must be greater than 0"),
        ("inr", -1, "inr: must be greater than 0"),
        ("bilirubin_mg_dl", -0.1, "bilirubin_mg_dl: must be between 0 and"),
        ("creatinine_mg_dl", 0, "creatinine_mg_dl: must be greater than 0"),
        ("albumin_g_dl", -3, "albumin_g_dl: must be greater than 0"),
        ("wbc_10e9_l", 0, "wbc_10e9_l: must be greater than 0"),
        ("platelets_10e9_l", -5, "platelets_10e9_l: must be between"),
        ("sodium_mmol_l", 13.5, "sodium_mmol_l: must be between 80 and 200"),
        ("sodium_mmol_l", 1350, "sodium_mmol_l: must be between 80 and 200"),
        ("age", -1, "age: must be between 0 and 120"),
        ("age", 150, "age: must be between 0 and 120"),
        ("spo2_pct", 101, "spo2_pct: must be greater than 0 and at most 100"),
        ("pao2_mmhg", -80, "pao2_mmhg: must be greater than 0"),
        ("map_mmhg", -1, "map_mmhg: must be between"),
        ("dopamine_ug_kg_min", -2, "dopamine_ug_kg_min: must be between"),
        ("norepinephrine_ug_kg_min", -0.1, "norepinephrine_ug_kg_min: must be between"),
        ("epinephrine_ug_kg_min", 50, "epinephrine_ug_kg_min: must be between"),
        ("he_grade", 5, "he_grade: must be a West Haven grade"),
        ("he_grade", -1, "he_grade: must be a West Haven grade"),
        ("he_grade", 2.5, "he_grade: must be a West Haven grade"),
        ("he_grade", "2", "he_grade: must be a West Haven grade"),
        ("sex", "male", 'sex: must be "M" or "F"'),
        ("ascites", "severe", "ascites: must be one of"),
        ("dobutamine", "yes", "dobutamine: must be true or false"),
        ("renal_replacement_therapy", 1, "renal_replacement_therapy: must be true or false"),
        ("inr", "1.2", "inr: must be a number"),
        ("inr", True, "inr: must be a number"),
        ("inr", float("nan"), "inr: must be a finite number"),
        ("inr", Decimal("Infinity"), "inr: must be a finite number"),
        ("bogus_key", 1, "bogus_key: unknown input key"),
    ],
)
def test_invalid_value_raises_with_field_key(key: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=key) as excinfo:
        calculate({key: value})
    assert str(excinfo.value).startswith(message)
    assert isinstance(excinfo.value, ScoringInputError)


def test_fio2_message_matches_the_crf_contract() -> None:
    with pytest.raises(ValueError, match=r"^fio2: must be between 0\.21 and 1\.0$"):
        calculate({"fio2": 0.1})


def test_validate_inputs_reports_every_invalid_field() -> None:
    errors = validate_inputs({"fio2": 2, "inr": 0, "sex": "x", "age": 50, "other": 1})
    assert set(errors) == {"fio2", "inr", "sex", "other"}
    assert errors["fio2"] == "must be between 0.21 and 1.0"
    assert validate_inputs({"age": 50, "fio2": 0.21, "inr": None}) == {}


def test_scoring_input_error_carries_all_errors_and_names_the_first() -> None:
    with pytest.raises(ScoringInputError) as excinfo:
        parse_inputs({"age": 50, "spo2_pct": 120, "fio2": 0})
    assert excinfo.value.errors == {
        "spo2_pct": "must be greater than 0 and at most 100",
        "fio2": "must be between 0.21 and 1.0",
    }
    assert str(excinfo.value).startswith("spo2_pct: ")


def test_ventilation_for_he_contradicting_no_ventilation_is_an_error() -> None:
    errors = validate_inputs(
        {"mechanical_ventilation": False, "mechanical_ventilation_for_he": True}
    )
    assert "mechanical_ventilation_for_he" in errors


@pytest.mark.parametrize("value", [2, 2.0, Decimal("2"), Decimal("2.00")])
def test_he_grade_accepts_integral_numbers(value: object) -> None:
    assert parse_inputs({"he_grade": value}).he_grade == 2


@pytest.mark.parametrize("value", [1.2, Decimal("1.2"), 1])
def test_numbers_are_normalised_to_exact_decimals(value: object) -> None:
    assert parse_inputs({"inr": value}).inr == Decimal(str(value))


@pytest.mark.parametrize(("key", "value"), [("fio2", 0.21), ("fio2", 1.0), ("spo2_pct", 100)])
def test_range_ends_are_valid(key: str, value: float) -> None:
    assert validate_inputs({key: value}) == {}


def test_none_means_missing_for_every_key() -> None:
    parsed = parse_inputs(dict.fromkeys(INPUT_KEYS))
    assert parsed == ScoringInputs()


def test_inputs_dataclass_mirrors_the_public_key_list() -> None:
    assert tuple(f.name for f in fields(ScoringInputs)) == INPUT_KEYS
