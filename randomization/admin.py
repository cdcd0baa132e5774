"""Admin for the randomization tables: read-only, unblinded statistician ONLY.

Blinded staff (trial administrators included) neither see the app in the admin index nor
reach its changelists, change or history pages: every hook asks
``trials.roles.can_manage_randomization_list``. Writes go through the services, never here.
"""

from django.contrib import admin

from trials import roles

from .models import (
    Allocation,
    ArmAccessLog,
    DosePreparation,
    EmergencyUnblinding,
    RandomizationList,
    RandomizationListEntry,
)


class StatisticianOnlyAdmin(admin.ModelAdmin):
    def has_module_permission(self, request) -> bool:
        return roles.can_manage_randomization_list(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return roles.can_manage_randomization_list(request.user)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RandomizationList)
class RandomizationListAdmin(StatisticianOnlyAdmin):
    list_display = ["trial", "version", "is_demo", "source", "status", "generated_at", "sha256"]
    list_filter = ["status", "source", "is_demo"]


@admin.register(RandomizationListEntry)
class RandomizationListEntryAdmin(StatisticianOnlyAdmin):
    list_display = ["randomization_list", "stratum", "sequence", "block_number", "arm"]
    list_filter = ["randomization_list", "stratum"]
    list_select_related = ["randomization_list__trial"]


@admin.register(Allocation)
class AllocationAdmin(StatisticianOnlyAdmin):
    list_display = ["randomization_number", "patient", "stratum", "randomized_at"]
    list_select_related = ["patient"]


@admin.register(DosePreparation)
class DosePreparationAdmin(StatisticianOnlyAdmin):
    list_display = ["patient", "dose_number", "prepared_at", "product_lot"]
    list_select_related = ["patient"]


@admin.register(EmergencyUnblinding)
class EmergencyUnblindingAdmin(StatisticianOnlyAdmin):
    list_display = ["patient", "unblinded_by", "unblinded_at"]
    list_select_related = ["patient", "unblinded_by"]


@admin.register(ArmAccessLog)
class ArmAccessLogAdmin(StatisticianOnlyAdmin):
    list_display = ["accessed_at", "user", "patient", "purpose"]
    list_select_related = ["patient", "user"]
