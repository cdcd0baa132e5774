"""The one guard on every path that adds a role: admin, shell, commands, fixtures (issue 9).

An invariant rather than business flow: adding a user to an unblinded group (pharmacist,
unblinded statistician) outside the approval service is refused, so no form, admin action or
script can let a blinded person obtain the arm without a second person's approval.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied

from .roles import UNBLINDED_ROLES

UNBLINDED_GROUP_NAMES = frozenset(role.value for role in UNBLINDED_ROLES)


def refuse_unapproved_unblinded_grant(sender, instance, action, reverse, model, pk_set, **kwargs):
    if action != "pre_add" or not pk_set:
        return
    from .services import unblinded_grant_allowed

    if unblinded_grant_allowed():
        return
    if isinstance(instance, Group):  # group.user_set.add(...)
        unblinded = instance.name in UNBLINDED_GROUP_NAMES
    else:  # user.groups.add(...)
        unblinded = Group.objects.filter(pk__in=pk_set, name__in=UNBLINDED_GROUP_NAMES).exists()
    if unblinded:
        raise PermissionDenied(
            "An unblinded role is granted only through a request and a second person's approval "
            "(the unblinded statistician or a superuser)."
        )


def record_login(sender, request, user, **kwargs) -> None:
    from .models import AccessEvent
    from .services import access_event_record

    access_event_record(action=AccessEvent.Action.LOGIN, actor=user, subject_user=user)


def apply_language(sender, request, user, **kwargs) -> None:
    """The user's stored language for this session (issue 17): same language on any browser."""
    from .account_views import LANGUAGE_SESSION_KEY
    from .models import UserPreference

    if request is None or not hasattr(request, "session"):
        return
    language = UserPreference.objects.filter(user=user).values_list("language", flat=True).first()
    if language:
        request.session[LANGUAGE_SESSION_KEY] = language


def record_logout(sender, request, user, **kwargs) -> None:
    if user is None:  # the session had already expired
        return
    from .models import AccessEvent
    from .services import access_event_record

    access_event_record(action=AccessEvent.Action.LOGOUT, actor=user, subject_user=user)


def record_login_failure(sender, credentials, request=None, **kwargs) -> None:
    """A failed login names the account tried (never the password: Django cleanses it)."""
    from .models import AccessEvent
    from .services import access_event_record

    username = str(credentials.get("username", ""))[:150]
    subject = get_user_model().objects.filter(username=username).first() if username else None
    access_event_record(
        action=AccessEvent.Action.LOGIN_FAILED,
        subject_user=subject,
        detail=f"username tried: {username}" if subject is None else "",
    )


def connect() -> None:
    from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
    from django.db.models.signals import m2m_changed

    # Access audit (21 CFR 11.300(d), Annex 11 §12.4): logins, failures, logouts.
    user_logged_in.connect(record_login, dispatch_uid="trials.record_login")
    user_logged_in.connect(apply_language, dispatch_uid="trials.apply_language")
    user_logged_out.connect(record_logout, dispatch_uid="trials.record_logout")
    user_login_failed.connect(record_login_failure, dispatch_uid="trials.record_login_failure")

    m2m_changed.connect(
        refuse_unapproved_unblinded_grant,
        sender=get_user_model().groups.through,
        dispatch_uid="trials.refuse_unapproved_unblinded_grant",
    )
