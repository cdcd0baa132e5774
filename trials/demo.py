"""Demo clinical data: a complete, eligible screening (ACLF grade 2: liver + kidney failure).

Used by the benchmark and the tests; vary it with keyword overrides.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone


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
