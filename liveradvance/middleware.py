"""Response headers every page needs (issue 11); the user's language (issue 17)."""

from __future__ import annotations

from django.conf import settings
from django.utils import translation
from django.utils.cache import add_never_cache_headers

from trials.account_views import LANGUAGE_SESSION_KEY


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every dynamic response (patient data must never sit in
    a browser or proxy cache); static files keep their long cache headers (WhiteNoise answers
    them before this middleware)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        add_never_cache_headers(response)  # no-cache, no-store, must-revalidate, private
        return response


class UserLanguageMiddleware:
    """A logged-in user's language (their stored preference, copied into the session at
    login and by the switch) over the cookie and the browser's; the cookie follows it, so
    the login page after a logout stays in that language. No query per request."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        language = None
        if getattr(request, "user", None) is not None and request.user.is_authenticated:
            language = request.session.get(LANGUAGE_SESSION_KEY)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        if language and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != language:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response
