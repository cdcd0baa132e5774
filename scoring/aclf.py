"""ACLF grade per the CANONIC definition.

Source: Moreau R et al. Gastroenterology 2013;144:1426-37 (ACLF grades, Table 1 organ
failures); EFCLIF https://efclif.com/research-infrastructure/score-calculators/clif-c-of-aclf-ad/ ;
EASL CPG on ACLF, J Hepatol 2023 (doi:10.1016/j.jhep.2023.04.021).

- No ACLF: no organ failure; or a single liver/coagulation/circulation/respiration failure
  with creatinine <1.5 mg/dL and no HE; or a single brain failure with creatinine <1.5.
- Grade 1: single kidney failure; or single liver, coagulation, circulation or respiration
  failure with creatinine 1.5-1.9 mg/dL and/or HE grade I-II; or single brain failure
  with creatinine 1.5-1.9 mg/dL.
- Grade 2: two organ failures. Grade 3: three or more.

Organ failures and the kidney/brain dysfunction bands come from
``scoring.clif_sofa.organ_states``. When some inputs are missing, every combination of
the still-possible organ states is graded: if all give the same grade it is reported
(e.g. three known failures are grade 3 whatever the missing organ shows), otherwise the
grade is None and the inputs that would decide it are listed. Nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import product

from scoring.clif_sofa import DYSFUNCTION, FAILURE, ORGANS, organ_states
from scoring.inputs import ScoringInputs
from scoring.results import AclfResult

NO_ACLF = "no_aclf"
GRADES = (NO_ACLF, "1", "2", "3")


def grade_from_states(states: Mapping[str, str]) -> str:
    """Grade for one fully known combination of organ states (Moreau 2013)."""
    failures = [organ for organ in ORGANS if states[organ] == FAILURE]
    if len(failures) >= 3:
        return "3"
    if len(failures) == 2:
        return "2"
    if not failures:
        return NO_ACLF
    kidney_dysfunction = states["kidney"] == DYSFUNCTION
    if failures == ["kidney"]:
        return "1"
    if failures == ["brain"]:
        return "1" if kidney_dysfunction else NO_ACLF
    brain_dysfunction = states["brain"] == DYSFUNCTION
    return "1" if kidney_dysfunction or brain_dysfunction else NO_ACLF


def aclf_grade(inputs: ScoringInputs) -> AclfResult:
    """CANONIC ACLF grade and organ failures; None where missing inputs could change it."""
    states = organ_states(inputs)
    options = [sorted(states[organ].states) for organ in ORGANS]
    grades = {
        grade_from_states(dict(zip(ORGANS, combo, strict=True))) for combo in product(*options)
    }

    unknown = [organ for organ in ORGANS if not states[organ].known]
    undecided_failures = [organ for organ in ORGANS if states[organ].failing is None]
    details = {
        "organ_states": {
            organ: (next(iter(states[organ].states)) if states[organ].known else "unknown")
            for organ in ORGANS
        },
        "definition": "CANONIC (Moreau 2013)",
    }
    failures_missing = tuple(
        sorted({key for organ in undecided_failures for key in states[organ].missing})
    )
    organ_failures = (
        None if undecided_failures else tuple(organ for organ in ORGANS if states[organ].failing)
    )
    if len(grades) == 1:
        grade = next(iter(grades))
        details["undetermined_organs_not_needed"] = unknown
        return AclfResult(grade, organ_failures, (), failures_missing, details)
    missing = tuple(sorted({key for organ in unknown for key in states[organ].missing}))
    details["possible_grades"] = [g for g in GRADES if g in grades]
    return AclfResult(None, organ_failures, missing, failures_missing, details)
