"""The blinding rule (randomization/blinding.py): who may see a patient's arm, and its trail."""

import pytest

from randomization import blinding
from randomization.models import EmergencyUnblinding
from tests.factories import PatientFactory


@pytest.mark.django_db
class TestMaySeeArm:
    def test_unblinded_roles_may_see_arm(self, pharmacist, unblinded_statistician, patient):
        assert blinding.may_see_arm(pharmacist, patient)
        assert blinding.may_see_arm(unblinded_statistician, patient)

    def test_blinded_roles_may_not(self, blinded_users, patient):
        for name, user in blinded_users.items():
            assert not blinding.may_see_arm(user, patient), name

    def test_pharmacist_of_another_site_may_not(self, pharmacist, other_site_patient):
        assert not blinding.may_see_arm(pharmacist, other_site_patient)

    def test_pi_sees_only_the_patient_they_unblinded(self, principal_investigator, site):
        unblinded, other = PatientFactory(site=site), PatientFactory(site=site)
        EmergencyUnblinding.objects.create(
            patient=unblinded, unblinded_by=principal_investigator, reason="Anaphylaxis"
        )
        assert blinding.may_see_arm(principal_investigator, unblinded)
        assert not blinding.may_see_arm(principal_investigator, other)

    def test_unblinding_by_one_pi_does_not_unblind_a_colleague(
        self, principal_investigator, investigator, patient
    ):
        EmergencyUnblinding.objects.create(
            patient=patient, unblinded_by=principal_investigator, reason="SAE"
        )
        assert not blinding.may_see_arm(investigator, patient)


@pytest.mark.django_db
def test_allocation_trail_trial_wide_only_for_unblinded_roles(
    pharmacist, unblinded_statistician, blinded_users, principal_investigator, patient
):
    assert blinding.may_see_allocation_trail(pharmacist)
    assert blinding.may_see_allocation_trail(unblinded_statistician)
    for name, user in blinded_users.items():
        assert not blinding.may_see_allocation_trail(user), name
    # An emergency unblinding opens one patient's trail, never the trial-wide one.
    EmergencyUnblinding.objects.create(
        patient=patient, unblinded_by=principal_investigator, reason="SAE"
    )
    assert blinding.may_see_allocation_trail(principal_investigator, patient)
    assert not blinding.may_see_allocation_trail(principal_investigator)
