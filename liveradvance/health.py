"""Liveness/readiness probe for the load balancer and docker-compose health checks."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

logger = logging.getLogger(__name__)


def broker_state() -> str:
    """ "eager" without a broker, else "ok" / "unavailable" after one short connection try."""
    if not settings.REDIS_URL:
        return "eager"
    from liveradvance.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=settings.BROKER_TIMEOUT_SECONDS)
    except Exception as exc:  # any broker failure is reported, never raised
        logger.warning("Broker unavailable: %s", exc)
        return "unavailable"
    return "ok"


def healthz(request: HttpRequest) -> JsonResponse:
    """503 when the database does not answer; otherwise 200 with the broker and outbox state.

    A broker outage is "degraded", not unavailable: pages keep working and the outbox keeps
    every pending side effect until the broker is back. No patient data, no authentication.
    """
    from crf.outbox import outbox_backlog

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        backlog = outbox_backlog()
    except Exception:  # the probe reports any database failure as unavailable
        return JsonResponse({"status": "unavailable", "database": "unavailable"}, status=503)
    broker = broker_state()
    status = "ok" if broker in ("ok", "eager") else "degraded"
    return JsonResponse({"status": status, "database": "ok", "broker": broker, "outbox": backlog})
