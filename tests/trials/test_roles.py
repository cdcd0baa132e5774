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


@pytest.mark.django_db
class TestMaySeeArm:
    def test_unblinded_roles_may_see_arm(self, pharmacist, unblinded_statistician, patient):
        assert roles.may_see_arm(pharmacist, patient)
        assert roles.may_see_arm(unblinded_statistician, patient)

    def test_blinded_roles_may_not(self, blinded_users, patient):
        for name, user in blinded_users.items():
            assert not roles.may_see_arm(user, patient), name

    def test_pharmacist_of_another_site_may_not(self, pharmacist, other_site_patient):
        assert not roles.may_see_arm(pharmacist, other_site_patient)

    def test_pi_sees_only_the_patient_they_unblinded(self, principal_investigator, site):
        from randomization.models import EmergencyUnblinding
        from tests.factories import PatientFactory

        unblinded, other = PatientFactory(site=site), PatientFactory(site=site)
        EmergencyUnblinding.objects.create(
            patient=unblinded, unblinded_by=principal_investigator, reason="Anaphylaxis"
        )
        assert roles.may_see_arm(principal_investigator, unblinded)
        assert not roles.may_see_arm(principal_investigator, other)

    def test_unblinding_by_one_pi_does_not_unblind_a_colleague(
        self, principal_investigator, investigator, patient
    ):
        from randomization.models import EmergencyUnblinding

        EmergencyUnblinding.objects.create(
            patient=patient, unblinded_by=principal_investigator, reason="SAE"
        )
        assert not roles.may_see_arm(investigator, patient)
