"""An adverse event or serious adverse event, recordable at any time."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from crf.checks import (
    CheckContext,
    CheckResult,
    after_death,
    date_of,
    not_future,
)
from trials.dictionary import Condition, Item, Section

from .base import FormDictionary

SAE_CRITERIA = (
    "sae_death",
    "sae_life_threatening",
    "sae_hospitalization",
    "sae_disability",
    "sae_congenital_anomaly",
    "sae_other_important",
)
SERIOUS = Condition("serious", (True,), _("the event is serious"))

SECTIONS = (
    Section(
        _("Event"),
        (
            Item("term", required=True),
            Item("onset_date", _("Onset date"), required=True),
            Item("onset_time", widget="time"),
            Item("end_date"),
            Item("severity_grade", required=True, widget="radio"),
            Item("outcome", _("Outcome"), required=True),
        ),
    ),
    Section(
        _("Study treatment"),
        (
            Item("related_dose_number", widget="radio"),
            Item("relatedness", required=True, widget="radio"),
            Item("expectedness", _("Expectedness"), required=True, widget="radio"),
            Item("action_taken", required=True, widget="radio"),
        ),
    ),
    Section(
        _("Seriousness"),
        (
            Item("serious", required=True, widget="radio"),
            Item("serious_date", shown_if=SERIOUS),
            *(Item(name, shown_if=SERIOUS) for name in SAE_CRITERIA),
            Item("reported_to_sponsor_within_24h", widget="radio", shown_if=SERIOUS),
        ),
    ),
    Section(
        _("MedDRA coding"),
        (
            Item("meddra_llt_code"),
            Item("meddra_llt_name"),
            Item("meddra_pt_code"),
            Item("meddra_pt_name"),
        ),
    ),
    Section(
        "",
        (
            Item("hours_since_infusion", unit="h", derived=True),
            Item("entered_in_error", derived=True),
            Item("entered_in_error_reason", derived=True),
        ),
    ),
)


def adverse_event_rules(result: CheckResult, obj: Any, ctx: CheckContext, complete: bool) -> None:
    if not (obj.term or "").strip():  # even a draft names the event: no empty AE records
        result.error("term", _("Give at least the verbatim term of the event."))
    if obj.serious is True and complete and obj.serious_date is None:
        result.error("serious_date", _("Give the date the event became serious."))
    if obj.serious is not True and obj.serious_date:
        result.error("serious_date", _("Only for a serious event."))
    if obj.serious_date and obj.onset_date and obj.serious_date < obj.onset_date:
        result.error("serious_date", _("It cannot become serious before its onset."))
    if bool(obj.meddra_pt_code) != bool(obj.meddra_pt_name) or bool(obj.meddra_llt_code) != bool(
        obj.meddra_llt_name
    ):
        result.error("meddra_pt_code", _("Give each MedDRA code with its name."))
    for name in ("meddra_llt_code", "meddra_pt_code"):
        code = getattr(obj, name)
        if code and not (code.isdigit() and len(code) == 8):
            result.error(name, _("A MedDRA code has 8 digits."))
    criteria = [name for name in SAE_CRITERIA if getattr(obj, name)]
    if obj.serious is True:
        if complete and not criteria:
            result.error("serious", _("Tick at least one seriousness criterion for an SAE."))
        if complete and obj.reported_to_sponsor_within_24h is None:
            result.error(
                "reported_to_sponsor_within_24h", _("Answer whether the SAE was reported in 24 h.")
            )
    elif criteria:
        result.error("serious", _("Seriousness criteria are ticked: this is a serious event."))
    if (obj.outcome == "fatal") != bool(obj.sae_death) and (obj.outcome or obj.sae_death):
        result.error(
            "outcome", _("A fatal outcome and the 'results in death' criterion go together.")
        )
    if obj.onset_date and obj.end_date and obj.end_date < obj.onset_date:
        result.error("end_date", _("The resolution date cannot be before the onset."))
    consent = ctx.patient.consent_datetime
    if obj.onset_date and consent and obj.onset_date < date_of(consent):
        result.error("onset_date", _("Adverse events are recorded from informed consent on."))
    not_future(result, obj, ("onset_date", "end_date"), ctx)
    after_death(result, obj, ("onset_date",), ctx)


FORM = FormDictionary("adverse_event", "crf.AdverseEvent", SECTIONS, rules=(adverse_event_rules,))
