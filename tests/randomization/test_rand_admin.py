"""Admin: the randomization tables exist only for the unblinded statistician."""

from __future__ import annotations

import pytest
from django.urls import reverse

from randomization.models import (
    Allocation,
    ArmAccessLog,
    DosePreparation,
    EmergencyUnblinding,
    RandomizationList,
    RandomizationListEntry,
)
from tests.randomization.factories import arm_words, prepare

pytestmark = pytest.mark.django_db

MODELS = [
    RandomizationList,
    RandomizationListEntry,
    Allocation,
    DosePreparation,
    EmergencyUnblinding,
    ArmAccessLog,
]


def _admin_urls(by_arm):
    allocation = Allocation.objects.get(patient=by_arm["A"])
    urls = [reverse(f"admin:randomization_{m._meta.model_name}_changelist") for m in MODELS]
    urls += [
        reverse("admin:randomization_allocation_change", args=[allocation.pk]),
        reverse("admin:randomization_allocation_history", args=[allocation.pk]),
        reverse("admin:randomization_randomizationlistentry_change", args=[allocation.entry_id]),
    ]
    return urls


def test_trial_admin_cannot_reach_the_randomization_admin(client, trial_admin, by_arm, pharmacist):
    prepare(by_arm["A"], pharmacist, cells=True)
    trial_admin.is_staff = True
    trial_admin.save()
    client.force_login(trial_admin)
    index = client.get(reverse("admin:index")).content.decode()
    assert "Randomization" not in index
    assert arm_words(index) == []
    for url in _admin_urls(by_arm):
        response = client.get(url)
        assert response.status_code in (403, 404), url
        assert arm_words(response.content.decode()) == [], url
        assert "LOT-7731" not in response.content.decode()


def test_statistician_reads_the_randomization_admin_read_only(
    client, unblinded_statistician, by_arm
):
    unblinded_statistician.is_staff = True
    unblinded_statistician.save()
    client.force_login(unblinded_statistician)
    for url in _admin_urls(by_arm):
        assert client.get(url).status_code == 200, url
    add = client.get(reverse("admin:randomization_allocation_add"))
    assert add.status_code == 403
