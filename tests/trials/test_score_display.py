"""The score explanation rows of the patient page, shaped by the ``scores`` filters (#16)."""

from __future__ import annotations

from decimal import Decimal

from django.template import Context, Template
from django.utils import translation

from trials.templatetags.scores import input_rows, organ_rows

INPUTS = {
    "bilirubin_mg_dl": {
        "value": Decimal("2.5"),
        "unit": "mg/dL",
        "entered": Decimal("42.8"),
        "entered_unit": "µmol/L",
    },
    "creatinine_mg_dl": {
        "value": Decimal("1.1"),
        "unit": "mg/dL",
        "entered": Decimal("1.1"),
        "entered_unit": "mg/dL",
    },
    "inr": {"value": None, "unit": ""},
}


def test_input_rows_skip_missing_values_and_say_what_was_typed_in_another_unit():
    rows = input_rows(INPUTS)
    assert [(value, unit, entered) for _label, value, unit, entered in rows] == [
        (Decimal("2.5"), "mg/dL", "entered 42.8 µmol/L"),
        (Decimal("1.1"), "mg/dL", None),
    ]
    assert rows[0][0] != "bilirubin_mg_dl"  # the label of the field the user fills


def test_input_rows_localize_what_was_typed():
    with translation.override("es"):
        assert input_rows(INPUTS)[0][3] == "introducido 42,8 µmol/L"


def test_organ_rows_pair_each_organ_with_its_clif_c_of_points_and_basis():
    details = {
        "clif_sofa": {"subscores": {"liver": 2, "kidney": None}, "basis": {"liver": "bili"}},
        "clif_c_of": {"subscores": {"liver": 1}},
    }
    assert organ_rows(details) == [
        ("liver", 2, True, 1, "bili"),
        ("kidney", None, False, None, ""),
    ]
    assert organ_rows({}) == []


def test_the_page_escapes_the_entered_note():
    html = Template(
        "{% load scores %}{% for l, v, u, e in inputs|input_rows %}{{ e }}{% endfor %}"
    ).render(
        Context(
            {"inputs": {"x": {"value": 1, "unit": "a", "entered": "<b>", "entered_unit": "b&"}}}
        )
    )
    assert html == "entered &lt;b&gt; b&amp;"
