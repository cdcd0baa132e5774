"""Daily visit status refresh on chosen dates (time_machine), digests, command, re-planning."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command

from crf import services
from crf.models import Visit, VisitDefinition, VisitStatus
from tests.conftest import make_user
from trials.roles import Role

pytestmark = pytest.mark.django_db


def status_of(patient, code: str) -> str:
    return Visit.objects.get(patient=patient, definition__code=code).status


def at(day: dt.date):
    """Freeze the clock at noon UTC of ``day`` (afternoon in Madrid: same local date)."""
    return time_machine.travel(dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC), tick=False)


# Dose 2: day 4 ± 1 -> window 2026-03-04 .. 2026-03-06; missed 7 days after the window.
@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (dt.date(2026, 3, 3), VisitStatus.PLANNED),
        (dt.date(2026, 3, 4), VisitStatus.DUE),
        (dt.date(2026, 3, 6), VisitStatus.DUE),
        (dt.date(2026, 3, 7), VisitStatus.OVERDUE),
        (dt.date(2026, 3, 13), VisitStatus.OVERDUE),
        (dt.date(2026, 3, 14), VisitStatus.MISSED),
    ],
)
def test_refresh_moves_dose_2_by_its_window(randomized_patient, today, expected):
    with at(today):
        services.visits_status_refresh(notify=False)
    assert status_of(randomized_patient, "dose2") == expected


def test_refresh_via_task_on_chosen_dates(randomized_patient):
    from crf.tasks import visits_status_refresh

    with at(dt.date(2026, 3, 4)):
        result = visits_status_refresh.delay().get()
    assert result["changed"] == {"due": 1, "overdue": 1}  # dose 2 due, dose 1 overdue
    assert status_of(randomized_patient, "dose2") == VisitStatus.DUE
    with at(dt.date(2026, 3, 4)):
        again = visits_status_refresh.delay().get()
    assert again["changed"] == {}


def test_refresh_keeps_done_and_not_applicable(randomized_patient):
    Visit.objects.filter(definition__code="dose2").update(status=VisitStatus.DONE)
    Visit.objects.filter(definition__code="dose3").update(status=VisitStatus.NOT_APPLICABLE)
    with at(dt.date(2026, 4, 30)):
        services.visits_status_refresh(notify=False)
    assert status_of(randomized_patient, "dose2") == VisitStatus.DONE
    assert status_of(randomized_patient, "dose3") == VisitStatus.NOT_APPLICABLE
    assert status_of(randomized_patient, "dose4") == VisitStatus.MISSED


def test_refresh_change_is_audited_with_its_date(randomized_patient):
    with at(dt.date(2026, 3, 4)):
        services.visits_status_refresh(notify=False)
    visit = Visit.objects.get(patient=randomized_patient, definition__code="dose2")
    last = visit.history.order_by("-history_id").first()
    assert last.history_change_reason == "Visit window status on 2026-03-04"


def test_digest_goes_to_each_sites_investigators_only(
    randomized_patient, investigator, principal_investigator, monitor, groups, other_site
):
    make_user(groups, Role.INVESTIGATOR, other_site, username="elsewhere")
    with at(dt.date(2026, 3, 5)):
        result = services.visits_status_refresh()
    assert result["digests_sent"] == 1
    (message,) = mail.outbox
    assert sorted(message.to) == sorted([investigator.email, principal_investigator.email])
    assert "Dose 2 (day 4)" in message.body
    assert randomized_patient.subject_id in message.body
    assert "site 01" in message.subject


def test_no_digest_when_nothing_is_due(randomized_patient, investigator):
    Visit.objects.filter(definition__code="dose1").update(status=VisitStatus.DONE)
    with at(dt.date(2026, 3, 3)):
        services.visits_status_refresh()
    assert mail.outbox == []


def test_visits_refresh_command_for_embedded_mode(randomized_patient, investigator, capsys):
    call_command("visits_refresh", "--date", "2026-03-07", "--no-email")
    assert status_of(randomized_patient, "dose2") == VisitStatus.OVERDUE
    assert "changed overdue: 2" in capsys.readouterr().out  # doses 1 and 2
    assert mail.outbox == []


def test_schedule_edit_keeps_planned_visits_until_replanned(
    randomized_patient, trial_admin, investigator
):
    definition = VisitDefinition.objects.get(code="dose3")
    services.visit_definition_update(
        user=trial_admin,
        definition=definition,
        data={"day": 12, "window_after": 2},
        reason="Protocol amendment 2",
    )
    visit = Visit.objects.get(patient=randomized_patient, definition=definition)
    assert visit.target_date == dt.date(2026, 3, 12)
    assert definition.history.order_by("-history_id")[0].history_change_reason == (
        "Protocol amendment 2"
    )
    changed = services.visits_replan(
        user=investigator, patient=randomized_patient, reason="Amendment 2 applied"
    )
    visit.refresh_from_db()
    assert [v.pk for v in changed] == [visit.pk]
    assert (visit.target_date, visit.window_end) == (dt.date(2026, 3, 13), dt.date(2026, 3, 15))


def test_schedule_edit_needs_a_reason_and_known_forms(schedule, trial_admin):
    definition = VisitDefinition.objects.get(code="dose3")
    with pytest.raises(ValidationError, match="reason"):
        services.visit_definition_update(
            user=trial_admin, definition=definition, data={"day": 12}, reason=""
        )
    with pytest.raises(ValidationError, match="Unknown form codes: xray"):
        services.visit_definition_update(
            user=trial_admin,
            definition=definition,
            data={"expected_forms": ["vitals", "xray"]},
            reason="add chest x-ray",
        )


def test_unscheduled_visit_is_recorded_done(randomized_patient, investigator):
    visit = services.visit_unscheduled_create(
        user=investigator, patient=randomized_patient, visit_date=dt.date(2026, 3, 2)
    )
    again = services.visit_unscheduled_create(
        user=investigator, patient=randomized_patient, visit_date=dt.date(2026, 3, 2)
    )
    assert visit.status == again.status == VisitStatus.DONE
    assert not visit.scheduled
    assert visit.pk != again.pk


def test_refresh_runs_in_short_batches_and_reports_the_longest(randomized_patient):
    """#16: the daily job changed 16,072 visits in one 67 s transaction holding locks on every
    open visit. In batches each transaction covers at most ``batch_size`` visits."""
    open_visits = Visit.objects.filter(
        scheduled=True, status__in=("planned", "due", "overdue")
    ).count()
    assert open_visits > 2
    with at(dt.date(2027, 6, 1)):  # everything in the past: every open visit changes
        result = services.visits_status_refresh(notify=False, batch_size=2)
    assert result["batches"] == open_visits // 2 + 1
    assert result["longest_batch_s"] >= 0
    assert sum(result["changed"].values()) == open_visits
    assert not Visit.objects.filter(status__in=("planned", "due", "overdue")).exists()


def test_a_patient_whose_doses_were_all_missed_leaves_the_pharmacy_worklist(randomized_patient):
    """No form changes when the last dosing visit is missed, so the daily job itself moves
    the patient from "randomized" (on treatment) to in follow-up, audited (#16: the pharmacy
    worklist filled with patients whose doses were missed long ago)."""
    from trials.models import PatientStatus

    # What the pharmacy worklist lists (``pharmacy_patient_list``): "randomized" patients.
    assert randomized_patient.status == PatientStatus.RANDOMIZED
    with at(dt.date(2026, 3, 20)):  # dose 4 (day 18) still open: nothing to sync
        assert services.visits_status_refresh(notify=False)["dosing_ended"] == 0
    with at(dt.date(2026, 4, 30)):
        result = services.visits_status_refresh(notify=False)
    randomized_patient.refresh_from_db()
    assert result["dosing_ended"] == 1
    assert randomized_patient.status == PatientStatus.IN_FOLLOW_UP
    last = randomized_patient.history.order_by("-history_id").first()
    assert last.history_change_reason.startswith("Visit window status on 2026-04-30")
    with at(dt.date(2026, 4, 30)):  # idempotent
        assert services.visits_status_refresh(notify=False)["dosing_ended"] == 0
