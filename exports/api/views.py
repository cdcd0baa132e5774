"""REST endpoints of the change feed and the exports.

Rows are scoped by ``exports.selectors``; every export is audited by ``exports.services``.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from trials import roles
from trials.api.errors import validation_error_detail

from .. import selectors, services
from ..dictionary import datasets
from ..filters import ChangeEventFilter, ExportJobFilter
from ..models import ExportJob
from .pagination import ChangeFeedPagination
from .serializers import (
    AuditEventPageSerializer,
    AuditEventQuerySerializer,
    AuditEventSerializer,
    ChangeEventSerializer,
    DatasetIndexSerializer,
    DictionaryQuerySerializer,
    ExportJobInputSerializer,
    ExportJobSerializer,
    ExportQuerySerializer,
    OdmQuerySerializer,
)
from .throttles import ChangeFeedThrottle, ExportThrottle

# Error answers every endpoint here may give (JSON, never HTML).
ERRORS = {
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="Field errors: {field: [messages]}."),
    403: OpenApiResponse(OpenApiTypes.OBJECT, description="Not signed in, or not your role."),
    429: OpenApiResponse(OpenApiTypes.OBJECT, description="Rate limited: see Retry-After."),
}


class ChangeFeedApi(ListAPIView):
    """Changes after the client's last event id, oldest first, never skipping one.

    Store ``next_after`` and pass it as ``?after=`` next time: an event committed later
    always gets a higher id, even when its transaction started earlier (ids are drawn at
    commit). Scoped to the user's sites; allocations only for unblinded roles. Filters
    (``exports.filters.ChangeEventFilter``): an invalid value is a 400 naming it.
    """

    throttle_classes = [ChangeFeedThrottle]
    serializer_class = ChangeEventSerializer
    filterset_class = ChangeEventFilter
    pagination_class = ChangeFeedPagination

    def get_queryset(self):
        return selectors.change_list(user=self.request.user)

    @extend_schema(responses={200: ChangeEventSerializer(many=True), **ERRORS})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


# --- exports --------------------------------------------------------------------------------


def _stream(export) -> StreamingHttpResponse:
    response = StreamingHttpResponse(export.chunks, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _query(serializer_class, request) -> serializers.Serializer:
    data = request.query_params
    query = serializer_class(
        data={
            **{k: data.get(k) for k in ("date_from", "date_to", "unblinded") if k in data},
            **({"site": data.getlist("site")} if "site" in data else {}),
            **({"forms": data.getlist("forms")} if "forms" in data else {}),
        }
    )
    query.is_valid(raise_exception=True)
    return query


def _as_api_error(exc: ValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(validation_error_detail(exc))


class ExportIndexApi(APIView):
    """The exportable datasets with the URL of each format."""

    throttle_classes = [ExportThrottle]

    @extend_schema(
        responses={200: DatasetIndexSerializer(many=True), **ERRORS}, operation_id="exports_index"
    )
    def get(self, request):
        if not roles.can_export(request.user):
            raise PermissionDenied("Exports are for data managers, monitors and the statistician.")
        rows = [
            {
                "code": d.code,
                "label": d.label,
                "csv": reverse("exports-api:export-csv", kwargs={"dataset": d.code}),
                "json": reverse("exports-api:export-json", kwargs={"dataset": d.code}),
            }
            for d in datasets().values()
        ]
        return Response(DatasetIndexSerializer(rows, many=True).data)


class _DatasetExportApi(APIView):
    throttle_classes = [ExportThrottle]
    fmt = ""

    def get(self, request, dataset: str):
        if dataset not in datasets():
            raise Http404("No such dataset.")
        query = _query(ExportQuerySerializer, request)
        try:
            export = services.export_open(
                user=request.user,
                fmt=self.fmt,
                codes=[dataset],
                flt=query.to_filter(),
                unblinded=query.validated_data["unblinded"],
            )
        except ValidationError as exc:
            raise _as_api_error(exc) from exc
        return _stream(export)


class DatasetCsvApi(_DatasetExportApi):
    """One dataset as CSV (one row per form instance), streamed. Blinded unless
    ``unblinded=true`` by the unblinded statistician (adds the allocation to ``patients``)."""

    fmt = "csv"

    @extend_schema(
        parameters=[ExportQuerySerializer],
        responses={(200, "text/csv"): OpenApiTypes.STR, **ERRORS},
        operation_id="exports_dataset_csv",
    )
    def get(self, request, dataset: str):
        return super().get(request, dataset)


class DatasetJsonApi(_DatasetExportApi):
    """One dataset as CDISC Dataset-JSON v1.1 (column metadata + rows), streamed."""

    fmt = "json"

    @extend_schema(
        parameters=[ExportQuerySerializer],
        responses={(200, "application/json"): OpenApiTypes.OBJECT, **ERRORS},
        operation_id="exports_dataset_json",
    )
    def get(self, request, dataset: str):
        return super().get(request, dataset)


class OdmExportApi(APIView):
    """CDISC ODM 1.3.2 (transactional): metadata, admin data, clinical data with the whole
    audit trail of every form (who, when, where, why; old -> new) and the casebook
    e-signatures."""

    throttle_classes = [ExportThrottle]

    @extend_schema(
        parameters=[OdmQuerySerializer],
        responses={(200, "application/xml"): OpenApiTypes.STR, **ERRORS},
        operation_id="exports_odm",
    )
    def get(self, request):
        query = _query(OdmQuerySerializer, request)
        try:
            export = services.export_open(
                user=request.user,
                fmt="odm",
                codes=sorted(query.validated_data.get("forms") or []) or None,
                flt=query.to_filter(),
                unblinded=query.validated_data["unblinded"],
            )
        except ValidationError as exc:
            raise _as_api_error(exc) from exc
        return _stream(export)


class DictionaryApi(APIView):
    """The data dictionary CSV: dataset, variable, label, type, unit, allowed values."""

    throttle_classes = [ExportThrottle]

    @extend_schema(
        parameters=[DictionaryQuerySerializer],
        responses={(200, "text/csv"): OpenApiTypes.STR, **ERRORS},
        operation_id="exports_dictionary",
    )
    def get(self, request):
        query = _query(DictionaryQuerySerializer, request)
        export = services.dictionary_open(
            user=request.user, unblinded=query.validated_data["unblinded"]
        )
        return _stream(export)


class ExportJobListApi(ListAPIView):
    """GET your export jobs (newest first, paginated, filtered by
    ``exports.filters.ExportJobFilter``); POST to queue a large export (Celery) and poll
    its progress."""

    throttle_classes = [ExportThrottle]
    serializer_class = ExportJobSerializer
    filterset_class = ExportJobFilter

    def get_queryset(self):
        return selectors.export_job_list(user=self.request.user)

    @extend_schema(
        responses={200: ExportJobSerializer(many=True), **ERRORS},
        operation_id="exports_jobs_list",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=ExportJobInputSerializer,
        responses={202: ExportJobSerializer, **ERRORS},
        operation_id="exports_jobs_create",
    )
    def post(self, request):
        if not isinstance(request.data, dict):
            raise serializers.ValidationError({"non_field_errors": ["Send a JSON object."]})
        data = request.data
        payload = {
            k: data.get(k)
            for k in ("format", "date_from", "date_to", "unblinded")
            if data.get(k) not in (None, "")
        }
        for key in ("site", "forms"):
            value = data.getlist(key) if hasattr(data, "getlist") else data.get(key)
            if value not in (None, "", []):
                payload[key] = value if isinstance(value, list) else [value]
        query = ExportJobInputSerializer(data=payload)
        query.is_valid(raise_exception=True)
        try:
            job = services.export_job_create(
                user=request.user,
                fmt=query.validated_data["format"],
                codes=sorted(query.validated_data.get("forms") or []) or None,
                flt=query.to_filter(),
                unblinded=query.validated_data["unblinded"],
            )
        except ValidationError as exc:
            raise _as_api_error(exc) from exc
        job.refresh_from_db()
        return Response(ExportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ExportJobDetailApi(APIView):
    @extend_schema(responses=ExportJobSerializer, operation_id="exports_jobs_retrieve")
    def get(self, request, job_pk: int):
        job = get_object_or_404(selectors.export_job_list(user=request.user), pk=job_pk)
        return Response(ExportJobSerializer(job).data)


class ExportJobDownloadApi(APIView):
    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
        operation_id="exports_jobs_download",
    )
    def get(self, request, job_pk: int):
        job = get_object_or_404(
            selectors.export_job_list(user=request.user).defer(None),
            pk=job_pk,
            status=ExportJob.Status.DONE,
        )
        response = HttpResponse(bytes(job.file), content_type=job.content_type)
        response["Content-Disposition"] = f'attachment; filename="{job.filename}"'
        response["Cache-Control"] = "no-store"
        return response


# --- audit events ---------------------------------------------------------------------------

AUDIT_PAGE_SIZE = 50


class AuditEventListApi(APIView):
    """The trial-wide audit trail (monitors and data managers), newest first, paginated:
    who, when, which record, what changed (old -> new) and why; blinded like the pages
    (``trials.selectors.audit_log``)."""

    @extend_schema(
        parameters=[AuditEventQuerySerializer],
        responses={200: AuditEventPageSerializer, **ERRORS},
        operation_id="audit_events_list",
    )
    def get(self, request):
        from trials.selectors import audit_log

        query = AuditEventQuerySerializer(data=request.query_params, context={"request": request})
        query.is_valid(raise_exception=True)
        page = audit_log(
            user=request.user,
            filters=query.to_filters(),
            page=query.validated_data["page"],
            per_page=AUDIT_PAGE_SIZE,
        )
        return Response(
            {
                "count": page.total,
                "page": page.number,
                "pages": page.num_pages,
                "results": AuditEventSerializer(page.entries, many=True).data,
            }
        )


class PatientAuditEventListApi(APIView):
    """One patient's audit trail, for everyone who may see the patient, newest first,
    paginated (``trials.selectors.patient_history``: the allocation's trail only for who
    may see this patient's arm)."""

    @extend_schema(
        parameters=[AuditEventQuerySerializer],
        responses={200: AuditEventPageSerializer, **ERRORS},
        operation_id="patient_audit_events_list",
    )
    def get(self, request, patient_pk: int):
        from trials.selectors import patient_get, patient_history

        patient = patient_get(user=request.user, pk=patient_pk)
        query = AuditEventQuerySerializer(
            data=request.query_params, context={"request": request, "patient": patient}
        )
        query.is_valid(raise_exception=True)
        entries = patient_history(user=request.user, patient=patient, filters=query.to_filters())
        pages = max(1, -(-len(entries) // AUDIT_PAGE_SIZE))
        number = query.validated_data["page"]
        if number > pages:
            raise Http404("No such page.")
        start = (number - 1) * AUDIT_PAGE_SIZE
        return Response(
            {
                "count": len(entries),
                "page": number,
                "pages": pages,
                "results": AuditEventSerializer(
                    entries[start : start + AUDIT_PAGE_SIZE], many=True
                ).data,
            }
        )
