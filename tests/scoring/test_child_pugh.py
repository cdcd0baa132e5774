"""Child-Pugh points and class (Pugh 1973 with the INR variant, MDCalc bands)."""

import pytest

from scoring import calculate
from scoring.child_pugh import child_pugh
from scoring.inputs import parse_inputs

BEST = {"bilirubin_mg_dl": 1.0, "albumin_g_dl": 4.0, "inr": 1.0, "ascites": "none", "he_grade": 0}


def points(item: str, **changes: object) -> int:
    result = child_pugh(parse_inputs({**BEST, **changes}))
    return result.details["points"][item]


@pytest.mark.parametrize(("value", "expected"), [(1.99, 1), (2.0, 2), (3.0, 2), (3.01, 3)])
def test_bilirubin_points(value: float, expected: int) -> None:
    assert points("bilirubin", bilirubin_mg_dl=value) == expected


@pytest.mark.parametrize(("value", "expected"), [(3.51, 1), (3.5, 2), (2.8, 2), (2.79, 3)])
def test_albumin_points(value: float, expected: int) -> None:
    assert points("albumin", albumin_g_dl=value) == expected


@pytest.mark.parametrize(("value", "expected"), [(1.69, 1), (1.7, 2), (2.3, 2), (2.31, 3)])
def test_inr_points(value: float, expected: int) -> None:
    assert points("inr", inr=value) == expected


@pytest.mark.parametrize(("value", "expected"), [("none", 1), ("mild", 2), ("moderate_severe", 3)])
def test_ascites_points(value: str, expected: int) -> None:
    assert points("ascites", ascites=value) == expected


@pytest.mark.parametrize(("grade", "expected"), [(0, 1), (1, 2), (2, 2), (3, 3), (4, 3)])
def test_encephalopathy_points(grade: int, expected: int) -> None:
    assert points("encephalopathy", he_grade=grade) == expected


@pytest.mark.parametrize(
    ("changes", "score", "child_class"),
    [
        ({}, 5, "A"),
        ({"ascites": "mild"}, 6, "A"),
        ({"ascites": "mild", "he_grade": 1}, 7, "B"),
        ({"ascites": "moderate_severe", "he_grade": 3}, 9, "B"),
        ({"ascites": "moderate_severe", "he_grade": 3, "inr": 2.0}, 10, "C"),
        (
            {
                "bilirubin_mg_dl": 5,
                "albumin_g_dl": 2.0,
                "inr": 3,
                "ascites": "moderate_severe",
                "he_grade": 4,
            },
            15,
            "C",
        ),
    ],
)
def test_class_boundaries(changes: dict[str, object], score: int, child_class: str) -> None:
    result = calculate({**BEST, **changes})
    assert (result["child_pugh_score"], result["child_pugh_class"]) == (score, child_class)


def test_missing_items_give_none_with_missing_list_and_partial_points() -> None:
    result = calculate({**BEST, "ascites": None, "albumin_g_dl": None})
    assert result["child_pugh_score"] is None
    assert result["child_pugh_class"] is None
    assert result["missing"]["child_pugh_score"] == ["albumin_g_dl", "ascites"]
    assert result["details"]["child_pugh"]["points"] == {
        "bilirubin": 1,
        "inr": 1,
        "encephalopathy": 1,
    }
