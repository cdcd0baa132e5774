"""The data dictionary: one declaration per data item (STYLE §11), and the score inputs.

An ``Item`` names one model field and carries everything the rest of the code needs to
know about it: label, unit(s) with the exact factor to the canonical unit, hard and soft
limits, code list, whether it is required to complete the form, help text, the scoring
inputs it feeds and its skip condition (``shown_if``). Forms, edit checks, serializers,
the OpenAPI schema, audit-trail labels and the export dictionary are derived from it.

``SCORE_INPUT_ITEMS`` is the one map of the laboratory / organ-support values that feed the
scores (shared by screening and the visit laboratory CRF): canonical field, typed field,
unit field, units and limits. Everything else (``TYPED_FIELD``, the unit drop-downs, the
scoring inputs' provenance) is derived from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from scoring import units as scoring_units

D = Decimal


@dataclass(frozen=True)
class Limits:
    hard_min: Decimal | None = None
    soft_min: Decimal | None = None
    soft_max: Decimal | None = None
    hard_max: Decimal | None = None
    unit: str = ""
    min_exclusive: bool = False  # hard_min itself is impossible too (a bilirubin of 0)


@dataclass(frozen=True)
class Condition:
    """Skip logic: the item is shown only when the form's item ``item`` has one of ``values``
    (for a multiple choice: when one of ``values`` is ticked). ``text`` completes
    "Only when …" in the error for a value given while hidden."""

    item: str
    values: tuple[Any, ...] = (True,)
    text: str = ""
    hidden_values: tuple[Any, ...] = ()  # answers accepted while hidden besides "empty"

    def holds(self, values: Mapping[str, Any], patient: Any = None) -> bool:
        value = values.get(self.item)
        if isinstance(value, list | tuple | set | frozenset):
            return any(v in self.values for v in value)
        return value in self.values


@dataclass(frozen=True)
class PatientCondition:
    """Skip logic on a fact of the patient rather than of the form (e.g. the screening's
    child-bearing potential); the server evaluates it, the page renders the item or not."""

    test: Callable[[Any], bool]
    text: str = ""
    hidden_values: tuple[Any, ...] = ()  # answers accepted while hidden besides "empty"
    item: str = ""  # no form item controls it

    def holds(self, values: Mapping[str, Any], patient: Any = None) -> bool:
        return patient is None or self.test(patient)


@dataclass(frozen=True)
class Item:
    """One data item of a form (ODM ``ItemDef``; one row of a REDCap data dictionary)."""

    name: str  # the model field holding the (canonical) value; the export variable
    label: str = ""  # "" = the model field's verbose name
    unit: str = ""  # canonical unit of ``name``
    scale: str = ""  # a grading scale rather than a unit (e.g. West Haven)
    # Selectable units -> exact factor to the canonical unit (the first is the default).
    units: Mapping[str, Fraction] = field(default_factory=dict)
    entered: str = ""  # model field of the value as typed ("" = typed in ``name`` itself)
    unit_field: str = ""  # model field of the unit chosen
    # Typed in ``name`` itself and converted in place: text field keeping what was typed
    # ("160 lb") for the audit when it was not the canonical unit.
    typed_text: str = ""
    places: int | None = None  # decimals of the canonical value ("" = the model field's)
    limits: Limits | None = None  # hard and soft limits, canonical unit
    required: bool = False  # required to complete the form (when shown)
    help: str = ""
    feeds: tuple[str, ...] = ()  # scoring input keys (``scoring.INPUT_KEYS``) it feeds
    shown_if: Condition | PatientCondition | None = None
    choices: tuple[tuple[Any, str], ...] | None = None  # None = the model field's choices
    widget: str = ""  # "radio", "checkboxes", "textarea", "select" ("" = by type)
    derived: bool = False  # set by the service (never typed): export and audit only
    # The model field, for an item added by its declaration alone (older items keep theirs
    # in the model class); the form's model inherits it (``FormDictionary.columns``).
    column: Any = None

    @property
    def input_name(self) -> str:
        """The form field the user types this item in (errors are shown there)."""
        return self.entered or self.name

    @property
    def model_fields(self) -> tuple[str, ...]:
        """Every model field this one item declares (value, as typed, unit)."""
        return tuple(n for n in (self.name, self.entered, self.unit_field, self.typed_text) if n)

    @property
    def form_fields(self) -> tuple[str, ...]:
        """The form fields of this item: the typed value and its unit selector."""
        if self.derived:
            return ()
        return tuple(n for n in (self.input_name, self.unit_field) if n)

    def to_canonical(self, value: Decimal, unit: str) -> Decimal:
        """``value`` typed in ``unit`` in the canonical unit, exact then rounded half-up to
        ``places``; ValueError naming the units on an unknown unit."""
        label = scoring_units.UNIT_ALIASES.get(unit, unit) if unit else unit
        if label not in self.units:
            raise ValueError(f"Unknown unit {unit!r}; choose one of {', '.join(self.units)}.")
        exact = Fraction(Decimal(value)) * self.units[label]
        quantum = Decimal(1).scaleb(-(self.places if self.places is not None else 2))
        return (D(exact.numerator) / D(exact.denominator)).quantize(quantum, ROUND_HALF_UP)

    @property
    def default_unit(self) -> str:
        return next(iter(self.units), self.unit)


@dataclass(frozen=True)
class Section:
    title: str
    items: tuple[Item, ...]


def value_type(f: models.Field) -> str:
    """The value type of a model field as the exports and the dictionary name it:
    string | integer | decimal | boolean | date | datetime."""
    if isinstance(f, models.BooleanField):
        return "boolean"
    if isinstance(f, models.DecimalField | models.FloatField):
        return "decimal"
    if isinstance(f, models.IntegerField):  # AutoField and BigAutoField too
        return "integer"
    if isinstance(f, models.DateTimeField):
        return "datetime"
    if isinstance(f, models.DateField):
        return "date"
    return "string"


def items_of(sections: Iterable[Section]) -> list[Item]:
    return [item for section in sections for item in section.items]


def factors(**units: Fraction | int | str) -> dict[str, Fraction]:
    """{unit: exact factor to canonical} from ints, decimal strings or fractions."""
    return {
        unit: Fraction(f) if not isinstance(f, str) else Fraction(D(f))
        for unit, f in units.items()
    }


def _per(divisor: float) -> Fraction:
    """1 / a published conversion factor, exactly (1 mg/dL bilirubin = 17.1 µmol/L)."""
    return 1 / Fraction(D(str(divisor)))


MICRO = scoring_units.MICRO
UMOL_L = scoring_units.UMOL_L
CANONICAL_PLACES = 8  # a rounded canonical value can cross a score threshold (issue 13)

# --- the score inputs: one map for screening and the visit laboratory CRF --------------------
# Typical ACLF ranges (CANONIC cohort, Moreau et al., Gastroenterology 2013;144:1426) inform
# the soft limits; they warn, they never decide.
_TYPED = {"places": CANONICAL_PLACES}
SCORE_INPUT_ITEMS: tuple[Item, ...] = (
    Item(
        "bilirubin_mg_dl",
        _("Total bilirubin"),
        unit="mg/dL",
        units={"mg/dL": Fraction(1), UMOL_L: _per(scoring_units.BILIRUBIN_UMOL_PER_MG_DL)},
        entered="bilirubin_entered",
        unit_field="bilirubin_unit",
        limits=Limits(D(0), None, D(40), None, "mg/dL", min_exclusive=True),
        feeds=("bilirubin_mg_dl",),
        **_TYPED,
    ),
    Item(
        "creatinine_mg_dl",
        _("Creatinine"),
        unit="mg/dL",
        units={"mg/dL": Fraction(1), UMOL_L: _per(scoring_units.CREATININE_UMOL_PER_MG_DL)},
        entered="creatinine_entered",
        unit_field="creatinine_unit",
        limits=Limits(D(0), None, D(10), None, "mg/dL", min_exclusive=True),
        feeds=("creatinine_mg_dl",),
        **_TYPED,
    ),
    Item(
        "albumin_g_dl",
        _("Albumin"),
        unit="g/dL",
        units={"g/dL": Fraction(1), "g/L": _per(scoring_units.ALBUMIN_G_L_PER_G_DL)},
        entered="albumin_entered",
        unit_field="albumin_unit",
        limits=Limits(D(0), D("1.5"), D("5.5"), None, "g/dL", min_exclusive=True),
        feeds=("albumin_g_dl",),
        **_TYPED,
    ),
    Item("inr", limits=Limits(D(0), None, D(8), None, "", min_exclusive=True), feeds=("inr",)),
    Item(
        "sodium_mmol_l",
        unit="mmol/L",
        limits=Limits(None, D(115), D(160), None, "mmol/L"),
        feeds=("sodium_mmol_l",),
    ),
    Item(
        "wbc_10e9_l",
        unit="10^9/L",
        limits=Limits(D(0), D(1), D(50), None, "10⁹/L", min_exclusive=True),
        feeds=("wbc_10e9_l",),
    ),
    Item(
        "platelets_10e9_l",
        unit="10^9/L",
        limits=Limits(D(0), D(10), D(800), None, "10⁹/L", min_exclusive=True),
        feeds=("platelets_10e9_l",),
    ),
    Item("he_grade", scale="West Haven", feeds=("he_grade",), widget="radio"),
    Item("ascites", feeds=("ascites",)),
    Item(
        "map_mmhg",
        unit="mmHg",
        limits=Limits(D(0), D(40), D(130), None, "mmHg", min_exclusive=True),
        feeds=("map_mmhg",),
    ),
    Item(
        "dopamine_ug_kg_min",
        unit="µg/kg/min",
        limits=Limits(D(0), None, D(20), None, "µg/kg/min"),
        feeds=("dopamine_ug_kg_min",),
    ),
    Item("dobutamine", feeds=("dobutamine",)),
    Item("terlipressin", feeds=("terlipressin",)),
    Item(
        "epinephrine_ug_kg_min",
        unit="µg/kg/min",
        limits=Limits(D(0), None, D(1), None, "µg/kg/min"),
        feeds=("epinephrine_ug_kg_min",),
    ),
    Item(
        "norepinephrine_ug_kg_min",
        unit="µg/kg/min",
        limits=Limits(D(0), None, D(1), None, "µg/kg/min"),
        feeds=("norepinephrine_ug_kg_min",),
    ),
    Item(
        "pao2_mmhg",
        unit="mmHg",
        limits=Limits(D(0), D(40), D(600), None, "mmHg", min_exclusive=True),
        feeds=("pao2_mmhg",),
    ),
    Item(
        "spo2_pct",
        unit="%",
        limits=Limits(D(0), D(70), None, None, "%", min_exclusive=True),
        feeds=("spo2_pct",),
    ),
    Item("fio2", feeds=("fio2",)),
    Item("mechanical_ventilation", feeds=("mechanical_ventilation",)),
    Item(
        "mechanical_ventilation_for_he",
        feeds=("mechanical_ventilation_for_he",),
        shown_if=Condition("mechanical_ventilation", (True,), _("the patient is ventilated")),
    ),
    Item("renal_replacement_therapy", feeds=("renal_replacement_therapy",)),
    Item("dialysis_twice_in_last_week", feeds=("dialysis_twice_in_last_week",)),
)
SCORE_INPUTS: dict[str, Item] = {item.name: item for item in SCORE_INPUT_ITEMS}
# Laboratory values first, then organ function and support (the order of the pages).
SCORE_LAB_INPUTS = ("inr", "sodium_mmol_l", "wbc_10e9_l", "platelets_10e9_l")
SCORE_ORGAN_ORDER = (
    "he_grade",
    "ascites",
    "map_mmhg",
    "dopamine_ug_kg_min",
    "dobutamine",
    "terlipressin",
    "epinephrine_ug_kg_min",
    "norepinephrine_ug_kg_min",
    "pao2_mmhg",
    "spo2_pct",
    "fio2",
    "mechanical_ventilation",
    "mechanical_ventilation_for_he",
    "renal_replacement_therapy",
    "dialysis_twice_in_last_week",
)
# Values typed with a unit: their canonical field's errors are shown on the typed field.
TYPED_SCORE_INPUTS = tuple(i for i in SCORE_INPUT_ITEMS if i.entered)
# The form fields of the score inputs (typed value + unit instead of the canonical field).
SCORE_INPUT_FORM_FIELDS = [n for item in SCORE_INPUT_ITEMS for n in item.form_fields]


def typed_field_map(items: Iterable[Item]) -> dict[str, str]:
    """canonical field -> the field the user typed it in, for items typed with a unit."""
    return {i.name: i.entered for i in items if i.entered}


def limits_map(items: Iterable[Item]) -> dict[str, Limits]:
    return {i.name: i.limits for i in items if i.limits is not None}


# --- screening: the items only asked after a "Yes" (synopsis: Eligibility, EXC8 and EXC16) ----
SCREENING_CONDITIONAL_ITEMS: tuple[Item, ...] = (
    Item(
        "last_gi_bleed_date",
        shown_if=Condition(
            "gi_bleed_history", (True,), _("there was a gastrointestinal bleeding")
        ),
    ),
    Item(
        "last_investigational_trial_date",
        shown_if=Condition(
            "investigational_trial_history", (True,), _("the patient took part in another trial")
        ),
    ),
    SCORE_INPUTS["mechanical_ventilation_for_he"],
)


def is_blank(value: Any) -> bool:
    """Not answered: None, "", an empty list, or an unticked box (0 is an answer)."""
    return value is None or value is False or (isinstance(value, str | list | tuple) and not value)


def hidden_values_given(items: Iterable[Item], obj: Any) -> dict[str, str]:
    """{field: "Only when …"} for each item given a value while its condition hides it."""
    errors = {}
    for item in items:
        condition = item.shown_if
        if condition is None or condition.holds(_attrs(obj)):
            continue
        value = getattr(obj, item.name, None)
        if not is_blank(value) and value not in condition.hidden_values:
            errors[item.input_name] = gettext("Only when %(condition)s.") % {
                "condition": condition.text
            }
    return errors


class _attrs(dict):
    """An object's attributes read as a mapping (a skip condition on a model instance)."""

    def __init__(self, obj: Any) -> None:
        super().__init__()
        self.obj = obj

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self.obj, key, default)
