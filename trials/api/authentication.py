"""API authentication: knox tokens (hashed, expiring, revocable) that respect the lockout."""

from __future__ import annotations

from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from trials.auth import client_ip, is_locked_out


class LockoutAwareTokenAuthentication(TokenAuthentication):
    """A knox token stops working while its user is locked out at the caller's address."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            user, _token = result
            if is_locked_out(user.get_username(), client_ip(request._request)):
                raise AuthenticationFailed("This account is locked out at this address.")
        return result


class LockoutAwareTokenScheme(KnoxTokenScheme):
    """OpenAPI: the same ``Authorization: Token <token>`` scheme as knox."""

    target_class = "trials.api.authentication.LockoutAwareTokenAuthentication"
    name = "apiToken"
