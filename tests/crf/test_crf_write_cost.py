"""What one lab CRF save costs in queries (#16: ≤ 11, savepoints of the test transaction
included), and the rules that the lighter save path must still keep."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crf import services
from crf.models import LabResult, Visit
from exports.models import ChangeEvent
from monitoring import services as monitoring_services
from monitoring.models import SdvMark
from tests.crf.test_crf_services import LABS
from trials.concurrency import StaleEdit
from trials.models import ScoreRecord

pytestmark = pytest.mark.django_db

CRF_SAVE_MAX_QUERIES = 11  # 9 statements: the first save also reads the user's roles


def _dose1(patient) -> Visit:
    return Visit.objects.get(patient=patient, definition__code="dose1")


def _save_labs(user, visit, reason="", **changes):
    return services.crf_save(
        user=user,
        form_code="labs",
        visit=visit,
        data={**LABS, **changes},
        complete=True,
        confirm_out_of_range=True,
        reason=reason,
    )


def _tables(queries, verb: str) -> list[str]:
    """The tables the captured statements starting with ``verb`` touch."""
    found = []
    for query in queries:
        sql = query["sql"]
        if sql.startswith(verb):
            found.append(sql.split('"')[1])
    return found


def test_a_first_lab_save_stays_within_the_query_budget(
    investigator, randomized_patient, django_assert_max_num_queries
):
    visit = _dose1(randomized_patient)
    with django_assert_max_num_queries(CRF_SAVE_MAX_QUERIES):
        labs = _save_labs(investigator, visit)
    assert labs.history.count() == 1
    assert ScoreRecord.objects.filter(source_id=labs.pk).count() == 1


def test_a_lab_correction_with_a_reason_stays_within_the_query_budget(
    investigator, randomized_patient, django_assert_max_num_queries
):
    visit = _dose1(randomized_patient)
    labs = _save_labs(investigator, visit)
    with django_assert_max_num_queries(CRF_SAVE_MAX_QUERIES):
        corrected = _save_labs(
            investigator,
            visit,
            reason="Corrected against the source",
            bilirubin_entered=Decimal(5),
            bilirubin_unit="mg/dL",
        )
    assert corrected.lock_version == labs.lock_version + 1
    assert corrected.history.first().history_change_reason == "Corrected against the source"
    record = ScoreRecord.objects.get(source_id=labs.pk)
    assert record.trigger.startswith("Recomputed after Laboratory")


def test_one_lab_save_reads_the_locks_once_and_inserts_its_feed_events_together(
    investigator, randomized_patient
):
    visit = _dose1(randomized_patient)
    _save_labs(investigator, visit)
    with CaptureQueriesContext(connection) as captured:
        labs = _save_labs(investigator, visit, reason="Re-read", bilirubin_entered=Decimal(4))
    selects = _tables(captured.captured_queries, "SELECT")
    assert selects.count("monitoring_lock") == 1
    assert "crf_historicallabresult" not in selects  # what changed: from the locked read
    assert _tables(captured.captured_queries, "INSERT").count("exports_changeevent") == 1
    events = ChangeEvent.objects.filter(patient=randomized_patient).order_by("-pk")[:2]
    assert {(e.kind, e.object_id) for e in events} == {
        (ChangeEvent.Kind.FORM, labs.pk),
        (ChangeEvent.Kind.SCORES, ScoreRecord.objects.get(source_id=labs.pk).pk),
    }


def test_a_form_saved_by_the_service_is_still_guarded_on_its_next_direct_save(
    investigator, data_manager, randomized_patient
):
    visit = _dose1(randomized_patient)
    labs = _save_labs(investigator, visit)
    monitoring_services.lock_set(
        user=data_manager, patient=randomized_patient, level="visit", visit_id=visit.pk
    )
    labs.bilirubin_entered = Decimal(6)
    with pytest.raises(ValidationError, match="Locked by the data manager"):
        labs.save()  # the service's lock check covered its own save only


def test_a_locked_lab_form_is_refused_before_its_checks(
    investigator, data_manager, randomized_patient
):
    visit = _dose1(randomized_patient)
    _save_labs(investigator, visit)
    monitoring_services.lock_set(
        user=data_manager, patient=randomized_patient, level="visit", visit_id=visit.pk
    )
    # No reason and a hard-limit error: the lock is what the user is told.
    with pytest.raises(ValidationError, match="Locked by the data manager"):
        _save_labs(investigator, visit, bilirubin_entered=Decimal(-1))


def test_a_correction_clears_the_sdv_of_the_changed_field_only(
    investigator, monitor, randomized_patient
):
    visit = _dose1(randomized_patient)
    labs = _save_labs(investigator, visit)
    marks = {
        field: monitoring_services.sdv_mark(
            user=monitor,
            patient=randomized_patient,
            form_code="labs",
            record_id=labs.pk,
            field=field,
        )
        for field in ("bilirubin_entered", "inr")
    }
    _save_labs(investigator, visit, reason="Re-read", bilirubin_entered=Decimal(4))
    cleared = dict(SdvMark.objects.values_list("field", "cleared_at"))
    assert cleared["bilirubin_entered"] is not None
    assert cleared["inr"] is None
    assert marks["inr"].pk


def test_a_stale_lab_correction_is_still_refused(investigator, randomized_patient):
    visit = _dose1(randomized_patient)
    labs = _save_labs(investigator, visit)
    _save_labs(investigator, visit, reason="Re-read", bilirubin_entered=Decimal(4))
    with pytest.raises(StaleEdit):
        services.crf_save(
            user=investigator,
            form_code="labs",
            visit=visit,
            data={**LABS, "bilirubin_entered": Decimal(6)},
            complete=True,
            confirm_out_of_range=True,
            reason="From an old page",
            expected_version=labs.lock_version,
        )
    assert LabResult.objects.get(pk=labs.pk).bilirubin_entered == Decimal(4)


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


@pytest.mark.parametrize("followup", [False, True])
def test_the_compiled_visit_lock_reads_what_the_orm_query_reads(
    investigator, randomized_patient, followup
):
    """``_visit_locked`` runs SQL compiled once (``trials.compiled``): the same instance,
    related rows and annotations as the queryset it was compiled from, for any visit."""
    from django.db import transaction

    _save_labs(investigator, _dose1(randomized_patient))
    compiled = services._visit_lock_query(followup)
    for visit in Visit.objects.filter(patient=randomized_patient):
        with transaction.atomic():
            fast = compiled.get(visit.pk)
            slow = compiled._queryset.get(pk=visit.pk)
        assert _fields(fast) == _fields(slow)
        assert _fields(fast.definition) == _fields(slow.definition)
        assert _fields(fast.patient) == _fields(slow.patient)
        assert _fields(fast.patient.site) == _fields(slow.patient.site)
        assert _fields(fast.patient.trial) == _fields(slow.patient.trial)
        names = [n for n in slow.__dict__ if n.startswith(("form_", "locked_", "death_"))]
        assert len(names) == 4 + len(services._visit_form_columns())
        assert {n: getattr(fast, n) for n in names} == {n: getattr(slow, n) for n in names}
    assert compiled.get(visit.pk)._state.db == "default"
    with pytest.raises(Visit.DoesNotExist), transaction.atomic():
        compiled.get(0)


def test_a_first_form_at_a_visit_reads_no_form_row(
    investigator, randomized_patient, django_assert_max_num_queries
):
    """The locked visit says which forms it has: a new form is not looked up again."""
    visit = _dose1(randomized_patient)
    with CaptureQueriesContext(connection) as first:
        _save_labs(investigator, visit)
    with CaptureQueriesContext(connection) as second:
        _save_labs(investigator, visit, reason="Corrected against the source")
    assert _tables(first.captured_queries, "SELECT").count("crf_labresult") == 0
    assert _tables(second.captured_queries, "SELECT").count("crf_labresult") == 1


def test_the_compiled_course_queries_read_what_their_querysets_read(
    investigator, randomized_patient
):
    """The patient course's one-patient queries (compiled once) and their querysets agree."""
    from crf import course

    _save_labs(investigator, _dose1(randomized_patient))
    for build, compiled in course._ONE_PATIENT.items():
        fast = compiled.list(patient_id=randomized_patient.pk)
        slow = list(build(patient_id=randomized_patient.pk))
        assert fast == slow
    with pytest.raises(TypeError):
        compiled.list(patient_id=str(randomized_patient.pk))  # keys only, as declared


def test_a_compiled_query_keeps_the_querysets_guards(investigator, randomized_patient):
    """Locking reads still need a transaction; parameters are the declared keys only."""
    from unittest import mock

    from django.db.transaction import TransactionManagementError

    visit = _dose1(randomized_patient)
    with (
        mock.patch.object(connection, "get_autocommit", return_value=True),
        pytest.raises(TransactionManagementError),
    ):
        services._visit_lock_query(False).get(visit.pk)  # as outside any transaction
    with pytest.raises(TypeError):
        services._DAY1.list(patient_id=True)
    with pytest.raises(TypeError):
        services._DAY1.list(visit_id=visit.pk)
    assert services.day1_of(randomized_patient) == visit.target_date
