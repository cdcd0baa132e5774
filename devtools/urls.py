"""The bench server's URLs: the whole project plus ``/devtools/ping/`` (never in production)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import path

from liveradvance.urls import urlpatterns as project_urls


@login_required
def ping(request: HttpRequest) -> HttpResponse:
    """The physical baseline: session, user and auth middleware, then nothing."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("devtools/ping/", ping, name="devtools-ping"), *project_urls]
