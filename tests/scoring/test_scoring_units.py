"""Unit helpers: published conversion factors and round trips."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring import (
    UNITS,
    albumin_g_dl_to_g_l,
    albumin_g_l_to_g_dl,
    bilirubin_mg_dl_to_umol_l,
    bilirubin_umol_l_to_mg_dl,
    creatinine_mg_dl_to_umol_l,
    creatinine_umol_l_to_mg_dl,
    to_canonical,
)

MICRO_UMOL = "\u00b5mol/L"


@pytest.mark.parametrize(
    ("function", "value", "expected"),
    [
        # MDCalc Child-Pugh bands: bilirubin 2 mg/dL = 34.2 µmol/L, 3 mg/dL = 51.3 µmol/L
        (bilirubin_umol_l_to_mg_dl, 34.2, 2.0),
        (bilirubin_umol_l_to_mg_dl, 51.3, 3.0),
        (bilirubin_mg_dl_to_umol_l, 12.0, 205.2),
        (creatinine_umol_l_to_mg_dl, 88.4, 1.0),
        (creatinine_mg_dl_to_umol_l, 2.0, 176.8),
        (albumin_g_l_to_g_dl, 35, 3.5),
        (albumin_g_dl_to_g_l, 2.8, 28.0),
    ],
)
def test_conversion_factors(function: object, value: float, expected: float) -> None:
    assert function(value) == pytest.approx(expected)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "expected"),
    [
        ("bilirubin", 34.2, MICRO_UMOL, 2.0),
        ("bilirubin", 34.2, "umol/L", 2.0),
        ("bilirubin", 34.2, "\u03bcmol/L", 2.0),  # Greek mu typed instead of micro sign
        ("bilirubin", 2.0, "mg/dL", 2.0),
        ("creatinine", 176.8, MICRO_UMOL, 2.0),
        ("albumin", 28, "g/L", 2.8),
        ("albumin", 2.8, "g/dL", 2.8),
        ("sodium", 130, "mEq/L", 130.0),
        ("wbc", 7.5, "10^3/uL", 7.5),
    ],
)
def test_to_canonical(analyte: str, value: float, unit: str, expected: float) -> None:
    assert to_canonical(analyte, value, unit) == pytest.approx(expected)


def test_to_canonical_rejects_unknown_analyte_and_unit() -> None:
    with pytest.raises(ValueError, match=r"^ammonia: unknown analyte"):
        to_canonical("ammonia", 40, "umol/L")
    with pytest.raises(ValueError, match=r"^bilirubin: unknown unit 'mmol/L'"):
        to_canonical("bilirubin", 1, "mmol/L")


def test_units_table_lists_canonical_unit_first_with_factor_1() -> None:
    assert set(UNITS) >= {"bilirubin", "creatinine", "albumin"}
    for factors in UNITS.values():
        assert next(iter(factors.values())) == 1.0
    assert UNITS["bilirubin"][MICRO_UMOL] == pytest.approx(1 / 17.1)
    assert UNITS["creatinine"][MICRO_UMOL] == pytest.approx(1 / 88.4)
    assert UNITS["albumin"]["g/L"] == pytest.approx(0.1)


positive = st.floats(min_value=0.001, max_value=10_000, allow_nan=False, allow_infinity=False)


@given(positive)
def test_bilirubin_round_trip(value: float) -> None:
    assert bilirubin_umol_l_to_mg_dl(bilirubin_mg_dl_to_umol_l(value)) == pytest.approx(value)


@given(positive)
def test_creatinine_round_trip(value: float) -> None:
    assert creatinine_umol_l_to_mg_dl(creatinine_mg_dl_to_umol_l(value)) == pytest.approx(value)


@given(positive)
def test_albumin_round_trip(value: float) -> None:
    assert albumin_g_l_to_g_dl(albumin_g_dl_to_g_l(value)) == pytest.approx(value)


@given(st.sampled_from(sorted(UNITS)), positive, st.data())
def test_to_canonical_agrees_with_table_factors(analyte: str, value: float, data: object) -> None:
    unit = data.draw(st.sampled_from(sorted(UNITS[analyte])))  # type: ignore[attr-defined]
    assert to_canonical(analyte, value, unit) == pytest.approx(value * UNITS[analyte][unit])
