"""Input/output shapes of the crf API, built from the eCRF registry (no arm data anywhere)."""

from __future__ import annotations

from functools import cache

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


@cache
def crf_input_serializer(spec: FormSpec) -> type[serializers.ModelSerializer]:
    """PUT body of one form: its editable fields plus the control fields; all optional."""
    form_fields = list(spec.form_class._meta.fields)

    class InputSerializer(serializers.ModelSerializer):
        complete = serializers.BooleanField(default=False)
        reason_for_change = serializers.CharField(required=False, allow_blank=True, default="")
        confirm_out_of_range = serializers.BooleanField(default=False)
        lock_version = serializers.IntegerField(
            required=False,
            min_value=0,
            max_value=2**31 - 1,
            help_text="Version read (or send If-Match); required to change an existing form.",
        )

        class Meta:
            model = spec.model
            fields = [*form_fields, *CONTROL_FIELDS]
            extra_kwargs = {name: {"required": False} for name in form_fields}

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
