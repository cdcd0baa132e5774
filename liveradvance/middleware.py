"""Response headers every page needs (issue 11)."""

from __future__ import annotations

from django.utils.cache import add_never_cache_headers


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
