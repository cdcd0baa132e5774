"""The audit trail reads like an audit trail (issue 14): labels, display values, who + role,
no raw ids, no bookkeeping, compact creations, filters, a trial-wide log, immutability."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.transaction import atomic
from django.urls import reverse

from crf import services as crf_services
from crf.models import AdverseEvent, Visit, VitalSigns
from liveradvance.demo import eligible_screening_data
from tests.crf.conftest import DAY1
from tests.factories import PatientFactory
from trials import history, selectors
from trials import services as trial_services
from trials.models import Patient

pytestmark = pytest.mark.django_db

VITALS = {
    "assessment_date": DAY1,
    "weight_kg": Decimal("72.5"),
    "heart_rate_bpm": 88,
    "systolic_bp_mmhg": 110,
    "diastolic_bp_mmhg": 70,
}


def _dose1(patient) -> Visit:
    return Visit.objects.get(patient=patient, definition__dose_number=1)


def _vitals(user, patient, **changes):
    return crf_services.crf_save(
        user=user,
        form_code="vitals",
        visit=_dose1(patient),
        data={**VITALS, **changes},
        complete=True,
        reason="Corrected from source" if changes else "",
    )


def _ae(user, patient, pk=None, reason="", **data):
    return crf_services.crf_save(
        user=user,
        form_code="adverse_event",
        patient=patient,
        pk=pk,
        data={"term": "Fever", "onset_date": DAY1, **data},
        complete=False,
        reason=reason,
    )


def _change(entries, field):
    return next(
        c for e in entries for c in e.changes if c.field == field and e.action != "created"
    )


def test_old_and_new_values_are_shown_as_a_reader_expects_for_each_field_type(
    investigator, monitor, randomized_patient
):
    investigator.first_name, investigator.last_name = "Ana", "Pérez"
    investigator.save()
    ae = _ae(investigator, randomized_patient, severity_grade=1, relatedness="unlikely")
    _ae(
        investigator,
        randomized_patient,
        pk=ae.pk,
        severity_grade=3,  # integer choices
        relatedness="possible",  # text choices
        serious=True,  # boolean
        end_date=DAY1,  # date
    )
    _vitals(investigator, randomized_patient)
    _vitals(investigator, randomized_patient, weight_kg=Decimal("71.0"))  # decimal
    entries = selectors.patient_history(user=monitor, patient=randomized_patient)

    assert (_change(entries, "severity_grade").old, _change(entries, "severity_grade").new) == (
        "1 – mild",
        "3 – severe",
    )
    relatedness = _change(entries, "relatedness")
    assert (relatedness.old, relatedness.new) == ("Unlikely", "Possible")
    assert (_change(entries, "serious").old, _change(entries, "serious").new) == ("∅", "Yes")
    assert _change(entries, "end_date").new == "2026-03-02"
    weight = _change(entries, "weight_kg")
    assert (weight.label, weight.old, weight.new) == ("Weight (kg)", "72.5", "71.0")
    vitals_change = next(
        e for e in entries if e.model == "vital signs and weight" and e.action == "changed"
    )
    assert vitals_change.user == "Ana Pérez (investigator)"
    assert vitals_change.role == "Investigator"
    assert vitals_change.reason == "Corrected from source"
    # The record is named by the visit, never by a raw id; bookkeeping is not a change.
    assert vitals_change.object_label.startswith("vital signs and weight — Dose 1")
    assert [c.field for c in vitals_change.changes] == ["weight_kg"]


def test_a_creation_is_compact_and_bookkeeping_and_raw_ids_are_hidden(
    client, investigator, monitor, randomized_patient
):
    _vitals(investigator, randomized_patient)
    _vitals(investigator, randomized_patient, heart_rate_bpm=90)
    client.force_login(monitor)
    body = client.get(reverse("trials:patient-history", args=[randomized_patient.pk])).content
    body = body.decode()
    for noise in ("Updated at", "updated at", "Created at", "Updated by", "Source type"):
        assert noise not in body
    assert not re.search(r"(patient|visit|source type)[: #]+\d+\b", body, re.IGNORECASE)
    created = next(
        e
        for e in selectors.patient_history(user=monitor, patient=randomized_patient)
        if e.model == "vital signs and weight" and e.action == "created"
    )
    assert all(c.new != "∅" for c in created.changes)  # empty fields are not listed
    assert "Europe/Madrid" in body  # the time zone of the times shown


def test_screen_failure_reasons_are_shown_with_their_text(client, investigator, monitor, patient):
    trial_services.screening_save(
        user=investigator,
        patient=patient,
        data=eligible_screening_data(hiv_infection=True),
        complete=True,
    )
    entries = selectors.patient_history(user=monitor, patient=patient)
    reasons = next(
        c.new for e in entries for c in e.changes if c.field == "screen_failure_reasons"
    )
    assert reasons == "EXC12 HIV infection"
    client.force_login(monitor)
    for url in (
        reverse("trials:patient-detail", args=[patient.pk]),
        reverse("trials:screening-log"),
    ):
        assert "EXC12 HIV infection" in client.get(url).content.decode()


def test_filters_by_user_date_form_and_field(
    client, investigator, principal_investigator, monitor, randomized_patient
):
    _vitals(investigator, randomized_patient)
    _vitals(principal_investigator, randomized_patient, weight_kg=Decimal("70.0"))
    _ae(investigator, randomized_patient)
    see = lambda **kw: selectors.patient_history(  # noqa: E731
        user=monitor, patient=randomized_patient, filters=history.Filters(**kw)
    )
    assert {e.user for e in see(username=principal_investigator.username)} == {
        principal_investigator.username
    }
    assert {e.model for e in see(form="crf.adverseevent")} == {"adverse event"}
    weight_only = see(form="crf.vitalsign", field="weight_kg")
    assert weight_only == []  # an unknown form key finds nothing
    weight_only = see(form="crf.vitalsigns", field="weight_kg")
    assert len(weight_only) == 2
    assert all([c.field for c in e.changes] == ["weight_kg"] for e in weight_only)
    visit = _dose1(randomized_patient)
    of_visit = see(visit=visit.pk)
    assert {e.model for e in of_visit} == {"visit", "vital signs and weight"}
    assert see(date_to=DAY1 - dt.timedelta(days=1)) == []
    assert see(date_from=DAY1, date_to=DAY1)
    # The page takes the same filters from the query string.
    client.force_login(monitor)
    url = reverse("trials:patient-history", args=[randomized_patient.pk])
    response = client.get(url, {"form": "crf.vitalsigns", "field": "weight_kg"})
    assert response.status_code == 200
    assert len(response.context["entries"]) == 2
    bad = client.get(url, {"date_from": "2026-02-31", "record": "x"})
    assert bad.status_code == 200  # a bad filter is a field error, never a 500


def test_a_fields_own_history_opens_from_the_crf_page(client, investigator, randomized_patient):
    vitals = _vitals(investigator, randomized_patient)
    client.force_login(investigator)
    visit = _dose1(randomized_patient)
    body = client.get(
        reverse("crf:crf-edit", kwargs={"visit_pk": visit.pk, "form_code": "vitals"})
    ).content.decode()
    link = (
        reverse("trials:patient-history", args=[randomized_patient.pk])
        + f"?form=crf.vitalsigns&amp;record={vitals.pk}&amp;field=weight_kg"
    )
    assert link in body


def test_the_trial_wide_audit_log_is_for_monitors_and_data_managers_and_bounded(
    client,
    investigator,
    monitor,
    data_manager,
    randomized_patient,
    other_site_patient,
    django_assert_max_num_queries,
):
    _vitals(investigator, randomized_patient)
    url = reverse("trials:audit-log")
    client.force_login(investigator)
    assert client.get(url).status_code == 403
    client.force_login(monitor)
    with django_assert_max_num_queries(60) as few:
        client.get(url)
    for weight in range(40, 100):
        _vitals(investigator, randomized_patient, weight_kg=Decimal(weight))
    with django_assert_max_num_queries(len(few) + 2):
        response = client.get(url)
    page = response.context["page"]
    assert len(page.entries) == 50
    assert page.total > 50
    assert page.has_next
    second = client.get(url, {"page": "2"}).context["page"]
    last = client.get(url, {"page": "999999"}).context["page"]  # clamped, no huge offsets
    assert last.number == page.num_pages
    first_ids = {(e.source_key, e.history_id) for e in page.entries}
    assert not first_ids & {(e.source_key, e.history_id) for e in second.entries}
    # A monitor of site 01 reads only site 01; the data manager reads every site.
    assert other_site_patient.pk not in {e.patient_id for e in page.entries}
    client.force_login(data_manager)
    everything = selectors.audit_log(user=data_manager, page=1, per_page=1000).entries
    assert other_site_patient.pk in {e.patient_id for e in everything}


def test_allocation_history_is_shown_only_to_unblinded_roles(
    client, site, investigator, monitor, pharmacist, unblinded_statistician
):
    from tests.randomization.factories import active_list, eligible_patient, randomize

    active_list(site.trial)
    patient = eligible_patient(site)
    randomize(patient, investigator)
    blinded = selectors.patient_history(user=monitor, patient=patient)
    assert "allocation" not in {e.model for e in blinded}
    unblinded = selectors.patient_history(user=pharmacist, patient=patient)
    assert "allocation" in {e.model for e in unblinded}
    log = selectors.audit_log(user=monitor, per_page=500).entries
    assert "allocation" not in {e.model for e in log}
    # The filters offer only the trails the reader may read: not even the allocation's name.
    client.force_login(monitor)
    for url in (
        reverse("trials:patient-history", args=[patient.pk]),
        reverse("trials:audit-log"),
    ):
        choices = dict(client.get(url).context["filter_form"].fields["form"].choices)
        assert "randomization.allocation" not in choices
        assert "crf.vitalsigns" in choices
    answer = client.get(
        reverse("exports-api:audit-event-list"), {"form": "randomization.allocation"}
    )
    assert answer.status_code == 400
    assert "form" in answer.json()
    client.force_login(pharmacist)
    choices = dict(
        client.get(reverse("trials:patient-history", args=[patient.pk]))
        .context["filter_form"]
        .fields["form"]
        .choices
    )
    assert "randomization.allocation" in choices


# --- immutability ------------------------------------------------------------------------------


def test_history_rows_cannot_be_changed_or_deleted_through_the_orm(investigator, patient):
    trial_services.screening_save(
        user=investigator, patient=patient, data=eligible_screening_data(), complete=False
    )
    row = patient.history.first()
    row.history_change_reason = "rewritten"
    with pytest.raises(PermissionDenied, match="cannot be changed or deleted"), atomic():
        row.save()
    with pytest.raises(PermissionDenied), atomic():
        row.delete()
    with pytest.raises(PermissionDenied), atomic():
        Patient.history.filter(id=patient.pk).delete()
    assert Patient.history.filter(id=patient.pk, history_change_reason="rewritten").count() == 0


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the database trigger is PostgreSQL only"
)
@pytest.mark.django_db(transaction=True)
def test_history_rows_cannot_be_changed_even_by_a_bulk_update_on_postgresql(site):
    from django.db import DatabaseError, transaction

    patient = PatientFactory(site=site)
    with pytest.raises(DatabaseError, match="cannot be changed"), transaction.atomic():
        Patient.history.filter(id=patient.pk).update(history_change_reason="x")
    table = connection.ops.quote_name(Patient.history.model._meta.db_table)
    with (
        pytest.raises(DatabaseError, match="cannot be changed"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - a model's own table name


def test_no_historical_model_is_editable_in_the_admin():
    registered = {m._meta.label for m in admin.site._registry}
    assert not [label for label in registered if ".Historical" in label]


def test_history_pages_and_api_do_not_write_history(
    client, investigator, monitor, data_manager, randomized_patient
):
    _vitals(investigator, randomized_patient)
    before = VitalSigns.history.count(), AdverseEvent.history.count()
    for user in (monitor, data_manager):
        client.force_login(user)
        for url in (
            reverse("trials:patient-history", args=[randomized_patient.pk]),
            reverse("trials:audit-log"),
        ):
            for method in (client.post, client.put, client.delete):
                assert method(url).status_code in (200, 403, 405)
    assert (VitalSigns.history.count(), AdverseEvent.history.count()) == before


def test_datetimes_show_the_trial_time_zone_and_records_their_identifiers(investigator):
    from crf.models import Administration
    from randomization.models import EmergencyUnblinding

    start = Administration._meta.get_field("start_time")
    lookups = history.Lookups()
    value = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
    assert history.display(start, value, lookups) == "2026-03-02 10:30 CET"
    by = EmergencyUnblinding._meta.get_field("unblinded_by")
    investigator.first_name, investigator.last_name = "Ana", "Pérez"
    investigator.save()
    lookups.want(by.related_model, investigator.pk)
    lookups.resolve()
    assert history.display(by, investigator.pk, lookups) == "Ana Pérez (investigator)"
    assert history.display(by, None, lookups) == "∅"


def test_the_trial_log_orders_a_preparation_by_its_date_only(
    site, investigator, pharmacist, monitor
):
    from tests.randomization.factories import active_list, eligible_patient, prepare, randomize

    active_list(site.trial)
    patient = eligible_patient(site)
    randomize(patient, investigator)
    prepare(patient, pharmacist, cells=True)
    trial_services.screening_save(  # a later change the same day
        user=investigator,
        patient=PatientFactory(site=site),  # (a fixed number collided with the sequence)
        data=eligible_screening_data(),
        complete=False,
    )
    log = selectors.audit_log(user=monitor, per_page=500).entries
    prep = [e for e in log if e.model == "dose preparation"]
    assert prep
    assert all(e.user == "pharmacy" and e.when.hour == 0 for e in prep)
    # Placed after every change of that day: its position says nothing about its time.
    assert log.index(prep[0]) == max(i for i, e in enumerate(log) if e.when >= prep[0].when)


def test_audit_trails_download_as_csv_and_the_download_is_an_access_event(
    client, investigator, monitor, randomized_patient
):
    from trials.models import AccessEvent

    _vitals(investigator, randomized_patient)
    _vitals(investigator, randomized_patient, weight_kg=Decimal("71.0"))
    client.force_login(monitor)
    url = reverse("trials:patient-history", args=[randomized_patient.pk])
    response = client.get(url, {"form": "crf.vitalsigns", "field": "weight_kg", "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = response.content.decode().splitlines()
    assert rows[0].startswith("when,user,role,patient,record,action,field,old,new,reason")
    assert any(",changed,Weight (kg),72.5,71.0,Corrected from source" in r for r in rows)
    log = client.get(reverse("trials:audit-log"), {"format": "csv"}).content.decode()
    assert f",{randomized_patient.subject_id}," in log  # the patient by identifier
    events = AccessEvent.objects.filter(action=AccessEvent.Action.AUDIT_TRAIL_EXPORTED)
    assert events.count() == 2
    assert events.filter(actor=monitor, detail__contains="field=weight_kg").exists()


def test_history_managers_are_built_once_per_model(patient):
    """``instance.history`` builds its manager class once per model (#16), and still reads
    that instance's own history rows."""
    from trials.history import _HistoryManagerOnce
    from trials.models import Patient

    assert isinstance(vars(Patient)["history"], _HistoryManagerOnce)
    assert type(patient.history) is type(Patient.objects.get(pk=patient.pk).history)
    assert list(patient.history.values_list("id", flat=True)) == [patient.pk]
