"""The eCRF registry: form code -> model, form, label and the visits it may be recorded at.

One generic page (``crf.views.crf_edit``), one generic API (``crf.api.views.CrfDetailApi``)
and one service (``crf.services.crf_save``) serve every form listed here; adding a CRF is a
model, a form class and one entry below.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models as dj_models

from . import forms, models
from .models import VisitKind

VISIT_KINDS_ALL = frozenset(
    {VisitKind.SCREENING, VisitKind.DOSING, VisitKind.FOLLOW_UP, VisitKind.UNSCHEDULED}
)


@dataclass(frozen=True)
class FormSpec:
    code: str
    label: str
    model: type[dj_models.Model]
    form_class: type
    # Visit kinds the form may be recorded at; empty = patient-level form (no visit).
    visit_kinds: frozenset[str] = frozenset()
    # Patient-level: one per patient (True) or a log of any number of records (False).
    single: bool = False

    @property
    def per_visit(self) -> bool:
        return bool(self.visit_kinds)

    @property
    def related_name(self) -> str:
        """Accessor from a Visit to this form (OneToOne ``related_name='%(class)s'``)."""
        return self.model._meta.model_name


FORMS: dict[str, FormSpec] = {
    spec.code: spec
    for spec in (
        FormSpec(
            "vitals",
            "Vital signs and weight",
            models.VitalSigns,
            forms.VitalSignsForm,
            VISIT_KINDS_ALL,
        ),
        FormSpec(
            "labs",
            "Laboratory and organ function",
            models.LabResult,
            forms.LabResultForm,
            VISIT_KINDS_ALL,
        ),
        FormSpec(
            "hemodynamics",
            "Hemodynamics",
            models.Hemodynamics,
            forms.HemodynamicsForm,
            VISIT_KINDS_ALL,
        ),
        FormSpec(
            "administration",
            "Study drug administration",
            models.Administration,
            forms.AdministrationForm,
            frozenset({VisitKind.DOSING}),
        ),
        FormSpec(
            "samples",
            "Biological samples",
            models.BiologicalSample,
            forms.BiologicalSampleForm,
            frozenset({VisitKind.DOSING, VisitKind.FOLLOW_UP, VisitKind.UNSCHEDULED}),
        ),
        FormSpec(
            "follow_up",
            "Follow-up (vital status)",
            models.FollowUp,
            forms.FollowUpForm,
            frozenset({VisitKind.FOLLOW_UP, VisitKind.UNSCHEDULED}),
        ),
        FormSpec("adverse_event", "Adverse event", models.AdverseEvent, forms.AdverseEventForm),
        FormSpec(
            "end_of_study", "End of study", models.EndOfStudy, forms.EndOfStudyForm, single=True
        ),
        FormSpec(
            "baseline",
            "Baseline clinical context",
            models.BaselineContext,
            forms.BaselineContextForm,
            single=True,
        ),
        FormSpec("infection", "Infection", models.Infection, forms.InfectionForm),
        FormSpec(
            "con_med",
            "Concomitant medication",
            models.ConcomitantMedication,
            forms.ConcomitantMedicationForm,
        ),
    )
}
# Patient-level records served by the generic record pages (AE and end of study have theirs).
PATIENT_RECORDS = ("baseline", "infection", "con_med")


def patient_record_spec(code: str) -> FormSpec | None:
    """The spec of a generic patient record (pages and API), None for any other code."""
    return FORMS[code] if code in PATIENT_RECORDS else None


VISIT_FORMS = {code: spec for code, spec in FORMS.items() if spec.per_visit}


def form_spec(code: str) -> FormSpec | None:
    return FORMS.get(code)


def forms_allowed_at(kind: str) -> list[FormSpec]:
    return [spec for spec in VISIT_FORMS.values() if kind in spec.visit_kinds]
