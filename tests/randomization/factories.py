"""Helpers for randomization tests: eligible screenings, lists, randomized patients per arm."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from django.utils import timezone

from randomization import services
from randomization.models import Allocation, RandomizationList
from tests.factories import PatientFactory
from tests.trials.screening_data import eligible_screening_data
from trials.models import FormStatus, Screening

TEST_SEED = "test-seed-42"


def screening_complete(patient, *, grade: str = "2", eligible: bool | None = True) -> Screening:
    """A complete screening with the derived fields set as the screening service would."""
    criteria = {
        k: v
        for k, v in eligible_screening_data().items()
        if not k.endswith(("_entered", "_unit"))
        and k not in {"inr", "sodium_mmol_l", "wbc_10e9_l", "platelets_10e9_l", "he_grade"}
        and k not in {"map_mmhg", "spo2_pct", "fio2", "ascites"}
    }
    return Screening.objects.create(
        patient=patient,
        status=FormStatus.COMPLETE,
        eligible=eligible,
        aclf_grade=grade,
        **criteria,
    )


def active_list(trial, *, seed: str = TEST_SEED) -> RandomizationList:
    existing = RandomizationList.objects.filter(
        trial=trial, status=RandomizationList.Status.ACTIVE
    ).first()
    return existing or services.randomization_list_generate(user=None, trial=trial, seed=seed)


def eligible_patient(site, *, grade: str = "2", **kwargs):
    patient = PatientFactory(site=site, **kwargs)
    screening_complete(patient, grade=grade)
    return patient


def randomize(patient, user):
    active_list(patient.trial)
    allocation = services.patient_randomize(user=user, patient=patient, confirm_eligibility=True)
    patient.refresh_from_db()
    return allocation


ARM_WORDS = re.compile(r"\b(msc|placebo|arm [ab]|mesenchymal)\b", re.IGNORECASE)


def arm_words(text: str) -> list[str]:
    """Arm-revealing words in ``text`` (empty when blinded-safe)."""
    return ARM_WORDS.findall(text)


def patients_by_arm(site, investigator, *, grade: str = "2") -> dict[str, object]:
    """Randomize eligible patients until both arms have one; returns {arm code: patient}."""
    found: dict[str, object] = {}
    for _ in range(20):
        patient = eligible_patient(site, grade=grade)
        allocation = randomize(patient, investigator)
        found.setdefault(Allocation.objects.get(pk=allocation.pk).entry.arm, patient)
        if len(found) == 2:
            return found
    raise AssertionError("the test list never gave both arms")


def weigh(patient, *, on: dt.date | None = None, kg: Decimal = Decimal("72.5"), dose: int = 1):
    """A complete vital-signs weight at the patient's dose visit (what the investigator enters)."""
    from crf.models import Visit, VitalSigns

    on = on or timezone.localdate()
    visit = Visit.objects.get(patient=patient, definition__dose_number=dose)
    vitals, _ = VitalSigns.objects.update_or_create(
        visit=visit,
        defaults={
            "patient": patient,
            "status": FormStatus.COMPLETE,
            "weight_kg": kg,
            "assessment_date": on,
        },
    )
    return vitals


def prepare(
    patient,
    pharmacist,
    *,
    dose_number: int = 1,
    cells: bool,
    lot: str = "LOT-7731",
    weighed: bool = True,
    **overrides,
):
    """A preparation of ``dose_number``; the patient is weighed that day unless ``weighed``
    is False. Both arms record the same fields; the placebo has 0 cells."""
    from crf.models import VitalSigns

    if (
        weighed
        and not VitalSigns.objects.filter(
            patient=patient, assessment_date=timezone.localdate(), weight_kg__isnull=False
        ).exists()
    ):
        weigh(patient, dose=dose_number)
    data = {
        "user": pharmacist,
        "patient": patient,
        "dose_number": dose_number,
        "prepared_at": timezone.now() - dt.timedelta(minutes=1),
        "product_lot": lot,
        "volume_ml": Decimal("50.0"),
        "checked_by": "Second Checker",
        "cell_count": 152_340_000 if cells else 0,
        "viability_pct": Decimal("93.7"),
    }
    data.update(overrides)
    return services.dose_preparation_record(**data)
