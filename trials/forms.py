"""Input parsing and field validation for trials pages."""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

import scoring

from .audit import REASON_FIELD
from .concurrency import VERSION_FIELD, StaleEdit
from .dictionary import (
    SCORE_INPUT_FORM_FIELDS,
    SCORE_LAB_INPUTS,
    SCORE_ORGAN_ORDER,
    SCREENING_CONDITIONAL_ITEMS,
    TYPED_SCORE_INPUTS,
    typed_field_map,
)
from .models import Patient, Screening, Site

YES_NO = [("", "—"), ("True", "Yes"), ("False", "No")]


def short_choices_as_radios(form: forms.BaseForm, names: tuple[str, ...]) -> None:
    """Short code lists (sex, NYHA, GOLD, pregnancy) as radio groups: one click instead of
    two (issue 17). The blank option goes: unanswered posts nothing, as the blank did."""
    for name in names:
        field = form.fields.get(name)
        if field is None:
            continue
        choices = [(v, label) for v, label in field.choices if v not in ("", None)]
        field.widget = forms.RadioSelect(choices=choices, attrs={"class": "form-check-input"})


def apply_validation_error(form: forms.BaseForm, exc: ValidationError) -> None:
    """Show a service's ValidationError next to its field (or on top of the form)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            if field in form.fields:
                widget = form.fields[field].widget
                widget.attrs["class"] = widget.attrs.get("class", "") + " is-invalid"
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def lock_version_field(form: forms.BaseForm, instance) -> None:
    """Add the hidden ``lock_version`` the user read (0: not entered yet; trials.concurrency)."""
    form.fields[VERSION_FIELD] = forms.IntegerField(
        required=False, min_value=0, max_value=2**31 - 1, widget=forms.HiddenInput
    )
    stored = getattr(instance, VERSION_FIELD, None) if getattr(instance, "pk", None) else None
    form.initial[VERSION_FIELD] = stored or 0
    form.conflict = None


def show_stale_edit(form: forms.BaseForm, exc: StaleEdit) -> None:
    """Keep what the user typed, list the other person's changes field by field, and arm
    the form with the current version so saving again is a deliberate overwrite."""
    form.conflict = exc
    form.conflict_rows = [
        {"label": c.label, "seen": c.seen, "current": c.current, "yours": form.data.get(c.name)}
        for c in exc.changes
    ]
    form.add_error(None, exc.message_dict[VERSION_FIELD])
    data = form.data.copy()
    data[VERSION_FIELD] = str(exc.current_version)
    form.data = data


class BootstrapFormMixin:
    """Bootstrap classes on every widget, and ``is-invalid`` on fields with errors."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            # HTML date inputs only accept ISO values; a localised value renders as blank and
            # would be lost on the next save.
            if getattr(widget, "input_type", "") == "date":
                widget.format = "%Y-%m-%d"
            elif getattr(widget, "input_type", "") == "datetime-local":
                widget.format = "%Y-%m-%dT%H:%M"
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select form-select-sm"
            else:
                css = "form-control form-control-sm"
            widget.attrs["class"] = css

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = widget.attrs.get("class", "") + " is-invalid"


class PatientCreateForm(BootstrapFormMixin, forms.ModelForm):
    site = forms.ModelChoiceField(label=_("Site"), queryset=Site.objects.none())

    class Meta:
        model = Patient
        fields = ["site", "initials", "sex", "birth_date", "consent_datetime", "consent_version"]
        widgets = {
            "birth_date": forms.DateInput(attrs={"type": "date"}),
            "consent_datetime": forms.DateTimeInput(attrs={"type": "datetime-local"}),
        }
        labels = {"consent_datetime": _("Informed consent signed (date and time)")}

    def __init__(self, *args, sites=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = sites if sites is not None else Site.objects.none()
        if sites is not None and len(sites) == 1:
            self.fields["site"].initial = sites[0].pk  # one site: nothing to choose
        self.fields["consent_datetime"].required = True
        self.fields["consent_version"].required = True
        short_choices_as_radios(self, ("sex",))

    def clean_consent_datetime(self):
        value = self.cleaned_data["consent_datetime"]
        if value and value > timezone.now():
            raise forms.ValidationError("Consent cannot be in the future.")
        return value


class ScoreInputsFormMixin(BootstrapFormMixin, forms.ModelForm):
    """Unit selectors and the scoring engine's range checks as field errors, from the one
    map of the score inputs (``trials.dictionary.SCORE_INPUT_ITEMS``)."""

    typed_items = TYPED_SCORE_INPUTS
    lab_field_names = SCORE_LAB_INPUTS
    organ_field_names = SCORE_ORGAN_ORDER

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for item in self.typed_items:
            if item.unit_field in self.fields:
                choices = [(u, u) for u in item.units]
                self.fields[item.unit_field] = forms.ChoiceField(
                    choices=choices,
                    required=False,
                    label=_("Unit"),
                    initial=item.default_unit,
                    disabled=self.fields[item.unit_field].disabled,
                    widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
                )
        # West Haven 0–4 and ascites side by side: one click, every answer visible (#17).
        short_choices_as_radios(self, ("he_grade", "ascites"))

    @property
    def unit_pairs(self) -> list[tuple]:
        return [(self[i.entered], self[i.unit_field]) for i in self.typed_items]

    @property
    def lab_fields(self) -> list:
        return [self[name] for name in self.lab_field_names if name in self.fields]

    @property
    def organ_fields(self) -> list:
        return [self[name] for name in self.organ_field_names if name in self.fields]

    def clean(self):
        data = super().clean()
        probe = {}
        for item in self.typed_items:
            value = data.get(item.entered)
            if value is not None and item.entered in self.fields:
                try:
                    unit = data.get(item.unit_field)
                    probe[item.name] = float(item.to_canonical(value, unit))
                except ValueError as exc:
                    self.add_error(item.unit_field, str(exc))
        # Every scoring input that is also a field of this form, checked by the engine itself.
        for key in scoring.INPUT_KEYS:
            if key in self.fields and key not in probe and data.get(key) not in (None, ""):
                probe[key] = float(data[key]) if hasattr(data[key], "as_tuple") else data[key]
        typed = typed_field_map(self.typed_items)
        for key, message in scoring.validate_inputs(probe).items():
            target = typed.get(key, key)
            if target in self.fields and target not in self.errors:
                self.add_error(target, message)
        return data


SCORE_INPUT_FIELDS = SCORE_INPUT_FORM_FIELDS


EXCLUSION_FIELDS = (  # synopsis: Eligibility, exclusion 1–18 (EXC6 is renal_replacement_therapy)
    "acute_liver_failure_without_cirrhosis",
    "aclf1_responding_to_therapy",
    "current_malignancy",
    "afp_ng_ml",
    "previous_malignancy_or_hereditary_cancer",
    "nyha_class",
    "gold_stage",
    "gi_bleed_history",
    "last_gi_bleed_date",
    "previous_liver_transplant",
    "immunosuppressive_therapy",
    "extrahepatic_cholestasis",
    "hiv_infection",
    "pregnancy_status",
    "childbearing_potential",
    "investigational_trial_history",
    "last_investigational_trial_date",
    "active_drug_addiction",
    "refuses_participation",
    "unable_to_consent",
)


class ScreeningForm(ScoreInputsFormMixin):
    reason_for_change = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required when changing a completed screening."),
    )
    # The grade the investigator saw when ticking the box (updated live by the page's script):
    # the confirmation only holds for that grade (issue 13).
    aclf_grade_confirmed_as = forms.CharField(required=False, widget=forms.HiddenInput)
    confirm_out_of_range = forms.BooleanField(
        required=False,
        label=_("I checked the values outside the expected range against the source document"),
    )

    class Meta:
        model = Screening
        fields = [
            "screening_date",
            "cirrhosis",
            "aclf_grade_confirmed",
            *EXCLUSION_FIELDS,
            *SCORE_INPUT_FIELDS,
        ]
        widgets = {
            "screening_date": forms.DateInput(attrs={"type": "date"}),
            "last_gi_bleed_date": forms.DateInput(attrs={"type": "date"}),
            "last_investigational_trial_date": forms.DateInput(attrs={"type": "date"}),
        }

    @property
    def exclusion_fields(self) -> list:
        return [self[name] for name in EXCLUSION_FIELDS]

    def __init__(self, *args, patient: Patient | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        lock_version_field(self, self.instance)
        if self.instance.pk is None and not self.is_bound:
            self.initial.setdefault("screening_date", timezone.localdate())
            if patient is not None and patient.sex == "M":
                # For a man the only valid answer (the save enforces it): preset, still shown.
                for name in ("pregnancy_status", "childbearing_potential"):
                    self.initial.setdefault(name, Screening.Pregnancy.NOT_APPLICABLE)
        self.initial["aclf_grade_confirmed_as"] = self.instance.aclf_grade or ""
        self.fields["aclf_grade_confirmed"].label = _("I confirm the computed ACLF grade")
        self.warnings: dict[str, list[str]] = {}
        for field in self.fields.values():
            if isinstance(field, forms.NullBooleanField):
                # Yes/No as two radio buttons: one click, not two (issue 17); unanswered
                # posts nothing (None), like the blank option did.
                field.widget = forms.RadioSelect(
                    choices=YES_NO[1:], attrs={"class": "form-check-input"}
                )
        short_choices_as_radios(
            self, ("nyha_class", "gold_stage", "pregnancy_status", "childbearing_potential")
        )
        self.order_fields([*self.Meta.fields, REASON_FIELD, "aclf_grade_confirmed_as"])
        # Skip logic from the dictionary, for static/js/crf_skip_logic.js (the server checks
        # the same rule in ``screening_save``).
        for item in SCREENING_CONDITIONAL_ITEMS:
            if item.name in self.fields:
                self.fields[item.name].widget.attrs.update(
                    {
                        "data-shown-if": item.shown_if.item,
                        "data-shown-values": json.dumps([str(v) for v in item.shown_if.values]),
                    }
                )

    def data_for_service(self) -> dict:
        """Cleaned data for ``screening_save``: the confirmation names the grade it confirms."""
        data = {
            k: v
            for k, v in self.cleaned_data.items()
            if k not in (REASON_FIELD, "confirm_out_of_range", VERSION_FIELD)
        }
        if not data.get("aclf_grade_confirmed"):
            data["aclf_grade_confirmed_as"] = ""
        return data

    def clean(self):
        data = super().clean()
        if data.get("gi_bleed_history") and not data.get("last_gi_bleed_date"):
            self.add_error("last_gi_bleed_date", "Give the date of the last GI bleeding.")
        if data.get("investigational_trial_history") and not data.get(
            "last_investigational_trial_date"
        ):
            self.add_error("last_investigational_trial_date", "Give the date of the last trial.")
        today = timezone.localdate()
        for field in ("screening_date", "last_gi_bleed_date", "last_investigational_trial_date"):
            if data.get(field) and data[field] > today:
                self.add_error(field, "This date is in the future.")
            elif data.get(field) and data[field].year < 1900:
                self.add_error(field, "Enter a date from 1900 on.")
        if data.get("mechanical_ventilation_for_he") and not data.get("mechanical_ventilation"):
            self.add_error(
                "mechanical_ventilation_for_he",
                "Only applies when the patient is mechanically ventilated.",
            )
        return data


class ScoreCalculatorForm(ScoreInputsFormMixin):
    """Ad-hoc score calculation; parses like the CRFs but is never saved."""

    age = forms.IntegerField(min_value=0, max_value=120, required=False, label=_("Age (years)"))
    sex = forms.ChoiceField(choices=[("", "—"), ("M", "Male"), ("F", "Female")], required=False)

    class Meta:
        model = Screening
        fields = SCORE_INPUT_FIELDS


class RoleGrantDecisionForm(BootstrapFormMixin, forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", "Approve"), ("refuse", "Refuse")], widget=forms.RadioSelect
    )
    reason = forms.CharField(
        min_length=3, help_text=_("Why you approve or refuse (recorded and sent to the sponsor)")
    )


class IdentityCorrectionForm(BootstrapFormMixin, forms.ModelForm):
    """Sex, birth date, initials and consent: corrected with a reason, then re-derived."""

    reason = forms.CharField(
        min_length=3,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Why the record was wrong (e.g. the source document says otherwise)"),
    )

    class Meta:
        model = Patient
        fields = ["sex", "birth_date", "initials", "consent_datetime", "consent_version"]
        widgets = {
            "birth_date": forms.DateInput(attrs={"type": "date"}),
            "consent_datetime": forms.DateTimeInput(attrs={"type": "datetime-local"}),
        }
        labels = {"consent_datetime": _("Informed consent signed (date and time)")}

    def clean_consent_datetime(self):
        # The input shows minutes only: an untouched value must not "change" the seconds.
        value = self.cleaned_data["consent_datetime"]
        stored = self.instance.consent_datetime
        if value and stored and value == stored.replace(second=0, microsecond=0):
            return stored
        return value


class AuditFilterForm(BootstrapFormMixin, forms.Form):
    """Narrow an audit trail: user, date range, form, field, one record or visit (GET)."""

    user = forms.CharField(label=_("User (login)"), required=False, max_length=150)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    form = forms.ChoiceField(label=_("Form"), required=False)
    field = forms.ChoiceField(label=_("Field"), required=False)
    record = forms.IntegerField(
        required=False, min_value=1, max_value=2**62, widget=forms.HiddenInput
    )
    visit = forms.IntegerField(
        required=False, min_value=1, max_value=2**62, widget=forms.HiddenInput
    )

    def __init__(self, *args, user, patient=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from .history import sources_for

        # Only the trails this user may read: a blinded reader is not offered the allocation's.
        readable = sources_for(user=user, patient=patient)
        self.fields["form"].choices = [("", "any form")] + [
            (s.key, s.label[:1].upper() + s.label[1:]) for s in readable
        ]
        fields: dict[str, str] = {}
        chosen = self.data.get("form", "")
        for s in readable:
            if not chosen or s.key == chosen:
                for f in s.fields():
                    fields.setdefault(f.name, s.field_label(f))
        self.fields["field"].choices = [
            ("", "any field"),
            *sorted(fields.items(), key=lambda kv: kv[1].lower()),
        ]

    def filters(self):
        """The valid part of the filter (an invalid value is ignored, and shown as an error)."""
        from .history import Filters

        data = self.cleaned_data if self.is_valid() else {}
        return Filters(
            username=(data.get("user") or "").strip(),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            form=data.get("form") or "",
            field=data.get("field") or "",
            record=data.get("record"),
            visit=data.get("visit"),
        )
