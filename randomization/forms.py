"""Input parsing for the randomization pages (no rules here: the services decide)."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from trials.forms import BootstrapFormMixin

from .models import DOSE_NUMBERS


class RandomizeForm(BootstrapFormMixin, forms.Form):
    confirm_eligibility = forms.BooleanField(
        label=_("I checked the eligibility summary above and confirm the patient is eligible"),
        required=True,
    )


class DosePreparationForm(BootstrapFormMixin, forms.Form):
    dose_number = forms.TypedChoiceField(
        choices=[(n, f"Dose {n}") for n in DOSE_NUMBERS], coerce=int
    )
    prepared_at = forms.DateTimeField(
        label=_("Prepared at"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    product_lot = forms.CharField(label=_("Product / placebo lot"), max_length=60)
    cell_count = forms.IntegerField(
        label=_("Total cells"),
        min_value=0,
        required=False,  # required by the service, whose message says what to enter
        help_text=_("Whole number of cells in the product, e.g. 145000000 (0 if it has none)"),
    )
    viability_pct = forms.DecimalField(
        label=_("Viability %"),
        min_value=0,
        max_value=100,
        decimal_places=1,
        required=False,
        help_text=_("From the release certificate"),
    )
    volume_ml = forms.DecimalField(label=_("Volume (mL)"), min_value=0.1, decimal_places=1)
    checked_by = forms.CharField(
        label=_("Checked by (second person)"),
        max_length=150,
        help_text=_("Name of the pharmacist or nurse who checked the preparation"),
    )
    confirm_weight_date = forms.BooleanField(
        label=_("The weight was not measured on the dosing day: I confirm it is used"),
        required=False,
    )
    confirm_weight_change = forms.BooleanField(
        label=_("The weight changed markedly since the previous one: I checked and confirm it"),
        required=False,
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("prepared_at", timezone.localtime().replace(second=0))


class EmergencyUnblindingForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(
        label=_("Clinical reason for the emergency unblinding"),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    password = forms.CharField(
        label=_("Your password (re-authentication)"), widget=forms.PasswordInput, strip=False
    )


class ListGenerateForm(BootstrapFormMixin, forms.Form):
    seed = forms.CharField(
        max_length=100,
        required=False,
        help_text=_(
            "Leave empty to draw a secret seed (recommended). Either way it is recorded "
            "with the list, readable by unblinded roles only, and reproduces it with listgen.py"
        ),
    )
    block_sizes = forms.CharField(
        initial="4,6", help_text=_("Comma-separated multiples of 2, chosen at random per block")
    )
    strata = forms.CharField(
        required=False,
        initial="1,2,3",
        help_text=_("Comma-separated ACLF grades; empty = all of the trial's strata"),
    )
    length_per_stratum = forms.IntegerField(
        min_value=1,
        max_value=1000,
        required=False,
        help_text=_("Rows per stratum; empty = trial target plus a margin"),
    )
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required when it replaces the active list"),
    )

    def clean_strata(self) -> list[str]:
        return [x.strip() for x in self.cleaned_data["strata"].split(",") if x.strip()]

    def clean_block_sizes(self) -> list[int]:
        raw = self.cleaned_data["block_sizes"]
        try:
            sizes = [int(x) for x in raw.replace(" ", "").split(",") if x]
        except ValueError:
            raise forms.ValidationError("Whole numbers separated by commas, e.g. 2,4.") from None
        if not sizes:
            raise forms.ValidationError("Give at least one block size.")
        return sizes


class ListUploadForm(BootstrapFormMixin, forms.Form):
    file = forms.FileField(help_text=_("CSV with columns stratum, sequence, block, arm"))
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required when it replaces the active list"),
    )


class ListSupersedeForm(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
