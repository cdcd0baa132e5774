"""CLIF-C OF subscores 1-3 and total 6-18 (Jalan 2014 table, EFCLIF calculator)."""

import pytest

from scoring.clif_c_of import OF_SUBSCORES, clif_c_of
from scoring.inputs import parse_inputs

NORMAL = {
    "bilirubin_mg_dl": 0.8,
    "creatinine_mg_dl": 0.9,
    "he_grade": 0,
    "inr": 1.0,
    "map_mmhg": 85,
    "pao2_mmhg": 95,
    "fio2": 0.21,
}


def sub(organ: str, **changes: object) -> int | None:
    return OF_SUBSCORES[organ](parse_inputs({**NORMAL, **changes})).value


@pytest.mark.parametrize(("value", "expected"), [(5.99, 1), (6.0, 2), (11.99, 2), (12.0, 3)])
def test_liver(value: float, expected: int) -> None:
    assert sub("liver", bilirubin_mg_dl=value) == expected


@pytest.mark.parametrize(("value", "expected"), [(1.99, 1), (2.0, 2), (3.49, 2), (3.5, 3)])
def test_kidney(value: float, expected: int) -> None:
    assert sub("kidney", creatinine_mg_dl=value) == expected


def test_kidney_rrt_scores_3() -> None:
    assert sub("kidney", creatinine_mg_dl=None, renal_replacement_therapy=True) == 3


@pytest.mark.parametrize(("grade", "expected"), [(0, 1), (1, 2), (2, 2), (3, 3), (4, 3)])
def test_brain(grade: int, expected: int) -> None:
    assert sub("brain", he_grade=grade) == expected


def test_brain_ventilation_for_he_scores_3() -> None:
    changes = {"he_grade": None, "mechanical_ventilation": True}
    assert sub("brain", mechanical_ventilation_for_he=True, **changes) == 3


@pytest.mark.parametrize(("inr", "expected"), [(1.99, 1), (2.0, 2), (2.49, 2), (2.5, 3)])
def test_coagulation_uses_inr_only(inr: float, expected: int) -> None:
    assert sub("coagulation", inr=inr, platelets_10e9_l=10) == expected


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"map_mmhg": 70}, 1),
        ({"map_mmhg": 69}, 2),
        ({"terlipressin": True}, 3),
        ({"dobutamine": True}, 3),
        ({"dopamine_ug_kg_min": 2}, 3),
        ({"norepinephrine_ug_kg_min": 0.05, "map_mmhg": None}, 3),
    ],
)
def test_circulation(changes: dict[str, object], expected: int) -> None:
    assert sub("circulation", **changes) == expected


@pytest.mark.parametrize(("pao2", "expected"), [(301, 1), (300, 2), (201, 2), (200, 3)])
def test_respiration_pao2(pao2: int, expected: int) -> None:
    assert sub("respiration", pao2_mmhg=pao2, fio2=1.0) == expected


@pytest.mark.parametrize(
    ("spo2", "fio2", "expected"),
    [(89.5, 0.25, 1), (89.25, 0.25, 2), (86, 0.4, 2), (85.6, 0.4, 3)],
)
def test_respiration_spo2(spo2: float, fio2: float, expected: int) -> None:
    assert sub("respiration", pao2_mmhg=None, spo2_pct=spo2, fio2=fio2) == expected


def test_respiration_ventilated_not_for_he_scores_3_without_gases() -> None:
    changes = {"pao2_mmhg": None, "fio2": None, "mechanical_ventilation": True}
    assert sub("respiration", **changes) == 3


def test_total_range_ends() -> None:
    assert clif_c_of(parse_inputs(NORMAL)).value == 6
    worst = {
        "bilirubin_mg_dl": 20,
        "renal_replacement_therapy": True,
        "he_grade": 4,
        "inr": 3,
        "norepinephrine_ug_kg_min": 0.2,
        "mechanical_ventilation": True,
    }
    result = clif_c_of(parse_inputs(worst))
    assert result.value == 18
    assert result.missing == ()


def test_missing_inputs() -> None:
    result = clif_c_of(parse_inputs({**NORMAL, "inr": None, "map_mmhg": None}))
    assert result.value is None
    assert result.missing == ("inr", "map_mmhg")
