"""Blinding-leak harness (BL-1, edc_anchors §c.2): every route, every blinded role, both arms.

The test enumerates EVERY URL pattern of the project through the resolver (new routes are
picked up automatically), builds each URL from the kwarg-name mapping below with real data of
both arms (randomized patients in arm A and arm B, preparations with lot/cell count/viability,
CRFs, an adverse event, an emergency unblinding of another patient by another PI), and GETs it
as every blinded role. No arm label, arm code in an arm context, lot, cell count, viability or
dose wording may appear. Admin index, changelists, change and history pages of every
registered model are crawled too. Unblinded users must see the arm where they should.

A route that cannot be built must be listed in ``NOT_CRAWLED`` with a reason; any other route
the test cannot build fails it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from decimal import Decimal

import pytest
from django.contrib import admin
from django.core import mail
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from randomization import services as rand_services
from randomization.models import Allocation
from tests.conftest import login_request, make_user
from tests.randomization.factories import eligible_patient, patients_by_arm, prepare
from trials.roles import Role

pytestmark = pytest.mark.django_db

LOT = "LOT-7731"
CELLS = "152340000"
VIABILITY = "93.7"

# Routes that are not GET pages of their own, each with the reason.
NOT_CRAWLED = {
    "logout": "POST-only (logs the user out; no content)",
    "admin:*": "crawled separately below from admin.site._registry (changelist/change/history)",
    "api-schema": "crawled below as text (describes shapes, never values)",
    "password_reset_confirm": "one-time token link: a set-password form, no trial data",
}

# Phrases that name the trial (its registered title) rather than an allocation.
TRIAL_NAME_PHRASES = [
    "Allogenic Bone Marrow Mesenchymal Stem Cell Therapy",
]

LEAKS = [
    (re.compile(r"\bMSC\b"), "arm label MSC"),
    (re.compile(r"\bplacebo\b", re.IGNORECASE), "arm label placebo"),
    (re.compile(r"\bmesenchymal\b", re.IGNORECASE), "arm wording"),
    (re.compile(r"\barm(?:_code|_label)?\"?\s*[:=]\s*\"?[AB]\b"), "arm code in arm context"),
    (re.compile(r"\barm [AB]\b|\(arm [AB]\)"), "arm code in arm context"),
    (re.compile(r"\"arm(?:_label)?\"\s*:"), "arm key"),
    (re.compile(r"10⁶ cells|cells/kg"), "dose wording of the cell arm"),
    (re.compile(re.escape(LOT)), "lot number"),
    (re.compile(r"152[ ,.\u202f]?340[ ,.\u202f]?000"), "cell count"),
    (re.compile(re.escape(VIABILITY)), "viability"),
]


def leaks(body: str) -> list[str]:
    for phrase in TRIAL_NAME_PHRASES:
        body = body.replace(phrase, "")
    return [f"{why}: {m.group(0)!r}" for rx, why in LEAKS for m in [rx.search(body)] if m]


def _body(response) -> str:
    """The text of a response, streamed (exports) or not."""
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    return raw.decode(errors="replace")


def _walk(resolver: URLResolver, namespace: str = "", kwargs: tuple = ()):
    for entry in resolver.url_patterns:
        names = tuple(entry.pattern.converters) if hasattr(entry.pattern, "converters") else ()
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            full = f"{namespace}:{ns}" if namespace and ns else (ns or namespace)
            yield from _walk(entry, full, kwargs + names)
        elif isinstance(entry, URLPattern):
            if entry.name is None:  # unnamed: keep the namespace so exemptions still apply
                name = f"{namespace}:<unnamed {entry.pattern}>" if namespace else None
            else:
                name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield name, entry, kwargs + names


def all_routes() -> list[tuple[str | None, URLPattern, tuple]]:
    return list(_walk(get_resolver()))


def _exempt(name: str | None) -> bool:
    if name is None:
        return False
    return name in NOT_CRAWLED or (name.split(":")[0] + ":*") in NOT_CRAWLED


@pytest.fixture
def world(groups, site, investigator, principal_investigator, pharmacist, settings):
    """Both arms randomized with preparations, CRFs, an AE and another PI's unblinding."""
    settings.SPONSOR_EMAILS = ["sponsor@example.org"]
    by_arm = patients_by_arm(site, investigator)
    _crf_data(by_arm, investigator)  # the weight of the dosing day comes first
    prepare(by_arm["A"], pharmacist, cells=True, lot=LOT)
    prepare(by_arm["B"], pharmacist, cells=False, lot=LOT)
    # A third patient unblinded by ANOTHER PI: the blinded PI must still see no arm anywhere.
    other_pi = make_user(groups, Role.PRINCIPAL_INVESTIGATOR, site, username="pi_other")
    unblinded = eligible_patient(site)
    rand_services.patient_randomize(user=investigator, patient=unblinded, confirm_eligibility=True)
    rand_services.emergency_unblinding_create(
        request=login_request(),
        user=other_pi,
        patient=unblinded,
        password="Correct-Horse-9",
        reason="SAE work-up",
    )
    eligible_patient(site)  # an unrandomized, eligible patient (randomize page)
    return {"by_arm": by_arm, "unblinded": unblinded}


def _crf_data(by_arm, user) -> None:
    """Vitals (weight), labs and an adverse event through the crf service, both arms."""
    from crf.models import Visit
    from crf.services import crf_save

    today = timezone.localdate()
    for patient in by_arm.values():
        visit = Visit.objects.filter(patient=patient).order_by("target_date").first()
        crf_save(
            user=user,
            form_code="vitals",
            visit=visit,
            data={
                "assessment_date": today,
                "weight_kg": Decimal("75.0"),
                "heart_rate_bpm": 80,
                "systolic_bp_mmhg": 120,
                "diastolic_bp_mmhg": 70,
            },
            complete=True,
            confirm_out_of_range=True,
        )
        crf_save(
            user=user,
            form_code="labs",
            visit=visit,
            data={"assessment_date": today, "inr": Decimal("1.6")},
            complete=False,
            confirm_out_of_range=True,
        )
        crf_save(
            user=user,
            form_code="adverse_event",
            patient=patient,
            data={"term": "Fever", "onset_date": today - dt.timedelta(days=0)},
            complete=False,
            confirm_out_of_range=True,
        )


def _kwarg_values(world) -> dict[str, list]:
    from crf.models import AdverseEvent, Visit, VisitDefinition
    from crf.registry import FORMS
    from exports.dictionary import datasets
    from exports.models import ExportJob

    patients = list(world["by_arm"].values())
    visits = list(Visit.objects.filter(patient__in=patients).order_by("pk"))
    queries, locks = _monitoring_data(patients)
    return {
        "query_pk": queries,
        "lock_pk": locks,
        "pk": [p.pk for p in patients],
        "patient_pk": [p.pk for p in patients],
        "visit_pk": [v.pk for v in visits],
        "form_code": list(FORMS),
        "ae_pk": list(
            AdverseEvent.objects.filter(patient__in=patients).values_list("pk", flat=True)
        ),
        "definition_pk": list(VisitDefinition.objects.values_list("pk", flat=True)[:2]),
        # exports (issue 15): every dataset; jobs are their requester's only (else a 404).
        "dataset": list(datasets()),
        "job_pk": list(ExportJob.objects.values_list("pk", flat=True)[:2]) or [987654],
    }


def _monitoring_data(patients) -> tuple[list[int], list[int]]:
    """A query and a released lock per patient (monitoring routes; nothing stays locked)."""
    from crf.models import VitalSigns
    from monitoring import services as monitoring
    from monitoring.models import DataQuery, Lock
    from tests.conftest import make_user
    from trials.services import roles_sync

    if not DataQuery.objects.filter(patient__in=patients).exists():
        groups = roles_sync()
        site = patients[0].site
        raiser = make_user(groups, Role.MONITOR, site, username="crawl_monitor")
        manager = make_user(groups, Role.DATA_MANAGER, username="crawl_dm")
        for patient in patients:
            vitals = VitalSigns.objects.filter(patient=patient).first()
            monitoring.query_raise(
                user=raiser,
                patient=patient,
                form_code="vitals",
                record_id=vitals.pk,
                field="weight_kg",
                text="Please check the weight against the source.",
            )
            monitoring.sdv_mark(
                user=raiser, patient=patient, form_code="vitals", record_id=vitals.pk
            )
            lock = monitoring.lock_set(user=manager, patient=patient, level="patient")
            monitoring.lock_release(user=manager, lock=lock, reason="Crawl set-up")
    return (
        list(DataQuery.objects.filter(patient__in=patients).values_list("pk", flat=True)),
        list(Lock.objects.filter(patient__in=patients).values_list("pk", flat=True)),
    )


def _urls(world):
    """(route name, url) for every crawlable route; fails on unbuildable, unlisted routes."""
    values = _kwarg_values(world)
    urls, unbuildable = [], []
    for name, _pattern, kwargs in all_routes():
        if _exempt(name):
            continue
        if name is None or "<unnamed" in name:
            unbuildable.append(name or str(_pattern.pattern))
            continue
        kwargs = tuple(dict.fromkeys(kwargs))
        missing = [k for k in kwargs if not values.get(k)]
        if missing:
            unbuildable.append(f"{name} (no value for {', '.join(missing)})")
            continue
        for combo in itertools.product(*(values[k] for k in kwargs)):
            urls.append((name, reverse(name, kwargs=dict(zip(kwargs, combo, strict=True)))))
    assert not unbuildable, (
        f"routes the crawl cannot build (list them in NOT_CRAWLED): {unbuildable}"
    )
    return urls


def _admin_urls(world) -> list[str]:
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        meta = model._meta
        base = f"admin:{meta.app_label}_{meta.model_name}"
        urls.append(reverse(f"{base}_changelist"))
        obj = model._default_manager.order_by("pk").first()
        if obj is not None:
            urls.append(reverse(f"{base}_change", args=[obj.pk]))
            urls.append(reverse(f"{base}_history", args=[obj.pk]))
    allocation = Allocation.objects.order_by("pk").first()
    urls.append(reverse("admin:randomization_allocation_history", args=[allocation.pk]))
    return urls


def test_every_route_is_known_to_the_crawler():
    """The enumeration itself: named, exempt-or-buildable; unnamed routes fail loudly."""
    names = {name for name, _p, _k in all_routes()}
    assert "trials:patient-detail" in names
    assert "randomization:pharmacy-list" in names
    assert "randomization-api:allocation-detail" in names
    assert "crf:crf-edit" in names


def test_no_blinded_role_sees_an_arm_on_any_route(client, world, blinded_users):
    urls = _urls(world)
    assert len(urls) > 40
    problems = []
    statuses = {}
    for role, user in blinded_users.items():
        if role == "trial_admin":
            user.is_staff = True
            user.save()
        client.force_login(user)
        for name, url in urls:
            response = client.get(url)
            statuses[(role, name)] = response.status_code
            assert response.status_code < 500, (role, url)
            body = _body(response)
            found = leaks(body)
            if found:
                problems.append(f"{role} {url}: {found}")
        for url in [*_admin_urls(world), reverse("api-schema")]:
            response = client.get(url)
            body = _body(response)
            if leaks(body):
                problems.append(f"{role} {url}: {leaks(body)}")
    assert not problems, "\n".join(problems)
    # The crawl really rendered the pages that matter (not only 404s).
    assert statuses[("investigator", "trials:patient-detail")] == 200
    assert statuses[("monitor", "trials:patient-history")] == 200
    assert statuses[("investigator", "randomization-api:allocation-detail")] == 200
    assert statuses[("monitor", "crf:patient-timeline")] == 200
    assert statuses[("monitor", "monitoring:patient-monitoring")] == 200
    assert statuses[("monitor", "monitoring:query-detail")] == 200
    assert statuses[("data_manager", "trials:audit-log")] == 200


def test_history_and_patient_pages_of_both_arms_differ_only_by_identifiers(client, world, monitor):
    """Placebo and cell preparations look identical to a blinded reader."""
    client.force_login(monitor)
    bodies = []
    for patient in world["by_arm"].values():
        body = client.get(reverse("trials:patient-history", args=[patient.pk])).content.decode()
        for token in (patient.subject_id, patient.screening_number):
            body = body.replace(token, "<id>")
        bodies.append(re.sub(r"\d", "9", body))
    a_lines = {line.strip() for line in bodies[0].splitlines() if "preparation" in line}
    b_lines = {line.strip() for line in bodies[1].splitlines() if "preparation" in line}
    assert a_lines == b_lines
    assert a_lines  # the preparation rows are there
    # Every field row of the audit trail (label and value shape) is the same for both arms,
    # so a field added to the preparation later cannot leak (e.g. a prescribed count of 0).
    a_rows = {line.strip() for line in bodies[0].splitlines() if "<strong>" in line}
    b_rows = {line.strip() for line in bodies[1].splitlines() if "<strong>" in line}
    assert a_rows ^ b_rows <= _demographic_rows(a_rows | b_rows)


def _demographic_rows(rows: set[str]) -> set[str]:
    """Audit rows that differ between any two patients (factory-made demographics)."""
    labels = ("Initials", "Sex", "Date of birth", "Birth date", "Screening number")
    return {row for row in rows if any(f"<strong>{label}" in row for label in labels)}


def test_pharmacist_sees_the_arm_where_it_should(client, world, pharmacist):
    client.force_login(pharmacist)
    body = client.get(reverse("randomization:pharmacy-list")).content.decode()
    assert "MSC" in body
    assert "Placebo" in body
    assert "150 × 10⁶ cells (75.0 kg)" in body
    assert LOT in body
    # Issue 17: the pharmacist's dashboard lists the doses to prepare with arm and dose.
    dashboard = client.get(reverse("trials:dashboard")).content.decode()
    assert "MSC" in dashboard
    assert "Placebo" in dashboard
    a = world["by_arm"]["A"]
    api = client.get(reverse("randomization-api:allocation-detail", args=[a.pk])).json()
    assert api["arm"] == "A"


def test_emails_after_randomization_and_unblinding_name_no_arm(
    world,
    site,
    investigator,
    principal_investigator,
    pharmacist,
    django_capture_on_commit_callbacks,
):
    mail.outbox.clear()
    patient = eligible_patient(site)
    with django_capture_on_commit_callbacks(execute=True):
        rand_services.patient_randomize(
            user=investigator, patient=patient, confirm_eligibility=True
        )
    with django_capture_on_commit_callbacks(execute=True):
        rand_services.emergency_unblinding_create(
            request=login_request(),
            user=principal_investigator,
            patient=world["by_arm"]["A"],
            password="Correct-Horse-9",
            reason="Anaphylaxis",
        )
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        assert leaks(message.subject + "\n" + message.body) == []
        assert "cells" not in message.body


PATIENT_SCOPED_KWARGS = {"pk", "patient_pk", "visit_pk", "ae_pk", "query_pk", "lock_pk"}


@pytest.mark.parametrize("outsider", ["other_site_investigator", "no_role_user"])
def test_every_patient_route_is_a_404_for_staff_of_another_site(client, world, request, outsider):
    """Site scoping on every route that names a patient, a visit or an AE: 404, never the data
    (and never a 403 that would confirm the record exists)."""
    client.force_login(request.getfixturevalue(outsider))
    identifiers = {p.subject_id for p in world["by_arm"].values()} | {
        p.screening_number for p in world["by_arm"].values()
    }
    checked = 0
    for name, _pattern, kwargs in all_routes():
        if _exempt(name) or not PATIENT_SCOPED_KWARGS & set(kwargs):
            continue
        for _name, url in [u for u in _urls(world) if u[0] == name][:3]:
            response = client.get(url)
            # 405: POST-only API routes refuse the method before looking anything up. A 403
            # must not depend on the record: a made-up id gets the same answer.
            if response.status_code == 403:
                made_up = reverse(name, kwargs=dict.fromkeys(dict.fromkeys(kwargs), 987654))
                assert client.get(made_up).status_code == 403, (outsider, url)
            else:
                assert response.status_code in (404, 405), (outsider, url, response.status_code)
            body = _body(response)
            assert not any(i in body for i in identifiers), (outsider, url)
            checked += 1
    assert checked > 20


GARBAGE = {
    "complete": "1",
    "reason_for_change": "x" * 5000,
    "confirm_out_of_range": "on",
    "assessment_date": "2026-02-31",
    "screening_date": "not a date",
    "onset_date": "9999-99-99",
    "weight_kg": "seventy",
    "inr": "-1e309",
    "fio2": "NaN",
    "he_grade": "7",
    "sex": "X",
    "site": "999999",
    "dose_number": "0",
    "cell_count": "1e400",
    "password": "",
    "reason": "",
    "seed": "",
    "term": "",
    "file": "",
}


@pytest.mark.parametrize(
    "role",
    [
        "investigator",
        "principal_investigator",
        "pharmacist",
        "unblinded_statistician",
        "trial_admin",
    ],
)
def test_garbage_posted_to_every_route_never_gives_a_500(client, world, request, role):
    """Nothing is lost, nothing is silent: bad input is a 4xx or a page with field errors."""
    user = request.getfixturevalue(role)
    client.force_login(user)
    for _name, url in _urls(world):
        form = client.post(url, GARBAGE)
        assert form.status_code < 500, (role, url, "form")
        api = client.post(url, GARBAGE, content_type="application/json")
        assert api.status_code < 500, (role, url, "json")
        if url.startswith("/api/"):
            put = client.put(url, GARBAGE, content_type="application/json")
            assert put.status_code < 500, (role, url, "put")


COURSE_WORDS = ("preparation", "course", "Conflicting", "Died", "died", "dose", "Dose")


def _course_lines(body: str, patient) -> set[str]:
    for token in (patient.subject_id, patient.screening_number):
        body = body.replace(token, "<id>")
    body = re.sub(r"\d", "9", body)
    return {line.strip() for line in body.splitlines() if any(w in line for w in COURSE_WORDS)}


def test_course_warnings_lists_and_digests_look_the_same_for_both_arms(
    client, site, investigator, pharmacist, blinded_users, settings
):
    """Issue 10: the new warnings (dose given with no preparation, conflicting death records),
    the patient course, the due-visit lists and the digest e-mail say the same for both arms."""
    import time_machine

    from crf.models import Visit
    from crf.services import crf_save, visits_status_refresh

    by_arm = patients_by_arm(site, investigator)
    investigator.email = "inv@example.org"
    investigator.save()
    mail.outbox.clear()
    visits_status_refresh(today=timezone.localdate())  # dose 1 due: the digest names both
    digest = "\n".join(m.subject + "\n" + m.body for m in mail.outbox)
    assert leaks(digest) == []
    assert all(p.subject_id in digest for p in by_arm.values())
    digest_lines = [
        {
            re.sub(r"\d", "9", line.replace(p.subject_id, "<id>"))
            for line in digest.splitlines()
            if p.subject_id in line
        }
        for p in by_arm.values()
    ]
    assert digest_lines[0] == digest_lines[1]
    day1 = timezone.localdate()
    with time_machine.travel(timezone.now() + dt.timedelta(days=2), tick=False):
        for patient in by_arm.values():
            dose1 = Visit.objects.get(patient=patient, definition__dose_number=1)
            start = timezone.make_aware(dt.datetime.combine(day1, dt.time(10)))
            crf_save(
                user=investigator,
                form_code="administration",
                visit=dose1,
                data={
                    "given": True,
                    "start_time": start,
                    "infusion_reaction": False,
                    "volume_infused_ml": "50.0",
                    "full_dose_given": True,
                    "end_time": start + dt.timedelta(minutes=30),
                },
                complete=True,
            )
            crf_save(
                user=investigator,
                form_code="adverse_event",
                patient=patient,
                data={
                    "term": "Septic shock",
                    "onset_date": day1,
                    "end_date": day1 + dt.timedelta(days=1),
                    "severity_grade": 5,
                    "serious": True,
                    "sae_death": True,
                    "relatedness": "not_related",
                    "expectedness": "unexpected",
                    "action_taken": "not_applicable",
                    "serious_date": day1,
                    "outcome": "fatal",
                    "reported_to_sponsor_within_24h": True,
                },
                complete=True,
            )
            crf_save(
                user=investigator,
                form_code="end_of_study",
                patient=patient,
                data={
                    "reason": "died",
                    "end_date": day1 + dt.timedelta(days=2),
                    "death_cause": "Septic shock",
                },
                complete=True,
            )
        for role, user in blinded_users.items():
            client.force_login(user)
            pages = []
            for patient in by_arm.values():
                detail = client.get(reverse("trials:patient-detail", args=[patient.pk]))
                timeline = client.get(reverse("crf:patient-timeline", args=[patient.pk]))
                body = detail.content.decode() + timeline.content.decode()
                assert leaks(body) == [], role
                pages.append(_course_lines(body, patient))
            if role in ("investigator", "principal_investigator", "monitor"):
                text = " ".join(pages[0])
                assert "no preparation of dose 9 is on record" in text, role
                assert "Conflicting died dates" in text, role
            assert pages[0] == pages[1], role
            worklist = client.get(reverse("crf:visit-worklist")).content.decode()
            assert not any(p.subject_id in worklist for p in by_arm.values()), role
        mail.outbox.clear()
        visits_status_refresh(today=day1 + dt.timedelta(days=2))
        assert not any(p.subject_id in m.body for m in mail.outbox for p in by_arm.values())
