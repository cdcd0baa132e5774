"""Pages: randomize, pharmacy, preparation, emergency unblinding, statistician's list."""

from __future__ import annotations

import hashlib

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from randomization import listgen, selectors
from randomization.models import (
    Allocation,
    ArmAccessLog,
    DosePreparation,
    EmergencyUnblinding,
    RandomizationList,
)
from tests.conftest import login_request
from tests.randomization.factories import (
    arm_words,
    eligible_patient,
    prepare,
    randomize,
    weigh,
)

pytestmark = pytest.mark.django_db


def _get(client, user, url):
    client.force_login(user)
    return client.get(url)


def test_randomize_page_shows_the_eligibility_summary_and_randomizes_on_confirm(
    client, investigator, eligible, django_capture_on_commit_callbacks
):
    url = reverse("randomization:patient-randomize", args=[eligible.pk])
    response = _get(client, investigator, url)
    assert response.status_code == 200
    assert "Stratum (computed ACLF grade)" in response.content.decode()
    response = client.post(url, {})
    assert "This field is required" in response.content.decode()
    assert not Allocation.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"confirm_eligibility": "on"}, follow=True)
    body = response.content.decode()
    assert "Randomized: number LA-01-001" in body
    assert arm_words(body) == []
    assert Allocation.objects.filter(patient=eligible).exists()


def test_randomize_page_explains_why_an_ineligible_patient_cannot_be(
    client, investigator, site, rand_list
):
    patient = eligible_patient(site)
    patient.screening.eligible = False
    patient.screening.save()
    url = reverse("randomization:patient-randomize", args=[patient.pk])
    response = _get(client, investigator, url)
    assert "does not show the patient as eligible" in response.content.decode()
    response = client.post(url, {"confirm_eligibility": "on"})
    assert response.status_code == 200
    assert "does not show the patient as eligible" in response.content.decode()
    assert not Allocation.objects.exists()


@pytest.mark.parametrize("who", ["monitor", "pharmacist", "data_manager"])
def test_randomize_page_is_forbidden_to_non_investigators(client, request, who, eligible):
    url = reverse("randomization:patient-randomize", args=[eligible.pk])
    assert _get(client, request.getfixturevalue(who), url).status_code == 403


def test_randomize_page_is_404_for_another_sites_investigator(
    client, other_site_investigator, eligible
):
    url = reverse("randomization:patient-randomize", args=[eligible.pk])
    assert _get(client, other_site_investigator, url).status_code == 404


def test_patient_page_panel_shows_number_and_blinded_preparations(
    client, investigator, by_arm, pharmacist
):
    prepare(by_arm["A"], pharmacist, cells=True)
    bodies = []
    for patient in by_arm.values():
        response = _get(client, investigator, reverse("trials:patient-detail", args=[patient.pk]))
        body = response.content.decode()
        assert patient.subject_id in body
        assert arm_words(body) == []
        bodies.append(body)
    assert "Dose 1 prepared on" in bodies[0]
    assert "LOT-7731" not in bodies[0]


def test_pharmacy_page_shows_arms_dose_and_logs_the_access(client, pharmacist, by_arm):
    prepare(by_arm["A"], pharmacist, cells=True)
    response = _get(client, pharmacist, reverse("randomization:pharmacy-list"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "MSC" in body
    assert "Placebo" in body
    assert "placebo solution, same volume" in body
    assert "LOT-7731" in body
    assert ArmAccessLog.objects.filter(user=pharmacist, purpose="pharmacy list").count() == 2


@pytest.mark.parametrize(
    "who",
    [
        "investigator",
        "principal_investigator",
        "monitor",
        "data_manager",
        "trial_admin",
        "unblinded_statistician",
    ],
)
def test_pharmacy_page_is_404_for_everyone_else(client, request, who, by_arm):
    response = _get(client, request.getfixturevalue(who), reverse("randomization:pharmacy-list"))
    assert response.status_code == 404


def test_pharmacy_page_query_count_does_not_grow_with_patients(
    client, pharmacist, site, investigator, by_arm
):
    """Schedules, weights, preparations and arms are read in batches: same cost for 2 or 8."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(pharmacist)
    url = reverse("randomization:pharmacy-list")
    with CaptureQueriesContext(connection) as two:
        client.get(url)
    n_two = len(two)  # read now: the next request resets the query log
    for _ in range(6):
        randomize(eligible_patient(site), investigator)
    with CaptureQueriesContext(connection) as eight:
        response = client.get(url)
    assert len(response.context["rows"]) == 8
    assert len(eight) == n_two


def test_pharmacy_page_is_keyset_paged_in_randomization_number_order(
    client, pharmacist, site, investigator, by_arm, monkeypatch, django_assert_max_num_queries
):
    """#16: every patient on treatment on exactly one page; a late page costs the first's."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from randomization import views
    from tests.paging import walk

    monkeypatch.setattr(views, "PHARMACY_PAGE_SIZE", 3)
    for _ in range(5):
        randomize(eligible_patient(site), investigator)
    client.force_login(pharmacist)
    url = reverse("randomization:pharmacy-list")
    with CaptureQueriesContext(connection) as first:
        client.get(url)
    ceiling = len(first)
    walked = walk(client, url)
    expected = list(
        selectors.pharmacy_patient_list(user=pharmacist)
        .order_by("subject_id", "pk")
        .values_list("pk", flat=True)
    )
    assert walked["forward"] == expected
    assert [len(p) for p in walked["pages"]] == [3, 3, 1]
    assert walked["backward"] == walked["pages"][::-1]
    with django_assert_max_num_queries(ceiling):
        client.get(walked["urls"][-1])


def test_pharmacist_records_a_preparation_and_errors_stay_next_to_fields(
    client, pharmacist, by_arm
):
    weigh(by_arm["A"])
    url = reverse("randomization:preparation-create", args=[by_arm["A"].pk])
    client.force_login(pharmacist)
    data = {
        "dose_number": "1",
        "prepared_at": "2020-01-01T10:00",
        "product_lot": "LOT-1",
        "volume_ml": "50",
        "checked_by": "Nurse Two",
    }
    response = client.post(url, data)
    body = response.content.decode()
    assert "Enter the total cell count" in body
    assert "before randomization" in body
    assert 'value="LOT-1"' in body  # what was typed is kept
    assert not DosePreparation.objects.exists()
    from django.utils import timezone

    data.update(
        prepared_at=timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        cell_count="150000000",
        viability_pct="92.5",
    )
    response = client.post(url, data)
    assert response.status_code == 302
    assert DosePreparation.objects.get().cell_count == 150_000_000


@pytest.mark.parametrize("who", ["investigator", "monitor", "unblinded_statistician"])
def test_preparation_page_is_404_for_non_pharmacists(client, request, who, by_arm):
    url = reverse("randomization:preparation-create", args=[by_arm["A"].pk])
    assert _get(client, request.getfixturevalue(who), url).status_code == 404


def test_emergency_unblinding_flow_for_the_pi(
    client, principal_investigator, by_arm, django_capture_on_commit_callbacks
):
    patient = by_arm["A"]
    url = reverse("randomization:unblinding-create", args=[patient.pk])
    arm_url = reverse("randomization:allocation-unblinded", args=[patient.pk])
    assert _get(client, principal_investigator, arm_url).status_code == 404
    body = client.get(url).content.decode()
    assert arm_words(body) == []
    response = client.post(url, {"reason": "anaphylaxis", "password": "wrong"})
    assert "The password is not correct." in response.content.decode()
    assert "anaphylaxis" in response.content.decode()
    assert not EmergencyUnblinding.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"reason": "anaphylaxis", "password": "Correct-Horse-9"})
    assert response.status_code == 302
    assert response["Location"] == arm_url
    body = client.get(arm_url).content.decode()
    assert "MSC" in body
    assert all(arm_words(m.body) == [] for m in mail.outbox)
    # the patient page now shows the arm to this PI
    detail = client.get(reverse("trials:patient-detail", args=[patient.pk])).content.decode()
    assert "MSC" in detail


def test_wrong_unblinding_passwords_count_toward_the_account_lockout(
    client, principal_investigator, by_arm, settings
):
    """Re-authentication goes through the login backends: guessing locks the account."""
    url = reverse("randomization:unblinding-create", args=[by_arm["A"].pk])
    client.force_login(principal_investigator)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(url, {"reason": "SAE", "password": "guess"})
    response = client.post(url, {"reason": "SAE", "password": "Correct-Horse-9"})
    assert response.status_code == 429  # the account is locked: even the right one fails
    assert not EmergencyUnblinding.objects.exists()
    client.logout()
    login = client.post(
        reverse("login"),
        {"username": principal_investigator.username, "password": "Correct-Horse-9"},
    )
    assert login.status_code == 429  # locked out


@pytest.mark.parametrize("who", ["investigator", "monitor", "pharmacist", "trial_admin"])
def test_unblinding_page_is_404_except_for_the_pi(client, request, who, by_arm):
    url = reverse("randomization:unblinding-create", args=[by_arm["A"].pk])
    assert _get(client, request.getfixturevalue(who), url).status_code == 404


def test_monitor_sees_the_unblinding_in_the_audit_trail_without_the_arm(
    client, principal_investigator, monitor, by_arm
):
    from randomization import services

    services.emergency_unblinding_create(
        request=login_request(),
        user=principal_investigator,
        patient=by_arm["B"],
        password="Correct-Horse-9",
        reason="Suspected SUSAR",
    )
    body = _get(
        client, monitor, reverse("trials:patient-history", args=[by_arm["B"].pk])
    ).content.decode()
    assert "Suspected SUSAR" in body
    assert "emergency unblinding" in body
    assert arm_words(body) == []
    register = client.get(reverse("randomization:unblinding-list")).content.decode()
    assert "Suspected SUSAR" in register
    assert arm_words(register) == []


def test_statistician_page_shows_list_and_balance(client, unblinded_statistician, by_arm):
    response = _get(client, unblinded_statistician, reverse("randomization:list-detail"))
    body = response.content.decode()
    assert "Balance per stratum" in body
    assert "MSC listed / allocated" in body
    assert "Locked: patients have been randomized" in body
    csv_response = client.get(reverse("randomization:list-detail") + "?format=csv")
    assert csv_response.content.decode().startswith("stratum,sequence,block,arm\n")
    active = RandomizationList.objects.get(status="active")
    assert hashlib.sha256(csv_response.content).hexdigest() == active.sha256


@pytest.mark.parametrize(
    "who",
    [
        "investigator",
        "principal_investigator",
        "monitor",
        "data_manager",
        "trial_admin",
        "pharmacist",
    ],
)
@pytest.mark.parametrize("name", ["list-detail", "list-generate", "list-upload", "list-supersede"])
def test_statistician_pages_are_404_for_everyone_else(client, request, who, name, rand_list):
    assert (
        _get(client, request.getfixturevalue(who), reverse(f"randomization:{name}")).status_code
        == 404
    )


def test_statistician_uploads_and_bad_file_errors_are_shown(client, unblinded_statistician, site):
    client.force_login(unblinded_statistician)
    bad = SimpleUploadedFile("l.csv", b"stratum,sequence,block,arm\n1,1,1,A\n1,2,1,A\n")
    response = client.post(reverse("randomization:list-upload"), {"file": bad})
    body = response.content.decode()
    assert "lines 2, 3: stratum 1 block 1 is not balanced 1:1." in body
    assert not RandomizationList.objects.exists()
    rows = listgen.generate(seed="u", strata=["1", "2", "3"], length=8)
    good = SimpleUploadedFile("l.csv", listgen.canonical_csv(rows).encode())
    response = client.post(reverse("randomization:list-upload"), {"file": good})
    assert response.status_code == 302
    assert RandomizationList.objects.get().sha256 == listgen.sha256(rows)


def test_statistician_generates_then_supersedes_an_unused_list(
    client, unblinded_statistician, site
):
    client.force_login(unblinded_statistician)
    response = client.post(
        reverse("randomization:list-generate"), {"seed": "g1", "block_sizes": "2,4"}
    )
    assert response.status_code == 302
    response = client.post(reverse("randomization:list-supersede"), {"reason": ""})
    assert "This field is required" in response.content.decode()
    response = client.post(reverse("randomization:list-supersede"), {"reason": "typo in seed"})
    assert response.status_code == 302
    assert RandomizationList.objects.get().status == "superseded"


def test_nav_links_by_role(client, pharmacist, unblinded_statistician, investigator):
    body = _get(client, pharmacist, "/").content.decode()
    assert reverse("randomization:pharmacy-list") in body
    assert reverse("randomization:list-detail") not in body
    body = _get(client, unblinded_statistician, "/").content.decode()
    assert reverse("randomization:list-detail") in body
    body = _get(client, investigator, "/").content.decode()
    assert reverse("randomization:pharmacy-list") not in body


def test_unblinding_register_query_count_does_not_grow_with_rows(
    client, site, investigator, principal_investigator, monitor, django_assert_max_num_queries
):
    from randomization import services

    for _ in range(5):
        patient = eligible_patient(site)
        randomize(patient, investigator)
        services.emergency_unblinding_create(
            request=login_request(),
            user=principal_investigator,
            patient=patient,
            password="Correct-Horse-9",
            reason="SAE",
        )
    client.force_login(monitor)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("randomization:unblinding-list"))
    assert response.content.decode().count("<td>SAE</td>") == 5


def test_pharmacist_dashboard_lists_a_bounded_number_of_due_doses(
    client, pharmacist, site, investigator, by_arm, monkeypatch
):
    """#16: the pharmacist's dashboard read every randomized patient of the site."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    monkeypatch.setattr(selectors, "DUE_LIST_LIMIT", 2)
    client.force_login(pharmacist)
    url = reverse("trials:dashboard")
    with CaptureQueriesContext(connection) as two:
        response = client.get(url)
    n_two = len(two)  # read now: the next request resets the query log
    for _ in range(4):
        randomize(eligible_patient(site), investigator)
    with CaptureQueriesContext(connection) as six:
        response = client.get(url)
    panel = next(p for p in response.context["panels"] if "due" in p)
    assert len(panel["due"]) == 2
    assert panel["due_more"]  # the rest: the paged pharmacy page, linked from the panel
    assert "every patient on treatment, page by page" in response.content.decode()
    assert len(six) == n_two
