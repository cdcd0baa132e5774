"""Study drug administration of one dose: given or not, times, reactions. No arm data."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from crf.checks import (
    CheckContext,
    CheckResult,
    after_death,
    date_of,
    in_window,
    not_before_day1,
    not_future,
)
from trials.dictionary import Condition, Item, Limits, Section

from .base import FormDictionary

D = Decimal

GIVEN = Condition("given", (True,), _("the dose was given"))
NOT_GIVEN = Condition("given", (False,), _("the dose was not given"))

SECTIONS = (
    Section(
        _("Dose"),
        (
            Item("given", required=True, widget="radio"),
            Item("start_time", shown_if=GIVEN),
            Item("end_time", shown_if=GIVEN),
            Item("not_given_reason", shown_if=NOT_GIVEN),
            Item(
                "not_given_details",
                shown_if=Condition("not_given_reason", ("other",), _("the reason is “other”")),
            ),
        ),
    ),
    Section(
        _("Infusion"),
        (
            Item(
                "volume_infused_ml",
                unit="mL",
                limits=Limits(D(0), D(10), D(500), D(2000), "mL", min_exclusive=True),
                shown_if=GIVEN,
            ),
            Item("full_dose_given", widget="radio", shown_if=GIVEN),
            Item(
                "interruption_reason",
                shown_if=Condition("full_dose_given", (False,), _("the full dose was not given")),
            ),
        ),
    ),
    Section(
        _("Infusion reactions"),
        (
            Item("infusion_reaction", widget="radio", shown_if=GIVEN),
            Item(
                "infusion_reaction_details",
                widget="textarea",
                shown_if=Condition("infusion_reaction", (True,), _("there was a reaction")),
            ),
        ),
    ),
    # The assessment date of this form is the day of the infusion start (set on save).
    Section("", (Item("assessment_date", _("Date of the infusion"), derived=True),)),
)


def administration_rules(result: CheckResult, obj: Any, ctx: CheckContext, complete: bool) -> None:
    if obj.given is True:
        if complete and obj.start_time is None:
            result.error("start_time", _("Give the infusion start time."))
        if obj.not_given_reason:
            result.error("not_given_reason", _("Only when the dose was not given."))
    if obj.given is False:
        if complete and not obj.not_given_reason:
            result.error("not_given_reason", _("Give the reason the dose was not given."))
        if obj.start_time or obj.end_time:
            result.error("start_time", _("No infusion times when the dose was not given."))
    if obj.not_given_reason == "other" and complete and not obj.not_given_details:
        result.error("not_given_details", _("Describe the other reason."))
    if obj.start_time and obj.end_time and obj.end_time < obj.start_time:
        result.error("end_time", _("The infusion cannot end before it starts."))
    if complete and obj.infusion_reaction and not (obj.infusion_reaction_details or "").strip():
        result.error("infusion_reaction_details", _("Describe the infusion reaction."))
    if complete and obj.given is True and obj.infusion_reaction is None:
        result.error("infusion_reaction", _("Answer whether there was an infusion reaction."))
    if complete and obj.given is True:
        if obj.end_time is None:
            result.error("end_time", _("Give the infusion end time."))
        if obj.volume_infused_ml is None:
            result.error("volume_infused_ml", _("Give the volume infused."))
        if obj.full_dose_given is None:
            result.error("full_dose_given", _("Answer whether the full dose was given."))
    if obj.full_dose_given is False and complete and not obj.interruption_reason.strip():
        result.error("interruption_reason", _("Say why the infusion was interrupted."))
    if obj.given is False and (obj.volume_infused_ml or obj.full_dose_given is not None):
        result.error("volume_infused_ml", _("No infusion details when the dose was not given."))
    not_future(result, obj, ("start_time", "end_time"), ctx)
    not_before_day1(result, obj, ("start_time",), ctx)
    after_death(result, obj, ("start_time",), ctx)
    if getattr(getattr(ctx.visit, "definition", None), "dose_number", None) != 1:
        # Dose 1 defines day 1 (the plan re-anchors on it): it cannot be outside its window.
        in_window(result, "start_time", date_of(obj.start_time), ctx)


FORM = FormDictionary(
    "administration",
    "crf.Administration",
    SECTIONS,
    rules=(administration_rules,),
    check_assessment_date=False,  # its date is the infusion start, checked by its rules
)
