"""The machinery of the eCRF edit checks: context, result, and the rules every form shares.

Each form's own cross-field rules are declared next to its items (``crf.dictionary.<form>``);
``crf.edit_checks.run`` applies the dictionary (required, limits, skip logic) and then them.
Hard limits reject (physiologically impossible or a typing error); soft limits warn and need
an explicit confirmation ("confirm out-of-range values").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from trials.dictionary import Item, Limits


@dataclass
class CheckContext:
    """What the cross-field checks may need besides the form itself."""

    patient: Any
    visit: Any = None
    day1: dt.date | None = None
    death_date: dt.date | None = None  # earliest death date recorded on another form
    today: dt.date = field(default_factory=timezone.localdate)
    previous_weight: tuple[Decimal, dt.date] | None = None  # (kg, date) before this form
    weight_change_pct: Decimal = Decimal(10)  # trial setting: larger changes need confirming
    last_visit_done: bool = False  # the last protocol visit is done (end of study "completed")


@dataclass
class CheckResult:
    errors: dict[str, list[str]] = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def warn(self, name: str, message: str) -> None:
        self.warnings.setdefault(name, []).append(message)


def empty(value: Any) -> bool:
    return value is None or value == ""


def fmt(value: Decimal) -> str:
    return f"{value.normalize():f}"


def limit_messages(value: Decimal, limits: Limits) -> tuple[str | None, str | None]:
    """(error, warning) of one canonical value against its hard and soft limits."""
    unit = f" {limits.unit}" if limits.unit else ""
    if limits.hard_min is not None and (
        value < limits.hard_min or (limits.min_exclusive and value == limits.hard_min)
    ):
        limit = f"{fmt(limits.hard_min)}{unit}"
        if limits.min_exclusive:
            return _("Must be greater than %(limit)s.") % {"limit": limit}, None
        return _("Must be at least %(limit)s.") % {"limit": limit}, None
    if limits.hard_max is not None and value > limits.hard_max:
        return _("Must be at most %(limit)s.") % {"limit": f"{fmt(limits.hard_max)}{unit}"}, None
    # Warnings stay lazy: shown in the user's language, but the automatic query that
    # monitoring stores from them is rendered in English (translate at display, not storage).
    if limits.soft_min is not None and value < limits.soft_min:
        return None, format_lazy(
            gettext_lazy("{value} is below the expected range (≥ {limit}): check and confirm."),
            value=f"{fmt(value)}{unit}",
            limit=f"{fmt(limits.soft_min)}{unit}",
        )
    if limits.soft_max is not None and value > limits.soft_max:
        return None, format_lazy(
            gettext_lazy("{value} is above the expected range (≤ {limit}): check and confirm."),
            value=f"{fmt(value)}{unit}",
            limit=f"{fmt(limits.soft_max)}{unit}",
        )
    return None, None


def ranges(result: CheckResult, items: Iterable[Item], obj: Any) -> None:
    """Hard and soft limits of every item, reported on the field the user typed."""
    for item in items:
        value = getattr(obj, item.name, None) if item.limits is not None else None
        if value is None:
            continue
        error, warning = limit_messages(Decimal(value), item.limits)
        if error:
            result.error(item.input_name, error)
        elif warning:
            result.warn(item.input_name, warning)


def date_of(value: dt.date | dt.datetime | None) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def not_future(result: CheckResult, obj: Any, names: tuple[str, ...], ctx: CheckContext) -> None:
    for name in names:
        day = date_of(getattr(obj, name, None))
        if day is not None and day > ctx.today:
            result.error(name, _("This date is in the future."))


def not_before_day1(result: CheckResult, obj: Any, names: tuple[str, ...], ctx) -> None:
    if ctx.day1 is None:
        return
    for name in names:
        day = date_of(getattr(obj, name, None))
        if day is not None and day < ctx.day1:
            result.error(
                name,
                _("Cannot be before randomization (day 1, %(day)s).")
                % {"day": f"{ctx.day1:%Y-%m-%d}"},
            )


def after_death(result: CheckResult, obj: Any, names: tuple[str, ...], ctx) -> None:
    if ctx.death_date is None:
        return
    for name in names:
        day = date_of(getattr(obj, name, None))
        if day is not None and day > ctx.death_date:
            result.error(
                name,
                _("The patient died on %(day)s: no later assessment.")
                % {"day": f"{ctx.death_date:%Y-%m-%d}"},
            )


def in_window(result: CheckResult, name: str, day: dt.date | None, ctx: CheckContext) -> None:
    visit = ctx.visit
    if day is None or visit is None or not visit.scheduled:
        return
    if not visit.window_start <= day <= visit.window_end:
        result.warn(
            name,
            f"{day:%Y-%m-%d} is outside the visit window "
            f"({visit.window_start:%Y-%m-%d} to {visit.window_end:%Y-%m-%d}): "
            "confirm to record a protocol deviation.",
        )


def visit_date_check(result: CheckResult, obj: Any, ctx: CheckContext) -> None:
    if not hasattr(obj, "assessment_date"):
        return
    not_future(result, obj, ("assessment_date",), ctx)
    kind = getattr(getattr(ctx.visit, "definition", None), "kind", "")
    if kind not in ("screening", "unscheduled"):
        not_before_day1(result, obj, ("assessment_date",), ctx)
    if getattr(obj, "vital_status", None) != "dead":
        # A follow-up recording "dead since D" is dated at its own contact (synopsis:
        # Outcomes 4); every other assessment after the death is impossible.
        after_death(result, obj, ("assessment_date",), ctx)
    in_window(result, "assessment_date", obj.assessment_date, ctx)


@dataclass
class CrfSave:
    """One save of one eCRF, as the hooks see it."""

    spec: Any
    user: Any
    patient: Any
    visit: Any
    instance: Any
    complete: bool
    ctx: CheckContext
    created: bool = False  # the form is entered for the first time (no stored row yet)
    checks: CheckResult = field(default_factory=CheckResult)
    state: dict[str, Any] = field(default_factory=dict)  # what a hook hands to an effect
