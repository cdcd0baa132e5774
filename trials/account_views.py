"""Account pages (issue 11): API tokens of the user, lockouts for the trial administrator."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import check_for_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from . import roles, services
from .auth import active_lockouts
from .models import LockoutReset


@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    """The user's API tokens (never their value); create one (shown once) or revoke one."""
    from knox.models import AuthToken

    new_token = None
    if request.method == "POST":
        if "revoke" in request.POST:
            if services.api_token_revoke(user=request.user, token_key=request.POST["revoke"]):
                messages.success(request, _("Token revoked: it no longer works."))
            return redirect("trials:token-list")
        _record, new_token = services.api_token_create(user=request.user)
    tokens = AuthToken.objects.filter(user=request.user).order_by("-created")
    return render(
        request,
        "registration/token_list.html",
        {"tokens": tokens, "new_token": new_token, "ttl": settings.REST_KNOX["TOKEN_TTL"]},
    )


def _require_trial_admin(user) -> None:
    if not roles.has_role(user, roles.Role.TRIAL_ADMIN):
        raise PermissionDenied


@login_required
def lockout_list(request: HttpRequest) -> HttpResponse:
    _require_trial_admin(request.user)
    return render(
        request,
        "registration/lockout_list.html",
        {
            "lockouts": active_lockouts()[:200],
            "resets": LockoutReset.objects.select_related("reset_by")[:50],
            "cooloff": settings.AXES_COOLOFF_TIME,
            "limit": settings.AXES_FAILURE_LIMIT,
        },
    )


@login_required
@require_POST
def lockout_clear(request: HttpRequest) -> HttpResponse:
    _require_trial_admin(request.user)
    try:
        services.lockout_reset(
            user=request.user,
            username=request.POST.get("username", ""),
            ip_address=request.POST.get("ip_address") or None,
            reason=request.POST.get("reason", ""),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, _("Lockout of %(user)s cleared.") % {"user": request.POST.get("username")}
        )
    return redirect("trials:lockout-list")


# The language of a logged-in user's session (set at login from the stored preference and by
# the switch); UserLanguageMiddleware applies it, so no query is needed per request.
LANGUAGE_SESSION_KEY = "trials_language"


def language_set(request: HttpRequest) -> HttpResponse:
    """The language switch: Django's view (language cookie, redirect to ``next``); a
    logged-in user's choice is also stored, so it follows them to any browser."""
    response = set_language(request)
    language = request.POST.get("language", "")
    if (
        request.method == "POST"
        and request.user.is_authenticated
        and check_for_language(language)
        and language in dict(settings.LANGUAGES)
    ):
        services.user_language_set(user=request.user, language=language)
        request.session[LANGUAGE_SESSION_KEY] = language
    return response
