"""Indexes of issue #16: the hot list queries can use them (PostgreSQL plans; SQLite schema)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from trials import services


def _index_names(table: str) -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, table))


@pytest.mark.django_db
def test_worklist_and_dashboard_indexes_exist():
    assert "visit_due_by_window_end" in _index_names("crf_visit")
    assert "patient_created_at" in _index_names("trials_patient")


@pytest.mark.django_db
def test_lists_have_their_order_indexes():
    """#16: lists read in index order (no sort of every row for page 1)."""
    patient = _index_names("trials_patient")
    assert {"patient_screening_number", "patient_subject_id"} <= patient
    assert "allocation_randomized_at" in _index_names("randomization_allocation")
    assert "score_record_gap_recent" in _index_names("trials_scorerecord")
    # One site's list (its last page stopped scanning every later site: 2.96 -> 0.11 ms).
    assert "patient_site_number" in patient


@pytest.mark.django_db
def test_dashboards_read_drafts_and_open_queries_from_their_own_indexes():
    """#16: the investigator dashboard probed every visit of the site for a draft form, and
    sorted every open query of the site for the ten due first (10,000 patients: 13 -> under
    1 ms and 4.3 -> 0.37 ms, EXPLAIN in benchmarks/results.md)."""
    from crf.registry import VISIT_FORMS

    for spec in VISIT_FORMS.values():
        table = spec.model._meta.db_table
        assert f"{spec.model._meta.model_name}_draft" in _index_names(table), table
    assert "query_open_due" in _index_names("monitoring_dataquery")


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes: PostgreSQL only")
def test_unused_trigram_indexes_are_gone():
    """#16: never chosen for digit-group numbers and slower when forced (docs/scaling.md)."""
    names = _index_names("trials_patient")
    assert (
        not {
            "patient_screening_number_trgm",
            "patient_subject_id_trgm",
            "patient_initials_upper",
        }
        & names
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL only")
def test_patient_create_does_not_lock_the_sites_patients(investigator, site):
    """#16: numbering the next patient locked every patient row of the site (FOR UPDATE),
    blocking screening saves and randomizations there; now only the site row is locked."""
    from django.test.utils import CaptureQueriesContext

    from tests.factories import PatientFactory

    PatientFactory(site=site, screening_number="S01-0007")
    with CaptureQueriesContext(connection) as ctx:
        patient = services.patient_create(
            user=investigator,
            site=site,
            sex="F",
            birth_date=dt.date(1970, 1, 1),
        )
    assert patient.screening_number == "S01-0008"
    locks = [q["sql"] for q in ctx.captured_queries if "FOR UPDATE" in q["sql"]]
    assert locks
    assert all('FROM "trials_patient"' not in sql for sql in locks), locks
