"""The eCRF data dictionary: one declaration per form (one module per form).

Each module declares its items in sections (``trials.dictionary.Item``) and its cross-field
rules; ``crf.registry`` adds the model's place in the visit schedule and the after-save
effects. Forms, edit checks, the CRF API and its schema, the audit-trail labels and the
export dictionary are generated from these declarations. Adding a field to a CRF: declare
one ``Item`` in the form's module, then ``manage.py makemigrations`` (README).
"""

from __future__ import annotations

from . import (
    administration,
    adverse_event,
    baseline,
    con_med,
    end_of_study,
    follow_up,
    hemodynamics,
    infection,
    labs,
    samples,
    vitals,
)
from .base import FormDictionary

DICTIONARIES: dict[str, FormDictionary] = {
    module.FORM.code: module.FORM
    for module in (
        vitals,
        labs,
        hemodynamics,
        administration,
        samples,
        follow_up,
        adverse_event,
        end_of_study,
        baseline,
        infection,
        con_med,
    )
}
