"""``manage.py bench_http``: the HTTP figure of ``make bench`` on the configured database.

Runs ``devtools.http.measure_http`` (gunicorn, an investigator journey vs the trivial
authenticated view) against data already generated with ``generate_trial``, so a change can be
re-measured in a minute. The machine's load is printed with it: only ratios from the same run
compare.
"""

from __future__ import annotations

import json
import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from devtools.generate import USER_PREFIX
from devtools.http import measure_http


class Command(BaseCommand):
    help = "HTTP throughput of the investigator journey vs a trivial view (PostgreSQL data)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", default=f"{USER_PREFIX}inv01", help="an investigator")
        parser.add_argument("--users", type=int, default=50, help="simulated users")
        parser.add_argument("--seconds", type=float, default=10)
        parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")

    def handle(self, *args, **options) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"No user {options['user']}: run generate_trial first.")
        load = os.getloadavg()
        result = measure_http(
            user=user,
            users=options["users"],
            seconds=options["seconds"],
            workers=options["workers"],
        )
        if "trivial_rps" in result:
            result["ratio"] = round(result["journey_rps"] / result["trivial_rps"], 3)
        result["load_before_after"] = [round(load[0], 1), round(os.getloadavg()[0], 1)]
        self.stdout.write(json.dumps(result, indent=1))
