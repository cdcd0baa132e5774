"""Idle timeout without a session write on every request (#16).

``SESSION_SAVE_EVERY_REQUEST`` rewrote the session row on each request (the largest single
SQL item under load). Instead the session is touched at most every
``SESSION_REFRESH_SECONDS``: its expiry moves forward only then, so a user idle for
``SESSION_COOKIE_AGE`` minus at most the refresh interval is logged out, and an active user
never is. Requests in between read the session and write nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

REFRESHED_KEY = "_idle_refreshed_at"


class SessionIdleRefreshMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and session.session_key:
            now = int(time.time())
            last = session.get(REFRESHED_KEY, 0)
            if now - last >= settings.SESSION_REFRESH_SECONDS:
                session[REFRESHED_KEY] = now  # modified: saved with a new expiry
        return self.get_response(request)


@receiver(user_logged_in, dispatch_uid="liveradvance-session-stamp")
def _stamp_at_login(sender, request: HttpRequest | None, **kwargs) -> None:
    """Login saves the session anyway: stamp it there so the next request writes nothing."""
    if request is not None and hasattr(request, "session"):
        request.session[REFRESHED_KEY] = int(time.time())
