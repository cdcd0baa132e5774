import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.trials.screening_data import eligible_screening_data
from trials import services
from trials.models import PatientStatus, ScoreRecord, Screening

pytestmark = pytest.mark.django_db


def test_patient_create_numbers_patients_per_site(investigator, site):
    first = services.patient_create(
        user=investigator, site=site, sex="F", birth_date=dt.date(1960, 1, 1)
    )
    second = services.patient_create(
        user=investigator, site=site, sex="M", birth_date=dt.date(1961, 1, 1)
    )
    assert (first.screening_number, second.screening_number) == ("S01-0001", "S01-0002")
    assert first.history.get().history_user == investigator


def test_consent_in_the_future_is_refused(investigator, site):
    with pytest.raises(ValidationError, match="future"):
        services.patient_create(
            user=investigator,
            site=site,
            sex="F",
            birth_date=dt.date(1960, 1, 1),
            consent_datetime=timezone.now() + dt.timedelta(hours=2),
        )


def test_screening_save_computes_grade_scores_and_eligibility(investigator, patient):
    screening = services.screening_save(
        user=investigator, patient=patient, data=eligible_screening_data(), complete=True
    )
    assert screening.aclf_grade == "2"
    assert screening.eligible is True
    record = ScoreRecord.objects.get(patient=patient)
    assert (record.clif_c_of, record.meld, record.child_pugh_class) == (9, 30, "C")
    assert record.inputs["bilirubin_mg_dl"] == {
        "value": 13.0,
        "unit": "mg/dL",
        "entered": "13.0",
        "entered_unit": "mg/dL",
        "source": "Screening",
    }
    assert record.details["organ_failures"] == ["liver", "kidney"]


def test_si_units_are_stored_canonically_with_the_unit_entered(investigator, patient):
    data = eligible_screening_data(bilirubin_entered=Decimal("222.3"), bilirubin_unit="µmol/L")
    screening = services.screening_save(
        user=investigator, patient=patient, data=data, complete=False
    )
    assert screening.bilirubin_mg_dl == Decimal("13.000")  # 222.3 / 17.1
    assert (screening.bilirubin_entered, screening.bilirubin_unit) == (Decimal("222.3"), "µmol/L")


def test_grade_is_computed_not_typed(investigator, patient):
    # Single kidney failure = ACLF grade 1 (CANONIC); no liver failure.
    data = eligible_screening_data(bilirubin_entered=Decimal("2.0"))
    screening = services.screening_save(
        user=investigator, patient=patient, data=data, complete=True
    )
    assert screening.aclf_grade == "1"


def test_ineligible_complete_screening_makes_a_screen_failure_with_reasons(investigator, patient):
    data = eligible_screening_data(hiv_infection=True, nyha_class="IV")
    services.screening_save(user=investigator, patient=patient, data=data, complete=True)
    patient.refresh_from_db()
    assert patient.status == PatientStatus.SCREEN_FAILED
    assert patient.screen_failure_reasons == ["EXC5", "EXC12"]


def test_completing_with_unanswered_criteria_is_refused_and_nothing_saved(investigator, patient):
    data = eligible_screening_data(hiv_infection=None)
    with pytest.raises(ValidationError, match="EXC12 HIV infection"):
        services.screening_save(user=investigator, patient=patient, data=data, complete=True)
    assert not Screening.objects.filter(patient=patient).exists()
    assert not ScoreRecord.objects.exists()


def test_changing_a_complete_screening_needs_a_reason(investigator, patient):
    services.screening_save(
        user=investigator, patient=patient, data=eligible_screening_data(), complete=True
    )
    with pytest.raises(ValidationError, match="reason"):
        services.screening_save(
            user=investigator,
            patient=patient,
            data=eligible_screening_data(inr=Decimal("2.6")),
            complete=True,
        )


def test_audit_trail_records_old_and_new_values_who_and_why(investigator, patient):
    services.screening_save(
        user=investigator, patient=patient, data=eligible_screening_data(), complete=True
    )
    services.screening_save(
        user=investigator,
        patient=patient,
        # INR 2.6 is a coagulation failure: grade 3, confirmed again as such.
        data=eligible_screening_data(inr=Decimal("2.6"), aclf_grade_confirmed_as="3"),
        complete=True,
        reason="Transcription error: INR 2.6 on the lab report",
    )
    screening = Screening.objects.get(patient=patient)
    latest, previous = screening.history.all()[:2]
    delta = latest.diff_against(previous)
    inr = next(c for c in delta.changes if c.field == "inr")
    assert (inr.old, inr.new) == (Decimal("1.80"), Decimal("2.60"))
    assert latest.history_change_reason == "Transcription error: INR 2.6 on the lab report"
    assert latest.history_user == investigator


def test_editing_an_input_recomputes_the_derived_score_record_in_place(investigator, patient):
    """#16: a compact derived record (no history of its own); the old input is in the audited
    screening's history, and the record says what recomputed it."""
    services.screening_save(
        user=investigator, patient=patient, data=eligible_screening_data(), complete=False
    )
    before = ScoreRecord.objects.get(patient=patient)
    services.screening_save(
        user=investigator,
        patient=patient,
        data=eligible_screening_data(inr=Decimal("2.6")),
        complete=False,
    )
    record = ScoreRecord.objects.get(patient=patient)
    assert record.pk == before.pk
    assert record.meld > before.meld
    assert record.inputs["inr"]["value"] == 2.6
    assert record.trigger == "Recomputed after screening form saved"
    assert not hasattr(ScoreRecord, "history")
    old_inr = patient.screening.history.order_by("history_id").first().inr
    assert old_inr != Decimal("2.6")


def test_score_inputs_are_stored_compactly_and_read_back_unchanged(investigator, patient):
    services.screening_save(
        user=investigator, patient=patient, data=eligible_screening_data(), complete=False
    )
    record = ScoreRecord.objects.get(patient=patient)
    screening = patient.screening
    full = services.score_inputs_collect(
        screening, patient=patient, on=screening.screening_date, source_label="Screening"
    )
    packed = services.score_inputs_pack(full, label="Screening")
    assert services.score_inputs_unpack(packed, label="Screening") == full  # lossless
    assert len(json.dumps(packed)) < len(json.dumps(full)) / 2
    assert {k: i["value"] for k, i in record.inputs.items()} == {
        k: i["value"] for k, i in full.items()
    }
    # the explanation is re-derived by the same algorithm: same scores as stored
    assert record.details["clif_sofa"]["subscores"]
    assert set(record.missing) >= {"meld", "clif_sofa"}
    fresh = services.scores_compute(record.inputs)
    assert (fresh["meld"], fresh["clif_sofa"]) == (record.meld, record.clif_sofa)


def test_a_record_of_another_algorithm_version_shows_its_scores_without_re_deriving(
    investigator, patient
):
    services.screening_save(
        user=investigator, patient=patient, data=eligible_screening_data(), complete=False
    )
    ScoreRecord.objects.update(algorithm_version="liveradvance-scoring/0.9")
    record = ScoreRecord.objects.get(patient=patient)
    assert record.meld is not None
    assert record.details == {}


def test_invalid_score_input_raises_a_field_error(investigator, patient):
    with pytest.raises(ValidationError) as excinfo:
        services.screening_save(
            user=investigator,
            patient=patient,
            data=eligible_screening_data(fio2=Decimal("1.5")),
            complete=False,
        )
    assert "fio2" in excinfo.value.message_dict


def test_screening_is_frozen_after_randomization(investigator, patient):
    patient.status = PatientStatus.RANDOMIZED
    patient.save()
    with pytest.raises(ValidationError, match="after randomization"):
        services.screening_save(
            user=investigator, patient=patient, data=eligible_screening_data(), complete=False
        )


def test_correcting_a_screen_failure_reopens_the_patient(investigator, patient):
    services.screening_save(
        user=investigator,
        patient=patient,
        data=eligible_screening_data(hiv_infection=True),
        complete=True,
    )
    services.screening_save(
        user=investigator,
        patient=patient,
        data=eligible_screening_data(),
        complete=True,
        reason="HIV test was negative; wrong box ticked",
    )
    patient.refresh_from_db()
    assert patient.status == PatientStatus.SCREENING
    assert patient.screen_failure_reasons == []


def test_roles_sync_is_idempotent_and_grants_explicit_permissions(db):
    first = services.roles_sync()
    second = services.roles_sync()
    assert {g.pk for g in first.values()} == {g.pk for g in second.values()}
    investigator_perms = set(first["investigator"].permissions.values_list("codename", flat=True))
    assert {"add_patient", "change_screening"} <= investigator_perms
    assert not first["monitor"].permissions.filter(codename__startswith="change_").exists()


@pytest.mark.django_db
def test_site_membership_grant_records_the_granting_user_without_rewriting_history(
    trial_admin, site
):
    from tests.factories import UserFactory

    newcomer = UserFactory(username="newcomer")
    membership = services.site_membership_grant(user=newcomer, site=site, granted_by=trial_admin)
    rows = list(membership.history.all())
    assert [(r.history_type, r.history_user) for r in rows] == [("+", trial_admin)]
    # Granting again changes nothing and adds no history.
    assert services.site_membership_grant(user=newcomer, site=site) == membership
    assert membership.history.count() == 1


def test_no_history_row_is_ever_updated_in_place():
    """Audit rows are written once: no ``history...update(`` anywhere in the apps (issue 12)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    pattern = re.compile(r"history\b[^\n]*\.update\(")
    offenders = [
        f"{path.relative_to(root)}:{n}"
        for app in ("trials", "crf", "randomization", "monitoring", "exports")
        for path in (root / app).rglob("*.py")
        if "migrations" not in path.parts
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_storing_recomputed_scores_takes_three_queries(
    investigator, patient, django_assert_max_num_queries
):
    """#16: read, update, change-feed event (was 8 with validation lookups and history)."""
    services.screening_save(
        user=investigator, patient=patient, data=eligible_screening_data(), complete=False
    )
    record = ScoreRecord.objects.get(patient=patient)
    inputs = record.inputs
    inputs["inr"] = {**inputs["inr"], "value": 2.9}
    screening = patient.screening
    with django_assert_max_num_queries(3):
        services.score_record_save(
            patient=patient,
            source=screening,
            label="Screening",
            assessed_on=record.assessed_on,
            inputs=inputs,
            result=services.scores_compute(inputs),
            trigger="test",
        )
    assert ScoreRecord.objects.get(pk=record.pk).inputs["inr"]["value"] == 2.9
