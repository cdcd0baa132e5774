"""CLIF-SOFA score and CANONIC organ failures.

Source: Moreau R, Jalan R, Gines P, et al. Acute-on-chronic liver failure is a distinct
syndrome that develops in patients with acute decompensation of cirrhosis.
Gastroenterology 2013;144:1426-37, Table 1 (CLIF-SOFA; shaded cells = organ failure).
Table as reproduced in PMC4641130 Table 1 and UpToDate "Calculator: CLIF-SOFA score".

Subscores 0-4 per organ (total 0-24):

=============  =======  ============  ===============  ================  ===============
organ          0        1             2                3                 4
=============  =======  ============  ===============  ================  ===============
liver bili     <1.2     1.2-<2.0      2.0-<6.0         6.0-<12.0         >=12.0 mg/dL
kidney creat   <1.2     1.2-<2.0      2.0-<3.5         3.5-<5.0          >=5.0 or RRT
cerebral HE    none     grade I       grade II         grade III         grade IV
coag INR       <1.1     1.1-<1.25     1.25-<1.5        1.5-<2.5          >=2.5 or PLT<=20
circulation    MAP>=70  MAP<70        DA<=5 or DOB     DA>5 or E<=0.1    DA>15 or E>0.1
                                      or terlipressin  or NE<=0.1        or NE>0.1
PaO2/FiO2      >400     >300-400      >200-300         >100-200          <=100
SpO2/FiO2      >512     >357-512      >214-357         >89-214           <=89
=============  =======  ============  ===============  ================  ===============

Vasoactive doses in µg/kg/min. Organ failure (CANONIC, Moreau 2013; EFCLIF
https://efclif.com/research-infrastructure/score-calculators/clif-c-of-aclf-ad/):
liver bilirubin >=12 mg/dL; kidney creatinine >=2.0 mg/dL or RRT; brain HE grade III-IV;
coagulation INR >=2.5 or platelets <=20 x10^9/L; circulation any vasopressor/inotrope
(dopamine, dobutamine, terlipressin, epinephrine, norepinephrine); respiration PaO2/FiO2
<=200 or SpO2/FiO2 <=214.

Decisions where sources differ or are silent (documented, applied everywhere):
- Respiration uses PaO2/FiO2 when PaO2 is recorded, otherwise SpO2/FiO2 (Table 1 offers
  either). FiO2 never defaults to room air: a missing FiO2 leaves respiration unknown.
- Some reviews (e.g. PMC4635142 Table 1) print the coagulation failure as "INR more than
  2.5" and respiratory failure as "SpO2/FiO2 of 200 or less"; Table 1 itself and the
  CLIF-C OF table use INR >=2.5 and SpO2/FiO2 <=214, which is what is implemented.
- Mechanical ventilation because of hepatic encephalopathy (not respiratory failure)
  scores as cerebral failure (cerebral subscore 4); other mechanical ventilation scores as
  respiratory failure (respiratory subscore at least 3, 4 if the gas ratio says so).
  Footnote to Moreau 2013 Table 1 / Jalan 2014 Table; MDCalc CLIF-C ACLF instructions
  ("Patients intubated due to hepatic encephalopathy ... should be scored as +3").
- Creatinine 1.5-1.9 mg/dL ("kidney dysfunction" in the ACLF grade) is taken as
  1.5 <= creatinine < 2.0, and HE grade I-II as "brain dysfunction".
- Organ-support flags and vasoactive doses default to "not given" (see scoring.inputs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from scoring.inputs import ScoringInputs
from scoring.results import ScoreResult
from scoring.rounding import to_json_number

ORGANS: Final = ("liver", "kidney", "brain", "coagulation", "circulation", "respiration")

FAILURE: Final = "failure"
DYSFUNCTION: Final = "dysfunction"
NORMAL: Final = "normal"

_D = Decimal
# Upper bounds of respiratory subscores 1-4 (ratio <= cut scores one more point).
_PAO2_CUTS: Final = ("400", "300", "200", "100")
_SPO2_CUTS: Final = ("512", "357", "214", "89")


def _band(value: Decimal, cutoffs: tuple[str, ...]) -> int:
    """Number of ascending cut-offs that ``value`` reaches (value >= cut-off)."""
    return sum(value >= _D(cut) for cut in cutoffs)


@dataclass(frozen=True)
class Subscore:
    """One organ subscore (None when unknown) with the inputs that were missing."""

    value: int | None
    missing: tuple[str, ...] = ()
    basis: str = ""


@dataclass(frozen=True)
class OxygenationRatio:
    """PaO2/FiO2 or SpO2/FiO2, whichever the table rule selects."""

    ratio: Decimal | None
    source: str | None  # "pao2_fio2" or "spo2_fio2"
    missing: tuple[str, ...]


def oxygenation_ratio(inputs: ScoringInputs) -> OxygenationRatio:
    """PaO2/FiO2 when PaO2 is recorded, otherwise SpO2/FiO2 (exact Decimal division)."""
    if inputs.pao2_mmhg is not None:
        if inputs.fio2 is None:
            return OxygenationRatio(None, "pao2_fio2", ("fio2",))
        return OxygenationRatio(inputs.pao2_mmhg / inputs.fio2, "pao2_fio2", ())
    if inputs.spo2_pct is not None:
        if inputs.fio2 is None:
            return OxygenationRatio(None, "spo2_fio2", ("fio2",))
        return OxygenationRatio(inputs.spo2_pct / inputs.fio2, "spo2_fio2", ())
    missing = ("pao2_mmhg", "spo2_pct") + (("fio2",) if inputs.fio2 is None else ())
    return OxygenationRatio(None, None, tuple(sorted(missing)))


def vasoactive_given(inputs: ScoringInputs) -> bool:
    """Any vasopressor or inotrope recorded (CANONIC circulatory failure)."""
    return (
        inputs.flag("dobutamine")
        or inputs.flag("terlipressin")
        or inputs.dose("dopamine_ug_kg_min") > 0
        or inputs.dose("epinephrine_ug_kg_min") > 0
        or inputs.dose("norepinephrine_ug_kg_min") > 0
    )


def liver_subscore(inputs: ScoringInputs) -> Subscore:
    """Bilirubin (mg/dL) band: <1.2, 1.2, 2.0, 6.0, 12.0."""
    if inputs.bilirubin_mg_dl is None:
        return Subscore(None, ("bilirubin_mg_dl",))
    value = _band(inputs.bilirubin_mg_dl, ("1.2", "2.0", "6.0", "12.0"))
    return Subscore(value, basis=f"bilirubin {inputs.bilirubin_mg_dl} mg/dL")


def kidney_subscore(inputs: ScoringInputs) -> Subscore:
    """Creatinine (mg/dL) band: <1.2, 1.2, 2.0, 3.5, 5.0; RRT scores 4."""
    if inputs.flag("renal_replacement_therapy"):
        return Subscore(4, basis="renal replacement therapy")
    if inputs.creatinine_mg_dl is None:
        return Subscore(None, ("creatinine_mg_dl",))
    value = _band(inputs.creatinine_mg_dl, ("1.2", "2.0", "3.5", "5.0"))
    return Subscore(value, basis=f"creatinine {inputs.creatinine_mg_dl} mg/dL")


def cerebral_subscore(inputs: ScoringInputs) -> Subscore:
    """West Haven grade 0-4; ventilation for HE scores 4."""
    if inputs.ventilated_for_he:
        return Subscore(4, basis="mechanical ventilation for hepatic encephalopathy")
    if inputs.he_grade is None:
        return Subscore(None, ("he_grade",))
    return Subscore(inputs.he_grade, basis=f"HE grade {inputs.he_grade}")


def coagulation_subscore(inputs: ScoringInputs) -> Subscore:
    """INR band: <1.1, 1.1, 1.25, 1.5, 2.5; platelets <=20 x10^9/L score 4."""
    platelets = inputs.platelets_10e9_l
    inr = inputs.inr
    if platelets is not None and platelets <= 20:
        return Subscore(4, basis=f"platelets {platelets} x10^9/L")
    if inr is not None and inr >= _D("2.5"):
        return Subscore(4, basis=f"INR {inr}")
    missing = tuple(
        key for key, value in (("inr", inr), ("platelets_10e9_l", platelets)) if value is None
    )
    if missing or inr is None:
        return Subscore(None, missing)
    return Subscore(_band(inr, ("1.1", "1.25", "1.5")), basis=f"INR {inr}")


def circulation_subscore(inputs: ScoringInputs) -> Subscore:
    """MAP and vasoactive agents (doses in µg/kg/min)."""
    dopamine = inputs.dose("dopamine_ug_kg_min")
    epinephrine = inputs.dose("epinephrine_ug_kg_min")
    norepinephrine = inputs.dose("norepinephrine_ug_kg_min")
    high = _D("0.1")
    if dopamine > 15 or epinephrine > high or norepinephrine > high:
        return Subscore(4, basis="dopamine >15 or epinephrine/norepinephrine >0.1")
    if dopamine > 5 or epinephrine > 0 or norepinephrine > 0:
        return Subscore(3, basis="dopamine >5 or epinephrine/norepinephrine <=0.1")
    if dopamine > 0 or inputs.flag("dobutamine") or inputs.flag("terlipressin"):
        return Subscore(2, basis="dopamine <=5, dobutamine or terlipressin")
    if inputs.map_mmhg is None:
        return Subscore(None, ("map_mmhg",))
    value = 1 if inputs.map_mmhg < 70 else 0
    return Subscore(value, basis=f"MAP {inputs.map_mmhg} mmHg, no vasoactive agent")


def _ratio_band(ratio: Decimal, source: str | None) -> int:
    """Respiratory subscore from the ratio (0-4), using the PaO2 or SpO2 column."""
    cuts = _PAO2_CUTS if source == "pao2_fio2" else _SPO2_CUTS
    return sum(ratio <= _D(cut) for cut in cuts)


def respiration_subscore(inputs: ScoringInputs) -> Subscore:
    """PaO2/FiO2 (or SpO2/FiO2) band; ventilation not for HE scores at least 3."""
    ratio = oxygenation_ratio(inputs)
    if ratio.ratio is None:
        return Subscore(None, ratio.missing)
    value = _ratio_band(ratio.ratio, ratio.source)
    label = "PaO2/FiO2" if ratio.source == "pao2_fio2" else "SpO2/FiO2"
    basis = f"{label} {to_json_number(ratio.ratio, 1)}"
    if inputs.ventilated_for_respiration and value < 3:
        return Subscore(3, basis=f"{basis}; mechanical ventilation (not for HE)")
    return Subscore(value, basis=basis)


SUBSCORES: Final[dict[str, Callable[[ScoringInputs], Subscore]]] = {
    "liver": liver_subscore,
    "kidney": kidney_subscore,
    "brain": cerebral_subscore,
    "coagulation": coagulation_subscore,
    "circulation": circulation_subscore,
    "respiration": respiration_subscore,
}


def organ_total(
    inputs: ScoringInputs, subscore_of: dict[str, Callable[[ScoringInputs], Subscore]]
) -> ScoreResult:
    """Sum of the six organ subscores with their basis; None if any subscore is unknown."""
    subscores = {organ: subscore_of[organ](inputs) for organ in ORGANS}
    details = {
        "subscores": {organ: sub.value for organ, sub in subscores.items()},
        "basis": {organ: sub.basis for organ, sub in subscores.items() if sub.value is not None},
    }
    missing = sorted({key for sub in subscores.values() for key in sub.missing})
    if missing:
        return ScoreResult(None, tuple(missing), details)
    return ScoreResult(sum(sub.value or 0 for sub in subscores.values()), (), details)


def clif_sofa(inputs: ScoringInputs) -> ScoreResult:
    """CLIF-SOFA total 0-24 (Moreau 2013 Table 1); None if any organ subscore is unknown."""
    return organ_total(inputs, SUBSCORES)


@dataclass(frozen=True)
class OrganState:
    """Possible CANONIC states of one organ; more than one state means unknown."""

    states: frozenset[str]
    missing: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        """True when exactly one state is possible."""
        return len(self.states) == 1

    @property
    def failing(self) -> bool | None:
        """True/False when known, None when the inputs allow both."""
        if FAILURE not in self.states:
            return False
        return True if self.known else None


def _known(state: str) -> OrganState:
    return OrganState(frozenset({state}))


def _unknown(states: tuple[str, ...], missing: tuple[str, ...]) -> OrganState:
    return OrganState(frozenset(states), tuple(sorted(missing)))


def organ_states(inputs: ScoringInputs) -> dict[str, OrganState]:
    """CANONIC state of each organ: failure, dysfunction (kidney/brain only) or normal."""
    states: dict[str, OrganState] = {}

    bilirubin = inputs.bilirubin_mg_dl
    if bilirubin is None:
        states["liver"] = _unknown((FAILURE, NORMAL), ("bilirubin_mg_dl",))
    else:
        states["liver"] = _known(FAILURE if bilirubin >= 12 else NORMAL)

    creatinine = inputs.creatinine_mg_dl
    if inputs.flag("renal_replacement_therapy"):
        states["kidney"] = _known(FAILURE)
    elif creatinine is None:
        states["kidney"] = _unknown((FAILURE, DYSFUNCTION, NORMAL), ("creatinine_mg_dl",))
    elif creatinine >= 2:
        states["kidney"] = _known(FAILURE)
    else:
        states["kidney"] = _known(DYSFUNCTION if creatinine >= _D("1.5") else NORMAL)

    if inputs.ventilated_for_he:
        states["brain"] = _known(FAILURE)
    elif inputs.he_grade is None:
        states["brain"] = _unknown((FAILURE, DYSFUNCTION, NORMAL), ("he_grade",))
    elif inputs.he_grade >= 3:
        states["brain"] = _known(FAILURE)
    else:
        states["brain"] = _known(DYSFUNCTION if inputs.he_grade >= 1 else NORMAL)

    inr, platelets = inputs.inr, inputs.platelets_10e9_l
    if (inr is not None and inr >= _D("2.5")) or (platelets is not None and platelets <= 20):
        states["coagulation"] = _known(FAILURE)
    elif inr is not None and platelets is not None:
        states["coagulation"] = _known(NORMAL)
    else:
        missing = tuple(
            key for key, value in (("inr", inr), ("platelets_10e9_l", platelets)) if value is None
        )
        states["coagulation"] = _unknown((FAILURE, NORMAL), missing)

    states["circulation"] = _known(FAILURE if vasoactive_given(inputs) else NORMAL)

    if inputs.ventilated_for_respiration:
        states["respiration"] = _known(FAILURE)
    else:
        ratio = oxygenation_ratio(inputs)
        if ratio.ratio is None:
            states["respiration"] = _unknown((FAILURE, NORMAL), ratio.missing)
        else:
            limit = _D(200) if ratio.source == "pao2_fio2" else _D(214)
            states["respiration"] = _known(FAILURE if ratio.ratio <= limit else NORMAL)
    return states
