"""Trial configuration, sites, patients, screening/eligibility and stored scores."""

from __future__ import annotations

import functools

import simple_history
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from .roles import Role

# Accounts and their roles are audited too (E6(R3) 4.3.8(c); auditor check AT-6): every change
# of a user's groups (roles), active flag or staff status is a history row with who and when.
simple_history.register(
    get_user_model(),
    app="trials",
    m2m_fields=["groups"],
    excluded_fields=["password", "last_login"],
)


class Trial(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    title = models.CharField(max_length=300)
    registry_ids = models.CharField(
        max_length=200, help_text=_("e.g. NCT02857010; EudraCT 2012-003900-11")
    )
    target_size = models.PositiveIntegerField()
    # Arm codes only; labels and the allocation live in randomization/ and are never shown blinded.
    arm_codes = models.JSONField(default=list)
    strata = models.JSONField(default=list, help_text=_("ACLF grades used as strata"))
    min_age = models.PositiveSmallIntegerField(default=18)
    max_age = models.PositiveSmallIntegerField(default=79)
    # Synopsis, Schedule: screening from day −7 to day 1 (randomization refused after that).
    screening_window_days = models.PositiveSmallIntegerField(
        default=7, help_text=_("Days the screening stays valid for randomization")
    )
    # Dosing safety settings (synopsis: Investigational product, [EDC default]); data, not code,
    # so the trial manager can change them (audited by the history below).
    dose_weight_max_age_days = models.PositiveSmallIntegerField(
        default=0,
        help_text=_(
            "Days a weight may predate the dosing day without an explicit confirmation "
            "(0 = weighed the same day)."
        ),
    )
    weight_change_confirm_pct = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        default=10,
        help_text=_(
            "A weight differing from the previous one by more than this % needs a confirmation."
        ),
    )
    dose_cell_tolerance_pct = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        default=10,
        help_text=_(
            "Largest accepted difference (%) between the prepared cell count and the "
            "prescribed dose."
        ),
    )
    dose_min_viability_pct = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        default=70,
        help_text=_("Lowest accepted viability (%) of a cell preparation."),
    )
    history = HistoricalRecords()

    def __str__(self) -> str:
        return self.code


class Site(models.Model):
    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="sites")
    code = models.CharField(max_length=10)
    name = models.CharField(max_length=200)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["trial", "code"], name="site_code_unique_per_trial")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class SiteMembership(models.Model):
    """Which sites a user works at; granted and revoked by the trial administrator (audited)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="site_memberships"
    )
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="memberships")
    granted_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "site"], name="one_membership_per_user_site")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.site.code}"


class PatientStatus(models.TextChoices):
    SCREENING = "screening", pgettext_lazy("patient status", "Screening")
    SCREEN_FAILED = "screen_failed", pgettext_lazy("patient status", "Screen failed")
    RANDOMIZED = "randomized", pgettext_lazy("patient status", "Randomized")
    IN_FOLLOW_UP = "in_follow_up", pgettext_lazy("patient status", "In follow-up")
    COMPLETED = "completed", pgettext_lazy("patient status", "Completed")
    WITHDRAWN = "withdrawn", pgettext_lazy("patient status", "Withdrawn")
    DIED = "died", pgettext_lazy("patient status", "Died")
    TRANSPLANTED = "transplanted", pgettext_lazy("patient status", "Transplanted")
    LOST_TO_FOLLOW_UP = "lost_to_follow_up", pgettext_lazy("patient status", "Lost to follow-up")


class Sex(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class Patient(models.Model):
    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="patients")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="patients")
    screening_number = models.CharField(_("screening number"), max_length=20)
    # Assigned by the randomization service; trial-unique.
    subject_id = models.CharField(  # noqa: DJ001
        _("subject id"), max_length=20, null=True, blank=True
    )
    initials = models.CharField(_("initials"), max_length=4, blank=True)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices)
    birth_date = models.DateField(_("birth date"))
    consent_datetime = models.DateTimeField(_("consent datetime"), null=True, blank=True)
    consent_version = models.CharField(_("consent version"), max_length=20, blank=True)
    status = models.CharField(
        max_length=20, choices=PatientStatus.choices, default=PatientStatus.SCREENING
    )
    screen_failure_reasons = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Optimistic concurrency (trials.concurrency): counted up on every save.
    lock_version = models.PositiveIntegerField(default=1, editable=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["site__code", "screening_number"]
        # Dashboard "most recent" (#16). The trigram indexes for the contains-search are
        # PostgreSQL-only, created by RunSQL in migration issue16_indexes.
        indexes = [
            models.Index(fields=["created_at"], name="patient_created_at"),
            # Lists in number order read an index instead of sorting every patient (#16):
            # the patient lists and screening log by screening number (the number starts with
            # the site code), the pharmacy lists and API cursors by randomization number.
            models.Index(fields=["screening_number"], name="patient_screening_number"),
            # One site's list in the same order: its last page stops at the site's last
            # patient instead of reading every later site's rows to fill the page (#16).
            models.Index(fields=["site", "screening_number", "id"], name="patient_site_number"),
            models.Index(
                fields=["subject_id"],
                condition=Q(subject_id__isnull=False),
                name="patient_subject_id",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "screening_number"], name="screening_number_unique_per_trial"
            ),
            models.UniqueConstraint(
                fields=["trial", "subject_id"],
                condition=Q(subject_id__isnull=False),
                name="subject_id_unique_per_trial",
            ),
        ]

    def __str__(self) -> str:
        return self.subject_id or self.screening_number


class FormStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    COMPLETE = "complete", _("Complete")


class ScoreInputs(models.Model):
    """Laboratory and organ-support values that feed the scores (scoring.calculate keys).

    Shared by the screening form and the visit laboratory/organ-function CRF so both feed the
    scores the same way. Values are stored in canonical units next to what was typed and in
    which unit, so the source document can be compared exactly. The canonical value keeps 8
    decimals: rounding before the thresholds turned 176.79 µmol/L of creatinine (1.99989
    mg/dL) into 2.000 and "no ACLF" into grade 1 (issue 13); pages round for display only.
    """

    bilirubin_entered = models.DecimalField(
        _("Total bilirubin"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    bilirubin_unit = models.CharField(max_length=10, blank=True)
    bilirubin_mg_dl = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)
    creatinine_entered = models.DecimalField(
        _("Creatinine"), max_digits=8, decimal_places=2, null=True, blank=True
    )
    creatinine_unit = models.CharField(max_length=10, blank=True)
    creatinine_mg_dl = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)
    albumin_entered = models.DecimalField(
        _("Albumin"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    albumin_unit = models.CharField(max_length=10, blank=True)
    albumin_g_dl = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)
    inr = models.DecimalField(_("INR"), max_digits=5, decimal_places=2, null=True, blank=True)
    sodium_mmol_l = models.DecimalField(
        _("Sodium (mmol/L)"), max_digits=5, decimal_places=1, null=True, blank=True
    )
    wbc_10e9_l = models.DecimalField(
        _("WBC (10⁹/L)"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    platelets_10e9_l = models.DecimalField(
        _("Platelets (10⁹/L)"), max_digits=6, decimal_places=1, null=True, blank=True
    )
    he_grade = models.PositiveSmallIntegerField(
        _("Hepatic encephalopathy (West Haven grade)"),
        null=True,
        blank=True,
        choices=[(0, _("0 – none")), (1, "1"), (2, "2"), (3, "3"), (4, "4")],
    )
    map_mmhg = models.DecimalField(
        _("MAP (mmHg)"), max_digits=5, decimal_places=1, null=True, blank=True
    )
    dopamine_ug_kg_min = models.DecimalField(
        _("Dopamine (µg/kg/min)"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    dobutamine = models.BooleanField(_("Dobutamine"), default=False)
    terlipressin = models.BooleanField(_("Terlipressin"), default=False)
    epinephrine_ug_kg_min = models.DecimalField(
        _("Epinephrine (µg/kg/min)"), max_digits=6, decimal_places=3, null=True, blank=True
    )
    norepinephrine_ug_kg_min = models.DecimalField(
        _("Norepinephrine (µg/kg/min)"), max_digits=6, decimal_places=3, null=True, blank=True
    )
    pao2_mmhg = models.DecimalField(
        _("PaO2 (mmHg)"), max_digits=5, decimal_places=1, null=True, blank=True
    )
    spo2_pct = models.DecimalField(
        _("SpO2 (%)"), max_digits=4, decimal_places=1, null=True, blank=True
    )
    fio2 = models.DecimalField(
        _("FiO2 (fraction)"), max_digits=3, decimal_places=2, null=True, blank=True
    )
    mechanical_ventilation = models.BooleanField(_("Mechanical ventilation"), default=False)
    mechanical_ventilation_for_he = models.BooleanField(
        _("Ventilated because of encephalopathy (not respiratory failure)"), default=False
    )
    renal_replacement_therapy = models.BooleanField(_("Renal replacement therapy"), default=False)
    dialysis_twice_in_last_week = models.BooleanField(
        _("Dialysis ≥2 times (or CVVHD ≥24 h) in the last week"), default=False
    )
    ascites = models.CharField(
        _("Ascites"),
        max_length=20,
        blank=True,
        choices=[
            ("none", _("None")),
            ("mild", _("Mild")),
            ("moderate_severe", _("Moderate/severe")),
        ],
    )

    class Meta:
        abstract = True


class Screening(ScoreInputs):
    """Screening CRF: inclusion/exclusion criteria (synopsis: Eligibility) and screening labs.

    Eligibility is derived by ``trials.eligibility`` and stored here only as a cache of the
    last assessment, never typed in.
    """

    class NyhaClass(models.TextChoices):
        NONE = "none", _("No chronic heart failure")
        I = "I", _("NYHA I")  # noqa: E741
        II = "II", _("NYHA II")
        III = "III", _("NYHA III")
        IV = "IV", _("NYHA IV")

    class GoldStage(models.TextChoices):
        NONE = "none", _("No chronic pulmonary disease")
        I = "I", _("GOLD I")  # noqa: E741
        II = "II", _("GOLD II")
        III = "III", _("GOLD III")
        IV = "IV", _("GOLD IV")

    class Pregnancy(models.TextChoices):
        NOT_APPLICABLE = "not_applicable", _("Not applicable (male)")
        NOT_PREGNANT = "not_pregnant", _("Not pregnant, not breastfeeding")
        PREGNANT = "pregnant", _("Pregnant")
        BREASTFEEDING = "breastfeeding", _("Breastfeeding")

    class ChildBearing(models.TextChoices):
        NOT_APPLICABLE = "not_applicable", _("Not applicable (male)")
        NO = "no", _("No (post-menopausal or surgically sterile)")
        YES_CONTRACEPTION = (
            "yes_contraception",
            _("Yes, using an acceptable method of birth control"),
        )
        YES_NO_CONTRACEPTION = "yes_no_contraception", _("Yes, NOT using acceptable birth control")

    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="screening")
    screening_date = models.DateField(_("screening date"))
    status = models.CharField(max_length=10, choices=FormStatus.choices, default=FormStatus.DRAFT)

    # Inclusion (synopsis: Eligibility, inclusion 1–3; consent comes from the patient record).
    cirrhosis = models.BooleanField(_("Liver cirrhosis"), null=True, blank=True)
    # The confirmation is bound to the grade it confirmed: a change that moves the computed
    # grade voids it on every path (``aclf_grade_confirmed`` is derived by the service).
    aclf_grade_confirmed = models.BooleanField(
        _("Investigator confirms the computed ACLF grade"), default=False
    )
    aclf_grade_confirmed_as = models.CharField(
        _("ACLF grade the investigator confirmed"), max_length=10, blank=True
    )

    # Exclusion criteria, in synopsis order. ``None`` = not yet answered.
    acute_liver_failure_without_cirrhosis = models.BooleanField(
        _("acute liver failure without cirrhosis"), null=True, blank=True
    )
    aclf1_responding_to_therapy = models.BooleanField(
        _("ACLF grade 1 with response to medical therapy"), null=True, blank=True
    )
    current_malignancy = models.BooleanField(
        _("Current malignancy (including HCC of any grade)"), null=True, blank=True
    )
    afp_ng_ml = models.DecimalField(
        _("Alpha-fetoprotein (ng/mL)"), max_digits=9, decimal_places=1, null=True, blank=True
    )
    previous_malignancy_or_hereditary_cancer = models.BooleanField(
        _("Previous malignancy (active or in remission) or family history of hereditary cancer"),
        null=True,
        blank=True,
    )
    nyha_class = models.CharField(
        _("Chronic heart failure (NYHA class)"),
        max_length=5,
        choices=NyhaClass.choices,
        blank=True,
    )
    gold_stage = models.CharField(
        _("Chronic pulmonary disease (GOLD stage)"),
        max_length=5,
        choices=GoldStage.choices,
        blank=True,
    )
    gi_bleed_history = models.BooleanField(
        _("Any gastrointestinal bleeding"), null=True, blank=True
    )
    last_gi_bleed_date = models.DateField(_("Date of last GI bleeding"), null=True, blank=True)
    previous_liver_transplant = models.BooleanField(
        _("previous liver transplant"), null=True, blank=True
    )
    immunosuppressive_therapy = models.BooleanField(
        _("immunosuppressive therapy"), null=True, blank=True
    )
    extrahepatic_cholestasis = models.BooleanField(
        _("extrahepatic cholestasis"), null=True, blank=True
    )
    hiv_infection = models.BooleanField(_("HIV infection"), null=True, blank=True)
    pregnancy_status = models.CharField(
        _("pregnancy status"), max_length=20, choices=Pregnancy.choices, blank=True
    )
    childbearing_potential = models.CharField(
        _("Pre-menopausal woman of child-bearing potential"),
        max_length=25,
        choices=ChildBearing.choices,
        blank=True,
    )
    investigational_trial_history = models.BooleanField(
        _("Ever participated in an investigational trial"), null=True, blank=True
    )
    last_investigational_trial_date = models.DateField(
        _("Date of last investigational trial participation"), null=True, blank=True
    )
    active_drug_addiction = models.BooleanField(
        _("Active addiction to illegal drugs"), null=True, blank=True
    )
    refuses_participation = models.BooleanField(_("Refusal to participate"), null=True, blank=True)
    unable_to_consent = models.BooleanField(
        _("Unable to provide prior informed consent"), null=True, blank=True
    )

    # Derived on every save by the screening service (never typed).
    aclf_grade = models.CharField(max_length=10, blank=True)
    eligible = models.BooleanField(null=True, blank=True)  # None while a draft is incomplete
    failed_criteria = models.JSONField(default=list, blank=True)
    out_of_range_confirmed = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    lock_version = models.PositiveIntegerField(default=1, editable=False)  # trials.concurrency
    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"Screening of {self.patient}"


class ScoreRecord(models.Model):
    """Scores computed from one source form (screening or a visit's lab CRF), with provenance.

    A derived record (#16: it was ~2.5 KB a row plus as much again in its history, most of
    the database): the scores sit in typed columns and the inputs they came from in one
    compact JSON (``explanation``: only what differs from the default unit and source). The
    step-by-step explanation (sub-scores, basis, what was missing) is re-derived on display by
    the same versioned algorithm from those inputs. It keeps no history table of its own:
    every value it derives from is audited where it is entered (the source CRF and the
    patient's identity, with who, when and why), and the record says what recomputed it
    (``trigger``), when and with which ``algorithm_version``; the change feed still lists
    every recomputation.
    """

    audit_exempt = True  # derived from audited data (see above); rewritten, never edited

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="score_records")
    source_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    source_id = models.PositiveBigIntegerField()
    source = GenericForeignKey("source_type", "source_id")
    label = models.CharField(max_length=60, help_text=_("Visit or form the inputs came from"))
    assessed_on = models.DateField()
    clif_sofa = models.PositiveSmallIntegerField(null=True, blank=True)
    clif_c_of = models.PositiveSmallIntegerField(null=True, blank=True)
    aclf_grade = models.CharField(max_length=10, blank=True)
    clif_c_aclf = models.FloatField(null=True, blank=True)
    clif_c_ad = models.FloatField(null=True, blank=True)
    meld = models.PositiveSmallIntegerField(null=True, blank=True)
    meld_na = models.PositiveSmallIntegerField(null=True, blank=True)
    meld_3 = models.PositiveSmallIntegerField(null=True, blank=True)
    child_pugh_score = models.PositiveSmallIntegerField(null=True, blank=True)
    child_pugh_class = models.CharField(max_length=1, blank=True)
    explanation = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("Inputs, compact (trials.services.score_inputs_pack)"),
    )
    algorithm_version = models.CharField(max_length=40)
    computed_at = models.DateTimeField()
    trigger = models.CharField(max_length=200, blank=True, help_text=_("What recomputed it last"))

    class Meta:
        ordering = ["patient", "assessed_on", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["source_type", "source_id"], name="one_score_record_per_source"
            )
        ]
        # The worklist's "primary scores not computed" (trials.selectors.score_gaps): the few
        # records with a gap, newest first, without reading every record (#16).
        indexes = [
            models.Index(
                fields=["-assessed_on", "-id"],
                condition=Q(clif_sofa__isnull=True) | Q(clif_c_aclf__isnull=True),
                name="score_record_gap_recent",
            )
        ]

    def __str__(self) -> str:
        return f"Scores {self.patient} {self.label}"

    @property
    def inputs(self) -> dict:
        """Input values with unit, source and what was typed (the shape the services build)."""
        from .services import score_inputs_unpack

        return score_inputs_unpack(self.explanation, label=self.label)

    @functools.cached_property
    def _derived(self) -> dict:
        from .services import score_record_derive

        return score_record_derive(self)

    @property
    def missing(self) -> dict:
        return self._derived.get("missing", {})

    @property
    def details(self) -> dict:
        return self._derived.get("details", {})


class AccessEvent(models.Model):
    """Append-only access audit: role grants, approvals, refusals and revocations; logins,
    failed logins and logouts; locks, unlocks and casebook signatures.

    It is its own audit trail (rows are only ever inserted), so it carries no history table.
    """

    audit_exempt = True

    class Action(models.TextChoices):
        ROLE_GRANT_REQUESTED = "role_grant_requested", _("Role grant requested")
        ROLE_GRANTED = "role_granted", _("Role granted")
        ROLE_GRANT_REFUSED = "role_grant_refused", _("Role grant refused")
        ROLE_REVOKED = "role_revoked", _("Role revoked")
        PASSWORD_LINK_SENT = "password_link_sent", _("Set-password link sent")
        EXPORT = "export", _("Data exported")
        # Logins (21 CFR 11.300, Annex 11 §12) and monitoring events (issue 14).
        LOGIN = "login", _("Logged in")
        LOGIN_FAILED = "login_failed", _("Failed login")
        LOGOUT = "logout", _("Logged out")
        DATA_LOCKED = "data_locked", _("Data locked")
        DATA_UNLOCKED = "data_unlocked", _("Data unlocked")
        CASEBOOK_SIGNED = "casebook_signed", _("Casebook signed")
        SIGNATURE_REFUSED = "signature_refused", _("Signature refused (wrong password)")
        EMERGENCY_UNBLINDING = "emergency_unblinding", _("Emergency unblinding")
        AUDIT_TRAIL_EXPORTED = "audit_trail_exported", _("Audit trail exported")

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=30, choices=Action.choices)
    subject_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} · {self.subject_user} by {self.actor}"


class RoleGrantRequest(models.Model):
    """A role given to a user. Unblinded roles wait for a second person's approval (issue 9)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending approval")
        APPROVED = "approved", _("Approved")
        REFUSED = "refused", _("Refused")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="role_grants"
    )
    role = models.CharField(max_length=30, choices=Role.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    reason = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_role_display()} for {self.user} ({self.get_status_display()})"


class IdempotencyRecord(models.Model):
    """The outcome of one create, kept so a retried submission replays it (issue 11).

    ``key`` is an API ``Idempotency-Key`` header or a page's one-time form token; the row is
    written in the same transaction as the record it created, so "saved" and "remembered as
    saved" cannot diverge. Delivery bookkeeping, not clinical data: no history.
    """

    audit_exempt = True

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64, help_text=_("SHA-256 of method, path and body."))
    status_code = models.PositiveSmallIntegerField(default=0)
    body = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status_code})"


class LockoutReset(models.Model):
    """A lockout cleared by the trial administrator: who, which account and address, why."""

    username = models.CharField(max_length=150)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    reason = models.CharField(max_length=300)
    reset_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reset_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-reset_at"]

    def __str__(self) -> str:
        return f"Lockout of {self.username} at {self.ip_address} cleared"


class UserPreference(models.Model):
    """A user's own settings (issue 17: the language of pages and e-mails), audited."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference"
    )
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"{self.user}: {self.language}"
