"""Monitoring (issue 14): data queries, SDV, locks, the casebook e-signature, access events."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.transaction import atomic
from django.test import RequestFactory
from django.urls import reverse

from crf import services as crf_services
from crf.models import AdverseEvent, Visit, VitalSigns
from liveradvance.demo import eligible_screening_data
from monitoring import selectors, services
from monitoring.models import DataQuery, Lock, SdvMark
from tests.conftest import PASSWORD, login_request, make_user
from tests.crf.conftest import DAY1
from trials import services as trial_services
from trials.models import AccessEvent
from trials.roles import Role

pytestmark = pytest.mark.django_db

VITALS = {
    "assessment_date": DAY1,
    "weight_kg": Decimal("72.5"),
    "heart_rate_bpm": 88,
    "systolic_bp_mmhg": 110,
    "diastolic_bp_mmhg": 70,
}


def _visit(patient) -> Visit:
    return Visit.objects.get(patient=patient, definition__dose_number=1)


def _vitals(user, patient, reason="", confirm=False, **changes) -> VitalSigns:
    return crf_services.crf_save(
        user=user,
        form_code="vitals",
        visit=_visit(patient),
        data={**VITALS, **changes},
        complete=True,
        reason=reason,
        confirm_out_of_range=confirm,
    )


def _raise(user, patient, vitals, field="weight_kg") -> DataQuery:
    return services.query_raise(
        user=user,
        patient=patient,
        form_code="vitals",
        record_id=vitals.pk,
        field=field,
        text="Weight differs from the nursing chart: please check.",
    )


# --- data queries ------------------------------------------------------------------------------


def test_query_full_life_cycle(investigator, monitor, randomized_patient):
    vitals = _vitals(investigator, randomized_patient)
    query = _raise(monitor, randomized_patient, vitals)
    assert query.status == DataQuery.Status.OPEN
    assert query.visit == _visit(randomized_patient)
    # The site corrects the value with a reason, then answers.
    _vitals(investigator, randomized_patient, reason="Query: chart re-read", weight_kg="70.0")
    query = services.query_answer(
        user=investigator, query=query, answer="Corrected to 70.0 kg from the chart."
    )
    assert query.status == DataQuery.Status.ANSWERED
    query = services.query_reopen(user=monitor, query=query, reason="Chart says 71.0 kg")
    assert query.status == DataQuery.Status.OPEN
    query = services.query_answer(user=investigator, query=query, answer="Re-checked: 70.0.")
    query = services.query_close(user=monitor, query=query, note="Resolved")
    assert query.status == DataQuery.Status.CLOSED
    assert [h.history_change_reason for h in query.history.order_by("history_id")] == [
        "Query raised",
        "Query answered",
        "Re-opened: Chart says 71.0 kg",
        "Query answered",
        "Resolved",
    ]


def test_query_permissions_per_role(
    groups,
    site,
    investigator,
    principal_investigator,
    monitor,
    data_manager,
    pharmacist,
    other_site_investigator,
    randomized_patient,
):
    vitals = _vitals(investigator, randomized_patient)
    for user in (investigator, principal_investigator, pharmacist, other_site_investigator):
        with pytest.raises(PermissionDenied):
            _raise(user, randomized_patient, vitals)
    query = _raise(data_manager, randomized_patient, vitals)  # data managers raise too
    for user in (monitor, data_manager, other_site_investigator):
        with pytest.raises(PermissionDenied), atomic():
            services.query_answer(user=user, query=query, answer="Not mine to answer")
    services.query_answer(user=principal_investigator, query=query, answer="Checked: correct.")
    other_monitor = make_user(groups, Role.MONITOR, site, username="monitor2")
    with pytest.raises(PermissionDenied), atomic():
        services.query_close(user=other_monitor, query=query)  # only the raiser closes
    with pytest.raises(PermissionDenied), atomic():
        services.query_close(user=investigator, query=query)
    services.query_close(user=data_manager, query=query)
    # Another site's staff never see it.
    assert not selectors.query_list(user=other_site_investigator).exists()
    with pytest.raises(ValidationError, match="already closed"), atomic():
        services.query_close(user=data_manager, query=query)


def test_query_needs_an_existing_field_and_text(investigator, monitor, randomized_patient):
    vitals = _vitals(investigator, randomized_patient)
    with pytest.raises(ValidationError) as exc:
        _raise(monitor, randomized_patient, vitals, field="arm")
    assert "field" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.query_raise(
            user=monitor,
            patient=randomized_patient,
            form_code="vitals",
            record_id=vitals.pk,
            text="  ",
        )
    assert "text" in exc.value.message_dict


def test_query_pages_life_cycle_list_counts_and_overdue(
    client, investigator, monitor, randomized_patient, frozen_day1
):
    vitals = _vitals(investigator, randomized_patient)
    client.force_login(monitor)
    create = reverse("monitoring:query-create", args=[randomized_patient.pk])
    response = client.post(
        create,
        {"form_code": "vitals", "record_id": vitals.pk, "field": "weight_kg", "text": "x"},
    )
    assert response.status_code == 200  # too short: a field error, nothing lost
    assert "Write the question" in response.content.decode()
    response = client.post(
        create,
        {
            "form_code": "vitals",
            "record_id": vitals.pk,
            "field": "weight_kg",
            "text": "Please check the weight.",
        },
    )
    query = DataQuery.objects.get()
    assert response.url == reverse("monitoring:query-detail", args=[query.pk])
    client.force_login(investigator)
    detail = reverse("monitoring:query-detail", args=[query.pk])
    client.post(detail, {"action": "answer", "answer": "Checked: 72.5 kg."})
    query.refresh_from_db()
    assert query.status == DataQuery.Status.ANSWERED
    client.force_login(monitor)
    client.post(detail, {"action": "reopen", "note": "Chart says 70"})
    frozen_day1.move_to(dt.datetime(2026, 3, 20, 11, 0, tzinfo=dt.UTC))  # past the due date
    client.force_login(monitor)  # the idle session expired meanwhile
    body = client.get(reverse("monitoring:query-list")).content.decode()
    assert "overdue" in body
    assert "table-danger" in body
    counts = selectors.query_counts_per_site(user=monitor)
    assert counts[0]["open"] == 1
    assert counts[0]["overdue"] == 1
    overdue_only = client.get(reverse("monitoring:query-list"), {"overdue": "1"})
    assert len(overdue_only.context["page"].object_list) == 1
    # The patient and the form show their open queries.
    patient_page = client.get(reverse("trials:patient-detail", args=[randomized_patient.pk]))
    assert "1 open query" in patient_page.content.decode()
    form_page = client.get(
        reverse("crf:crf-edit", kwargs={"visit_pk": vitals.visit_id, "form_code": "vitals"})
    )
    assert "query open" in form_page.content.decode()


def test_a_soft_limit_overridden_on_save_opens_an_automatic_query_once(
    investigator, monitor, randomized_patient
):
    _vitals(investigator, randomized_patient, weight_kg=Decimal("30.0"), confirm=True)
    query = DataQuery.objects.get()
    assert query.automatic
    assert query.field == "weight_kg"
    assert query.status == DataQuery.Status.OPEN
    assert "Weight (kg)" in query.text
    # Saved again with the same confirmed value: no second query.
    _vitals(
        investigator,
        randomized_patient,
        weight_kg=Decimal("30.0"),
        confirm=True,
        reason="Height added",
        heart_rate_bpm=90,
    )
    assert DataQuery.objects.count() == 1
    # Any monitor or data manager may close an automatic query.
    services.query_close(user=monitor, query=query, note="Source checked")


def test_an_automatic_query_is_stored_in_english_whatever_the_users_language(
    investigator, randomized_patient
):
    """The range warning is shown in Spanish to a Spanish user, but the query stored from it
    stays English (translated at display, not at storage)."""
    from django.utils import translation

    with translation.override("es"):
        with pytest.raises(ValidationError) as warned:
            _vitals(investigator, randomized_patient, weight_kg=Decimal("30.0"))
        assert "por debajo del intervalo esperado" in " ".join(warned.value.messages)
        _vitals(investigator, randomized_patient, weight_kg=Decimal("30.0"), confirm=True)
    text = DataQuery.objects.get().text
    assert "is below the expected range" in text
    assert "Weight (kg)" in text
    assert "intervalo" not in text


# --- source data verification ------------------------------------------------------------------


def test_sdv_is_cleared_by_a_later_change_and_shows_why(
    client, investigator, monitor, randomized_patient
):
    vitals = _vitals(investigator, randomized_patient)
    weight = services.sdv_mark(
        user=monitor,
        patient=randomized_patient,
        form_code="vitals",
        record_id=vitals.pk,
        field="weight_kg",
    )
    whole = services.sdv_mark(
        user=monitor, patient=randomized_patient, form_code="vitals", record_id=vitals.pk
    )
    _vitals(investigator, randomized_patient, reason="Typo", heart_rate_bpm=92)
    weight.refresh_from_db()
    whole.refresh_from_db()
    assert weight.cleared_at is None  # the weight did not change
    assert whole.cleared_at is not None
    assert whole.cleared_reason == "Heart rate (bpm) changed by investigator: Typo"
    _vitals(investigator, randomized_patient, reason="Scale re-read", weight_kg="70.0")
    weight.refresh_from_db()
    assert weight.cleared_at is not None
    assert "Weight (kg)" in weight.cleared_reason
    client.force_login(monitor)
    page = client.get(
        reverse("crf:crf-edit", kwargs={"visit_pk": vitals.visit_id, "form_code": "vitals"})
    ).content.decode()
    assert "SDV cleared: Weight (kg) changed by investigator: Scale re-read" in page


def test_only_monitors_verify_source_data(
    client, investigator, data_manager, monitor, randomized_patient
):
    vitals = _vitals(investigator, randomized_patient)
    for user in (investigator, data_manager):
        with pytest.raises(PermissionDenied):
            services.sdv_mark(
                user=user, patient=randomized_patient, form_code="vitals", record_id=vitals.pk
            )
    client.force_login(monitor)
    url = reverse("monitoring:sdv-mark", args=[randomized_patient.pk])
    client.post(url, {"form_code": "vitals", "record_id": vitals.pk, "field": "weight_kg"})
    assert SdvMark.objects.filter(field="weight_kg", cleared_at__isnull=True).count() == 1


# --- locks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["form", "visit", "patient"])
def test_a_locked_form_rejects_edits_from_every_path(
    client, investigator, data_manager, monitor, randomized_patient, level
):
    vitals = _vitals(investigator, randomized_patient)
    query = _raise(monitor, randomized_patient, vitals)
    services.lock_set(
        user=data_manager,
        patient=randomized_patient,
        level=level,
        visit_id=vitals.visit_id,
        form_code="vitals",
        record_id=vitals.pk,
    )
    # Service (what page and API call).
    with pytest.raises(ValidationError, match="Locked by the data manager"):
        _vitals(investigator, randomized_patient, reason="late change", weight_kg="70.0")
    # Page: an error shown, what was typed kept, nothing saved.
    client.force_login(investigator)
    url = reverse("crf:crf-edit", kwargs={"visit_pk": vitals.visit_id, "form_code": "vitals"})
    page = client.post(
        url, {**VITALS, "weight_kg": "70.0", "complete": "1", "reason_for_change": "late"}
    )
    assert page.status_code in (200, 403)
    assert "Locked by the data manager" in client.get(url).content.decode()
    # API.
    api = client.put(
        reverse("crf-api:crf-detail", kwargs={"visit_pk": vitals.visit_id, "form_code": "vitals"}),
        {
            **{k: str(v) for k, v in VITALS.items()},
            "weight_kg": "70.0",
            "complete": True,
            "reason_for_change": "late",
        },
        content_type="application/json",
        headers={"If-Match": f'"v{vitals.lock_version}"'},  # the version read (issue 11)
    )
    assert api.status_code == 400
    assert "Locked" in api.content.decode()
    # Any other path (shell, command, task): the pre-save guard.
    vitals.refresh_from_db()
    vitals.weight_kg = Decimal("70.0")
    with pytest.raises(ValidationError, match="Locked"):
        vitals.save()
    # Admin: no eCRF is editable there at all.
    assert VitalSigns not in admin.site._registry
    vitals.refresh_from_db()
    assert vitals.weight_kg == Decimal("72.5")
    # Queries stay readable.
    client.force_login(monitor)
    assert client.get(reverse("monitoring:query-detail", args=[query.pk])).status_code == 200


def test_a_patient_lock_blocks_new_forms_and_screening_changes(
    site, investigator, data_manager, randomized_patient
):
    from tests.factories import PatientFactory

    patient = PatientFactory(site=site, screening_number="S01-0099")
    trial_services.screening_save(
        user=investigator, patient=patient, data=eligible_screening_data(), complete=False
    )
    services.lock_set(user=data_manager, patient=patient, level="patient")
    with pytest.raises(ValidationError, match="Locked"):
        trial_services.screening_save(
            user=investigator, patient=patient, data=eligible_screening_data(), complete=False
        )
    services.lock_set(user=data_manager, patient=randomized_patient, level="patient")
    with pytest.raises(ValidationError, match="Locked"):
        crf_services.crf_save(
            user=investigator,
            form_code="adverse_event",
            patient=randomized_patient,
            data={"term": "Fever", "onset_date": DAY1},
            complete=False,
        )
    assert not AdverseEvent.objects.exists()


def test_unlocking_needs_a_reason_and_is_audited(
    client, investigator, data_manager, monitor, randomized_patient
):
    vitals = _vitals(investigator, randomized_patient)
    with pytest.raises(PermissionDenied):
        services.lock_set(user=monitor, patient=randomized_patient, level="patient")
    client.force_login(data_manager)
    page = reverse("monitoring:patient-monitoring", args=[randomized_patient.pk])
    client.post(page, {"level": "form", "record": f"vitals:{vitals.pk}"})
    lock = Lock.objects.get()
    assert (lock.level, lock.form_code, lock.record_id) == ("form", "vitals", vitals.pk)
    unlock = reverse("monitoring:lock-release", args=[lock.pk])
    response = client.post(unlock, {"reason": ""})
    assert response.status_code == 200
    lock.refresh_from_db()
    assert lock.active
    client.post(unlock, {"reason": "Query answered late: correction allowed"})
    lock.refresh_from_db()
    assert not lock.active
    assert lock.history.first().history_change_reason == (
        "Unlocked: Query answered late: correction allowed"
    )
    actions = list(AccessEvent.objects.values_list("action", flat=True))
    assert AccessEvent.Action.DATA_LOCKED in actions
    assert AccessEvent.Action.DATA_UNLOCKED in actions
    _vitals(investigator, randomized_patient, reason="Allowed", weight_kg="70.0")


# --- e-signature -------------------------------------------------------------------------------


def _request(user):
    request = RequestFactory().post("/")
    request.user = user
    return request


def test_pi_signature_needs_password_and_meaning_and_is_invalidated_by_a_change(
    client, investigator, principal_investigator, randomized_patient
):
    _vitals(investigator, randomized_patient)
    with pytest.raises(PermissionDenied):
        services.casebook_sign(
            request=_request(investigator),
            patient=randomized_patient,
            password=PASSWORD,
            meaning_confirmed=True,
        )
    with pytest.raises(ValidationError) as exc:
        services.casebook_sign(
            request=_request(principal_investigator),
            patient=randomized_patient,
            password="wrong",
            meaning_confirmed=False,
        )
    assert set(exc.value.message_dict) == {"password", "meaning_confirmed"}
    # A wrong password counts toward the lockout and is an access event.
    assert AccessAttempt.objects.filter(username=principal_investigator.username).exists()
    assert AccessEvent.objects.filter(action=AccessEvent.Action.SIGNATURE_REFUSED).exists()
    signature = services.casebook_sign(
        request=_request(principal_investigator),
        patient=randomized_patient,
        password=PASSWORD,
        meaning_confirmed=True,
    )
    assert signature.meaning == "I approve the data in this casebook"
    state = selectors.signature_state(user=principal_investigator, patient=randomized_patient)
    assert state.valid
    client.force_login(principal_investigator)
    page = reverse("monitoring:patient-monitoring", args=[randomized_patient.pk])
    assert "Re-signature needed" not in client.get(page).content.decode()
    # A later change of the data (any path) invalidates it.
    _vitals(investigator, randomized_patient, reason="Late correction", weight_kg="70.0")
    state = selectors.signature_state(user=principal_investigator, patient=randomized_patient)
    assert not state.valid
    assert state.needs_resignature
    assert "Re-signature needed" in client.get(page).content.decode()
    detail = client.get(reverse("trials:patient-detail", args=[randomized_patient.pk]))
    assert "re-signature is needed" in detail.content.decode()


def test_signature_page_shows_the_meaning_and_signs(
    client, investigator, principal_investigator, randomized_patient
):
    _vitals(investigator, randomized_patient)
    client.force_login(principal_investigator)
    url = reverse("monitoring:casebook-sign", args=[randomized_patient.pk])
    assert "I approve the data in this casebook" in client.get(url).content.decode()
    bad = client.post(url, {"password": "nope", "meaning_confirmed": "on"})
    assert bad.status_code == 200
    assert "not correct" in bad.content.decode()
    good = client.post(url, {"password": PASSWORD, "meaning_confirmed": "on"})
    assert good.status_code == 302
    assert AccessEvent.objects.filter(action=AccessEvent.Action.CASEBOOK_SIGNED).exists()


def test_raising_queries_or_verifying_does_not_invalidate_the_signature(
    investigator, principal_investigator, monitor, randomized_patient
):
    vitals = _vitals(investigator, randomized_patient)
    services.casebook_sign(
        request=_request(principal_investigator),
        patient=randomized_patient,
        password=PASSWORD,
        meaning_confirmed=True,
    )
    _raise(monitor, randomized_patient, vitals)
    services.sdv_mark(
        user=monitor, patient=randomized_patient, form_code="vitals", record_id=vitals.pk
    )
    assert selectors.signature_state(user=monitor, patient=randomized_patient).valid


# --- access events ----------------------------------------------------------------------------


def test_logins_failed_logins_and_logouts_are_access_events(client, investigator):
    client.post(reverse("login"), {"username": investigator.username, "password": "wrong"})
    client.post(reverse("login"), {"username": "ghost", "password": "wrong"})
    client.post(reverse("login"), {"username": investigator.username, "password": PASSWORD})
    client.post(reverse("logout"))
    events = list(AccessEvent.objects.order_by("id").values_list("action", "subject_user"))
    assert events == [
        (AccessEvent.Action.LOGIN_FAILED, investigator.pk),
        (AccessEvent.Action.LOGIN_FAILED, None),
        (AccessEvent.Action.LOGIN, investigator.pk),
        (AccessEvent.Action.LOGOUT, investigator.pk),
    ]
    ghost = AccessEvent.objects.get(subject_user=None)
    assert ghost.detail == "username tried: ghost"
    assert "wrong" not in " ".join(AccessEvent.objects.values_list("detail", flat=True))


def test_monitoring_pages_of_another_site_are_404(
    client, investigator, monitor, other_site_investigator, randomized_patient
):
    vitals = _vitals(investigator, randomized_patient)
    query = _raise(monitor, randomized_patient, vitals)
    client.force_login(other_site_investigator)
    for url in (
        reverse("monitoring:query-detail", args=[query.pk]),
        reverse("monitoring:patient-monitoring", args=[randomized_patient.pk]),
        reverse("monitoring:casebook-sign", args=[randomized_patient.pk]),
    ):
        assert client.get(url).status_code == 404


def test_monitor_data_manager_and_site_staff_dashboards_differ(
    client, investigator, monitor, data_manager, randomized_patient
):
    vitals = _vitals(investigator, randomized_patient)
    _raise(monitor, randomized_patient, vitals)
    bodies = {}
    for user in (investigator, monitor, data_manager):
        client.force_login(user)
        bodies[user.username] = client.get(reverse("trials:dashboard")).content.decode()
    assert "Data queries to answer" in bodies[investigator.username]
    assert "Data queries to follow up" in bodies[monitor.username]
    assert "active lock" in bodies[data_manager.username]
    assert "active lock" not in bodies[monitor.username]


def test_emergency_unblinding_is_an_access_event_that_names_no_arm(
    site, investigator, principal_investigator
):
    from randomization import services as rand_services
    from tests.randomization.factories import active_list, eligible_patient, randomize

    active_list(site.trial)
    patient = eligible_patient(site)
    randomize(patient, investigator)
    rand_services.emergency_unblinding_create(
        request=login_request(),
        user=principal_investigator,
        patient=patient,
        password=PASSWORD,
        reason="SAE work-up",
    )
    event = AccessEvent.objects.get(action=AccessEvent.Action.EMERGENCY_UNBLINDING)
    assert event.actor == principal_investigator
    assert event.detail == f"Patient {patient}"


def test_query_api_life_cycle_and_permissions(
    client, investigator, monitor, other_site_investigator, randomized_patient
):
    vitals = _vitals(investigator, randomized_patient)
    url = reverse("monitoring-api:patient-queries", args=[randomized_patient.pk])
    body = {"form_code": "vitals", "record_id": vitals.pk, "field": "weight_kg", "text": "Check"}
    client.force_login(investigator)
    assert client.post(url, body, content_type="application/json").status_code == 403
    client.force_login(monitor)
    bad = client.post(url, {**body, "field": "nope"}, content_type="application/json")
    assert bad.status_code == 400
    assert "field" in bad.json()
    created = client.post(url, body, content_type="application/json")
    assert created.status_code == 201
    detail = reverse("monitoring-api:query-detail", args=[created.json()["id"]])
    client.force_login(investigator)
    answered = client.post(
        detail, {"action": "answer", "answer": "Checked."}, content_type="application/json"
    )
    assert answered.json()["status"] == "answered"
    client.force_login(monitor)
    closed = client.post(detail, {"action": "close"}, content_type="application/json")
    assert closed.json()["status"] == "closed"
    listed = client.get(reverse("monitoring-api:query-list")).json()["results"]
    assert listed[0]["status"] == "closed"
    client.force_login(other_site_investigator)
    assert client.get(detail).status_code == 404
    assert client.get(reverse("monitoring-api:query-list")).json()["results"] == []
