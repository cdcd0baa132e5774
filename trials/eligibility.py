"""Eligibility rules of the Liveradvance protocol (synopsis: Eligibility).

Pure functions over the screening answers: every criterion is evaluated on its own and
reported as met / not met / missing with the reason, so the page can say exactly why a
patient is or is not eligible. Eligibility is therefore derived, never typed.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

AFP_LIMIT_NG_ML = 400  # exclusion 3: alpha-fetoprotein > 400 ng/mL
GI_BLEED_DAYS = 5  # exclusion 8: GI bleeding in the last 5 days
TRIAL_WASHOUT_MONTHS = 3  # exclusion 15: investigational trial in the last 3 months
ELIGIBLE_ACLF_GRADES = ("1", "2", "3")  # inclusion 2: ACLF grade 1, 2 or 3 (CANONIC)


class Outcome(StrEnum):
    OK = "ok"  # the criterion does not stand in the way
    FAILS = "fails"  # the criterion makes the patient ineligible
    MISSING = "missing"  # not answered yet


@dataclass(frozen=True)
class CriterionResult:
    code: str
    kind: str  # "inclusion" | "exclusion"
    label: str
    outcome: Outcome
    reason: str = ""


@dataclass(frozen=True)
class Assessment:
    criteria: tuple[CriterionResult, ...]

    @property
    def eligible(self) -> bool | None:
        """True only when every criterion is answered and none fails; None while incomplete."""
        if self.failed:
            return False
        if self.missing:
            return None
        return True

    @property
    def failed(self) -> list[CriterionResult]:
        return [c for c in self.criteria if c.outcome is Outcome.FAILS]

    @property
    def missing(self) -> list[CriterionResult]:
        return [c for c in self.criteria if c.outcome is Outcome.MISSING]


def age_on(birth_date: date, on: date) -> int:
    """Completed years of age on a date."""
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def months_before(day: date, months: int) -> date:
    """The same calendar day ``months`` earlier (clamped to the month's last day)."""
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _yes_no(
    code: str,
    label: str,
    value: bool | None,
    *,
    excludes_when: bool = True,
    kind: str = "exclusion",
    fail_reason: str = "",
) -> CriterionResult:
    if value is None:
        return CriterionResult(code, kind, label, Outcome.MISSING, "Not answered")
    if value is excludes_when:
        return CriterionResult(code, kind, label, Outcome.FAILS, fail_reason or label)
    return CriterionResult(code, kind, label, Outcome.OK)


def _choice(code: str, label: str, value: str, failing: dict[str, str]) -> CriterionResult:
    if not value:
        return CriterionResult(code, "exclusion", label, Outcome.MISSING, "Not answered")
    if value in failing:
        return CriterionResult(code, "exclusion", label, Outcome.FAILS, failing[value])
    return CriterionResult(code, "exclusion", label, Outcome.OK)


def _dated_event(
    code: str,
    label: str,
    happened: bool | None,
    last: date | None,
    window_start: date,
    screening_date: date,
    reason: str,
) -> CriterionResult:
    if happened is None:
        return CriterionResult(code, "exclusion", label, Outcome.MISSING, "Not answered")
    if not happened:
        return CriterionResult(code, "exclusion", label, Outcome.OK)
    if last is None:
        return CriterionResult(code, "exclusion", label, Outcome.MISSING, "Date missing")
    if window_start <= last <= screening_date:
        return CriterionResult(
            code, "exclusion", label, Outcome.FAILS, f"{reason} (last on {last.isoformat()})"
        )
    return CriterionResult(code, "exclusion", label, Outcome.OK)


def assess(
    *, s: Any, birth_date: date, sex: str, consent_datetime: datetime | None, aclf_grade: str
) -> Assessment:
    """Evaluate every inclusion and exclusion criterion for one screening.

    ``s`` is any object with the screening attributes (the model instance or a form's
    cleaned data wrapped in a namespace); ``aclf_grade`` is the computed CANONIC grade
    ("no_aclf", "1", "2", "3" or "" when the inputs are incomplete).
    """
    on: date = s.screening_date
    results: list[CriterionResult] = []
    add = results.append

    # Inclusion
    add(
        _yes_no(
            "INC1",
            "Liver cirrhosis",
            s.cirrhosis,
            excludes_when=False,
            kind="inclusion",
            fail_reason="No liver cirrhosis",
        )
    )
    if not aclf_grade:
        add(
            CriterionResult(
                "INC2",
                "inclusion",
                "ACLF grade 1, 2 or 3 (CANONIC)",
                Outcome.MISSING,
                "ACLF grade cannot be computed: inputs missing",
            )
        )
    elif aclf_grade not in ELIGIBLE_ACLF_GRADES:
        add(
            CriterionResult(
                "INC2",
                "inclusion",
                "ACLF grade 1, 2 or 3 (CANONIC)",
                Outcome.FAILS,
                "No ACLF by CANONIC criteria",
            )
        )
    elif not s.aclf_grade_confirmed:
        add(
            CriterionResult(
                "INC2",
                "inclusion",
                "ACLF grade 1, 2 or 3 (CANONIC)",
                Outcome.MISSING,
                f"Computed grade {aclf_grade} not yet confirmed",
            )
        )
    else:
        add(CriterionResult("INC2", "inclusion", "ACLF grade 1, 2 or 3 (CANONIC)", Outcome.OK))
    if consent_datetime is None:
        add(
            CriterionResult(
                "INC3",
                "inclusion",
                "Signed informed consent",
                Outcome.MISSING,
                "Consent date not recorded",
            )
        )
    elif consent_datetime.date() > on:
        add(
            CriterionResult(
                "INC3",
                "inclusion",
                "Signed informed consent",
                Outcome.FAILS,
                "Consent signed after the screening date",
            )
        )
    else:
        add(CriterionResult("INC3", "inclusion", "Signed informed consent", Outcome.OK))
    age = age_on(birth_date, on)
    if 18 <= age <= 79:
        add(CriterionResult("INC4", "inclusion", "Age 18–79 at screening", Outcome.OK))
    else:
        add(
            CriterionResult(
                "INC4",
                "inclusion",
                "Age 18–79 at screening",
                Outcome.FAILS,
                f"Age {age} on {on.isoformat()} is outside 18–79",
            )
        )

    # Exclusion (synopsis numbering)
    add(
        _yes_no(
            "EXC1",
            "Acute or subacute liver failure without cirrhosis",
            s.acute_liver_failure_without_cirrhosis,
        )
    )
    add(
        _yes_no(
            "EXC2", "ACLF grade 1 with response to medical therapy", s.aclf1_responding_to_therapy
        )
    )
    if s.afp_ng_ml is not None and s.afp_ng_ml > AFP_LIMIT_NG_ML:
        add(
            CriterionResult(
                "EXC3",
                "exclusion",
                "Current malignancy or AFP > 400 ng/mL",
                Outcome.FAILS,
                f"AFP {s.afp_ng_ml} ng/mL > {AFP_LIMIT_NG_ML}",
            )
        )
    else:
        add(
            _yes_no(
                "EXC3",
                "Current malignancy or AFP > 400 ng/mL",
                s.current_malignancy,
                fail_reason="Current malignancy",
            )
        )
    add(
        _yes_no(
            "EXC4",
            "Previous malignancy or family history of hereditary cancer",
            s.previous_malignancy_or_hereditary_cancer,
        )
    )
    add(
        _choice(
            "EXC5",
            "Moderate or severe chronic heart failure (NYHA III–IV)",
            s.nyha_class,
            {"III": "Chronic heart failure NYHA III", "IV": "Chronic heart failure NYHA IV"},
        )
    )
    add(
        _yes_no(
            "EXC6",
            "Renal replacement therapy",
            s.renal_replacement_therapy,
            fail_reason="On renal replacement therapy",
        )
    )
    add(
        _choice(
            "EXC7",
            "Severe chronic pulmonary disease (GOLD III–IV)",
            s.gold_stage,
            {
                "III": "Chronic pulmonary disease GOLD III",
                "IV": "Chronic pulmonary disease GOLD IV",
            },
        )
    )
    add(
        _dated_event(
            "EXC8",
            "Gastrointestinal bleeding in the last 5 days",
            s.gi_bleed_history,
            s.last_gi_bleed_date,
            date.fromordinal(on.toordinal() - GI_BLEED_DAYS),
            on,
            "GI bleeding within 5 days of screening",
        )
    )
    add(_yes_no("EXC9", "Previous liver transplantation", s.previous_liver_transplant))
    add(_yes_no("EXC10", "Immunosuppressive therapy", s.immunosuppressive_therapy))
    add(_yes_no("EXC11", "Extrahepatic cholestasis", s.extrahepatic_cholestasis))
    add(_yes_no("EXC12", "HIV infection", s.hiv_infection))
    pregnancy_failing = {"pregnant": "Pregnant", "breastfeeding": "Breastfeeding"}
    childbearing_failing = {
        "yes_no_contraception": "Child-bearing potential without birth control"
    }
    if sex == "M":
        pregnancy_failing = childbearing_failing = {}
    add(_choice("EXC13", "Pregnant or breastfeeding", s.pregnancy_status, pregnancy_failing))
    add(
        _choice(
            "EXC14",
            "Child-bearing potential without acceptable birth control",
            s.childbearing_potential,
            childbearing_failing,
        )
    )
    add(
        _dated_event(
            "EXC15",
            "Investigational trial in the last 3 months",
            s.investigational_trial_history,
            s.last_investigational_trial_date,
            months_before(on, TRIAL_WASHOUT_MONTHS),
            on,
            "Investigational trial within 3 months",
        )
    )
    add(_yes_no("EXC16", "Active addiction to illegal drugs", s.active_drug_addiction))
    add(_yes_no("EXC17", "Refusal to participate", s.refuses_participation))
    add(_yes_no("EXC18", "Unable to provide prior informed consent", s.unable_to_consent))
    return Assessment(tuple(results))


class _Unanswered:
    """A screening with every answer missing: ``assess`` still names every criterion."""

    screening_date = date(2000, 1, 1)

    def __getattr__(self, name: str) -> None:
        return None


def criterion_labels() -> dict[str, str]:
    """Criterion code -> label (e.g. "EXC12" -> "HIV infection"), derived from ``assess``."""
    global _LABELS
    if _LABELS is None:
        result = assess(
            s=_Unanswered(),
            birth_date=date(1970, 1, 1),
            sex="F",
            consent_datetime=None,
            aclf_grade="",
        )
        _LABELS = {c.code: c.label for c in result.criteria}
    return _LABELS


_LABELS: dict[str, str] | None = None
