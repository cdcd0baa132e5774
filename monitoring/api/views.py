"""REST endpoints of data queries: list (scoped like the pages), raise, answer/close/re-open.

Rows come from ``monitoring.selectors`` (another site's query is a 404); every write goes
through ``monitoring.services``, so the API follows the same rules as the pages.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from crf.api.views import ErrorOutput
from trials.api.errors import validation_error_detail
from trials.selectors import patient_get

from .. import selectors, services
from ..filters import DataQueryFilter
from .serializers import (
    QueryActionInputSerializer,
    QueryOutputSerializer,
    QueryRaiseInputSerializer,
)


def _as_api_error(exc: ValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(validation_error_detail(exc))


class QueryListApi(ListAPIView):
    """GET the queries the user may see, oldest due first, paginated; filters are the
    queries page's FilterSet (``monitoring.filters.DataQueryFilter``: status, site, patient,
    form, overdue, automatic, changed_since), and an invalid value is a 400 naming it."""

    serializer_class = QueryOutputSerializer
    filterset_class = DataQueryFilter

    def get_queryset(self):
        return selectors.query_list(user=self.request.user)

    @extend_schema(
        operation_id="queries_list",
        responses={200: QueryOutputSerializer(many=True), 400: ErrorOutput},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


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
