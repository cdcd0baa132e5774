"""One eCRF's dictionary: its items in sections, its cross-field rules, read with its model."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.apps import apps
from django.db import models
from django.utils.functional import lazy
from django.utils.text import capfirst
from django.utils.translation import gettext

from trials.dictionary import (
    Condition,
    Item,
    Limits,
    PatientCondition,
    Section,
    items_of,
    value_type,
)

# (result, obj, ctx, complete) -> None: adds errors/warnings to ``result``.
CrossFieldRule = Callable[[Any, Any, Any, bool], None]


@dataclass(frozen=True, eq=False)
class FormDictionary:
    """Everything declared about one form's data; forms, checks, API and exports read it."""

    code: str
    model_label: str  # "crf.VitalSigns": the model takes its new columns from here
    sections: tuple[Section, ...]
    rules: tuple[CrossFieldRule, ...] = ()
    # The assessment date is checked against day 1, the death date and the visit window
    # (False where the form dates itself otherwise, e.g. the infusion start).
    check_assessment_date: bool = True
    # Model fields the form does not collect (e.g. an inherited date it never asks for).
    not_collected: tuple[str, ...] = ()

    @cached_property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.model_label)

    def columns(self) -> type[models.Model]:
        """An abstract model with the column of every item declared with one (``column=``):
        the form's model inherits it, so one ``Item`` + ``makemigrations`` adds a field."""
        app_label, name = self.model_label.split(".")
        attrs: dict[str, Any] = {
            item.name: copy.deepcopy(item.column) for item in self.items if item.column
        }
        meta = type("Meta", (), {"abstract": True, "app_label": app_label})
        return type(
            f"{name}Columns", (models.Model,), {**attrs, "Meta": meta, "__module__": __name__}
        )

    @cached_property
    def items(self) -> list[Item]:
        return items_of(self.sections)

    @cached_property
    def by_field(self) -> dict[str, Item]:
        """Any model field this form declares (value, typed value, unit) -> its item."""
        return {name: item for item in self.items for name in item.model_fields}

    def item(self, name: str) -> Item:
        return self.by_field[name]

    @property
    def form_fields(self) -> list[str]:
        return [name for item in self.items for name in item.form_fields]

    @property
    def required(self) -> list[str]:
        """Form fields a complete form needs (when shown; see ``hidden``)."""
        return [item.input_name for item in self.items if item.required]

    @property
    def ranges(self) -> dict[str, Limits]:
        return {item.name: item.limits for item in self.items if item.limits is not None}

    @property
    def typed_field(self) -> dict[str, str]:
        return {item.name: item.entered for item in self.items if item.entered}

    def model_field(self, item: Item) -> models.Field:
        return self.model._meta.get_field(item.name)

    def label(self, item: Item) -> str:
        if item.label:
            return str(item.label)
        name = item.entered or item.name
        return capfirst(str(self.model._meta.get_field(name).verbose_name))

    def audit_labels(self) -> dict[str, str]:
        """Model field -> its label in the audit trail (the value, as typed, its unit); lazy,
        so a mapping registered at start-up is shown in the language of each page."""
        return {name: _audit_label(self, name) for name in self.audit_labels_now()}

    def audit_labels_now(self) -> dict[str, str]:
        """``audit_labels`` in the active language."""
        labels: dict[str, str] = {}
        for item in self.items:
            label = self.label(item)
            unit = item.unit or (item.limits.unit if item.limits else "")
            named = unit and f"({unit})" not in label
            labels[item.name] = f"{label} ({unit})" if item.units and named else label
            if item.entered:
                labels[item.entered] = gettext("%(label)s as typed") % {"label": label}
            if item.unit_field:
                lower = label[:1].lower() + label[1:]
                labels[item.unit_field] = gettext("Unit of %(label)s as typed") % {"label": lower}
            if item.typed_text:
                labels[item.typed_text] = gettext("%(label)s as typed (when not in %(unit)s)") % {
                    "label": label,
                    "unit": item.unit,
                }
        return labels

    def choices(self, item: Item) -> list[tuple[Any, str]]:
        if item.choices is not None:
            return list(item.choices)
        return [(v, str(t)) for v, t in (self.model_field(item).choices or [])]

    def type(self, item: Item) -> str:
        """string | integer | decimal | boolean | date | datetime | time | multiple."""
        f = self.model_field(item)
        if isinstance(f, models.JSONField):
            return "multiple"
        if isinstance(f, models.TimeField):
            return "time"
        return value_type(f)

    def hidden(self, values: Mapping[str, Any] | Any, *, patient: Any = None) -> list[Item]:
        """Items whose skip condition does not hold for ``values`` (a mapping or an object)."""
        get = values if isinstance(values, Mapping) else _Attrs(values)
        return [
            item
            for item in self.items
            if item.shown_if is not None and not item.shown_if.holds(get, patient)
        ]


_audit_label = lazy(lambda form, name: form.audit_labels_now()[name], str)


class _Attrs(Mapping):
    """An object's attributes read as a mapping (skip conditions on a model instance)."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self.obj, key)
        except AttributeError as exc:
            raise KeyError(key) from exc

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self.obj, key, default)

    def __iter__(self):
        return iter(())

    def __len__(self) -> int:
        return 0


__all__ = [
    "Condition",
    "CrossFieldRule",
    "FormDictionary",
    "Item",
    "Limits",
    "PatientCondition",
    "Section",
]
