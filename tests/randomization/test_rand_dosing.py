"""Issue 10 findings on the pharmacy side, one test per observed defect (each failed on the
code before): cell count and viability limits, the weight of the dosing day, no dose after
the treatment ended, the pharmacy's next dose, administration without preparation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from crf import services as crf_services
from crf.models import Visit
from randomization import selectors
from randomization.models import DosePreparation
from tests.randomization.factories import prepare, weigh

pytestmark = pytest.mark.django_db


def later(days: int):
    """Travel ``days`` days after now (the patients were randomized today)."""
    return time_machine.travel(timezone.now() + dt.timedelta(days=days), tick=False)


def give(user, patient, dose: int, *, given: bool = True):
    visit = Visit.objects.get(patient=patient, definition__dose_number=dose)
    start = timezone.now() - dt.timedelta(minutes=30)
    data = (
        {
            "given": True,
            "start_time": start,
            "end_time": start + dt.timedelta(minutes=20),
            "infusion_reaction": False,
            "volume_infused_ml": "50.0",
            "full_dose_given": True,
        }
        if given
        else {"given": False, "not_given_reason": "clinical_condition"}
    )
    return crf_services.crf_save(
        user=user,
        form_code="administration",
        visit=visit,
        data=data,
        complete=True,
        confirm_out_of_range=True,
    )


def end_of_study(user, patient, reason: str, **extra):
    data = {"reason": reason, "end_date": timezone.localdate(), **extra}
    if reason == "died":
        data["death_cause"] = "Multi-organ failure"
    return crf_services.crf_save(
        user=user, form_code="end_of_study", patient=patient, data=data, complete=True
    )


def row_of(pharmacist, patient):
    rows = selectors.pharmacy_worklist(user=pharmacist, patients=[patient])
    return rows[0]


# --- cell count and viability ---------------------------------------------------------------


def test_a_one_cell_preparation_is_refused_with_the_numbers(by_arm, pharmacist):
    weigh(by_arm["A"], kg=Decimal("72.5"))
    with pytest.raises(ValidationError) as exc:
        prepare(by_arm["A"], pharmacist, cells=True, cell_count=1, viability_pct=Decimal(99))
    message = exc.value.message_dict["cell_count"][0]
    assert "145.0 × 10⁶" in message  # the prescribed dose: 2 × 10⁶/kg × 72.5 kg
    assert "130.5 × 10⁶ to 159.5 × 10⁶" in message  # ± 10 %
    assert not DosePreparation.objects.exists()


def test_viability_below_the_minimum_is_refused(by_arm, pharmacist):
    with pytest.raises(ValidationError) as exc:
        prepare(by_arm["A"], pharmacist, cells=True, viability_pct=Decimal("20.0"))
    assert "below the minimum of 70%" in exc.value.message_dict["viability_pct"][0]


def test_tolerance_and_minimum_viability_are_trial_settings(by_arm, pharmacist):
    trial = by_arm["A"].trial
    trial.dose_min_viability_pct = Decimal(95)
    trial.save()
    with pytest.raises(ValidationError, match="minimum of 95%"):
        prepare(by_arm["A"], pharmacist, cells=True)  # 93.7 %


def test_a_thousand_cell_preparation_is_refused_for_later_doses(by_arm, pharmacist, investigator):
    prepare(by_arm["A"], pharmacist, cells=True)
    give(investigator, by_arm["A"], 1)
    with later(3):
        weigh(by_arm["A"], dose=2)
        with pytest.raises(ValidationError, match="outside the prescribed dose"):
            prepare(by_arm["A"], pharmacist, dose_number=2, cells=True, cell_count=1000)


# --- the weight of the dosing day -------------------------------------------------------------


def test_day1_weight_on_day_18_needs_a_confirmation(by_arm, pharmacist, investigator):
    prepare(by_arm["A"], pharmacist, cells=True)
    give(investigator, by_arm["A"], 1)
    with later(17):
        with pytest.raises(ValidationError) as exc:
            prepare(by_arm["A"], pharmacist, dose_number=4, cells=True, weighed=False)
        assert (
            "17 day(s) before the dosing day" in exc.value.message_dict["confirm_weight_date"][0]
        )
        prep = prepare(
            by_arm["A"],
            pharmacist,
            dose_number=4,
            cells=True,
            weighed=False,
            confirm_weight_date=True,
        )
    assert prep.weight_kg == Decimal("72.5")
    assert "days old" in prep.confirmations[0]


def test_no_weight_at_all_refuses_the_preparation(by_arm, pharmacist):
    with pytest.raises(ValidationError) as exc:
        prepare(by_arm["A"], pharmacist, cells=True, weighed=False)
    assert "No weight recorded" in exc.value.message_dict["weight"][0]


def test_a_weight_change_over_ten_percent_needs_a_confirmation(by_arm, pharmacist, investigator):
    prepare(by_arm["A"], pharmacist, cells=True)
    give(investigator, by_arm["A"], 1)
    with later(3):
        weigh(by_arm["A"], dose=2, kg=Decimal("82.0"))
        with pytest.raises(ValidationError) as exc:
            prepare(by_arm["A"], pharmacist, dose_number=2, cells=True, cell_count=164_000_000)
        assert "changed by 13%" in exc.value.message_dict["confirm_weight_change"][0]
        prep = prepare(
            by_arm["A"],
            pharmacist,
            dose_number=2,
            cells=True,
            cell_count=164_000_000,
            confirm_weight_change=True,
        )
    assert prep.prescribed_cells == 164_000_000


# --- no dose after the end of treatment --------------------------------------------------------


def test_no_preparation_after_end_of_study_died(by_arm, pharmacist, investigator):
    prepare(by_arm["A"], pharmacist, cells=True)
    give(investigator, by_arm["A"], 1)
    end_of_study(investigator, by_arm["A"], "died")
    with later(3):
        weigh(by_arm["A"], dose=2)
        with pytest.raises(ValidationError, match="No more doses: Died"):
            prepare(by_arm["A"], pharmacist, dose_number=2, cells=True)


def test_ended_patients_leave_the_pharmacy_worklist_but_stay_readable(
    client, by_arm, pharmacist, investigator
):
    end_of_study(investigator, by_arm["B"], "withdrew_consent", withdrawal_scope="no_more_doses")
    client.force_login(pharmacist)
    html = client.get(reverse("randomization:pharmacy-list")).content.decode()
    assert by_arm["B"].subject_id not in html
    assert by_arm["A"].subject_id in html
    ended = client.get(reverse("randomization:pharmacy-list") + "?ended=1").content.decode()
    assert by_arm["B"].subject_id in ended
    assert "Record dose" not in ended


# --- next dose and administrations without preparation ----------------------------------------


def test_dose_given_without_preparation_warns_and_is_not_offered_again(
    client, by_arm, pharmacist, investigator
):
    weigh(by_arm["A"])
    give(investigator, by_arm["A"], 1)
    row = row_of(pharmacist, by_arm["A"])
    assert row.next_dose_number != 1
    assert row.unprepared_given == [1]
    client.force_login(investigator)
    page = client.get(reverse("trials:patient-detail", args=[by_arm["A"].pk])).content.decode()
    assert "no preparation of dose 1 is on record" in page


def test_a_dose_not_given_is_not_the_next_dose(by_arm, pharmacist, investigator):
    prepare(by_arm["A"], pharmacist, cells=True)
    give(investigator, by_arm["A"], 1)
    with later(3):
        give(investigator, by_arm["A"], 2, given=False)
    with later(9):
        weigh(by_arm["A"], dose=3)
        prepare(by_arm["A"], pharmacist, dose_number=3, cells=True)
        give(investigator, by_arm["A"], 3)
    with later(16):
        assert row_of(pharmacist, by_arm["A"]).next_dose_number == 4


def test_the_admin_cannot_record_a_preparation_or_an_administration(rf, by_arm):
    """The admin path: preparations are read-only there and administrations are not in it,
    so no dose can bypass the course and the dosing checks."""
    from django.contrib import admin
    from django.contrib.auth import get_user_model

    from crf.models import Administration

    request = rf.get("/admin/")
    request.user = get_user_model().objects.create_superuser("root", "r@example.org", "x")
    model_admin = admin.site._registry[DosePreparation]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert Administration not in admin.site._registry


def test_pharmacy_api_lists_only_patients_on_treatment_with_the_warning(
    client, by_arm, pharmacist, investigator
):
    weigh(by_arm["A"])
    give(investigator, by_arm["A"], 1)
    end_of_study(investigator, by_arm["B"], "died")
    client.force_login(pharmacist)
    rows = client.get(reverse("randomization-api:pharmacy-list")).json()["results"]
    assert [r["patient_id"] for r in rows] == [by_arm["A"].pk]
    assert rows[0]["doses_given_without_preparation"] == [1]
    assert rows[0]["course_state"] == "randomized"
