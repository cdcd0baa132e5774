"""Admin: the visit schedule for the trial administrator (audited); visits read-only."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from trials import roles

from .models import Visit, VisitDefinition


def _is_trial_admin(request) -> bool:
    return roles.has_role(request.user, roles.Role.TRIAL_ADMIN)


@admin.register(VisitDefinition)
class VisitDefinitionAdmin(SimpleHistoryAdmin):
    list_display = ("name", "code", "kind", "day", "window_before", "window_after", "order")
    list_filter = ("trial", "kind")
    readonly_fields = ("trial", "code", "kind", "dose_number")
    ordering = ("trial", "order")

    def has_module_permission(self, request) -> bool:
        return _is_trial_admin(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return _is_trial_admin(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return _is_trial_admin(request)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        from trials.audit import save_audited

        save_audited(obj, reason="Changed in the admin site", user=request.user)


@admin.register(Visit)
class VisitAdmin(SimpleHistoryAdmin):
    list_display = ("patient", "definition", "target_date", "status")
    list_filter = ("status", "definition__kind")

    def get_queryset(self, request):
        from trials.selectors import patient_list

        return (
            super()
            .get_queryset(request)
            .filter(patient__in=patient_list(user=request.user))
            .select_related("patient", "definition")
        )

    def has_module_permission(self, request) -> bool:
        return _is_trial_admin(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return _is_trial_admin(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
