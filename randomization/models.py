"""Randomization list, allocations, dose preparation and emergency unblinding.

The arm is stored only in this app's models (``RandomizationListEntry.arm``); it is read
through the guarded selectors ``randomization.selectors.allocation_get_unblinded`` /
``allocation_list_unblinded`` and nowhere else outside this app's services (STYLE.md §3).
Lot numbers, cell counts and viability of a preparation are unblinded data too.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

# Synopsis: Arms. Codes are what the list holds; labels are shown to unblinded users only.
DEFAULT_ARM_LABELS = {"A": "MSC", "B": "Placebo"}
DEFAULT_ACTIVE_ARM = "A"  # the arm that receives cells (dose = 2 × 10^6 cells/kg)
DOSE_NUMBERS = (1, 2, 3, 4)  # synopsis: days 1, 4, 11 and 18


class ArmCode(models.TextChoices):
    A = "A", _("A")
    B = "B", _("B")


class RandomizationList(models.Model):
    """One version of the trial's stratified list (generated from a seed or uploaded)."""

    class Source(models.TextChoices):
        GENERATED = "generated", _("Generated in the EDC from a recorded seed")
        UPLOADED = "uploaded", _("Uploaded CSV")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUPERSEDED = "superseded", _("Superseded")

    trial = models.ForeignKey(
        "trials.Trial", on_delete=models.PROTECT, related_name="randomization_lists"
    )
    version = models.PositiveIntegerField()
    source = models.CharField(max_length=10, choices=Source.choices)
    # The seed is as secret as the list: unblinded roles only (admin, pages, command).
    seed = models.CharField(max_length=100, blank=True)
    block_sizes = models.JSONField(default=list)
    strata = models.JSONField(default=list)
    # Made by ``setup_liveradvance --demo-patients`` from a public seed: never for real patients
    # (a system check refuses DEBUG=0 with an active demo list unless DEMO_SERVER is set).
    is_demo = models.BooleanField(_("demo list"), default=False)
    length_per_stratum = models.PositiveIntegerField()
    arm_labels = models.JSONField(default=dict)
    active_arm_code = models.CharField(max_length=1, choices=ArmCode.choices)
    sha256 = models.CharField(_("SHA-256 of the canonical CSV"), max_length=64)
    generated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    generated_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    superseded_reason = models.TextField(blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)
    superseded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["trial", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["trial", "version"], name="list_version_unique"),
            models.UniqueConstraint(
                fields=["trial"],
                condition=Q(status="active"),
                name="one_active_list_per_trial",
            ),
        ]

    def __str__(self) -> str:
        demo = " DEMO" if self.is_demo else ""
        return f"Randomization list v{self.version}{demo} ({self.trial})"


class RandomizationListEntry(models.Model):
    """One slot of the list: stratum, position, block and the ARM (the secret)."""

    randomization_list = models.ForeignKey(
        RandomizationList, on_delete=models.PROTECT, related_name="entries"
    )
    stratum = models.CharField(max_length=2)
    sequence = models.PositiveIntegerField()
    block_number = models.PositiveIntegerField()
    block_size = models.PositiveSmallIntegerField()
    arm = models.CharField(max_length=1, choices=ArmCode.choices)
    history = HistoricalRecords()

    class Meta:
        ordering = ["randomization_list", "stratum", "sequence"]
        verbose_name_plural = _("randomization list entries")
        constraints = [
            models.UniqueConstraint(
                fields=["randomization_list", "stratum", "sequence"],
                name="list_entry_unique_position",
            ),
        ]

    def __str__(self) -> str:
        return f"List entry #{self.pk}"


class Allocation(models.Model):
    """A patient's randomization: one per patient, each list entry used once (DB-enforced)."""

    patient = models.OneToOneField(
        "trials.Patient", on_delete=models.PROTECT, related_name="allocation"
    )
    entry = models.OneToOneField(
        RandomizationListEntry, on_delete=models.PROTECT, related_name="allocation"
    )
    randomization_number = models.CharField(max_length=20, unique=True)
    stratum = models.CharField(_("Stratum (ACLF grade)"), max_length=2)
    randomized_at = models.DateTimeField()
    randomized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        # The pharmacist's doses due: earliest randomized first, in index order (#16).
        indexes = [models.Index(fields=["randomized_at"], name="allocation_randomized_at")]

    def __str__(self) -> str:
        return self.randomization_number


class DosePreparation(models.Model):
    """The pharmacist's record of one prepared dose (lot, cell count, viability: unblinded)."""

    patient = models.ForeignKey(
        "trials.Patient", on_delete=models.PROTECT, related_name="dose_preparations"
    )
    dose_number = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(len(DOSE_NUMBERS))]
    )
    prepared_at = models.DateTimeField()
    prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    checked_by = models.CharField(_("Checked by (second person)"), max_length=150)
    product_lot = models.CharField(_("Lot / batch"), max_length=60)
    cell_count = models.PositiveBigIntegerField(_("Total cells"), null=True, blank=True)
    viability_pct = models.DecimalField(
        _("Viability (%)"),
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    volume_ml = models.DecimalField(
        _("Volume (mL)"), max_digits=6, decimal_places=1, validators=[MinValueValidator(0.1)]
    )
    # The weight the dose was computed from and the prescribed cell count (active arm); the
    # same fields are filled for both arms so the records have one shape.
    weight_kg = models.DecimalField(
        _("Body weight used (kg)"), max_digits=5, decimal_places=1, null=True, blank=True
    )
    weight_measured_on = models.DateField(_("Weight measured on"), null=True, blank=True)
    prescribed_cells = models.PositiveBigIntegerField(_("Prescribed cells"), null=True, blank=True)
    confirmations = models.JSONField(
        default=list, blank=True, help_text=_("Checks the pharmacist confirmed (e.g. old weight).")
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "dose_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "dose_number"], name="one_preparation_per_dose"
            ),
            models.CheckConstraint(
                condition=Q(dose_number__gte=1) & Q(dose_number__lte=len(DOSE_NUMBERS)),
                name="dose_number_1_to_4",
            ),
        ]

    def __str__(self) -> str:
        return f"Dose {self.dose_number} preparation"


class EmergencyUnblinding(models.Model):
    """A principal investigator's recorded emergency unblinding of one patient."""

    patient = models.ForeignKey(
        "trials.Patient", on_delete=models.PROTECT, related_name="emergency_unblindings"
    )
    unblinded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    reason = models.TextField()
    unblinded_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-unblinded_at"]

    def __str__(self) -> str:
        return f"Emergency unblinding of {self.patient}"


class ArmAccessLog(models.Model):
    """Every read of an arm through the guarded selectors: who, when, which patient, why."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        "trials.Patient", on_delete=models.PROTECT, related_name="arm_accesses"
    )
    accessed_at = models.DateTimeField()
    purpose = models.CharField(max_length=100)
    # Append-only: the log is its own audit trail; a history row per access doubled every
    # pharmacy page view's writes (#16).
    audit_exempt = True

    class Meta:
        ordering = ["-accessed_at"]

    def __str__(self) -> str:
        return f"Arm access {self.pk}"
