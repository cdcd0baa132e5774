"""The change feed's events and the stored files of export jobs.

``ChangeEvent.seq`` is the client's cursor (``/api/v1/changes/?after=<seq>``). It is NOT the
primary key: a sequence value drawn at INSERT time can become visible after a higher one (two
transactions commit in the other order), and a client that stored the higher id would skip
the lower one forever. ``seq`` is drawn at COMMIT time instead, under a transaction-level
lock held until the commit is visible (migration 0001: a deferred constraint trigger on
PostgreSQL; on SQLite the database's single writer lock gives the same order), so every
reader sees a gap-free prefix of ``seq`` order: whatever is committed later gets a higher seq.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ChangeEvent(models.Model):
    """One audited change (a history row) of a record the feed publishes; append-only."""

    audit_exempt = True  # an index over history rows, itself never edited

    class Kind(models.TextChoices):
        PATIENT = "patient", "Patient (registration, status)"
        SCREENING = "screening", "Screening form"
        FORM = "form", "eCRF saved"
        VISIT = "visit", "Visit (status, dates)"
        SCORES = "scores", "Scores recomputed"
        ALLOCATION = "allocation", "Randomization (unblinded roles only)"

    class Change(models.TextChoices):
        CREATED = "+", "created"
        CHANGED = "~", "changed"
        DELETED = "-", "deleted"

    seq = models.BigIntegerField(null=True, blank=True, unique=True, editable=False)
    at = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    model = models.CharField(max_length=60, help_text="app_label.model of the changed record")
    object_id = models.BigIntegerField()
    history_id = models.BigIntegerField()
    change = models.CharField(max_length=1, choices=Change.choices)
    # No database constraints on these keys, as on simple-history's own tables: an FK check
    # takes a KEY SHARE row lock on the patient at commit, which deadlocked with the row
    # locks of concurrent randomizations (tests/randomization/test_rand_concurrency.py).
    patient = models.ForeignKey(
        "trials.Patient",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    site = models.ForeignKey(
        "trials.Site",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    form_code = models.CharField(max_length=30, blank=True)
    status = models.CharField(max_length=20, blank=True, help_text="Record status after it")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    # Allocation events: only unblinded roles get them (they carry no arm, but the pharmacy
    # and statistician feeds are theirs alone).
    unblinded_only = models.BooleanField(default=False)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["site", "seq"], name="changeevent_site_seq")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind} {self.model}:{self.object_id}"


class ExportJob(models.Model):
    """A large export run by a Celery task; the file is kept for its requester to download."""

    audit_exempt = True  # exports are audited in trials.AccessEvent

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Running"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done")
    filename = models.CharField(max_length=120, blank=True)
    content_type = models.CharField(max_length=60, blank=True)
    file = models.BinaryField(null=True, blank=True, editable=False)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"Export {self.pk} ({self.get_status_display()})"
