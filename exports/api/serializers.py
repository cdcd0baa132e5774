"""Input/output shapes of the exports API (no arm anywhere: the feed carries pointers only)."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from ..dictionary import datasets
from ..models import ChangeEvent, ExportJob
from ..selectors import ExportFilter


def _date_range_check(attrs: dict) -> None:
    """``date_to`` may not come before ``date_from`` (exports and audit events alike)."""
    if attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] > attrs["date_to"]:
        raise serializers.ValidationError({"date_to": "Must not be before date_from."})


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
        _date_range_check(attrs)
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


# --- audit events (the field-level audit trail) --------------------------------------------


class AuditEventQuerySerializer(serializers.Serializer):
    """Narrow the audit trail (as the audit-log page's filter form). Not a FilterSet: the trail
    merges every audited model's history table, each filtered by ``trials.history``."""

    user = serializers.CharField(required=False, max_length=150, help_text="Author's login.")
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    form = serializers.ChoiceField(
        choices=[], required=False, help_text="An audited model, e.g. crf.vitalsigns."
    )
    field = serializers.CharField(required=False, max_length=60, help_text="One field's changes.")
    record = serializers.IntegerField(
        required=False, min_value=1, max_value=2**62, help_text="One record of ``form``."
    )
    visit = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    page = serializers.IntegerField(required=False, min_value=1, max_value=10**6, default=1)

    def __init__(self, *args, **kwargs):
        from trials.history import sources, sources_for

        super().__init__(*args, **kwargs)
        # A request narrows the choices to the trails its user may read (the schema lists all).
        request = self.context.get("request")
        readable = (
            sources_for(user=request.user, patient=self.context.get("patient"))
            if request is not None
            else sources()
        )
        self.fields["form"].choices = sorted(s.key for s in readable)

    def validate(self, attrs):
        _date_range_check(attrs)
        if attrs.get("record") and not attrs.get("form"):
            raise serializers.ValidationError({"record": "Give the form of the record too."})
        return attrs

    def to_filters(self):
        from trials.history import Filters

        data = self.validated_data
        return Filters(
            username=data.get("user", "").strip(),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            form=data.get("form", ""),
            field=data.get("field", ""),
            record=data.get("record"),
            visit=data.get("visit"),
        )


class AuditChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    label = serializers.CharField()
    old = serializers.CharField(help_text="As shown in the audit trail; ∅ for empty.")
    new = serializers.CharField()


class AuditEventSerializer(serializers.Serializer):
    when = serializers.DateTimeField(help_text="Only the date is meaningful when date_only.")
    date_only = serializers.BooleanField()
    user = serializers.CharField(help_text="Author (full name and login), or 'system'.")
    role = serializers.CharField()
    model = serializers.CharField()
    source = serializers.CharField(source="source_key", help_text="app_label.model")
    object_id = serializers.IntegerField()
    history_id = serializers.IntegerField()
    record = serializers.CharField(source="object_label")
    action = serializers.CharField(help_text="created, changed, deleted or entered in error")
    reason = serializers.CharField()
    patient = serializers.IntegerField(source="patient_id", allow_null=True)
    changes = AuditChangeSerializer(many=True)


class AuditEventPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    results = AuditEventSerializer(many=True)
