"""The eCRF registry: form code -> data dictionary, model, visits, and what saving it does.

One generic page (``crf.views.crf_edit``), one generic API (``crf.api.views.CrfDetailApi``)
and one service (``crf.services.crf_save``) serve every form listed here. A spec carries the
form's items and sections and cross-field rules (its ``crf.dictionary`` module) and its hooks
(``crf.effects``); the form class, serializers and export columns are generated from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from django.db import models as dj_models
from django.utils.translation import gettext_lazy as _

from . import effects
from .dictionary import DICTIONARIES, FormDictionary
from .forms import crf_form_class
from .models import VisitKind

VISIT_KINDS_ALL = frozenset(
    {VisitKind.SCREENING, VisitKind.DOSING, VisitKind.FOLLOW_UP, VisitKind.UNSCHEDULED}
)
Hook = Callable[[effects.CrfSave], object]


@dataclass(frozen=True, eq=False)
class FormSpec:
    code: str
    label: str
    # Visit kinds the form may be recorded at; empty = patient-level form (no visit).
    visit_kinds: frozenset[str] = frozenset()
    # Patient-level: one per patient (True) or a log of any number of records (False).
    single: bool = False
    # Sequencing (synopsis: Schedule): recorded for randomized patients only, even outside
    # visits; a later dose only after dose 1 is given (or missed).
    randomized_only: bool = False
    after_dose1: bool = False
    prepare: tuple[Hook, ...] = ()  # derived values and check context, before the checks
    validators: tuple[Hook, ...] = ()  # rules reading other records -> {field: [messages]}
    before_store: tuple[Hook, ...] = ()  # after the checks; may still refuse
    effects: tuple[Hook, ...] = ()  # once stored, before the visit status is updated
    # Can record a course event (death, transplant, end of study) or end the dosing.
    course_event: bool = False

    @cached_property
    def dictionary(self) -> FormDictionary:
        return DICTIONARIES[self.code]

    @property
    def model(self) -> type[dj_models.Model]:
        return self.dictionary.model

    @property
    def items(self):
        return self.dictionary.items

    @property
    def sections(self):
        return self.dictionary.sections

    @property
    def rules(self):
        return self.dictionary.rules

    @property
    def form_class(self) -> type:
        return crf_form_class(self.dictionary)

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
            _("Vital signs and weight"),
            VISIT_KINDS_ALL,
            prepare=(effects.previous_weight,),
        ),
        FormSpec(
            "labs",
            _("Laboratory and organ function"),
            VISIT_KINDS_ALL,
            before_store=(effects.lab_scores_compute,),
            effects=(effects.lab_scores_store,),
        ),
        FormSpec("hemodynamics", _("Hemodynamics"), VISIT_KINDS_ALL),
        FormSpec(
            "administration",
            _("Study drug administration"),
            frozenset({VisitKind.DOSING}),
            after_dose1=True,
            prepare=(effects.infusion_date,),
            validators=(effects.dosing_allowed, effects.infusion_reaction_reported),
            effects=(effects.day1_from_dose1,),
            course_event=True,
        ),
        FormSpec(
            "samples",
            _("Biological samples"),
            frozenset({VisitKind.DOSING, VisitKind.FOLLOW_UP, VisitKind.UNSCHEDULED}),
        ),
        FormSpec(
            "follow_up",
            _("Follow-up (vital status)"),
            frozenset({VisitKind.FOLLOW_UP, VisitKind.UNSCHEDULED}),
            course_event=True,
        ),
        FormSpec(
            "adverse_event",
            _("Adverse event"),
            validators=(effects.ae_linked_dose,),
            course_event=True,
        ),
        FormSpec(
            "end_of_study",
            _("End of study"),
            single=True,
            randomized_only=True,
            prepare=(effects.last_visit_done,),
            course_event=True,
        ),
        FormSpec("baseline", _("Baseline clinical context"), single=True),
        FormSpec("infection", _("Infection")),
        FormSpec("con_med", _("Concomitant medication")),
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
