"""Input parsing of the monitoring pages (the rules are in services)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from trials.forms import BootstrapFormMixin

from .models import DataQuery, Lock


class QueryRaiseForm(BootstrapFormMixin, forms.Form):
    form_code = forms.CharField(widget=forms.HiddenInput)
    record_id = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**62)
    field = forms.CharField(required=False, widget=forms.HiddenInput)
    text = forms.CharField(
        label=_("Query"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )


class QueryActionForm(BootstrapFormMixin, forms.Form):
    ACTIONS = ("answer", "close", "reopen")
    action = forms.ChoiceField(choices=[(a, a) for a in ACTIONS], widget=forms.HiddenInput)
    answer = forms.CharField(
        label=_("Answer"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
    )
    note = forms.CharField(label=_("Note / reason"), required=False, max_length=500)


class SdvForm(BootstrapFormMixin, forms.Form):
    form_code = forms.CharField(widget=forms.HiddenInput)
    record_id = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**62)
    field = forms.CharField(required=False, widget=forms.HiddenInput)


class LockForm(BootstrapFormMixin, forms.Form):
    level = forms.ChoiceField(label=_("Lock"), choices=Lock.Level.choices)
    visit_id = forms.IntegerField(label=_("Visit"), required=False, min_value=1, max_value=2**62)
    record = forms.CharField(
        label=_("Form"), required=False, help_text=_("For a form lock: the form record.")
    )

    def __init__(self, *args, visits=(), records=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["visit_id"].widget = forms.Select(
            choices=[("", "—"), *[(v.pk, str(v)) for v in visits]],
            attrs={"class": "form-select form-select-sm"},
        )
        self.fields["record"].widget = forms.Select(
            choices=[("", "—"), *[(f"{code}:{pk}", label) for code, label, pk in records]],
            attrs={"class": "form-select form-select-sm"},
        )

    def target(self) -> tuple[str, int | None]:
        code, _, pk = (self.cleaned_data.get("record") or "").partition(":")
        return code, int(pk) if pk.isdigit() and len(pk) < 19 else None


class UnlockForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(label=_("Reason for unlocking"), max_length=500)


class SignForm(BootstrapFormMixin, forms.Form):
    meaning_confirmed = forms.BooleanField(required=False)
    password = forms.CharField(
        label=_("Your password"), widget=forms.PasswordInput, required=False, max_length=200
    )


STATUS_CHOICES = [("", "any status"), *DataQuery.Status.choices]
