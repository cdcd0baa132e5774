"""eCRF pages: entry, read-only roles, site scoping, kept input, soft-limit confirmation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crf.models import AdverseEvent, EndOfStudy, Visit, VisitDefinition, VitalSigns

pytestmark = pytest.mark.django_db

VITALS_POST = {
    "assessment_date": "2026-03-02",
    "weight_kg": "72.5",
    "heart_rate_bpm": "88",
    "systolic_bp_mmhg": "110",
    "diastolic_bp_mmhg": "70",
    "reason_for_change": "",
    "complete": "1",
}


def crf_url(patient, code, form_code):
    visit = Visit.objects.get(patient=patient, definition__code=code)
    return reverse("crf:crf-edit", kwargs={"visit_pk": visit.pk, "form_code": form_code})


def test_entry_page_is_keyboard_ready_with_units(client, investigator, randomized_patient):
    client.force_login(investigator)
    response = client.get(crf_url(randomized_patient, "dose1", "vitals"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "autofocus" in html.split('name="assessment_date"')[1].split(">")[0]
    assert "Weight (kg)" in html
    assert "Save as complete" in html


def test_lab_page_offers_unit_selectors(client, investigator, randomized_patient):
    client.force_login(investigator)
    html = client.get(crf_url(randomized_patient, "dose1", "labs")).content.decode()
    assert 'name="bilirubin_unit"' in html
    assert "µmol/L" in html
    assert 'name="lactate_unit"' in html


def test_complete_vitals_are_saved_and_redirect_to_the_timeline(
    client, investigator, randomized_patient
):
    client.force_login(investigator)
    response = client.post(crf_url(randomized_patient, "dose1", "vitals"), VITALS_POST)
    assert response.status_code == 302
    assert response.url == reverse(
        "crf:patient-timeline", kwargs={"patient_pk": randomized_patient.pk}
    )
    assert VitalSigns.objects.get(patient=randomized_patient).status == "complete"


def test_invalid_value_keeps_what_was_typed_and_stores_nothing(
    client, investigator, randomized_patient
):
    client.force_login(investigator)
    response = client.post(
        crf_url(randomized_patient, "dose1", "vitals"), {**VITALS_POST, "weight_kg": "725"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Nothing was saved" in html
    assert 'value="725"' in html
    assert 'value="88"' in html
    assert "Must be at most 300 kg." in html
    assert not VitalSigns.objects.exists()


def test_text_in_a_number_field_is_a_field_error(client, investigator, randomized_patient):
    client.force_login(investigator)
    response = client.post(
        crf_url(randomized_patient, "dose1", "vitals"), {**VITALS_POST, "weight_kg": "72,5kg"}
    )
    assert response.status_code == 200
    assert 'value="72,5kg"' in response.content.decode()
    assert not VitalSigns.objects.exists()


def test_soft_limit_shows_confirmation_then_saves(client, investigator, randomized_patient):
    client.force_login(investigator)
    url = crf_url(randomized_patient, "dose1", "vitals")
    data = {**VITALS_POST, "heart_rate_bpm": "150"}
    html = client.post(url, data).content.decode()
    assert "above the expected range" in html
    assert 'name="confirm_out_of_range"' in html
    assert not VitalSigns.objects.exists()
    response = client.post(url, {**data, "confirm_out_of_range": "on"})
    assert response.status_code == 302
    assert VitalSigns.objects.get().out_of_range_confirmed == ["heart_rate_bpm"]


def test_confirmation_checkbox_hidden_without_warning(client, investigator, randomized_patient):
    client.force_login(investigator)
    html = client.get(crf_url(randomized_patient, "dose1", "vitals")).content.decode()
    assert 'name="confirm_out_of_range"' not in html


def test_monitor_and_data_manager_read_only(
    client, monitor, data_manager, investigator, randomized_patient
):
    url = crf_url(randomized_patient, "dose1", "vitals")
    for user in (monitor, data_manager):
        client.force_login(user)
        html = client.get(url).content.decode()
        assert "Read-only" in html
        assert "Save as complete" not in html
        assert client.post(url, VITALS_POST).status_code == 403
    assert not VitalSigns.objects.exists()


def test_other_site_gets_404(client, other_site_investigator, randomized_patient):
    client.force_login(other_site_investigator)
    assert client.get(crf_url(randomized_patient, "dose1", "vitals")).status_code == 404
    timeline = reverse("crf:patient-timeline", kwargs={"patient_pk": randomized_patient.pk})
    assert client.get(timeline).status_code == 404


def test_form_not_recorded_at_the_visit_is_404(client, investigator, randomized_patient):
    client.force_login(investigator)
    assert client.get(crf_url(randomized_patient, "fu_d28", "administration")).status_code == 404
    assert client.get(crf_url(randomized_patient, "dose1", "nope")).status_code == 404


def test_dose_2_page_explains_it_waits_for_dose_1(client, investigator, randomized_patient):
    client.force_login(investigator)
    url = crf_url(randomized_patient, "dose2", "administration")
    html = client.get(url).content.decode()
    assert "Complete the dose 1 administration form before dose 2." in html
    assert "Save as complete" not in html


def test_timeline_lists_visits_windows_and_form_status(client, investigator, randomized_patient):
    client.force_login(investigator)
    url = reverse("crf:patient-timeline", kwargs={"patient_pk": randomized_patient.pk})
    client.post(crf_url(randomized_patient, "dose1", "vitals"), {**VITALS_POST, "draft": "1"})
    html = client.get(url).content.decode()
    assert "Dose 4 (day 18)" in html
    assert "17 Mar 2026 – 21 Mar 2026" in html  # human-readable (issue 17)
    assert "Follow-up 12 months" in html
    assert "Vital signs and weight · complete" in html
    assert "Study drug administration · missing" in html


def test_timeline_query_count_is_bounded(
    client, investigator, randomized_patient, django_assert_max_num_queries
):
    client.force_login(investigator)
    url = reverse("crf:patient-timeline", kwargs={"patient_pk": randomized_patient.pk})
    with django_assert_max_num_queries(25):
        assert client.get(url).status_code == 200


def test_worklist_shows_due_visits_of_own_sites(
    client, investigator, other_site_investigator, randomized_patient
):
    client.force_login(investigator)
    html = client.get(reverse("crf:visit-worklist")).content.decode()
    assert "Dose 1 (day 1)" in html
    client.force_login(other_site_investigator)
    html = client.get(reverse("crf:visit-worklist")).content.decode()
    assert "Nothing due or overdue." in html


def test_patient_page_and_dashboard_show_crf_panels(client, investigator, randomized_patient):
    client.force_login(investigator)
    detail = client.get(reverse("trials:patient-detail", kwargs={"pk": randomized_patient.pk}))
    assert "Visits and eCRFs" in detail.content.decode()
    dashboard = client.get(reverse("trials:dashboard")).content.decode()
    assert "Visits due and overdue" in dashboard
    assert reverse("crf:visit-worklist") in dashboard


def test_ae_create_list_and_edit(client, investigator, randomized_patient):
    client.force_login(investigator)
    new = reverse("crf:ae-create", kwargs={"patient_pk": randomized_patient.pk})
    response = client.post(
        new,
        {
            "term": "Infusion-site phlebitis",
            "onset_date": "2026-03-02",
            "severity_grade": "1",
            "serious": "False",
            "relatedness": "possible",
            "expectedness": "expected",
            "action_taken": "none",
            "outcome": "recovering",
            "complete": "1",
        },
    )
    assert response.status_code == 302
    ae = AdverseEvent.objects.get()
    listing = reverse("crf:ae-list", kwargs={"patient_pk": randomized_patient.pk})
    assert "Infusion-site phlebitis" in client.get(listing).content.decode()
    edit = reverse("crf:ae-edit", kwargs={"ae_pk": ae.pk})
    response = client.post(edit, {"term": "Phlebitis", "complete": "1"})
    assert "give a reason for the change" in response.content.decode()
    ae.refresh_from_db()
    assert ae.term == "Infusion-site phlebitis"


def test_end_of_study_page_updates_patient(client, investigator, randomized_patient, frozen_day1):
    frozen_day1.move_to(dt.datetime(2026, 3, 20, 10, 0, tzinfo=dt.UTC))
    client.force_login(investigator)
    url = reverse("crf:eos-edit", kwargs={"patient_pk": randomized_patient.pk})
    response = client.post(
        url,
        {
            "reason": "withdrew_consent",
            "withdrawal_scope": "no_more_doses",
            "end_date": "2026-03-15",
            "complete": "1",
        },
    )
    assert response.status_code == 302
    randomized_patient.refresh_from_db()
    assert randomized_patient.status == "withdrawn"
    assert EndOfStudy.objects.get().reason == "withdrew_consent"
    dose4 = Visit.objects.get(patient=randomized_patient, definition__code="dose4")
    assert dose4.status == "not_applicable"


def test_schedule_pages_for_the_trial_admin_only(client, trial_admin, investigator, schedule):
    definition = VisitDefinition.objects.get(code="dose2")
    url = reverse("crf:schedule-edit", kwargs={"definition_pk": definition.pk})
    client.force_login(investigator)
    assert client.get(url).status_code == 403
    assert "Dose 2 (day 4)" in client.get(reverse("crf:schedule-list")).content.decode()
    client.force_login(trial_admin)
    response = client.post(
        url,
        {
            "name": "Dose 2 (day 4)",
            "day": "4",
            "window_before": "1",
            "window_after": "2",
            "missed_after_days": "7",
            "order": "3",
            "expected_forms": ["vitals", "labs", "administration"],
            "reason_for_change": "Amendment 3: wider window",
        },
    )
    assert response.status_code == 302
    definition.refresh_from_db()
    assert definition.window_after == 2
    assert definition.history.order_by("-history_id")[0].history_user == trial_admin


def test_worklist_nav_for_data_entry_roles(client, investigator, monitor, site):
    client.force_login(investigator)
    assert "Worklist" in client.get(reverse("trials:dashboard")).content.decode()
    client.force_login(monitor)
    assert ">Worklist</a></li>" not in client.get(reverse("trials:patient-list")).content.decode()


def test_patient_page_reads_the_patient_once(
    client, investigator, randomized_patient, django_assert_max_num_queries
):
    """Issue 12's access helper: the page read the patient row 7 times (32 queries)."""
    client.force_login(investigator)
    url = reverse("trials:patient-detail", kwargs={"pk": randomized_patient.pk})
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    patient_reads = [
        q for q in ctx.captured_queries if q["sql"].startswith('SELECT "trials_patient"."id"')
    ]
    assert len(patient_reads) == 1, [q["sql"][:120] for q in patient_reads]
    with django_assert_max_num_queries(26):
        client.get(url)


def test_worklist_is_keyset_paged_with_every_visit_once(
    client,
    investigator,
    site,
    schedule,
    frozen_day1,
    monkeypatch,
    django_assert_max_num_queries,
    django_capture_on_commit_callbacks,
):
    """#16: the worklist paged by OFFSET; now by the position of the last visit seen (ties on
    the window end included), at the same cost on every page and at any size."""
    from crf import selectors, views
    from tests.crf.factories import randomized
    from tests.factories import PatientFactory
    from tests.paging import walk

    monkeypatch.setattr(views, "WORKLIST_PAGE_SIZE", 2)
    url = reverse("crf:visit-worklist")
    client.force_login(investigator)

    def enrol(days_ago):
        for n in days_ago:
            with django_capture_on_commit_callbacks(execute=True):
                randomized(
                    PatientFactory(site=site),
                    day1=frozen_day1_date() - dt.timedelta(days=n),
                    user=investigator,
                )

    enrol([0, 0])
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    ceiling = len(small)  # read now: the next request resets the query log
    enrol([0, 1, 1, 2, 3])
    walked = walk(client, url)
    expected = list(selectors.visit_worklist(user=investigator).values_list("pk", flat=True))
    assert len(expected) >= 5
    assert walked["forward"] == expected  # none lost, none twice
    assert walked["backward"] == walked["pages"][::-1]
    with django_assert_max_num_queries(ceiling):
        client.get(walked["urls"][-1])


def frozen_day1_date() -> dt.date:
    from django.utils import timezone

    return timezone.localdate()


def test_ecrf_page_reads_its_visit_once(
    client, investigator, randomized_patient, django_assert_max_num_queries
):
    """#16: the page read its visit (and that visit's patient) three times, 15 queries."""
    client.force_login(investigator)
    client.post(crf_url(randomized_patient, "dose1", "vitals"), {**VITALS_POST, "draft": "1"})
    url = crf_url(randomized_patient, "dose1", "vitals")
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    reads = [
        q["sql"][:120]
        for q in ctx.captured_queries
        if q["sql"].startswith(('SELECT "crf_visit"."id"', 'SELECT "trials_patient"."id"'))
    ]
    assert len(reads) == 1, reads
    with django_assert_max_num_queries(10):
        client.get(url)
    with django_assert_max_num_queries(9):  # no lab form yet: its empty form (13 before)
        client.get(crf_url(randomized_patient, "dose1", "labs"))
