"""Survival follow-up (synopsis: Outcomes 4): vital status, transplant, hospital status."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from crf.checks import (
    CheckContext,
    CheckResult,
    not_before_day1,
    not_future,
)
from trials.dictionary import Condition, Item, Section

from .base import FormDictionary

DEAD = Condition("vital_status", ("dead",), _("the patient died"))

SECTIONS = (
    Section(
        _("Vital status"),
        (
            Item("assessment_date", _("Date of contact"), required=True),
            Item("vital_status", _("Vital status"), required=True, widget="radio"),
            Item("death_date", shown_if=DEAD),
            Item("death_cause", shown_if=DEAD),
            Item(
                "transplant_date",
                shown_if=Condition(
                    "vital_status", ("transplanted", "dead"), _("the patient was transplanted")
                ),
            ),
            Item("hospital_status", _("Hospital status"), required=True),
            Item("last_known_alive_date"),
            Item("information_source"),
        ),
    ),
)


def follow_up_rules(result: CheckResult, obj: Any, ctx: CheckContext, complete: bool) -> None:
    status = obj.vital_status
    if status == "dead":
        if complete and obj.death_date is None:
            result.error("death_date", _("Give the date of death."))
        if complete and not obj.death_cause:
            result.error("death_cause", _("Give the cause of death."))
    elif obj.death_date or obj.death_cause:
        result.error("death_date", _("Only when the vital status is dead."))
    if status == "transplanted" and complete and obj.transplant_date is None:
        result.error("transplant_date", _("Give the date of liver transplantation."))
    if status == "alive" and ctx.death_date is not None:
        result.error(
            "vital_status",
            _("Death was recorded on %(day)s: the follow-up ended then.")
            % {"day": f"{ctx.death_date:%Y-%m-%d}"},
        )
    alive_on = obj.last_known_alive_date
    if alive_on and obj.assessment_date and alive_on > obj.assessment_date:
        result.error("last_known_alive_date", _("Cannot be after the date of contact."))
    if alive_on and obj.death_date and alive_on > obj.death_date:
        result.error("last_known_alive_date", _("Cannot be after the date of death."))

    if obj.death_date and obj.assessment_date and obj.death_date > obj.assessment_date:
        result.error("death_date", _("The date of death cannot be after the follow-up date."))
    if obj.transplant_date and obj.death_date and obj.transplant_date > obj.death_date:
        result.error("transplant_date", _("The transplant cannot be after the date of death."))
    if status == "dead" and obj.hospital_status not in ("", None, "unknown"):
        result.error("hospital_status", _("Leave empty or 'unknown' when the patient died."))
    not_future(result, obj, ("death_date", "transplant_date"), ctx)
    not_before_day1(result, obj, ("death_date", "transplant_date"), ctx)


FORM = FormDictionary("follow_up", "crf.FollowUp", SECTIONS, rules=(follow_up_rules,))
