"""The score explanation rows of the patient page, shaped by the ``scores`` filters (#16)."""

from __future__ import annotations

from decimal import Decimal

from django.template import Context, Template
from django.utils import translation

from trials.templatetags.scores import input_items, organ_rows

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


def test_input_items_skip_missing_values_and_say_what_was_typed_in_another_unit():
    html = input_items(INPUTS)
    assert html.count("<li>") == 2  # INR has no value
    assert '2.5 <span class="unit">mg/dL</span> (entered 42.8 µmol/L)</li>' in html
    assert '1.1 <span class="unit">mg/dL</span></li>' in html  # typed in the canonical unit
    assert "bilirubin_mg_dl" not in html  # the label of the field the user fills


def test_input_items_localize_values_and_what_was_typed():
    with translation.override("es"):
        html = input_items(INPUTS)
    assert '2,5 <span class="unit">mg/dL</span> (introducido 42,8 µmol/L)</li>' in html


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


def test_input_items_escape_every_value():
    html = Template("{% load scores %}{{ inputs|input_items }}").render(
        Context(
            {
                "inputs": {
                    "x<": {"value": "<v>", "unit": "u&", "entered": "<b>", "entered_unit": "b&"}
                }
            }
        )
    )
    assert html == (
        '<li>x&lt;: &lt;v&gt; <span class="unit">u&amp;</span> (entered &lt;b&gt; b&amp;)</li>'
    )
