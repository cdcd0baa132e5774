"""eCRF forms generated from the data dictionary: input parsing and field types only.

Edit checks run in ``crf.services``; the fields, their order, sections, labels, units, help,
required-to-complete markers, radio buttons and skip-logic attributes all come from the
form's dictionary (``crf.dictionary``).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from trials.audit import REASON_FIELD
from trials.concurrency import VERSION_FIELD
from trials.dictionary import Condition, Item
from trials.forms import BootstrapFormMixin, ScoreInputsFormMixin, lock_version_field

from . import models
from .dictionary import FormDictionary

CONFIRM_FIELD = "confirm_out_of_range"
CONTROL_FIELDS = (REASON_FIELD, CONFIRM_FIELD, VERSION_FIELD)
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
RADIO_MAX_OPTIONS = 5  # longer code lists stay a drop-down
YES_NO_RADIO = [("True", "Yes"), ("False", "No")]


def _form_value(value: Any) -> str:
    """A skip-condition value as the page's inputs send it."""
    return "" if value is None else str(value)


def shown_if_attrs(item: Item) -> dict[str, str]:
    """Data attributes for static/js/crf_skip_logic.js (no inline script: CSP)."""
    condition = item.shown_if
    if not isinstance(condition, Condition):
        return {}
    return {
        "data-shown-if": condition.item,
        "data-shown-values": json.dumps([_form_value(v) for v in condition.values]),
    }


class CrfFormMixin:
    """A form generated from ``dictionary``: widgets by item type, control fields, read-only.

    ``layout`` lays the page out by the dictionary's sections, in the order a nurse reads
    the source document; an item typed with a unit is shown with its unit selector.
    """

    dictionary: FormDictionary

    def __init__(self, *args, read_only: bool = False, patient: Any = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.read_only = read_only
        self.warnings: dict[str, list[str]] = {}  # soft-limit warnings from the service
        # Items a fact of the patient hides (e.g. the pregnancy test for a man) are not asked.
        self.hidden_items = {
            item.name
            for item in self.dictionary.items
            if item.shown_if is not None
            and not item.shown_if.item
            and patient is not None
            and not item.shown_if.holds({}, patient)
        }
        for item in self.dictionary.items:
            self._shape(item)
            if item.name in self.hidden_items:
                for name in item.form_fields:
                    self.fields.pop(name, None)
        self.fields[REASON_FIELD] = forms.CharField(
            required=False,
            label=_("Reason for change"),
            widget=forms.Textarea(attrs={"rows": 2, "class": "form-control form-control-sm"}),
            help_text=_("Required when changing a completed form."),
        )
        lock_version_field(self, self.instance)
        self.fields[CONFIRM_FIELD] = forms.BooleanField(
            required=False,
            label=_("I have checked the values outside the expected range: confirm them"),
            widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
        )
        for name, field in self.fields.items():
            if isinstance(field.widget, forms.DateTimeInput):
                field.widget = forms.DateTimeInput(
                    format=DATETIME_FORMAT,
                    attrs={"type": "datetime-local", "class": "form-control form-control-sm"},
                )
            elif isinstance(field.widget, forms.DateInput):
                field.widget = forms.DateInput(
                    format="%Y-%m-%d",
                    attrs={"type": "date", "class": "form-control form-control-sm"},
                )
            if read_only and name not in CONTROL_FIELDS:
                field.disabled = True
        first = next(iter(self.fields.values()), None)
        if first is not None and not read_only:
            first.widget.attrs["autofocus"] = "autofocus"

    def _shape(self, item: Item) -> None:
        """The widget, label, help and markers of one item's form fields."""
        name = item.input_name
        if name not in self.fields:
            return
        field = self.fields[name]
        choices = self.dictionary.choices(item)
        kind = self.dictionary.type(item)
        if item.widget == "checkboxes" or kind == "multiple":
            field = forms.MultipleChoiceField(
                choices=choices, required=False, widget=forms.CheckboxSelectMultiple
            )
        elif isinstance(field, forms.NullBooleanField):
            field.widget = forms.RadioSelect(
                choices=YES_NO_RADIO, attrs={"class": "form-check-input"}
            )
        elif choices and (item.widget == "radio" or len(choices) <= RADIO_MAX_OPTIONS):
            field.widget = forms.RadioSelect(
                choices=[(v, t) for v, t in choices if v not in ("", None)],
                attrs={"class": "form-check-input"},
            )
        elif item.widget == "textarea":
            field.widget = forms.Textarea(attrs={"rows": 2, "class": "form-control"})
        elif item.widget == "time":
            field.widget = forms.TimeInput(
                attrs={"type": "time", "class": "form-control form-control-sm"}
            )
        field.label = self.dictionary.label(item)
        field.help_text = item.help or field.help_text
        field.required_to_complete = item.required
        # ARIA allows aria-required on text inputs and selects, not on a radio or checkbox
        # (axe aria-allowed-attr): a radio group carries it on its role="radiogroup" fieldset.
        if item.required and not isinstance(
            field.widget, forms.RadioSelect | forms.CheckboxSelectMultiple | forms.CheckboxInput
        ):
            field.widget.attrs["aria-required"] = "true"
        self.fields[name] = field
        if item.unit_field and item.unit_field in self.fields:
            self.fields[item.unit_field] = forms.ChoiceField(
                choices=[(u, u) for u in item.units],
                required=False,
                label=_("Unit"),
                initial=item.default_unit,
                widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
            )

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                if "is-invalid" not in widget.attrs.get("class", ""):
                    widget.attrs["class"] = widget.attrs.get("class", "") + " is-invalid"

    @property
    def layout(self) -> list[tuple[str, list[dict]]]:
        """[(section title, [{"fields": [field, unit?], "warnings", "required", "attrs"}])]."""
        rows = []
        for section in self.dictionary.sections:
            cells = []
            for item in section.items:
                names = [n for n in item.form_fields if n in self.fields]
                if not names:
                    continue
                cells.append(
                    {
                        "name": item.input_name,
                        "fields": [self[n] for n in names],
                        "warnings": [w for n in names for w in self.warnings.get(n, [])],
                        "required": item.required,
                        "attrs": shown_if_attrs(item),
                    }
                )
            if cells:
                rows.append((section.title, cells))
        return rows

    @property
    def has_required(self) -> bool:
        return any(item.required for item in self.dictionary.items)

    def data_for_service(self) -> dict:
        """Cleaned model fields, without the reason and confirmation controls."""
        return {k: v for k, v in self.cleaned_data.items() if k not in CONTROL_FIELDS}


class CrfForm(CrfFormMixin, BootstrapFormMixin, forms.ModelForm):
    pass


@cache
def crf_form_class(dictionary: FormDictionary) -> type[forms.ModelForm]:
    """The ModelForm of one eCRF, generated from its dictionary (score inputs are checked
    by the scoring engine as well, as on the screening page)."""
    feeds_scores = any(item.feeds for item in dictionary.items)
    bases = (CrfFormMixin, ScoreInputsFormMixin) if feeds_scores else (CrfForm,)
    meta = type("Meta", (), {"model": dictionary.model, "fields": dictionary.form_fields})
    name = f"{dictionary.model.__name__}Form"
    return type(name, bases, {"Meta": meta, "dictionary": dictionary, "__module__": __name__})


class VisitDefinitionForm(BootstrapFormMixin, forms.ModelForm):
    expected_forms = forms.MultipleChoiceField(
        choices=[], required=False, widget=forms.CheckboxSelectMultiple
    )
    required_forms = forms.MultipleChoiceField(
        choices=[],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Forms that must be complete for the visit to be done; the other expected "
            "forms are optional. None ticked = every expected form."
        ),
    )
    reason_for_change = forms.CharField(
        label=_("Reason for change"), widget=forms.Textarea(attrs={"rows": 2})
    )

    class Meta:
        model = models.VisitDefinition
        fields = ["name", "day", "window_before", "window_after", "missed_after_days", "order"]

    def __init__(self, *args, form_choices=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["expected_forms"].choices = list(form_choices)
        self.fields["expected_forms"].widget.attrs = {}
        self.fields["required_forms"].choices = list(form_choices)
        self.fields["required_forms"].widget.attrs = {}
        if self.instance.pk and not self.is_bound:
            self.initial["expected_forms"] = list(self.instance.expected_forms)
            self.initial["required_forms"] = list(self.instance.required_forms)
