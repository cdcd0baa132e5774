"""Laboratory and organ function; the score inputs come from the one map of trials."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

from django.utils.translation import gettext_lazy as _

from crf.completeness import primary_score_input_choices
from trials.dictionary import (
    MICRO,
    SCORE_INPUTS,
    SCORE_ORGAN_ORDER,
    Condition,
    Item,
    Limits,
    Section,
)

from .base import FormDictionary

D = Decimal


def _lab(name: str, unit: str, soft_max: int | None, hard_max: int, **kwargs) -> Item:
    """A value ≥ 0 with an expected maximum (warns) and an impossible one (rejects)."""
    limits = Limits(
        kwargs.pop("hard_min", D(0)),
        kwargs.pop("soft_min", None),
        None if soft_max is None else D(soft_max),
        D(hard_max),
        unit,
        min_exclusive=kwargs.pop("min_exclusive", False),
    )
    return Item(name, unit=unit, limits=limits, **kwargs)


def _typed(name: str, analyte: str, units: dict[str, Fraction], limits: Limits) -> Item:
    """A marker typed with the laboratory's unit (stored canonical, rounded to 0.01)."""
    return Item(
        name,
        unit=limits.unit,
        units=units,
        entered=f"{analyte}_entered",
        unit_field=f"{analyte}_unit",
        places=2,
        limits=limits,
    )


def _score_input(name: str, *, required: bool = False) -> Item:
    return replace(SCORE_INPUTS[name], required=required)


CYTOKINES = ("il6_pg_ml", "il8_pg_ml", "il10_pg_ml", "tnf_alpha_pg_ml", "il1_beta_pg_ml")

SECTIONS = (
    Section(_("Sample"), (Item("assessment_date", _("Date of sampling"), required=True),)),
    Section(
        _("Liver and renal function"),
        (
            _score_input("bilirubin_mg_dl", required=True),
            _score_input("creatinine_mg_dl", required=True),
            _score_input("albumin_g_dl"),
            _score_input("inr", required=True),
            _score_input("sodium_mmol_l"),
            _score_input("wbc_10e9_l"),
            _score_input("platelets_10e9_l"),
        ),
    ),
    Section(_("Organ function and support"), tuple(SCORE_INPUTS[n] for n in SCORE_ORGAN_ORDER)),
    Section(
        _("Routine laboratory"),
        (
            _lab("ast_u_l", "U/L", 1000, 50_000),
            _lab("alt_u_l", "U/L", 1000, 50_000),
            _lab("ggt_u_l", "U/L", 1000, 10_000),
            _lab("alp_u_l", "U/L", 1000, 10_000),
            _lab("haemoglobin_g_dl", "g/dL", 18, 25, soft_min=D(6), min_exclusive=True),
            _lab("crp_mg_l", "mg/L", 300, 1000),
            _lab("potassium_mmol_l", "mmol/L", 6, 10, hard_min=D(1), soft_min=D("2.8")),
        ),
    ),
    Section(
        _("Not done"),
        (
            Item(
                "not_done",
                _("Inputs of the primary scores not measured at this visit"),
                widget="checkboxes",
                choices=tuple(primary_score_input_choices()),
            ),
            Item(
                "not_done_reason",
                shown_if=Condition(
                    "not_done",
                    tuple(code for code, _ in primary_score_input_choices()),
                    _("an input is ticked as not done"),
                ),
            ),
        ),
    ),
    Section(
        _("Liver, circulatory and endothelial markers"),
        (
            _lab("afp_ng_ml", "ng/mL", 400, 1_000_000),
            _lab("bile_acids_umol_l", f"{MICRO}mol/L", 500, 2000),
            # NH3 17.03 g/mol: 1 µg/dL = 10 µg/L / 17.03 = 0.5872 µmol/L
            _typed(
                "ammonia_umol_l",
                "ammonia",
                {f"{MICRO}mol/L": Fraction(1), f"{MICRO}g/dL": Fraction("0.5872")},
                Limits(D(0), None, D(300), D(2000), f"{MICRO}mol/L"),
            ),
            # lactate 90.08 g/mol: 1 mg/dL = 10 mg/L / 90.08 = 0.1110 mmol/L
            _typed(
                "lactate_mmol_l",
                "lactate",
                {"mmol/L": Fraction(1), "mg/dL": Fraction("0.1110")},
                Limits(D(0), None, D(10), D(35), "mmol/L"),
            ),
            _lab("renin_ng_ml_h", "ng/mL/h", 100, 500),
            # noradrenaline 169.18 g/mol: 1 nmol/L = 169.18 pg/mL
            _typed(
                "noradrenaline_pg_ml",
                "noradrenaline",
                {"pg/mL": Fraction(1), "nmol/L": Fraction("169.18")},
                Limits(D(0), None, D(5000), D(100_000), "pg/mL"),
            ),
            _lab("nitric_oxide_umol_l", f"{MICRO}mol/L", 300, 5000),
            _lab("vwf_antigen_pct", "%", 800, 3000),
        ),
    ),
    Section(
        _("Cytokine panel"),
        (
            *(_lab(name, "pg/mL", None, 10_000_000) for name in CYTOKINES),
            _lab("ifn_gamma_pg_ml", "pg/mL", None, 10_000_000),
        ),
    ),
)

FORM = FormDictionary("labs", "crf.LabResult", SECTIONS)
