"""Embedded mode (no Celery beat): move visits to due/overdue/missed and send the digests.

Run daily, e.g. from cron: ``python manage.py visits_refresh``.
"""

import datetime as dt

from django.core.management.base import BaseCommand

from crf import outbox, services


class Command(BaseCommand):
    help = "Refresh visit statuses by their windows and e-mail each site's digest."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--date", type=dt.date.fromisoformat, help="as of YYYY-MM-DD")
        parser.add_argument("--no-email", action="store_true", help="do not send digests")

    def handle(self, *args, date=None, no_email=False, **options) -> None:
        # Embedded mode has no beat: deliver the outbox and repair incomplete plans here too.
        delivered = outbox.outbox_run()
        self.stdout.write(
            f"Outbox: {delivered['reconciled']} plan(s) re-queued, "
            f"{delivered['published']} message(s) delivered, {delivered['failed']} failed."
        )
        result = services.visits_status_refresh(today=date, notify=not no_email)
        changed = ", ".join(f"{k}: {v}" for k, v in sorted(result["changed"].items())) or "none"
        self.stdout.write(
            f"Visits refreshed on {result['date']}; changed {changed}; "
            f"{result['digests_sent']} digest(s) sent."
        )
