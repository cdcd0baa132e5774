"""CLIF-C ACLF (Jalan 2014) and CLIF-C AD (Jalan 2015); formulas as on efclif.com."""

import math

import pytest

from scoring import calculate
from scoring.clif_c_aclf import clif_c_aclf, clif_c_ad
from scoring.inputs import parse_inputs


@pytest.mark.parametrize(
    ("of_score", "age", "wbc", "expected"),
    [
        # 10 x (0.33x10 + 0.04x50 + 0.63 x ln 10 - 2)
        # = 10 x (3.3 + 2.0 + 0.63 x 2.302585 - 2) = 10 x 4.750629 = 47.506 -> 47.5
        (10, 50, 10, 47.5),
        # ln 1 = 0: 10 x (0.33x6 + 0.04x40 - 2) = 10 x (1.98 + 1.6 - 2) = 15.8
        (6, 40, 1, 15.8),
    ],
)
def test_clif_c_aclf_hand_computed(of_score: int, age: int, wbc: float, expected: float) -> None:
    result = clif_c_aclf(parse_inputs({"age": age, "wbc_10e9_l": wbc}), of_score, "2")
    assert result.value == expected
    raw = 10 * (0.33 * of_score + 0.04 * age + 0.63 * math.log(wbc) - 2)
    assert result.details["unrounded"] == pytest.approx(raw)
    assert result.details["applicable"] is True


def test_clif_c_aclf_missing_inputs() -> None:
    result = clif_c_aclf(parse_inputs({}), None, None)
    assert result.value is None
    assert result.missing == ("age", "clif_c_of", "wbc_10e9_l")


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        # 10 x (0.03x60 + 0 + 0 + 0 - 0.05x140 + 8) = 10 x (1.8 - 7 + 8) = 28.0
        (
            {"age": 60, "creatinine_mg_dl": 1, "inr": 1, "wbc_10e9_l": 1, "sodium_mmol_l": 140},
            28.0,
        ),
        # 0.03x50 = 1.5; 0.66 x ln 2 = 0.457477; 1.71 x ln 1.5 = 0.693345;
        # 0.88 x ln 8 = 1.829909; -0.05x130 = -6.5; +8 -> 5.980731 x 10 = 59.807 -> 59.8
        (
            {"age": 50, "creatinine_mg_dl": 2, "inr": 1.5, "wbc_10e9_l": 8, "sodium_mmol_l": 130},
            59.8,
        ),
    ],
)
def test_clif_c_ad_hand_computed(inputs: dict[str, float], expected: float) -> None:
    result = clif_c_ad(parse_inputs(inputs), "no_aclf")
    assert result.value == expected
    assert result.details["applicable"] is True


def test_clif_c_ad_missing_inputs_listed() -> None:
    result = clif_c_ad(parse_inputs({"age": 60, "inr": 1.2}), None)
    assert result.value is None
    assert result.missing == ("creatinine_mg_dl", "sodium_mmol_l", "wbc_10e9_l")
    assert result.details["applicable"] is None


def test_engine_uses_computed_clif_c_of_and_flags_applicability() -> None:
    inputs = {
        "age": 50,
        "wbc_10e9_l": 10,
        "sodium_mmol_l": 135,
        "bilirubin_mg_dl": 13,  # liver 3
        "creatinine_mg_dl": 2.2,  # kidney 2
        "he_grade": 0,  # brain 1
        "inr": 1.2,  # coagulation 1
        "platelets_10e9_l": 100,
        "map_mmhg": 75,  # circulation 1
        "pao2_mmhg": 90,
        "fio2": 0.21,  # respiration 1 (428.6)
    }
    result = calculate(inputs)
    assert result["clif_c_of"] == 9
    assert result["aclf_grade"] == "2"
    # 10 x (0.33x9 + 0.04x50 + 0.63 x ln 10 - 2) = 10 x (2.97 + 2 + 1.450629 - 2) = 44.2
    assert result["clif_c_aclf"] == 44.2
    assert result["details"]["clif_c_aclf"]["applicable"] is True
    assert result["details"]["clif_c_ad"]["applicable"] is False


def test_engine_reports_clif_c_of_as_missing_for_clif_c_aclf() -> None:
    result = calculate({"age": 50, "wbc_10e9_l": 10})
    assert result["clif_c_aclf"] is None
    assert result["missing"]["clif_c_aclf"] == ["clif_c_of"]
