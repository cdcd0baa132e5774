"""Property tests (hypothesis): score ranges, MELD floor and monotonicity."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import calculate
from scoring.inputs import parse_inputs
from scoring.meld import meld, meld_3, meld_na


def dec(low: str, high: str, places: int = 2) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=Decimal(low), max_value=Decimal(high), places=places)


maybe_dose = st.none() | dec("0", "30")
organ_inputs = st.fixed_dictionaries(
    {
        "bilirubin_mg_dl": dec("0", "60"),
        "creatinine_mg_dl": dec("0.1", "15"),
        "he_grade": st.integers(0, 4),
        "inr": dec("0.5", "10"),
        "platelets_10e9_l": dec("0", "600", 0),
        "map_mmhg": dec("20", "160", 0),
        "pao2_mmhg": st.none() | dec("20", "600", 0),
        "spo2_pct": dec("50", "100", 0),
        "fio2": dec("0.21", "1.0"),
        "renal_replacement_therapy": st.booleans(),
        "dobutamine": st.none() | st.booleans(),
        "terlipressin": st.none() | st.booleans(),
        "dopamine_ug_kg_min": maybe_dose,
        "epinephrine_ug_kg_min": st.none() | dec("0", "1"),
        "norepinephrine_ug_kg_min": st.none() | dec("0", "1"),
        "mechanical_ventilation": st.booleans(),
        "albumin_g_dl": dec("1", "6"),
        "ascites": st.sampled_from(["none", "mild", "moderate_severe"]),
        "age": dec("18", "90", 0),
        "sex": st.sampled_from(["M", "F"]),
        "sodium_mmol_l": dec("110", "160", 0),
        "wbc_10e9_l": dec("0.5", "60", 1),
    }
)


@settings(max_examples=300)
@given(organ_inputs)
def test_ranges_of_complete_inputs(inputs: dict[str, object]) -> None:
    result = calculate(inputs)
    assert 0 <= result["clif_sofa"] <= 24
    assert 6 <= result["clif_c_of"] <= 18
    assert 5 <= result["child_pugh_score"] <= 15
    assert result["child_pugh_class"] in {"A", "B", "C"}
    assert result["aclf_grade"] in {"no_aclf", "1", "2", "3"}
    assert 6 <= result["meld"] <= 40
    assert result["meld"] <= result["meld_na"] <= 40
    assert 6 <= result["meld_3"] <= 40
    failures = result["organ_failures"]
    if len(failures) >= 2:
        assert result["aclf_grade"] == str(min(len(failures), 3))
    if not failures:
        assert result["aclf_grade"] == "no_aclf"


meld_labs = st.fixed_dictionaries(
    {
        "bilirubin_mg_dl": dec("0", "80"),
        "creatinine_mg_dl": dec("0.1", "20"),
        "inr": dec("0.5", "15"),
        "sodium_mmol_l": dec("100", "160", 1),
        "albumin_g_dl": dec("0.5", "6"),
        "sex": st.sampled_from(["M", "F"]),
        "dialysis_twice_in_last_week": st.booleans(),
    }
)


@given(meld_labs)
def test_meld_never_below_6(values: dict[str, object]) -> None:
    parsed = parse_inputs(values)
    assert meld(parsed).value >= 6
    assert meld_na(parsed).value >= 6
    assert meld_3(parsed).value >= 6


@settings(max_examples=300)
@given(
    meld_labs, st.sampled_from(["bilirubin_mg_dl", "inr", "creatinine_mg_dl"]), dec("0", "4.99")
)
def test_meld_monotone_non_decreasing(
    values: dict[str, object], key: str, increase: Decimal
) -> None:
    higher = {**values, key: values[key] + increase}  # type: ignore[operator]
    low, high = parse_inputs(values), parse_inputs(higher)
    assert meld(low).value <= meld(high).value
    assert meld_na(low).value <= meld_na(high).value
    assert meld_3(low).value <= meld_3(high).value


@given(organ_inputs, dec("0", "20"))
def test_clif_sofa_monotone_in_bilirubin(values: dict[str, object], increase: Decimal) -> None:
    higher = {**values, "bilirubin_mg_dl": values["bilirubin_mg_dl"] + increase}  # type: ignore[operator]
    assert calculate(values)["clif_sofa"] <= calculate(higher)["clif_sofa"]
