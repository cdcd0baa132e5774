"""Baseline clinical context: aetiology, ACLF precipitant, listing, pregnancy test."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from crf.checks import (
    CheckContext,
    CheckResult,
    not_future,
)
from trials.dictionary import Condition, Item, PatientCondition, Section

from .base import FormDictionary


class Precipitant(models.TextChoices):
    INFECTION = "infection", _("Bacterial infection")
    ALCOHOLIC_HEPATITIS = "alcoholic_hepatitis", _("Alcoholic hepatitis / active drinking")
    GI_BLEEDING = "gi_bleeding", _("Gastrointestinal bleeding")
    OTHER = "other", _("Other")
    NONE = "none", _("None identified")


def may_be_pregnant(patient: Any) -> bool:
    """Synopsis, exclusion 13–14: women of child-bearing potential (unknown = ask)."""
    if getattr(patient, "sex", "") == "M":
        return False
    screening = getattr(patient, "screening", None)
    childbearing = getattr(screening, "childbearing_potential", "") or ""
    return childbearing not in ("no", "not_applicable")


SECTIONS = (
    Section(
        _("Liver disease"),
        (
            Item("aetiology", required=True),
            Item(
                "aetiology_other",
                shown_if=Condition("aetiology", ("other",), _("the aetiology is “other”")),
            ),
            Item("transplant_listing", required=True, widget="radio"),
        ),
    ),
    Section(
        _("ACLF precipitating event"),
        (
            Item(
                "precipitating_events",
                required=True,
                widget="checkboxes",
                choices=tuple(Precipitant.choices),
            ),
            Item(
                "precipitating_other",
                shown_if=Condition("precipitating_events", ("other",), _("“other” is ticked")),
            ),
        ),
    ),
    Section(
        _("Women of child-bearing potential"),
        (
            Item(
                "pregnancy_test",
                required=True,
                widget="radio",
                shown_if=PatientCondition(
                    may_be_pregnant,
                    _("the patient is a woman of child-bearing potential"),
                    hidden_values=("not_applicable",),
                ),
            ),
            Item(
                "pregnancy_test_date",
                shown_if=Condition(
                    "pregnancy_test", ("negative", "positive"), _("a test was done")
                ),
            ),
        ),
    ),
)


def baseline_rules(result: CheckResult, obj: Any, ctx: CheckContext, complete: bool) -> None:
    if obj.aetiology == "other" and complete and not obj.aetiology_other.strip():
        result.error("aetiology_other", _("Name the other aetiology."))
    events = set(obj.precipitating_events or [])
    if "none" in events and len(events) > 1:
        result.error("precipitating_events", _("“None identified” excludes the other events."))
    if "other" in events and complete and not obj.precipitating_other.strip():
        result.error("precipitating_other", _("Name the other precipitating event."))
    # Synopsis, exclusion 13–14: women of child-bearing potential are tested before dosing.
    screening = getattr(ctx.patient, "screening", None)
    childbearing = getattr(screening, "childbearing_potential", "") or ""
    if childbearing.startswith("yes") and obj.pregnancy_test == "not_applicable":
        result.error(
            "pregnancy_test",
            _("The screening records child-bearing potential: record the pregnancy test."),
        )
    if obj.pregnancy_test in ("negative", "positive") and obj.pregnancy_test_date is None:
        result.error("pregnancy_test_date", _("Give the date of the test."))
    if obj.pregnancy_test == "positive":
        result.warn("pregnancy_test", _("A positive pregnancy test excludes the patient (EXC13)."))
    not_future(result, obj, ("pregnancy_test_date",), ctx)


FORM = FormDictionary("baseline", "crf.BaselineContext", SECTIONS, rules=(baseline_rules,))
