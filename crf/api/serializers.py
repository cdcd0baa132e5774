"""Input/output shapes of the crf API, built from the eCRF registry (no arm data anywhere)."""

from __future__ import annotations

from functools import cache

from django.utils.functional import lazy
from django.utils.translation import gettext
from rest_framework import serializers

from ..models import Visit
from ..registry import FormSpec

CONTROL_FIELDS = ("complete", "reason_for_change", "confirm_out_of_range", "lock_version")


class VisitOutputSerializer(serializers.ModelSerializer):
    code = serializers.CharField(source="definition.code")
    name = serializers.CharField(source="definition.name")
    kind = serializers.CharField(source="definition.kind")
    dose_number = serializers.IntegerField(source="definition.dose_number", allow_null=True)
    forms = serializers.SerializerMethodField()

    class Meta:
        model = Visit
        fields = [
            "id",
            "patient",
            "code",
            "name",
            "kind",
            "dose_number",
            "target_date",
            "window_start",
            "window_end",
            "status",
            "status_reason",
            "actual_date",
            "forms",
        ]

    def get_forms(self, visit) -> dict[str, str]:
        return self.context.get("forms", {}).get(visit.pk, {})


def item_description(form, item, name: str) -> str:
    """The OpenAPI description of one input field, from the data dictionary."""
    if name == item.unit_field:
        return f"Unit of {item.input_name}: one of {', '.join(item.units)}."
    parts = [form.label(item)]
    unit = item.unit or (item.limits.unit if item.limits else "")
    if item.units:
        parts.append(
            f"Unit: given in {item.unit_field} (one of {', '.join(item.units)}), "
            f"stored in {item.unit}."
        )
    elif unit:
        parts.append(f"Unit: {unit}.")
    limits = item.limits
    if limits is not None:
        hard = [f"≥ {limits.hard_min}" if limits.hard_min is not None else ""]
        hard[0] = hard[0].replace("≥", ">") if limits.min_exclusive else hard[0]
        hard.append(f"≤ {limits.hard_max}" if limits.hard_max is not None else "")
        soft = [f"≥ {limits.soft_min}" if limits.soft_min is not None else ""]
        soft.append(f"≤ {limits.soft_max}" if limits.soft_max is not None else "")
        if any(hard):
            parts.append(f"Hard limits {' and '.join(h for h in hard if h)} {unit}.".strip())
        if any(soft):
            parts.append(
                f"Expected {' and '.join(x for x in soft if x)} {unit} "
                "(outside: confirm_out_of_range).".strip()
            )
    choices = form.choices(item)
    if choices:
        parts.append("Codes: " + "; ".join(f"{v}={t}" for v, t in choices if v != "") + ".")
    if item.required:
        parts.append(gettext("Required to complete the form."))
    if item.shown_if is not None:
        parts.append(
            gettext("Only when %(condition)s (else leave empty).")
            % {"condition": item.shown_if.text}
        )
    if item.help:
        parts.append(item.help)
    return " ".join(str(p) for p in parts)


# Built once per form, rendered in the language of each schema request (issue 17).
item_description_lazy = lazy(item_description, str)


@cache
def crf_input_serializer(spec: FormSpec) -> type[serializers.ModelSerializer]:
    """PUT body of one form: its editable fields plus the control fields; all optional.

    Fields, descriptions (label, unit, limits, codes, required, skip condition) come from
    the form's data dictionary.
    """
    form = spec.dictionary
    form_fields = list(form.form_fields)
    extra = {
        name: {"required": False, "help_text": item_description_lazy(form, form.item(name), name)}
        for name in form_fields
    }
    # Multiple choices (a list of codes) are checked code by code, in the order given.
    multiple = {
        item.input_name: serializers.ListField(
            child=serializers.ChoiceField(choices=form.choices(item)),
            required=False,
            help_text=item_description_lazy(form, item, item.input_name),
        )
        for item in form.items
        if form.type(item) == "multiple" and not item.derived
    }
    meta = type(
        "Meta",
        (),
        {"model": spec.model, "fields": [*form_fields, *CONTROL_FIELDS], "extra_kwargs": extra},
    )
    InputSerializer = type(
        "InputSerializer",
        (serializers.ModelSerializer,),
        {
            **multiple,
            "complete": serializers.BooleanField(default=False),
            "reason_for_change": serializers.CharField(
                required=False, allow_blank=True, default=""
            ),
            "confirm_out_of_range": serializers.BooleanField(default=False),
            "lock_version": serializers.IntegerField(
                required=False,
                min_value=0,
                max_value=2**31 - 1,
                help_text="Version read (or send If-Match); required to change an existing form.",
            ),
            "Meta": meta,
            "__module__": __name__,
        },
    )
    InputSerializer.__name__ = f"{spec.model.__name__}InputSerializer"
    return InputSerializer


@cache
def crf_output_serializer(spec: FormSpec) -> type[serializers.ModelSerializer]:
    class OutputSerializer(serializers.ModelSerializer):
        form_code = serializers.SerializerMethodField()

        class Meta:
            model = spec.model
            exclude = ["updated_by"]

        def get_form_code(self, obj) -> str:
            return spec.code

    OutputSerializer.__name__ = f"{spec.model.__name__}OutputSerializer"
    return OutputSerializer
