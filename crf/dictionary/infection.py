"""One infection episode with its cultures (a log: any number per patient)."""

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
            Item("site", required=True),
            Item("onset_date", _("Onset date"), required=True),
            Item("culture", required=True, widget="radio"),
            Item(
                "organism",
                shown_if=Condition("culture", ("positive",), _("the culture is positive")),
            ),
            Item("resolved_date", _("Resolved date")),
        ),
    ),
)


def infection_rules(result: CheckResult, obj: Any, ctx: CheckContext, complete: bool) -> None:
    if obj.culture == "positive" and complete and not obj.organism.strip():
        result.error("organism", _("Name the organism(s) of the positive culture."))
    if obj.organism.strip() and obj.culture not in ("positive", ""):
        result.error("culture", _("An organism was named: the culture is positive."))
    if obj.onset_date and obj.resolved_date and obj.resolved_date < obj.onset_date:
        result.error("resolved_date", _("The infection cannot resolve before its onset."))
    not_future(result, obj, ("onset_date", "resolved_date"), ctx)


FORM = FormDictionary("infection", "crf.Infection", SECTIONS, rules=(infection_rules,))
