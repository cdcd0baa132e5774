"""Issue 17: score trajectory SVGs, the live CONSORT flow (pooled / by arm) and recruitment."""

from __future__ import annotations

import pytest
from django.urls import reverse

from monitoring import overview
from tests.factories import PatientFactory
from tests.randomization.factories import arm_words, patients_by_arm
from trials.charts import FlowBox, flow_diagram_svg, line_chart_svg
from trials.models import PatientStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def rand_list(site):
    from tests.randomization.factories import active_list

    return active_list(site.trial)


def test_line_chart_labels_every_value_and_marks_gaps():
    svg = line_chart_svg(
        title="MELD <x>", labels=["Scr", "D1", "D2"], series=[("MELD", [30.0, None, 27.5])]
    )
    assert svg.startswith("<svg")
    assert "MELD &lt;x&gt;" in svg  # escaped
    assert ">30<" in svg
    assert ">27.5<" in svg
    assert "D1 not computed" in svg  # the text alternative says what is missing
    assert "<polyline" not in svg  # no line drawn across the gap


def test_line_chart_uses_marker_shapes_not_colour_alone():
    svg = line_chart_svg(
        title="t", labels=["a", "b"], series=[("one", [1.0, 2.0]), ("two", [2.0, 1.0])]
    )
    assert "<circle" in svg
    assert "<rect x=" in svg  # the second series is squares
    assert "stroke-dasharray" in svg  # and dashed


def test_flow_diagram_has_one_column_per_group():
    svg = flow_diagram_svg(
        title="flow",
        columns=[("All", [FlowBox(("Registered: 3",), side=("Excluded: 1",))]), ("B", [])],
    )
    assert "Registered: 3" in svg
    assert "Excluded: 1" in svg
    assert 'role="img"' in svg


def test_patient_page_shows_score_trajectories(client, investigator, patient):
    from tests.trials.screening_data import eligible_screening_data
    from trials import services

    services.screening_save(
        user=investigator, patient=patient, data=eligible_screening_data(), complete=True
    )
    client.force_login(investigator)
    html = client.get(reverse("trials:patient-detail", kwargs={"pk": patient.pk})).content.decode()
    assert 'aria-labelledby="chart-clif_sofa-title' in html
    assert "CLIF-SOFA: Scr " in html


def test_consort_flow_pooled_for_blinded_roles(
    client, site, investigator, monitor, data_manager, rand_list, django_assert_max_num_queries
):
    by_arm = patients_by_arm(site, investigator)
    PatientFactory(site=site, status=PatientStatus.SCREEN_FAILED, screen_failure_reasons=["EXC12"])
    PatientFactory(site=site)
    for user in (investigator, monitor, data_manager):
        with django_assert_max_num_queries(12):
            flow = overview.consort_flow(user=user)
        assert flow.by_arm is None
        assert flow.pooled["randomized"] == len(by_arm) or flow.pooled["randomized"] >= 2
        assert flow.excluded == 1
        assert flow.excluded_by[0][0] == "EXC12"
        client.force_login(user)
        html = client.get(reverse("monitoring:trial-overview")).content.decode()
        assert not arm_words(html.replace("Mesenchymal Stem Cell", "")), user
        assert "CONSORT" in html
        svg = client.get(reverse("monitoring:trial-overview") + "?format=svg")
        assert svg["Content-Type"].startswith("image/svg+xml")
        assert not arm_words(svg.content.decode())


def test_consort_flow_by_arm_only_for_the_unblinded_statistician(
    site,
    investigator,
    pharmacist,
    unblinded_statistician,
    rand_list,
    django_assert_max_num_queries,
):
    patients_by_arm(site, investigator)
    assert overview.consort_flow(user=pharmacist).by_arm is None
    with django_assert_max_num_queries(14):
        flow = overview.consort_flow(user=unblinded_statistician)
    assert flow.by_arm is not None
    assert len(flow.by_arm) == 2
    assert sum(counts["randomized"] for _, counts in flow.by_arm) == flow.pooled["randomized"]
    assert arm_words(flow.svg)  # the statistician's diagram names the arms


def test_consort_query_count_does_not_grow_with_patients(
    site, investigator, rand_list, django_assert_max_num_queries
):
    for _ in range(3):
        patients_by_arm(site, investigator)
    for _ in range(10):
        PatientFactory(site=site)
    with django_assert_max_num_queries(8):
        overview.consort_flow(user=investigator)


def test_recruitment_counts_randomized_per_month_against_target(site, investigator, rand_list):
    by_arm = patients_by_arm(site, investigator)
    data = overview.recruitment(user=investigator)
    assert data["months"][-1][1] >= len(by_arm)
    assert data["target"] == site.trial.target_size
    assert "target" in data["svg"]
