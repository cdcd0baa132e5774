"""``make bench``: generate trials of growing size and write ``benchmarks/results.md``.

Each size runs in its own throw-away database (the test database of the configured one),
never the working data. See ``devtools/bench.py`` for what is measured and against what.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import connection
from django.test.utils import setup_test_environment

from devtools import bench
from devtools.generate import USER_PREFIX, default_workers, generate_trial


class Command(BaseCommand):
    help = "Benchmark pages, writes, concurrency and HTTP at growing data sizes (ratios)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--sizes", default="400,10000", help="patients, comma-separated")
        parser.add_argument("--sites", type=int, default=10)
        parser.add_argument("--seed", default="liveradvance-bench")
        parser.add_argument(
            "--per-month",
            type=int,
            default=bench.PER_MONTH,
            help="patients recruited a month: each size is the same trial at another age",
        )
        parser.add_argument("--repeat", type=int, default=15, help="timed calls per figure")
        parser.add_argument(
            "--workers", type=int, default=None, help="generator processes (default: one per core)"
        )
        parser.add_argument("--concurrency", type=int, default=4, help="randomizing processes")
        parser.add_argument("--per-process", type=int, default=10)
        parser.add_argument("--http-users", type=int, default=50)
        parser.add_argument("--http-seconds", type=float, default=10)
        parser.add_argument("--http-workers", type=int, default=4, help="gunicorn workers")
        parser.add_argument("--no-http", action="store_true")
        parser.add_argument(
            "--out", default=str(Path(settings.BASE_DIR) / "benchmarks/results.md")
        )

    def handle(self, *args, **options) -> None:
        sizes = [int(s) for s in options["sizes"].split(",")]
        setup_test_environment(debug=False)  # production-like: no query log, no debug pages
        machine_line = bench.machine()
        base = connection.settings_dict["NAME"]
        databases: dict[int, str] = {}
        results: dict[int, bench.SizeResult] = {}
        say = self.stdout.write
        try:
            for size in sizes:
                # One throw-away database per size, all kept until the end (pages take turns).
                bench.use_database(base)
                test_name = f"{base}_bench_{size}"
                if connection.vendor == "postgresql":
                    test_name = f"test_{base}_bench_{size}"
                connection.settings_dict.setdefault("TEST", {})["NAME"] = test_name
                connection.creation.create_test_db(verbosity=0, autoclobber=True)
                databases[size] = connection.settings_dict["NAME"]
                results[size] = self._generate(size, options)
            say("--- pages and API lists, sizes taking turns")
            for size, figures in bench.measure_pages_interleaved(
                databases, options["repeat"]
            ).items():
                results[size].pages = figures
            for size in sizes:
                bench.use_database(databases[size])
                self._writes(results[size], options)
            say("--- exports")
            exports_text = bench.export_section(databases)
        finally:
            for name in databases.values():
                bench.use_database(name)
                connection.creation.destroy_test_db(base, verbosity=0)
        command = "manage.py bench " + shlex.join(sys.argv[2:]) if len(sys.argv) > 2 else ""
        text = bench.report(
            [results[s] for s in sizes],
            command=command or "manage.py bench",
            machine_line=machine_line,
        ) + ("\n" + exports_text)
        out = Path(options["out"])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        say(text)
        say(f"Written to {out}")

    def _generate(self, size: int, options) -> bench.SizeResult:
        say = self.stdout.write
        months = bench.recruitment_months(size, options["per_month"])
        say(f"--- {size} patients over {months} months: generating")
        summary = generate_trial(
            patients=size,
            sites=options["sites"],
            seed=options["seed"],
            months=months,
            workers=options["workers"] or default_workers(),
            extra_randomizations=bench.extra_randomizations(
                repeat=options["repeat"],
                processes=options["concurrency"],
                per_process=options["per_process"],
            ),
            progress=say,
        )
        say(f"    generated in {summary.seconds:.0f} s; storage, EXPLAIN")
        result = bench.SizeResult(size=size, summary=summary, months=months)
        result.storage = bench.measure_storage()
        result.explain = bench.explain_indexes()
        return result

    def _writes(self, result: bench.SizeResult, options) -> None:
        say = self.stdout.write
        if not options["no_http"]:
            say(f"--- {result.size} patients: HTTP")
            investigator = get_user_model().objects.get(username=f"{USER_PREFIX}inv01")
            result.http = bench.measure_http_safe(
                user=investigator,
                users=options["http_users"],
                seconds=options["http_seconds"],
                workers=options["http_workers"],
            )
        say(f"--- {result.size} patients: writes, concurrent randomizations, daily job")
        result.writes = bench.measure_writes(result.size, options["repeat"])
        result.concurrency = bench.measure_concurrency(
            options["concurrency"], options["per_process"]
        )
        result.status_job = bench.measure_status_job()
