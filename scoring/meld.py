"""MELD, MELD-Na (OPTN/UNOS policy) and MELD 3.0 (Kim 2021).

MELD(i) and MELD-Na, OPTN Policy 9.1.D (serum sodium added January 2016; policy text as
quoted in MIT-LCP/mimic-code ``mimic-iv/concepts/organfailure/meld.sql`` and
https://optn.transplant.hrsa.gov/news/meld-serum-sodium-policy-changes/):
    MELD(i) = 0.957 x ln(Cr) + 0.378 x ln(bilirubin) + 1.120 x ln(INR) + 0.643
    - laboratory values below 1.0 are set to 1.0;
    - creatinine above 4.0 mg/dL is set to 4.0; so is creatinine after two or more
      dialysis treatments, or 24 h of CVVHD, in the prior week
      (input ``dialysis_twice_in_last_week``);
    - "The maximum MELD score is 40. The MELD score derived from this calculation will be
      rounded to the tenth decimal place and then multiplied by 10."
    - if MELD(i) > 11: MELD = MELD(i) + 1.32 x (137 - Na) - [0.033 x MELD(i) x (137 - Na)],
      sodium bounded to 125-137 mmol/L.

MELD 3.0, Kim WR et al. Gastroenterology 2021;161:1887-95 (formula as reproduced by the
openEHR CKM archetype MELD_3_0 and ameld ``meld3``):
    1.33 (if female) + 4.56 ln(bili) + 0.82 (137 - Na) - 0.24 (137 - Na) ln(bili)
    + 9.09 ln(INR) + 11.14 ln(Cr) + 1.85 (3.5 - Alb) - 1.83 (3.5 - Alb) ln(Cr) + 6
    bounds: bilirubin, INR, creatinine >= 1.0; creatinine <= 3.0 (and 3.0 after dialysis
    twice in the prior week); sodium 125-137 mmol/L; albumin 1.5-3.5 g/dL.

Source disagreements and the choice made here:
1. Rounding of MELD(i). OPTN: round the bracket to one decimal, then x10 (an integer).
   MDCalc/QxMD: x10, then round to the nearest integer - the same number. Some code
   (ameld ``meld``, many calculators) keeps the unrounded x10 value. Followed: OPTN,
   half-up rounding; the unrounded value is in ``details``.
2. MELD-Na on rounded vs unrounded MELD(i). OPTN defines MELD-Na from MELD(i), the
   rounded score (mimic-code uses the rounded value); ameld ``meld_na(type="unos")``
   and several calculators use the unrounded value. Followed: OPTN (rounded MELD(i)),
   including for the "> 11" test, so MELD(i) 11 gets no sodium term and 12 does. The
   final MELD-Na is rounded half-up to an integer.
3. Cap at 40. OPTN caps MELD at 40 (mimic-code sets 40 when the bracket exceeds 4).
   Applied to MELD(i) and MELD-Na (MELD-Na cannot exceed 40 when MELD(i) <= 40, since
   1.32 - 0.033 x 40 = 0). Kim 2021 scaled MELD 3.0 "without a presumption that the score
   would be capped at 40" (CKM MELD_3_0 text) while OPTN allocation keeps the 40 maximum;
   followed: cap 40 for MELD 3.0 as well, unrounded and uncapped value in ``details``.
4. MELD-Na below the threshold: when MELD(i) <= 11 the MELD-Na equals MELD(i) and sodium
   is not needed, exactly as the policy reads.
5. MELD 3.0 rounding: nearest integer, half-up (as OPTN reports whole scores).
The OPTN sodium correction for hyperglycaemia is not applied (glucose is not an input).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Final

from scoring.inputs import ScoringInputs
from scoring.results import ScoreResult
from scoring.rounding import round_half_up, to_json_number

MELD_MAX: Final = 40
MELD_NA_THRESHOLD: Final = 11
_D = Decimal


def _clamp(value: Decimal, low: Decimal, high: Decimal) -> Decimal:
    return max(low, min(high, value))


def _meld_components(inputs: ScoringInputs) -> tuple[dict[str, Decimal], list[str], bool]:
    """Bounded creatinine, bilirubin and INR for MELD(i), missing keys, dialysis applied."""
    dialysis = inputs.flag("dialysis_twice_in_last_week")
    bilirubin, inr, creatinine = inputs.bilirubin_mg_dl, inputs.inr, inputs.creatinine_mg_dl
    if dialysis:
        creatinine = _D(4)
    if bilirubin is None or inr is None or creatinine is None:
        missing = [
            key
            for key, value in (
                ("bilirubin_mg_dl", bilirubin),
                ("creatinine_mg_dl", creatinine),
                ("inr", inr),
            )
            if value is None
        ]
        return {}, missing, dialysis
    return (
        {
            "creatinine_mg_dl": _clamp(creatinine, _D(1), _D(4)),
            "bilirubin_mg_dl": max(_D(1), bilirubin),
            "inr": max(_D(1), inr),
        },
        [],
        dialysis,
    )


def meld(inputs: ScoringInputs) -> ScoreResult:
    """MELD(i) per OPTN policy: bounded labs, bracket rounded to 0.1, x10, max 40."""
    used, missing, dialysis = _meld_components(inputs)
    if missing:
        return ScoreResult(None, tuple(missing), {})
    bracket = (
        0.957 * math.log(used["creatinine_mg_dl"])
        + 0.378 * math.log(used["bilirubin_mg_dl"])
        + 1.120 * math.log(used["inr"])
        + 0.643
    )
    value = min(MELD_MAX, int(round_half_up(bracket, 1) * 10))
    details = {
        "components_used": {key: to_json_number(v) for key, v in used.items()},
        "dialysis_creatinine_rule": dialysis,
        "unrounded": bracket * 10,
        "rounding": "OPTN: rounded to one decimal, then x10; capped at 40",
    }
    return ScoreResult(value, (), details)


def meld_na(inputs: ScoringInputs, meld_result: ScoreResult | None = None) -> ScoreResult:
    """MELD-Na per OPTN policy, from the rounded MELD(i); equals MELD(i) when <= 11."""
    base = meld_result if meld_result is not None else meld(inputs)
    if base.value is None:
        missing = set(base.missing)
        if inputs.sodium_mmol_l is None:
            missing.add("sodium_mmol_l")
        return ScoreResult(None, tuple(sorted(missing)), {})
    initial = int(base.value)
    details: dict[str, object] = {"meld_i": initial}
    if initial <= MELD_NA_THRESHOLD:
        details["sodium_term_applied"] = False
        return ScoreResult(initial, (), details)
    if inputs.sodium_mmol_l is None:
        return ScoreResult(None, ("sodium_mmol_l",), details)
    sodium = _clamp(inputs.sodium_mmol_l, _D(125), _D(137))
    gap = _D(137) - sodium
    exact = initial + _D("1.32") * gap - _D("0.033") * initial * gap
    value = min(MELD_MAX, int(round_half_up(exact, 0)))
    details.update(
        {
            "sodium_term_applied": True,
            "sodium_used": to_json_number(sodium),
            "unrounded": to_json_number(exact, 6),
        }
    )
    return ScoreResult(value, (), details)


def meld_3(inputs: ScoringInputs) -> ScoreResult:
    """MELD 3.0 (Kim 2021) with its bounds, rounded half-up to an integer, max 40."""
    dialysis = inputs.flag("dialysis_twice_in_last_week")
    creatinine = _D(3) if dialysis else inputs.creatinine_mg_dl
    bilirubin, inr = inputs.bilirubin_mg_dl, inputs.inr
    sodium, albumin = inputs.sodium_mmol_l, inputs.albumin_g_dl
    required = {
        "sex": inputs.sex,
        "bilirubin_mg_dl": bilirubin,
        "creatinine_mg_dl": creatinine,
        "inr": inr,
        "sodium_mmol_l": sodium,
        "albumin_g_dl": albumin,
    }
    if (
        creatinine is None
        or bilirubin is None
        or inr is None
        or sodium is None
        or albumin is None
        or inputs.sex is None
    ):
        missing = tuple(sorted(key for key, value in required.items() if value is None))
        return ScoreResult(None, missing, {})
    creatinine = _clamp(creatinine, _D(1), _D(3))
    bilirubin = max(_D(1), bilirubin)
    inr = max(_D(1), inr)
    sodium = _clamp(sodium, _D(125), _D(137))
    albumin = _clamp(albumin, _D("1.5"), _D("3.5"))
    female = 1.0 if inputs.sex == "F" else 0.0
    ln_bili, ln_cr = math.log(bilirubin), math.log(creatinine)
    na_gap, alb_gap = float(137 - sodium), float(_D("3.5") - albumin)
    raw = (
        1.33 * female
        + 4.56 * ln_bili
        + 0.82 * na_gap
        - 0.24 * na_gap * ln_bili
        + 9.09 * math.log(inr)
        + 11.14 * ln_cr
        + 1.85 * alb_gap
        - 1.83 * alb_gap * ln_cr
        + 6
    )
    details = {
        "components_used": {
            "creatinine_mg_dl": to_json_number(creatinine),
            "bilirubin_mg_dl": to_json_number(bilirubin),
            "inr": to_json_number(inr),
            "sodium_mmol_l": to_json_number(sodium),
            "albumin_g_dl": to_json_number(albumin),
            "female": bool(female),
        },
        "dialysis_creatinine_rule": dialysis,
        "unrounded": raw,
    }
    return ScoreResult(min(MELD_MAX, int(round_half_up(raw, 0))), (), details)
