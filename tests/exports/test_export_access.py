"""Who may export what, the unblinded export, the access audit, jobs and bounded queries."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.db import connection

from exports.dictionary import datasets
from randomization.models import Allocation, ArmAccessLog
from tests.factories import PatientFactory
from tests.randomization.factories import patients_by_arm
from tests.test_blinding_crawl import leaks
from trials.models import AccessEvent

pytestmark = pytest.mark.django_db

API = "/api/v1/exports/"
ENDPOINTS = [
    f"{API}",
    f"{API}dictionary/",
    f"{API}odm/",
    f"{API}patients/csv/",
    f"{API}vitals/json/",
]
ALLOWED = {"data_manager", "monitor", "unblinded_statistician"}
ROLES = [
    "investigator",
    "principal_investigator",
    "pharmacist",
    "monitor",
    "data_manager",
    "unblinded_statistician",
    "trial_admin",
    "no_role_user",
]


def _content(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(_content(response).decode("utf-8-sig"))))


@pytest.mark.parametrize("role", ROLES)
def test_export_endpoints_per_role(client, request, role):
    client.force_login(request.getfixturevalue(role))
    for url in ENDPOINTS:
        response = client.get(url)
        expected = 200 if role in ALLOWED else 403
        assert response.status_code == expected, (role, url)
        if expected == 403:
            assert response.json()["detail"]  # JSON, never HTML
        unblinded = client.get(url, {"unblinded": "true"})
        expected = 200 if role == "unblinded_statistician" else 403
        if url == API:
            expected = 200 if role in ALLOWED else 403  # the index has no unblinded variant
        assert unblinded.status_code == expected, (role, url, "unblinded")


def test_anonymous_gets_a_json_401_or_403(client):
    for url in ENDPOINTS:
        response = client.get(url)
        assert response.status_code in (401, 403)
        assert response["Content-Type"].startswith("application/json")


def test_monitor_exports_only_their_sites(client, site, other_site, investigator, monitor):
    patients_by_arm(site, investigator)
    PatientFactory(site=other_site, screening_number="S02-0009")
    client.force_login(monitor)
    rows = _rows(client.get(f"{API}patients/csv/"))
    assert rows
    assert {r["site"] for r in rows} == {"01"}
    # Asking for another site gives nothing rather than an error that confirms it exists.
    assert _rows(client.get(f"{API}patients/csv/", {"site": other_site.pk})) == []


def test_data_manager_filters_by_site_and_date(
    client, site, other_site, investigator, data_manager
):
    patients_by_arm(site, investigator)
    PatientFactory(site=other_site, screening_number="S02-0009")
    client.force_login(data_manager)
    assert {r["site"] for r in _rows(client.get(f"{API}patients/csv/"))} == {"01", "02"}
    rows = _rows(client.get(f"{API}patients/csv/", {"site": other_site.pk}))
    assert [r["screening_number"] for r in rows] == ["S02-0009"]
    assert _rows(client.get(f"{API}patients/csv/", {"date_to": "2000-01-01"})) == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
def test_copy_plans_are_kept_per_scope_and_filter(
    client, site, other_site, investigator, monitor, data_manager
):
    """The COPY export's SQL is built once per dataset, scope and filter (#16): whichever
    user or filter came first, nobody reads another scope's rows from a kept plan."""
    from exports import selectors

    selectors._COPY_PLANS.clear()
    patients_by_arm(site, investigator)
    PatientFactory(site=other_site, screening_number="S02-0009")
    for _ in range(2):  # the second round reads the plans the first one built
        client.force_login(data_manager)
        assert {r["site"] for r in _rows(client.get(f"{API}patients/csv/"))} == {"01", "02"}
        rows = _rows(client.get(f"{API}patients/csv/", {"site": other_site.pk}))
        assert [r["screening_number"] for r in rows] == ["S02-0009"]
        client.force_login(monitor)
        assert {r["site"] for r in _rows(client.get(f"{API}patients/csv/"))} == {"01"}
        assert _rows(client.get(f"{API}patients/csv/", {"site": other_site.pk})) == []
    scopes = {(key[2], key[3].sites) for key in selectors._COPY_PLANS}
    assert scopes == {
        (None, ()),
        (None, (other_site.pk,)),
        (frozenset({site.pk}), ()),
        (frozenset({site.pk}), (other_site.pk,)),
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date_from": "2026-02-31"}, "date_from"),
        ({"date_from": "2026-03-02", "date_to": "2026-03-01"}, "date_to"),
        ({"site": "x"}, "site"),
        ({"unblinded": "maybe"}, "unblinded"),
    ],
)
def test_bad_filters_are_a_400_with_the_field_name(client, data_manager, params, field):
    client.force_login(data_manager)
    response = client.get(f"{API}patients/csv/", params)
    assert response.status_code == 400
    assert field in response.json()


def test_odm_unknown_form_and_unknown_dataset(client, data_manager):
    client.force_login(data_manager)
    response = client.get(f"{API}odm/", {"forms": "pharmacy"})
    assert response.status_code == 400
    assert "forms" in response.json()
    assert client.get(f"{API}pharmacy/csv/").status_code == 404


# The unblinded export's allocation columns (exports/dictionary.py); "treatment" alone is a
# clinical word (e.g. "action taken with the study treatment" on the AE form).
ALLOCATION_COLUMNS = re.compile(r"treatment_(code|label)|Treatment arm", re.IGNORECASE)


def test_blinded_exports_name_no_arm_in_any_format(client, site, investigator, data_manager):
    patients_by_arm(site, investigator)
    client.force_login(data_manager)
    for code in datasets():
        for fmt in ("csv", "json"):
            body = _content(client.get(f"{API}{code}/{fmt}/")).decode()
            assert not leaks(body), (code, fmt)
            assert not ALLOCATION_COLUMNS.search(body)
    assert not ALLOCATION_COLUMNS.search(_content(client.get(f"{API}odm/")).decode())
    assert not ALLOCATION_COLUMNS.search(_content(client.get(f"{API}dictionary/")).decode())
    assert not ArmAccessLog.objects.exists()


def test_unblinded_export_has_the_allocation_and_logs_each_arm_read(
    client, site, investigator, unblinded_statistician
):
    by_arm = patients_by_arm(site, investigator)
    client.force_login(unblinded_statistician)
    rows = _rows(client.get(f"{API}patients/csv/", {"unblinded": "true"}))
    by_subject = {r["subject"]: r for r in rows}
    for arm, patient in by_arm.items():
        row = by_subject[patient.subject_id]
        assert row["treatment_code"] == arm
        allocation = Allocation.objects.get(patient=patient)
        assert row["randomization_number"] == allocation.randomization_number
    logged = set(
        ArmAccessLog.objects.filter(user=unblinded_statistician).values_list(
            "patient_id", flat=True
        )
    )
    assert logged == {p.pk for p in by_arm.values()}
    document = json.loads(_content(client.get(f"{API}patients/json/", {"unblinded": "true"})))
    assert "treatment_code" in [c["name"] for c in document["columns"]]
    odm = _content(client.get(f"{API}odm/", {"unblinded": "true", "forms": "patients"})).decode()
    assert "IT.PATIENTS.TREATMENT_CODE" in odm
    # The blinded export of the same user has none of it.
    assert "treatment_code" not in _rows(client.get(f"{API}patients/csv/"))[0]


def test_every_export_is_in_the_access_audit(client, data_manager, unblinded_statistician):
    client.force_login(data_manager)
    client.get(f"{API}vitals/csv/", {"date_from": "2026-01-01"})
    client.get(f"{API}odm/")
    client.get(f"{API}dictionary/")
    client.force_login(unblinded_statistician)
    client.get(f"{API}patients/csv/", {"unblinded": "true"})
    events = list(AccessEvent.objects.filter(action=AccessEvent.Action.EXPORT).order_by("id"))
    assert [e.actor for e in events] == [data_manager] * 3 + [unblinded_statistician]
    assert "csv vitals" in events[0].detail
    assert "from=2026-01-01" in events[0].detail
    assert "blinded" in events[0].detail
    assert "UNBLINDED" in events[3].detail
    # A refused export is not an export.
    client.force_login(data_manager)
    client.get(f"{API}patients/csv/", {"unblinded": "true"})
    assert AccessEvent.objects.filter(action=AccessEvent.Action.EXPORT).count() == 4


def _grow(site, investigator, n):
    for _ in range(n):
        patients_by_arm(site, investigator)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_query_count_does_not_grow_with_the_data(
    client, site, investigator, data_manager, fmt, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(data_manager)
    counts = []
    for n in (1, 4):
        _grow(site, investigator, n)
        for code in ("patients", "vitals", "screening"):
            with CaptureQueriesContext(connection) as ctx:
                _content(client.get(f"{API}{code}/{fmt}/"))
            counts.append((code, n, len(ctx.captured_queries)))
    small = {c: q for c, n, q in counts if n == 1}
    large = {c: q for c, n, q in counts if n == 4}
    assert small == large, counts
    with django_assert_max_num_queries(12):
        _content(client.get(f"{API}vitals/{fmt}/"))


def test_odm_query_count_does_not_grow_with_the_data(
    client, site, investigator, data_manager, django_assert_max_num_queries, monkeypatch
):
    """Patients, their history and their signatures add no query: a fixed number for the
    whole file (one per dataset for the rows, one for their history, one for signatures)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from exports.odm import odm_stream
    from exports.selectors import ExportFilter

    client.force_login(data_manager)
    counts = []
    for n in (1, 4):
        _grow(site, investigator, n)
        with CaptureQueriesContext(connection) as ctx:
            _content(client.get(f"{API}odm/"))
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts
    with django_assert_max_num_queries(counts[1]):
        _content(client.get(f"{API}odm/"))
    # Chunks of 2 subjects, and streams fetching 2 rows at a time: still the same queries
    # (each dataset's rows and history are one query each for the whole file).
    from exports import odm
    from exports.selectors import export_patients

    codes = list(datasets())
    chunks = -(-export_patients(user=data_manager, flt=ExportFilter()).count() // 2)
    assert chunks >= 5
    with CaptureQueriesContext(connection) as one_chunk:
        one = b"".join(
            odm_stream(user=data_manager, codes=codes, flt=ExportFilter(), unblinded=False)
        )
    monkeypatch.setattr(odm, "FETCH", 2)
    with CaptureQueriesContext(connection) as many_chunks:
        many = b"".join(
            odm_stream(
                user=data_manager, codes=codes, flt=ExportFilter(), unblinded=False, chunk_size=2
            )
        )
    assert len(many_chunks) == len(one_chunk)
    assert many.count(b"<ClinicalData ") == chunks
    assert many.count(b"<SubjectData ") == one.count(b"<SubjectData ")


def test_unblinded_rows_cost_a_fixed_number_of_queries_per_chunk(
    site, investigator, unblinded_statistician, django_assert_max_num_queries
):
    """The allocation columns are one guarded batch read (and its access-log insert) per
    chunk of rows, at any data size: never a query per patient."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from exports.selectors import ExportFilter, dataset_rows

    def rows_and_queries() -> tuple[list, int]:
        with CaptureQueriesContext(connection) as ctx:
            rows = list(
                dataset_rows(
                    user=unblinded_statistician,
                    dataset=datasets()["patients"],
                    flt=ExportFilter(),
                    unblinded=True,
                    chunk_size=2,
                )
            )
        return rows, len(ctx.captured_queries)

    _grow(site, investigator, 1)
    small, small_queries = rows_and_queries()
    _grow(site, investigator, 3)
    large, large_queries = rows_and_queries()
    assert len(large) >= len(small) + 6
    assert all(row[-1] for row in large)  # every randomized patient has its arm label
    more_chunks = -(-len(large) // 2) - -(-len(small) // 2)
    assert large_queries - small_queries <= 2 * more_chunks
    with django_assert_max_num_queries(small_queries + 2 * more_chunks):
        rows_and_queries()


def test_rows_stream_in_chunks(site, investigator, data_manager, django_assert_max_num_queries):
    """Rows are tuples of values read a chunk at a time: memory holds one chunk, not the
    whole table."""
    from exports.selectors import ExportFilter, dataset_rows

    for _ in range(3):
        patients_by_arm(site, investigator)
    rows = dataset_rows(
        user=data_manager, dataset=datasets()["patients"], flt=ExportFilter(), chunk_size=2
    )
    first = next(rows)
    assert isinstance(first, tuple)
    assert first[1] == "01"  # subject, site, ...
    assert len(list(rows)) >= 5


# --- export jobs (Celery, eager in tests) ------------------------------------------------


def test_a_job_builds_a_zip_of_one_csv_per_form_plus_the_dictionary(
    client, site, investigator, data_manager, django_capture_on_commit_callbacks
):
    import zipfile

    patients_by_arm(site, investigator)
    client.force_login(data_manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"{API}jobs/",
            {"format": "csv", "forms": ["patients", "vitals"], "site": [site.pk]},
            content_type="application/json",
        )
    assert response.status_code == 202, response.content
    job = client.get(f"{API}jobs/{response.json()['id']}/").json()
    assert job["status"] == "done"
    assert job["progress"] == 100
    download = client.get(job["download"])
    assert download.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    assert sorted(archive.namelist()) == ["data-dictionary.csv", "patients.csv", "vitals.csv"]
    patients = archive.read("patients.csv").decode("utf-8-sig")
    assert patients.count("\n") == 1 + 2
    assert [j["id"] for j in client.get(f"{API}jobs/").json()["results"]] == [job["id"]]


def test_jobs_are_their_requesters_only_and_validate_input(
    client, data_manager, monitor, investigator, django_capture_on_commit_callbacks
):
    client.force_login(data_manager)
    with django_capture_on_commit_callbacks(execute=True):
        job = client.post(f"{API}jobs/", {"format": "odm"}, content_type="application/json")
    job_id = job.json()["id"]
    client.force_login(monitor)
    assert client.get(f"{API}jobs/{job_id}/").status_code == 404
    assert client.get(f"{API}jobs/{job_id}/download/").status_code == 404
    bad = client.post(f"{API}jobs/", {"format": "xls"}, content_type="application/json")
    assert bad.status_code == 400
    assert "format" in bad.json()
    client.force_login(investigator)
    refused = client.post(f"{API}jobs/", {"format": "csv"}, content_type="application/json")
    assert refused.status_code == 403
    client.force_login(data_manager)
    unblinded = client.post(
        f"{API}jobs/", {"format": "csv", "unblinded": True}, content_type="application/json"
    )
    assert unblinded.status_code == 403


def test_openapi_documents_the_feed_and_exports_with_their_shapes(client, monitor):
    import yaml

    client.force_login(monitor)
    schema = yaml.safe_load(client.get("/api/v1/schema/").content)
    feed = schema["paths"]["/api/v1/changes/"]["get"]
    assert {p["name"] for p in feed["parameters"]} == {
        "after",
        "limit",
        "changed_since",
        "kind",
        "patient",
        "site",
        "form",
    }
    assert set(feed["responses"]) == {"200", "400", "403", "429"}
    ref = feed["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]["properties"]
    assert set(page) == {"results", "next_after", "has_more"}
    jobs_list = schema["paths"]["/api/v1/exports/jobs/"]["get"]
    assert {p["name"] for p in jobs_list["parameters"]} == {
        "status",
        "file_format",
        "changed_since",
        "page",
    }
    queries = schema["paths"]["/api/v1/queries/"]["get"]
    assert {p["name"] for p in queries["parameters"]} >= {
        "status",
        "site",
        "overdue",
        "form",
        "changed_since",
        "page",
    }
    csv_op = schema["paths"]["/api/v1/exports/{dataset}/csv/"]["get"]
    assert "text/csv" in csv_op["responses"]["200"]["content"]
    assert {p["name"] for p in csv_op["parameters"]} >= {"site", "date_from", "date_to"}
    odm = schema["paths"]["/api/v1/exports/odm/"]["get"]
    assert "application/xml" in odm["responses"]["200"]["content"]
    jobs = schema["paths"]["/api/v1/exports/jobs/"]["post"]
    assert "202" in jobs["responses"]
    assert "requestBody" in jobs
