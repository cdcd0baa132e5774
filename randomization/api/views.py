"""REST endpoints: randomize (blinded answer), allocation (arm only if may_see_arm), pharmacy."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from randomization import selectors, services
from trials import selectors as trial_selectors
from trials.api.errors import validation_error_detail
from trials.api.pagination import RandomizationNumberCursorPagination
from trials.idempotency import api_once

from .. import blinding
from .permissions import EntersData, IsPharmacist


class BlindedAllocationOutput(serializers.Serializer):
    patient_id = serializers.IntegerField()
    randomization_number = serializers.CharField()
    randomized_at = serializers.DateTimeField()
    stratum = serializers.CharField()
    randomized_by = serializers.CharField()


class PatientRandomizeApi(APIView):
    permission_classes = [IsAuthenticated, EntersData]

    class InputSerializer(serializers.Serializer):
        confirm_eligibility = serializers.BooleanField()

    @extend_schema(
        request=InputSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="A retry with the same key replays the first 201.",
            )
        ],
        responses={201: BlindedAllocationOutput, 400: dict, 422: dict},
    )
    def post(self, request, patient_pk: int):
        patient = trial_selectors.patient_get(user=request.user, pk=patient_pk, for_entry=True)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)

        def randomize() -> Response:
            try:
                services.patient_randomize(
                    user=request.user,
                    patient=patient,
                    confirm_eligibility=data.validated_data["confirm_eligibility"],
                )
            except ValidationError as exc:
                return Response(validation_error_detail(exc), status=status.HTTP_400_BAD_REQUEST)
            except PermissionDenied:
                raise Http404("No such patient.") from None
            allocation = selectors.allocation_get_blinded(user=request.user, patient=patient)
            return Response(
                BlindedAllocationOutput(allocation).data, status=status.HTTP_201_CREATED
            )

        # Idempotency-Key: a retry after a lost answer gets the same 201 back.
        return api_once(request, randomize)


class AllocationDetailApi(APIView):
    """The blinded allocation; an ``arm`` key is added only for users who may see it."""

    class UnblindedOutput(BlindedAllocationOutput):
        arm = serializers.CharField()
        arm_label = serializers.CharField()

    # The arm keys appear only for users who may see them (pharmacist, statistician, PI
    # after an emergency unblinding); the schema documents the blinded shape plus them.
    @extend_schema(responses=UnblindedOutput)
    def get(self, request, patient_pk: int):
        patient = trial_selectors.patient_get(user=request.user, pk=patient_pk)
        allocation = selectors.allocation_get_blinded(user=request.user, patient=patient)
        if allocation is None:
            raise Http404("The patient is not randomized.")
        if blinding.may_see_arm(request.user, patient):
            unblinded = selectors.allocation_get_unblinded(
                user=request.user, patient=patient, purpose="API allocation"
            )
            return Response(self.UnblindedOutput(unblinded).data)
        return Response(BlindedAllocationOutput(allocation).data)


class PharmacyListApi(APIView):
    permission_classes = [IsAuthenticated, IsPharmacist]

    class OutputSerializer(serializers.Serializer):
        patient_id = serializers.IntegerField(source="patient.pk")
        subject_id = serializers.CharField(source="patient.subject_id")
        site = serializers.CharField(source="patient.site.code")
        randomization_number = serializers.CharField(source="allocation.randomization_number")
        arm = serializers.CharField(source="allocation.arm")
        arm_label = serializers.CharField(source="allocation.arm_label")
        next_dose_number = serializers.IntegerField(allow_null=True)
        next_dose_target_date = serializers.DateField(
            source="next_dose.target_date", allow_null=True, default=None
        )
        weight_kg = serializers.DecimalField(
            source="weight.weight_kg",
            max_digits=6,
            decimal_places=1,
            allow_null=True,
            default=None,
        )
        dose_to_prepare = serializers.CharField(source="dose_text")
        doses_prepared = serializers.SerializerMethodField()
        course_state = serializers.CharField(source="course.state")
        doses_given_without_preparation = serializers.ListField(
            source="unprepared_given", child=serializers.IntegerField()
        )

        def get_doses_prepared(self, row) -> list[int]:
            return [p.dose_number for p in row.preparations]

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request):
        paginator = RandomizationNumberCursorPagination()  # keyset: flat at any depth (#16)
        patients = paginator.paginate_queryset(
            selectors.pharmacy_patient_list(user=request.user), request, view=self
        )
        rows = selectors.pharmacy_worklist(user=request.user, patients=patients)
        return paginator.get_paginated_response(self.OutputSerializer(rows, many=True).data)
