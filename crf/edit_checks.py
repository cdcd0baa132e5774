"""Edit checks of the eCRFs: required-to-complete fields, ranges and cross-field rules.

Run by ``crf.services.crf_save`` for every channel (pages, API, commands), so a value that
fails here is never stored. Hard limits reject (physiologically impossible or a typing
error); soft limits warn and need an explicit confirmation ("confirm out-of-range values").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone

from trials.limits import SCORE_INPUT_LIMITS, Limits

D = Decimal


@dataclass
class CheckContext:
    """What the cross-field checks may need besides the form itself."""

    patient: Any
    visit: Any = None
    day1: dt.date | None = None
    death_date: dt.date | None = None  # earliest death date recorded on another form
    today: dt.date = field(default_factory=timezone.localdate)
    previous_weight: tuple[Decimal, dt.date] | None = None  # (kg, date) before this form
    weight_change_pct: Decimal = Decimal(10)  # trial setting: larger changes need confirming
    last_visit_done: bool = False  # the last protocol visit is done (end of study "completed")


# form code -> field -> limits. Canonical units (the values stored in canonical fields).
RANGES: dict[str, dict[str, Limits]] = {
    "administration": {
        "volume_infused_ml": Limits(D(0), D(10), D(500), D(2000), "mL", min_exclusive=True),
    },
    "vitals": {
        "weight_kg": Limits(D(25), D(35), D(180), D(300), "kg"),
        "temperature_c": Limits(D(30), D(35), D("40.5"), D(44), "°C"),
        "heart_rate_bpm": Limits(D(20), D(40), D(140), D(250), "bpm"),
        "systolic_bp_mmhg": Limits(D(40), D(80), D(200), D(300), "mmHg"),
        "diastolic_bp_mmhg": Limits(D(20), D(40), D(120), D(200), "mmHg"),
        "respiratory_rate": Limits(D(4), D(8), D(35), D(80), "/min"),
        "spo2_pct": Limits(D(50), D(85), None, D(100), "%"),
    },
    "labs": {
        # The score inputs: the same definition as at screening (trials/limits.py).
        **SCORE_INPUT_LIMITS,
        "afp_ng_ml": Limits(D(0), None, D(400), D(1_000_000), "ng/mL"),
        "bile_acids_umol_l": Limits(D(0), None, D(500), D(2000), "µmol/L"),
        "ammonia_umol_l": Limits(D(0), None, D(300), D(2000), "µmol/L"),
        "lactate_mmol_l": Limits(D(0), None, D(10), D(35), "mmol/L"),
        "renin_ng_ml_h": Limits(D(0), None, D(100), D(500), "ng/mL/h"),
        "noradrenaline_pg_ml": Limits(D(0), None, D(5000), D(100_000), "pg/mL"),
        "nitric_oxide_umol_l": Limits(D(0), None, D(300), D(5000), "µmol/L"),
        "vwf_antigen_pct": Limits(D(0), None, D(800), D(3000), "%"),
        "il6_pg_ml": Limits(D(0), None, None, D(10_000_000), "pg/mL"),
        "il8_pg_ml": Limits(D(0), None, None, D(10_000_000), "pg/mL"),
        "il10_pg_ml": Limits(D(0), None, None, D(10_000_000), "pg/mL"),
        "tnf_alpha_pg_ml": Limits(D(0), None, None, D(10_000_000), "pg/mL"),
        "il1_beta_pg_ml": Limits(D(0), None, None, D(10_000_000), "pg/mL"),
        "ast_u_l": Limits(D(0), None, D(1000), D(50_000), "U/L"),
        "alt_u_l": Limits(D(0), None, D(1000), D(50_000), "U/L"),
        "ggt_u_l": Limits(D(0), None, D(1000), D(10_000), "U/L"),
        "alp_u_l": Limits(D(0), None, D(1000), D(10_000), "U/L"),
        "haemoglobin_g_dl": Limits(D(0), D(6), D(18), D(25), "g/dL", min_exclusive=True),
        "crp_mg_l": Limits(D(0), None, D(300), D(1000), "mg/L"),
        "potassium_mmol_l": Limits(D(1), D("2.8"), D(6), D(10), "mmol/L"),
        "ifn_gamma_pg_ml": Limits(D(0), None, None, D(10_000_000), "pg/mL"),
    },
    "hemodynamics": {
        "wedged_hepatic_venous_pressure_mmhg": Limits(D(0), None, D(50), D(80), "mmHg"),
        "free_hepatic_venous_pressure_mmhg": Limits(D(0), None, D(30), D(60), "mmHg"),
        "hvpg_mmhg": Limits(D(0), D(1), D(35), D(60), "mmHg"),
        "right_atrial_pressure_mmhg": Limits(D(-5), D(0), D(20), D(40), "mmHg"),
        "mean_pulmonary_artery_pressure_mmhg": Limits(D(0), D(8), D(45), D(90), "mmHg"),
        "pulmonary_capillary_wedge_pressure_mmhg": Limits(D(0), D(2), D(30), D(60), "mmHg"),
        "cardiac_output_l_min": Limits(D("0.5"), D(2), D(15), D(25), "L/min"),
        "heart_rate_bpm": Limits(D(20), D(40), D(140), D(250), "bpm"),
        "map_mmhg": Limits(D(20), D(50), D(130), D(200), "mmHg"),
        "svr_dyn_s_cm5": Limits(D(100), D(300), D(2500), D(5000), "dyn·s·cm⁻⁵"),
    },
}

# Fields a complete form needs (conditional requirements are in the cross-field checks).
REQUIRED: dict[str, list[str]] = {
    "vitals": ["assessment_date", "weight_kg", "heart_rate_bpm", "systolic_bp_mmhg"],
    "labs": ["assessment_date", "bilirubin_entered", "creatinine_entered", "inr"],
    "hemodynamics": ["assessment_date", "hvpg_mmhg"],
    "administration": ["given"],
    "samples": ["cytokine_collected", "transcriptomics_collected"],
    "follow_up": ["assessment_date", "vital_status", "hospital_status"],
    "adverse_event": [
        "term",
        "onset_date",
        "severity_grade",
        "serious",
        "relatedness",
        "expectedness",
        "action_taken",
        "outcome",
    ],
    "end_of_study": ["reason", "end_date"],
    "baseline": ["aetiology", "precipitating_events", "transplant_listing", "pregnancy_test"],
    "infection": ["site", "onset_date", "culture"],
    "con_med": ["name", "drug_class", "start_date"],
}

# The canonical field that carries a value typed with a unit (errors go to the typed field).
TYPED_FIELD = {
    "bilirubin_mg_dl": "bilirubin_entered",
    "creatinine_mg_dl": "creatinine_entered",
    "albumin_g_dl": "albumin_entered",
    "ammonia_umol_l": "ammonia_entered",
    "lactate_mmol_l": "lactate_entered",
    "noradrenaline_pg_ml": "noradrenaline_entered",
}

SAE_CRITERIA = (
    "sae_death",
    "sae_life_threatening",
    "sae_hospitalization",
    "sae_disability",
    "sae_congenital_anomaly",
    "sae_other_important",
)


@dataclass
class CheckResult:
    errors: dict[str, list[str]] = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def warn(self, name: str, message: str) -> None:
        self.warnings.setdefault(name, []).append(message)


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _fmt(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _ranges(result: CheckResult, code: str, obj: Any) -> None:
    for name, limits in RANGES.get(code, {}).items():
        value = getattr(obj, name, None)
        if value is None:
            continue
        value = Decimal(value)
        target = TYPED_FIELD.get(name, name)
        unit = f" {limits.unit}" if limits.unit else ""
        if limits.hard_min is not None and (
            value < limits.hard_min or (limits.min_exclusive and value == limits.hard_min)
        ):
            word = "greater than" if limits.min_exclusive else "at least"
            result.error(target, f"Must be {word} {_fmt(limits.hard_min)}{unit}.")
        elif limits.hard_max is not None and value > limits.hard_max:
            result.error(target, f"Must be at most {_fmt(limits.hard_max)}{unit}.")
        elif limits.soft_min is not None and value < limits.soft_min:
            result.warn(
                target,
                f"{_fmt(value)}{unit} is below the expected range "
                f"(≥ {_fmt(limits.soft_min)}{unit}): check and confirm.",
            )
        elif limits.soft_max is not None and value > limits.soft_max:
            result.warn(
                target,
                f"{_fmt(value)}{unit} is above the expected range "
                f"(≤ {_fmt(limits.soft_max)}{unit}): check and confirm.",
            )


def _date_of(value: dt.date | dt.datetime | None) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def _not_future(result: CheckResult, obj: Any, names: tuple[str, ...], ctx: CheckContext) -> None:
    for name in names:
        day = _date_of(getattr(obj, name, None))
        if day is not None and day > ctx.today:
            result.error(name, "This date is in the future.")


def _not_before_day1(result: CheckResult, obj: Any, names: tuple[str, ...], ctx) -> None:
    if ctx.day1 is None:
        return
    for name in names:
        day = _date_of(getattr(obj, name, None))
        if day is not None and day < ctx.day1:
            result.error(name, f"Cannot be before randomization (day 1, {ctx.day1:%Y-%m-%d}).")


def _after_death(result: CheckResult, obj: Any, names: tuple[str, ...], ctx) -> None:
    if ctx.death_date is None:
        return
    for name in names:
        day = _date_of(getattr(obj, name, None))
        if day is not None and day > ctx.death_date:
            result.error(
                name, f"The patient died on {ctx.death_date:%Y-%m-%d}: no later assessment."
            )


def _in_window(result: CheckResult, name: str, day: dt.date | None, ctx: CheckContext) -> None:
    visit = ctx.visit
    if day is None or visit is None or not visit.scheduled:
        return
    if not visit.window_start <= day <= visit.window_end:
        result.warn(
            name,
            f"{day:%Y-%m-%d} is outside the visit window "
            f"({visit.window_start:%Y-%m-%d} to {visit.window_end:%Y-%m-%d}): "
            "confirm to record a protocol deviation.",
        )


def _vitals(result: CheckResult, obj: Any, ctx: CheckContext) -> None:
    sbp, dbp = obj.systolic_bp_mmhg, obj.diastolic_bp_mmhg
    if sbp is not None and dbp is not None and dbp >= sbp:
        result.error("diastolic_bp_mmhg", "Diastolic pressure must be below systolic pressure.")
    if obj.weight_kg is not None and ctx.previous_weight is not None:
        # The dose is per kg on the dosing day: a large jump is more often a unit slip
        # (pounds typed as kg) than a real change, so it needs a confirmation.
        before, on = ctx.previous_weight
        change = (Decimal(obj.weight_kg) - before) / before * 100
        if abs(change) > ctx.weight_change_pct:
            result.warn(
                "weight_kg",
                f"{_fmt(Decimal(obj.weight_kg))} kg differs by {abs(change):.0f}% from the "
                f"previous weight ({_fmt(before)} kg on {on:%Y-%m-%d}; more than "
                f"{_fmt(ctx.weight_change_pct)}%): check the unit and confirm.",
            )


def _hemodynamics(result: CheckResult, obj: Any, ctx: CheckContext) -> None:
    wedged = obj.wedged_hepatic_venous_pressure_mmhg
    free = obj.free_hepatic_venous_pressure_mmhg
    if wedged is not None and free is not None:
        if free > wedged:
            result.error(
                "free_hepatic_venous_pressure_mmhg",
                "Free hepatic venous pressure cannot exceed the wedged pressure.",
            )
        elif obj.hvpg_mmhg is not None and abs(obj.hvpg_mmhg - (wedged - free)) > 1:
            result.error(
                "hvpg_mmhg",
                f"HVPG should equal wedged minus free hepatic venous pressure "
                f"({_fmt(wedged - free)} mmHg).",
            )


def _administration(result: CheckResult, obj: Any, ctx: CheckContext, complete: bool) -> None:
    if obj.given is True:
        if complete and obj.start_time is None:
            result.error("start_time", "Give the infusion start time.")
        if obj.not_given_reason:
            result.error("not_given_reason", "Only when the dose was not given.")
    if obj.given is False:
        if complete and not obj.not_given_reason:
            result.error("not_given_reason", "Give the reason the dose was not given.")
        if obj.start_time or obj.end_time:
            result.error("start_time", "No infusion times when the dose was not given.")
    if obj.not_given_reason == "other" and complete and not obj.not_given_details:
        result.error("not_given_details", "Describe the other reason.")
    if obj.start_time and obj.end_time and obj.end_time < obj.start_time:
        result.error("end_time", "The infusion cannot end before it starts.")
    if complete and obj.infusion_reaction and not (obj.infusion_reaction_details or "").strip():
        result.error("infusion_reaction_details", "Describe the infusion reaction.")
    if complete and obj.given is True and obj.infusion_reaction is None:
        result.error("infusion_reaction", "Answer whether there was an infusion reaction.")
    if complete and obj.given is True:
        if obj.end_time is None:
            result.error("end_time", "Give the infusion end time.")
        if obj.volume_infused_ml is None:
            result.error("volume_infused_ml", "Give the volume infused.")
        if obj.full_dose_given is None:
            result.error("full_dose_given", "Answer whether the full dose was given.")
    if obj.full_dose_given is False and complete and not obj.interruption_reason.strip():
        result.error("interruption_reason", "Say why the infusion was interrupted.")
    if obj.given is False and (obj.volume_infused_ml or obj.full_dose_given is not None):
        result.error("volume_infused_ml", "No infusion details when the dose was not given.")
    _not_future(result, obj, ("start_time", "end_time"), ctx)
    _not_before_day1(result, obj, ("start_time",), ctx)
    _after_death(result, obj, ("start_time",), ctx)
    if getattr(getattr(ctx.visit, "definition", None), "dose_number", None) != 1:
        # Dose 1 defines day 1 (the plan re-anchors on it): it cannot be outside its window.
        _in_window(result, "start_time", _date_of(obj.start_time), ctx)


def _samples(result: CheckResult, obj: Any, ctx: CheckContext, complete: bool) -> None:
    for kind in ("cytokine", "transcriptomics"):
        collected = getattr(obj, f"{kind}_collected")
        at, sample_id = f"{kind}_collected_at", f"{kind}_sample_id"
        if collected is True and complete:
            if getattr(obj, at) is None:
                result.error(at, "Give the collection time.")
            if not getattr(obj, sample_id):
                result.error(sample_id, "Give the sample id (tube label).")
        if collected is False and (getattr(obj, at) or getattr(obj, sample_id)):
            result.error(at, "No time or sample id when the sample was not collected.")
    if (
        complete
        and False in (obj.cytokine_collected, obj.transcriptomics_collected)
        and not obj.not_collected_reason
    ):
        result.error("not_collected_reason", "Give the reason a sample was not collected.")
    _not_future(result, obj, ("cytokine_collected_at", "transcriptomics_collected_at"), ctx)
    _after_death(result, obj, ("cytokine_collected_at", "transcriptomics_collected_at"), ctx)


def _follow_up(result: CheckResult, obj: Any, ctx: CheckContext, complete: bool) -> None:
    status = obj.vital_status
    if status == "dead":
        if complete and obj.death_date is None:
            result.error("death_date", "Give the date of death.")
        if complete and not obj.death_cause:
            result.error("death_cause", "Give the cause of death.")
    elif obj.death_date or obj.death_cause:
        result.error("death_date", "Only when the vital status is dead.")
    if status == "transplanted" and complete and obj.transplant_date is None:
        result.error("transplant_date", "Give the date of liver transplantation.")
    if status == "alive" and ctx.death_date is not None:
        result.error(
            "vital_status",
            f"Death was recorded on {ctx.death_date:%Y-%m-%d}: the follow-up ended then.",
        )
    alive_on = obj.last_known_alive_date
    if alive_on and obj.assessment_date and alive_on > obj.assessment_date:
        result.error("last_known_alive_date", "Cannot be after the date of contact.")
    if alive_on and obj.death_date and alive_on > obj.death_date:
        result.error("last_known_alive_date", "Cannot be after the date of death.")

    if obj.death_date and obj.assessment_date and obj.death_date > obj.assessment_date:
        result.error("death_date", "The date of death cannot be after the follow-up date.")
    if obj.transplant_date and obj.death_date and obj.transplant_date > obj.death_date:
        result.error("transplant_date", "The transplant cannot be after the date of death.")
    if status == "dead" and obj.hospital_status not in ("", None, "unknown"):
        result.error("hospital_status", "Leave empty or 'unknown' when the patient died.")
    _not_future(result, obj, ("death_date", "transplant_date"), ctx)
    _not_before_day1(result, obj, ("death_date", "transplant_date"), ctx)


def _adverse_event(result: CheckResult, obj: Any, ctx: CheckContext, complete: bool) -> None:
    if not (obj.term or "").strip():  # even a draft names the event: no empty AE records
        result.error("term", "Give at least the verbatim term of the event.")
    if obj.serious is True and complete and obj.serious_date is None:
        result.error("serious_date", "Give the date the event became serious.")
    if obj.serious is not True and obj.serious_date:
        result.error("serious_date", "Only for a serious event.")
    if obj.serious_date and obj.onset_date and obj.serious_date < obj.onset_date:
        result.error("serious_date", "It cannot become serious before its onset.")
    if bool(obj.meddra_pt_code) != bool(obj.meddra_pt_name) or bool(obj.meddra_llt_code) != bool(
        obj.meddra_llt_name
    ):
        result.error("meddra_pt_code", "Give each MedDRA code with its name.")
    for name in ("meddra_llt_code", "meddra_pt_code"):
        code = getattr(obj, name)
        if code and not (code.isdigit() and len(code) == 8):
            result.error(name, "A MedDRA code has 8 digits.")
    criteria = [name for name in SAE_CRITERIA if getattr(obj, name)]
    if obj.serious is True:
        if complete and not criteria:
            result.error("serious", "Tick at least one seriousness criterion for an SAE.")
        if complete and obj.reported_to_sponsor_within_24h is None:
            result.error(
                "reported_to_sponsor_within_24h", "Answer whether the SAE was reported in 24 h."
            )
    elif criteria:
        result.error("serious", "Seriousness criteria are ticked: this is a serious event.")
    if (obj.outcome == "fatal") != bool(obj.sae_death) and (obj.outcome or obj.sae_death):
        result.error(
            "outcome", "A fatal outcome and the 'results in death' criterion go together."
        )
    if obj.onset_date and obj.end_date and obj.end_date < obj.onset_date:
        result.error("end_date", "The resolution date cannot be before the onset.")
    consent = ctx.patient.consent_datetime
    if obj.onset_date and consent and obj.onset_date < _date_of(consent):
        result.error("onset_date", "Adverse events are recorded from informed consent on.")
    _not_future(result, obj, ("onset_date", "end_date"), ctx)
    _after_death(result, obj, ("onset_date",), ctx)


def _end_of_study(result: CheckResult, obj: Any, ctx: CheckContext, complete: bool) -> None:
    if obj.reason == "died" and complete and not obj.death_cause:
        result.error("death_cause", "Give the cause of death.")
    if obj.reason != "died" and obj.death_cause:
        result.error("death_cause", "Only when the patient died.")
    if obj.reason == "completed" and ctx.death_date is not None:
        result.error("reason", f"Death was recorded on {ctx.death_date:%Y-%m-%d}.")
    if (
        obj.reason == "completed"
        and not ctx.last_visit_done
        and not (obj.early_termination_reason or "").strip()
    ):
        result.error(
            "early_termination_reason",
            "The last protocol visit is not done: 'completed' needs the early termination "
            "reason (e.g. the trial was stopped).",
        )
    if obj.reason == "withdrew_consent" and complete and not obj.withdrawal_scope:
        result.error("withdrawal_scope", "Say what the patient still consents to.")
    if obj.reason != "withdrew_consent" and obj.withdrawal_scope:
        result.error("withdrawal_scope", "Only when the patient withdrew consent.")
    _not_future(result, obj, ("end_date",), ctx)
    _not_before_day1(result, obj, ("end_date",), ctx)


def _baseline(result: CheckResult, obj: Any, ctx: CheckContext, complete: bool) -> None:
    if obj.aetiology == "other" and complete and not obj.aetiology_other.strip():
        result.error("aetiology_other", "Name the other aetiology.")
    events = set(obj.precipitating_events or [])
    if "none" in events and len(events) > 1:
        result.error("precipitating_events", "“None identified” excludes the other events.")
    if "other" in events and complete and not obj.precipitating_other.strip():
        result.error("precipitating_other", "Name the other precipitating event.")
    # Synopsis, exclusion 13–14: women of child-bearing potential are tested before dosing.
    screening = getattr(ctx.patient, "screening", None)
    childbearing = getattr(screening, "childbearing_potential", "") or ""
    if childbearing.startswith("yes") and obj.pregnancy_test == "not_applicable":
        result.error(
            "pregnancy_test",
            "The screening records child-bearing potential: record the pregnancy test.",
        )
    if obj.pregnancy_test in ("negative", "positive") and obj.pregnancy_test_date is None:
        result.error("pregnancy_test_date", "Give the date of the test.")
    if obj.pregnancy_test == "positive":
        result.warn("pregnancy_test", "A positive pregnancy test excludes the patient (EXC13).")
    _not_future(result, obj, ("pregnancy_test_date",), ctx)


def _infection(result: CheckResult, obj: Any, ctx: CheckContext, complete: bool) -> None:
    if obj.culture == "positive" and complete and not obj.organism.strip():
        result.error("organism", "Name the organism(s) of the positive culture.")
    if obj.organism.strip() and obj.culture not in ("positive", ""):
        result.error("culture", "An organism was named: the culture is positive.")
    if obj.onset_date and obj.resolved_date and obj.resolved_date < obj.onset_date:
        result.error("resolved_date", "The infection cannot resolve before its onset.")
    _not_future(result, obj, ("onset_date", "resolved_date"), ctx)


def _con_med(result: CheckResult, obj: Any, ctx: CheckContext, complete: bool) -> None:
    if obj.ongoing and obj.stop_date:
        result.error("stop_date", "An ongoing medication has no stop date.")
    if complete and not obj.ongoing and obj.stop_date is None:
        result.error("stop_date", "Give the stop date, or tick “ongoing”.")
    if obj.start_date and obj.stop_date and obj.stop_date < obj.start_date:
        result.error("stop_date", "The stop date cannot be before the start.")
    _not_future(result, obj, ("start_date", "stop_date"), ctx)


def _visit_date(result: CheckResult, obj: Any, ctx: CheckContext) -> None:
    if not hasattr(obj, "assessment_date"):
        return
    _not_future(result, obj, ("assessment_date",), ctx)
    kind = getattr(getattr(ctx.visit, "definition", None), "kind", "")
    if kind not in ("screening", "unscheduled"):
        _not_before_day1(result, obj, ("assessment_date",), ctx)
    if getattr(obj, "vital_status", None) != "dead":
        # A follow-up recording "dead since D" is dated at its own contact (synopsis:
        # Outcomes 4); every other assessment after the death is impossible.
        _after_death(result, obj, ("assessment_date",), ctx)
    _in_window(result, "assessment_date", obj.assessment_date, ctx)


CROSS_FIELD = {
    "vitals": lambda r, o, c, complete: _vitals(r, o, c),
    "hemodynamics": lambda r, o, c, complete: _hemodynamics(r, o, c),
    "administration": _administration,
    "samples": _samples,
    "follow_up": _follow_up,
    "adverse_event": _adverse_event,
    "end_of_study": _end_of_study,
    "baseline": _baseline,
    "infection": _infection,
    "con_med": _con_med,
}


def run(code: str, obj: Any, *, complete: bool, ctx: CheckContext) -> CheckResult:
    """All edit checks of form ``code`` on the unsaved ``obj``."""
    result = CheckResult()
    if complete:
        for name in REQUIRED.get(code, []):
            if _empty(getattr(obj, name, None)):
                result.error(name, "Required to complete the form.")
    _ranges(result, code, obj)
    if code != "administration":  # its date is the infusion start, checked there
        _visit_date(result, obj, ctx)
    check = CROSS_FIELD.get(code)
    if check is not None:
        check(result, obj, ctx, complete)
    # A field with an error needs no warning as well.
    result.warnings = {k: v for k, v in result.warnings.items() if k not in result.errors}
    return result
