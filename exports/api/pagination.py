"""The change feed's keyset pagination: ``?after=<event id>&limit=``, answered with
``next_after`` and ``has_more`` (no offset: a page never shifts while events are added)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.forms import IntegerField
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from ..selectors import FEED_MAX_LIMIT

FEED_DEFAULT_LIMIT = 500


class ChangeFeedPagination(BasePagination):
    limit_field = IntegerField(min_value=1, max_value=FEED_MAX_LIMIT, required=False)

    def paginate_queryset(self, queryset, request, view=None):
        try:
            limit = self.limit_field.clean(request.query_params.get("limit"))
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"limit": exc.messages}) from exc
        limit = limit or FEED_DEFAULT_LIMIT
        events = list(queryset[: limit + 1])
        self.has_more = len(events) > limit
        events = events[:limit]
        # ``after`` was validated by the FilterSet (an integer >= 0) before paging.
        self.next_after = events[-1].seq if events else int(request.query_params.get("after") or 0)
        return events

    def get_paginated_response(self, data):
        return Response(
            {"results": data, "next_after": self.next_after, "has_more": self.has_more}
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results", "next_after", "has_more"],
            "properties": {
                "results": schema,
                "next_after": {
                    "type": "integer",
                    "description": "Pass as ?after= for the next page (store it).",
                },
                "has_more": {"type": "boolean", "description": "More events are waiting."},
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": "limit",
                "required": False,
                "in": "query",
                "description": f"Events per page (1 to {FEED_MAX_LIMIT}, default "
                f"{FEED_DEFAULT_LIMIT}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": FEED_MAX_LIMIT},
            }
        ]
