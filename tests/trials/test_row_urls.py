"""``{% row_url %}`` (trials/templatetags/rows.py) writes what ``reverse`` writes, and goes
through ``reverse`` whenever its shortcut could differ (#16)."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.urls import NoReverseMatch, reverse, set_script_prefix

from trials.templatetags.rows import _route, row_url

ROUTES = [
    ("crf:crf-edit", {"visit_pk": 1, "form_code": "labs"}),
    ("crf:crf-edit", {"visit_pk": 98765, "form_code": "con_med"}),
    ("crf:patient-timeline", {"patient_pk": 0}),
    ("crf:patient-timeline", {"patient_pk": 123456789012}),
    ("crf:record-list", {"patient_pk": 7, "form_code": "infection"}),
    ("trials:patient-detail", {"pk": 42}),
]


@pytest.mark.parametrize(("name", "kwargs"), ROUTES)
def test_the_same_text_as_reverse(name, kwargs):
    assert row_url(name, **kwargs) == reverse(name, kwargs=kwargs)
    assert row_url(name, **kwargs) == reverse(name, kwargs=kwargs)  # cached route


def test_the_tag_writes_the_same_url_as_the_url_tag():
    context = Context({"v": 12, "code": "vitals"})
    ours = Template("{% load rows %}{% row_url 'crf:crf-edit' visit_pk=v form_code=code %}")
    django = Template("{% url 'crf:crf-edit' visit_pk=v form_code=code %}")
    assert ours.render(context) == django.render(context) == "/crf/visits/12/forms/vitals/"


def test_the_script_prefix_is_part_of_the_cached_route():
    before = row_url("crf:patient-timeline", patient_pk=5)
    set_script_prefix("/edc/")
    try:
        assert row_url("crf:patient-timeline", patient_pk=5) == "/edc" + before
        assert row_url("crf:patient-timeline", patient_pk=5) == reverse(
            "crf:patient-timeline", kwargs={"patient_pk": 5}
        )
    finally:
        set_script_prefix("/")
    assert row_url("crf:patient-timeline", patient_pk=5) == before


@pytest.mark.parametrize(
    "kwargs",
    [
        {"visit_pk": -1, "form_code": "labs"},  # the int converter has no sign
        {"visit_pk": 1, "form_code": "a/b"},  # not a slug
        {"visit_pk": True, "form_code": "labs"},  # a flag is not a key
        {"visit_pk": 1},  # a key missing
    ],
)
def test_what_reverse_refuses_is_refused_the_same_way(kwargs):
    with pytest.raises(NoReverseMatch):
        reverse("crf:crf-edit", kwargs=kwargs)
    with pytest.raises(NoReverseMatch):
        row_url("crf:crf-edit", **kwargs)


def test_a_route_its_markers_do_not_fit_is_reversed_each_time():
    # A text key where the route takes an integer: no shortcut, reverse decides.
    assert _route("crf:patient-timeline", (("patient_pk", str),), "/", None) is None
    assert row_url("crf:patient-timeline", patient_pk="12") == reverse(
        "crf:patient-timeline", kwargs={"patient_pk": "12"}
    )
