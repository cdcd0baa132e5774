"""The blinding rule: who may see a patient's treatment arm (synopsis, Randomization).

One predicate, asked by the guarded arm selector (``selectors.allocation_get_unblinded`` and
its batched twin), the allocation API and the audit trail. Roles and site scope come from
``trials.roles``; the emergency unblinding is this app's own record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trials import roles

from .models import EmergencyUnblinding

if TYPE_CHECKING:
    from trials.models import Patient
    from trials.roles import AnyUser


def may_see_arm(user: AnyUser, patient: Patient) -> bool:
    """Pharmacist, unblinded statistician, or the one investigator who recorded an emergency
    unblinding of this patient; never outside the sites the user may see."""
    if not roles.can_view_site(user, patient.site_id):
        return False
    if roles.is_unblinded_role(user):
        return True
    return EmergencyUnblinding.objects.filter(patient=patient, unblinded_by=user).exists()


def may_see_allocation_trail(user: AnyUser, patient: Patient | None = None) -> bool:
    """The allocation's audit trail: for one patient, whoever may see its arm; in the
    trial-wide log (no patient), the unblinded roles only."""
    if patient is None:
        return roles.is_unblinded_role(user)
    return may_see_arm(user, patient)
