"""REST endpoints of data queries: list (scoped like the pages), raise, answer/close/re-open.

Rows come from ``monitoring.selectors`` (another site's query is a 404); every write goes
through ``monitoring.services``, so the API follows the same rules as the pages.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from crf.api.views import ErrorOutput
from trials.api.errors import validation_error_detail
from trials.selectors import patient_get

from .. import selectors, services
from .serializers import (
    QueryActionInputSerializer,
    QueryOutputSerializer,
    QueryRaiseInputSerializer,
)


def _as_api_error(exc: ValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(validation_error_detail(exc))


class QueryListApi(APIView):
    """GET the queries the user may see (filters: status, site, overdue=1, form)."""

    @extend_schema(
        operation_id="queries_list",
        parameters=[
            OpenApiParameter("status", str, enum=["open", "answered", "closed"]),
            OpenApiParameter("site", int),
            OpenApiParameter("overdue", str, enum=["1"]),
            OpenApiParameter("form", str),
        ],
        responses=QueryOutputSerializer(many=True),
    )
    def get(self, request):
        params = request.query_params
        site = params.get("site", "")
        qs = selectors.query_list(
            user=request.user,
            status=params.get("status", ""),
            site=int(site) if site.isdigit() and len(site) < 10 else None,
            overdue=params.get("overdue") == "1",
            form_code=params.get("form", "")[:30],
        )[:500]
        return Response(QueryOutputSerializer(qs, many=True).data)


class PatientQueryApi(APIView):
    """GET a patient's queries; POST raises one (monitors and data managers)."""

    @extend_schema(operation_id="patient_queries_list", responses=QueryOutputSerializer(many=True))
    def get(self, request, patient_pk: int):
        patient = patient_get(user=request.user, pk=patient_pk)
        qs = selectors.query_list(user=request.user, patient=patient)
        return Response(QueryOutputSerializer(qs, many=True).data)

    @extend_schema(
        operation_id="patient_queries_raise",
        request=QueryRaiseInputSerializer,
        responses={201: QueryOutputSerializer, 400: ErrorOutput},
    )
    def post(self, request, patient_pk: int):
        patient = patient_get(user=request.user, pk=patient_pk)
        data = QueryRaiseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            query = services.query_raise(user=request.user, patient=patient, **data.validated_data)
        except ValidationError as exc:
            raise _as_api_error(exc) from exc
        return Response(QueryOutputSerializer(query).data, status=status.HTTP_201_CREATED)


class QueryDetailApi(APIView):
    """GET one query; POST an action: answer (site staff), close or reopen (the raiser)."""

    @extend_schema(operation_id="query_retrieve", responses=QueryOutputSerializer)
    def get(self, request, query_pk: int):
        return Response(
            QueryOutputSerializer(selectors.query_get(user=request.user, pk=query_pk)).data
        )

    @extend_schema(
        operation_id="query_action",
        request=QueryActionInputSerializer,
        responses={200: QueryOutputSerializer, 400: ErrorOutput},
    )
    def post(self, request, query_pk: int):
        query = selectors.query_get(user=request.user, pk=query_pk)
        data = QueryActionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        action, values = data.validated_data["action"], data.validated_data
        try:
            if action == "answer":
                query = services.query_answer(
                    user=request.user, query=query, answer=values["answer"]
                )
            elif action == "close":
                query = services.query_close(user=request.user, query=query, note=values["note"])
            else:
                query = services.query_reopen(
                    user=request.user, query=query, reason=values["note"]
                )
        except ValidationError as exc:
            raise _as_api_error(exc) from exc
        return Response(QueryOutputSerializer(query).data)
