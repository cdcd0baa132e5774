"""Admin for the trial administrator: trial configuration, sites, memberships, users.

Clinical data (patients, screening, scores) is not edited here: writes go through the
services and pages, so every change carries its reason and passes the same checks.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from simple_history.admin import SimpleHistoryAdmin

from . import roles, services
from .models import AccessEvent, RoleGrantRequest, Site, SiteMembership, Trial
from .signals import UNBLINDED_GROUP_NAMES


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

    def has_change_permission(self, request, obj=None) -> bool:
        # A membership is a (user, site) pair: grant another one rather than edit it.
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change) -> None:
        # The same service as the access pages: records who granted it.
        granted = services.site_membership_grant(
            user=obj.user, site=obj.site, granted_by=request.user
        )
        obj.pk = granted.pk


User = get_user_model()
admin.site.unregister(User)


class BlindedGroupsField(forms.ModelMultipleChoiceField):
    """The roles an administrator may set directly: never an unblinded one (issue 9).

    Posting an unblinded group is refused with a message naming the approval route, and the
    attempt is written to the access audit.
    """

    def __init__(self, *args, request_user=None, **kwargs) -> None:
        self.request_user = request_user
        super().__init__(*args, **kwargs)

    def clean(self, value):
        ids = [str(v) for v in (value or [])]
        attempted = Group.objects.filter(
            pk__in=[v for v in ids if v.isdigit()], name__in=UNBLINDED_GROUP_NAMES
        )
        if attempted:
            names = ", ".join(g.name for g in attempted)
            services.access_event_record(
                action=AccessEvent.Action.ROLE_GRANT_REFUSED,
                actor=self.request_user,
                detail=f"{names}: set directly in the admin (needs an approved request)",
            )
            raise ValidationError(
                "An unblinded role is granted only through a role request approved by the "
                "unblinded statistician or a superuser."
            )
        return super().clean(value)


class UserInviteForm(forms.ModelForm):
    """New accounts get no password from the administrator: a one-time link is e-mailed."""

    class Meta:
        model = User
        fields = ("username", "first_name", "last_name", "email")


@admin.register(User)
class TrialUserAdmin(SimpleHistoryAdmin, UserAdmin):
    """Only a superuser grants superuser status or raw permissions; nobody changes their own
    roles; unblinded roles come only from an approved ``RoleGrantRequest``; no administrator
    sets another user's password (a one-time link does), and a blinded administrator cannot
    edit the account of someone who holds an unblinded role (no e-mail swap + reset link)."""

    add_form = UserInviteForm
    add_fieldsets = ((None, {"fields": ("username", "first_name", "last_name", "email")}),)
    actions = ["send_password_link"]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ["is_superuser", "user_permissions"]
            if obj is not None and obj.pk == request.user.pk:
                readonly += ["groups", "is_staff", "is_active"]
        return readonly

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and not request.user.is_superuser and roles.is_unblinded_role(obj):
            return roles.is_unblinded_role(request.user)
        return super().has_change_permission(request, obj)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups":
            kwargs["queryset"] = Group.objects.exclude(name__in=UNBLINDED_GROUP_NAMES)
            kwargs["form_class"] = BlindedGroupsField
            kwargs["request_user"] = request.user
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_related(self, request, form, formsets, change) -> None:
        # The form never lists unblinded groups: keep the ones the user already holds.
        user = form.instance
        kept = list(user.groups.filter(name__in=UNBLINDED_GROUP_NAMES)) if change else []
        before = set(user.groups.values_list("name", flat=True)) if change else set()
        if "groups" in form.cleaned_data:
            form.cleaned_data["groups"] = [*form.cleaned_data["groups"], *kept]
        super().save_related(request, form, formsets, change)
        after = set(user.groups.values_list("name", flat=True))
        for name, action in [
            *((n, AccessEvent.Action.ROLE_GRANTED) for n in sorted(after - before)),
            *((n, AccessEvent.Action.ROLE_REVOKED) for n in sorted(before - after)),
        ]:
            services.access_event_record(
                action=action, actor=request.user, subject_user=user, detail=f"{name} (admin)"
            )

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.set_unusable_password()
        super().save_model(request, obj, form, change)
        if not change and obj.email:
            services.password_link_send(sent_by=request.user, user=obj, request=request)

    def user_change_password(self, request, id, form_url=""):
        if str(request.user.pk) != str(id):
            raise PermissionDenied("Users set their own password (send them a one-time link).")
        return super().user_change_password(request, id, form_url)

    @admin.action(description="E-mail a one-time link to set their password")
    def send_password_link(self, request, queryset) -> None:
        for user in queryset:
            try:
                services.password_link_send(sent_by=request.user, user=user, request=request)
            except ValidationError as exc:
                self.message_user(request, "; ".join(exc.messages), messages.WARNING)


@admin.register(RoleGrantRequest)
class RoleGrantRequestAdmin(SimpleHistoryAdmin):
    """Requests are made here by the trial administrator (through the service); unblinded ones
    are decided on the role-requests page by the unblinded statistician or a superuser."""

    list_display = ("user", "role", "status", "requested_by", "requested_at", "decided_by")
    list_filter = ("status", "role")
    fields = ("user", "role", "reason")

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return roles.can_manage_users(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return roles.can_manage_users(request.user) or roles.can_approve_unblinded_grants(
            request.user
        )

    has_module_permission = has_view_permission

    def save_model(self, request, obj, form, change) -> None:
        grant = services.role_grant_request(
            requested_by=request.user,
            user=form.cleaned_data["user"],
            role=form.cleaned_data["role"],
            reason=form.cleaned_data["reason"],
        )
        obj.pk = grant.pk


@admin.register(AccessEvent)
class AccessEventAdmin(admin.ModelAdmin):
    """The access audit, read-only: nothing here can be added, changed or deleted."""

    list_display = ("at", "action", "subject_user", "actor", "detail")
    list_filter = ("action",)
    list_select_related = ("actor", "subject_user")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return roles.can_manage_users(request.user)

    has_module_permission = has_view_permission
