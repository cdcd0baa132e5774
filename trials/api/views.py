"""REST endpoints for patients and the score calculator (blinded: no allocation data)."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

import scoring
from trials import selectors
from trials.api.pagination import ScreeningNumberCursorPagination
from trials.dictionary import TYPED_SCORE_INPUTS
from trials.filters import PatientFilter
from trials.models import Patient, ScoreRecord, Site, Trial


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
    """Patients the user may see, in screening-number order, 50 a page with ``next`` and
    ``previous`` cursor links; filters (``q``, ``site``, ``status``, ``created_since``) are
    the pages' FilterSet, and an invalid value is a 400 naming the parameter."""

    serializer_class = PatientOutputSerializer
    filterset_class = PatientFilter
    pagination_class = ScreeningNumberCursorPagination  # flat at any depth (#16)

    def get_queryset(self):
        return selectors.patient_list(user=self.request.user)


class PatientDetailApi(RetrieveAPIView):
    serializer_class = PatientOutputSerializer

    def get_object(self):
        return selectors.patient_get(user=self.request.user, pk=self.kwargs["pk"])


class ScoreCalculateApi(APIView):
    """POST scoring inputs (conventional units, keys of ``scoring.INPUT_KEYS``); nothing stored.

    ``units`` may give the unit of bilirubin, creatinine or albumin values
    (e.g. ``{"bilirubin": "µmol/L"}``); they are converted before scoring.
    """

    class InputSerializer(serializers.Serializer):
        units = serializers.DictField(child=serializers.CharField(), required=False)

    @extend_schema(request=dict, responses={200: dict, 400: dict})
    def post(self, request, *args, **kwargs):
        if not isinstance(request.data, dict):
            return Response(
                {"non_field_errors": ["Send a JSON object."]}, status=status.HTTP_400_BAD_REQUEST
            )
        payload = dict(request.data)
        serializer = self.InputSerializer(data={"units": payload.pop("units", {})})
        serializer.is_valid(raise_exception=True)
        errors: dict[str, list[str]] = {}
        # analyte -> its item in the one map of the score inputs (trials.dictionary)
        typed = {item.entered.removesuffix("_entered"): item for item in TYPED_SCORE_INPUTS}
        for analyte, unit in serializer.validated_data.get("units", {}).items():
            item = typed.get(analyte)
            if item is None:
                errors[f"units.{analyte}"] = ["Only bilirubin, creatinine and albumin."]
            elif payload.get(item.name) is not None:
                try:
                    value = item.to_canonical(Decimal(str(payload[item.name])), unit)
                    payload[item.name] = float(value)
                except (TypeError, ValueError, ArithmeticError) as exc:
                    errors[item.name] = [str(exc)]
        errors.update({key: [msg] for key, msg in scoring.validate_inputs(payload).items()})
        if errors:
            return Response(errors, status=status.HTTP_400_BAD_REQUEST)
        try:
            return Response(scoring.calculate(payload))
        except (ValueError, ValidationError) as exc:  # defensive: engine refused an input
            return Response({"non_field_errors": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)


# --- issue 15: trials, sites and stored scores (read-only, scoped like the pages) -----------


class TrialOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Trial
        fields = ["id", "code", "title", "registry_ids", "target_size"]  # never the arm codes


class TrialListApi(ListAPIView):
    """The trials of the user's sites."""

    serializer_class = TrialOutputSerializer

    def get_queryset(self):
        return selectors.trial_list(user=self.request.user)


class SiteOutputSerializer(serializers.ModelSerializer):
    trial = serializers.CharField(source="trial.code")

    class Meta:
        model = Site
        fields = ["id", "code", "name", "trial"]


class SiteListApi(ListAPIView):
    """The sites the user may see (all of them for trial-wide roles)."""

    serializer_class = SiteOutputSerializer

    def get_queryset(self):
        return selectors.site_list(user=self.request.user)


class ScoreRecordOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScoreRecord
        fields = [
            "id",
            "label",
            "assessed_on",
            # The engine's scores, stored as columns (organ failures are part of the grade).
            *(key for key in scoring.SCORE_KEYS if key != "organ_failures"),
            "inputs",
            "missing",
            "algorithm_version",
            "computed_at",
        ]


class PatientScoreListApi(ListAPIView):
    """A patient's stored scores in time order (the trajectory)."""

    serializer_class = ScoreRecordOutputSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular reading the shape
            return ScoreRecord.objects.none()
        patient = selectors.patient_get(user=self.request.user, pk=self.kwargs["patient_pk"])
        return selectors.score_record_list(user=self.request.user, patient=patient)
