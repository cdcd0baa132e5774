"""eCRF forms: input parsing and field types only; edit checks run in ``crf.services``."""

from __future__ import annotations

from django import forms

from trials.audit import REASON_FIELD
from trials.concurrency import VERSION_FIELD
from trials.forms import (
    SCORE_INPUT_FIELDS,
    YES_NO,
    BootstrapFormMixin,
    ScoreInputsFormMixin,
    lock_version_field,
)

from . import models
from .completeness import primary_score_input_choices
from .units import unit_choices

CONFIRM_FIELD = "confirm_out_of_range"
CONTROL_FIELDS = (REASON_FIELD, CONFIRM_FIELD, VERSION_FIELD)
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


class CrfFormMixin:
    """Yes/No selects, native date/time inputs, autofocus, control fields, read-only mode.

    ``sections`` = [(title, [field names])] lays the page out in the order a nurse reads the
    source document; a ``<x>_entered`` field is shown with its ``<x>_unit`` selector.
    """

    sections: list[tuple[str, list[str]]] = []

    def __init__(self, *args, read_only: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.read_only = read_only
        self.warnings: dict[str, list[str]] = {}  # soft-limit warnings from the service
        self.fields[REASON_FIELD] = forms.CharField(
            required=False,
            label="Reason for change",
            widget=forms.Textarea(attrs={"rows": 2, "class": "form-control form-control-sm"}),
            help_text="Required when changing a completed form.",
        )
        lock_version_field(self, self.instance)
        self.fields[CONFIRM_FIELD] = forms.BooleanField(
            required=False,
            label="I have checked the values outside the expected range: confirm them",
            widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
        )
        for name, field in self.fields.items():
            if isinstance(field, forms.NullBooleanField):
                field.widget = forms.Select(
                    choices=YES_NO, attrs={"class": "form-select form-select-sm"}
                )
            elif isinstance(field, forms.DateTimeField):
                field.widget = forms.DateTimeInput(
                    format=DATETIME_FORMAT,
                    attrs={"type": "datetime-local", "class": "form-control form-control-sm"},
                )
            elif isinstance(field, forms.DateField):
                field.widget = forms.DateInput(
                    format="%Y-%m-%d",
                    attrs={"type": "date", "class": "form-control form-control-sm"},
                )
            if read_only and name not in CONTROL_FIELDS:
                field.disabled = True
        first = next(iter(self.fields.values()), None)
        if first is not None and not read_only:
            first.widget.attrs["autofocus"] = "autofocus"

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                if "is-invalid" not in widget.attrs.get("class", ""):
                    widget.attrs["class"] = widget.attrs.get("class", "") + " is-invalid"

    @property
    def layout(self) -> list[tuple[str, list[dict]]]:
        """[(section title, [{"fields": [field, unit?], "warnings": [...]}])] for the page."""
        placed: set[str] = set()
        rows = []
        sections = self.sections or [("", [n for n in self.fields if n not in CONTROL_FIELDS])]
        for title, names in sections:
            cells = []
            for name in names:
                if name not in self.fields or name in placed:
                    continue
                cell = {"fields": [self[name]], "warnings": list(self.warnings.get(name, []))}
                placed.add(name)
                if name.endswith(("_entered", "weight_kg")):
                    unit = name.removesuffix("_entered").removesuffix("_kg") + "_unit"
                    if unit in self.fields:
                        cell["fields"].append(self[unit])
                        cell["warnings"] += self.warnings.get(unit, [])
                        placed.add(unit)
                cells.append(cell)
            rows.append((title, cells))
        return rows

    def data_for_service(self) -> dict:
        """Cleaned model fields, without the reason and confirmation controls."""
        return {k: v for k, v in self.cleaned_data.items() if k not in CONTROL_FIELDS}


class CrfForm(CrfFormMixin, BootstrapFormMixin, forms.ModelForm):
    pass


VITALS = [
    "assessment_date",
    "weight_kg",
    "weight_unit",
    "temperature_c",
    "heart_rate_bpm",
    "systolic_bp_mmhg",
    "diastolic_bp_mmhg",
    "respiratory_rate",
    "spo2_pct",
]


class VitalSignsForm(CrfForm):
    sections = [("Vital signs and weight", VITALS)]

    class Meta:
        model = models.VitalSigns
        fields = VITALS
        labels = {"assessment_date": "Date measured"}
        help_texts = {"weight_kg": "Typed in pounds? Set the unit to lb: it is stored in kg."}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        unit = self.fields["weight_unit"]
        unit.required = False
        unit.choices = models.WeightUnit.choices
        unit.widget = forms.Select(
            choices=models.WeightUnit.choices, attrs={"class": "form-select form-select-sm"}
        )


LAB_EXTRA = [
    "afp_ng_ml",
    "bile_acids_umol_l",
    "ammonia_entered",
    "ammonia_unit",
    "lactate_entered",
    "lactate_unit",
    "renin_ng_ml_h",
    "noradrenaline_entered",
    "noradrenaline_unit",
    "nitric_oxide_umol_l",
    "vwf_antigen_pct",
]
CYTOKINES = [
    "il6_pg_ml",
    "il8_pg_ml",
    "il10_pg_ml",
    "tnf_alpha_pg_ml",
    "il1_beta_pg_ml",
    "ifn_gamma_pg_ml",
]


ROUTINE_LABS = [
    "ast_u_l",
    "alt_u_l",
    "ggt_u_l",
    "alp_u_l",
    "haemoglobin_g_dl",
    "crp_mg_l",
    "potassium_mmol_l",
]


class LabResultForm(CrfFormMixin, ScoreInputsFormMixin):
    extra_unit_fields = ("ammonia", "lactate", "noradrenaline")
    sections = [
        ("Sample", ["assessment_date"]),
        (
            "Liver and renal function",
            [
                "bilirubin_entered",
                "creatinine_entered",
                "albumin_entered",
                "inr",
                "sodium_mmol_l",
                "wbc_10e9_l",
                "platelets_10e9_l",
            ],
        ),
        ("Organ function and support", list(ScoreInputsFormMixin.organ_field_names)),
        ("Routine laboratory", ROUTINE_LABS),
        ("Not done", ["not_done", "not_done_reason"]),
        ("Liver, circulatory and endothelial markers", LAB_EXTRA),
        ("Cytokine panel", CYTOKINES),
    ]

    class Meta:
        model = models.LabResult
        fields = [
            "assessment_date",
            *SCORE_INPUT_FIELDS,
            *ROUTINE_LABS,
            "not_done",
            "not_done_reason",
            *LAB_EXTRA,
            *CYTOKINES,
        ]
        labels = {"assessment_date": "Date of sampling"}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        disabled = self.fields["not_done"].disabled
        self.fields["not_done"] = forms.MultipleChoiceField(
            choices=primary_score_input_choices(),
            required=False,
            disabled=disabled,
            label="Inputs of the primary scores not measured at this visit",
            widget=forms.CheckboxSelectMultiple,
        )
        for analyte in self.extra_unit_fields:
            choices = unit_choices(analyte)
            disabled = self.fields[f"{analyte}_unit"].disabled
            self.fields[f"{analyte}_unit"] = forms.ChoiceField(
                choices=choices,
                required=False,
                label="Unit",
                initial=choices[0][0],
                disabled=disabled,
                widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
            )


HEMO_SPLANCHNIC = [
    "wedged_hepatic_venous_pressure_mmhg",
    "free_hepatic_venous_pressure_mmhg",
    "hvpg_mmhg",
]
HEMO_SYSTEMIC = [
    "right_atrial_pressure_mmhg",
    "mean_pulmonary_artery_pressure_mmhg",
    "pulmonary_capillary_wedge_pressure_mmhg",
    "cardiac_output_l_min",
    "heart_rate_bpm",
    "map_mmhg",
    "svr_dyn_s_cm5",
]


class HemodynamicsForm(CrfForm):
    sections = [
        ("Date", ["assessment_date"]),
        ("Splanchnic", HEMO_SPLANCHNIC),
        ("Systemic", HEMO_SYSTEMIC),
    ]

    class Meta:
        model = models.Hemodynamics
        fields = ["assessment_date", *HEMO_SPLANCHNIC, *HEMO_SYSTEMIC]
        labels = {"assessment_date": "Date of the study"}


class AdministrationForm(CrfForm):
    sections = [
        ("Dose", ["given", "start_time", "end_time", "not_given_reason", "not_given_details"]),
        ("Infusion", ["volume_infused_ml", "full_dose_given", "interruption_reason"]),
        ("Infusion reactions", ["infusion_reaction", "infusion_reaction_details"]),
    ]

    class Meta:
        model = models.Administration
        fields = [
            "given",
            "start_time",
            "end_time",
            "not_given_reason",
            "not_given_details",
            "volume_infused_ml",
            "full_dose_given",
            "interruption_reason",
            "infusion_reaction",
            "infusion_reaction_details",
        ]
        widgets = {"infusion_reaction_details": forms.Textarea(attrs={"rows": 2})}


class BiologicalSampleForm(CrfForm):
    sections = [
        (
            "Cytokines (serum)",
            ["cytokine_collected", "cytokine_collected_at", "cytokine_sample_id"],
        ),
        (
            "Transcriptomics (monocytes and PMN)",
            [
                "transcriptomics_collected",
                "transcriptomics_collected_at",
                "transcriptomics_sample_id",
            ],
        ),
        ("", ["not_collected_reason"]),
    ]

    class Meta:
        model = models.BiologicalSample
        fields = [
            "cytokine_collected",
            "cytokine_collected_at",
            "cytokine_sample_id",
            "transcriptomics_collected",
            "transcriptomics_collected_at",
            "transcriptomics_sample_id",
            "not_collected_reason",
        ]


class FollowUpForm(CrfForm):
    sections = [
        (
            "Vital status",
            [
                "assessment_date",
                "vital_status",
                "death_date",
                "death_cause",
                "transplant_date",
                "hospital_status",
                "last_known_alive_date",
                "information_source",
            ],
        )
    ]

    class Meta:
        model = models.FollowUp
        fields = [
            "assessment_date",
            "vital_status",
            "death_date",
            "death_cause",
            "transplant_date",
            "hospital_status",
            "last_known_alive_date",
            "information_source",
        ]
        labels = {"assessment_date": "Date of contact"}


class AdverseEventForm(CrfForm):
    sections = [
        (
            "Event",
            [
                "term",
                "onset_date",
                "onset_time",
                "end_date",
                "severity_grade",
                "outcome",
            ],
        ),
        (
            "Study treatment",
            ["related_dose_number", "relatedness", "expectedness", "action_taken"],
        ),
        (
            "Seriousness",
            [
                "serious",
                "serious_date",
                "sae_death",
                "sae_life_threatening",
                "sae_hospitalization",
                "sae_disability",
                "sae_congenital_anomaly",
                "sae_other_important",
                "reported_to_sponsor_within_24h",
            ],
        ),
        (
            "MedDRA coding",
            ["meddra_llt_code", "meddra_llt_name", "meddra_pt_code", "meddra_pt_name"],
        ),
    ]

    class Meta:
        model = models.AdverseEvent
        fields = [
            "term",
            "onset_date",
            "onset_time",
            "end_date",
            "severity_grade",
            "outcome",
            "related_dose_number",
            "relatedness",
            "expectedness",
            "action_taken",
            "serious",
            "serious_date",
            "sae_death",
            "sae_life_threatening",
            "sae_hospitalization",
            "sae_disability",
            "sae_congenital_anomaly",
            "sae_other_important",
            "reported_to_sponsor_within_24h",
            "meddra_llt_code",
            "meddra_llt_name",
            "meddra_pt_code",
            "meddra_pt_name",
        ]
        widgets = {"onset_time": forms.TimeInput(attrs={"type": "time"})}


class EndOfStudyForm(CrfForm):
    sections = [
        (
            "End of study",
            [
                "reason",
                "end_date",
                "death_cause",
                "withdrawal_scope",
                "early_termination_reason",
                "comments",
            ],
        )
    ]

    class Meta:
        model = models.EndOfStudy
        fields = [
            "reason",
            "end_date",
            "death_cause",
            "withdrawal_scope",
            "early_termination_reason",
            "comments",
        ]
        widgets = {"comments": forms.Textarea(attrs={"rows": 2})}


class VisitDefinitionForm(BootstrapFormMixin, forms.ModelForm):
    expected_forms = forms.MultipleChoiceField(
        choices=[], required=False, widget=forms.CheckboxSelectMultiple
    )
    required_forms = forms.MultipleChoiceField(
        choices=[],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Forms that must be complete for the visit to be done; the other expected "
        "forms are optional. None ticked = every expected form.",
    )
    reason_for_change = forms.CharField(
        label="Reason for change", widget=forms.Textarea(attrs={"rows": 2})
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


class BaselineContextForm(CrfForm):
    sections = [
        ("Liver disease", ["aetiology", "aetiology_other", "transplant_listing"]),
        ("ACLF precipitating event", ["precipitating_events", "precipitating_other"]),
        ("Women of child-bearing potential", ["pregnancy_test", "pregnancy_test_date"]),
    ]

    class Meta:
        model = models.BaselineContext
        fields = [
            "aetiology",
            "aetiology_other",
            "transplant_listing",
            "precipitating_events",
            "precipitating_other",
            "pregnancy_test",
            "pregnancy_test_date",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        disabled = self.fields["precipitating_events"].disabled
        self.fields["precipitating_events"] = forms.MultipleChoiceField(
            choices=models.BaselineContext.Precipitant.choices,
            required=False,
            disabled=disabled,
            label="ACLF precipitating event(s)",
            widget=forms.CheckboxSelectMultiple,
        )
        self.order_fields(self.Meta.fields)


class InfectionForm(CrfForm):
    class Meta:
        model = models.Infection
        fields = ["site", "onset_date", "culture", "organism", "resolved_date"]


class ConcomitantMedicationForm(CrfForm):
    class Meta:
        model = models.ConcomitantMedication
        fields = [
            "name",
            "drug_class",
            "dose",
            "indication",
            "start_date",
            "stop_date",
            "ongoing",
        ]
