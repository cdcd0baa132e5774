"""``calculate``: every score from one mapping of inputs, JSON-ready.

Contract (used by the CRF services): ``calculate(inputs) -> dict`` with keys
``clif_sofa``, ``clif_c_of``, ``aclf_grade``, ``organ_failures``, ``clif_c_aclf``,
``clif_c_ad``, ``meld``, ``meld_na``, ``meld_3``, ``child_pugh_score``,
``child_pugh_class``, ``algorithm_version``, ``missing`` and ``details``.

- A score whose inputs are incomplete is None and ``missing[<score key>]`` lists the
  missing input keys (sorted); computed scores have an empty list. For ``clif_c_aclf``
  the list may contain ``"clif_c_of"`` when the organ score itself is incomplete.
- ``details[<score>]`` explains the computation (subscores, bounded MELD components,
  Child-Pugh points, organ states); ``details["assumed_not_given"]`` lists organ-support
  keys that were blank and counted as not given (rule in ``scoring.inputs``).
- Invalid input raises ``ScoringInputError`` (a ValueError) whose message starts with the
  first offending key; ``.errors`` holds all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from scoring.aclf import aclf_grade
from scoring.child_pugh import child_pugh
from scoring.clif_c_aclf import clif_c_aclf, clif_c_ad
from scoring.clif_c_of import clif_c_of
from scoring.clif_sofa import clif_sofa
from scoring.inputs import parse_inputs
from scoring.meld import meld, meld_3, meld_na

ALGORITHM_VERSION: Final = "liveradvance-scoring/1.0"

SCORE_KEYS: Final = (
    "clif_sofa",
    "clif_c_of",
    "aclf_grade",
    "organ_failures",
    "clif_c_aclf",
    "clif_c_ad",
    "meld",
    "meld_na",
    "meld_3",
    "child_pugh_score",
    "child_pugh_class",
)


def calculate(inputs: Mapping[str, object]) -> dict[str, Any]:
    """Compute every score; missing inputs give None plus the missing keys, never a guess."""
    parsed = parse_inputs(inputs)

    sofa = clif_sofa(parsed)
    of = clif_c_of(parsed)
    aclf = aclf_grade(parsed)
    of_value = int(of.value) if of.value is not None else None
    aclf_score = clif_c_aclf(parsed, of_value, aclf.grade)
    ad_score = clif_c_ad(parsed, aclf.grade)
    meld_result = meld(parsed)
    meld_na_result = meld_na(parsed, meld_result)
    meld_3_result = meld_3(parsed)
    cp = child_pugh(parsed)

    return {
        "clif_sofa": sofa.value,
        "clif_c_of": of.value,
        "aclf_grade": aclf.grade,
        "organ_failures": None if aclf.organ_failures is None else list(aclf.organ_failures),
        "clif_c_aclf": aclf_score.value,
        "clif_c_ad": ad_score.value,
        "meld": meld_result.value,
        "meld_na": meld_na_result.value,
        "meld_3": meld_3_result.value,
        "child_pugh_score": cp.score,
        "child_pugh_class": cp.child_class,
        "algorithm_version": ALGORITHM_VERSION,
        "missing": {
            "clif_sofa": list(sofa.missing),
            "clif_c_of": list(of.missing),
            "aclf_grade": list(aclf.missing),
            "organ_failures": list(aclf.organ_failures_missing),
            "clif_c_aclf": list(aclf_score.missing),
            "clif_c_ad": list(ad_score.missing),
            "meld": list(meld_result.missing),
            "meld_na": list(meld_na_result.missing),
            "meld_3": list(meld_3_result.missing),
            "child_pugh_score": list(cp.missing),
            "child_pugh_class": list(cp.missing),
        },
        "details": {
            "clif_sofa": sofa.details,
            "clif_c_of": of.details,
            "aclf_grade": aclf.details,
            "clif_c_aclf": aclf_score.details,
            "clif_c_ad": ad_score.details,
            "meld": meld_result.details,
            "meld_na": meld_na_result.details,
            "meld_3": meld_3_result.details,
            "child_pugh": cp.details,
            "assumed_not_given": parsed.assumed_not_given(),
        },
    }
