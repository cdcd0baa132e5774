"""Liveness/readiness probe for the load balancer and docker-compose health checks."""

from django.db import connection
from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database answers; no data, no authentication needed."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # the probe reports any database failure as unavailable
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})
