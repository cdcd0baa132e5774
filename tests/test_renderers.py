"""The Python widget renderer writes exactly what Django's widget templates write (#16)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates, get_default_renderer
from django.utils import translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from crf.registry import FORMS
from liveradvance.renderers import FAST, FastWidgetRenderer

TEMPLATES = DjangoTemplates()
FAST_RENDERER = FastWidgetRenderer()


def _drawn(form_class, data, renderer, **kwargs) -> list[str]:
    """Every widget of the form as the page draws it: whole, and choice by choice."""
    form = form_class(data, renderer=renderer, **kwargs)
    if data is not None:
        form.is_valid()  # errors add "is-invalid" to the widgets' classes
    out = []
    for field in form:
        out.append(str(field))
        if isinstance(field.field.widget, forms.RadioSelect | forms.CheckboxSelectMultiple):
            out += [str(choice.tag()) for choice in field] + [str(choice) for choice in field]
    return out


def test_the_project_renders_forms_with_the_python_widgets():
    assert isinstance(get_default_renderer(), FastWidgetRenderer)
    assert set(FAST_RENDERER._fast) == set(FAST)  # Django's own templates, none overridden


@pytest.mark.parametrize("language", ["en-gb", "es"])
@pytest.mark.parametrize("code", sorted(FORMS))
def test_every_ecrf_widget_is_the_same_html_as_djangos_templates(code, language):
    form_class = FORMS[code].form_class
    hostile = "<b>\"x\" & 'y'</b>"
    typed = {name: hostile for name in form_class.base_fields}
    typed.update({name: "12.5" for name in list(form_class.base_fields)[::3]})
    with translation.override(language):
        for data in (None, {}, typed):
            fast = _drawn(form_class, data, FAST_RENDERER)
            assert fast == _drawn(form_class, data, TEMPLATES)
        assert _drawn(form_class, None, FAST_RENDERER, read_only=True) == _drawn(
            form_class, None, TEMPLATES, read_only=True
        )


class Everything(forms.Form):
    text = forms.CharField(widget=forms.TextInput(attrs={"flag": True, "off": False}))
    number = forms.DecimalField(initial=Decimal("1234.5"), localize=True)
    integer = forms.IntegerField(initial=12345)
    day = forms.DateField(initial=dt.date(2026, 11, 26))
    moment = forms.DateTimeField(initial=dt.datetime(2026, 11, 26, 14, 5, tzinfo=dt.UTC))
    time = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}))
    email = forms.EmailField(initial="a&b@example.org")
    hidden = forms.CharField(widget=forms.HiddenInput, initial=mark_safe("<safe>"))
    secret = forms.CharField(widget=forms.PasswordInput(render_value=True), initial='p"w')
    tick = forms.BooleanField(initial=True)
    note = forms.CharField(widget=forms.Textarea, initial="line <1>\nline 2")
    empty_note = forms.CharField(widget=forms.Textarea)
    pick = forms.ChoiceField(
        choices=[("", "---"), ("a", gettext_lazy("Yes")), (1, 1), ("b&", "<b>")], initial="b&"
    )
    grouped = forms.ChoiceField(
        choices=[("Group <1>", [("x", "X"), ("y", "Y")]), ("z", "Z")], initial="y"
    )
    many = forms.MultipleChoiceField(
        choices=[("a", "A"), ("b", "B")], initial=["b"], widget=forms.SelectMultiple
    )
    radio = forms.ChoiceField(
        choices=[("1", gettext_lazy("No")), ("2", "<two>")],
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        initial="2",
    )
    boxes = forms.MultipleChoiceField(
        choices=[("a", "A"), ("b", "B")], widget=forms.CheckboxSelectMultiple, initial=["a"]
    )
    nullable = forms.NullBooleanField()
    file = forms.FileField(required=False)


@pytest.mark.parametrize("language", ["en-gb", "es"])
def test_djangos_stock_widgets_are_the_same_html(language, settings):
    settings.USE_THOUSAND_SEPARATOR = True
    with translation.override(language):
        for data in (None, {"text": "<x>", "pick": "1", "boxes": ["a", "b"], "tick": "on"}):
            assert _drawn(Everything, data, FAST_RENDERER) == _drawn(Everything, data, TEMPLATES)
