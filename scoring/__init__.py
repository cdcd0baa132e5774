"""Liveradvance clinical scores as plain Python (no Django; STYLE.md section 4).

Entry point: ``calculate(inputs) -> dict`` (see ``scoring.engine``). Each score also has
its own module citing its source: ``clif_sofa``, ``clif_c_of``, ``aclf``,
``clif_c_aclf``, ``meld``, ``child_pugh``; unit helpers are in ``units``.
"""

from scoring.engine import ALGORITHM_VERSION, SCORE_KEYS, calculate
from scoring.inputs import (
    INPUT_KEYS,
    ORGAN_SUPPORT_KEYS,
    ScoringInputError,
    ScoringInputs,
    parse_inputs,
    validate_inputs,
)
from scoring.results import AclfResult, ChildPughResult, ScoreResult
from scoring.units import (
    UNITS,
    albumin_g_dl_to_g_l,
    albumin_g_l_to_g_dl,
    bilirubin_mg_dl_to_umol_l,
    bilirubin_umol_l_to_mg_dl,
    creatinine_mg_dl_to_umol_l,
    creatinine_umol_l_to_mg_dl,
    to_canonical,
)

__all__ = [
    "ALGORITHM_VERSION",
    "INPUT_KEYS",
    "ORGAN_SUPPORT_KEYS",
    "SCORE_KEYS",
    "UNITS",
    "AclfResult",
    "ChildPughResult",
    "ScoreResult",
    "ScoringInputError",
    "ScoringInputs",
    "albumin_g_dl_to_g_l",
    "albumin_g_l_to_g_dl",
    "bilirubin_mg_dl_to_umol_l",
    "bilirubin_umol_l_to_mg_dl",
    "calculate",
    "creatinine_mg_dl_to_umol_l",
    "creatinine_umol_l_to_mg_dl",
    "parse_inputs",
    "to_canonical",
    "validate_inputs",
]
