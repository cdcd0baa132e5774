"""Roles and the access predicates every selector, view, permission class and admin asks.

One place decides who may see what (STYLE.md §3). Roles are Django groups named by ``Role``;
their model permissions are granted by ``trials.services.roles_sync``. Site scoping and the
blinding rule are decided here and nowhere else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from .models import Patient, Site

    AnyUser = AbstractBaseUser | AnonymousUser


class Role(models.TextChoices):
    INVESTIGATOR = "investigator", _("Investigator")
    PRINCIPAL_INVESTIGATOR = "principal_investigator", _("Principal investigator")
    PHARMACIST = "pharmacist", _("Pharmacist (unblinded)")
    MONITOR = "monitor", _("Monitor")
    DATA_MANAGER = "data_manager", _("Data manager")
    UNBLINDED_STATISTICIAN = "unblinded_statistician", _("Unblinded statistician")
    TRIAL_ADMIN = "trial_admin", _("Trial administrator")


# Central roles work across all sites; the others only at the sites they are members of.
ALL_SITE_ROLES = frozenset({Role.DATA_MANAGER, Role.UNBLINDED_STATISTICIAN, Role.TRIAL_ADMIN})
DATA_ENTRY_ROLES = frozenset({Role.INVESTIGATOR, Role.PRINCIPAL_INVESTIGATOR})
# Protocol synopsis, Randomization: only these roles ever see the arm of every patient.
UNBLINDED_ROLES = frozenset({Role.PHARMACIST, Role.UNBLINDED_STATISTICIAN})


def user_roles(user: AnyUser) -> frozenset[Role]:
    """The user's roles, read once per user object (one query) and cached on it."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cached = getattr(user, "_liveradvance_roles", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        cached = frozenset(role for role in Role if role.value in names)
        user._liveradvance_roles = cached
    return cached


def has_role(user: AnyUser, *roles: Role) -> bool:
    return bool(user_roles(user) & set(roles))


def sees_all_sites(user: AnyUser) -> bool:
    return bool(user_roles(user) & ALL_SITE_ROLES)


def user_site_ids(user: AnyUser) -> frozenset[int] | None:
    """Site ids the user may see; ``None`` means every site (central roles)."""
    if not user_roles(user):
        return frozenset()
    if sees_all_sites(user):
        return None
    return member_site_ids(user)


def member_site_ids(user: AnyUser) -> frozenset[int]:
    """Sites the user is a member of (cached on the user object for the request)."""
    cached = getattr(user, "_liveradvance_member_ids", None)
    if cached is None:
        cached = frozenset(user.site_memberships.values_list("site_id", flat=True))
        user._liveradvance_member_ids = cached
    return cached


def can_view_site(user: AnyUser, site: Site | int) -> bool:
    site_id = site if isinstance(site, int) else site.pk
    ids = user_site_ids(user)
    return ids is None or site_id in ids


def is_site_member(user: AnyUser, site: Site | int) -> bool:
    """Site staff actions (data entry, randomization) need membership, not a central role."""
    if not user_roles(user):
        return False
    site_id = site if isinstance(site, int) else site.pk
    return site_id in member_site_ids(user)


def can_enter_data(user: AnyUser, site: Site | int) -> bool:
    """Screening, eCRFs and randomization: investigators and the PI at their own sites."""
    return bool(user_roles(user) & DATA_ENTRY_ROLES) and is_site_member(user, site)


def can_emergency_unblind(user: AnyUser, patient: Patient) -> bool:
    return has_role(user, Role.PRINCIPAL_INVESTIGATOR) and is_site_member(user, patient.site_id)


def can_prepare_dose(user: AnyUser, patient: Patient) -> bool:
    return has_role(user, Role.PHARMACIST) and is_site_member(user, patient.site_id)


def can_manage_randomization_list(user: AnyUser) -> bool:
    return has_role(user, Role.UNBLINDED_STATISTICIAN)


# Data exports (issue 15): blinded for data managers, monitors (their sites) and the
# statistician; the allocation columns for the unblinded statistician only.
EXPORT_ROLES = frozenset({Role.DATA_MANAGER, Role.MONITOR, Role.UNBLINDED_STATISTICIAN})


def can_export(user: AnyUser) -> bool:
    return bool(user_roles(user) & EXPORT_ROLES)


def can_export_unblinded(user: AnyUser) -> bool:
    return has_role(user, Role.UNBLINDED_STATISTICIAN)


def can_manage_users(user: AnyUser) -> bool:
    """Trial administrators and superusers create accounts and request roles."""
    return getattr(user, "is_superuser", False) or has_role(user, Role.TRIAL_ADMIN)


def can_approve_unblinded_grants(user: AnyUser) -> bool:
    """The second person for an unblinded role: the unblinded statistician or a superuser."""
    return getattr(user, "is_active", False) and (
        getattr(user, "is_superuser", False) or can_manage_randomization_list(user)
    )


def is_unblinded_role(user: AnyUser) -> bool:
    """Pharmacist or unblinded statistician: may see allocations of every patient they can see."""
    return bool(user_roles(user) & UNBLINDED_ROLES)


# The blinding rule itself (may_see_arm) lives with the allocation: randomization/blinding.py.
