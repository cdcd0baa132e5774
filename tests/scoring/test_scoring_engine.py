"""The ``scoring.calculate`` contract: keys, JSON-safety, missing lists, defaults."""

import json
from decimal import Decimal

from scoring import ALGORITHM_VERSION, INPUT_KEYS, SCORE_KEYS, calculate

RESULT_KEYS = {*SCORE_KEYS, "algorithm_version", "missing", "details"}

FULL = {
    "age": Decimal("58"),
    "sex": "F",
    "bilirubin_mg_dl": Decimal("7.4"),
    "creatinine_mg_dl": Decimal("2.1"),
    "inr": Decimal("1.9"),
    "albumin_g_dl": Decimal("2.7"),
    "sodium_mmol_l": Decimal("129"),
    "wbc_10e9_l": Decimal("12.3"),
    "platelets_10e9_l": Decimal("64"),
    "renal_replacement_therapy": False,
    "dialysis_twice_in_last_week": False,
    "he_grade": 2,
    "map_mmhg": Decimal("68"),
    "dopamine_ug_kg_min": None,
    "dobutamine": False,
    "terlipressin": True,
    "epinephrine_ug_kg_min": None,
    "norepinephrine_ug_kg_min": None,
    "pao2_mmhg": None,
    "spo2_pct": Decimal("96"),
    "fio2": Decimal("0.28"),
    "mechanical_ventilation": False,
    "mechanical_ventilation_for_he": False,
    "ascites": "moderate_severe",
}


def test_full_input_uses_every_documented_key() -> None:
    assert set(FULL) == set(INPUT_KEYS)


def test_result_has_exactly_the_contract_keys() -> None:
    result = calculate(FULL)
    assert set(result) == RESULT_KEYS
    assert result["algorithm_version"] == ALGORITHM_VERSION == "liveradvance-scoring/1.0"
    assert set(result["missing"]) == set(SCORE_KEYS)


def test_full_example_values() -> None:
    result = calculate(FULL)
    # CLIF-SOFA: liver 3 (7.4) kidney 2 (2.1) brain 2 circulation 2 (terlipressin)
    # coagulation 3 (INR 1.9) respiration 1 (SpO2/FiO2 96/0.28 = 342.9 -> 2)
    assert result["details"]["clif_sofa"]["subscores"] == {
        "liver": 3,
        "kidney": 2,
        "brain": 2,
        "coagulation": 3,
        "circulation": 2,
        "respiration": 2,
    }
    assert result["clif_sofa"] == 14
    # CLIF-C OF: liver 2, kidney 2, brain 2, coag 1, circulation 3, respiration 2 = 12
    assert result["clif_c_of"] == 12
    # failures: kidney (creat >=2) and circulation (terlipressin) -> grade 2
    assert result["organ_failures"] == ["kidney", "circulation"]
    assert result["aclf_grade"] == "2"
    # Child-Pugh: bili 3 + albumin 3 + INR 2 + ascites 3 + HE 2 = 13, class C
    assert (result["child_pugh_score"], result["child_pugh_class"]) == (13, "C")
    assert all(value == [] for value in result["missing"].values())


def test_result_is_json_serialisable_without_decimals() -> None:
    result = calculate(FULL)
    text = json.dumps(result, allow_nan=False)
    assert json.loads(text) == result
    assert "Decimal" not in repr(result)


def test_empty_input_gives_none_everywhere_with_missing_lists() -> None:
    result = calculate({})
    for key in SCORE_KEYS:
        assert result[key] is None, key
        assert result["missing"][key], key
    assert result["missing"]["meld"] == ["bilirubin_mg_dl", "creatinine_mg_dl", "inr"]
    assert result["missing"]["child_pugh_class"] == [
        "albumin_g_dl",
        "ascites",
        "bilirubin_mg_dl",
        "he_grade",
        "inr",
    ]
    json.dumps(result, allow_nan=False)


def test_missing_lists_are_sorted() -> None:
    result = calculate({"age": 60})
    for missing in result["missing"].values():
        assert missing == sorted(missing)


def test_blank_organ_support_counts_as_not_given_and_is_reported() -> None:
    inputs = {key: value for key, value in FULL.items() if key != "terlipressin"}
    result = calculate(inputs)
    assert "terlipressin" in result["details"]["assumed_not_given"]
    assert result["details"]["clif_sofa"]["subscores"]["circulation"] == 1  # MAP 68
    assert "circulation" not in result["organ_failures"]


def test_lab_values_never_default() -> None:
    inputs = {key: value for key, value in FULL.items() if key != "inr"}
    result = calculate(inputs)
    assert result["clif_sofa"] is None
    assert "inr" in result["missing"]["clif_sofa"]
    assert "inr" not in result["details"]["assumed_not_given"]


def test_float_int_and_decimal_inputs_agree() -> None:
    as_float = {k: float(v) if isinstance(v, Decimal) else v for k, v in FULL.items()}
    assert calculate(as_float) == calculate(FULL)
