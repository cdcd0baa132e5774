from django.http import HttpRequest

from . import roles


def roles_context(request: HttpRequest) -> dict:
    """Role flags for navigation only; pages still ask the selectors for their data."""
    user = request.user
    user_roles = roles.user_roles(user)
    return {
        "user_roles": sorted(r.label for r in user_roles),
        "nav": {
            "enters_data": bool(user_roles & roles.DATA_ENTRY_ROLES),
            "pharmacy": roles.Role.PHARMACIST in user_roles,
            "statistician": roles.Role.UNBLINDED_STATISTICIAN in user_roles,
            "admin": roles.Role.TRIAL_ADMIN in user_roles,
            "exports": roles.can_export(user),
            "audits": bool(user_roles & {roles.Role.MONITOR, roles.Role.DATA_MANAGER}),
        },
    }
