"""The data dictionary of every exported dataset: variable, label, type, unit, allowed values.

Derived in one place: each eCRF's data dictionary (``crf.dictionary``: label, unit, code
list) and, for the score inputs of screening, ``trials.dictionary``; the models' field
metadata gives the type, length and decimals. CSV, Dataset-JSON and ODM exports and the
dictionary CSV never disagree. Fields outside a dictionary (patients) keep their labels.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from django.db import models
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from trials.dictionary import SCORE_INPUT_ITEMS, Limits, value_type

# Columns that identify a row in every dataset (ODM keys; Dataset-JSON keySequence).
SUBJECT, SITE, VISIT, RECORD = "subject", "site", "visit", "record_id"

# Bookkeeping fields that are not data (the history keeps who/when in full). The optimistic
# lock's counter and the save time are system fields: the ODM trail's AuditRecord carries when.
_SKIP = {
    "id",
    "patient",
    "visit",
    "updated_by",
    "out_of_range_confirmed",
    "created_at",
    "updated_at",
    "lock_version",
}
# Canonical-unit columns named by suffix rather than by a "(unit)" label.
_SUFFIX_UNITS = {
    "_mg_dl": "mg/dL",
    "_g_dl": "g/dL",
    "_mmol_l": "mmol/L",
    "_umol_l": "µmol/L",
    "_pg_ml": "pg/mL",
    "_ng_ml": "ng/mL",
    "_kg": "kg",
    "_mmhg": "mmHg",
    "_bpm": "bpm",
    "_pct": "%",
    "_l_min": "L/min",
    "_ug_kg_min": "µg/kg/min",
}
_LABEL_UNIT = re.compile(r"\s*\(([^()]*)\)\s*$")
_NOT_UNITS = {
    "SAE",
    "NYHA class",
    "GOLD stage",
    "West Haven grade",
    "fraction",
    "not respiratory failure",
}


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    type: str  # string | integer | decimal | boolean | date | datetime
    unit: str = ""
    allowed: tuple[tuple[str, str], ...] = ()
    length: int | None = None
    fraction_digits: int | None = None
    field: str | None = None  # model attribute the value comes from (None: computed key)
    key: int | None = None  # key sequence (1-based) of identifying columns
    # From the data dictionary, for ODM RangeCheck / REDCap validation and branching logic:
    limits: Limits | None = None  # hard and soft limits, canonical unit
    required: bool = False  # required to complete the form
    shown_if: str = ""  # skip condition, e.g. "vital_status in (dead)"
    help: str = ""
    # Spanish (issue 17): the ODM carries both languages, the dictionary CSV a label_es column.
    label_es: str = ""
    allowed_es: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Dataset:
    code: str
    label: str
    model: type[models.Model]
    per_visit: bool = False
    repeating: bool = False  # several records per subject outside visits (adverse events)
    date_field: str | None = None  # what the date-range filter applies to
    variables: tuple[Variable, ...] = field(default=())
    label_es: str = ""

    @property
    def oid(self) -> str:
        return self.code.upper()

    @property
    def display_label(self) -> str:
        """The label in the language of the page."""
        return self.label_es if in_spanish() and self.label_es else self.label


def in_spanish() -> bool:
    return (translation.get_language() or "").startswith("es")


def _label_and_unit(f: models.Field) -> tuple[str, str]:
    label = str(f.verbose_name)
    label = label[:1].upper() + label[1:]
    match = _LABEL_UNIT.search(label)
    # A unit is one short token: "(mmHg)", "(10⁹/L)"; "(NYHA class)" is not one.
    if match and not re.search(r"\s", match.group(1)) and match.group(1) not in _NOT_UNITS:
        return label, match.group(1)
    for suffix, unit in _SUFFIX_UNITS.items():
        if f.name.endswith(suffix):
            if label.lower() == f.name.replace("_", " "):  # no verbose name: derive one
                label = f"{label[: -len(suffix)].strip().capitalize()} ({unit})"
            return label, unit
    return label, ""


def variable_of(f: models.Field) -> Variable:
    label, unit = _label_and_unit(f)
    kind = value_type(f)
    return Variable(
        name=f.name,
        label=label,
        type=kind,
        unit=unit,
        allowed=tuple((str(value), str(text)) for value, text in (f.choices or [])),
        length=getattr(f, "max_length", None) if kind == "string" else None,
        fraction_digits=getattr(f, "decimal_places", None) if kind == "decimal" else None,
        field=f.attname,
    )


def _item_variable(f: models.Field, items: Mapping[str, Any], form: Any) -> Variable:
    """The column of model field ``f``, described by its data-dictionary item."""
    base = variable_of(f)
    item = items.get(f.name)
    if item is None:
        return base
    label = str(form.label(item) if form is not None else (item.label or base.label))
    if f.name == item.unit_field:
        return replace(
            base,
            label=gettext("Unit of %(label)s as typed") % {"label": label[:1].lower() + label[1:]},
            allowed=tuple((u, u) for u in item.units),
        )
    if f.name == item.entered:
        return replace(base, label=gettext("%(label)s as typed") % {"label": label}, unit="")
    if f.name == item.typed_text:
        label = gettext("%(label)s as typed (when not in %(unit)s)") % {
            "label": label,
            "unit": item.unit,
        }
        return replace(base, label=label, unit="")
    unit = item.unit or (item.limits.unit if item.limits else "") or base.unit
    allowed = base.allowed
    if form is not None and form.choices(item):
        allowed = tuple((str(v), str(t)) for v, t in form.choices(item) if v != "")
    condition = item.shown_if
    shown_if = ""
    if condition is not None:
        shown_if = (
            f"{condition.item} in ({', '.join(str(v) for v in condition.values)})"
            if condition.item
            else str(condition.text)
        )
    return replace(
        base,
        label=label,
        unit=unit,
        allowed=allowed,
        limits=item.limits,
        required=item.required,
        shown_if=shown_if,
        help=str(item.help),
    )


def _variables_of(
    model: type[models.Model], *, only: list[str] | None = None, form: Any = None
) -> list[Variable]:
    fields = [f for f in model._meta.concrete_fields if f.name not in _SKIP]
    if only is not None:
        fields = [f for name in only for f in fields if f.name == name]
    if form is not None:
        items = dict(form.by_field)
    else:  # screening: the score inputs' declarations
        items = {name: i for i in SCORE_INPUT_ITEMS for name in i.model_fields}
        items = {k: v for k, v in items.items() if hasattr(model, k)}
    return [_item_variable(f, items, form) for f in fields]


# The date the export's date range applies to, for the forms recorded per patient.
PATIENT_FORM_DATE = {
    "adverse_event": "onset_date",
    "end_of_study": "end_date",
    "infection": "onset_date",
    "con_med": "start_date",
}


def _keys(*, per_visit: bool, record: bool = True) -> list[Variable]:
    keys = [
        Variable(SUBJECT, gettext("Subject (randomization id, else screening number)"), "string"),
        Variable(SITE, gettext("Site code"), "string"),
    ]
    if per_visit:
        keys.append(Variable(VISIT, gettext("Visit code"), "string"))
    if record:
        keys.append(Variable(RECORD, gettext("Record id in the EDC"), "integer"))
    return [Variable(**{**v.__dict__, "key": i}) for i, v in enumerate(keys, start=1)]


PATIENT_FIELDS = [
    "screening_number",
    "subject_id",
    "sex",
    "birth_date",
    "consent_datetime",
    "consent_version",
    "status",
]
# Unblinded statistician's export only (randomization.selectors.allocation_list_unblinded).
ALLOCATION_VARIABLES = (
    Variable("randomization_number", _("Randomization number"), "string"),
    Variable("randomized_at", _("Randomized at (UTC)"), "datetime"),
    Variable("stratum", _("Stratum (ACLF grade)"), "string"),
    Variable("treatment_code", _("Treatment arm code"), "string"),
    Variable("treatment_label", _("Treatment arm"), "string"),
)


def _bilingual(english: Variable, spanish: Variable) -> Variable:
    return replace(english, label_es=spanish.label, allowed_es=spanish.allowed)


def _in_both(variable: Variable) -> Variable:
    """A variable declared with a lazy label, in English with its Spanish label."""
    with translation.override("en-gb"):
        english = replace(variable, label=str(variable.label))
    with translation.override("es"):
        return replace(english, label_es=str(variable.label))


@cache
def datasets() -> dict[str, Dataset]:
    """Every exportable dataset in a stable order: patients, screening, then the registry;
    labels in English (the canonical) with their Spanish (issue 17)."""
    with translation.override("en-gb"):
        english = _datasets()
    with translation.override("es"):
        spanish = {d.code: d for d in _datasets()}
    return {
        d.code: replace(
            d,
            label_es=spanish[d.code].label,
            variables=tuple(
                _bilingual(v, es)
                for v, es in zip(d.variables, spanish[d.code].variables, strict=True)
            ),
        )
        for d in english
    }


def _datasets() -> list[Dataset]:
    """The datasets with their labels in the active language."""
    from crf.registry import FORMS
    from trials.models import Patient, Screening

    result = [
        Dataset(
            "patients",
            gettext("Patients (registration and status)"),
            Patient,
            date_field="created_at",
            variables=tuple(
                _keys(per_visit=False, record=False) + _variables_of(Patient, only=PATIENT_FIELDS)
            ),
        ),
        Dataset(
            "screening",
            gettext("Screening and eligibility"),
            Screening,
            date_field="screening_date",
            variables=tuple(_keys(per_visit=False) + _variables_of(Screening)),
        ),
    ]
    for code, spec in FORMS.items():
        date_field = (
            "assessment_date" if spec.per_visit else PATIENT_FORM_DATE.get(code, "created_at")
        )
        result.append(
            Dataset(
                code,
                str(spec.label),
                spec.model,
                per_visit=spec.per_visit,
                repeating=not spec.per_visit and not spec.single,
                date_field=date_field,
                variables=tuple(
                    _keys(per_visit=spec.per_visit)
                    + _variables_of(spec.model, form=spec.dictionary)
                ),
            )
        )
    return result


def dataset_variables(dataset: Dataset, *, unblinded: bool = False) -> list[Variable]:
    """The columns of ``dataset``; the patients dataset gains the allocation when unblinded."""
    variables = list(dataset.variables)
    if unblinded and dataset.code == "patients":
        variables += [_in_both(v) for v in ALLOCATION_VARIABLES]
    return variables


DICTIONARY_HEADER = [
    "dataset",
    "variable",
    "label",
    "type",
    "unit",
    "allowed_values",
    "length",
    "fraction_digits",
    "key",
    "label_es",
    "allowed_values_es",
]


def dictionary_rows(*, unblinded: bool = False):
    """One row per variable of every dataset (the data dictionary CSV)."""
    for dataset in datasets().values():
        for v in dataset_variables(dataset, unblinded=unblinded):
            yield [
                dataset.code,
                v.name,
                v.label,
                v.type,
                v.unit,
                "; ".join(f"{code}={text}" for code, text in v.allowed),
                "" if v.length is None else v.length,
                "" if v.fraction_digits is None else v.fraction_digits,
                "" if v.key is None else v.key,
                v.label_es,
                "; ".join(f"{code}={text}" for code, text in v.allowed_es),
            ]
