"""One access helper (issue 12): ``patient_get`` answers 404 alike for missing and forbidden,
``for_entry`` adds the data-entry rule, and selectors re-check only what it did not return."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from trials import selectors
from trials.models import Patient

pytestmark = pytest.mark.django_db


def test_missing_and_forbidden_patients_are_the_same_404(investigator, other_site_patient):
    with pytest.raises(Http404) as missing:
        selectors.patient_get(user=investigator, pk=10**9)
    with pytest.raises(Http404) as forbidden:
        selectors.patient_get(user=investigator, pk=other_site_patient.pk)
    assert str(missing.value) == str(forbidden.value)


def test_for_entry_refuses_readers_who_may_see_the_patient(investigator, monitor, patient):
    assert selectors.patient_get(user=investigator, pk=patient.pk, for_entry=True) == patient
    assert selectors.patient_get(user=monitor, pk=patient.pk) == patient
    with pytest.raises(PermissionDenied):
        selectors.patient_get(user=monitor, pk=patient.pk, for_entry=True)


def test_selectors_recheck_a_patient_that_did_not_come_from_the_helper(
    investigator, other_site_investigator, patient
):
    checked = selectors.patient_get(user=investigator, pk=patient.pk)
    with CaptureQueriesContext(connection) as ctx:
        assert selectors.patient_checked(user=investigator, patient=checked) is checked
    assert len(ctx.captured_queries) == 0
    # Checked for one user is not checked for another, nor is a bare ORM object.
    with pytest.raises(Http404):
        selectors.patient_checked(user=other_site_investigator, patient=checked)
    with pytest.raises(Http404):
        selectors.patient_checked(
            user=other_site_investigator, patient=Patient.objects.get(pk=patient.pk)
        )
