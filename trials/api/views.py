"""REST endpoints for patients (blinded: no allocation data)."""

from rest_framework import serializers
from rest_framework.generics import ListAPIView, RetrieveAPIView

from trials import selectors
from trials.models import Patient


class PatientOutputSerializer(serializers.ModelSerializer):
    site = serializers.CharField(source="site.code")

    class Meta:
        model = Patient
        fields = [
            "id",
            "screening_number",
            "subject_id",
            "site",
            "sex",
            "status",
            "consent_datetime",
            "consent_version",
            "screen_failure_reasons",
        ]


class PatientListApi(ListAPIView):
    serializer_class = PatientOutputSerializer

    def get_queryset(self):
        return selectors.patient_list(
            user=self.request.user,
            q=self.request.query_params.get("q", ""),
            status=self.request.query_params.get("status", ""),
        )


class PatientDetailApi(RetrieveAPIView):
    serializer_class = PatientOutputSerializer

    def get_object(self):
        return selectors.patient_get(user=self.request.user, pk=self.kwargs["pk"])
