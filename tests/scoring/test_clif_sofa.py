"""CLIF-SOFA subscores and totals (Moreau 2013 Table 1), every cut-off on both sides."""

from decimal import Decimal

import pytest

from scoring.clif_sofa import SUBSCORES, clif_sofa
from scoring.inputs import parse_inputs

NORMAL = {
    "bilirubin_mg_dl": 0.8,
    "creatinine_mg_dl": 0.9,
    "he_grade": 0,
    "inr": 1.0,
    "platelets_10e9_l": 150,
    "map_mmhg": 85,
    "pao2_mmhg": 95,
    "fio2": 0.21,
}


def sub(organ: str, **changes: object) -> int | None:
    return SUBSCORES[organ](parse_inputs({**NORMAL, **changes})).value


@pytest.mark.parametrize(
    ("bilirubin", "expected"),
    [(1.19, 0), (1.2, 1), (1.99, 1), (2.0, 2), (5.99, 2), (6.0, 3), (11.99, 3), (12.0, 4)],
)
def test_liver_subscore_bilirubin_cutoffs(bilirubin: float, expected: int) -> None:
    assert sub("liver", bilirubin_mg_dl=bilirubin) == expected


@pytest.mark.parametrize(
    ("creatinine", "expected"),
    [(1.19, 0), (1.2, 1), (1.99, 1), (2.0, 2), (3.49, 2), (3.5, 3), (4.99, 3), (5.0, 4)],
)
def test_kidney_subscore_creatinine_cutoffs(creatinine: float, expected: int) -> None:
    assert sub("kidney", creatinine_mg_dl=creatinine) == expected


def test_renal_replacement_therapy_scores_4_even_without_creatinine() -> None:
    assert sub("kidney", creatinine_mg_dl=0.7, renal_replacement_therapy=True) == 4
    assert sub("kidney", creatinine_mg_dl=None, renal_replacement_therapy=True) == 4


@pytest.mark.parametrize("grade", [0, 1, 2, 3, 4])
def test_cerebral_subscore_is_the_west_haven_grade(grade: int) -> None:
    assert sub("brain", he_grade=grade) == grade


def test_ventilation_for_he_scores_cerebral_4() -> None:
    changes = {"mechanical_ventilation": True, "mechanical_ventilation_for_he": True}
    assert sub("brain", he_grade=None, **changes) == 4


@pytest.mark.parametrize(
    ("inr", "expected"),
    [(1.09, 0), (1.1, 1), (1.24, 1), (1.25, 2), (1.49, 2), (1.5, 3), (2.49, 3), (2.5, 4)],
)
def test_coagulation_subscore_inr_cutoffs(inr: float, expected: int) -> None:
    assert sub("coagulation", inr=inr) == expected


@pytest.mark.parametrize(("platelets", "expected"), [(20, 4), (21, 0), (Decimal("20.0"), 4)])
def test_coagulation_platelets_at_or_below_20_score_4(platelets: object, expected: int) -> None:
    assert sub("coagulation", inr=1.0, platelets_10e9_l=platelets) == expected


def test_coagulation_needs_platelets_unless_inr_decides() -> None:
    sofa = SUBSCORES["coagulation"](parse_inputs({**NORMAL, "platelets_10e9_l": None}))
    assert sofa.value is None
    assert sofa.missing == ("platelets_10e9_l",)
    assert sub("coagulation", inr=2.5, platelets_10e9_l=None) == 4


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"map_mmhg": 70}, 0),
        ({"map_mmhg": 69.9}, 1),
        ({"dopamine_ug_kg_min": 5}, 2),
        ({"dobutamine": True}, 2),
        ({"terlipressin": True}, 2),
        ({"dopamine_ug_kg_min": 5.1}, 3),
        ({"dopamine_ug_kg_min": 15}, 3),
        ({"dopamine_ug_kg_min": 15.1}, 4),
        ({"epinephrine_ug_kg_min": 0.1}, 3),
        ({"epinephrine_ug_kg_min": 0.11}, 4),
        ({"norepinephrine_ug_kg_min": 0.1}, 3),
        ({"norepinephrine_ug_kg_min": 0.11}, 4),
        ({"norepinephrine_ug_kg_min": 0.05, "map_mmhg": None}, 3),
        ({"dopamine_ug_kg_min": 0, "map_mmhg": 60}, 1),
    ],
)
def test_circulation_subscore(changes: dict[str, object], expected: int) -> None:
    assert sub("circulation", **changes) == expected


def test_circulation_without_vasopressor_needs_map() -> None:
    result = SUBSCORES["circulation"](parse_inputs({**NORMAL, "map_mmhg": None}))
    assert (result.value, result.missing) == (None, ("map_mmhg",))


@pytest.mark.parametrize(
    ("pao2", "expected"),
    # FiO2 1.0 makes PaO2/FiO2 = PaO2.
    [(401, 0), (400, 1), (301, 1), (300, 2), (201, 2), (200, 3), (101, 3), (100, 4)],
)
def test_respiration_pao2_fio2_cutoffs(pao2: int, expected: int) -> None:
    assert sub("respiration", pao2_mmhg=pao2, fio2=1.0) == expected


def test_respiration_ratio_is_exact_not_float() -> None:
    # 60 / 0.3 is 200.00000000000003 in binary floating point; the table says <=200 -> 3.
    assert sub("respiration", pao2_mmhg=60, fio2=0.3) == 3


@pytest.mark.parametrize(
    ("spo2", "fio2", "expected"),
    [
        (100, 0.21, 1),  # 476: SpO2/FiO2 >512 is unreachable with SpO2 <= 100%
        (89.5, 0.25, 1),  # 358
        (89.25, 0.25, 2),  # 357
        (86, 0.4, 2),  # 215
        (85.6, 0.4, 3),  # 214
        (90, 1.0, 3),  # 90
        (89, 1.0, 4),  # 89
    ],
)
def test_respiration_spo2_fio2_when_no_pao2(spo2: float, fio2: float, expected: int) -> None:
    assert sub("respiration", pao2_mmhg=None, spo2_pct=spo2, fio2=fio2) == expected


def test_pao2_is_preferred_over_spo2() -> None:
    assert sub("respiration", pao2_mmhg=90, spo2_pct=99, fio2=1.0) == 4


@pytest.mark.parametrize(("pao2", "expected"), [(450, 3), (90, 4)])
def test_ventilation_not_for_he_scores_respiration_at_least_3(pao2: int, expected: int) -> None:
    assert sub("respiration", pao2_mmhg=pao2, fio2=1.0, mechanical_ventilation=True) == expected


def test_ventilation_for_he_does_not_raise_respiration() -> None:
    changes = {"mechanical_ventilation": True, "mechanical_ventilation_for_he": True}
    assert sub("respiration", pao2_mmhg=450, fio2=1.0, **changes) == 0


def test_missing_fio2_leaves_respiration_unknown() -> None:
    result = SUBSCORES["respiration"](parse_inputs({**NORMAL, "fio2": None}))
    assert (result.value, result.missing) == (None, ("fio2",))
    result = SUBSCORES["respiration"](parse_inputs({**NORMAL, "pao2_mmhg": None, "fio2": None}))
    assert result.missing == ("fio2", "pao2_mmhg", "spo2_pct")


def test_total_of_normal_patient_is_0() -> None:
    result = clif_sofa(parse_inputs(NORMAL))
    assert result.value == 0
    assert result.missing == ()


def test_total_of_worst_patient_is_24() -> None:
    worst = {
        "bilirubin_mg_dl": 30,
        "creatinine_mg_dl": 6,
        "he_grade": 4,
        "inr": 4,
        "platelets_10e9_l": 10,
        "norepinephrine_ug_kg_min": 0.5,
        "pao2_mmhg": 55,
        "fio2": 1.0,
    }
    result = clif_sofa(parse_inputs(worst))
    assert result.value == 24
    assert result.details["subscores"] == dict.fromkeys(SUBSCORES, 4)


def test_mixed_total_hand_computed() -> None:
    # liver 2 (bili 3.0) + kidney 1 (creat 1.6) + brain 2 (HE II) + coag 3 (INR 1.8)
    # + circulation 1 (MAP 65) + respiration 2 (PaO2/FiO2 = 63/0.21 = 300) = 11
    inputs = {
        **NORMAL,
        "bilirubin_mg_dl": 3.0,
        "creatinine_mg_dl": 1.6,
        "he_grade": 2,
        "inr": 1.8,
        "map_mmhg": 65,
        "pao2_mmhg": 63,
    }
    assert clif_sofa(parse_inputs(inputs)).value == 11


def test_missing_inputs_give_none_and_sorted_missing_list() -> None:
    result = clif_sofa(parse_inputs({**NORMAL, "bilirubin_mg_dl": None, "he_grade": None}))
    assert result.value is None
    assert result.missing == ("bilirubin_mg_dl", "he_grade")
    assert result.details["subscores"]["liver"] is None
    assert result.details["subscores"]["kidney"] == 0
