"""One medication of the concomitant-medication log."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from crf.checks import (
    CheckContext,
    CheckResult,
    not_future,
)
from trials.dictionary import Condition, Item, Section

from .base import FormDictionary

SECTIONS = (
    Section(
        "",
        (
            Item("name", required=True),
            Item("drug_class", required=True, widget="radio"),
            Item("dose"),
            Item("indication", _("Indication")),
            Item("start_date", _("Start date"), required=True),
            Item(
                "stop_date",
                _("Stop date"),
                shown_if=Condition("ongoing", (False,), _("the medication is not ongoing")),
            ),
            Item("ongoing"),
        ),
    ),
)


def con_med_rules(result: CheckResult, obj: Any, ctx: CheckContext, complete: bool) -> None:
    if obj.ongoing and obj.stop_date:
        result.error("stop_date", _("An ongoing medication has no stop date."))
    if complete and not obj.ongoing and obj.stop_date is None:
        result.error("stop_date", _("Give the stop date, or tick “ongoing”."))
    if obj.start_date and obj.stop_date and obj.stop_date < obj.start_date:
        result.error("stop_date", _("The stop date cannot be before the start."))
    not_future(result, obj, ("start_date", "stop_date"), ctx)


FORM = FormDictionary("con_med", "crf.ConcomitantMedication", SECTIONS, rules=(con_med_rules,))
