import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, trial_admin):
    trial_admin.is_staff = True
    trial_admin.save()
    client.force_login(trial_admin)
    return client


def test_trial_admin_manages_sites_and_memberships(admin_client, site):
    assert admin_client.get(reverse("admin:trials_site_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:trials_sitemembership_add")).status_code == 200


def test_trial_admin_cannot_change_their_own_roles(admin_client, trial_admin, groups):
    url = reverse("admin:auth_user_change", args=[trial_admin.pk])
    form = admin_client.get(url).context["adminform"].form
    assert "groups" not in form.fields
    assert "is_superuser" not in form.fields


def test_trial_admin_cannot_grant_superuser_to_others(admin_client, investigator):
    url = reverse("admin:auth_user_change", args=[investigator.pk])
    form = admin_client.get(url).context["adminform"].form
    assert "is_superuser" not in form.fields
    assert "groups" in form.fields


def test_clinical_data_is_not_editable_in_the_admin(admin_client, patient):
    assert admin_client.get("/admin/trials/patient/").status_code == 404


def test_membership_added_in_the_admin_goes_through_the_service(
    admin_client, trial_admin, investigator, other_site
):
    """Issue 12: the admin is one more write path; the grant records who granted it."""
    from trials.models import SiteMembership

    response = admin_client.post(
        reverse("admin:trials_sitemembership_add"),
        {"user": investigator.pk, "site": other_site.pk},
    )
    assert response.status_code == 302
    membership = SiteMembership.objects.get(user=investigator, site=other_site)
    assert [(h.history_type, h.history_user) for h in membership.history.all()] == [
        ("+", trial_admin)
    ]
    change = reverse("admin:trials_sitemembership_change", args=[membership.pk])
    assert (
        admin_client.post(change, {"user": investigator.pk, "site": other_site.pk}).status_code
        == 403
    )
