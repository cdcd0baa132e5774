"""Child-Pugh (Child-Turcotte-Pugh) score and class.

Source: Pugh RNH, Murray-Lyon IM, Dawson JL, Pietroni MC, Williams R. Transection of the
oesophagus for bleeding oesophageal varices. Br J Surg 1973;60:646-9. Pugh graded the
prothrombin time prolongation (1-4 / 4-6 / >6 s); the INR bands used here are the
modern variant (MDCalc "Child-Pugh Score for Cirrhosis Mortality", as reproduced in
stanfordaimlab/llm-as-clinical-calculator ``reference_material/md/cps.md``).

==========================  ============  ==============  ===================
item                        1 point       2 points        3 points
==========================  ============  ==============  ===================
total bilirubin (mg/dL)     <2            2-3             >3
albumin (g/dL)              >3.5          2.8-3.5         <2.8
INR                         <1.7          1.7-2.3         >2.3
ascites                     none          mild            moderate-severe
encephalopathy (West Haven) none          grade 1-2       grade 3-4
==========================  ============  ==============  ===================

Class A 5-6, B 7-9, C 10-15. Band edges are inclusive in the middle band: bilirubin 2.0
and 3.0 score 2, albumin 3.5 and 2.8 score 2, INR 1.7 and 2.3 score 2.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from scoring.inputs import ScoringInputs
from scoring.results import ChildPughResult

ASCITES_POINTS: Final = {"none": 1, "mild": 2, "moderate_severe": 3}
_D = Decimal


def bilirubin_points(bilirubin: Decimal) -> int:
    """<2 -> 1, 2-3 -> 2, >3 -> 3 (mg/dL)."""
    if bilirubin < 2:
        return 1
    return 2 if bilirubin <= 3 else 3


def albumin_points(albumin: Decimal) -> int:
    """>3.5 -> 1, 2.8-3.5 -> 2, <2.8 -> 3 (g/dL)."""
    if albumin > _D("3.5"):
        return 1
    return 2 if albumin >= _D("2.8") else 3


def inr_points(inr: Decimal) -> int:
    """<1.7 -> 1, 1.7-2.3 -> 2, >2.3 -> 3."""
    if inr < _D("1.7"):
        return 1
    return 2 if inr <= _D("2.3") else 3


def encephalopathy_points(he_grade: int) -> int:
    """None -> 1, grade 1-2 -> 2, grade 3-4 -> 3."""
    if he_grade == 0:
        return 1
    return 2 if he_grade <= 2 else 3


def child_pugh_class(score: int) -> str:
    """A 5-6, B 7-9, C 10-15."""
    if score <= 6:
        return "A"
    return "B" if score <= 9 else "C"


def child_pugh(inputs: ScoringInputs) -> ChildPughResult:
    """Child-Pugh points and class; None if any of the five items is missing."""
    required = {
        "bilirubin_mg_dl": inputs.bilirubin_mg_dl,
        "albumin_g_dl": inputs.albumin_g_dl,
        "inr": inputs.inr,
        "ascites": inputs.ascites,
        "he_grade": inputs.he_grade,
    }
    missing = tuple(sorted(key for key, value in required.items() if value is None))
    points: dict[str, int] = {}
    if inputs.bilirubin_mg_dl is not None:
        points["bilirubin"] = bilirubin_points(inputs.bilirubin_mg_dl)
    if inputs.albumin_g_dl is not None:
        points["albumin"] = albumin_points(inputs.albumin_g_dl)
    if inputs.inr is not None:
        points["inr"] = inr_points(inputs.inr)
    if inputs.ascites is not None:
        points["ascites"] = ASCITES_POINTS[inputs.ascites]
    if inputs.he_grade is not None:
        points["encephalopathy"] = encephalopathy_points(inputs.he_grade)
    details: dict[str, object] = {"points": points}
    if missing:
        return ChildPughResult(None, None, missing, details)
    score = sum(points.values())
    return ChildPughResult(score, child_pugh_class(score), (), details)
