"""Screening as a draft, the grade confirmation bound to its value, one set of limits, exact
units, dates and the screening window (issue 13: each finding fails on the earlier code)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from randomization import services as rand_services
from tests.trials.screening_data import as_post, eligible_screening_data
from trials import services
from trials.limits import OutOfRangeWarning
from trials.models import FormStatus, Screening

pytestmark = pytest.mark.django_db


def test_a_partly_filled_screening_saves_as_a_draft(investigator, patient):
    screening = services.screening_save(
        user=investigator,
        patient=patient,
        data={"screening_date": timezone.localdate(), "cirrhosis": True},
        complete=False,
    )
    assert screening.status == FormStatus.DRAFT
    assert screening.eligible is None


def test_the_page_saves_a_partial_draft_and_shows_the_grade_unconfirmed(
    client, investigator, patient
):
    client.force_login(investigator)
    data = eligible_screening_data()
    data.pop("aclf_grade_confirmed")
    data["hiv_infection"] = None
    response = client.post(
        reverse("trials:screening-edit", args=[patient.pk]), {**as_post(data), "draft": ""}
    )
    assert response.status_code == 302
    body = client.get(reverse("trials:screening-edit", args=[patient.pk])).content.decode()
    assert "grade 2" in body  # shown before anyone confirmed it


def test_changing_a_value_that_moves_the_grade_voids_the_confirmation(investigator, patient):
    first = services.screening_save(
        user=investigator, patient=patient, data=eligible_screening_data(), complete=True
    )
    assert (first.aclf_grade, first.aclf_grade_confirmed) == ("2", True)
    # The box is still ticked, the INR now makes it grade 3: the confirmation no longer holds.
    second = services.screening_save(
        user=investigator,
        patient=patient,
        data=eligible_screening_data(inr=Decimal("2.6")),
        complete=False,
        reason="INR corrected",
    )
    assert second.aclf_grade == "3"
    assert second.aclf_grade_confirmed is False
    assert second.eligible is None
    problems = rand_services.patient_randomization_problems(patient=patient)
    assert "screening" in problems


def test_confirming_a_grade_other_than_the_computed_one_confirms_nothing(investigator, patient):
    screening = services.screening_save(
        user=investigator,
        patient=patient,
        data=eligible_screening_data(aclf_grade_confirmed_as="1"),
        complete=False,
    )
    assert screening.aclf_grade == "2"
    assert screening.aclf_grade_confirmed is False


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"bilirubin_entered": Decimal("85"), "bilirubin_unit": "mg/dL"}, "bilirubin_entered"),
        ({"creatinine_entered": Decimal("25"), "creatinine_unit": "mg/dL"}, "creatinine_entered"),
        ({"spo2_pct": Decimal("5")}, "spo2_pct"),
        ({"norepinephrine_ug_kg_min": Decimal("8")}, "norepinephrine_ug_kg_min"),
    ],
)
def test_screening_values_outside_soft_limits_need_a_confirmation(
    investigator, patient, override, field
):
    with pytest.raises(OutOfRangeWarning) as warning:
        services.screening_save(
            user=investigator,
            patient=patient,
            data=eligible_screening_data(**override),
            complete=True,
        )
    assert field in warning.value.warnings
    assert not Screening.objects.filter(patient=patient).exists()
    screening = services.screening_save(
        user=investigator,
        patient=patient,
        data=eligible_screening_data(**override),
        complete=False,
        confirm_out_of_range=True,
    )
    assert screening.out_of_range_confirmed == [field]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"afp_ng_ml": Decimal("-5")}, "afp_ng_ml"),
        ({"afp_ng_ml": Decimal("-99999")}, "afp_ng_ml"),
        ({"map_mmhg": Decimal("0")}, "map_mmhg"),
        ({"bilirubin_entered": Decimal("0"), "bilirubin_unit": "mg/dL"}, "bilirubin_entered"),
    ],
)
def test_impossible_screening_values_are_refused(investigator, patient, override, field):
    with pytest.raises(ValidationError) as exc:
        services.screening_save(
            user=investigator,
            patient=patient,
            data=eligible_screening_data(**override),
            complete=False,
            confirm_out_of_range=True,
        )
    assert field in exc.value.message_dict


def test_creatinine_in_umol_is_converted_exactly_before_the_thresholds(investigator, patient):
    """176.79 µmol/L / 88.4 = 1.99989 mg/dL: below the 2.0 mg/dL kidney-failure cut-off of
    CLIF-C OF (Jalan et al., J Hepatol 2014;61:1038, Table 1), so no organ failure and no ACLF
    (Moreau et al., Gastroenterology 2013;144:1426: grade 1 needs an organ failure); at
    176.80 µmol/L (exactly 2.0 mg/dL) the single kidney failure is ACLF grade 1."""
    data = eligible_screening_data(
        bilirubin_entered=Decimal("3.0"),  # no liver failure
        creatinine_entered=Decimal("176.79"),
        creatinine_unit="µmol/L",
    )
    screening = services.screening_save(
        user=investigator, patient=patient, data=data, complete=False
    )
    assert screening.creatinine_mg_dl < Decimal("2")
    assert screening.aclf_grade == "no_aclf"
    at_cutoff = services.screening_save(
        user=investigator,
        patient=patient,
        data={**data, "creatinine_entered": Decimal("176.80")},
        complete=False,
    )
    assert at_cutoff.creatinine_mg_dl == Decimal("2")
    assert at_cutoff.aclf_grade == "1"


@pytest.mark.parametrize(
    "override",
    [
        {"screening_date": dt.date(1, 1, 1)},
        {"gi_bleed_history": True, "last_gi_bleed_date": dt.date(1, 1, 1)},
        {
            "investigational_trial_history": True,
            "last_investigational_trial_date": dt.date(1, 1, 1),
        },
        {"gi_bleed_history": True, "last_gi_bleed_date": timezone.localdate() + dt.timedelta(2)},
    ],
)
def test_dates_before_1900_or_in_the_future_are_field_errors(investigator, patient, override):
    with pytest.raises(ValidationError) as exc:
        services.screening_save(
            user=investigator,
            patient=patient,
            data=eligible_screening_data(**override),
            complete=False,
        )
    assert set(exc.value.message_dict) & set(override)


def test_year_one_screening_date_is_a_field_error_on_the_page(client, investigator, patient):
    client.force_login(investigator)
    post = {**as_post(eligible_screening_data()), "screening_date": "0001-01-01", "draft": ""}
    response = client.post(reverse("trials:screening-edit", args=[patient.pk]), post)
    assert response.status_code == 200
    assert "Enter a date from 1900 on." in response.content.decode()


def test_not_applicable_male_is_refused_for_a_woman(investigator, site):
    from tests.factories import PatientFactory

    woman = PatientFactory(site=site, sex="F")
    with pytest.raises(ValidationError) as exc:
        services.screening_save(
            user=investigator, patient=woman, data=eligible_screening_data(), complete=False
        )
    assert "pregnancy_status" in exc.value.message_dict


def test_a_screening_older_than_the_window_cannot_be_randomized(
    investigator, patient, unblinded_statistician
):
    patient.consent_datetime = timezone.now() - dt.timedelta(days=30)
    patient.save()
    rand_services.randomization_list_generate(user=unblinded_statistician, trial=patient.trial)
    services.screening_save(
        user=investigator,
        patient=patient,
        data=eligible_screening_data(screening_date=timezone.localdate() - dt.timedelta(days=20)),
        complete=True,
    )
    with pytest.raises(ValidationError, match="20 days ago"):
        rand_services.patient_randomize(
            user=investigator, patient=patient, confirm_eligibility=True
        )


def test_screening_seven_days_old_is_still_valid(investigator, patient, unblinded_statistician):
    patient.consent_datetime = timezone.now() - dt.timedelta(days=30)
    patient.save()
    rand_services.randomization_list_generate(user=unblinded_statistician, trial=patient.trial)
    services.screening_save(
        user=investigator,
        patient=patient,
        data=eligible_screening_data(screening_date=timezone.localdate() - dt.timedelta(days=7)),
        complete=True,
    )
    assert rand_services.patient_randomization_problems(patient=patient) == {}


def test_live_preview_computes_the_grade_without_saving(client, investigator, monitor, patient):
    client.force_login(investigator)
    url = reverse("trials:screening-preview", args=[patient.pk])
    body = client.post(url, as_post(eligible_screening_data(inr=Decimal("2.6")))).json()
    assert body["aclf_grade"] == "3"
    assert set(body["organ_failures"]) >= {"liver", "kidney"}
    assert not Screening.objects.filter(patient=patient).exists()
    junk = client.post(url, {"screening_date": "0001-01-01", "inr": "1e999", "map_mmhg": "x"})
    assert junk.status_code == 200
    client.force_login(monitor)  # may read the patient, may not enter data
    assert client.post(url, as_post(eligible_screening_data())).status_code == 403


# --- corrections of identity data ------------------------------------------------------------


def test_birth_date_correction_rederives_eligibility_and_every_score(
    client, investigator, patient
):
    services.screening_save(
        user=investigator, patient=patient, data=eligible_screening_data(), complete=True
    )
    record = patient.score_records.get()
    old_aclf = record.clif_c_aclf
    client.force_login(investigator)
    url = reverse("trials:patient-identity-correct", args=[patient.pk])
    response = client.post(
        url,
        {
            "sex": "M",
            "birth_date": "1940-01-01",  # 86 on the screening date: above the trial's 79
            "initials": patient.initials,
            "consent_datetime": timezone.localtime(patient.consent_datetime).strftime(
                "%Y-%m-%dT%H:%M"
            ),
            "consent_version": patient.consent_version,
            "reason": "Birth year mistyped; the ID card says 1940",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    patient.refresh_from_db()
    screening = patient.screening
    assert screening.eligible is False
    assert screening.failed_criteria == ["INC4"]
    assert patient.status == "screen_failed"
    record.refresh_from_db()
    assert record.clif_c_aclf != old_aclf  # age is an input of CLIF-C ACLF
    assert record.inputs["age"]["value"] == 86
    assert "correction of birth date" in record.trigger  # derived record: no history (#16)
    reasons = list(patient.history.values_list("history_change_reason", flat=True))
    assert "Correction of birth date: Birth year mistyped; the ID card says 1940" in reasons


def test_a_correction_needs_a_reason_and_a_change(investigator, patient):
    with pytest.raises(ValidationError, match="reason"):
        services.patient_identity_correct(
            user=investigator, patient=patient, data={"sex": "F"}, reason=""
        )
    with pytest.raises(ValidationError, match="Nothing was changed"):
        services.patient_identity_correct(
            user=investigator, patient=patient, data={"sex": patient.sex}, reason="checked"
        )


def test_only_site_investigators_correct_identity(monitor, other_site_investigator, patient):
    from django.core.exceptions import PermissionDenied

    for user in (monitor, other_site_investigator):
        with pytest.raises(PermissionDenied):
            services.patient_identity_correct(
                user=user, patient=patient, data={"sex": "F"}, reason="not mine"
            )


def test_age_bounds_come_from_the_trial(investigator, patient):
    patient.trial.max_age = 90
    patient.trial.save()
    patient.birth_date = dt.date(1940, 1, 1)
    patient.save()
    screening = services.screening_save(
        user=investigator, patient=patient, data=eligible_screening_data(), complete=True
    )
    assert screening.eligible is True


def test_patient_page_says_why_a_primary_score_was_not_computed(client, investigator, patient):
    data = eligible_screening_data(platelets_10e9_l=None)
    services.screening_save(user=investigator, patient=patient, data=data, complete=False)
    client.force_login(investigator)
    body = client.get(reverse("trials:patient-detail", args=[patient.pk])).content.decode()
    assert "CLIF-SOFA not computed: missing Platelets (10⁹/L)" in body
