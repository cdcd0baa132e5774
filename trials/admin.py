"""Admin for the trial administrator: trial configuration, sites, memberships, users.

Clinical data (patients, screening, scores) is not edited here: writes go through the
services and pages, so every change carries its reason and passes the same checks.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from simple_history.admin import SimpleHistoryAdmin

from .models import Site, SiteMembership, Trial


@admin.register(Trial)
class TrialAdmin(SimpleHistoryAdmin):
    list_display = ("code", "title", "registry_ids", "target_size")
    # Arm codes are configuration of randomization/, not shown to the (blinded) administrator.
    exclude = ("arm_codes",)


@admin.register(Site)
class SiteAdmin(SimpleHistoryAdmin):
    list_display = ("code", "name", "trial")


@admin.register(SiteMembership)
class SiteMembershipAdmin(SimpleHistoryAdmin):
    list_display = ("user", "site", "granted_at")
    list_select_related = ("user", "site")


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class TrialUserAdmin(SimpleHistoryAdmin, UserAdmin):
    """Only a superuser grants superuser status or raw permissions, and nobody changes their
    own roles (an administrator must not unblind themselves by joining the pharmacists)."""

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ["is_superuser", "user_permissions"]
            if obj is not None and obj.pk == request.user.pk:
                readonly += ["groups", "is_staff", "is_active"]
        return readonly
