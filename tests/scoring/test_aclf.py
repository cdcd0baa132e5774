"""ACLF grade per CANONIC (Moreau 2013; EFCLIF ACLF grade definitions)."""

import pytest

from scoring import calculate
from scoring.aclf import aclf_grade
from scoring.inputs import parse_inputs

# No organ failure, no kidney or brain dysfunction.
NORMAL = {
    "bilirubin_mg_dl": 1.0,
    "creatinine_mg_dl": 1.0,
    "he_grade": 0,
    "inr": 1.0,
    "platelets_10e9_l": 150,
    "map_mmhg": 80,
    "pao2_mmhg": 95,
    "fio2": 0.21,
}
LIVER_FAILURE = {"bilirubin_mg_dl": 12.0}
COAG_FAILURE = {"inr": 2.5}
CIRC_FAILURE = {"terlipressin": True}
RESP_FAILURE = {"pao2_mmhg": 42}  # 42 / 0.21 = 200


def grade(**changes: object) -> str | None:
    return aclf_grade(parse_inputs({**NORMAL, **changes})).grade


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "no_aclf"),
        # kidney dysfunction alone is not ACLF
        ({"creatinine_mg_dl": 1.99}, "no_aclf"),
        # single kidney failure -> grade 1
        ({"creatinine_mg_dl": 2.0}, "1"),
        ({"renal_replacement_therapy": True}, "1"),
        # single liver failure: needs creatinine 1.5-1.9 and/or HE I-II
        ({**LIVER_FAILURE}, "no_aclf"),
        ({**LIVER_FAILURE, "creatinine_mg_dl": 1.49}, "no_aclf"),
        ({**LIVER_FAILURE, "creatinine_mg_dl": 1.5}, "1"),
        ({**LIVER_FAILURE, "creatinine_mg_dl": 1.99}, "1"),
        ({**LIVER_FAILURE, "he_grade": 1}, "1"),
        ({**LIVER_FAILURE, "he_grade": 2}, "1"),
        ({**COAG_FAILURE}, "no_aclf"),
        ({**COAG_FAILURE, "creatinine_mg_dl": 1.5}, "1"),
        ({"platelets_10e9_l": 20, "he_grade": 1}, "1"),
        ({**CIRC_FAILURE}, "no_aclf"),
        ({**CIRC_FAILURE, "he_grade": 1}, "1"),
        ({**RESP_FAILURE}, "no_aclf"),
        ({"pao2_mmhg": 43}, "no_aclf"),  # 204.8: no respiratory failure
        ({**RESP_FAILURE, "creatinine_mg_dl": 1.9}, "1"),
        ({"mechanical_ventilation": True, "he_grade": 2}, "1"),
        # single brain failure: grade 1 only with creatinine 1.5-1.9 (HE does not count)
        ({"he_grade": 3}, "no_aclf"),
        ({"he_grade": 4, "creatinine_mg_dl": 1.49}, "no_aclf"),
        ({"he_grade": 3, "creatinine_mg_dl": 1.5}, "1"),
        ({"he_grade": 4, "creatinine_mg_dl": 1.99}, "1"),
        (
            {
                "he_grade": None,
                "mechanical_ventilation": True,
                "mechanical_ventilation_for_he": True,
            },
            "no_aclf",
        ),
        (
            {
                "mechanical_ventilation": True,
                "mechanical_ventilation_for_he": True,
                "creatinine_mg_dl": 1.6,
            },
            "1",
        ),
        # two and three or more organ failures
        ({"he_grade": 3, "creatinine_mg_dl": 2.0}, "2"),
        ({**LIVER_FAILURE, **COAG_FAILURE}, "2"),
        ({**CIRC_FAILURE, **RESP_FAILURE}, "2"),
        ({**LIVER_FAILURE, "creatinine_mg_dl": 2.0, "he_grade": 3}, "3"),
        (
            {
                **LIVER_FAILURE,
                **COAG_FAILURE,
                **CIRC_FAILURE,
                **RESP_FAILURE,
                "creatinine_mg_dl": 4.0,
                "he_grade": 4,
            },
            "3",
        ),
    ],
)
def test_grade(changes: dict[str, object], expected: str) -> None:
    assert grade(**changes) == expected


def test_organ_failures_are_listed_in_canonical_order() -> None:
    result = calculate({**NORMAL, **RESP_FAILURE, **LIVER_FAILURE, "creatinine_mg_dl": 2.2})
    assert result["organ_failures"] == ["liver", "kidney", "respiration"]
    assert result["aclf_grade"] == "3"


def test_missing_input_that_cannot_change_the_grade_is_not_needed() -> None:
    # Three known failures: grade 3 whatever the lungs show.
    inputs = {**NORMAL, **LIVER_FAILURE, **COAG_FAILURE, **CIRC_FAILURE, "pao2_mmhg": None}
    result = calculate(inputs)
    assert result["aclf_grade"] == "3"
    assert result["missing"]["aclf_grade"] == []
    # ...but the list of failing organs is not complete, so it is not reported.
    assert result["organ_failures"] is None
    assert result["missing"]["organ_failures"] == ["pao2_mmhg", "spo2_pct"]


def test_unknown_liver_does_not_matter_without_dysfunction() -> None:
    # A single liver failure with creatinine <1.5 and no HE is still "no ACLF".
    assert grade(bilirubin_mg_dl=None) == "no_aclf"


def test_unknown_liver_matters_with_kidney_dysfunction() -> None:
    result = aclf_grade(parse_inputs({**NORMAL, "bilirubin_mg_dl": None, "creatinine_mg_dl": 1.6}))
    assert result.grade is None
    assert result.missing == ("bilirubin_mg_dl",)
    assert result.details["possible_grades"] == ["no_aclf", "1"]


def test_missing_creatinine_leaves_grade_unknown() -> None:
    result = calculate({**NORMAL, "creatinine_mg_dl": None})
    assert result["aclf_grade"] is None
    assert result["missing"]["aclf_grade"] == ["creatinine_mg_dl"]


def test_missing_platelets_with_low_inr_leaves_coagulation_unknown() -> None:
    result = calculate({**NORMAL, "platelets_10e9_l": None, "creatinine_mg_dl": 1.7})
    assert result["aclf_grade"] is None
    assert result["missing"]["aclf_grade"] == ["platelets_10e9_l"]
