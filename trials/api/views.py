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
from trials.dictionary import TYPED_SCORE_INPUTS
from trials.filters import PatientFilter
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
    """Patients the user may see; filters (``q``, ``site``, ``status``, ``created_since``) are
    the pages' FilterSet, and an invalid value is a 400 naming the parameter."""

    serializer_class = PatientOutputSerializer
    filterset_class = PatientFilter

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
