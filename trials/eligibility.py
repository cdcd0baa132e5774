"""Eligibility rules of the Liveradvance protocol (synopsis: Eligibility), as one table.

Each criterion is a row — code, kind, the protocol's wording, and a small rule over the
screening answers — evaluated by one engine (``assess``). Every criterion is reported as
met / not met / missing with its reason, from the same table the page shows, so eligibility
is derived, never typed.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from django.utils.translation import gettext_lazy as _

AFP_LIMIT_NG_ML = 400  # exclusion 3: alpha-fetoprotein > 400 ng/mL
GI_BLEED_DAYS = 5  # exclusion 8: GI bleeding in the last 5 days
TRIAL_WASHOUT_MONTHS = 3  # exclusion 15: investigational trial in the last 3 months
ELIGIBLE_ACLF_GRADES = ("1", "2", "3")  # inclusion 2: ACLF grade 1, 2 or 3 (CANONIC)


class Outcome(StrEnum):
    OK = "ok"  # the criterion does not stand in the way
    FAILS = "fails"  # the criterion makes the patient ineligible
    MISSING = "missing"  # not answered yet (or answered inconsistently)


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


@dataclass(frozen=True)
class Facts:
    """What the rules read: the screening answers plus the patient record and trial bounds."""

    s: Any
    birth_date: date
    sex: str
    consent_datetime: datetime | None
    aclf_grade: str
    min_age: int
    max_age: int


Verdict = tuple[Outcome, str]
OK: Verdict = (Outcome.OK, "")
NOT_ANSWERED: Verdict = (Outcome.MISSING, _("Not answered"))


@dataclass(frozen=True)
class Criterion:
    code: str
    kind: str
    label: str
    rule: Callable[[Facts], Verdict]


def answered_yes(field: str, reason: str = "") -> Callable[[Facts], Verdict]:
    """Exclusion met when the yes/no answer is yes."""

    def rule(f: Facts) -> Verdict:
        value = getattr(f.s, field)
        if value is None:
            return NOT_ANSWERED
        return (Outcome.FAILS, reason) if value else OK

    return rule


def one_of(field: str, failing: dict[str, str]) -> Callable[[Facts], Verdict]:
    """Exclusion met when the coded answer is one of ``failing`` (code -> reason)."""

    def rule(f: Facts) -> Verdict:
        value = getattr(f.s, field)
        if not value:
            return NOT_ANSWERED
        return (Outcome.FAILS, failing[value]) if value in failing else OK

    return rule


def dated_event(
    happened: str, last: str, window_start: Callable[[date], date], reason: str
) -> Callable[[Facts], Verdict]:
    """Exclusion met when the event happened within the window ending on the screening date."""

    def rule(f: Facts) -> Verdict:
        value, day = getattr(f.s, happened), getattr(f.s, last)
        if value is None:
            return NOT_ANSWERED
        if not value:
            return OK
        if day is None:
            return (Outcome.MISSING, _("Date missing"))
        on = f.s.screening_date
        if day > on:
            return (
                Outcome.MISSING,
                _("Date %(day)s is after the screening date") % {"day": day.isoformat()},
            )
        if window_start(on) <= day:
            return (
                Outcome.FAILS,
                _("%(reason)s (last on %(day)s)") % {"reason": reason, "day": day.isoformat()},
            )
        return OK

    return rule


def _cirrhosis(f: Facts) -> Verdict:
    if f.s.cirrhosis is None:
        return NOT_ANSWERED
    return OK if f.s.cirrhosis else (Outcome.FAILS, _("No liver cirrhosis"))


def _aclf_grade(f: Facts) -> Verdict:
    if not f.aclf_grade:
        return (Outcome.MISSING, _("ACLF grade cannot be computed: inputs missing"))
    if f.aclf_grade not in ELIGIBLE_ACLF_GRADES:
        return (Outcome.FAILS, _("No ACLF by CANONIC criteria"))
    if not f.s.aclf_grade_confirmed:
        return (
            Outcome.MISSING,
            _("Computed grade %(grade)s not yet confirmed") % {"grade": f.aclf_grade},
        )
    return OK


def _consent(f: Facts) -> Verdict:
    if f.consent_datetime is None:
        return (Outcome.MISSING, _("Consent date not recorded"))
    if f.consent_datetime.date() > f.s.screening_date:
        return (Outcome.FAILS, _("Consent signed after the screening date"))
    return OK


def _age(f: Facts) -> Verdict:
    age = age_on(f.birth_date, f.s.screening_date)
    if f.min_age <= age <= f.max_age:
        return OK
    return (
        Outcome.FAILS,
        _("Age %(age)s on %(day)s is outside %(min)s–%(max)s")
        % {"age": age, "day": f.s.screening_date.isoformat(), "min": f.min_age, "max": f.max_age},
    )


def _aclf1_responding(f: Facts) -> Verdict:
    # Exclusion 2 concerns ACLF grade 1 only: a responding grade-2/3 patient is not excluded.
    value = f.s.aclf1_responding_to_therapy
    if f.aclf_grade in ("2", "3"):
        return OK
    if value is None:
        return NOT_ANSWERED
    if value and f.aclf_grade == "1":
        return (Outcome.FAILS, _("ACLF grade 1 with response to medical therapy"))
    if value:
        return (Outcome.MISSING, _("Applies to ACLF grade 1: the grade is not computed yet"))
    return OK


def _malignancy_or_afp(f: Facts) -> Verdict:
    afp = f.s.afp_ng_ml
    if afp is not None and afp > AFP_LIMIT_NG_ML:
        return (
            Outcome.FAILS,
            _("AFP %(afp)s ng/mL > %(limit)s") % {"afp": afp, "limit": AFP_LIMIT_NG_ML},
        )
    if f.s.current_malignancy:
        return (Outcome.FAILS, _("Current malignancy"))
    if f.s.current_malignancy is None:
        return NOT_ANSWERED
    if afp is None:  # the AFP half of the criterion cannot be judged without the value
        return (Outcome.MISSING, _("Alpha-fetoprotein not recorded"))
    return OK


def _female_only(field: str, failing: dict[str, str]) -> Callable[[Facts], Verdict]:
    """Exclusions 13–14: a woman must answer for herself; "not applicable (male)" is not an
    answer for a woman, and a pregnancy answer for a man contradicts the recorded sex."""

    def rule(f: Facts) -> Verdict:
        value = getattr(f.s, field)
        if f.sex == "M":
            if value in ("", "not_applicable"):
                return OK
            return (Outcome.MISSING, _("Answer given for a man: correct the answer or the sex"))
        if not value:
            return NOT_ANSWERED
        if value == "not_applicable":
            return (Outcome.MISSING, _("“Not applicable (male)” is not an answer for a woman"))
        return (Outcome.FAILS, failing[value]) if value in failing else OK

    return rule


CRITERIA: tuple[Criterion, ...] = (
    Criterion("INC1", "inclusion", _("Liver cirrhosis"), _cirrhosis),
    Criterion("INC2", "inclusion", _("ACLF grade 1, 2 or 3 (CANONIC)"), _aclf_grade),
    Criterion("INC3", "inclusion", _("Signed informed consent"), _consent),
    Criterion("INC4", "inclusion", _("Age within the trial's bounds at screening"), _age),
    Criterion(
        "EXC1",
        "exclusion",
        _("Acute or subacute liver failure without cirrhosis"),
        answered_yes(
            "acute_liver_failure_without_cirrhosis",
            _("Acute or subacute liver failure without cirrhosis"),
        ),
    ),
    Criterion(
        "EXC2", "exclusion", _("ACLF grade 1 with response to medical therapy"), _aclf1_responding
    ),
    Criterion("EXC3", "exclusion", _("Current malignancy or AFP > 400 ng/mL"), _malignancy_or_afp),
    Criterion(
        "EXC4",
        "exclusion",
        _("Previous malignancy or family history of hereditary cancer"),
        answered_yes(
            "previous_malignancy_or_hereditary_cancer",
            _("Previous malignancy or family history of hereditary cancer"),
        ),
    ),
    Criterion(
        "EXC5",
        "exclusion",
        _("Moderate or severe chronic heart failure (NYHA III–IV)"),
        one_of(
            "nyha_class",
            {"III": _("Chronic heart failure NYHA III"), "IV": _("Chronic heart failure NYHA IV")},
        ),
    ),
    Criterion(
        "EXC6",
        "exclusion",
        _("Renal replacement therapy"),
        answered_yes("renal_replacement_therapy", _("On renal replacement therapy")),
    ),
    Criterion(
        "EXC7",
        "exclusion",
        _("Severe chronic pulmonary disease (GOLD III–IV)"),
        one_of(
            "gold_stage",
            {
                "III": _("Chronic pulmonary disease GOLD III"),
                "IV": _("Chronic pulmonary disease GOLD IV"),
            },
        ),
    ),
    Criterion(
        "EXC8",
        "exclusion",
        _("Gastrointestinal bleeding in the last 5 days"),
        dated_event(
            "gi_bleed_history",
            "last_gi_bleed_date",
            lambda on: date.fromordinal(on.toordinal() - GI_BLEED_DAYS),
            _("GI bleeding within 5 days of screening"),
        ),
    ),
    Criterion(
        "EXC9",
        "exclusion",
        _("Previous liver transplantation"),
        answered_yes("previous_liver_transplant", _("Previous liver transplantation")),
    ),
    Criterion(
        "EXC10",
        "exclusion",
        _("Immunosuppressive therapy"),
        answered_yes("immunosuppressive_therapy", _("Immunosuppressive therapy")),
    ),
    Criterion(
        "EXC11",
        "exclusion",
        _("Extrahepatic cholestasis"),
        answered_yes("extrahepatic_cholestasis", _("Extrahepatic cholestasis")),
    ),
    Criterion(
        "EXC12", "exclusion", _("HIV infection"), answered_yes("hiv_infection", _("HIV infection"))
    ),
    Criterion(
        "EXC13",
        "exclusion",
        _("Pregnant or breastfeeding"),
        _female_only(
            "pregnancy_status", {"pregnant": _("Pregnant"), "breastfeeding": _("Breastfeeding")}
        ),
    ),
    Criterion(
        "EXC14",
        "exclusion",
        _("Child-bearing potential without acceptable birth control"),
        _female_only(
            "childbearing_potential",
            {"yes_no_contraception": _("Child-bearing potential without birth control")},
        ),
    ),
    Criterion(
        "EXC15",
        "exclusion",
        _("Investigational trial in the last 3 months"),
        dated_event(
            "investigational_trial_history",
            "last_investigational_trial_date",
            lambda on: months_before(on, TRIAL_WASHOUT_MONTHS),
            _("Investigational trial within 3 months"),
        ),
    ),
    Criterion(
        "EXC16",
        "exclusion",
        _("Active addiction to illegal drugs"),
        answered_yes("active_drug_addiction", _("Active addiction to illegal drugs")),
    ),
    Criterion(
        "EXC17",
        "exclusion",
        _("Refusal to participate"),
        answered_yes("refuses_participation", _("Refusal to participate")),
    ),
    Criterion(
        "EXC18",
        "exclusion",
        _("Unable to provide prior informed consent"),
        answered_yes("unable_to_consent", _("Unable to provide prior informed consent")),
    ),
)
CRITERION_TEXT = {c.code: c.label for c in CRITERIA}


def assess(
    *,
    s: Any,
    birth_date: date,
    sex: str,
    consent_datetime: datetime | None,
    aclf_grade: str,
    min_age: int = 18,
    max_age: int = 79,
) -> Assessment:
    """Evaluate every criterion of ``CRITERIA`` for one screening.

    ``s`` is any object with the screening attributes (the model instance or a namespace);
    ``aclf_grade`` is the computed CANONIC grade ("no_aclf", "1", "2", "3" or "" when the
    inputs are incomplete); the age bounds come from the trial's configuration.
    """
    facts = Facts(s, birth_date, sex, consent_datetime, aclf_grade, min_age, max_age)
    results = []
    for criterion in CRITERIA:
        outcome, reason = criterion.rule(facts)
        if outcome is Outcome.FAILS and not reason:
            reason = criterion.label
        results.append(
            CriterionResult(criterion.code, criterion.kind, criterion.label, outcome, reason)
        )
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
