"""MELD / MELD-Na (OPTN Policy 9.1.D) and MELD 3.0 (Kim 2021)."""

import math

import pytest

from scoring import calculate
from scoring.inputs import parse_inputs
from scoring.meld import meld, meld_3, meld_na
from scoring.rounding import round_half_up


def meld_of(**values: object) -> int | None:
    return meld(parse_inputs(values)).value


def meld_na_of(**values: object) -> int | None:
    return meld_na(parse_inputs(values)).value


# --- cited worked examples -------------------------------------------------------------


def test_ameld_reference_meld() -> None:
    # ampel-leipzig/ameld tests/testthat/test_meld.R: meld(1.9, 4.2, 1.2) = 20.0391626,
    # and 20 when rounded.
    result = meld(parse_inputs({"creatinine_mg_dl": 1.9, "bilirubin_mg_dl": 4.2, "inr": 1.2}))
    assert result.details["unrounded"] == pytest.approx(20.0391626)
    assert result.value == 20


def test_ameld_reference_meld_na_unos_sodium_125() -> None:
    # ameld test_meld.R: meld_na(1.9, 4.2, 1.2, sodium=125, type="unos", round=TRUE) = 28.
    # OPTN: 20 + 1.32 x 12 - 0.033 x 20 x 12 = 20 + 15.84 - 7.92 = 27.92 -> 28.
    assert meld_na_of(creatinine_mg_dl=1.9, bilirubin_mg_dl=4.2, inr=1.2, sodium_mmol_l=125) == 28


def test_ameld_reference_labs_below_1_are_set_to_1() -> None:
    # ameld: meld(0.9, 0.9, 0.9) == meld(1, 1, 1) = 6.43 -> MELD 6.
    assert meld_of(creatinine_mg_dl=0.9, bilirubin_mg_dl=0.9, inr=0.9) == 6
    assert meld_of(creatinine_mg_dl=1, bilirubin_mg_dl=1, inr=1) == 6


def test_mimic_code_caps_meld_at_40() -> None:
    # MIT-LCP/mimic-code meld.sql: bracket > 4 -> 40. Here 0.957 ln 4 + 0.378 ln 40
    # + 1.12 ln 10 + 0.643 = 1.3267 + 1.3944 + 2.5789 + 0.643 = 5.94 -> 40.
    assert meld_of(creatinine_mg_dl=4, bilirubin_mg_dl=40, inr=10) == 40


# --- bounds ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("creatinine", "expected"),
    [
        # bilirubin = INR = 1: bracket = 0.957 ln(Cr) + 0.643
        (3.9, 19),  # 0.957 x 1.360977 + 0.643 = 1.9455 -> 1.9 -> 19
        (4.0, 20),  # 0.957 x 1.386294 + 0.643 = 1.9697 -> 2.0 -> 20
        (4.5, 20),  # capped at 4.0
        (12.0, 20),
    ],
)
def test_creatinine_capped_at_4(creatinine: float, expected: int) -> None:
    assert meld_of(creatinine_mg_dl=creatinine, bilirubin_mg_dl=1, inr=1) == expected


def test_dialysis_twice_sets_creatinine_to_4_even_when_missing() -> None:
    base = {"bilirubin_mg_dl": 1, "inr": 1, "dialysis_twice_in_last_week": True}
    assert meld_of(creatinine_mg_dl=0.8, **base) == 20
    result = meld(parse_inputs(base))
    assert result.value == 20
    assert result.details["components_used"]["creatinine_mg_dl"] == 4.0


# --- MELD-Na ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sodium", "expected"),
    [
        # MELD(i) = 20 (ameld example); MELD-Na = 20 + (137 - Na) x (1.32 - 0.66)
        (120, 28),  # bounded to 125
        (124, 28),
        (125, 28),  # 20 + 12 x 0.66 = 27.92 -> 28
        (130, 25),  # 20 + 7 x 0.66 = 24.62 -> 25
        (136, 21),  # 20 + 0.66 = 20.66 -> 21
        (137, 20),
        (138, 20),  # bounded to 137
        (145, 20),
    ],
)
def test_meld_na_sodium_bounds(sodium: int, expected: int) -> None:
    values = {"creatinine_mg_dl": 1.9, "bilirubin_mg_dl": 4.2, "inr": 1.2}
    assert meld_na_of(sodium_mmol_l=sodium, **values) == expected


@pytest.mark.parametrize(
    ("bilirubin", "meld_i", "meld_na_expected"),
    [
        # 0.378 ln 3.35 + 0.643 = 1.09999 -> 1.1 -> MELD(i) 11: no sodium term
        (3.35, 11, 11),
        # 0.378 ln 4.4 + 0.643 = 1.20305 -> 1.2 -> MELD(i) 12:
        # 12 + 1.32 x 7 - 0.033 x 12 x 7 = 12 + 9.24 - 2.772 = 18.468 -> 18
        (4.4, 12, 18),
    ],
)
def test_meld_na_applies_only_when_meld_above_11(
    bilirubin: float, meld_i: int, meld_na_expected: int
) -> None:
    values = {"creatinine_mg_dl": 1, "bilirubin_mg_dl": bilirubin, "inr": 1}
    assert meld_of(**values) == meld_i
    assert meld_na_of(sodium_mmol_l=130, **values) == meld_na_expected


def test_meld_na_needs_sodium_only_above_11() -> None:
    low = meld_na(parse_inputs({"creatinine_mg_dl": 1, "bilirubin_mg_dl": 3.35, "inr": 1}))
    assert (low.value, low.missing) == (11, ())
    high = meld_na(parse_inputs({"creatinine_mg_dl": 1, "bilirubin_mg_dl": 4.4, "inr": 1}))
    assert (high.value, high.missing) == (None, ("sodium_mmol_l",))


def test_meld_na_uses_rounded_meld_i_per_optn() -> None:
    # bracket = 0.378 ln 40.8 + 0.643 = 2.04488 -> MELD(i) 20 (unrounded 20.449).
    # OPTN (rounded):   20 + 1.32 x 5 - 0.033 x 20 x 5 = 23.3 -> 23.
    # unrounded variant: 20.449 + 6.6 - 0.033 x 20.449 x 5 = 23.67 -> 24 (not followed).
    values = {"creatinine_mg_dl": 1, "bilirubin_mg_dl": 40.8, "inr": 1, "sodium_mmol_l": 132}
    assert meld_of(**values) == 20
    assert meld_na_of(**values) == 23


def test_meld_na_never_exceeds_40() -> None:
    values = {"creatinine_mg_dl": 4, "bilirubin_mg_dl": 40, "inr": 10, "sodium_mmol_l": 110}
    assert meld_na_of(**values) == 40


def test_missing_meld_inputs() -> None:
    result = calculate({"bilirubin_mg_dl": 2})
    assert result["meld"] is None
    assert result["missing"]["meld"] == ["creatinine_mg_dl", "inr"]
    assert result["missing"]["meld_na"] == ["creatinine_mg_dl", "inr", "sodium_mmol_l"]


def test_round_half_up_not_bankers() -> None:
    assert round_half_up(2.05, 1) == round_half_up(2.1, 1)
    assert round_half_up(20.5, 0) == 21
    assert round(20.5) == 20  # Python's round() would differ


# --- MELD 3.0 --------------------------------------------------------------------------

MELD3_BASE = {
    "sex": "M",
    "bilirubin_mg_dl": 1.0,
    "creatinine_mg_dl": 1.0,
    "inr": 1.0,
    "sodium_mmol_l": 137,
    "albumin_g_dl": 3.5,
}


def meld3_of(**changes: object) -> int | None:
    return meld_3(parse_inputs({**MELD3_BASE, **changes})).value


def test_meld3_floor_is_6_and_female_adds_1_33() -> None:
    assert meld3_of() == 6
    assert meld3_of(sex="F") == 7  # 7.33


def test_meld3_hand_computed() -> None:
    # female, bili 2.0, Na 130, INR 1.5, Cr 1.5, albumin 3.0 (Kim 2021 formula):
    # 1.33 + 4.56 ln2 (3.160751) + 0.82x7 (5.74) - 0.24x7xln2 (1.164487)
    # + 9.09 ln1.5 (3.685677) + 11.14 ln1.5 (4.516880) + 1.85x0.5 (0.925)
    # - 1.83x0.5xln1.5 (0.370999) + 6 = 23.8228 -> 24
    result = meld_3(
        parse_inputs(
            {
                "sex": "F",
                "bilirubin_mg_dl": 2.0,
                "sodium_mmol_l": 130,
                "inr": 1.5,
                "creatinine_mg_dl": 1.5,
                "albumin_g_dl": 3.0,
            }
        )
    )
    assert result.details["unrounded"] == pytest.approx(23.822822, abs=1e-6)
    assert result.value == 24


@pytest.mark.parametrize(
    ("changes_a", "changes_b"),
    [
        (
            {"creatinine_mg_dl": 3.0, "bilirubin_mg_dl": 5},
            {"creatinine_mg_dl": 3.5, "bilirubin_mg_dl": 5},
        ),
        (
            {"creatinine_mg_dl": 3.0},
            {"creatinine_mg_dl": 0.5, "dialysis_twice_in_last_week": True},
        ),
        (
            {"sodium_mmol_l": 125, "bilirubin_mg_dl": 3},
            {"sodium_mmol_l": 118, "bilirubin_mg_dl": 3},
        ),
        ({"sodium_mmol_l": 137}, {"sodium_mmol_l": 142}),
        ({"albumin_g_dl": 1.5, "inr": 2}, {"albumin_g_dl": 1.0, "inr": 2}),
        ({"albumin_g_dl": 3.5}, {"albumin_g_dl": 4.2}),
        ({"inr": 1.0}, {"inr": 0.9}),
    ],
)
def test_meld3_bounds(changes_a: dict[str, object], changes_b: dict[str, object]) -> None:
    a = meld_3(parse_inputs({**MELD3_BASE, **changes_a}))
    b = meld_3(parse_inputs({**MELD3_BASE, **changes_b}))
    assert a.details["unrounded"] == pytest.approx(b.details["unrounded"])


def test_meld3_creatinine_just_inside_cap_differs() -> None:
    below = meld_3(parse_inputs({**MELD3_BASE, "creatinine_mg_dl": 2.99}))
    at_cap = meld_3(parse_inputs({**MELD3_BASE, "creatinine_mg_dl": 3.0}))
    assert below.details["unrounded"] < at_cap.details["unrounded"]


def test_meld3_capped_at_40() -> None:
    changes = {"bilirubin_mg_dl": 40, "inr": 8, "creatinine_mg_dl": 3, "sodium_mmol_l": 125}
    result = meld_3(parse_inputs({**MELD3_BASE, **changes, "albumin_g_dl": 1.5}))
    assert result.details["unrounded"] > 40
    assert result.value == 40


def test_meld3_needs_sex() -> None:
    result = meld_3(parse_inputs({**MELD3_BASE, "sex": None}))
    assert (result.value, result.missing) == (None, ("sex",))


def test_meld3_formula_matches_independent_expression() -> None:
    bili, na, inr, cr, alb = 3.0, 128.0, 1.8, 2.2, 2.6
    expected = (
        4.56 * math.log(bili)
        + 0.82 * (137 - na)
        - 0.24 * (137 - na) * math.log(bili)
        + 9.09 * math.log(inr)
        + 11.14 * math.log(cr)
        + 1.85 * (3.5 - alb)
        - 1.83 * (3.5 - alb) * math.log(cr)
        + 6
    )
    values = {
        "sex": "M",
        "bilirubin_mg_dl": bili,
        "sodium_mmol_l": na,
        "inr": inr,
        "creatinine_mg_dl": cr,
        "albumin_g_dl": alb,
    }
    result = meld_3(parse_inputs(values))
    assert result.details["unrounded"] == pytest.approx(expected)
    assert result.value == int(round_half_up(expected, 0))
