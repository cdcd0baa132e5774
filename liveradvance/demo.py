"""Demo clinical data for ``make run``, the benchmark and the tests (never used in production).

``eligible_screening_data`` is a complete, eligible screening (ACLF grade 2: liver + kidney
failure); vary it with keyword overrides. ``demo_patients_create`` enters a small cohort.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from crf.models import Visit
from crf.services import crf_save
from randomization.services import patient_randomize
from trials import services
from trials.forms import SCORE_INPUT_FIELDS
from trials.models import Patient


def eligible_screening_data(**overrides) -> dict:
    today = timezone.localdate()
    data = {
        "screening_date": today,
        "cirrhosis": True,
        "aclf_grade_confirmed": True,
        "acute_liver_failure_without_cirrhosis": False,
        "aclf1_responding_to_therapy": False,
        "current_malignancy": False,
        "afp_ng_ml": Decimal("12.0"),
        "previous_malignancy_or_hereditary_cancer": False,
        "nyha_class": "none",
        "gold_stage": "none",
        "gi_bleed_history": False,
        "last_gi_bleed_date": None,
        "previous_liver_transplant": False,
        "immunosuppressive_therapy": False,
        "extrahepatic_cholestasis": False,
        "hiv_infection": False,
        "pregnancy_status": "not_applicable",
        "childbearing_potential": "not_applicable",
        "investigational_trial_history": False,
        "last_investigational_trial_date": None,
        "active_drug_addiction": False,
        "refuses_participation": False,
        "unable_to_consent": False,
        # CLIF-C OF liver failure (bilirubin >= 12 mg/dL) + kidney failure (creatinine >= 2).
        "bilirubin_entered": Decimal("13.0"),
        "bilirubin_unit": "mg/dL",
        "creatinine_entered": Decimal("2.2"),
        "creatinine_unit": "mg/dL",
        "albumin_entered": Decimal("2.8"),
        "albumin_unit": "g/dL",
        "inr": Decimal("1.8"),
        "sodium_mmol_l": Decimal("132"),
        "wbc_10e9_l": Decimal("9.0"),
        "platelets_10e9_l": Decimal("90"),
        "he_grade": 0,
        "map_mmhg": Decimal("75"),
        "spo2_pct": Decimal("97"),
        "fio2": Decimal("0.21"),
        "ascites": "mild",
        "renal_replacement_therapy": False,
    }
    data.update(overrides)
    return data


def demo_patients_create(*, site, investigator) -> int:
    """A small demonstration cohort for ``make run`` (only when the site has no patients).

    Everything goes through the services, so the demo data is validated and audited like real
    data: one draft screening, one screen failure, one eligible patient waiting for
    randomization and three randomized patients with dose-1 vital signs and laboratory CRFs.
    Returns the number of patients created.
    """
    if Patient.objects.filter(site=site).exists():
        return 0
    now = timezone.now()
    people = [
        ("M", dt.date(1966, 4, 2), "JG", "draft", {}),
        ("F", dt.date(1958, 9, 12), "MR", "screen_failed", {"hiv_infection": True}),
        ("M", dt.date(1975, 1, 30), "PS", "eligible", {}),
        ("M", dt.date(1961, 11, 3), "AL", "randomized", {}),
        ("F", dt.date(1970, 6, 6), "CB", "randomized", {}),
        ("M", dt.date(1954, 2, 14), "EV", "randomized", {"creatinine_entered": Decimal("3.6")}),
    ]
    for sex, birth_date, initials, outcome, overrides in people:
        patient = services.patient_create(
            user=investigator,
            site=site,
            sex=sex,
            birth_date=birth_date,
            initials=initials,
            consent_datetime=now - dt.timedelta(hours=2),
            consent_version="v1.0",
        )
        if sex == "F":
            overrides = {
                "pregnancy_status": "not_pregnant",
                "childbearing_potential": "no",
                **overrides,
            }
        services.screening_save(
            user=investigator,
            patient=patient,
            data=eligible_screening_data(**overrides),
            complete=outcome != "draft",
        )
        if outcome != "randomized":
            continue
        patient_randomize(user=investigator, patient=patient, confirm_eligibility=True)
        dose1 = Visit.objects.filter(patient=patient).order_by("target_date").first()
        today = timezone.localdate()
        crf_save(
            user=investigator,
            form_code="vitals",
            visit=dose1,
            complete=True,
            confirm_out_of_range=True,
            data={
                "assessment_date": today,
                "weight_kg": Decimal("72.5"),
                "heart_rate_bpm": 88,
                "systolic_bp_mmhg": 108,
                "diastolic_bp_mmhg": 64,
                "temperature_c": Decimal("36.9"),
                "respiratory_rate": 18,
                "spo2_pct": Decimal("96"),
            },
        )
        # The visit lab CRF shares the screening's score-input fields.
        labs = {
            k: v
            for k, v in eligible_screening_data(**overrides).items()
            if k in SCORE_INPUT_FIELDS
        }
        crf_save(
            user=investigator,
            form_code="labs",
            visit=dose1,
            complete=False,
            confirm_out_of_range=True,
            data={"assessment_date": today, **labs},
        )
    return len(people)
