"""Input/output shapes of the exports API (no arm anywhere: the feed carries pointers only)."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from ..dictionary import datasets
from ..models import ChangeEvent, ExportJob
from ..selectors import ExportFilter


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


class ExportQuerySerializer(serializers.Serializer):
    """Filters shared by every export: sites, a date range and the unblinded switch."""

    site = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, help_text="Site ids."
    )
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    unblinded = serializers.BooleanField(
        default=False, help_text="Add the allocation (unblinded statistician only)."
    )

    def validate(self, attrs):
        if (
            attrs.get("date_from")
            and attrs.get("date_to")
            and attrs["date_from"] > attrs["date_to"]
        ):
            raise serializers.ValidationError({"date_to": "Must not be before date_from."})
        return attrs

    def to_filter(self) -> ExportFilter:
        data = self.validated_data
        return ExportFilter(
            sites=tuple(data.get("site") or ()),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )


class DictionaryQuerySerializer(serializers.Serializer):
    unblinded = serializers.BooleanField(
        default=False, help_text="List the allocation columns (unblinded statistician only)."
    )


class OdmQuerySerializer(ExportQuerySerializer):
    forms = serializers.MultipleChoiceField(
        choices=[], required=False, help_text="Datasets to include (default: all)."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["forms"].choices = list(datasets())


class ExportJobInputSerializer(ExportQuerySerializer):
    format = serializers.ChoiceField(choices=["csv", "json", "odm"])
    forms = serializers.MultipleChoiceField(choices=[], required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["forms"].choices = list(datasets())


class ExportJobSerializer(serializers.ModelSerializer):
    download = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "requested_at",
            "params",
            "status",
            "progress",
            "filename",
            "error",
            "finished_at",
            "download",
        ]

    def get_download(self, job) -> str | None:
        if job.status != ExportJob.Status.DONE:
            return None
        return reverse("exports-api:job-download", kwargs={"job_pk": job.pk})


class DatasetIndexSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    csv = serializers.CharField()
    json = serializers.CharField()
