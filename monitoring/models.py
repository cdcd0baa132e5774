"""Monitoring state of the clinical data: data queries, source data verification, locks and
the principal investigator's casebook signature (issue 14; ICH E6(R3) 3.11, 21 CFR 11.50,
11.70). Each is audited (simple-history): who raised, answered, verified, locked or signed.

A form is named by its registry code (``crf.registry.FORMS``) and the record's primary key;
``field`` is blank for the whole form. Nothing here holds or names a treatment arm.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from trials.models import Patient

USER = settings.AUTH_USER_MODEL


class DataQuery(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ANSWERED = "answered", _("Answered")
        CLOSED = "closed", _("Closed")

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    visit = models.ForeignKey(
        "crf.Visit", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    form_code = models.CharField(_("Form"), max_length=30)
    record_id = models.PositiveBigIntegerField(null=True, blank=True)
    field = models.CharField(max_length=60, blank=True, help_text=_("Blank: the whole form."))
    text = models.TextField(_("Query"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    automatic = models.BooleanField(
        default=False, help_text=_("Raised by the system (soft edit check overridden).")
    )
    raised_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    raised_at = models.DateTimeField()
    due_date = models.DateField()
    answer = models.TextField(blank=True)
    answered_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-raised_at", "-id"]
        verbose_name = _("data query")
        verbose_name_plural = _("data queries")
        indexes = [
            models.Index(fields=["patient", "status"], name="query_patient_status"),
            # The dashboards' open queries, oldest due first (#16): walked in this order and
            # stopped at the first page, instead of every open query of the sites sorted.
            models.Index(
                fields=["due_date", "id"], condition=Q(status="open"), name="query_open_due"
            ),
        ]

    def __str__(self) -> str:
        return f"Query #{self.pk} on {self.form_code}{'.' + self.field if self.field else ''}"


class SdvMark(models.Model):
    """A field (or whole form) verified against the source; cleared when the data change."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    form_code = models.CharField(_("Form"), max_length=30)
    record_id = models.PositiveBigIntegerField()
    field = models.CharField(max_length=60, blank=True, help_text=_("Blank: the whole form."))
    verified_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    verified_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_reason = models.CharField(max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["form_code", "record_id", "field"]
        verbose_name = _("source data verification")
        constraints = [
            models.UniqueConstraint(
                fields=["form_code", "record_id", "field"],
                condition=Q(cleared_at__isnull=True),
                name="one_active_sdv_mark_per_item",
            )
        ]

    def __str__(self) -> str:
        return f"SDV {self.form_code}#{self.record_id} {self.field or '(whole form)'}"


class Lock(models.Model):
    """A data manager's lock of a patient, a visit or one form: no edits while active."""

    class Level(models.TextChoices):
        PATIENT = "patient", _("Patient")
        VISIT = "visit", _("Visit")
        FORM = "form", _("Form")

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    level = models.CharField(max_length=10, choices=Level.choices)
    visit = models.ForeignKey(
        "crf.Visit", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    form_code = models.CharField(_("Form"), max_length=30, blank=True)
    record_id = models.PositiveBigIntegerField(null=True, blank=True)
    locked_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    locked_at = models.DateTimeField()
    unlocked_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    unlocked_at = models.DateTimeField(null=True, blank=True)
    unlock_reason = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-locked_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(level="visit") | Q(visit__isnull=False),
                name="visit_lock_names_a_visit",
            ),
            models.CheckConstraint(
                condition=~Q(level="form") | (~Q(form_code="") & Q(record_id__isnull=False)),
                name="form_lock_names_a_record",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} lock of {self.patient}"

    @property
    def active(self) -> bool:
        return self.unlocked_at is None


class CasebookSignature(models.Model):
    """The PI's electronic signature of a patient's casebook, bound to the data it approved.

    ``data_hash`` is the SHA-256 of the casebook's audit-trail state when signed; any later
    change of the patient's data gives another hash, so the signature no longer applies.
    """

    MEANING = "I approve the data in this casebook"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    signed_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    signer_name = models.CharField(max_length=300)
    signed_at = models.DateTimeField()
    meaning = models.CharField(max_length=200)
    data_hash = models.CharField(max_length=64)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-signed_at", "-id"]

    def __str__(self) -> str:
        return f"Signature of {self.patient} by {self.signer_name}"
