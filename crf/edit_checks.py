"""Edit checks of the eCRFs: required-to-complete fields, ranges, skip logic, cross-field rules.

Run by ``crf.services.crf_save`` for every channel (pages, API, commands), so a value that
fails here is never stored. Everything per form is read from its data dictionary
(``crf.dictionary``); ``RANGES``, ``REQUIRED`` and ``TYPED_FIELD`` are derived views of it.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext

from trials.dictionary import is_blank

from .checks import CheckContext, CheckResult, empty, ranges, visit_date_check
from .dictionary import DICTIONARIES, FormDictionary

__all__ = ["CheckContext", "CheckResult", "run"]


def _views() -> tuple[dict, dict, dict]:
    return (
        {code: d.ranges for code, d in DICTIONARIES.items() if d.ranges},
        {code: d.required for code, d in DICTIONARIES.items()},
        {name: typed for d in DICTIONARIES.values() for name, typed in d.typed_field.items()},
    )


# Derived views of the dictionary (form code -> field -> limits / required fields; the
# canonical field -> the field the user typed it in).
RANGES, REQUIRED, TYPED_FIELD = _views()


def skip_logic(result: CheckResult, form: FormDictionary, obj: Any, patient: Any) -> list:
    """A value given for an item its skip condition hides is an error naming the field
    (never silently cleared: the user may have answered the controlling question wrongly)."""
    hidden = form.hidden(obj, patient=patient)
    for item in hidden:
        value = getattr(obj, item.name, None)
        if is_blank(value) or value in item.shown_if.hidden_values:
            continue
        if item.input_name not in result.errors:
            result.error(
                item.input_name,
                gettext("Only when %(condition)s.") % {"condition": item.shown_if.text},
            )
    return hidden


def run(code: str, obj: Any, *, complete: bool, ctx: CheckContext) -> CheckResult:
    """All edit checks of form ``code`` on the unsaved ``obj``."""
    form = DICTIONARIES[code]
    result = CheckResult()
    hidden = {item.name for item in form.hidden(obj, patient=ctx.patient)}
    if complete:
        for item in form.items:
            value = getattr(obj, item.input_name, None)
            if item.required and item.name not in hidden and empty(value):
                result.error(item.input_name, "Required to complete the form.")
    ranges(result, form.items, obj)
    if form.check_assessment_date:
        visit_date_check(result, obj, ctx)
    for rule in form.rules:
        rule(result, obj, ctx, complete)
    skip_logic(result, form, obj, ctx.patient)
    # A field with an error needs no warning as well.
    result.warnings = {k: v for k, v in result.warnings.items() if k not in result.errors}
    return result
