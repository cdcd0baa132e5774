"""Input/output shapes of the exports API (no arm anywhere: the feed carries pointers only)."""

from __future__ import annotations

from rest_framework import serializers

from ..models import ChangeEvent
from ..selectors import FEED_MAX_LIMIT


class ChangeFeedQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(
        min_value=0, default=0, help_text="Last event id the client has (0 = from the start)."
    )
    limit = serializers.IntegerField(min_value=1, max_value=FEED_MAX_LIMIT, default=500)
    changed_since = serializers.DateTimeField(
        required=False, help_text="Only events at or after this time (ISO 8601)."
    )
    kind = serializers.MultipleChoiceField(
        choices=ChangeEvent.Kind.choices, required=False, help_text="Repeat to combine."
    )
    patient = serializers.IntegerField(min_value=1, required=False)


class ChangeEventSerializer(serializers.ModelSerializer):
    id = serializers.IntegerField(source="seq", help_text="Monotonic event id (the cursor).")
    subject = serializers.SerializerMethodField()
    site = serializers.CharField(source="site.code", allow_null=True, default=None)
    user = serializers.CharField(source="user.username", allow_null=True, default=None)
    change = serializers.ChoiceField(choices=["created", "changed", "deleted"])

    class Meta:
        model = ChangeEvent
        fields = [
            "id",
            "at",
            "kind",
            "model",
            "object_id",
            "history_id",
            "change",
            "patient",
            "subject",
            "site",
            "form_code",
            "status",
            "user",
        ]

    def get_subject(self, event) -> str | None:
        patient = event.patient
        return (patient.subject_id or patient.screening_number) if patient else None

    def to_representation(self, event):
        data = super().to_representation(event)
        data["change"] = ChangeEvent.Change(event.change).label
        return data


class ChangeFeedPageSerializer(serializers.Serializer):
    results = ChangeEventSerializer(many=True)
    next_after = serializers.IntegerField(help_text="Pass as ?after= for the next page.")
    has_more = serializers.BooleanField()
