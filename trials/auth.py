"""Re-authentication for critical actions (21 CFR 11.200: signing and unblinding)."""

from django.contrib.auth import authenticate
from django.http import HttpRequest


def reauthenticate(request: HttpRequest, password: str) -> bool:
    """True when ``password`` is the logged-in user's own.

    Goes through the authentication backends, so a wrong password counts toward the account
    lockout exactly like a failed login (django-axes), and a locked account cannot confirm.
    """
    user = authenticate(request, username=request.user.get_username(), password=password or "")
    return user is not None and user.pk == request.user.pk
