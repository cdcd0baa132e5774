"""Visit schedule: definitions as data, planning after randomization, windows, follow-ups."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from crf import selectors, services
from crf.models import Visit, VisitDefinition, VisitKind, VisitStatus
from tests.crf.conftest import DAY1

pytestmark = pytest.mark.django_db


def test_definitions_load_creates_the_synopsis_schedule_once(site):
    services.visit_definitions_load(trial=site.trial)
    services.visit_definitions_load(trial=site.trial)
    rows = {d.code: d for d in VisitDefinition.objects.filter(trial=site.trial)}
    assert len(rows) == 10
    assert (rows["dose2"].day, rows["dose2"].window_before, rows["dose2"].window_after) == (
        4,
        1,
        1,
    )
    assert (rows["dose4"].day, rows["dose4"].window_after) == (18, 2)
    assert (rows["fu_m12"].day, rows["fu_m12"].window_before) == (365, 14)


def test_definitions_load_keeps_an_administrator_edit(site):
    services.visit_definitions_load(trial=site.trial)
    VisitDefinition.objects.filter(code="dose2").update(window_after=2)
    services.visit_definitions_load(trial=site.trial)
    assert VisitDefinition.objects.get(code="dose2").window_after == 2


def test_trial_setup_loads_the_visit_schedule(db):
    from crf.models import VisitDefinition
    from liveradvance.setup import trial_setup

    trial, _site, _groups = trial_setup()
    assert VisitDefinition.objects.filter(trial=trial).exists()


@pytest.mark.parametrize(
    ("code", "target", "start", "end"),
    [
        ("dose1", dt.date(2026, 3, 2), dt.date(2026, 3, 2), dt.date(2026, 3, 2)),
        ("dose2", dt.date(2026, 3, 5), dt.date(2026, 3, 4), dt.date(2026, 3, 6)),
        ("dose3", dt.date(2026, 3, 12), dt.date(2026, 3, 11), dt.date(2026, 3, 13)),
        ("dose4", dt.date(2026, 3, 19), dt.date(2026, 3, 17), dt.date(2026, 3, 21)),
        ("fu_d28", dt.date(2026, 3, 29), dt.date(2026, 3, 26), dt.date(2026, 4, 1)),
        ("fu_m3", dt.date(2026, 5, 30), dt.date(2026, 5, 23), dt.date(2026, 6, 6)),
        ("fu_m12", dt.date(2027, 3, 1), dt.date(2027, 2, 15), dt.date(2027, 3, 15)),
    ],
)
def test_visit_windows_count_from_day_1(randomized_patient, code, target, start, end):
    visit = Visit.objects.get(patient=randomized_patient, definition__code=code)
    assert (visit.target_date, visit.window_start, visit.window_end) == (target, start, end)


def test_plan_creates_four_dosing_visits_and_is_idempotent(patient, schedule, investigator):
    first = services.visits_plan_after_randomization(patient=patient, day1=DAY1, user=investigator)
    again = services.visits_plan_after_randomization(patient=patient, day1=DAY1, user=investigator)
    assert [v.definition.dose_number for v in first] == [1, 2, 3, 4]
    assert [v.pk for v in again] == [v.pk for v in first]
    assert Visit.objects.filter(patient=patient, definition__kind=VisitKind.DOSING).count() == 4


def test_plan_loads_the_schedule_when_the_trial_has_none(patient, investigator):
    visits = services.visits_plan_after_randomization(
        patient=patient, day1=DAY1, user=investigator
    )
    assert len(visits) == 4


def test_followup_task_runs_only_after_commit(
    patient, schedule, investigator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.visits_plan_after_randomization(patient=patient, day1=DAY1, user=investigator)
    assert not Visit.objects.filter(patient=patient, definition__kind="follow_up").exists()
    assert len(callbacks) == 1
    callbacks[0]()  # the commit happens: the eager task creates the follow-ups
    codes = set(
        Visit.objects.filter(patient=patient, definition__kind="follow_up").values_list(
            "definition__code", flat=True
        )
    )
    assert codes == {"fu_d28", "fu_m3", "fu_m12"}


def test_followup_task_is_idempotent(randomized_patient):
    from crf.tasks import visits_followup_create

    before = Visit.objects.filter(patient=randomized_patient).count()
    assert before == 4 + 3
    first = visits_followup_create.delay(randomized_patient.pk).get()
    second = visits_followup_create.apply(args=[randomized_patient.pk]).get()
    assert sorted(first) == sorted(second)
    assert Visit.objects.filter(patient=randomized_patient).count() == before


def test_followup_service_without_day1_creates_nothing(patient, schedule):
    assert services.visits_followup_create(patient_id=patient.pk) == []


def test_dosing_schedule_lists_doses_with_windows(randomized_patient, pharmacist):
    doses = selectors.dosing_schedule(user=pharmacist, patient=randomized_patient)
    assert [d.dose_number for d in doses] == [1, 2, 3, 4]
    assert doses[0].status == VisitStatus.DUE
    assert doses[1].window_start == dt.date(2026, 3, 4)
    assert all(d.administered is None for d in doses)


def test_dosing_schedule_of_another_site_is_404(randomized_patient, other_site_investigator):
    from django.http import Http404

    with pytest.raises(Http404):
        selectors.dosing_schedule(user=other_site_investigator, patient=randomized_patient)


def test_weight_latest_is_none_without_vitals(randomized_patient, pharmacist):
    assert selectors.weight_latest(user=pharmacist, patient=randomized_patient) is None


def test_admin_changes_the_schedule_through_the_service_with_a_reason(
    client, trial_admin, schedule
):
    """The admin is one more write path: the same service, a required reason (issue 12)."""
    trial_admin.is_staff = True
    trial_admin.save()
    client.force_login(trial_admin)
    definition = VisitDefinition.objects.filter(kind="follow_up").order_by("order").first()
    url = reverse("admin:crf_visitdefinition_change", args=[definition.pk])
    form = {
        "name": definition.name,
        "day": definition.day,
        "window_before": definition.window_before,
        "window_after": definition.window_after + 2,
        "missed_after_days": definition.missed_after_days,
        "order": definition.order,
    }
    response = client.post(url, {**form, "reason_for_change": "?"})
    assert response.status_code == 200  # the form again, with the error next to the field
    assert "Give the reason" in response.content.decode()
    definition.refresh_from_db()
    assert definition.window_after == form["window_after"] - 2

    response = client.post(url, {**form, "reason_for_change": "Protocol amendment 2"})
    assert response.status_code == 302
    definition.refresh_from_db()
    assert definition.window_after == form["window_after"]
    latest = definition.history.first()
    assert latest.history_change_reason == "Protocol amendment 2"
    assert latest.history_user == trial_admin
