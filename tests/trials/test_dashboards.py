"""Issue 17: what each role sees on its landing page (bounded queries, no arm)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import PatientFactory
from tests.randomization.factories import active_list, arm_words, patients_by_arm

pytestmark = pytest.mark.django_db


@pytest.fixture
def trial_data(site, investigator):
    from crf import services as crf_services

    crf_services.visit_definitions_load(trial=site.trial)
    active_list(site.trial)
    patients_by_arm(site, investigator)
    PatientFactory(site=site, screening_number="S01-0900")
    return site


def _dashboard(client, user, django_assert_max_num_queries, ceiling=25) -> str:
    client.force_login(user)
    with django_assert_max_num_queries(ceiling):
        response = client.get(reverse("trials:dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    return html


def test_investigator_sees_screening_in_progress_and_quick_actions(
    client, investigator, trial_data, django_assert_max_num_queries
):
    html = _dashboard(client, investigator, django_assert_max_num_queries)
    assert "Screening in progress" in html
    assert "S01-0900" in html
    assert "Enter a visit" in html
    assert not arm_words(html.replace("Mesenchymal Stem Cell", ""))


def test_monitor_sees_recruitment_by_site_and_completeness_per_visit(
    client, monitor, trial_data, django_assert_max_num_queries
):
    html = _dashboard(client, monitor, django_assert_max_num_queries)
    assert "Recruitment by site" in html
    assert "Data completeness per visit" in html
    assert "Dose 1 (day 1)" in html
    assert not arm_words(html.replace("Mesenchymal Stem Cell", ""))


def test_statistician_sees_balance_per_stratum(
    client, unblinded_statistician, trial_data, django_assert_max_num_queries
):
    html = _dashboard(client, unblinded_statistician, django_assert_max_num_queries)
    assert "Imbalance between arms" in html
    assert "Allocated / listed" in html


def test_dashboard_queries_do_not_grow_with_patients(
    client, data_manager, trial_data, investigator, site, django_assert_max_num_queries
):
    for _ in range(3):
        patients_by_arm(site, investigator)
    _dashboard(client, data_manager, django_assert_max_num_queries, ceiling=18)


# --- issue 17, completed: forms in draft, visits due today / this week, pharmacist's doses --


def _draft_vitals(patient, *, dose: int = 1):
    """A vital-signs form saved as draft at the patient's dose visit (as entered, unfinished)."""
    from crf.models import Visit, VitalSigns
    from trials.models import FormStatus

    visit = Visit.objects.get(patient=patient, definition__dose_number=dose)
    VitalSigns.objects.update_or_create(
        visit=visit, defaults={"patient": patient, "status": FormStatus.DRAFT}
    )
    return visit


def test_investigator_sees_forms_in_draft_linking_to_the_form(
    client, investigator, trial_data, django_assert_max_num_queries
):
    from crf.models import Visit

    patient = Visit.objects.filter(definition__dose_number=1).first().patient
    visit = _draft_vitals(patient)
    html = _dashboard(client, investigator, django_assert_max_num_queries)
    assert "Forms in draft" in html
    url = reverse("crf:crf-edit", kwargs={"visit_pk": visit.pk, "form_code": "vitals"})
    assert f'href="{url}"' in html
    assert not arm_words(html.replace("Mesenchymal Stem Cell", ""))


def test_forms_in_draft_are_bounded_and_counted(
    client, investigator, trial_data, site, monkeypatch, django_assert_max_num_queries
):
    """The dashboard's queries do not grow with the number of drafts (two data sizes)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crf import selectors as crf_selectors

    monkeypatch.setattr(crf_selectors, "DRAFT_LIST_LIMIT", 2)
    patients = patients_by_arm(site, investigator)
    first = next(iter(patients.values()))
    _draft_vitals(first)
    client.force_login(investigator)
    with CaptureQueriesContext(connection) as small:
        response = client.get(reverse("trials:dashboard"))
    for patient in [*patients.values(), *patients_by_arm(site, investigator).values()]:
        _draft_vitals(patient)
    with django_assert_max_num_queries(25), CaptureQueriesContext(connection) as large:
        response = client.get(reverse("trials:dashboard"))
    panel = next(p for p in response.context["panels"] if "drafts" in p)
    assert len(panel["drafts"]) == 2
    assert panel["draft_count"] == 4
    assert len(large) <= len(small) + 1  # + the count, needed once the list is full


def test_investigator_sees_visits_due_today_and_this_week(
    client, investigator, trial_data, django_assert_max_num_queries
):
    html = _dashboard(client, investigator, django_assert_max_num_queries)
    assert "due today" in html
    assert "due later this week" in html
    assert "overdue" in html


def test_pharmacist_dashboard_shows_arm_and_dose_and_logs_each_read(
    client, pharmacist, trial_data, django_assert_max_num_queries
):
    from randomization.models import ArmAccessLog

    html = _dashboard(client, pharmacist, django_assert_max_num_queries, ceiling=30)
    assert "Doses to prepare" in html
    assert "MSC" in html
    assert "Placebo" in html
    assert "placebo solution, same volume" in html
    assert "Record dose 1" in html
    logged = ArmAccessLog.objects.filter(user=pharmacist, purpose="pharmacist dashboard")
    assert logged.count() == 2  # one row per patient whose arm was shown


def test_pharmacist_dashboard_splits_today_from_upcoming(pharmacist, trial_data):
    import datetime as dt

    from crf.models import Visit
    from randomization import selectors

    later = Visit.objects.filter(definition__dose_number=1).first()
    Visit.objects.filter(pk=later.pk).update(
        window_start=timezone.localdate() + dt.timedelta(days=3),
        target_date=timezone.localdate() + dt.timedelta(days=3),
        window_end=timezone.localdate() + dt.timedelta(days=5),
    )
    due = selectors.pharmacy_due_list(user=pharmacist)
    doses = selectors.pharmacy_dashboard_doses(user=pharmacist, due=due)
    assert [r.patient.pk for r in doses["upcoming"]] == [later.patient_id]
    assert later.patient_id not in [r.patient.pk for r in doses["today"]]
    assert doses["today"]


@pytest.mark.parametrize(
    "who", ["investigator", "principal_investigator", "monitor", "data_manager", "trial_admin"]
)
def test_blinded_dashboards_have_no_pharmacy_doses(
    client, request, who, trial_data, django_assert_max_num_queries
):
    from randomization.models import ArmAccessLog

    user = request.getfixturevalue(who)
    html = _dashboard(client, user, django_assert_max_num_queries)
    assert "Doses to prepare" not in html
    assert not arm_words(html.replace("Mesenchymal Stem Cell", ""))
    assert not ArmAccessLog.objects.filter(user=user).exists()


def test_data_manager_and_admin_dashboards_link_their_work(
    client, data_manager, trial_admin, trial_data, django_assert_max_num_queries
):
    html = _dashboard(client, data_manager, django_assert_max_num_queries)
    assert f'href="{reverse("exports:export-page")}"' in html
    assert f'href="{reverse("trials:audit-log")}"' in html
    html = _dashboard(client, trial_admin, django_assert_max_num_queries)
    assert f'href="{reverse("admin:trials_site_changelist")}"' in html
    assert f'href="{reverse("crf:schedule-list")}"' in html


def test_investigator_dashboard_reads_the_site_list_once(
    client, investigator, trial_data, django_assert_max_num_queries
):
    """#16: the data-entry sites come from the memberships read for the roles (19 -> 16)."""
    client.force_login(investigator)
    client.get(reverse("trials:dashboard"))
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("trials:dashboard"))
    site_reads = [
        q["sql"][:150]
        for q in ctx.captured_queries
        if q["sql"].startswith('SELECT "trials_site"."id"')
    ]
    # The badges' site list once, the registration form's sites once (5 reads before).
    assert len(site_reads) <= 2, site_reads
    with django_assert_max_num_queries(len(ctx)):
        client.get(reverse("trials:dashboard"))
    assert len(ctx) <= 16
