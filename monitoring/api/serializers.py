from rest_framework import serializers

from ..models import DataQuery


class QueryOutputSerializer(serializers.ModelSerializer):
    patient = serializers.CharField(source="patient.__str__", read_only=True)
    raised_by = serializers.CharField(source="raised_by.get_username", default=None)
    answered_by = serializers.CharField(source="answered_by.get_username", default=None)
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = DataQuery
        fields = [
            "id",
            "patient",
            "visit",
            "form_code",
            "record_id",
            "field",
            "text",
            "status",
            "automatic",
            "raised_by",
            "raised_at",
            "due_date",
            "overdue",
            "answer",
            "answered_by",
            "answered_at",
            "closed_at",
        ]

    def get_overdue(self, obj: DataQuery) -> bool:
        from ..selectors import is_overdue

        return is_overdue(obj)


class QueryRaiseInputSerializer(serializers.Serializer):
    form_code = serializers.CharField(max_length=30)
    record_id = serializers.IntegerField(min_value=1, max_value=2**62)
    field = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    text = serializers.CharField(max_length=2000)


class QueryActionInputSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["answer", "close", "reopen"])
    answer = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
