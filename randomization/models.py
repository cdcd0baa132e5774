"""Randomization list, allocations, dose preparation and emergency unblinding.

The arm is stored only in this app's models; it is read through the guarded selector
``randomization.selectors.allocation_get_unblinded`` and nowhere else (STYLE.md §3).
"""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords


class EmergencyUnblinding(models.Model):
    """A principal investigator's recorded emergency unblinding of one patient."""

    patient = models.ForeignKey(
        "trials.Patient", on_delete=models.PROTECT, related_name="emergency_unblindings"
    )
    unblinded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    reason = models.TextField()
    unblinded_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"Emergency unblinding of {self.patient}"
