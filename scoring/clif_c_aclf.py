"""CLIF-C ACLF and CLIF-C AD prognostic scores.

CLIF-C ACLF (Jalan R et al. J Hepatol 2014;61:1038-47; EFCLIF
https://efclif.com/research-infrastructure/score-calculators/clif-c-of-ad-aclf ):
    10 x [0.33 x CLIF-C OF + 0.04 x age (years) + 0.63 x ln(WBC x10^9/L) - 2]

CLIF-C AD (Jalan R et al. J Hepatol 2015;62:831-40; EFCLIF
https://efclif.com/research-infrastructure/score-calculators/clif-c-ad/ ):
    10 x [0.03 x age + 0.66 x ln(creatinine mg/dL) + 1.71 x ln(INR)
          + 0.88 x ln(WBC x10^9/L) - 0.05 x sodium (mmol/L) + 8]

Both formulas were checked against the EFCLIF pages and agree with the brief. Neither
source bounds the inputs, so none are applied (creatinine, INR and WBC must be > 0, which
validation enforces). Values are reported rounded half-up to one decimal; the unrounded
value is in ``details``. CLIF-C ACLF is validated for patients with ACLF and CLIF-C AD for
acute decompensation without ACLF; both are computed whenever their inputs are present
and ``details["applicable"]`` says whether the ACLF grade makes the score applicable.
"""

from __future__ import annotations

import math

from scoring.inputs import ScoringInputs
from scoring.results import ScoreResult
from scoring.rounding import round_half_up, to_json_number


def _applicable(grade: str | None, with_aclf: bool) -> bool | None:
    if grade is None:
        return None
    return (grade != "no_aclf") is with_aclf


def clif_c_aclf(inputs: ScoringInputs, clif_c_of: int | None, grade: str | None) -> ScoreResult:
    """CLIF-C ACLF score from a computed CLIF-C OF total, age and WBC (Jalan 2014)."""
    missing: list[str] = []
    if clif_c_of is None:
        missing.append("clif_c_of")
    if inputs.age is None:
        missing.append("age")
    if inputs.wbc_10e9_l is None:
        missing.append("wbc_10e9_l")
    details: dict[str, object] = {"applicable": _applicable(grade, with_aclf=True)}
    if clif_c_of is None or inputs.age is None or inputs.wbc_10e9_l is None:
        return ScoreResult(None, tuple(sorted(missing)), details)
    age, wbc = float(inputs.age), float(inputs.wbc_10e9_l)
    raw = 10 * (0.33 * clif_c_of + 0.04 * age + 0.63 * math.log(wbc) - 2)
    details.update(
        {
            "clif_c_of": clif_c_of,
            "age": to_json_number(inputs.age),
            "wbc_10e9_l": to_json_number(inputs.wbc_10e9_l),
            "unrounded": raw,
        }
    )
    return ScoreResult(float(round_half_up(raw, 1)), (), details)


def clif_c_ad(inputs: ScoringInputs, grade: str | None) -> ScoreResult:
    """CLIF-C AD score from age, creatinine, INR, WBC and sodium (Jalan 2015)."""
    required = {
        "age": inputs.age,
        "creatinine_mg_dl": inputs.creatinine_mg_dl,
        "inr": inputs.inr,
        "wbc_10e9_l": inputs.wbc_10e9_l,
        "sodium_mmol_l": inputs.sodium_mmol_l,
    }
    details: dict[str, object] = {"applicable": _applicable(grade, with_aclf=False)}
    missing = tuple(sorted(key for key, value in required.items() if value is None))
    if (
        inputs.age is None
        or inputs.creatinine_mg_dl is None
        or inputs.inr is None
        or inputs.wbc_10e9_l is None
        or inputs.sodium_mmol_l is None
    ):
        return ScoreResult(None, missing, details)
    raw = 10 * (
        0.03 * float(inputs.age)
        + 0.66 * math.log(inputs.creatinine_mg_dl)
        + 1.71 * math.log(inputs.inr)
        + 0.88 * math.log(inputs.wbc_10e9_l)
        - 0.05 * float(inputs.sodium_mmol_l)
        + 8
    )
    details.update({key: to_json_number(value) for key, value in required.items() if value})
    details["unrounded"] = raw
    return ScoreResult(float(round_half_up(raw, 1)), (), details)
