"""Each criterion of the synopsis (Eligibility) excludes on its own; age bounds; derivation."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest

from tests.trials.screening_data import eligible_screening_data
from trials import eligibility

TODAY = dt.date(2026, 6, 15)
CONSENT = dt.datetime(2026, 6, 14, 10, 0, tzinfo=dt.UTC)


def assess(*, birth_date=dt.date(1970, 1, 1), sex="M", consent=CONSENT, grade="2", **overrides):
    data = eligible_screening_data(screening_date=TODAY, **overrides)
    return eligibility.assess(
        s=SimpleNamespace(**data),
        birth_date=birth_date,
        sex=sex,
        consent_datetime=consent,
        aclf_grade=grade,
    )


def test_complete_screening_without_exclusions_is_eligible():
    result = assess()
    assert result.eligible is True
    assert result.failed == []
    assert result.missing == []
    assert len(result.criteria) == 22  # 4 inclusion + 18 exclusion criteria


EXCLUDING_ANSWERS = [
    ("INC1", {"cirrhosis": False}),
    ("EXC1", {"acute_liver_failure_without_cirrhosis": True}),
    ("EXC3", {"current_malignancy": True}),
    ("EXC3", {"afp_ng_ml": Decimal("400.1")}),
    ("EXC4", {"previous_malignancy_or_hereditary_cancer": True}),
    ("EXC5", {"nyha_class": "III"}),
    ("EXC5", {"nyha_class": "IV"}),
    ("EXC6", {"renal_replacement_therapy": True}),
    ("EXC7", {"gold_stage": "III"}),
    ("EXC7", {"gold_stage": "IV"}),
    ("EXC8", {"gi_bleed_history": True, "last_gi_bleed_date": TODAY - dt.timedelta(days=5)}),
    ("EXC9", {"previous_liver_transplant": True}),
    ("EXC10", {"immunosuppressive_therapy": True}),
    ("EXC11", {"extrahepatic_cholestasis": True}),
    ("EXC12", {"hiv_infection": True}),
    (
        "EXC15",
        {
            "investigational_trial_history": True,
            "last_investigational_trial_date": dt.date(2026, 3, 15),
        },
    ),
    ("EXC16", {"active_drug_addiction": True}),
    ("EXC17", {"refuses_participation": True}),
    ("EXC18", {"unable_to_consent": True}),
]


@pytest.mark.parametrize(("code", "answer"), EXCLUDING_ANSWERS)
def test_each_criterion_excludes_on_its_own(code, answer):
    result = assess(**answer)
    assert result.eligible is False
    assert [c.code for c in result.failed] == [code]


@pytest.mark.parametrize(
    ("code", "answer"),
    [
        ("EXC13", {"pregnancy_status": "pregnant"}),
        ("EXC13", {"pregnancy_status": "breastfeeding"}),
        ("EXC14", {"childbearing_potential": "yes_no_contraception"}),
    ],
)
def test_pregnancy_and_contraception_exclude_women(code, answer):
    result = assess(sex="F", **answer)
    assert [c.code for c in result.failed] == [code]


@pytest.mark.parametrize(
    ("answer", "eligible"),
    [
        ({"afp_ng_ml": Decimal("400.0")}, True),  # "> 400 ng/mL" excludes; 400 does not
        ({"nyha_class": "II"}, True),
        ({"gold_stage": "II"}, True),
        # GI bleed 6 days before screening is outside "the last 5 days".
        ({"gi_bleed_history": True, "last_gi_bleed_date": TODAY - dt.timedelta(days=6)}, True),
        # Last trial the day before the 3-month window opened.
        (
            {
                "investigational_trial_history": True,
                "last_investigational_trial_date": dt.date(2026, 3, 14),
            },
            True,
        ),
    ],
)
def test_values_just_outside_an_exclusion_do_not_exclude(answer, eligible):
    assert assess(**answer).eligible is eligible


def test_a_woman_using_birth_control_is_not_excluded():
    result = assess(
        sex="F", pregnancy_status="not_pregnant", childbearing_potential="yes_contraception"
    )
    assert result.eligible is True


# --- edges found by the clinical data manager (issue 13) ----------------------------------


def test_aclf1_responding_to_therapy_excludes_grade_1_only():
    assert [c.code for c in assess(grade="1", aclf1_responding_to_therapy=True).failed] == ["EXC2"]
    for grade in ("2", "3"):
        assert assess(grade=grade, aclf1_responding_to_therapy=True).eligible is True
    assert assess(grade="2", aclf1_responding_to_therapy=None).eligible is True


def test_missing_afp_leaves_exclusion_3_open():
    result = assess(afp_ng_ml=None)
    assert result.eligible is None
    assert [(c.code, c.reason) for c in result.missing] == [
        ("EXC3", "Alpha-fetoprotein not recorded")
    ]
    assert [c.code for c in assess(afp_ng_ml=None, current_malignancy=True).failed] == ["EXC3"]


@pytest.mark.parametrize("field", ["pregnancy_status", "childbearing_potential"])
def test_not_applicable_male_is_no_answer_for_a_woman(field):
    answers = {"pregnancy_status": "not_pregnant", "childbearing_potential": "no", field: ""}
    answers[field] = "not_applicable"
    result = assess(sex="F", **answers)
    assert result.eligible is None
    assert [c.code for c in result.missing] == [
        "EXC13" if field == "pregnancy_status" else "EXC14"
    ]
    assert "not an answer for a woman" in result.missing[0].reason


def test_pregnancy_answer_for_a_man_contradicts_the_recorded_sex():
    result = assess(sex="M", pregnancy_status="pregnant")
    assert [c.code for c in result.missing] == ["EXC13"]


def test_gi_bleed_dated_after_the_screening_is_not_accepted():
    result = assess(gi_bleed_history=True, last_gi_bleed_date=TODAY + dt.timedelta(days=1))
    assert result.eligible is None
    assert "after the screening date" in result.missing[0].reason


def test_age_bounds_come_from_the_trial_configuration():
    data = eligible_screening_data(screening_date=TODAY)
    kwargs = {
        "s": SimpleNamespace(**data),
        "sex": "M",
        "consent_datetime": CONSENT,
        "aclf_grade": "2",
    }
    old = dt.date(1941, 1, 1)  # 85 on the screening date
    assert eligibility.assess(birth_date=old, **kwargs).eligible is False
    assert eligibility.assess(birth_date=old, max_age=90, **kwargs).eligible is True


@pytest.mark.parametrize(
    ("birth_date", "eligible"),
    [
        (dt.date(2008, 6, 15), True),  # 18th birthday on the screening date
        (dt.date(2008, 6, 16), False),  # 17 until tomorrow
        (dt.date(1946, 6, 16), True),  # 79, turns 80 tomorrow
        (dt.date(1946, 6, 15), False),  # 80th birthday on the screening date
    ],
)
def test_age_bounds_18_to_79_on_the_screening_date(birth_date, eligible):
    result = assess(birth_date=birth_date)
    assert result.eligible is eligible
    if not eligible:
        assert [c.code for c in result.failed] == ["INC4"]


@pytest.mark.parametrize("grade", ["no_aclf"])
def test_no_aclf_fails_inclusion_2(grade):
    assert [c.code for c in assess(grade=grade).failed] == ["INC2"]


def test_uncomputable_or_unconfirmed_grade_leaves_eligibility_open():
    assert [c.code for c in assess(grade="").missing] == ["INC2"]
    result = assess(aclf_grade_confirmed=False)
    assert result.eligible is None
    assert "not yet confirmed" in result.missing[0].reason


def test_consent_after_screening_date_fails_and_missing_consent_is_missing():
    late = dt.datetime(2026, 6, 16, 9, 0, tzinfo=dt.UTC)
    assert [c.code for c in assess(consent=late).failed] == ["INC3"]
    assert [c.code for c in assess(consent=None).missing] == ["INC3"]


def test_unanswered_criterion_is_missing_not_ok():
    result = assess(hiv_infection=None)
    assert result.eligible is None
    assert [c.code for c in result.missing] == ["EXC12"]


def test_bleed_without_date_is_missing():
    result = assess(gi_bleed_history=True, last_gi_bleed_date=None)
    assert [c.code for c in result.missing] == ["EXC8"]


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2026, 6, 15), 3, dt.date(2026, 3, 15)),
        (dt.date(2026, 5, 31), 3, dt.date(2026, 2, 28)),  # clamped to the month's last day
        (dt.date(2026, 1, 10), 3, dt.date(2025, 10, 10)),
    ],
)
def test_months_before(day, months, expected):
    assert eligibility.months_before(day, months) == expected
