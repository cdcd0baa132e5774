"""``manage.py generate_trial --patients N --sites S --seed X``: a synthetic trial (devtools)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from devtools.generate import default_workers, generate_trial


class Command(BaseCommand):
    help = "Generate a realistic synthetic trial through the services (empty database only)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--patients", type=int, default=400)
        parser.add_argument("--sites", type=int, default=10)
        parser.add_argument("--seed", default="liveradvance-bench")
        parser.add_argument("--months", type=int, default=24, help="recruitment period")
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="processes (PostgreSQL; sites split between them); default: one per core",
        )

    def handle(self, *args, **options) -> None:
        try:
            summary = generate_trial(
                patients=options["patients"],
                sites=options["sites"],
                seed=options["seed"],
                months=options["months"],
                workers=options["workers"] or default_workers(),
                progress=self.stdout.write,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(summary.by_outcome.items()))
        self.stdout.write(
            f"{summary.patients} patients ({outcomes}); {summary.randomized} randomized, "
            f"{summary.visits} visits, {summary.crfs} eCRFs, {summary.corrections} corrections "
            f"in {summary.seconds:.0f} s."
        )
