"""The data manager's export page: choose, queue, see progress, download."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.urls import reverse

from exports.models import ExportJob
from tests.randomization.factories import patients_by_arm

pytestmark = pytest.mark.django_db

URL = "/exports/"


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("data_manager", 200),
        ("monitor", 200),
        ("unblinded_statistician", 200),
        ("investigator", 403),
        ("pharmacist", 403),
        ("trial_admin", 403),
    ],
)
def test_who_sees_the_page_and_the_menu_entry(client, request, role, status):
    client.force_login(request.getfixturevalue(role))
    assert client.get(URL).status_code == status
    menu = client.get(reverse("trials:dashboard")).content.decode()
    assert (f'href="{URL}"' in menu) == (status == 200)


def test_only_the_statistician_is_offered_the_unblinded_export(
    client, data_manager, unblinded_statistician
):
    client.force_login(data_manager)
    assert "unblinded" not in client.get(URL).content.decode().lower().split("<form")[1]
    client.force_login(unblinded_statistician)
    assert 'name="unblinded"' in client.get(URL).content.decode()


def test_queue_an_export_and_download_it(
    client, site, investigator, data_manager, django_capture_on_commit_callbacks
):
    patients_by_arm(site, investigator)
    client.force_login(data_manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            URL, {"format": "csv", "forms": ["patients", "vitals"], "sites": [str(site.pk)]}
        )
    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.DONE
    page = client.get(URL).content.decode()
    assert "liveradvance-csv.zip" in page
    assert 'http-equiv="refresh"' not in page
    download = client.get(reverse("exports:job-download", args=[job.pk]))
    names = zipfile.ZipFile(io.BytesIO(download.content)).namelist()
    assert sorted(names) == ["data-dictionary.csv", "patients.csv", "vitals.csv"]


def test_a_running_export_shows_progress_refreshed_in_place(client, data_manager):
    ExportJob.objects.create(
        requested_by=data_manager,
        params={"format": "odm", "forms": []},
        status="running",
        progress=40,
    )
    client.force_login(data_manager)
    page = client.get(URL).content.decode()
    # Refreshed in place by a local script; the whole page reloads only without JavaScript.
    assert "js/export_progress.js" in page
    assert 'data-status-url="/exports/jobs/status/"' in page
    assert '<noscript><meta http-equiv="refresh"' in page
    assert "40%" in page


def test_job_status_gives_state_and_percentage_of_own_jobs_only(
    client, data_manager, monitor, django_assert_max_num_queries
):
    running = ExportJob.objects.create(
        requested_by=data_manager, params={"format": "odm"}, status="running", progress=40
    )
    done = ExportJob.objects.create(
        requested_by=data_manager,
        params={"format": "csv"},
        status="done",
        progress=100,
        filename="liveradvance-csv.zip",
    )
    ExportJob.objects.create(requested_by=monitor, params={"format": "odm"}, status="running")
    client.force_login(data_manager)
    with django_assert_max_num_queries(6):
        response = client.get(reverse("exports:job-status"))
    assert "no-store" in response["Cache-Control"]
    jobs = {j["id"]: j for j in response.json()["jobs"]}
    assert set(jobs) == {running.pk, done.pk}
    assert jobs[running.pk]["progress"] == 40
    assert jobs[running.pk]["status"] == "running"
    assert jobs[running.pk]["download_url"] == ""
    assert jobs[done.pk]["download_url"] == reverse("exports:job-download", args=[done.pk])
    assert jobs[done.pk]["filename"] == "liveradvance-csv.zip"


@pytest.mark.parametrize("role", ["investigator", "pharmacist", "trial_admin"])
def test_job_status_is_refused_to_roles_that_do_not_export(client, request, role):
    client.force_login(request.getfixturevalue(role))
    assert client.get(reverse("exports:job-status")).status_code == 403


def test_bad_input_keeps_what_was_typed_with_field_errors(client, data_manager):
    client.force_login(data_manager)
    response = client.post(
        URL,
        {
            "format": "xls",
            "forms": ["patients"],
            "date_from": "2026-03-05",
            "date_to": "2026-03-01",
        },
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"format", "date_to"}
    assert 'value="2026-03-05"' in response.content.decode()
    assert not ExportJob.objects.exists()


def test_another_users_file_is_a_404(client, data_manager, monitor):
    job = ExportJob.objects.create(
        requested_by=data_manager,
        params={},
        status="done",
        file=b"x",
        filename="a.csv",
        content_type="text/csv",
    )
    client.force_login(monitor)
    assert client.get(reverse("exports:job-download", args=[job.pk])).status_code == 404
    client.force_login(data_manager)
    assert client.get(reverse("exports:job-download", args=[job.pk])).content == b"x"
