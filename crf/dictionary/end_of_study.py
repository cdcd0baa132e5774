"""End of study: why and when the patient's participation ended."""

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

SECTIONS = (
    Section(
        _("End of study"),
        (
            Item("reason", required=True, widget="radio"),
            Item("end_date", required=True),
            Item("death_cause", shown_if=Condition("reason", ("died",), _("the patient died"))),
            Item(
                "withdrawal_scope",
                widget="radio",
                shown_if=Condition(
                    "reason", ("withdrew_consent",), _("the patient withdrew consent")
                ),
            ),
            Item("early_termination_reason"),
            Item("comments", _("Comments"), widget="textarea"),
        ),
    ),
)


def end_of_study_rules(result: CheckResult, obj: Any, ctx: CheckContext, complete: bool) -> None:
    if obj.reason == "died" and complete and not obj.death_cause:
        result.error("death_cause", _("Give the cause of death."))
    if obj.reason != "died" and obj.death_cause:
        result.error("death_cause", _("Only when the patient died."))
    if obj.reason == "completed" and ctx.death_date is not None:
        result.error(
            "reason", _("Death was recorded on %(day)s.") % {"day": f"{ctx.death_date:%Y-%m-%d}"}
        )
    if (
        obj.reason == "completed"
        and not ctx.last_visit_done
        and not (obj.early_termination_reason or "").strip()
    ):
        result.error(
            "early_termination_reason",
            _(
                "The last protocol visit is not done: 'completed' needs the early termination "
                "reason (e.g. the trial was stopped)."
            ),
        )
    if obj.reason == "withdrew_consent" and complete and not obj.withdrawal_scope:
        result.error("withdrawal_scope", _("Say what the patient still consents to."))
    if obj.reason != "withdrew_consent" and obj.withdrawal_scope:
        result.error("withdrawal_scope", _("Only when the patient withdrew consent."))
    not_future(result, obj, ("end_date",), ctx)
    not_before_day1(result, obj, ("end_date",), ctx)


FORM = FormDictionary("end_of_study", "crf.EndOfStudy", SECTIONS, rules=(end_of_study_rules,))
