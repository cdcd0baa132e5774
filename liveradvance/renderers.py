"""A form renderer that writes the plain input widgets in Python (#16).

An eCRF page draws ~70 widgets; through Django's widget templates each one is three nested
template renders (``text.html`` → ``input.html`` → ``attrs.html``), which was most of the
lab form's page time. The templates rendered here are the small fixed ones of Django's
``django/forms/widgets/`` (inputs, radio/checkbox options, select, textarea), producing the same
HTML byte for byte (``tests/test_renderers.py`` compares every eCRF widget with Django's
templates); any other template, or a project override of one of these, goes to the
templates as before.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django import forms
from django.forms.renderers import DjangoTemplates
from django.template.base import render_value_in_context
from django.utils.functional import cached_property
from django.utils.html import conditional_escape


class _Plain:
    """The template context's switches that ``{{ value }}`` obeys: escape, localize."""

    autoescape = True
    use_l10n = None
    use_tz = None


_CONTEXT = _Plain()


def _show(value: Any) -> str:
    """``{{ value }}`` as a template prints it (localized, escaped)."""
    return render_value_in_context(value, _CONTEXT)


def _formatted(value: Any) -> str:
    """``{{ value|stringformat:'s' }}``: ``"%s" % value``, escaped unless already safe."""
    if isinstance(value, tuple):
        value = str(value)
    text = "%s" % value  # noqa: UP031 - exactly the filter's formatting
    return conditional_escape(value) if hasattr(value, "__html__") else conditional_escape(text)


def _attrs(attrs: dict) -> str:
    """``django/forms/widgets/attrs.html``."""
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        out.append(f" {_show(name)}" if value is True else f' {_show(name)}="{_formatted(value)}"')
    return "".join(out)


def _input(widget: dict) -> str:
    """``django/forms/widgets/input.html``."""
    value = widget["value"]
    shown = f' value="{_formatted(value)}"' if value is not None else ""
    return (
        f'<input type="{_show(widget["type"])}" name="{_show(widget["name"])}"'
        f"{shown}{_attrs(widget['attrs'])}>"
    )


def _input_option(widget: dict) -> str:
    """``django/forms/widgets/input_option.html`` (a radio or checkbox choice)."""
    if not widget.get("wrap_label"):
        return _input(widget)
    target = widget["attrs"].get("id")
    label_for = f' for="{_show(target)}"' if target else ""
    # The included input.html ends with a newline, kept inside the label.
    return f"<label{label_for}>{_input(widget)}\n {_show(widget['label'])}</label>"


def _select_option(widget: dict) -> str:
    """``django/forms/widgets/select_option.html``."""
    return (
        f'<option value="{_formatted(widget["value"])}"{_attrs(widget["attrs"])}>'
        f"{_show(widget['label'])}</option>"
    )


_OPTIONS = {"django/forms/widgets/select_option.html": _select_option}


def _select(widget: dict) -> str | None:
    """``django/forms/widgets/select.html``; None when an option has another template."""
    out = [f'<select name="{_show(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            out.append(f'\n  <optgroup label="{_show(group_name)}">')
        for option in group_choices:
            draw = _OPTIONS.get(option["template_name"])
            if draw is None:
                return None
            out.append(f"\n  {draw(option)}\n")
        if group_name:
            out.append("\n  </optgroup>")
    out.append("\n</select>")
    return "".join(out)


def _textarea(widget: dict) -> str:
    """``django/forms/widgets/textarea.html``."""
    value = _show(widget["value"]) if widget["value"] else ""
    start = f'<textarea name="{_show(widget["name"])}"{_attrs(widget["attrs"])}>'
    return f"{start}\n{value}</textarea>"


_WIDGETS = "django/forms/widgets/"
_INPUTS = (
    "checkbox color date datetime email hidden input number password search tel text time url"
)
FAST: dict[str, Callable[[dict], str | None]] = {
    **{f"{_WIDGETS}{name}.html": _input for name in _INPUTS.split()},
    **{
        f"{_WIDGETS}{name}.html": _input_option
        for name in ("input_option", "radio_option", "checkbox_option")
    },
    f"{_WIDGETS}select.html": _select,
    f"{_WIDGETS}select_option.html": _select_option,
    f"{_WIDGETS}textarea.html": _textarea,
}


class FastWidgetRenderer(DjangoTemplates):
    """Django's template renderer, with the plain widgets written in Python."""

    @cached_property
    def _fast(self) -> dict[str, Callable[[dict], str | None]]:
        """The Python widgets whose template is still Django's own (not overridden)."""
        own = Path(forms.__file__).parent / "templates"
        return {
            name: draw
            for name, draw in FAST.items()
            if Path(self.get_template(name).origin.name).is_relative_to(own)
        }

    def render(self, template_name: str, context: dict, request=None) -> str:
        draw = self._fast.get(template_name)
        if draw is not None and set(context) == {"widget"}:
            html = draw(context["widget"])
            if html is not None:
                return html
        return super().render(template_name, context, request=request)
