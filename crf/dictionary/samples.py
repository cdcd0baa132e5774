"""Samples for the cytokine panel and monocyte/PMN transcriptomics (ids only)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from crf.checks import (
    CheckContext,
    CheckResult,
    after_death,
    not_future,
)
from trials.dictionary import Condition, Item, Section

from .base import FormDictionary


def _sample(kind: str, title: str, label: str) -> Section:
    collected = Condition(f"{kind}_collected", (True,), _("the sample was collected"))
    return Section(
        title,
        (
            Item(f"{kind}_collected", label, required=True, widget="radio"),
            Item(f"{kind}_collected_at", shown_if=collected),
            Item(f"{kind}_sample_id", shown_if=collected),
        ),
    )


SECTIONS = (
    _sample("cytokine", _("Cytokines (serum)"), _("Serum for cytokines collected")),
    _sample(
        "transcriptomics",
        _("Transcriptomics (monocytes and PMN)"),
        _("Blood for transcriptomics (monocytes/PMN) collected"),
    ),
    Section("", (Item("not_collected_reason"),)),
)


def samples_rules(result: CheckResult, obj: Any, ctx: CheckContext, complete: bool) -> None:
    for kind in ("cytokine", "transcriptomics"):
        collected = getattr(obj, f"{kind}_collected")
        at, sample_id = f"{kind}_collected_at", f"{kind}_sample_id"
        if collected is True and complete:
            if getattr(obj, at) is None:
                result.error(at, _("Give the collection time."))
            if not getattr(obj, sample_id):
                result.error(sample_id, _("Give the sample id (tube label)."))
        if collected is False and (getattr(obj, at) or getattr(obj, sample_id)):
            result.error(at, _("No time or sample id when the sample was not collected."))
    if (
        complete
        and False in (obj.cytokine_collected, obj.transcriptomics_collected)
        and not obj.not_collected_reason
    ):
        result.error("not_collected_reason", _("Give the reason a sample was not collected."))
    not_future(result, obj, ("cytokine_collected_at", "transcriptomics_collected_at"), ctx)
    after_death(result, obj, ("cytokine_collected_at", "transcriptomics_collected_at"), ctx)


FORM = FormDictionary(
    "samples",
    "crf.BiologicalSample",
    SECTIONS,
    rules=(samples_rules,),
    not_collected=("assessment_date",),  # each sample has its own collection time
)
