"""`make bench`: figures for page/API latency and query counts as the data grows.

Runs in a throw-away test database (never the working one). Each figure is reported with
its ratio to a baseline measured in the same run (the smallest data size), so the numbers
compare across machines: a ratio near 1 means the cost does not grow with the data.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection
from django.test import Client
from django.test.utils import setup_test_environment
from django.urls import reverse
from django.utils import timezone

import scoring
from trials import services
from trials.demo import eligible_screening_data
from trials.models import Patient
from trials.roles import Role

SIZES = (50, 500, 2000)
RANDOMIZED_SIZES = (4, 12, 36)  # the demo list holds 42 slots in stratum 2
REPEAT = 15


def _timed(fn: Callable[[], object], repeat: int = REPEAT) -> tuple[float, int]:
    """Median milliseconds over ``repeat`` calls, and the query count of one call."""
    response = fn()  # warm-up
    status = getattr(response, "status_code", 200)
    if status != 200:
        raise RuntimeError(f"benchmark route answered {status}")
    queries: list[str] = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), len(queries)


class Command(BaseCommand):
    help = "Measure page/API latency and query counts at growing data sizes."

    def handle(self, *args, **options) -> None:
        setup_test_environment()
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
        try:
            self._run()
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)

    def _run(self) -> None:
        groups = services.roles_sync()
        trial, site = services.trial_configure()
        for step in services.setup_steps():
            step(trial=trial)
        from randomization.services import randomization_list_ensure_demo

        randomization_list_ensure_demo(trial=trial)  # a throw-away test database
        user = get_user_model().objects.create_user("bench")  # force_login: no password
        user.groups.add(groups[Role.INVESTIGATOR])  # randomizes in the second part
        services.site_membership_grant(user=user, site=site)
        client = Client()
        client.force_login(user)

        routes = {
            "patient list page": lambda: client.get(reverse("trials:patient-list")),
            "dashboard": lambda: client.get(reverse("trials:dashboard")),
            "patient list API": lambda: client.get(reverse("trials-api:patient-list")),
        }
        baseline: dict[str, float] = {}
        self.stdout.write(
            f"{'figure':28} {'patients':>9} {'median ms':>10} {'queries':>8} {'x baseline':>11}"
        )
        created = 0
        for size in SIZES:
            Patient.objects.bulk_create(
                Patient(
                    trial=trial,
                    site=site,
                    screening_number=f"S01-{n:05d}",
                    sex="F",
                    birth_date=dt.date(1960, 1, 1),
                )
                for n in range(created + 1, size + 1)
            )
            created = size
            for name, fn in routes.items():
                ms, queries = _timed(fn)
                baseline.setdefault(name, ms)
                self.stdout.write(
                    f"{name:28} {size:>9} {ms:>10.2f} {queries:>8} {ms / baseline[name]:>11.2f}"
                )

        self._randomized_pages(site=site, groups=groups, investigator=user)

        inputs = {
            "age": 55,
            "sex": "M",
            "bilirubin_mg_dl": 13,
            "creatinine_mg_dl": 2.2,
            "inr": 1.8,
            "albumin_g_dl": 2.8,
            "sodium_mmol_l": 132,
            "wbc_10e9_l": 9,
            "platelets_10e9_l": 90,
            "he_grade": 0,
            "map_mmhg": 75,
            "fio2": 0.21,
            "spo2_pct": 97,
            "ascites": "mild",
        }
        ms, _ = _timed(lambda: scoring.calculate(inputs), repeat=200)
        self.stdout.write(f"{'scoring.calculate (all)':28} {'-':>9} {ms:>10.3f} {0:>8} {1:>11.2f}")

    def _randomized_pages(self, *, site, groups, investigator) -> None:
        """Worklist, pharmacy and API lists as the number of randomized patients grows."""
        from randomization.services import patient_randomize

        pharmacist = get_user_model().objects.create_user("bench-pharmacist")
        with services.unblinded_grant_preapproved():  # a throw-away bench account
            pharmacist.groups.add(groups[Role.PHARMACIST])
        services.site_membership_grant(user=pharmacist, site=site)
        as_investigator, as_pharmacist = Client(), Client()
        as_investigator.force_login(investigator)
        as_pharmacist.force_login(pharmacist)
        routes = {
            "visit worklist": (as_investigator, reverse("crf:visit-worklist")),
            "pharmacy page": (as_pharmacist, reverse("randomization:pharmacy-list")),
            "pharmacy API": (as_pharmacist, reverse("randomization-api:pharmacy-list")),
        }
        baseline: dict[str, float] = {}
        randomized = 0
        for size in RANDOMIZED_SIZES:
            while randomized < size:
                patient = services.patient_create(
                    user=investigator,
                    site=site,
                    sex="M",
                    birth_date=dt.date(1965, 1, 1),
                    consent_datetime=timezone.now() - dt.timedelta(hours=1),
                    consent_version="v1",
                )
                services.screening_save(
                    user=investigator,
                    patient=patient,
                    data=eligible_screening_data(),
                    complete=True,
                )
                patient_randomize(user=investigator, patient=patient, confirm_eligibility=True)
                randomized += 1
            first = Patient.objects.filter(status="randomized").order_by("pk").first()
            detail = reverse("trials:patient-detail", args=[first.pk])
            for name, (client, url) in {
                **routes,
                "patient page": (as_investigator, detail),
            }.items():
                ms, queries = _timed(lambda c=client, u=url: c.get(u))
                baseline.setdefault(name, ms)
                self.stdout.write(
                    f"{name:28} {size:>9} {ms:>10.2f} {queries:>8} {ms / baseline[name]:>11.2f}"
                )
