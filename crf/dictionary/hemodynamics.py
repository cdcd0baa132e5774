"""Systemic and splanchnic hemodynamics (synopsis: Outcomes 2)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from crf.checks import (
    CheckContext,
    CheckResult,
    fmt,
)
from trials.dictionary import Item, Limits, Section

from .base import FormDictionary

D = Decimal


def _mmhg(name: str, *limits: int | None, required: bool = False) -> Item:
    bounds = [None if v is None else D(v) for v in limits]
    return Item(name, unit="mmHg", limits=Limits(*bounds, "mmHg"), required=required)


SECTIONS = (
    Section(_("Date"), (Item("assessment_date", _("Date of the study"), required=True),)),
    Section(
        _("Splanchnic"),
        (
            _mmhg("wedged_hepatic_venous_pressure_mmhg", 0, None, 50, 80),
            _mmhg("free_hepatic_venous_pressure_mmhg", 0, None, 30, 60),
            _mmhg("hvpg_mmhg", 0, 1, 35, 60, required=True),
        ),
    ),
    Section(
        _("Systemic"),
        (
            _mmhg("right_atrial_pressure_mmhg", -5, 0, 20, 40),
            _mmhg("mean_pulmonary_artery_pressure_mmhg", 0, 8, 45, 90),
            _mmhg("pulmonary_capillary_wedge_pressure_mmhg", 0, 2, 30, 60),
            Item(
                "cardiac_output_l_min",
                unit="L/min",
                limits=Limits(D("0.5"), D(2), D(15), D(25), "L/min"),
            ),
            Item("heart_rate_bpm", unit="bpm", limits=Limits(D(20), D(40), D(140), D(250), "bpm")),
            _mmhg("map_mmhg", 20, 50, 130, 200),
            Item(
                "svr_dyn_s_cm5",
                unit="dyn·s·cm⁻⁵",
                limits=Limits(D(100), D(300), D(2500), D(5000), "dyn·s·cm⁻⁵"),
            ),
        ),
    ),
)


def hemodynamics_rules(result: CheckResult, obj: Any, ctx: CheckContext, complete: bool) -> None:
    wedged = obj.wedged_hepatic_venous_pressure_mmhg
    free = obj.free_hepatic_venous_pressure_mmhg
    if wedged is not None and free is not None:
        if free > wedged:
            result.error(
                "free_hepatic_venous_pressure_mmhg",
                _("Free hepatic venous pressure cannot exceed the wedged pressure."),
            )
        elif obj.hvpg_mmhg is not None and abs(obj.hvpg_mmhg - (wedged - free)) > 1:
            result.error(
                "hvpg_mmhg",
                _("HVPG should equal wedged minus free hepatic venous pressure (%(hvpg)s mmHg).")
                % {"hvpg": fmt(wedged - free)},
            )


FORM = FormDictionary("hemodynamics", "crf.Hemodynamics", SECTIONS, rules=(hemodynamics_rules,))
