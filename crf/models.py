"""Visit schedule (data, not code), patient visits and the eCRFs recorded at them.

No model here holds, names or derives a treatment arm: the administration CRF records only
whether the dose was given, when, and any infusion reaction (synopsis: Randomization).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from trials.models import FormStatus, Patient, ScoreInputs, Trial


class VisitKind(models.TextChoices):
    SCREENING = "screening", "Screening"
    RANDOMIZATION = "randomization", "Randomization"
    DOSING = "dosing", "Dosing"
    FOLLOW_UP = "follow_up", "Follow-up"
    UNSCHEDULED = "unscheduled", "Unscheduled"


class VisitDefinition(models.Model):
    """One row of the schedule (synopsis: Schedule); editable by the trial administrator.

    ``day`` counts from day 1 = first dose, so the target date is ``day1 + (day - 1)``.
    Editing a definition never moves visits already planned; re-planning is explicit.
    """

    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="visit_definitions")
    code = models.SlugField(max_length=30)
    name = models.CharField(max_length=60)
    kind = models.CharField(max_length=15, choices=VisitKind.choices)
    day = models.SmallIntegerField(
        null=True, blank=True, help_text="Study day of the target date (day 1 = first dose)."
    )
    window_before = models.PositiveSmallIntegerField(default=0, help_text="Days before target")
    window_after = models.PositiveSmallIntegerField(default=0, help_text="Days after target")
    missed_after_days = models.PositiveSmallIntegerField(
        default=7,
        help_text="Days after the window closes before an undone visit counts as missed.",
    )
    dose_number = models.PositiveSmallIntegerField(null=True, blank=True)
    order = models.PositiveSmallIntegerField(default=0)
    expected_forms = models.JSONField(
        default=list, blank=True, help_text="Form codes expected at this visit."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["trial", "order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["trial", "code"], name="visit_code_unique_per_trial"),
            models.UniqueConstraint(
                fields=["trial", "dose_number"],
                condition=Q(dose_number__isnull=False),
                name="dose_number_unique_per_trial",
            ),
            models.CheckConstraint(
                condition=Q(kind="unscheduled") | Q(day__isnull=False),
                name="scheduled_visit_has_day",
            ),
            models.CheckConstraint(
                condition=~Q(kind="dosing") | Q(dose_number__isnull=False),
                name="dosing_visit_has_dose_number",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class VisitStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    DUE = "due", "Due"
    OVERDUE = "overdue", "Overdue"
    DONE = "done", "Done"
    MISSED = "missed", "Missed"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class Visit(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="visits")
    definition = models.ForeignKey(
        VisitDefinition, on_delete=models.PROTECT, related_name="visits"
    )
    # Copy of ``definition.kind != unscheduled`` so the database can enforce one per patient.
    scheduled = models.BooleanField(default=True)
    target_date = models.DateField()
    window_start = models.DateField()
    window_end = models.DateField()
    status = models.CharField(
        max_length=15, choices=VisitStatus.choices, default=VisitStatus.PLANNED
    )
    actual_date = models.DateField(null=True, blank=True)
    status_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "target_date", "definition__order", "pk"]
        # The worklist and the digests read only the open visits, by window end (#16).
        indexes = [
            models.Index(
                fields=["window_end"],
                name="visit_due_by_window_end",
                condition=Q(status__in=["due", "overdue"]),
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "definition"],
                condition=Q(scheduled=True),
                name="one_scheduled_visit_per_definition",
            ),
            models.CheckConstraint(
                condition=Q(window_start__lte=models.F("target_date"))
                & Q(target_date__lte=models.F("window_end")),
                name="visit_target_inside_window",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.definition.name} ({self.target_date:%Y-%m-%d})"

    @property
    def is_open(self) -> bool:
        return self.status in (VisitStatus.PLANNED, VisitStatus.DUE, VisitStatus.OVERDUE)


# --- eCRF framework -----------------------------------------------------------------------


class CrfBase(models.Model):
    """Fields every eCRF shares: status, completion, who changed it last, and its history."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=FormStatus.choices, default=FormStatus.DRAFT)
    completed_at = models.DateTimeField(null=True, blank=True)
    out_of_range_confirmed = models.JSONField(
        default=list, blank=True, help_text="Fields outside soft limits, confirmed on entry."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    history = HistoricalRecords(inherit=True)

    class Meta:
        abstract = True


class VisitCrf(CrfBase):
    """An eCRF recorded at one visit (one per visit and form)."""

    visit = models.OneToOneField(Visit, on_delete=models.PROTECT, related_name="%(class)s")
    assessment_date = models.DateField("Date of assessment", null=True, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} — {self.visit}"


def _dec(label: str, digits: int = 7, places: int = 1) -> models.DecimalField:
    return models.DecimalField(
        label, max_digits=digits, decimal_places=places, null=True, blank=True
    )


class VitalSigns(VisitCrf):
    weight_kg = _dec("Weight (kg)", 5, 1)
    temperature_c = _dec("Temperature (°C)", 4, 1)
    heart_rate_bpm = models.PositiveSmallIntegerField("Heart rate (bpm)", null=True, blank=True)
    systolic_bp_mmhg = models.PositiveSmallIntegerField(
        "Systolic BP (mmHg)", null=True, blank=True
    )
    diastolic_bp_mmhg = models.PositiveSmallIntegerField(
        "Diastolic BP (mmHg)", null=True, blank=True
    )
    respiratory_rate = models.PositiveSmallIntegerField(
        "Respiratory rate (/min)", null=True, blank=True
    )
    spo2_pct = _dec("SpO2 (%)", 4, 1)

    class Meta:
        verbose_name = "vital signs and weight"
        verbose_name_plural = "vital signs and weight"


class LabResult(ScoreInputs, VisitCrf):
    """Laboratory and organ function; the ScoreInputs fields feed the scores on save."""

    class AmmoniaUnit(models.TextChoices):
        UMOL_L = "µmol/L", "µmol/L"
        UG_DL = "µg/dL", "µg/dL"

    afp_ng_ml = _dec("Alpha-fetoprotein (ng/mL)", 9, 1)
    bile_acids_umol_l = _dec("Serum bile acids (µmol/L)", 7, 1)
    ammonia_entered = _dec("Ammonia", 7, 1)
    ammonia_unit = models.CharField(max_length=10, blank=True)
    ammonia_umol_l = _dec("Ammonia (µmol/L)", 8, 2)
    lactate_entered = _dec("Lactate", 6, 2)
    lactate_unit = models.CharField(max_length=10, blank=True)
    lactate_mmol_l = _dec("Lactate (mmol/L)", 7, 3)
    renin_ng_ml_h = _dec("Plasma renin activity (ng/mL/h)", 7, 2)
    noradrenaline_entered = _dec("Noradrenaline", 8, 2)
    noradrenaline_unit = models.CharField(max_length=10, blank=True)
    noradrenaline_pg_ml = _dec("Noradrenaline (pg/mL)", 9, 1)
    nitric_oxide_umol_l = _dec("Nitric oxide metabolites NOx (µmol/L)", 7, 1)
    vwf_antigen_pct = _dec("von Willebrand factor antigen (%)", 6, 1)
    il6_pg_ml = _dec("IL-6 (pg/mL)", 9, 2)
    il8_pg_ml = _dec("IL-8 (pg/mL)", 9, 2)
    il10_pg_ml = _dec("IL-10 (pg/mL)", 9, 2)
    tnf_alpha_pg_ml = _dec("TNF-α (pg/mL)", 9, 2)
    il1_beta_pg_ml = _dec("IL-1β (pg/mL)", 9, 2)
    ifn_gamma_pg_ml = _dec("IFN-γ (pg/mL)", 9, 2)

    class Meta:
        verbose_name = "laboratory and organ function"
        verbose_name_plural = "laboratory and organ function"


class Hemodynamics(VisitCrf):
    """Systemic and splanchnic hemodynamics (synopsis: Outcomes 2)."""

    wedged_hepatic_venous_pressure_mmhg = _dec("Wedged hepatic venous pressure (mmHg)", 4, 1)
    free_hepatic_venous_pressure_mmhg = _dec("Free hepatic venous pressure (mmHg)", 4, 1)
    hvpg_mmhg = _dec("HVPG (mmHg)", 4, 1)
    right_atrial_pressure_mmhg = _dec("Right atrial pressure (mmHg)", 4, 1)
    mean_pulmonary_artery_pressure_mmhg = _dec("Mean pulmonary artery pressure (mmHg)", 4, 1)
    pulmonary_capillary_wedge_pressure_mmhg = _dec(
        "Pulmonary capillary wedge pressure (mmHg)", 4, 1
    )
    cardiac_output_l_min = _dec("Cardiac output (L/min)", 4, 2)
    heart_rate_bpm = models.PositiveSmallIntegerField("Heart rate (bpm)", null=True, blank=True)
    map_mmhg = _dec("Mean arterial pressure (mmHg)", 5, 1)
    svr_dyn_s_cm5 = _dec("Systemic vascular resistance (dyn·s·cm⁻⁵)", 6, 0)

    class Meta:
        verbose_name = "hemodynamics"
        verbose_name_plural = "hemodynamics"


class Administration(VisitCrf):
    """Study drug administration of one dose: given or not, times, reactions. No arm data."""

    class NotGivenReason(models.TextChoices):
        CLINICAL_CONDITION = "clinical_condition", "Clinical condition of the patient"
        ADVERSE_EVENT = "adverse_event", "Adverse event"
        PRODUCT_UNAVAILABLE = "product_unavailable", "Product not available"
        PATIENT_REFUSAL = "patient_refusal", "Patient refusal"
        DIED = "died", "Patient died"
        TRANSPLANTED = "transplanted", "Patient transplanted"
        OTHER = "other", "Other"

    given = models.BooleanField("Dose given", null=True, blank=True)
    not_given_reason = models.CharField(
        "Reason not given", max_length=25, choices=NotGivenReason.choices, blank=True
    )
    not_given_details = models.CharField("Details", max_length=300, blank=True)
    start_time = models.DateTimeField("Infusion start", null=True, blank=True)
    end_time = models.DateTimeField("Infusion end", null=True, blank=True)
    infusion_reaction = models.BooleanField("Infusion reaction", null=True, blank=True)
    infusion_reaction_details = models.TextField("Reaction description", blank=True)

    class Meta:
        verbose_name = "study drug administration"
        verbose_name_plural = "study drug administrations"


class BiologicalSample(VisitCrf):
    """Samples for the cytokine panel and monocyte/PMN transcriptomics (records only ids)."""

    cytokine_collected = models.BooleanField(
        "Serum for cytokines collected", null=True, blank=True
    )
    cytokine_collected_at = models.DateTimeField("Collection time", null=True, blank=True)
    cytokine_sample_id = models.CharField("Sample id", max_length=40, blank=True)
    transcriptomics_collected = models.BooleanField(
        "Blood for transcriptomics (monocytes/PMN) collected", null=True, blank=True
    )
    transcriptomics_collected_at = models.DateTimeField("Collection time", null=True, blank=True)
    transcriptomics_sample_id = models.CharField("Sample id", max_length=40, blank=True)
    not_collected_reason = models.CharField("Reason not collected", max_length=300, blank=True)

    class Meta:
        verbose_name = "biological samples"
        verbose_name_plural = "biological samples"


class VitalStatus(models.TextChoices):
    ALIVE = "alive", "Alive"
    DEAD = "dead", "Dead"
    TRANSPLANTED = "transplanted", "Alive after liver transplantation"


class FollowUp(VisitCrf):
    """Survival follow-up (synopsis: Outcomes 4): vital status, transplant, hospital status."""

    class HospitalStatus(models.TextChoices):
        HOME = "home", "At home (discharged)"
        WARD = "ward", "In hospital, ward"
        ICU = "icu", "In intensive care"
        OTHER_FACILITY = "other_facility", "Other care facility"
        UNKNOWN = "unknown", "Unknown"

    vital_status = models.CharField(max_length=15, choices=VitalStatus.choices, blank=True)
    death_date = models.DateField("Date of death", null=True, blank=True)
    death_cause = models.CharField("Cause of death", max_length=300, blank=True)
    transplant_date = models.DateField("Date of liver transplantation", null=True, blank=True)
    hospital_status = models.CharField(max_length=15, choices=HospitalStatus.choices, blank=True)

    class Meta:
        verbose_name = "follow-up"
        verbose_name_plural = "follow-ups"


class AdverseEvent(CrfBase):
    """An adverse event or serious adverse event, recordable at any time."""

    class Severity(models.IntegerChoices):
        MILD = 1, "1 – mild"
        MODERATE = 2, "2 – moderate"
        SEVERE = 3, "3 – severe"
        LIFE_THREATENING = 4, "4 – life-threatening"
        DEATH = 5, "5 – death"

    class Relatedness(models.TextChoices):
        NOT_RELATED = "not_related", "Not related"
        UNLIKELY = "unlikely", "Unlikely"
        POSSIBLE = "possible", "Possible"
        PROBABLE = "probable", "Probable"
        DEFINITE = "definite", "Definite"

    class Outcome(models.TextChoices):
        RECOVERED = "recovered", "Recovered/resolved"
        RECOVERING = "recovering", "Recovering/resolving"
        NOT_RECOVERED = "not_recovered", "Not recovered/not resolved"
        SEQUELAE = "sequelae", "Recovered with sequelae"
        FATAL = "fatal", "Fatal"
        UNKNOWN = "unknown", "Unknown"

    term = models.CharField("Adverse event term", max_length=200, blank=True)
    onset_date = models.DateField(null=True, blank=True)
    end_date = models.DateField("Resolution date", null=True, blank=True)
    severity_grade = models.PositiveSmallIntegerField(
        choices=Severity.choices, null=True, blank=True
    )
    serious = models.BooleanField("Serious (SAE)", null=True, blank=True)
    sae_death = models.BooleanField("Results in death", default=False)
    sae_life_threatening = models.BooleanField("Life-threatening", default=False)
    sae_hospitalization = models.BooleanField(
        "Requires or prolongs hospitalization", default=False
    )
    sae_disability = models.BooleanField("Persistent or significant disability", default=False)
    sae_congenital_anomaly = models.BooleanField("Congenital anomaly", default=False)
    sae_other_important = models.BooleanField("Other important medical event", default=False)
    relatedness = models.CharField(
        "Relationship to study drug", max_length=15, choices=Relatedness.choices, blank=True
    )
    outcome = models.CharField(max_length=15, choices=Outcome.choices, blank=True)
    reported_to_sponsor_within_24h = models.BooleanField(
        "SAE reported to the sponsor within 24 h", null=True, blank=True
    )

    class Meta:
        ordering = ["patient", "onset_date", "pk"]
        verbose_name = "adverse event"

    def __str__(self) -> str:
        return f"AE {self.term or '(no term)'} — {self.patient}"


class EndOfStudy(CrfBase):
    class Reason(models.TextChoices):
        COMPLETED = "completed", "Completed the study"
        DIED = "died", "Died"
        TRANSPLANTED = "transplanted", "Liver transplantation"
        WITHDREW_CONSENT = "withdrew_consent", "Withdrew consent"
        LOST_TO_FOLLOW_UP = "lost_to_follow_up", "Lost to follow-up"

    reason = models.CharField(
        "End of study reason", max_length=20, choices=Reason.choices, blank=True
    )
    end_date = models.DateField("Date", null=True, blank=True)
    death_cause = models.CharField("Cause of death", max_length=300, blank=True)
    comments = models.TextField(blank=True)

    class Meta:
        verbose_name = "end of study"
        verbose_name_plural = "end of study"
        constraints = [
            models.UniqueConstraint(fields=["patient"], name="one_end_of_study_per_patient")
        ]

    def __str__(self) -> str:
        return f"End of study — {self.patient}"
