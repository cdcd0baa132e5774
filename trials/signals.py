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


def connect() -> None:
    from django.db.models.signals import m2m_changed

    m2m_changed.connect(
        refuse_unapproved_unblinded_grant,
        sender=get_user_model().groups.through,
        dispatch_uid="trials.refuse_unapproved_unblinded_grant",
    )
