"""CLIF Consortium Organ Failure score (CLIF-C OF), 6-18.

Source: Jalan R, Saliba F, Pavesi M, et al. Development and validation of a prognostic
score to predict mortality in patients with acute-on-chronic liver failure.
J Hepatol 2014;61:1038-47 (CLIF-C OF table); EFCLIF calculator
https://efclif.com/research-infrastructure/score-calculators/clif-c-of-aclf-ad/ ;
table reproduced in Gut (CLIF-C OF "simplified version of the CLIF-SOFA score").

=============  ===========================  =========================  ===================
organ          1                            2                          3
=============  ===========================  =========================  ===================
liver bili     <6 mg/dL                     6-<12                      >=12
kidney creat   <2 mg/dL                     2-<3.5                     >=3.5 or RRT
brain HE       grade 0                      grade 1-2                  grade 3-4
coag INR       <2.0                         2.0-<2.5                   >=2.5
circulation    MAP >=70 mmHg                MAP <70                    vasopressors
respiration    PaO2/FiO2 >300               >200-300                   <=200
               or SpO2/FiO2 >357            or >214-357                or <=214
=============  ===========================  =========================  ===================

Decisions (see also scoring.clif_sofa):
- Some reproductions (Gut table) print liver ">12" / "6 to <=12"; Jalan 2014 and the
  CLIF-SOFA failure definition use >=12 mg/dL, implemented here.
- "Vasopressors" = any of dopamine, dobutamine, terlipressin, epinephrine, norepinephrine,
  matching the CANONIC circulatory failure definition.
- Ventilation for HE scores brain 3; other mechanical ventilation scores respiration 3
  (Jalan 2014 table footnote; MDCalc CLIF-C ACLF instructions).
- Unlike CLIF-SOFA, platelets are not part of CLIF-C OF.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Final

from scoring.clif_sofa import (
    Subscore,
    organ_total,
    oxygenation_ratio,
    vasoactive_given,
)
from scoring.inputs import ScoringInputs
from scoring.results import ScoreResult
from scoring.rounding import to_json_number

_D = Decimal


def liver_of(inputs: ScoringInputs) -> Subscore:
    """Bilirubin <6 / 6-<12 / >=12 mg/dL."""
    if inputs.bilirubin_mg_dl is None:
        return Subscore(None, ("bilirubin_mg_dl",))
    bili = inputs.bilirubin_mg_dl
    return Subscore(1 + (bili >= 6) + (bili >= 12), basis=f"bilirubin {bili} mg/dL")


def kidney_of(inputs: ScoringInputs) -> Subscore:
    """Creatinine <2 / 2-<3.5 / >=3.5 mg/dL or RRT."""
    if inputs.flag("renal_replacement_therapy"):
        return Subscore(3, basis="renal replacement therapy")
    if inputs.creatinine_mg_dl is None:
        return Subscore(None, ("creatinine_mg_dl",))
    creat = inputs.creatinine_mg_dl
    return Subscore(1 + (creat >= 2) + (creat >= _D("3.5")), basis=f"creatinine {creat} mg/dL")


def brain_of(inputs: ScoringInputs) -> Subscore:
    """HE grade 0 / 1-2 / 3-4; ventilation for HE scores 3."""
    if inputs.ventilated_for_he:
        return Subscore(3, basis="mechanical ventilation for hepatic encephalopathy")
    if inputs.he_grade is None:
        return Subscore(None, ("he_grade",))
    grade = inputs.he_grade
    return Subscore(1 + (grade >= 1) + (grade >= 3), basis=f"HE grade {grade}")


def coagulation_of(inputs: ScoringInputs) -> Subscore:
    """INR <2.0 / 2.0-<2.5 / >=2.5."""
    if inputs.inr is None:
        return Subscore(None, ("inr",))
    inr = inputs.inr
    return Subscore(1 + (inr >= 2) + (inr >= _D("2.5")), basis=f"INR {inr}")


def circulation_of(inputs: ScoringInputs) -> Subscore:
    """MAP >=70 / <70 mmHg / any vasopressor."""
    if vasoactive_given(inputs):
        return Subscore(3, basis="vasopressors")
    if inputs.map_mmhg is None:
        return Subscore(None, ("map_mmhg",))
    return Subscore(
        2 if inputs.map_mmhg < 70 else 1, basis=f"MAP {inputs.map_mmhg} mmHg, no vasopressor"
    )


def respiration_of(inputs: ScoringInputs) -> Subscore:
    """PaO2/FiO2 >300 / >200-300 / <=200 (SpO2/FiO2 >357 / >214-357 / <=214)."""
    if inputs.ventilated_for_respiration:
        return Subscore(3, basis="mechanical ventilation (not for HE)")
    ratio = oxygenation_ratio(inputs)
    if ratio.ratio is None:
        return Subscore(None, ratio.missing)
    if ratio.source == "pao2_fio2":
        upper, lower, label = _D(300), _D(200), "PaO2/FiO2"
    else:
        upper, lower, label = _D(357), _D(214), "SpO2/FiO2"
    value = 1 + (ratio.ratio <= upper) + (ratio.ratio <= lower)
    return Subscore(value, basis=f"{label} {to_json_number(ratio.ratio, 1)}")


OF_SUBSCORES: Final[dict[str, Callable[[ScoringInputs], Subscore]]] = {
    "liver": liver_of,
    "kidney": kidney_of,
    "brain": brain_of,
    "coagulation": coagulation_of,
    "circulation": circulation_of,
    "respiration": respiration_of,
}


def clif_c_of(inputs: ScoringInputs) -> ScoreResult:
    """CLIF-C OF total 6-18 (Jalan 2014); None if any organ subscore is unknown."""
    return organ_total(inputs, OF_SUBSCORES)
