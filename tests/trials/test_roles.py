import pytest

from trials import roles


@pytest.mark.django_db
class TestSiteScope:
    def test_site_staff_see_their_site_only(self, investigator, site, other_site):
        assert roles.can_view_site(investigator, site)
        assert not roles.can_view_site(investigator, other_site)

    def test_central_roles_see_every_site(self, data_manager, site, other_site):
        assert roles.can_view_site(data_manager, site)
        assert roles.can_view_site(data_manager, other_site)

    def test_user_without_role_sees_nothing(self, no_role_user, site):
        assert not roles.can_view_site(no_role_user, site)

    def test_only_site_investigators_enter_data(
        self, investigator, principal_investigator, monitor, data_manager, pharmacist, site
    ):
        assert roles.can_enter_data(investigator, site)
        assert roles.can_enter_data(principal_investigator, site)
        assert not roles.can_enter_data(monitor, site)
        assert not roles.can_enter_data(data_manager, site)
        assert not roles.can_enter_data(pharmacist, site)
