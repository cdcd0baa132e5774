"""Per-user rate limits of the exports API (DRF throttles on the default cache)."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import UserRateThrottle


class ChangeFeedThrottle(UserRateThrottle):
    scope = "exports-feed"

    def get_rate(self) -> str:
        return getattr(settings, "EXPORTS_FEED_RATE", "600/min")


class ExportThrottle(UserRateThrottle):
    """Exports read every row: a few a minute per user is plenty for a script."""

    scope = "exports-file"

    def get_rate(self) -> str:
        return getattr(settings, "EXPORTS_FILE_RATE", "60/min")


class ApiRateThrottle(UserRateThrottle):
    """The default of every API view (settings ``DEFAULT_THROTTLE_CLASSES``): generous for a
    person or a script, but a runaway loop gets 429s with Retry-After, not the whole server.
    Views with their own throttle (the feed, exports) replace it."""

    scope = "api"

    def get_rate(self) -> str:
        return getattr(settings, "API_RATE", "1200/min")
