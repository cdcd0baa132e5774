"""Authentication rules: re-authentication, lockout state, revocation of sessions and tokens.

Lockout (django-axes) counts failures per username *and* IP address (settings): a stranger
typing the PI's username from elsewhere locks only that (username, IP) pair, so the PI can
still log in and re-enter the password for an emergency unblinding (issue 11). A pair that
is locked loses its open sessions and its API tokens at once (checked on every request), and
a deactivated account loses every session and token when it is saved.
Signal receivers here are connected when ``trials.apps`` imports this module.
"""

from __future__ import annotations

import logging

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.signals import user_logged_in
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

logger = logging.getLogger(__name__)


def reauthenticate(request: HttpRequest, password: str, *, user=None) -> bool:
    """True when ``password`` is the user's own (default: the request's logged-in user).

    Goes through the authentication backends, so a wrong password counts toward the lockout
    of this user at this IP exactly like a failed login (django-axes), and a pair that is
    locked cannot confirm. Failures typed by others at other addresses do not block it.
    """
    user = user or request.user
    found = authenticate(request, username=user.get_username(), password=password or "")
    return found is not None and found.pk == user.pk


def client_ip(request: HttpRequest) -> str:
    from axes.helpers import get_client_ip_address

    return getattr(request, "axes_ip_address", None) or get_client_ip_address(request) or ""


def active_lockouts():
    """Failure records that currently lock a (username, IP) pair."""
    from axes.models import AccessAttempt

    since = timezone.now() - settings.AXES_COOLOFF_TIME
    return AccessAttempt.objects.filter(
        failures_since_start__gte=settings.AXES_FAILURE_LIMIT, attempt_time__gte=since
    ).order_by("-attempt_time")


def is_locked_out(username: str, ip: str) -> bool:
    return active_lockouts().filter(username=username, ip_address=ip).exists()


def user_sessions_end(user) -> int:
    """Delete every open session of ``user``; returns how many."""
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
            ended += 1
    return ended


def user_tokens_revoke(user) -> int:
    """Delete every API token of ``user``; returns how many."""
    from knox.models import AuthToken

    return AuthToken.objects.filter(user=user).delete()[0]


@receiver(post_save, sender=get_user_model(), dispatch_uid="trials.auth.inactive_user_revoked")
def _inactive_user_loses_access(sender, instance, **kwargs) -> None:
    if not instance.is_active:
        transaction.on_commit(lambda: (user_sessions_end(instance), user_tokens_revoke(instance)))


LOGIN_IP_KEY = "login_ip"


@receiver(user_logged_in, dispatch_uid="trials.auth.remember_login_ip")
def _remember_login_ip(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[LOGIN_IP_KEY] = client_ip(request)


def sessions_end_at(username: str, ip: str) -> int:
    """Delete the open sessions of ``username`` that logged in from ``ip``."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        return 0
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        data = session.get_decoded()
        if str(data.get("_auth_user_id")) == str(user.pk) and data.get(LOGIN_IP_KEY) == ip:
            session.delete()
            ended += 1
    return ended


@receiver(user_locked_out, dispatch_uid="trials.auth.locked_out_sessions_end")
def _locked_out_pair_loses_sessions(sender, request, username, ip_address, **kwargs) -> None:
    """Sessions of the locked (username, IP) pair end at once; its tokens stop working there
    (``LockoutAwareTokenAuthentication``). Sessions elsewhere are untouched: a stranger's
    failures must not log the PI out."""
    ended = sessions_end_at(username or "", ip_address or "")
    if ended:
        logger.warning("%s session(s) ended: account locked out at this address.", ended)
