"""Vital signs and weight, at every visit (the weight sets the cell dose per kg)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from crf.checks import (
    CheckContext,
    CheckResult,
    fmt,
)
from trials.dictionary import Item, Limits, Section

from .base import FormDictionary

D = Decimal

LB_TO_KG = Decimal("0.45359237")  # international avoirdupois pound, exact

SECTIONS = (
    Section(
        _("Vital signs and weight"),
        (
            Item("assessment_date", _("Date measured"), required=True),
            Item(
                "weight_kg",
                unit="kg",
                units={"kg": Fraction(1), "lb": Fraction(LB_TO_KG)},
                unit_field="weight_unit",
                typed_text="weight_entered",
                places=1,
                limits=Limits(D(25), D(35), D(180), D(300), "kg"),
                required=True,
                help=_("Typed in pounds? Set the unit to lb: it is stored in kg."),
            ),
            Item("temperature_c", unit="°C", limits=Limits(D(30), D(35), D("40.5"), D(44), "°C")),
            Item(
                "heart_rate_bpm",
                unit="bpm",
                limits=Limits(D(20), D(40), D(140), D(250), "bpm"),
                required=True,
            ),
            Item(
                "systolic_bp_mmhg",
                unit="mmHg",
                limits=Limits(D(40), D(80), D(200), D(300), "mmHg"),
                required=True,
            ),
            Item(
                "diastolic_bp_mmhg",
                unit="mmHg",
                limits=Limits(D(20), D(40), D(120), D(200), "mmHg"),
            ),
            Item("respiratory_rate", unit="/min", limits=Limits(D(4), D(8), D(35), D(80), "/min")),
            Item("spo2_pct", unit="%", limits=Limits(D(50), D(85), None, D(100), "%")),
        ),
    ),
)


def vitals_rules(result: CheckResult, obj: Any, ctx: CheckContext, complete: bool) -> None:
    sbp, dbp = obj.systolic_bp_mmhg, obj.diastolic_bp_mmhg
    if sbp is not None and dbp is not None and dbp >= sbp:
        result.error("diastolic_bp_mmhg", _("Diastolic pressure must be below systolic pressure."))
    if obj.weight_kg is not None and ctx.previous_weight is not None:
        # The dose is per kg on the dosing day: a large jump is more often a unit slip
        # (pounds typed as kg) than a real change, so it needs a confirmation.
        before, on = ctx.previous_weight
        change = (Decimal(obj.weight_kg) - before) / before * 100
        if abs(change) > ctx.weight_change_pct:
            result.warn(
                "weight_kg",
                # Lazy: a warning may become an automatic query, stored in English.
                format_lazy(
                    _(
                        "{weight} kg differs by {change}% from the previous weight ({before} kg "
                        "on {day}; more than {limit}%): check the unit and confirm."
                    ),
                    weight=fmt(Decimal(obj.weight_kg)),
                    change=f"{abs(change):.0f}",
                    before=fmt(before),
                    day=f"{on:%Y-%m-%d}",
                    limit=fmt(ctx.weight_change_pct),
                ),
            )


FORM = FormDictionary("vitals", "crf.VitalSigns", SECTIONS, rules=(vitals_rules,))
