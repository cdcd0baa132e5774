"""Blinded and guarded selectors for every role, other sites and the PI around unblinding."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal

import pytest
from django.http import Http404

from randomization import selectors, services
from randomization.models import ArmAccessLog, RandomizationListEntry
from tests.conftest import login_request, make_user
from tests.randomization.factories import prepare
from trials.roles import Role

pytestmark = pytest.mark.django_db

BLINDED = ["investigator", "principal_investigator", "monitor", "data_manager", "trial_admin"]
UNBLINDED = ["pharmacist", "unblinded_statistician"]


@pytest.mark.parametrize("who", BLINDED + UNBLINDED)
def test_blinded_allocation_has_number_date_stratum_and_no_arm(request, who, by_arm):
    user = request.getfixturevalue(who)
    allocation = selectors.allocation_get_blinded(user=user, patient=by_arm["A"])
    data = asdict(allocation)
    assert data["randomization_number"] == by_arm["A"].subject_id
    assert data["stratum"] == "2"
    assert set(data) == {
        "patient_id",
        "randomization_number",
        "randomized_at",
        "stratum",
        "randomized_by",
    }


def test_blinded_allocation_is_404_for_another_sites_user(by_arm, other_site_investigator):
    with pytest.raises(Http404):
        selectors.allocation_get_blinded(user=other_site_investigator, patient=by_arm["A"])


@pytest.mark.parametrize("who", [*BLINDED, "other_site_investigator", "no_role_user"])
def test_blinded_roles_cannot_read_the_arm_and_nothing_is_logged(request, who, by_arm):
    user = request.getfixturevalue(who)
    with pytest.raises(Http404):
        selectors.allocation_get_unblinded(user=user, patient=by_arm["A"], purpose="test")
    assert (
        selectors.allocation_list_unblinded(user=user, patients=by_arm.values(), purpose="t") == {}
    )
    assert not ArmAccessLog.objects.exists()


@pytest.mark.parametrize("who", UNBLINDED)
def test_unblinded_roles_read_the_arm_and_each_read_is_logged(request, who, by_arm):
    user = request.getfixturevalue(who)
    a = selectors.allocation_get_unblinded(user=user, patient=by_arm["A"], purpose="check")
    b = selectors.allocation_get_unblinded(user=user, patient=by_arm["B"], purpose="check")
    assert (a.arm, a.arm_label, a.receives_cells) == ("A", "MSC", True)
    assert (b.arm, b.arm_label, b.receives_cells) == ("B", "Placebo", False)
    logs = ArmAccessLog.objects.filter(user=user)
    assert logs.count() == 2
    assert {log.purpose for log in logs} == {"check"}
    assert not hasattr(ArmAccessLog, "history")  # append-only: its own audit trail (#16)


def test_arm_access_log_is_one_insert_without_history_rows(pharmacist, by_arm):
    """#16: every pharmacy page view wrote its access rows plus as many history rows."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        selectors.allocation_list_unblinded(
            user=pharmacist, patients=list(by_arm.values()), purpose="pharmacy list"
        )
    writes = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("INSERT")]
    assert len(writes) == 1
    assert "historical" not in writes[0].lower()


def test_pharmacist_of_another_site_cannot_read_the_arm(groups, other_site, by_arm):
    other_pharmacist = make_user(groups, Role.PHARMACIST, other_site, username="pharm2")
    with pytest.raises(Http404):
        selectors.allocation_get_unblinded(user=other_pharmacist, patient=by_arm["A"], purpose="x")


def test_batched_reader_logs_one_row_per_patient(pharmacist, by_arm):
    result = selectors.allocation_list_unblinded(
        user=pharmacist, patients=list(by_arm.values()), purpose="pharmacy list"
    )
    assert {a.arm for a in result.values()} == {"A", "B"}
    assert ArmAccessLog.objects.filter(purpose="pharmacy list").count() == 2


def test_pi_sees_the_arm_only_after_their_own_emergency_unblinding(
    groups, site, by_arm, principal_investigator
):
    patient = by_arm["B"]
    with pytest.raises(Http404):
        selectors.allocation_get_unblinded(
            user=principal_investigator, patient=patient, purpose="x"
        )
    services.emergency_unblinding_create(
        request=login_request(),
        user=principal_investigator,
        patient=patient,
        password="Correct-Horse-9",
        reason="SAE",
    )
    seen = selectors.allocation_get_unblinded(
        user=principal_investigator, patient=patient, purpose="after unblinding"
    )
    assert seen.arm_label == "Placebo"
    # one subject at a time: the other patient stays blinded for the PI
    with pytest.raises(Http404):
        selectors.allocation_get_unblinded(
            user=principal_investigator, patient=by_arm["A"], purpose="x"
        )
    # and another PI of the same site stays blinded for this patient
    other_pi = make_user(groups, Role.PRINCIPAL_INVESTIGATOR, site, username="pi2")
    with pytest.raises(Http404):
        selectors.allocation_get_unblinded(user=other_pi, patient=patient, purpose="x")


@pytest.mark.parametrize("who", BLINDED + UNBLINDED)
def test_blinded_preparations_look_the_same_for_both_arms(request, who, by_arm, pharmacist):
    prepare(by_arm["A"], pharmacist, cells=True)
    prepare(by_arm["B"], pharmacist, cells=False)
    user = request.getfixturevalue(who)
    a = selectors.preparation_list_blinded(user=user, patient=by_arm["A"])
    b = selectors.preparation_list_blinded(user=user, patient=by_arm["B"])
    assert [asdict(x) for x in a] == [asdict(x) for x in b]
    assert set(asdict(a[0])) == {"dose_number", "prepared_on"}


@pytest.mark.parametrize("who", BLINDED)
def test_full_preparations_are_404_for_blinded_roles(request, who, by_arm, pharmacist):
    prepare(by_arm["A"], pharmacist, cells=True)
    with pytest.raises(Http404):
        selectors.preparation_list_unblinded(
            user=request.getfixturevalue(who), patient=by_arm["A"]
        )


@pytest.mark.parametrize(
    ("cells", "weight", "text"),
    [
        (True, Decimal("75.0"), "150 × 10⁶ cells (75.0 kg)"),
        (True, Decimal("68.4"), "136.8 × 10⁶ cells (68.4 kg)"),
        (True, None, "2 × 10⁶ cells/kg: body weight not recorded yet"),
        (False, Decimal("75.0"), "placebo solution, same volume"),
    ],
)
def test_dose_to_prepare_is_two_million_cells_per_kg(cells, weight, text):
    assert selectors.dose_to_prepare_text(receives_cells=cells, weight_kg=weight) == text


def test_dose_to_prepare_reads_in_spanish_with_a_decimal_comma():
    from django.utils import translation

    with translation.override("es"):
        text = selectors.dose_to_prepare_text(receives_cells=True, weight_kg=Decimal("72.5"))
        placebo = selectors.dose_to_prepare_text(receives_cells=False, weight_kg=Decimal("72.5"))
    assert text == "145 × 10⁶ células (72,5 kg)"
    assert placebo == "solución placebo, mismo volumen"


def test_pharmacy_list_only_has_the_pharmacists_sites(groups, other_site, by_arm, pharmacist):
    assert set(selectors.pharmacy_patient_list(user=pharmacist)) == set(by_arm.values())
    other_pharmacist = make_user(groups, Role.PHARMACIST, other_site, username="pharm2")
    assert not selectors.pharmacy_patient_list(user=other_pharmacist).exists()


@pytest.mark.parametrize("who", [*BLINDED, "unblinded_statistician"])
def test_pharmacy_list_is_empty_for_non_pharmacists(request, who, by_arm):
    assert not selectors.pharmacy_patient_list(user=request.getfixturevalue(who)).exists()


def test_pharmacy_worklist_shows_next_dose_from_the_schedule(by_arm, pharmacist):
    prepare(by_arm["A"], pharmacist, cells=True)
    rows = {
        r.patient.pk: r
        for r in selectors.pharmacy_worklist(user=pharmacist, patients=by_arm.values())
    }
    assert rows[by_arm["A"].pk].next_dose_number == 2
    assert rows[by_arm["A"].pk].next_dose.dose_number == 2
    assert rows[by_arm["B"].pk].next_dose_number == 1
    assert rows[by_arm["B"].pk].dose_text == "placebo solution, same volume"


@pytest.mark.parametrize("who", [*BLINDED, "pharmacist"])
def test_list_overview_is_404_except_for_the_statistician(request, who, by_arm):
    with pytest.raises(Http404):
        selectors.randomization_list_overview(user=request.getfixturevalue(who))


def test_list_overview_balance_counts_listed_and_allocated_per_arm(unblinded_statistician, by_arm):
    overview = selectors.randomization_list_overview(user=unblinded_statistician)
    stratum2 = next(b for b in overview["balance"] if b["stratum"] == "2")
    assert stratum2["allocated"] >= 2
    assert stratum2["per_arm"]["A"]["allocated"] >= 1
    assert stratum2["per_arm"]["B"]["allocated"] >= 1
    assert (
        stratum2["per_arm"]["A"]["listed"] + stratum2["per_arm"]["B"]["listed"]
        == (stratum2["listed"])
    )
    assert overview["locked"] is True


@pytest.mark.parametrize("who", BLINDED)
def test_patient_panel_for_blinded_roles_has_no_arm(request, who, by_arm):
    panel = selectors.patient_panel_context(user=request.getfixturevalue(who), patient=by_arm["A"])
    assert panel["unblinded"] is None
    assert panel["allocation"].randomization_number == by_arm["A"].subject_id


def test_patient_panel_offers_randomize_only_to_site_investigators_when_eligible(
    eligible, investigator, monitor
):
    assert selectors.patient_panel_context(user=investigator, patient=eligible)["can_randomize"]
    assert not selectors.patient_panel_context(user=monitor, patient=eligible)["can_randomize"]


def test_patient_panel_is_none_for_another_site(eligible, other_site_investigator):
    assert selectors.patient_panel_context(user=other_site_investigator, patient=eligible) is None


def test_dashboard_panel_only_for_pharmacist_and_statistician(
    by_arm, pharmacist, unblinded_statistician, investigator, monitor
):
    assert selectors.dashboard_panel_context(user=investigator) is None
    assert selectors.dashboard_panel_context(user=monitor) is None
    due = selectors.dashboard_panel_context(user=pharmacist)["due"]
    assert {d["patient"].pk for d in due} == {p.pk for p in by_arm.values()}
    stats = selectors.dashboard_panel_context(user=unblinded_statistician)
    assert (
        stats["active_list"].n_used
        == RandomizationListEntry.objects.filter(allocation__isnull=False).count()
    )
