"""Admin: the visit schedule for the trial administrator (audited); visits read-only.

Schedule changes go through ``services.visit_definition_update`` like the schedule page: a
reason is required and recorded; the expected/required forms are edited on that page.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from trials import roles
from trials.audit import meaningful_reason
from trials.selectors import patient_list

from .models import Visit, VisitDefinition
from .services import visit_definition_update

_EDITABLE = ("name", "day", "window_before", "window_after", "missed_after_days", "order")


class VisitDefinitionAdminForm(forms.ModelForm):
    reason_for_change = forms.CharField(
        label=_("Reason for change"), widget=forms.Textarea(attrs={"rows": 2})
    )

    class Meta:
        model = VisitDefinition
        fields = _EDITABLE

    def clean_reason_for_change(self) -> str:
        try:
            return meaningful_reason(
                self.cleaned_data.get("reason_for_change", ""), field="reason_for_change"
            )
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["reason_for_change"]) from None


def _is_trial_admin(request) -> bool:
    return roles.has_role(request.user, roles.Role.TRIAL_ADMIN)


@admin.register(VisitDefinition)
class VisitDefinitionAdmin(SimpleHistoryAdmin):
    list_display = ("name", "code", "kind", "day", "window_before", "window_after", "order")
    list_filter = ("trial", "kind")
    form = VisitDefinitionAdminForm
    fields = (*_EDITABLE, "reason_for_change", "trial", "code", "kind", "dose_number")
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
        # The service changes a fresh copy: the one path for every schedule change.
        visit_definition_update(
            user=request.user,
            definition=VisitDefinition.objects.get(pk=obj.pk),
            data={name: form.cleaned_data[name] for name in _EDITABLE},
            reason=form.cleaned_data["reason_for_change"],
        )
        obj.refresh_from_db()


@admin.register(Visit)
class VisitAdmin(SimpleHistoryAdmin):
    list_display = ("patient", "definition", "target_date", "status")
    list_filter = ("status", "definition__kind")

    def get_queryset(self, request):
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
