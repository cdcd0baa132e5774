"""Separation of duties (issue 9): a blinded administrator can never obtain the arm.

The escalation that worked: the trial administrator created a user in the Django admin, gave
it the unblinded statistician (or pharmacist) group, logged in as it and read the list; the
admin also offered to set the real statistician's password. Each step is refused now.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.test import Client

from tests.conftest import PASSWORD, make_user
from tests.randomization.factories import eligible_patient, randomize
from trials import services
from trials.models import AccessEvent, RoleGrantRequest
from trials.roles import UNBLINDED_ROLES, Role

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def admin_client(trial_admin):
    trial_admin.is_staff = True
    trial_admin.save()
    client = Client()
    client.force_login(trial_admin)
    return client


def _unblinded_group_ids() -> list[int]:
    return list(
        Group.objects.filter(name__in=[r.value for r in UNBLINDED_ROLES]).values_list(
            "pk", flat=True
        )
    )


def test_blinded_admin_cannot_escalate_to_an_unblinded_role(
    admin_client, trial_admin, unblinded_statistician, site, investigator
):
    patient = eligible_patient(site)
    randomize(patient, investigator)
    # 1. Create a user through the admin (a one-time link replaces any password typed here).
    admin_client.post(
        "/admin/auth/user/add/",
        {
            "username": "mole",
            "email": "mole@example.org",
            "password1": "Sneaky-Pass-77",
            "password2": "Sneaky-Pass-77",
            "usable_password": "true",
        },
    )
    mole = User.objects.get(username="mole")
    assert not mole.has_usable_password()
    # 2. The admin form offers no unblinded group, and posting one is refused.
    page = admin_client.get(f"/admin/auth/user/{mole.pk}/change/").content.decode()
    for gid in _unblinded_group_ids():
        assert f'value="{gid}"' not in page
    admin_client.post(
        f"/admin/auth/user/{mole.pk}/change/",
        {
            "username": "mole",
            "email": "mole@example.org",
            "is_active": "on",
            "is_staff": "",
            "groups": _unblinded_group_ids(),
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert not mole.groups.filter(pk__in=_unblinded_group_ids()).exists()
    # 3. Nor can the admin set the real statistician's password.
    before = User.objects.get(pk=unblinded_statistician.pk).password
    response = admin_client.post(
        f"/admin/auth/user/{unblinded_statistician.pk}/password/",
        {"password1": "Taken-Over-123", "password2": "Taken-Over-123"},
    )
    assert response.status_code in (403, 404)
    assert User.objects.get(pk=unblinded_statistician.pk).password == before
    # 4. Logged in as the new account, the arm stays hidden.
    client = Client()
    client.force_login(mole)
    body = client.get(f"/api/v1/patients/{patient.pk}/allocation/")
    assert body.status_code == 404 or "arm" not in body.json()
    # 5. Every refusal is in the access audit.
    assert AccessEvent.objects.filter(
        action=AccessEvent.Action.ROLE_GRANT_REFUSED, actor=trial_admin
    ).exists()


def test_unblinded_role_cannot_be_added_outside_the_approval_service(groups, investigator):
    with pytest.raises(PermissionDenied, match="approval"), transaction.atomic():
        investigator.groups.add(groups[Role.PHARMACIST])
    with pytest.raises(PermissionDenied, match="approval"), transaction.atomic():
        groups[Role.UNBLINDED_STATISTICIAN].user_set.add(investigator)
    assert not investigator.groups.filter(name=Role.PHARMACIST.value).exists()


def test_blinded_role_is_granted_at_once_and_audited(groups, trial_admin, no_role_user):
    grant = services.role_grant_request(
        requested_by=trial_admin, user=no_role_user, role=Role.MONITOR, reason="New CRA"
    )
    assert grant.status == RoleGrantRequest.Status.APPROVED
    assert no_role_user.groups.filter(name=Role.MONITOR.value).exists()
    assert AccessEvent.objects.filter(action=AccessEvent.Action.ROLE_GRANTED).count() == 1


def test_unblinded_role_needs_a_second_person_and_tells_the_sponsor(
    settings,
    groups,
    trial_admin,
    unblinded_statistician,
    no_role_user,
    django_capture_on_commit_callbacks,
):
    settings.SPONSOR_EMAILS = ["sponsor@example.org"]
    request = services.role_grant_request(
        requested_by=trial_admin, user=no_role_user, role=Role.PHARMACIST, reason="New pharmacist"
    )
    assert request.status == RoleGrantRequest.Status.PENDING
    assert not no_role_user.groups.exists()
    with pytest.raises(PermissionDenied):  # the requester never approves their own request
        services.role_grant_decide(
            approver=trial_admin, grant=request, approve=True, reason="ok by me"
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.role_grant_decide(
            approver=unblinded_statistician,
            grant=request,
            approve=True,
            reason="Checked with sponsor",
        )
    request.refresh_from_db()
    assert request.status == RoleGrantRequest.Status.APPROVED
    assert request.decided_by == unblinded_statistician
    assert no_role_user.groups.filter(name=Role.PHARMACIST.value).exists()
    assert [m.to for m in mail.outbox if "Pharmacist" in m.subject] == [["sponsor@example.org"]]
    actions = set(AccessEvent.objects.values_list("action", flat=True))
    assert {AccessEvent.Action.ROLE_GRANT_REQUESTED, AccessEvent.Action.ROLE_GRANTED} <= actions


def test_refused_request_grants_nothing_and_is_recorded(
    groups, trial_admin, unblinded_statistician, no_role_user
):
    request = services.role_grant_request(
        requested_by=trial_admin,
        user=no_role_user,
        role=Role.UNBLINDED_STATISTICIAN,
        reason="x y z",
    )
    services.role_grant_decide(
        approver=unblinded_statistician, grant=request, approve=False, reason="Not on the list"
    )
    request.refresh_from_db()
    assert request.status == RoleGrantRequest.Status.REFUSED
    assert not no_role_user.groups.exists()
    assert AccessEvent.objects.filter(action=AccessEvent.Action.ROLE_GRANT_REFUSED).exists()


@pytest.mark.parametrize("approver_role", [Role.TRIAL_ADMIN, Role.PHARMACIST, Role.MONITOR])
def test_only_the_statistician_or_a_superuser_approves(
    groups, site, trial_admin, no_role_user, approver_role
):
    approver = make_user(groups, approver_role, site, username="approver")
    request = services.role_grant_request(
        requested_by=trial_admin, user=no_role_user, role=Role.PHARMACIST, reason="New pharmacist"
    )
    with pytest.raises(PermissionDenied):
        services.role_grant_decide(approver=approver, grant=request, approve=True, reason="fine")
    assert not no_role_user.groups.exists()


def test_nobody_approves_a_grant_to_themselves(groups, trial_admin, unblinded_statistician):
    request = services.role_grant_request(
        requested_by=trial_admin, user=unblinded_statistician, role=Role.PHARMACIST, reason="cover"
    )
    with pytest.raises(PermissionDenied):
        services.role_grant_decide(
            approver=unblinded_statistician, grant=request, approve=True, reason="me"
        )


def test_superuser_approves_through_the_service(groups, trial_admin, no_role_user):
    root = User.objects.create_superuser("root", "root@example.org", PASSWORD)
    request = services.role_grant_request(
        requested_by=trial_admin, user=no_role_user, role=Role.PHARMACIST, reason="New pharmacist"
    )
    services.role_grant_decide(approver=root, grant=request, approve=True, reason="Approved")
    assert no_role_user.groups.filter(name=Role.PHARMACIST.value).exists()


def test_a_decided_request_cannot_be_decided_again(
    groups, trial_admin, unblinded_statistician, no_role_user
):
    request = services.role_grant_request(
        requested_by=trial_admin, user=no_role_user, role=Role.PHARMACIST, reason="New pharmacist"
    )
    services.role_grant_decide(
        approver=unblinded_statistician, grant=request, approve=False, reason="Not agreed"
    )
    with pytest.raises(ValidationError):
        services.role_grant_decide(
            approver=unblinded_statistician, grant=request, approve=True, reason="Yes after all"
        )


def test_admin_sends_a_one_time_set_password_link_instead_of_setting_passwords(
    admin_client, no_role_user
):
    no_role_user.email = "norole@example.org"
    no_role_user.save()
    response = admin_client.post(
        "/admin/auth/user/",
        {"action": "send_password_link", "_selected_action": [no_role_user.pk]},
    )
    assert response.status_code == 302
    [message] = mail.outbox
    assert message.to == ["norole@example.org"]
    assert "/accounts/reset/" in message.body


def test_blinded_admin_cannot_edit_an_unblinded_account(admin_client, unblinded_statistician):
    """Else: change the statistician's e-mail to one's own, send the set-password link."""
    response = admin_client.post(
        f"/admin/auth/user/{unblinded_statistician.pk}/change/",
        {
            "username": unblinded_statistician.username,
            "email": "attacker@example.org",
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 403
    unblinded_statistician.refresh_from_db()
    assert unblinded_statistician.email != "attacker@example.org"


def test_admin_change_of_blinded_roles_keeps_held_unblinded_roles_and_is_audited(
    admin_client, trial_admin, groups, site
):
    pharmacist = make_user(groups, Role.PHARMACIST, site, username="pharma2")
    pharmacist.groups.add(groups[Role.MONITOR])
    # A blinded admin may not edit this account at all; a superuser edits its blinded roles.
    root = User.objects.create_superuser("root", "root@example.org", PASSWORD)
    client = Client()
    client.force_login(root)
    response = client.post(
        f"/admin/auth/user/{pharmacist.pk}/change/",
        {
            "username": "pharma2",
            "is_active": "on",
            "groups": [groups[Role.INVESTIGATOR].pk],
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 302
    names = set(pharmacist.groups.values_list("name", flat=True))
    assert names == {Role.PHARMACIST.value, Role.INVESTIGATOR.value}
    details = set(AccessEvent.objects.values_list("action", "detail"))
    assert (AccessEvent.Action.ROLE_GRANTED, "investigator (admin)") in details
    assert (AccessEvent.Action.ROLE_REVOKED, "monitor (admin)") in details


def test_statistician_decides_on_the_role_requests_page(
    client, groups, trial_admin, unblinded_statistician, no_role_user, investigator
):
    grant = services.role_grant_request(
        requested_by=trial_admin, user=no_role_user, role=Role.PHARMACIST, reason="New pharmacist"
    )
    client.force_login(investigator)
    assert client.get("/access/role-requests/").status_code == 404
    client.force_login(unblinded_statistician)
    assert "New pharmacist" in client.get("/access/role-requests/").content.decode()
    response = client.post(
        "/access/role-requests/", {"grant": grant.pk, "decision": "approve", "reason": ""}
    )
    assert response.status_code == 200  # the reason is required; nothing decided
    grant.refresh_from_db()
    assert grant.status == RoleGrantRequest.Status.PENDING
    response = client.post(
        "/access/role-requests/",
        {"grant": grant.pk, "decision": "approve", "reason": "Confirmed with the sponsor"},
    )
    assert response.status_code == 302
    assert no_role_user.groups.filter(name=Role.PHARMACIST.value).exists()


def test_trial_admin_requests_a_role_in_the_admin(admin_client, trial_admin, no_role_user):
    response = admin_client.post(
        "/admin/trials/rolegrantrequest/add/",
        {"user": no_role_user.pk, "role": Role.PHARMACIST.value, "reason": "New pharmacist"},
    )
    assert response.status_code == 302
    grant = RoleGrantRequest.objects.get()
    assert (grant.requested_by, grant.status) == (trial_admin, RoleGrantRequest.Status.PENDING)
    assert not no_role_user.groups.exists()
