"""REST endpoints of the change feed and the exports.

Rows are scoped by ``exports.selectors``; every export is audited by ``exports.services``.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors
from .serializers import ChangeEventSerializer, ChangeFeedPageSerializer, ChangeFeedQuerySerializer
from .throttles import ChangeFeedThrottle


class ChangeFeedApi(APIView):
    """Changes after the client's last event id, oldest first, never skipping one.

    Store ``next_after`` and pass it as ``?after=`` next time: an event committed later
    always gets a higher id, even when its transaction started earlier (ids are drawn at
    commit). Scoped to the user's sites; allocations only for unblinded roles.
    """

    throttle_classes = [ChangeFeedThrottle]

    @extend_schema(
        parameters=[ChangeFeedQuerySerializer],
        responses=ChangeFeedPageSerializer,
        operation_id="changes_list",
    )
    def get(self, request):
        query = ChangeFeedQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        limit = params["limit"]
        events = list(
            selectors.change_list(
                user=request.user,
                after=params["after"],
                changed_since=params.get("changed_since"),
                kinds=sorted(params.get("kind") or []),
                patient=params.get("patient"),
            )[: limit + 1]
        )
        has_more = len(events) > limit
        events = events[:limit]
        next_after = events[-1].seq if events else params["after"]
        return Response(
            {
                "results": ChangeEventSerializer(events, many=True).data,
                "next_after": next_after,
                "has_more": has_more,
            }
        )
