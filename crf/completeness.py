"""When is a laboratory form complete? When the protocol's primary scores can be computed.

Outcome 1 of the synopsis is organ function by CLIF-SOFA and CLIF-C ACLF (with CLIF-C OF and
the ACLF grade behind them). A lab CRF is complete only when each of these scores was
computed, or every input it lacks is marked "not done" with a reason — so a score is never
silently empty (issue 13).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from trials.audit import reason_is_meaningful
from trials.limits import TYPED_FIELD

PRIMARY_SCORES = ("clif_sofa", "clif_c_of", "aclf_grade", "clif_c_aclf")
# The scoring inputs of those scores, with the label of the field the user fills.
PRIMARY_INPUTS = {
    "bilirubin_mg_dl": _("Total bilirubin"),
    "creatinine_mg_dl": _("Creatinine"),
    "inr": _("INR"),
    "platelets_10e9_l": _("Platelets"),
    "he_grade": _("Hepatic encephalopathy grade"),
    "map_mmhg": _("MAP"),
    "pao2_mmhg": _("PaO2"),
    "spo2_pct": _("SpO2"),
    "fio2": _("FiO2"),
    "wbc_10e9_l": _("WBC"),
}


def primary_score_input_choices() -> list[tuple[str, str]]:
    return list(PRIMARY_INPUTS.items())


def missing_primary_inputs(result: dict[str, Any]) -> list[str]:
    """Inputs the primary scores lacked in a ``scoring.calculate`` result."""
    missing = result.get("missing") or {}
    keys = {
        key
        for score in PRIMARY_SCORES
        if result.get(score) in (None, "")
        for key in missing.get(score, [])
        if key in PRIMARY_INPUTS
    }
    return sorted(keys)


def lab_completeness_errors(instance: Any, result: dict[str, Any]) -> dict[str, list[str]]:
    """Field errors that stop a lab CRF from being complete (empty when it may be)."""
    not_done = set(instance.not_done or [])
    errors: dict[str, list[str]] = {}
    unmarked = [key for key in missing_primary_inputs(result) if key not in not_done]
    for key in unmarked:
        errors.setdefault(TYPED_FIELD.get(key, key), []).append(
            "Needed for CLIF-SOFA / CLIF-C ACLF: enter it, or tick it under “Not done” "
            "with the reason."
        )
    if not_done and not reason_is_meaningful((instance.not_done_reason or "").strip()):
        errors["not_done_reason"] = ["Say why these were not measured."]
    return errors
