import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import PatientFactory
from tests.trials.screening_data import as_post, eligible_screening_data
from trials import selectors, services
from trials.models import Patient, Screening

pytestmark = pytest.mark.django_db

PATIENT_PAGES = ["trials:patient-detail", "trials:screening-edit", "trials:patient-history"]


def test_pages_require_login(client, patient):
    for url in [
        reverse("trials:dashboard"),
        reverse("trials:patient-list"),
        reverse("trials:patient-detail", args=[patient.pk]),
    ]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", PATIENT_PAGES)
def test_another_sites_patient_is_a_404_not_a_403(client, other_site_investigator, patient, name):
    client.force_login(other_site_investigator)
    assert client.get(reverse(name, args=[patient.pk])).status_code == 404


@pytest.mark.parametrize("name", PATIENT_PAGES)
def test_user_without_role_sees_no_patient(client, no_role_user, patient, name):
    client.force_login(no_role_user)
    assert client.get(reverse(name, args=[patient.pk])).status_code == 404


def test_patient_list_shows_only_the_users_sites(
    client, investigator, patient, other_site_patient
):
    client.force_login(investigator)
    body = client.get(reverse("trials:patient-list")).content.decode()
    assert patient.screening_number in body
    assert other_site_patient.screening_number not in body


def test_central_roles_list_every_site(client, data_manager, patient, other_site_patient):
    client.force_login(data_manager)
    body = client.get(reverse("trials:patient-list")).content.decode()
    assert patient.screening_number in body
    assert other_site_patient.screening_number in body


def test_dashboard_counts_and_screening_log_are_site_scoped(
    client, investigator, patient, other_site_patient
):
    client.force_login(investigator)
    dashboard = client.get(reverse("trials:dashboard"))
    assert ("screening", "Screening", 1) in dashboard.context["counts"]
    log = client.get(reverse("trials:screening-log") + "?format=csv").content.decode()
    assert patient.screening_number in log
    assert other_site_patient.screening_number not in log


def test_patient_list_search_filter_and_bounded_queries(
    client, investigator, site, django_assert_max_num_queries
):
    PatientFactory.create_batch(30, site=site)
    target = PatientFactory(site=site, screening_number="S01-9999", status="screen_failed")
    client.force_login(investigator)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("trials:patient-list"))
    assert len(response.context["page"]) == 25
    found = client.get(reverse("trials:patient-list"), {"q": "9999"}).context["page"]
    assert list(found) == [target]
    failed = client.get(reverse("trials:patient-list"), {"status": "screen_failed"})
    assert list(failed.context["page"]) == [target]


def test_bad_filter_values_do_not_crash(client, investigator, patient):
    client.force_login(investigator)
    response = client.get(
        reverse("trials:patient-list"), {"site": "abc", "status": "nonsense", "page": "-4"}
    )
    assert response.status_code == 200


def test_monitor_cannot_open_the_screening_form(client, monitor, patient):
    client.force_login(monitor)
    assert client.get(reverse("trials:screening-edit", args=[patient.pk])).status_code == 403
    assert client.get(reverse("trials:patient-detail", args=[patient.pk])).status_code == 200


def test_register_patient_then_screen_from_the_browser(client, investigator, site):
    client.force_login(investigator)
    response = client.post(
        reverse("trials:patient-create"),
        {
            "site": site.pk,
            "initials": "jd",
            "sex": "M",
            "birth_date": "1965-03-02",
            "consent_datetime": (timezone.localtime() - dt.timedelta(hours=1)).strftime(
                "%Y-%m-%dT%H:%M"
            ),
            "consent_version": "v2.1",
        },
    )
    patient = Patient.objects.get()
    assert response.status_code == 302
    assert patient.initials == "JD"
    response = client.post(
        reverse("trials:screening-edit", args=[patient.pk]),
        {**as_post(eligible_screening_data()), "complete": "1"},
    )
    assert response.status_code == 302, response.context["form"].errors
    assert Screening.objects.get(patient=patient).eligible is True
    detail = client.get(reverse("trials:patient-detail", args=[patient.pk])).content.decode()
    assert "eligible" in detail
    assert "CLIF-C OF" in detail


def test_bad_input_is_shown_next_to_the_field_and_kept(client, investigator, patient):
    client.force_login(investigator)
    post = as_post(eligible_screening_data(fio2="1.7", inr="abc"))
    response = client.post(reverse("trials:screening-edit", args=[patient.pk]), post)
    assert response.status_code == 200
    form = response.context["form"]
    assert "fio2" in form.errors
    assert "inr" in form.errors
    body = response.content.decode()
    assert 'value="1.7"' in body
    assert 'value="abc"' in body
    assert not Screening.objects.filter(patient=patient).exists()


def test_missing_reason_for_change_is_a_field_error(client, investigator, patient):
    services.screening_save(
        user=investigator, patient=patient, data=eligible_screening_data(), complete=True
    )
    client.force_login(investigator)
    post = {**as_post(eligible_screening_data(inr="2.5")), "complete": "1"}
    response = client.post(reverse("trials:screening-edit", args=[patient.pk]), post)
    assert response.status_code == 200
    assert "reason_for_change" in response.context["form"].errors


def test_history_page_shows_old_new_user_and_reason(client, investigator, monitor, patient):
    services.screening_save(
        user=investigator, patient=patient, data=eligible_screening_data(), complete=True
    )
    services.screening_save(
        user=investigator,
        patient=patient,
        data=eligible_screening_data(inr=Decimal("2.6"), aclf_grade_confirmed_as="3"),
        complete=True,
        reason="Lab report re-read",
    )
    client.force_login(monitor)
    body = client.get(reverse("trials:patient-history", args=[patient.pk])).content.decode()
    assert "Lab report re-read" in body
    assert "1.80" in body
    assert "2.60" in body
    assert investigator.username in body


def test_history_page_queries_do_not_grow_with_the_number_of_changes(
    client, investigator, monitor, patient
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("trials:patient-history", args=[patient.pk])
    client.force_login(monitor)
    services.screening_save(
        user=investigator, patient=patient, data=eligible_screening_data(), complete=False
    )
    # One change first: the previous versions are fetched in one query per model once any
    # record has been changed (a trail of creations only needs none).
    services.screening_save(
        user=investigator,
        patient=patient,
        data=eligible_screening_data(inr=Decimal("1.4")),
        complete=False,
    )
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for inr in ("1.5", "1.6", "1.7", "1.8", "1.9"):
        services.screening_save(
            user=investigator,
            patient=patient,
            data=eligible_screening_data(inr=Decimal(inr)),
            complete=False,
        )
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(response.context["entries"]) >= 7  # 7 screening versions (scores: no history)
    assert len(many) == len(few)


def test_saved_dates_are_rendered_in_the_iso_format_html_date_inputs_accept(
    client, investigator, patient
):
    services.screening_save(
        user=investigator, patient=patient, data=eligible_screening_data(), complete=False
    )
    client.force_login(investigator)
    body = client.get(reverse("trials:screening-edit", args=[patient.pk])).content.decode()
    screening_date = patient.screening.screening_date.isoformat()
    assert f'type="date" name="screening_date" value="{screening_date}"' in body


def test_scores_not_applicable_to_the_patients_state_are_marked_na(client, investigator, patient):
    # ACLF grade 2 at screening: CLIF-C AD (for decompensation without ACLF) does not apply.
    services.screening_save(
        user=investigator, patient=patient, data=eligible_screening_data(), complete=False
    )
    client.force_login(investigator)
    body = client.get(reverse("trials:patient-detail", args=[patient.pk])).content.decode()
    assert "CLIF-C AD applies to acute decompensation without ACLF" in body
    assert "CLIF-C ACLF applies to patients with ACLF" not in body


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("investigator", "Register a patient for screening"),
        ("monitor", "Randomized patients"),
        ("data_manager", "Screening log (CSV)"),
        ("trial_admin", "Users and roles"),
    ],
)
def test_dashboard_has_a_panel_for_each_role(client, request, role, expected):
    client.force_login(request.getfixturevalue(role))
    assert expected in client.get(reverse("trials:dashboard")).content.decode()


def test_scores_explain_themselves_per_organ(client, investigator, patient):
    services.screening_save(
        user=investigator, patient=patient, data=eligible_screening_data(), complete=False
    )
    client.force_login(investigator)
    body = client.get(reverse("trials:patient-detail", args=[patient.pk])).content.decode()
    # Liver: CLIF-SOFA 4, CLIF-C OF 3, with the value it came from.
    assert "<td>liver</td><td>4</td><td>3</td><td>bilirubin 13.0 mg/dL</td>" in body
    assert "Organ failures (CANONIC): liver, kidney" in body


def test_history_page_is_paged_newest_first(
    client, investigator, monitor, patient, monkeypatch, django_assert_max_num_queries
):
    """#16: a patient edited ~200 times rendered every change on one 1.3 MB page; now only
    the page's versions are read, every entry is on exactly one page, and the query count does
    not grow with the patient's edits."""
    from trials import views

    monkeypatch.setattr(views, "AUDIT_PAGE_SIZE", 4)

    def edit(inrs):
        for inr in inrs:
            services.screening_save(
                user=investigator,
                patient=patient,
                data=eligible_screening_data(inr=Decimal(inr)),
                complete=False,
            )

    edit(("1.5", "1.6", "1.7", "1.8"))
    client.force_login(monitor)
    url = reverse("trials:patient-history", args=[patient.pk])
    with django_assert_max_num_queries(60) as few:
        first = client.get(url)
    edit(("1.9", "2.0", "2.1", "2.2", "2.3", "2.4"))
    with django_assert_max_num_queries(len(few)):
        first = client.get(url)
    entries = first.context["entries"]
    assert len(entries) == 4
    assert entries[0].when >= entries[-1].when
    page = first.context["page"]
    assert page.total > 8
    assert "Page 1 of" in first.content.decode()
    seen = []
    for number in range(1, page.num_pages + 1):
        response = client.get(url, {"page": number})
        seen += [(e.source_key, e.history_id) for e in response.context["entries"]]
    everything = selectors.patient_history(user=monitor, patient=patient)
    assert seen == [(e.source_key, e.history_id) for e in everything]  # none lost or twice
    last = client.get(url, {"page": "999999"}).context["page"]  # clamped
    assert last.number == page.num_pages
    # The filters stay in the page links.
    key = entries[0].source_key
    filtered = client.get(url, {"form": key, "page": "1"})
    assert {e.source_key for e in filtered.context["entries"]} == {key}
    assert filtered.context["page"].has_next
    assert f"?form={key}&page=2" in filtered.content.decode()
