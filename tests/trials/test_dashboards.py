"""Issue 17: what each role sees on its landing page (bounded queries, no arm)."""

from __future__ import annotations

import pytest
from django.urls import reverse

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
