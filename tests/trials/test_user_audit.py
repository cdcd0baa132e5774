"""Role changes are audited with who and when (E6(R3) 4.3.8(c); AT-6)."""

import pytest

from tests.factories import UserFactory
from trials.roles import Role

pytestmark = pytest.mark.django_db


def test_granting_a_role_writes_a_history_row_with_the_groups(groups):
    user = UserFactory(username="newcomer")
    user.groups.add(groups[Role.MONITOR])
    latest = user.history.first()
    assert [g.group_id for g in latest.groups.all()] == [groups[Role.MONITOR].pk]
    user.groups.remove(groups[Role.MONITOR])
    assert user.history.first().groups.count() == 0
    assert user.history.count() >= 3  # created, role granted, role revoked


def test_password_hashes_are_not_copied_into_the_history(groups):
    user = UserFactory(username="secretive")
    user.set_password("Another-Horse-10")
    user.save()
    assert not hasattr(user.history.first(), "password")


def test_role_change_in_the_admin_is_attributed_to_the_administrator(
    client, trial_admin, investigator, groups
):
    trial_admin.is_staff = True
    trial_admin.save()
    client.force_login(trial_admin)
    from django.urls import reverse

    url = reverse("admin:auth_user_change", args=[investigator.pk])
    response = client.post(
        url,
        {
            "username": investigator.username,
            "groups": [groups[Role.MONITOR].pk],
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "10:00:00",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    latest = investigator.history.first()
    assert latest.history_user == trial_admin
    assert [g.group_id for g in latest.groups.all()] == [groups[Role.MONITOR].pk]
