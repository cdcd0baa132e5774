"""REST endpoints of visits and eCRFs; one generic form endpoint serves the whole registry.

Rows are scoped by the crf selectors (other site -> 404); writes go through
``crf.services.crf_save``, so the API runs the same edit checks as the pages.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from trials.api.errors import validation_error_detail
from trials.concurrency import StaleEdit, VersionRequired, etag, parse_if_match
from trials.idempotency import api_once
from trials.selectors import patient_get

from .. import registry, selectors, services
from .serializers import (
    CONTROL_FIELDS,
    VisitOutputSerializer,
    crf_input_serializer,
    crf_output_serializer,
)


class ErrorOutput(serializers.Serializer):
    """A 4xx body: field name -> messages (``non_field_errors`` for the form as a whole)."""

    non_field_errors = serializers.ListField(child=serializers.CharField(), required=False)


class ConflictOutput(serializers.Serializer):
    """412: the version read is stale; what changed since, and the current record."""

    lock_version = serializers.ListField(child=serializers.CharField())
    current_version = serializers.IntegerField()
    changes = serializers.ListField(child=serializers.DictField())
    current = serializers.DictField()


def _forms_schema(name: str, specs, kind) -> PolymorphicProxySerializer:
    return PolymorphicProxySerializer(
        component_name=name,
        serializers=[kind(spec) for spec in specs],
        resource_type_field_name=None,
    )


VISIT_FORM_INPUT = _forms_schema(
    "CrfInput", list(registry.VISIT_FORMS.values()), crf_input_serializer
)
VISIT_FORM_OUTPUT = _forms_schema(
    "CrfOutput", list(registry.VISIT_FORMS.values()), crf_output_serializer
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description='ETag read (e.g. "v3"); required, or lock_version, to change an existing record.',
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="A retry with the same key replays the first answer instead of creating again.",
)
SAVE_RESPONSES = {400: ErrorOutput, 412: ConflictOutput, 428: ErrorOutput}


def _as_api_error(exc: ValidationError) -> serializers.ValidationError:
    """A service error as a DRF 400 with field names (never a 500 on bad input)."""
    if isinstance(exc, services.OutOfRangeWarning):
        detail = {name: list(msgs) for name, msgs in exc.warnings.items()}
        detail["confirm_out_of_range"] = [
            "Values outside the expected range: check them and resubmit with "
            "confirm_out_of_range=true."
        ]
        return serializers.ValidationError(detail)
    return serializers.ValidationError(validation_error_detail(exc))


def _with_etag(response: Response, instance) -> Response:
    response["ETag"] = etag(instance)
    return response


def _save(
    request,
    *,
    spec,
    visit=None,
    patient=None,
    pk=None,
    created_status=status.HTTP_200_OK,
    creates: bool = False,
):
    """Validate and save; an update must name the version read (If-Match or lock_version).

    Stale version -> 412 with the current version, the fields changed and the current record;
    no version for an existing record -> 428 (never a silent last-write-wins).
    """
    serializer = crf_input_serializer(spec)(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = {k: v for k, v in serializer.validated_data.items() if k not in CONTROL_FIELDS}
    try:
        expected = parse_if_match(request.headers.get("If-Match"))
    except ValidationError as exc:
        raise _as_api_error(exc) from exc
    if expected is None:
        expected = serializer.validated_data.get("lock_version")
    try:
        instance = services.crf_save(
            user=request.user,
            form_code=spec.code,
            data=data,
            complete=serializer.validated_data["complete"],
            reason=serializer.validated_data["reason_for_change"],
            confirm_out_of_range=serializer.validated_data["confirm_out_of_range"],
            visit=visit,
            patient=patient,
            pk=pk,
            expected_version=None if creates else expected,
            version_required=not creates,
        )
    except StaleEdit as exc:
        current = crf_output_serializer(spec)(exc.instance)
        fields = current.fields

        def shown(name: str, value):
            field = fields.get(name)
            return field.to_representation(value) if field and value is not None else value

        body = {
            **validation_error_detail(exc),
            "current_version": exc.current_version,
            "changes": [
                {
                    "field": c.name,
                    "seen": shown(c.name, c.seen_raw),
                    "current": shown(c.name, c.current_raw),
                }
                for c in exc.changes
            ],
            "current": current.data,
        }
        return _with_etag(Response(body, status=status.HTTP_412_PRECONDITION_FAILED), exc.instance)
    except VersionRequired as exc:
        body = {**validation_error_detail(exc), "current_version": exc.current_version}
        return Response(body, status=status.HTTP_428_PRECONDITION_REQUIRED)
    except services.OutOfRangeWarning as exc:
        raise _as_api_error(exc) from exc
    except ValidationError as exc:
        raise _as_api_error(exc) from exc
    return _with_etag(
        Response(crf_output_serializer(spec)(instance).data, status=created_status), instance
    )


class VisitListApi(APIView):
    """GET the visits of a patient with the status of each form."""

    @extend_schema(responses=VisitOutputSerializer(many=True))
    def get(self, request, patient_pk: int):
        patient = patient_get(user=request.user, pk=patient_pk)
        rows = selectors.patient_timeline(user=request.user, patient=patient)
        forms = {row.visit.pk: {f.code: f.status for f in row.forms} for row in rows}
        data = VisitOutputSerializer(
            [row.visit for row in rows], many=True, context={"forms": forms}
        ).data
        return Response(data)


class VisitDetailApi(APIView):
    @extend_schema(responses=VisitOutputSerializer)
    def get(self, request, visit_pk: int):
        visit = selectors.visit_get(user=request.user, pk=visit_pk)
        rows = selectors.patient_timeline(user=request.user, patient=visit.patient)
        forms = {row.visit.pk: {f.code: f.status for f in row.forms} for row in rows}
        return Response(VisitOutputSerializer(visit, context={"forms": forms}).data)


class CrfDetailApi(APIView):
    """GET / PUT one eCRF of a visit by form code (e.g. ``vitals``, ``labs``)."""

    def _target(self, request, visit_pk: int, form_code: str):
        visit = selectors.visit_get(user=request.user, pk=visit_pk)
        spec = registry.VISIT_FORMS.get(form_code)
        if spec is None or visit.definition.kind not in spec.visit_kinds:
            raise Http404("This form is not recorded at this visit.")
        return visit, spec

    @extend_schema(responses=VISIT_FORM_OUTPUT)
    def get(self, request, visit_pk: int, form_code: str):
        visit, spec = self._target(request, visit_pk, form_code)
        instance = selectors.crf_get(user=request.user, spec=spec, visit=visit)
        if instance is None:
            raise Http404("This form has not been entered yet.")
        return _with_etag(Response(crf_output_serializer(spec)(instance).data), instance)

    @extend_schema(
        request=VISIT_FORM_INPUT,
        parameters=[IF_MATCH],
        responses={200: VISIT_FORM_OUTPUT, **SAVE_RESPONSES},
    )
    def put(self, request, visit_pk: int, form_code: str):
        visit, spec = self._target(request, visit_pk, form_code)
        return _save(request, spec=spec, visit=visit)


class AdverseEventListApi(APIView):
    """GET the adverse events of a patient; POST a new one."""

    spec = registry.FORMS["adverse_event"]

    @extend_schema(responses=crf_output_serializer(registry.FORMS["adverse_event"])(many=True))
    def get(self, request, patient_pk: int):
        patient = patient_get(user=request.user, pk=patient_pk)
        events = selectors.adverse_event_list(user=request.user, patient=patient)
        return Response(crf_output_serializer(self.spec)(events, many=True).data)

    @extend_schema(
        request=crf_input_serializer(registry.FORMS["adverse_event"]),
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: crf_output_serializer(registry.FORMS["adverse_event"]),
            400: ErrorOutput,
            422: ErrorOutput,
        },
    )
    def post(self, request, patient_pk: int):
        patient = patient_get(user=request.user, pk=patient_pk)
        # Idempotency-Key: a retry after a timeout replays the 201, never a second AE.
        return api_once(
            request,
            lambda: _save(
                request,
                spec=self.spec,
                patient=patient,
                created_status=status.HTTP_201_CREATED,
                creates=True,
            ),
        )


class AdverseEventDetailApi(APIView):
    spec = registry.FORMS["adverse_event"]

    @extend_schema(responses=crf_output_serializer(registry.FORMS["adverse_event"]))
    def get(self, request, ae_pk: int):
        ae = selectors.adverse_event_get(user=request.user, pk=ae_pk)
        return _with_etag(Response(crf_output_serializer(self.spec)(ae).data), ae)

    @extend_schema(
        request=crf_input_serializer(registry.FORMS["adverse_event"]),
        parameters=[IF_MATCH],
        responses={200: crf_output_serializer(registry.FORMS["adverse_event"]), **SAVE_RESPONSES},
    )
    def put(self, request, ae_pk: int):
        ae = selectors.adverse_event_get(user=request.user, pk=ae_pk)
        return _save(request, spec=self.spec, patient=ae.patient, pk=ae.pk)


class EndOfStudyApi(APIView):
    spec = registry.FORMS["end_of_study"]

    @extend_schema(responses=crf_output_serializer(registry.FORMS["end_of_study"]))
    def get(self, request, patient_pk: int):
        patient = patient_get(user=request.user, pk=patient_pk)
        instance = selectors.end_of_study_get(user=request.user, patient=patient)
        if instance is None:
            raise Http404("No end of study recorded.")
        return _with_etag(Response(crf_output_serializer(self.spec)(instance).data), instance)

    @extend_schema(
        request=crf_input_serializer(registry.FORMS["end_of_study"]),
        parameters=[IF_MATCH],
        responses={200: crf_output_serializer(registry.FORMS["end_of_study"]), **SAVE_RESPONSES},
    )
    def put(self, request, patient_pk: int):
        patient = patient_get(user=request.user, pk=patient_pk)
        return _save(request, spec=self.spec, patient=patient)


def _record_spec(form_code: str):
    spec = registry.patient_record_spec(form_code)
    if spec is None:
        raise Http404("No such record.")
    return spec


_RECORD_SPECS = [registry.FORMS[code] for code in registry.PATIENT_RECORDS]
RECORD_INPUT = _forms_schema("PatientRecordInput", _RECORD_SPECS, crf_input_serializer)
RECORD_OUTPUT = _forms_schema("PatientRecordOutput", _RECORD_SPECS, crf_output_serializer)


class PatientRecordListApi(APIView):
    """A patient-level record's entries (baseline context, infections, medications): GET the
    list, POST a new entry (the one-per-patient baseline context: POST creates it, PUT on its
    detail updates it)."""

    @extend_schema(operation_id="patient_records_list", responses=RECORD_OUTPUT)
    def get(self, request, patient_pk: int, form_code: str):
        spec = _record_spec(form_code)
        patient = patient_get(user=request.user, pk=patient_pk)
        records = selectors.patient_records(user=request.user, patient=patient, spec=spec)
        return Response(crf_output_serializer(spec)(records, many=True).data)

    @extend_schema(
        operation_id="patient_records_create",
        request=RECORD_INPUT,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: RECORD_OUTPUT, **SAVE_RESPONSES},
    )
    def post(self, request, patient_pk: int, form_code: str):
        spec = _record_spec(form_code)
        patient = patient_get(user=request.user, pk=patient_pk)
        return api_once(
            request,
            lambda: _save(
                request,
                spec=spec,
                patient=patient,
                created_status=status.HTTP_201_CREATED,
                creates=not spec.single,
            ),
        )


class PatientRecordDetailApi(APIView):
    def _target(self, request, patient_pk: int, form_code: str, pk: int):
        spec = _record_spec(form_code)
        patient = patient_get(user=request.user, pk=patient_pk)
        records = selectors.patient_records(user=request.user, patient=patient, spec=spec)
        return spec, patient, get_object_or_404(records, pk=pk)

    @extend_schema(operation_id="patient_records_retrieve", responses=RECORD_OUTPUT)
    def get(self, request, patient_pk: int, form_code: str, pk: int):
        spec, _patient, record = self._target(request, patient_pk, form_code, pk)
        return _with_etag(Response(crf_output_serializer(spec)(record).data), record)

    @extend_schema(
        operation_id="patient_records_update",
        request=RECORD_INPUT,
        parameters=[IF_MATCH],
        responses={200: RECORD_OUTPUT, **SAVE_RESPONSES},
    )
    def put(self, request, patient_pk: int, form_code: str, pk: int):
        spec, patient, record = self._target(request, patient_pk, form_code, pk)
        return _save(request, spec=spec, patient=patient, pk=None if spec.single else record.pk)
