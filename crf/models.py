"""Visit schedule (data, not code), patient visits and the eCRFs recorded at them.

No model here holds, names or derives a treatment arm: the administration CRF records only
whether the dose was given, when, and any infusion reaction (synopsis: Randomization).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from trials.models import FormStatus, Patient, ScoreInputs, Trial

from . import dictionary


class VisitKind(models.TextChoices):
    SCREENING = "screening", _("Screening")
    RANDOMIZATION = "randomization", _("Randomization")
    DOSING = "dosing", _("Dosing")
    FOLLOW_UP = "follow_up", _("Follow-up")
    UNSCHEDULED = "unscheduled", _("Unscheduled")


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
        null=True, blank=True, help_text=_("Study day of the target date (day 1 = first dose).")
    )
    window_before = models.PositiveSmallIntegerField(default=0, help_text=_("Days before target"))
    window_after = models.PositiveSmallIntegerField(default=0, help_text=_("Days after target"))
    missed_after_days = models.PositiveSmallIntegerField(
        default=7,
        help_text=_("Days after the window closes before an undone visit counts as missed."),
    )
    dose_number = models.PositiveSmallIntegerField(null=True, blank=True)
    order = models.PositiveSmallIntegerField(default=0)
    expected_forms = models.JSONField(
        default=list, blank=True, help_text=_("Form codes expected at this visit.")
    )
    required_forms = models.JSONField(
        default=list,
        blank=True,
        help_text=_(
            "Form codes that must be complete for the visit to be done (the other "
            "expected forms are optional). Empty = every expected form."
        ),
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

    @property
    def display_name(self) -> str:
        """The name in the reader's language: the default schedule's names are in the
        catalogue (crf/schedule.py); a name the administrator typed is shown as typed. The
        stored name (audit trail, exports) stays as entered."""
        return gettext(self.name)


class VisitStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    DUE = "due", _("Due")
    OVERDUE = "overdue", _("Overdue")
    DONE = "done", _("Done")
    MISSED = "missed", _("Missed")
    NOT_APPLICABLE = "not_applicable", _("Not applicable")


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
    review_note = models.CharField(
        max_length=300,
        blank=True,
        help_text=_("Set when day 1 moved but this visit already had data: review its dates."),
    )
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
        default=list, blank=True, help_text=_("Fields outside soft limits, confirmed on entry.")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Optimistic concurrency (trials.concurrency): counted up on every save.
    lock_version = models.PositiveIntegerField(default=1, editable=False)
    history = HistoricalRecords(inherit=True)

    class Meta:
        abstract = True


class VisitCrf(CrfBase):
    """An eCRF recorded at one visit (one per visit and form)."""

    visit = models.OneToOneField(Visit, on_delete=models.PROTECT, related_name="%(class)s")
    assessment_date = models.DateField(_("Date of assessment"), null=True, blank=True)

    class Meta:
        abstract = True
        # "Forms in draft" on the investigator's dashboard, newest first (#16): the few
        # drafts read from their own index instead of every visit of the site probed.
        indexes = [
            models.Index(
                fields=["-updated_at"], condition=Q(status="draft"), name="%(class)s_draft"
            )
        ]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} — {self.visit}"


def _dec(label: str, digits: int = 7, places: int = 1) -> models.DecimalField:
    return models.DecimalField(
        label, max_digits=digits, decimal_places=places, null=True, blank=True
    )


class WeightUnit(models.TextChoices):
    KG = "kg", _("kg")
    LB = "lb", _("lb")


class VitalSigns(dictionary.vitals.FORM.columns(), VisitCrf):
    weight_kg = _dec(_("Weight (kg)"), 5, 1)
    # The weight may be typed in pounds; it is stored in kg and the typed text kept for audit.
    weight_unit = models.CharField(
        _("Unit"), max_length=2, choices=WeightUnit.choices, default=WeightUnit.KG, blank=True
    )
    weight_entered = models.CharField(_("Weight as entered"), max_length=20, blank=True)
    temperature_c = _dec(_("Temperature (°C)"), 4, 1)
    heart_rate_bpm = models.PositiveSmallIntegerField(_("Heart rate (bpm)"), null=True, blank=True)
    systolic_bp_mmhg = models.PositiveSmallIntegerField(
        _("Systolic BP (mmHg)"), null=True, blank=True
    )
    diastolic_bp_mmhg = models.PositiveSmallIntegerField(
        _("Diastolic BP (mmHg)"), null=True, blank=True
    )
    respiratory_rate = models.PositiveSmallIntegerField(
        _("Respiratory rate (/min)"), null=True, blank=True
    )
    spo2_pct = _dec(_("SpO2 (%)"), 4, 1)

    class Meta(VisitCrf.Meta):
        verbose_name = _("vital signs and weight")
        verbose_name_plural = _("vital signs and weight")


class LabResult(dictionary.labs.FORM.columns(), ScoreInputs, VisitCrf):
    """Laboratory and organ function; the ScoreInputs fields feed the scores on save."""

    class AmmoniaUnit(models.TextChoices):
        UMOL_L = "µmol/L", _("µmol/L")
        UG_DL = "µg/dL", _("µg/dL")

    afp_ng_ml = _dec(_("Alpha-fetoprotein (ng/mL)"), 9, 1)
    bile_acids_umol_l = _dec(_("Serum bile acids (µmol/L)"), 7, 1)
    ammonia_entered = _dec(_("Ammonia"), 7, 1)
    ammonia_unit = models.CharField(max_length=10, blank=True)
    ammonia_umol_l = _dec(_("Ammonia (µmol/L)"), 8, 2)
    lactate_entered = _dec(_("Lactate"), 6, 2)
    lactate_unit = models.CharField(max_length=10, blank=True)
    lactate_mmol_l = _dec(_("Lactate (mmol/L)"), 7, 3)
    renin_ng_ml_h = _dec(_("Plasma renin activity (ng/mL/h)"), 7, 2)
    noradrenaline_entered = _dec(_("Noradrenaline"), 8, 2)
    noradrenaline_unit = models.CharField(max_length=10, blank=True)
    noradrenaline_pg_ml = _dec(_("Noradrenaline (pg/mL)"), 9, 1)
    nitric_oxide_umol_l = _dec(_("Nitric oxide metabolites NOx (µmol/L)"), 7, 1)
    vwf_antigen_pct = _dec(_("von Willebrand factor antigen (%)"), 6, 1)
    il6_pg_ml = _dec(_("IL-6 (pg/mL)"), 9, 2)
    il8_pg_ml = _dec(_("IL-8 (pg/mL)"), 9, 2)
    il10_pg_ml = _dec(_("IL-10 (pg/mL)"), 9, 2)
    tnf_alpha_pg_ml = _dec(_("TNF-α (pg/mL)"), 9, 2)
    il1_beta_pg_ml = _dec(_("IL-1β (pg/mL)"), 9, 2)
    ifn_gamma_pg_ml = _dec(_("IFN-γ (pg/mL)"), 9, 2)
    # Routine laboratory (safety review: liver injury, anaemia, inflammation, potassium).
    ast_u_l = _dec(_("AST (U/L)"), 7, 0)
    alt_u_l = _dec(_("ALT (U/L)"), 7, 0)
    ggt_u_l = _dec(_("GGT (U/L)"), 7, 0)
    alp_u_l = _dec(_("Alkaline phosphatase (U/L)"), 7, 0)
    haemoglobin_g_dl = _dec(_("Haemoglobin (g/dL)"), 4, 1)
    crp_mg_l = _dec(_("C-reactive protein (mg/L)"), 6, 1)
    potassium_mmol_l = _dec(_("Potassium (mmol/L)"), 4, 1)
    # Inputs of the primary scores that were not measured, and why: a complete form either
    # has every input of CLIF-SOFA / CLIF-C OF / CLIF-C ACLF or says which were not done.
    not_done = models.JSONField(_("Not done"), default=list, blank=True)
    not_done_reason = models.CharField(_("Why not done"), max_length=300, blank=True)

    class Meta(VisitCrf.Meta):
        verbose_name = _("laboratory and organ function")
        verbose_name_plural = _("laboratory and organ function")


class Hemodynamics(dictionary.hemodynamics.FORM.columns(), VisitCrf):
    """Systemic and splanchnic hemodynamics (synopsis: Outcomes 2)."""

    wedged_hepatic_venous_pressure_mmhg = _dec(_("Wedged hepatic venous pressure (mmHg)"), 4, 1)
    free_hepatic_venous_pressure_mmhg = _dec(_("Free hepatic venous pressure (mmHg)"), 4, 1)
    hvpg_mmhg = _dec(_("HVPG (mmHg)"), 4, 1)
    right_atrial_pressure_mmhg = _dec(_("Right atrial pressure (mmHg)"), 4, 1)
    mean_pulmonary_artery_pressure_mmhg = _dec(_("Mean pulmonary artery pressure (mmHg)"), 4, 1)
    pulmonary_capillary_wedge_pressure_mmhg = _dec(
        _("Pulmonary capillary wedge pressure (mmHg)"), 4, 1
    )
    cardiac_output_l_min = _dec(_("Cardiac output (L/min)"), 4, 2)
    heart_rate_bpm = models.PositiveSmallIntegerField(_("Heart rate (bpm)"), null=True, blank=True)
    map_mmhg = _dec(_("Mean arterial pressure (mmHg)"), 5, 1)
    svr_dyn_s_cm5 = _dec(_("Systemic vascular resistance (dyn·s·cm⁻⁵)"), 6, 0)

    class Meta(VisitCrf.Meta):
        verbose_name = _("hemodynamics")
        verbose_name_plural = _("hemodynamics")


class Administration(dictionary.administration.FORM.columns(), VisitCrf):
    """Study drug administration of one dose: given or not, times, reactions. No arm data."""

    class NotGivenReason(models.TextChoices):
        CLINICAL_CONDITION = "clinical_condition", _("Clinical condition of the patient")
        ADVERSE_EVENT = "adverse_event", _("Adverse event")
        PRODUCT_UNAVAILABLE = "product_unavailable", _("Product not available")
        PATIENT_REFUSAL = "patient_refusal", _("Patient refusal")
        DIED = "died", _("Patient died")
        TRANSPLANTED = "transplanted", _("Patient transplanted")
        OTHER = "other", _("Other")

    given = models.BooleanField(_("Dose given"), null=True, blank=True)
    not_given_reason = models.CharField(
        _("Reason not given"), max_length=25, choices=NotGivenReason.choices, blank=True
    )
    not_given_details = models.CharField(_("Details"), max_length=300, blank=True)
    start_time = models.DateTimeField(_("Infusion start"), null=True, blank=True)
    end_time = models.DateTimeField(_("Infusion end"), null=True, blank=True)
    volume_infused_ml = models.DecimalField(
        _("Volume infused (mL)"), max_digits=6, decimal_places=1, null=True, blank=True
    )
    full_dose_given = models.BooleanField(_("Full dose given"), null=True, blank=True)
    interruption_reason = models.CharField(
        _("Why the infusion was interrupted or incomplete"), max_length=300, blank=True
    )
    infusion_reaction = models.BooleanField(_("Infusion reaction"), null=True, blank=True)
    infusion_reaction_details = models.TextField(_("Reaction description"), blank=True)

    class Meta(VisitCrf.Meta):
        verbose_name = _("study drug administration")
        verbose_name_plural = _("study drug administrations")


class BiologicalSample(dictionary.samples.FORM.columns(), VisitCrf):
    """Samples for the cytokine panel and monocyte/PMN transcriptomics (records only ids)."""

    cytokine_collected = models.BooleanField(
        _("Serum for cytokines collected"), null=True, blank=True
    )
    cytokine_collected_at = models.DateTimeField(_("Collection time"), null=True, blank=True)
    cytokine_sample_id = models.CharField(_("Sample id"), max_length=40, blank=True)
    transcriptomics_collected = models.BooleanField(
        _("Blood for transcriptomics (monocytes/PMN) collected"), null=True, blank=True
    )
    transcriptomics_collected_at = models.DateTimeField(
        _("Collection time"), null=True, blank=True
    )
    transcriptomics_sample_id = models.CharField(_("Sample id"), max_length=40, blank=True)
    not_collected_reason = models.CharField(_("Reason not collected"), max_length=300, blank=True)

    class Meta(VisitCrf.Meta):
        verbose_name = _("biological samples")
        verbose_name_plural = _("biological samples")


class VitalStatus(models.TextChoices):
    ALIVE = "alive", _("Alive")
    DEAD = "dead", _("Dead")
    TRANSPLANTED = "transplanted", _("Alive after liver transplantation")


class InformationSource(models.TextChoices):
    VISIT = "visit", _("Seen at a visit")
    PHONE = "phone", _("Telephone contact")
    RECORDS = "records", _("Medical records")
    RELATIVE = "relative", _("Relative or carer")
    REGISTRY = "registry", _("Death or civil registry")
    OTHER = "other", _("Other")


class FollowUp(dictionary.follow_up.FORM.columns(), VisitCrf):
    """Survival follow-up (synopsis: Outcomes 4): vital status, transplant, hospital status."""

    class HospitalStatus(models.TextChoices):
        HOME = "home", _("At home (discharged)")
        WARD = "ward", _("In hospital, ward")
        ICU = "icu", _("In intensive care")
        OTHER_FACILITY = "other_facility", _("Other care facility")
        UNKNOWN = "unknown", _("Unknown")

    vital_status = models.CharField(max_length=15, choices=VitalStatus.choices, blank=True)
    death_date = models.DateField(_("Date of death"), null=True, blank=True)
    death_cause = models.CharField(_("Cause of death"), max_length=300, blank=True)
    transplant_date = models.DateField(_("Date of liver transplantation"), null=True, blank=True)
    hospital_status = models.CharField(max_length=15, choices=HospitalStatus.choices, blank=True)
    last_known_alive_date = models.DateField(_("Date last known alive"), null=True, blank=True)
    information_source = models.CharField(
        _("Source of the information"),
        max_length=20,
        choices=InformationSource.choices,
        blank=True,
    )

    class Meta(VisitCrf.Meta):
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")


class AdverseEvent(dictionary.adverse_event.FORM.columns(), CrfBase):
    """An adverse event or serious adverse event, recordable at any time."""

    class Severity(models.IntegerChoices):
        MILD = 1, _("1 – mild")
        MODERATE = 2, _("2 – moderate")
        SEVERE = 3, _("3 – severe")
        LIFE_THREATENING = 4, _("4 – life-threatening")
        DEATH = 5, _("5 – death")

    class Relatedness(models.TextChoices):
        NOT_RELATED = "not_related", _("Not related")
        UNLIKELY = "unlikely", _("Unlikely")
        POSSIBLE = "possible", _("Possible")
        PROBABLE = "probable", _("Probable")
        DEFINITE = "definite", _("Definite")

    class Outcome(models.TextChoices):
        RECOVERED = "recovered", _("Recovered/resolved")
        RECOVERING = "recovering", _("Recovering/resolving")
        NOT_RECOVERED = "not_recovered", _("Not recovered/not resolved")
        SEQUELAE = "sequelae", _("Recovered with sequelae")
        FATAL = "fatal", _("Fatal")
        UNKNOWN = "unknown", _("Unknown")

    class Expectedness(models.TextChoices):
        EXPECTED = "expected", _("Expected (listed in the reference safety information)")
        UNEXPECTED = "unexpected", _("Unexpected")

    class ActionTaken(models.TextChoices):
        NONE = "none", _("None")
        INTERRUPTED = "interrupted", _("Infusion interrupted")
        DOSE_NOT_GIVEN = "dose_not_given", _("Next dose not given")
        WITHDRAWN = "withdrawn", _("Study treatment withdrawn")
        NOT_APPLICABLE = "not_applicable", _("Not applicable (no further dose planned)")

    term = models.CharField(_("Verbatim term (as reported)"), max_length=200, blank=True)
    # MedDRA coding as entered by the coder (no licensed dictionary is bundled).
    meddra_llt_code = models.CharField(_("MedDRA LLT code"), max_length=8, blank=True)
    meddra_llt_name = models.CharField(_("MedDRA LLT name"), max_length=200, blank=True)
    meddra_pt_code = models.CharField(_("MedDRA PT code"), max_length=8, blank=True)
    meddra_pt_name = models.CharField(_("MedDRA PT name"), max_length=200, blank=True)
    onset_date = models.DateField(null=True, blank=True)
    onset_time = models.TimeField(_("Onset time (if known)"), null=True, blank=True)
    end_date = models.DateField(_("Stop date"), null=True, blank=True)
    severity_grade = models.PositiveSmallIntegerField(
        _("Severity (CTCAE grade)"), choices=Severity.choices, null=True, blank=True
    )
    serious = models.BooleanField(_("Serious (SAE)"), null=True, blank=True)
    serious_date = models.DateField(_("Date it became serious"), null=True, blank=True)
    sae_death = models.BooleanField(_("Results in death"), default=False)
    sae_life_threatening = models.BooleanField(_("Life-threatening"), default=False)
    sae_hospitalization = models.BooleanField(
        _("Requires or prolongs hospitalization"), default=False
    )
    sae_disability = models.BooleanField(_("Persistent or significant disability"), default=False)
    sae_congenital_anomaly = models.BooleanField(_("Congenital anomaly"), default=False)
    sae_other_important = models.BooleanField(_("Other important medical event"), default=False)
    relatedness = models.CharField(
        _("Relationship to study drug"), max_length=15, choices=Relatedness.choices, blank=True
    )
    expectedness = models.CharField(max_length=15, choices=Expectedness.choices, blank=True)
    action_taken = models.CharField(
        _("Action taken with the study treatment"),
        max_length=20,
        choices=ActionTaken.choices,
        blank=True,
    )
    related_dose_number = models.PositiveSmallIntegerField(
        _("Dose it followed"),
        choices=[(n, format_lazy("{} {}", _("Dose"), n)) for n in (1, 2, 3, 4)],
        null=True,
        blank=True,
    )
    # Derived on save from the linked dose's infusion start (never typed).
    hours_since_infusion = models.DecimalField(
        _("Hours from the infusion start to onset"),
        max_digits=7,
        decimal_places=1,
        null=True,
        blank=True,
    )
    # Nothing is deleted: a record entered by mistake is marked, with the reason, and kept.
    entered_in_error = models.BooleanField(_("Entered in error"), default=False)
    entered_in_error_reason = models.CharField(
        _("Reason entered in error"), max_length=300, blank=True
    )
    outcome = models.CharField(max_length=15, choices=Outcome.choices, blank=True)
    reported_to_sponsor_within_24h = models.BooleanField(
        _("SAE reported to the sponsor within 24 h"), null=True, blank=True
    )

    class Meta:
        ordering = ["patient", "onset_date", "pk"]
        verbose_name = _("adverse event")

    def __str__(self) -> str:
        return f"AE {self.term or '(no term)'} — {self.patient}"


class EndOfStudy(dictionary.end_of_study.FORM.columns(), CrfBase):
    class Reason(models.TextChoices):
        COMPLETED = "completed", _("Completed the study")
        DIED = "died", _("Died")
        TRANSPLANTED = "transplanted", _("Liver transplantation")
        WITHDREW_CONSENT = "withdrew_consent", _("Withdrew consent")
        LOST_TO_FOLLOW_UP = "lost_to_follow_up", _("Lost to follow-up")

    reason = models.CharField(
        _("End of study reason"), max_length=20, choices=Reason.choices, blank=True
    )

    class WithdrawalScope(models.TextChoices):
        NO_MORE_DOSES = "no_more_doses", _("No more doses (visits and data continue)")
        NO_MORE_VISITS = "no_more_visits", _("No more visits (data from records may continue)")
        NO_FURTHER_DATA = "no_further_data", _("No further data collection")

    end_date = models.DateField(_("Date"), null=True, blank=True)
    death_cause = models.CharField(_("Cause of death"), max_length=300, blank=True)
    withdrawal_scope = models.CharField(
        _("What the patient still consents to"),
        max_length=20,
        choices=WithdrawalScope.choices,
        blank=True,
    )
    early_termination_reason = models.CharField(
        _("Early termination reason"),
        max_length=300,
        blank=True,
        help_text=_("Required for 'completed' before the last protocol visit."),
    )
    comments = models.TextField(blank=True)

    class Meta:
        verbose_name = _("end of study")
        verbose_name_plural = _("end of study")
        constraints = [
            models.UniqueConstraint(fields=["patient"], name="one_end_of_study_per_patient")
        ]

    def __str__(self) -> str:
        return f"End of study — {self.patient}"


# --- baseline clinical context (issue 13) --------------------------------------------------


class BaselineContext(dictionary.baseline.FORM.columns(), CrfBase):
    """Cirrhosis aetiology, the ACLF precipitating event, transplant listing, pregnancy test."""

    class Aetiology(models.TextChoices):
        ALCOHOL = "alcohol", _("Alcohol")
        HCV = "hcv", _("Hepatitis C")
        HBV = "hbv", _("Hepatitis B")
        MASLD = "masld", _("Metabolic dysfunction (MASLD/NASH)")
        AUTOIMMUNE = "autoimmune", _("Autoimmune hepatitis")
        CHOLESTATIC = "cholestatic", _("PBC/PSC")
        CRYPTOGENIC = "cryptogenic", _("Cryptogenic")
        OTHER = "other", _("Other")

    Precipitant = dictionary.baseline.Precipitant  # the code list is declared there

    class Listing(models.TextChoices):
        NOT_LISTED = "not_listed", _("Not listed")
        UNDER_EVALUATION = "under_evaluation", _("Under evaluation")
        LISTED = "listed", _("Listed")
        CONTRAINDICATED = "contraindicated", _("Contraindicated")

    class PregnancyTest(models.TextChoices):
        NOT_APPLICABLE = "not_applicable", _("Not applicable (man, or no child-bearing potential)")
        NEGATIVE = "negative", _("Negative")
        POSITIVE = "positive", _("Positive")
        NOT_DONE = "not_done", _("Not done")

    aetiology = models.CharField(
        _("Main aetiology of cirrhosis"), max_length=15, choices=Aetiology.choices, blank=True
    )
    aetiology_other = models.CharField(_("Other aetiology"), max_length=200, blank=True)
    precipitating_events = models.JSONField(
        _("ACLF precipitating event(s)"), default=list, blank=True
    )
    precipitating_other = models.CharField(
        _("Other precipitating event"), max_length=200, blank=True
    )
    transplant_listing = models.CharField(
        _("Liver transplant listing"), max_length=20, choices=Listing.choices, blank=True
    )
    pregnancy_test = models.CharField(
        _("Pregnancy test"), max_length=15, choices=PregnancyTest.choices, blank=True
    )
    pregnancy_test_date = models.DateField(_("Date of the pregnancy test"), null=True, blank=True)

    class Meta:
        verbose_name = _("baseline clinical context")
        verbose_name_plural = _("baseline clinical context")
        constraints = [
            models.UniqueConstraint(fields=["patient"], name="one_baseline_context_per_patient")
        ]

    def __str__(self) -> str:
        return f"Baseline context — {self.patient}"


class Infection(dictionary.infection.FORM.columns(), CrfBase):
    """One infection episode with its cultures (a log: any number per patient)."""

    class Site(models.TextChoices):
        SBP = "sbp", _("Spontaneous bacterial peritonitis")
        PNEUMONIA = "pneumonia", _("Pneumonia")
        URINARY = "urinary", _("Urinary tract")
        BACTERAEMIA = "bacteraemia", _("Spontaneous bacteraemia")
        SKIN = "skin", _("Skin / soft tissue")
        OTHER = "other", _("Other")

    class Culture(models.TextChoices):
        POSITIVE = "positive", _("Positive")
        NEGATIVE = "negative", _("Negative")
        PENDING = "pending", _("Pending")
        NOT_DONE = "not_done", _("Not done")

    site = models.CharField(
        _("Site of infection"), max_length=15, choices=Site.choices, blank=True
    )
    onset_date = models.DateField(null=True, blank=True)
    culture = models.CharField(_("Cultures"), max_length=10, choices=Culture.choices, blank=True)
    organism = models.CharField(_("Organism(s) isolated"), max_length=200, blank=True)
    resolved_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["patient", "onset_date", "pk"]
        verbose_name = _("infection")

    def __str__(self) -> str:
        return f"Infection {self.get_site_display() or '(site not given)'} — {self.patient}"


class ConcomitantMedication(dictionary.con_med.FORM.columns(), CrfBase):
    """One medication of the concomitant-medication log, with start/stop and its class."""

    class DrugClass(models.TextChoices):
        IMMUNOSUPPRESSANT = "immunosuppressant", _("Immunosuppressant")
        ANTIBIOTIC = "antibiotic", _("Antibiotic")
        ALBUMIN = "albumin", _("Albumin")
        VASOACTIVE = "vasoactive", _("Vasoactive drug")
        OTHER = "other", _("Other")

    # Classes the protocol cares about (exclusion 10, infections, organ support): flagged.
    FLAGGED = frozenset({"immunosuppressant", "antibiotic", "albumin", "vasoactive"})

    name = models.CharField(_("Medication"), max_length=200, blank=True)
    drug_class = models.CharField(_("Class"), max_length=20, choices=DrugClass.choices, blank=True)
    dose = models.CharField(_("Dose and frequency"), max_length=100, blank=True)
    indication = models.CharField(max_length=200, blank=True)
    start_date = models.DateField(null=True, blank=True)
    stop_date = models.DateField(null=True, blank=True)
    ongoing = models.BooleanField(_("Ongoing"), default=False)

    class Meta:
        ordering = ["patient", "start_date", "pk"]
        verbose_name = _("concomitant medication")

    def __str__(self) -> str:
        return f"{self.name or '(medication)'} — {self.patient}"

    @property
    def flagged(self) -> bool:
        return self.drug_class in self.FLAGGED


# --- transactional outbox -------------------------------------------------------------------


class OutboxMessage(models.Model):
    """A side effect promised by a committed transaction, kept until it has been carried out.

    Written in the same transaction as the change that needs it (e.g. the allocation), so a
    broker that is down or a worker that dies loses nothing: ``crf.outbox`` publishes pending
    rows to Celery and retries them with backoff. Holds ids only, never arm data. Not clinical
    data, so no history (it records delivery state, not what a user entered).
    """

    audit_exempt = True

    class Kind(models.TextChoices):
        FOLLOWUP_VISITS = "followup_visits", _("Create the survival follow-up visits")
        DOSE_DUE_NOTICE = "dose_due_notice", _("Tell the site's pharmacists a dose is due")

    kind = models.CharField(max_length=30, choices=Kind.choices)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    available_at = models.DateTimeField(help_text=_("Not published again before this time."))
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["done_at", "available_at"], name="outbox_pending_idx")]

    def __str__(self) -> str:
        state = "done" if self.done_at else "pending"
        return f"{self.get_kind_display()} {self.payload} ({state})"
