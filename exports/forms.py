"""The data manager's export page: format, datasets, sites and a date range."""

from __future__ import annotations

from django import forms as djforms

from trials.forms import BootstrapFormMixin

from .dictionary import datasets
from .selectors import ExportFilter


class ExportForm(BootstrapFormMixin, djforms.Form):
    format = djforms.ChoiceField(
        choices=[
            ("csv", "CSV (one file per form, with the data dictionary)"),
            ("json", "CDISC Dataset-JSON v1.1 (one file per form)"),
            ("odm", "CDISC ODM 1.3.2 XML (one file)"),
        ]
    )
    forms = djforms.MultipleChoiceField(
        label="Forms", required=False, help_text="None selected: every form."
    )
    sites = djforms.MultipleChoiceField(
        label="Sites", required=False, help_text="None selected: every site you may see."
    )
    date_from = djforms.DateField(
        label="From", required=False, widget=djforms.DateInput(attrs={"type": "date"})
    )
    date_to = djforms.DateField(
        label="To", required=False, widget=djforms.DateInput(attrs={"type": "date"})
    )
    unblinded = djforms.BooleanField(
        label="Include the treatment allocation (unblinded)", required=False
    )

    def __init__(self, *args, sites, may_unblind: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["forms"].choices = [(d.code, d.display_label) for d in datasets().values()]
        self.fields["sites"].choices = [(str(s.pk), str(s)) for s in sites]
        if not may_unblind:
            del self.fields["unblinded"]

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "Must not be before the start date.")
        return data

    def to_filter(self) -> ExportFilter:
        data = self.cleaned_data
        return ExportFilter(
            sites=tuple(int(s) for s in data.get("sites") or ()),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )
