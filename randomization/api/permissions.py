"""DRF permission classes that ask the trials.roles predicates (no role logic here)."""

from rest_framework.permissions import BasePermission

from trials import roles


class IsPharmacist(BasePermission):
    def has_permission(self, request, view) -> bool:
        return roles.has_role(request.user, roles.Role.PHARMACIST)


class EntersData(BasePermission):
    """Investigators and PIs; the site check is done on the patient by the service."""

    def has_permission(self, request, view) -> bool:
        return bool(roles.user_roles(request.user) & roles.DATA_ENTRY_ROLES)
